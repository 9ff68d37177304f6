"""Shared fixtures: an isolated importflow with SQLite, file stores and the
in-process fake:// transport, rebuilt for every test."""

import os
import shutil
import uuid

import pytest

from importflow import conf as importflow_conf
from importflow.conf import CONF
from importflow.db import api as db
from importflow.db import migration
from importflow import plugins
from importflow import rpc
from importflow import stores

STORE_IDS = ('fast', 'cheap', 'backup')


def _reset_process_state():
    db.dispose_engine()
    rpc.cleanup()
    stores._STATE.update(configured=False, multi=False, stores=())
    plugins._LOADED.clear()
    CONF.clear_override('enabled_backends')
    for group in STORE_IDS:
        if group in CONF:
            CONF.clear_override('filesystem_store_datadir', group=group)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A configured importflow (3 file stores) without a worker."""
    _reset_process_state()
    state = tmp_path / 'state'
    monkeypatch.setenv('IMPORTFLOW_STATE_PATH', str(state))
    config = tmp_path / 'importflow.conf'
    lines = ['[DEFAULT]',
             'state_path = %s' % state,
             'transport_url = fake://',
             'enabled_backends = %s' % ', '.join('%s:file' % s
                                                 for s in STORE_IDS),
             '[glance_store]', 'default_backend = %s' % STORE_IDS[0],
             '[database]',
             'connection = sqlite:///%s' % (tmp_path / 'importflow.sqlite'),
             '[image_import_opts]', 'heartbeat_interval = 1',
             'progress_interval = 0.2', 'task_lease_timeout = 5',
             '[worker]', 'reaper_interval = 1']
    for store_id in STORE_IDS:
        lines += ['[%s]' % store_id,
                  'filesystem_store_datadir = %s' % (tmp_path / store_id)]
    config.write_text('\n'.join(lines) + '\n')
    importflow_conf.parse_args(['--config-file', str(config)])
    migration.sync()
    stores.configure()
    yield Env(tmp_path)
    _reset_process_state()
    CONF.reset()


class Env:
    """Paths of one test's importflow and helpers to look at stores."""

    def __init__(self, root):
        self.root = root

    def store_dir(self, store_id):
        return self.root / store_id

    def store_files(self, store_id):
        return sorted(os.listdir(self.store_dir(store_id)))

    def staging_files(self):
        return sorted(os.listdir(stores.staging_dir()))

    def make_file(self, size, name=None):
        path = self.root / (name or 'data-%s.img' % uuid.uuid4().hex[:8])
        path.write_bytes(os.urandom(size))
        return path

    def staged_image(self, client, size=2 * 1024 * 1024):
        """A raw image staged for glance-direct: (image id, its bytes)."""
        path = self.make_file(size)
        image = client.create_image(name='t', disk_format='raw',
                                    container_format='bare')
        with open(path, 'rb') as f:
            client.stage(image['id'], f)
        return image['id'], path.read_bytes()

    def break_store(self, store_id):
        """Make a store fail for real: its data directory becomes a file,
        so glance_store's writes fail with NotADirectoryError."""
        datadir = self.store_dir(store_id)
        shutil.rmtree(datadir)
        datadir.write_bytes(b'this is not a directory\n')


@pytest.fixture
def client(env):
    """A Python client whose in-process worker runs the imports."""
    from importflow import client as client_mod
    with client_mod.Client() as c:
        yield c
