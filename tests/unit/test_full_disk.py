"""A disk that fills: clear errors, nothing half-written, retryable.

Uses a small tmpfs mounted over a store or the staging folder; needs root
(the CI machine runs as root), else skips with the reason.
"""

import io
import os
import subprocess

import pytest

from importflow.common import constants as c
from importflow.common import exceptions
from importflow import stores


@pytest.fixture
def small_mount():
    mounted = []

    def mount(path, size='2m'):
        if os.geteuid() != 0:
            pytest.skip('mounting a small tmpfs needs root')
        result = subprocess.run(['mount', '-t', 'tmpfs', '-o',
                                 'size=%s' % size, 'tmpfs', str(path)],
                                capture_output=True, text=True)
        if result.returncode:
            pytest.skip('cannot mount tmpfs here: %s' % result.stderr)
        mounted.append(path)

    yield mount
    for path in mounted:
        subprocess.run(['umount', '-l', str(path)], check=False)


def test_store_running_out_of_space(client, env, small_mount):
    small_mount(env.store_dir('backup'))
    path = env.make_file(3 * 1024 * 1024)
    image = client.create_image(name='f', disk_format='raw',
                                container_format='bare')
    with open(path, 'rb') as f:
        client.stage(image['id'], f)
    task = client.wait(client.import_image(image['id'],
                                           all_stores=True)['id'],
                       timeout=60)
    assert task['status'] == c.TASK_FAILURE
    assert task['message'].startswith("Import to store 'backup' failed: ")
    assert 'StorageFull' in task['message']
    for store_id in ('fast', 'cheap', 'backup'):
        assert env.store_files(store_id) == []
    shown = client.show_image(image['id'])
    assert shown['status'] == c.UPLOADING
    assert task['result']['stores']['backup']['status'] == 'failed'


def test_staging_running_out_of_space(client, env, small_mount):
    small_mount(stores.staging_dir())
    image = client.create_image(name='f', disk_format='raw',
                                container_format='bare')
    with pytest.raises(exceptions.RequestEntityTooLarge) as info:
        client.stage(image['id'], io.BytesIO(os.urandom(3 * 1024 * 1024)))
    assert 'Staging area is full' in str(info.value)
    assert client.show_image(image['id'])['status'] == c.QUEUED
    assert os.listdir(stores.staging_dir()) == []
