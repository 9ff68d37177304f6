"""Store uploads inspect the data (import-semantics 13.1, 6.3 step 5)."""

import os
import subprocess

import pytest

from importflow.common import constants as c
from importflow.stores import staging

STORES = ('fast', 'cheap', 'backup')


def _import(client, env, path, disk_format, container_format='bare'):
    image = client.create_image(name='i', disk_format=disk_format,
                                container_format=container_format)
    with open(path, 'rb') as f:
        client.stage(image['id'], f)
    task = client.import_image(image['id'], all_stores=True)
    return client.show_image(image['id']), client.wait(task['id'],
                                                       timeout=60)


def _qemu_img(*args):
    subprocess.run(['qemu-img', *args], check=True, capture_output=True)


def _assert_nothing_stored(env, image):
    for store_id in STORES:
        assert env.store_files(store_id) == []
    assert image['checksum'] is None
    assert image['status'] == c.UPLOADING
    assert staging.size_of(image['id']) == image['size']


def test_qcow2_gets_its_virtual_size(client, env, tmp_path):
    path = tmp_path / 'disk.qcow2'
    _qemu_img('create', '-f', 'qcow2', str(path), '5M')
    image, task = _import(client, env, path, 'qcow2')
    assert task['status'] == c.TASK_SUCCESS, task['message']
    image = client.show_image(image['id'])
    assert image['virtual_size'] == 5 * 1024 * 1024
    assert image['size'] == os.path.getsize(path)


def test_raw_data_declared_qcow2_is_refused(client, env):
    path = env.make_file(2 * 1024 * 1024)
    image, task = _import(client, env, path, 'qcow2')
    assert task['status'] == c.TASK_FAILURE
    assert 'declared disk_format qcow2, detected raw' in task['message']
    _assert_nothing_stored(env, client.show_image(image['id']))


@pytest.mark.parametrize('make, expected', [
    (lambda p, base: _qemu_img('create', '-f', 'qcow2', '-b', str(base),
                               '-F', 'raw', str(p)), 'backing_file'),
    (lambda p, base: _qemu_img('create', '-f', 'qcow2', '-o',
                               'data_file=%s,data_file_raw=on' % base,
                               str(p), '1M'), 'data_file'),
])
def test_unsafe_qcow2_is_refused(client, env, tmp_path, make, expected):
    base = tmp_path / 'base.raw'
    base.write_bytes(b'\0' * 1024 * 1024)
    path = tmp_path / 'unsafe.qcow2'
    make(path, base)
    image, task = _import(client, env, path, 'qcow2')
    assert task['status'] == c.TASK_FAILURE
    assert 'failed safety checks' in task['message']
    assert expected in task['message']
    _assert_nothing_stored(env, client.show_image(image['id']))


def test_qed_is_refused_even_declared_raw(client, env, tmp_path):
    path = tmp_path / 'disk.qed'
    _qemu_img('create', '-f', 'qed', str(path), '1M')
    image, task = _import(client, env, path, 'raw')
    assert task['status'] == c.TASK_FAILURE
    assert 'qed image failed safety checks' in task['message']
    assert 'banned' in task['message']
    _assert_nothing_stored(env, client.show_image(image['id']))


def test_non_bare_container_is_not_inspected(client, env):
    path = env.make_file(1024 * 1024)
    image, task = _import(client, env, path, 'qcow2', container_format='ovf')
    assert task['status'] == c.TASK_SUCCESS, task['message']
    assert client.show_image(image['id'])['virtual_size'] is None
