"""Many imports, two workers, and the broker or database misbehaving."""

from concurrent import futures
import hashlib
import os
import subprocess
import threading

import sqlalchemy as sa

from tests.functional.conftest import RABBIT
from tests.functional.conftest import require
from tests.functional.conftest import wait_for


def _staged_images(deployment, tmp_path, count, size=256 * 1024):
    """{image_id: md5} of ``count`` staged images (made 8 at a time)."""
    def make(i):
        data = os.urandom(size)
        path = tmp_path / ('img-%d-%s.raw' % (i, os.urandom(4).hex()))
        path.write_bytes(data)
        image = deployment.cli_json('image', 'create', '--name', 'i%d' % i,
                                    '--disk-format', 'raw')
        deployment.cli('image', 'stage', image['id'], str(path))
        return image['id'], hashlib.md5(data).hexdigest()

    with futures.ThreadPoolExecutor(8) as pool:
        return dict(pool.map(make, range(count)))


def _query(deployment, sql, **params):
    engine = sa.create_engine(deployment.db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql), params).all()
    finally:
        engine.dispose()


def _all_finished(deployment, count):
    rows = _query(deployment, "SELECT status FROM tasks")
    done = [r for r in rows if r.status in ('success', 'failure')]
    return len(done) == count


def _assert_active_everywhere(deployment, images):
    rows = {r.id: r for r in _query(
        deployment, 'SELECT id, status, checksum FROM images')}
    for image_id, md5 in images.items():
        assert rows[image_id].status == 'active', image_id
        assert rows[image_id].checksum == md5
        for store_id in deployment.STORES:
            with open(deployment.store_dir(store_id) / image_id, 'rb') as f:
                assert hashlib.file_digest(f, 'md5').hexdigest() == md5
    assert _query(deployment, "SELECT image_id FROM image_properties "
                              "WHERE name = 'os_glance_import_task'") == []


def test_thirty_imports_on_two_workers(deployment, tmp_path):
    images = _staged_images(deployment, tmp_path, 30)
    deployment.start_worker('w1')
    deployment.start_worker('w2')
    threads = [threading.Thread(target=deployment.cli, args=(
        'image', 'import', image_id, '--all-stores', '--no-wait'))
        for image_id in images]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wait_for(lambda: _all_finished(deployment, 30), 180, interval=0.5,
             what='30 imports to finish')
    statuses = {r.status for r in _query(deployment,
                                         'SELECT status FROM tasks')}
    assert statuses == {'success'}
    _assert_active_everywhere(deployment, images)
    owners = {r.lease_owner for r in _query(
        deployment, 'SELECT lease_owner FROM tasks')}
    assert len(owners) >= 2, owners


def _rabbit(*args):
    subprocess.run(['rabbitmqctl', *args], check=True, capture_output=True,
                   timeout=120)


def test_imports_queued_while_broker_down_complete(deployment, tmp_path):
    require(RABBIT)
    images = _staged_images(deployment, tmp_path, 5)
    deployment.start_worker('w1')
    _rabbit('stop_app')
    try:
        for image_id in images:
            # The doorbell fails (logged); the task row is the truth.
            deployment.cli('image', 'import', image_id, '--all-stores',
                           '--no-wait')
    finally:
        _rabbit('start_app')
    wait_for(lambda: _all_finished(deployment, 5), 120, interval=0.5,
             what='imports queued during the outage to finish')
    _assert_active_everywhere(deployment, images)
    # The worker reconnected by itself: a new import is served at once.
    more = _staged_images(deployment, tmp_path, 1)
    deployment.cli('image', 'import', next(iter(more)), '--all-stores',
                   '--no-wait')
    wait_for(lambda: _all_finished(deployment, 6), 60, interval=0.5,
             what='an import after the broker came back')
    _assert_active_everywhere(deployment, more)


def test_database_connections_dropped_mid_import(deployment, tmp_path):
    images = _staged_images(deployment, tmp_path, 3,
                            size=64 * 1024 * 1024)
    deployment.write_config(image_import_opts={
        'heartbeat_interval': 1, 'progress_interval': 0.2,
        'task_lease_timeout': 6, 'max_parallel_stores': 1})
    # Queued before the worker starts: its reaper then runs all three at
    # once. Requested one by one to a running worker, each import (under a
    # second) could end before the next CLI call returned, and none was in
    # progress when the connections were dropped.
    for image_id in images:
        deployment.cli('image', 'import', image_id, '--all-stores',
                       '--no-wait')
    deployment.start_worker('w1')
    dbname = deployment.db_url.rsplit('/', 1)[1]
    wait_for(lambda: _query(deployment, "SELECT 1 FROM tasks WHERE status "
                                        "= 'processing'"), 60,
             what='an import in progress')
    for _ in range(3):
        _query(deployment, 'SELECT pg_terminate_backend(pid) FROM '
                           'pg_stat_activity WHERE datname = :d AND pid <> '
                           'pg_backend_pid()', d=dbname)
        threading.Event().wait(0.3)
    wait_for(lambda: _all_finished(deployment, 3), 180, interval=0.5,
             what='imports to finish after the connections dropped')
    rows = _query(deployment, 'SELECT image_id, status, message FROM tasks')
    for row in rows:
        if row.status == 'success':
            _assert_active_everywhere(deployment, {
                row.image_id: images[row.image_id]})
        else:
            # A clean revert: retryable, nothing stored, no lock.
            image = deployment.cli_json('image', 'show', row.image_id)
            assert image['status'] == 'uploading', row.message
            for store_id in deployment.STORES:
                assert not (deployment.store_dir(store_id) /
                            row.image_id).exists()
    assert _query(deployment, "SELECT image_id FROM image_properties "
                              "WHERE name = 'os_glance_import_task'") == []
