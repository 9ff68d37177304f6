"""Abort and image deletion during an import (import-semantics 10.5)."""

import time

import pytest

from importflow import client as client_mod
from importflow.common import constants as c
from importflow.common import exceptions
from importflow.conf import CONF

ALL = ('fast', 'cheap', 'backup')
MiB = 1024 * 1024


def _staged(client, env, size):
    path = env.make_file(size)
    image = client.create_image(name='t', disk_format='raw',
                                container_format='bare')
    with open(path, 'rb') as f:
        client.stage(image['id'], f)
    path.unlink()
    return image['id']


@pytest.fixture
def serial_client(env):
    CONF.set_override('max_parallel_stores', 1, group='image_import_opts')
    try:
        with client_mod.Client() as client:
            yield client
    finally:
        CONF.clear_override('max_parallel_stores', group='image_import_opts')


def _wait_until_processing(client, task_id, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = client.show_task(task_id)
        if task['status'] != c.TASK_PENDING:
            return task
        time.sleep(0.005)
    raise AssertionError('task %s never started' % task_id)


def test_abort_without_an_import_is_a_conflict(client, env):
    image_id = _staged(client, env, MiB)
    before = client.show_image(image_id)
    with pytest.raises(exceptions.Conflict) as info:
        client.abort_import(image_id)
    assert info.value.code == 409
    assert str(info.value) == 'No import in progress for image %s' % image_id
    assert client.show_image(image_id) == before
    assert client.list_tasks(image_id) == []


def test_abort_after_the_import_finished_is_a_conflict(client, env):
    image_id = _staged(client, env, MiB)
    task = client.wait(client.import_image(image_id)['id'], timeout=30)
    assert task['status'] == c.TASK_SUCCESS, task['message']
    before = client.show_image(image_id)
    with pytest.raises(exceptions.Conflict) as info:
        client.abort_import(image_id)
    assert str(info.value) == 'No import in progress for image %s' % image_id
    assert client.show_image(image_id) == before
    assert client.show_task(task['id']) == task


def test_abort_of_a_missing_image_is_not_found(client, env):
    with pytest.raises(exceptions.NotFound) as info:
        client.abort_import('8a3b5c5e-0000-4000-8000-000000000000')
    assert info.value.code == 404


def test_delete_during_import(serial_client, env):
    client = serial_client
    image_id = _staged(client, env, 64 * MiB)
    assert env.staging_files() == [image_id]
    task = client.import_image(image_id, all_stores=True)
    running = _wait_until_processing(client, task['id'])
    assert running['status'] == c.TASK_PROCESSING, running

    client.delete_image(image_id)
    with pytest.raises(exceptions.NotFound):
        client.show_image(image_id)

    started = time.monotonic()
    task = client.wait(task['id'], poll=0.05, timeout=30)
    # The task stops within heartbeat_interval + 5 s (section 10.5).
    assert time.monotonic() - started < CONF.image_import_opts \
        .heartbeat_interval + 5
    assert task['status'] == c.TASK_FAILURE
    assert task['message'] == c.MSG_IMAGE_DELETED
    assert task['result']['image_id'] == image_id
    for store_id, entry in task['result']['stores'].items():
        assert entry['status'] != c.STORE_ACTIVE, (store_id, entry)
    for store_id in ALL:
        assert env.store_files(store_id) == [], store_id
    assert env.staging_files() == []


def test_delete_after_a_store_copy_completed(serial_client, env):
    # Serial copies: delete once 'fast' holds its copy and 'cheap' is
    # being written. The completed copy is reverted too (section 9.2: a
    # failed task has no active store).
    client = serial_client
    image_id = _staged(client, env, 64 * MiB)
    task = client.import_image(image_id, all_stores=True)
    deadline = time.monotonic() + 20
    while not client.show_image(image_id)['locations']:
        assert time.monotonic() < deadline, 'no store copy completed'
        time.sleep(0.005)
    client.delete_image(image_id)

    task = client.wait(task['id'], poll=0.05, timeout=30)
    assert task['status'] == c.TASK_FAILURE
    assert task['message'] == c.MSG_IMAGE_DELETED
    result = task['result']['stores']
    assert result['fast']['status'] == c.STORE_REVERTED, result
    for store_id in ('cheap', 'backup'):
        assert result[store_id]['status'] in (c.STORE_CANCELLED,
                                              c.STORE_REVERTED), result
    for store_id in ALL:
        assert env.store_files(store_id) == [], store_id
    assert env.staging_files() == []


def test_abort_during_import_reverts(serial_client, env):
    client = serial_client
    image_id = _staged(client, env, 64 * MiB)
    staged = env.staging_files()
    task = client.import_image(image_id, all_stores=True)
    assert _wait_until_processing(client, task['id'])['status'] == \
        c.TASK_PROCESSING
    client.abort_import(image_id)

    started = time.monotonic()
    task = client.wait(task['id'], poll=0.05, timeout=30)
    assert time.monotonic() - started < CONF.image_import_opts \
        .heartbeat_interval + 5
    assert task['status'] == c.TASK_FAILURE
    assert task['message'] == c.MSG_ABORTED
    image = client.show_image(image_id)
    assert image['status'] == c.UPLOADING
    assert image['size'] == 64 * MiB
    assert image['checksum'] is None and image['os_hash_value'] is None
    assert image['locations'] == []
    props = image['properties']
    assert c.PROP_IMPORT_TASK not in props
    assert props[c.PROP_IMPORTING_TO] == ''
    assert props[c.PROP_FAILED_IMPORT] == ','.join(sorted(ALL))
    for entry in task['result']['stores'].values():
        assert entry['status'] in (c.STORE_CANCELLED, c.STORE_REVERTED)
    for store_id in ALL:
        assert env.store_files(store_id) == [], store_id
    assert env.staging_files() == staged
