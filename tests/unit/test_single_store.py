"""Single-store mode: no enabled_backends (import-semantics section 16)."""

import hashlib
import os

import pytest

from importflow.common import constants as c
from importflow.common import exceptions
from importflow import conf as importflow_conf
from importflow.conf import CONF
from importflow.db import migration
from importflow import stores
from tests import conftest


@pytest.fixture
def single(tmp_path):
    conftest._reset_process_state()
    config = tmp_path / 'single.conf'
    config.write_text('\n'.join([
        '[DEFAULT]', 'state_path = %s' % (tmp_path / 'state'),
        'transport_url = fake://',
        'node_staging_uri = file://%s' % (tmp_path / 'staging'),
        '[glance_store]', 'stores = file', 'default_store = file',
        'filesystem_store_datadir = %s' % (tmp_path / 'images'),
        '[database]', 'connection = sqlite:///%s' % (tmp_path / 'db.sqlite'),
    ]) + '\n')
    importflow_conf.parse_args(['--config-file', str(config)])
    migration.sync()
    from importflow import client
    with client.Client() as cl:
        yield cl, tmp_path
    conftest._reset_process_state()
    CONF.reset()


def test_import_into_the_only_store(single):
    client, root = single
    assert not stores.is_multi_store()
    data = os.urandom(300000)
    image = client.create_image(name='s', disk_format='raw',
                                container_format='bare')
    path = root / 'src'
    path.write_bytes(data)
    with open(path, 'rb') as f:
        client.stage(image['id'], f)
    task = client.import_image(image['id'], stores_=['ignored'])
    task = client.wait(task['id'], timeout=30)
    assert task['status'] == c.TASK_SUCCESS, task['message']
    assert task['input']['backend'] == [None]
    assert task['result']['stores'] == {
        'default': {'status': 'active', 'size': len(data)}}
    assert set(task['progress']['stores']) == {'default'}
    shown = client.show_image(image['id'])
    assert shown['status'] == c.ACTIVE
    assert shown['checksum'] == hashlib.md5(data).hexdigest()
    assert shown['properties'][c.PROP_IMPORTING_TO] == ''
    assert shown['properties'][c.PROP_FAILED_IMPORT] == ''
    assert (root / 'images' / image['id']).read_bytes() == data
    assert os.listdir(root / 'staging') == []


def test_partial_mode_is_refused(single):
    client, root = single
    image = client.create_image(name='s', disk_format='raw',
                                container_format='bare')
    path = root / 'src'
    path.write_bytes(b'abc')
    with open(path, 'rb') as f:
        client.stage(image['id'], f)
    with pytest.raises(exceptions.BadRequest):
        client.import_image(image['id'], all_stores_must_succeed=False)
    assert client.list_tasks(image['id']) == []
