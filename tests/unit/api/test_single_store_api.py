"""Single-store mode (import-semantics 16) over HTTP."""

import pytest

from importflow.api import app as api_app
from importflow.api import server
from importflow import conf as importflow_conf
from importflow.conf import CONF
from importflow.db import migration
from importflow import stores
from tests import conftest as base
from tests.unit.api.conftest import Api


@pytest.fixture
def single(tmp_path, monkeypatch):
    base._reset_process_state()
    state = tmp_path / 'state'
    monkeypatch.setenv('IMPORTFLOW_STATE_PATH', str(state))
    config = tmp_path / 'importflow.conf'
    config.write_text('\n'.join([
        '[DEFAULT]', 'state_path = %s' % state, 'transport_url = fake://',
        'node_staging_uri = file://%s' % (tmp_path / 'staging'),
        '[glance_store]', 'stores = file', 'default_store = file',
        'filesystem_store_datadir = %s' % (tmp_path / 'images'),
        '[database]',
        'connection = sqlite:///%s' % (tmp_path / 'importflow.sqlite'),
        '[image_import_opts]', 'heartbeat_interval = 1',
        'task_lease_timeout = 5', '[worker]', 'reaper_interval = 1']) + '\n')
    importflow_conf.parse_args(['--config-file', str(config)])
    migration.sync()
    stores.configure()
    assert not stores.is_multi_store()
    app = api_app.create_app()
    assert server.EMBEDDED.start()
    yield Api(app.test_client())
    server.EMBEDDED.stop(grace_period=5)
    base._reset_process_state()
    CONF.reset()


def test_single_store_discovery_and_import(single, tmp_path):
    resp = single.http.post('/v2/images', json={
        'disk_format': 'raw', 'container_format': 'bare'})
    assert resp.status_code == 201
    assert 'OpenStack-image-store-ids' not in resp.headers
    assert resp.headers['OpenStack-image-import-methods']
    resp = single.http.get('/v2/info/stores')
    assert resp.status_code == 404
    assert 'Multi backend is not supported at this site.' in \
        resp.get_data(as_text=True)
    assert single.http.get('/v2/info/stores/detail').status_code == 404
    image_id = single.staged_image(b'single' * 100)
    resp = single.import_(image_id, {'method': {'name': 'glance-direct'},
                                     'all_stores_must_succeed': False})
    assert resp.status_code == 400                        # check 25
    resp = single.import_(image_id, {'method': {'name': 'glance-direct'},
                                     'stores': ['ignored']},
                          headers={'X-Image-Meta-Store': 'ignored'})
    assert resp.status_code == 202
    image = single.wait_idle(image_id)
    assert image['status'] == 'active'
    assert 'stores' not in image
    data = single.http.get('/v2/images/%s/file' % image_id).get_data()
    assert data == b'single' * 100
    task = single.tasks(image_id)[0]
    assert task['input']['backend'] == [None]
    assert list(task['result']['stores']) == ['default']
