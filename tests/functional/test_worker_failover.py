"""Workers die or stop mid-import; the import still ends cleanly."""

import hashlib
import json
import os
import signal

import pytest

from tests.functional.conftest import wait_for

SIZE = 400 * 1024 * 1024


@pytest.fixture
def staged(deployment, tmp_path):
    """A 400 MiB image staged for glance-direct, and its bytes' digest."""
    deployment.write_config(image_import_opts={
        'heartbeat_interval': 1, 'progress_interval': 0.2,
        'task_lease_timeout': 6, 'max_parallel_stores': 1,
        'copy_chunk_size': 1048576})
    source = tmp_path / 'big.raw'
    digest = hashlib.md5()
    with open(source, 'wb') as f:
        block = os.urandom(1024 * 1024)
        for i in range(SIZE // len(block)):
            chunk = block[:-8] + i.to_bytes(8, 'big')
            digest.update(chunk)
            f.write(chunk)
    image = deployment.cli_json('image', 'create', '--name', 'big',
                                '--disk-format', 'raw')
    deployment.cli('image', 'stage', image['id'], str(source))
    return image['id'], digest.hexdigest()


def _task(deployment, task_id):
    return deployment.cli_json('task', 'show', task_id)


def _copying(deployment, task_id):
    """The task while a store copy is under way. Read from the database,
    not through the CLI: a CLI process takes a second or more to start on
    a busy machine, and the copy may be over by then."""
    progress = _task_column(deployment, task_id, 'progress')
    if isinstance(progress, str):
        progress = json.loads(progress)
    stores = (progress or {}).get('stores', {})
    copying = any(s['state'] == 'copying' and s['bytes_done'] > 0
                  for s in stores.values())
    return {'id': task_id, 'progress': progress} if copying else None


def _kill_owner(deployment, task):
    owner_pid = int(task_owner(deployment, task['id']).rsplit(':', 1)[1])
    os.kill(owner_pid, signal.SIGKILL)
    return owner_pid


def _task_column(deployment, task_id, column):
    import sqlalchemy as sa
    engine = sa.create_engine(deployment.db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(
                'SELECT %s FROM tasks WHERE id = :id' % column),
                {'id': task_id}).scalar()
    finally:
        engine.dispose()


def task_owner(deployment, task_id):
    return _task_column(deployment, task_id, 'lease_owner')


def _assert_all_stores_hold(deployment, image_id, md5):
    image = deployment.cli_json('image', 'show', image_id)
    assert image['status'] == 'active'
    assert image['checksum'] == md5
    assert 'os_glance_import_task' not in image
    assert sorted(image['stores'].split(',')) == sorted(deployment.STORES)
    for store_id in deployment.STORES:
        path = deployment.store_dir(store_id) / image_id
        assert os.path.getsize(path) == SIZE
        with open(path, 'rb') as f:
            assert hashlib.file_digest(f, 'md5').hexdigest() == md5


def test_sigkill_mid_copy_is_resumed_by_another_worker(deployment, staged):
    image_id, md5 = staged
    deployment.start_worker('w1')
    deployment.start_worker('w2')
    task = deployment.cli_json('image', 'import', image_id, '--all-stores',
                               '--no-wait')
    running = wait_for(lambda: _copying(deployment, task['id']), 60,
                       what='a store copy in progress')
    killed = _kill_owner(deployment, running)
    done = wait_for(lambda: (lambda t: t if t['status'] in
                             ('success', 'failure') else None)(
        _task(deployment, task['id'])), 120, interval=0.5,
        what='the task to finish after the kill')
    assert done['status'] == 'success', done['message']
    assert done['attempt'] == 2
    assert str(killed) not in (task_owner(deployment, task['id']) or '')
    _assert_all_stores_hold(deployment, image_id, md5)
    assert os.listdir(deployment.root / 'staging') == []


def test_takeover_beyond_limit_reverts_cleanly(deployment, staged):
    image_id, _md5 = staged
    deployment.write_config(image_import_opts={
        'heartbeat_interval': 1, 'progress_interval': 0.2,
        'task_lease_timeout': 6, 'max_parallel_stores': 1,
        'max_task_takeovers': 0})
    deployment.start_worker('w1')
    deployment.start_worker('w2')
    task = deployment.cli_json('image', 'import', image_id, '--all-stores',
                               '--no-wait')
    running = wait_for(lambda: _copying(deployment, task['id']), 60,
                       what='a store copy in progress')
    _kill_owner(deployment, running)
    done = wait_for(lambda: (lambda t: t if t['status'] in
                             ('success', 'failure') else None)(
        _task(deployment, task['id'])), 120, interval=0.5,
        what='the task to finish after the kill')
    assert done['status'] == 'failure'
    assert done['message'].startswith(
        'Import reverted after worker failure: store-copy-')
    image = deployment.cli_json('image', 'show', image_id)
    assert image['status'] == 'uploading'
    assert image['size'] == SIZE and image['checksum'] is None
    assert 'os_glance_import_task' not in image
    assert image['os_glance_failed_import'] == ','.join(
        sorted(deployment.STORES))
    for store_id in deployment.STORES:
        assert os.listdir(deployment.store_dir(store_id)) == []
    assert os.listdir(deployment.root / 'staging') == [image_id]


def _parent_of(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('PPid:'):
                return int(line.split()[1])


def test_sigterm_hands_running_import_over(deployment, staged):
    image_id, md5 = staged
    deployment.write_config(image_import_opts={
        'heartbeat_interval': 1, 'progress_interval': 0.2,
        'task_lease_timeout': 6, 'max_parallel_stores': 1,
        'copy_chunk_size': 1048576},
        worker={'graceful_shutdown_timeout': 0, 'reaper_interval': 1})
    workers = [deployment.start_worker('w1'), deployment.start_worker('w2')]
    task = deployment.cli_json('image', 'import', image_id, '--all-stores',
                               '--no-wait')
    running = wait_for(lambda: _copying(deployment, task['id']), 60,
                       what='a store copy in progress')
    owner_pid = int(task_owner(deployment, running['id']).rsplit(':', 1)[1])
    owner = next(p for p in workers if p.pid == _parent_of(owner_pid))
    owner.send_signal(signal.SIGTERM)
    owner.wait(timeout=30)
    done = wait_for(lambda: (lambda t: t if t['status'] in
                             ('success', 'failure') else None)(
        _task(deployment, task['id'])), 120, interval=0.5,
        what='the task to finish after the hand-over')
    assert done['status'] == 'success', done['message']
    assert done['attempt'] == 2
    assert str(owner_pid) not in task_owner(deployment, task['id'])
    _assert_all_stores_hold(deployment, image_id, md5)
