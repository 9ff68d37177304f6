"""image_conversion in full glance-direct imports (import-semantics 12.2
steps 1-6, 6.5)."""

import io
import os
import subprocess

import pytest

from importflow.common import constants as c
from importflow.conf import CONF
from importflow import stores

STORES = ('fast', 'cheap', 'backup')
MiB = 1024 * 1024


@pytest.fixture
def client(with_plugins):
    return with_plugins('image_conversion')


def _qemu_img(*args):
    subprocess.run(('qemu-img',) + args, check=True, capture_output=True)


def _qcow2(env, virtual=4 * MiB, data=MiB, backing=None):
    """A qcow2 made by qemu-img with ``data`` random bytes written."""
    path = env.root / 'disk.qcow2'
    if backing:
        _qemu_img('create', '-q', '-f', 'qcow2', '-b', str(backing), '-F',
                  'raw', str(path))
        return path
    _qemu_img('create', '-q', '-f', 'qcow2', str(path), str(virtual))
    raw = env.make_file(data, 'random.raw')
    _qemu_img('convert', '-n', '-f', 'raw', '-O', 'qcow2', str(raw),
              str(path))
    return path


def _to_raw(env, path, fmt='qcow2'):
    out = env.root / 'expected.raw'
    _qemu_img('convert', '-f', fmt, '-O', 'raw', str(path), str(out))
    return out.read_bytes()


def _stage(client, data, disk_format):
    image = client.create_image(name='t', disk_format=disk_format,
                                container_format='bare')
    client.stage(image['id'], io.BytesIO(data))
    return image['id']


def _import(client, image_id):
    task = client.import_image(image_id, all_stores=True)
    return client.wait(task['id'], timeout=60)


def _staged(image_id):
    with open(os.path.join(stores.staging_dir(), image_id), 'rb') as f:
        return f.read()


def _assert_reverted(client, env, image_id, staged, disk_format):
    image = client.show_image(image_id)
    assert image['status'] == c.UPLOADING
    assert image['disk_format'] == disk_format
    assert image['container_format'] == 'bare'
    assert image['size'] == len(staged)
    assert image['virtual_size'] is None
    assert image['checksum'] is None and image['os_hash_value'] is None
    assert image['locations'] == []
    for store_id in STORES:
        assert env.store_files(store_id) == []
    assert env.staging_files() == [image_id]
    assert _staged(image_id) == staged
    assert c.PROP_IMPORT_TASK not in image['properties']
    assert image['properties'][c.PROP_IMPORTING_TO] == ''


def test_qcow2_is_converted_to_raw(client, env):
    path = _qcow2(env)
    staged = path.read_bytes()
    expected = _to_raw(env, path)
    assert len(expected) == 4 * MiB
    image_id = _stage(client, staged, 'qcow2')
    task = _import(client, image_id)
    assert task['status'] == c.TASK_SUCCESS, task['message']
    image = client.show_image(image_id)
    assert image['status'] == c.ACTIVE
    assert image['disk_format'] == 'raw'
    assert image['container_format'] == 'bare'
    assert image['size'] == len(expected)
    assert image['virtual_size'] == 4 * MiB
    for store_id in STORES:
        assert (env.store_dir(store_id) / image_id).read_bytes() == expected
    assert env.staging_files() == []
    phase = task['progress']['phases']['conversion']
    assert phase['state'] == 'done'
    assert phase['bytes_total'] == 4 * MiB


def test_raw_is_converted_to_qcow2(client, env):
    CONF.set_override('output_format', 'qcow2', group='image_conversion')
    data = os.urandom(2 * MiB)
    image_id = _stage(client, data, 'raw')
    task = _import(client, image_id)
    assert task['status'] == c.TASK_SUCCESS, task['message']
    image = client.show_image(image_id)
    assert image['status'] == c.ACTIVE
    assert image['disk_format'] == 'qcow2'
    assert image['virtual_size'] == len(data)
    stored = env.store_dir('fast') / image_id
    assert stored.read_bytes()[:4] == b'QFI\xfb'
    assert image['size'] == stored.stat().st_size
    assert _to_raw(env, stored) == data


def test_raw_with_raw_output_passes_unchanged(client, env):
    data = os.urandom(2 * MiB)
    image_id = _stage(client, data, 'raw')
    task = _import(client, image_id)
    assert task['status'] == c.TASK_SUCCESS, task['message']
    image = client.show_image(image_id)
    assert image['status'] == c.ACTIVE
    assert image['disk_format'] == 'raw'
    assert image['size'] == image['virtual_size'] == len(data)
    for store_id in STORES:
        assert (env.store_dir(store_id) / image_id).read_bytes() == data


def test_qcow2_with_backing_file_is_refused(client, env):
    base = env.make_file(MiB, 'base.raw')
    staged = _qcow2(env, backing=base).read_bytes()
    image_id = _stage(client, staged, 'qcow2')
    for _ in range(2):   # a failed import is retryable, and fails alike
        task = _import(client, image_id)
        assert task['status'] == c.TASK_FAILURE
        assert task['message'] == (
            "image_conversion failed: qcow2 image has a backing file %r; "
            "images with a backing file are not allowed" % str(base))
        assert task['progress']['phases']['conversion']['state'] == \
            'failed'
        _assert_reverted(client, env, image_id, staged, 'qcow2')


def test_raw_declared_as_qcow2_is_refused(client, env):
    staged = os.urandom(MiB)
    image_id = _stage(client, staged, 'qcow2')
    task = _import(client, image_id)
    assert task['status'] == c.TASK_FAILURE
    assert task['message'] == ('image_conversion failed: image format '
                               'mismatch: declared disk_format qcow2, '
                               'detected raw')
    _assert_reverted(client, env, image_id, staged, 'qcow2')


def test_raw_output_larger_than_cap_fails_before_converting(client, env):
    staged = _qcow2(env, virtual=8 * MiB).read_bytes()
    CONF.set_override('image_size_cap', 4 * MiB)
    image_id = _stage(client, staged, 'qcow2')
    task = _import(client, image_id)
    assert task['status'] == c.TASK_FAILURE
    assert task['message'] == ('image_conversion failed: data exceeds '
                               'image_size_cap of %d bytes' % (4 * MiB))
    _assert_reverted(client, env, image_id, staged, 'qcow2')


def test_conversion_output_is_capped_by_a_file_size_limit(client, env):
    CONF.set_override('output_format', 'qcow2', group='image_conversion')
    staged = os.urandom(2 * MiB)
    # The qcow2 of 2 MiB of random data needs more room than its input.
    CONF.set_override('image_size_cap', 2 * MiB + 4096)
    image_id = _stage(client, staged, 'raw')
    task = _import(client, image_id)
    assert task['status'] == c.TASK_FAILURE
    assert task['message'] == ('image_conversion failed: data exceeds '
                               'image_size_cap of %d bytes'
                               % (2 * MiB + 4096))
    _assert_reverted(client, env, image_id, staged, 'raw')


def test_store_failure_reverts_the_conversion(client, env, monkeypatch):
    real_put = stores.put

    def put(store_id, image_id, data, size=0):
        if store_id == 'cheap':
            raise IOError('disk on fire')
        return real_put(store_id, image_id, data, size)

    monkeypatch.setattr(stores, 'put', put)
    staged = _qcow2(env).read_bytes()
    image_id = _stage(client, staged, 'qcow2')
    task = _import(client, image_id)
    assert task['status'] == c.TASK_FAILURE
    assert task['message'].startswith("Import to store 'cheap' failed")
    _assert_reverted(client, env, image_id, staged, 'qcow2')


def test_vmdk_create_type_not_allowed_is_refused(client, env):
    path = env.root / 'disk.vmdk'
    _qemu_img('create', '-q', '-f', 'vmdk', str(path), '1M')
    CONF.set_override('vmdk_allowed_types', ['streamOptimized'],
                      group='image_format')
    staged = path.read_bytes()
    image_id = _stage(client, staged, 'vmdk')
    task = _import(client, image_id)
    assert task['status'] == c.TASK_FAILURE
    assert 'create-type monolithicsparse is not allowed' in \
        task['message'].lower()
    assert task['message'].startswith('image_conversion failed: ')
    _assert_reverted(client, env, image_id, staged, 'vmdk')


def test_running_qemu_img_is_killed_when_the_import_must_stop(tmp_path):
    import time

    from oslo_concurrency import processutils

    from importflow.common import exceptions
    from importflow.plugins import image_conversion
    from importflow.worker import progress

    deadline = time.monotonic() + 0.5

    def check():
        if time.monotonic() > deadline:
            raise exceptions.ImportStopped(c.MSG_ABORTED)

    watch = image_conversion._Watch(check, progress.Counter(),
                                    str(tmp_path / 'out'), None)
    started = time.monotonic()
    with pytest.raises(processutils.ProcessExecutionError):
        try:
            processutils.execute('sleep', '30', on_execute=watch.on_execute)
        finally:
            watch.finish()
    assert time.monotonic() - started < 5
    assert str(watch.stopped) == c.MSG_ABORTED


@pytest.fixture
def atom_runtime(client):
    """A registered runtime for driving the atom directly."""
    from importflow.db import api as db
    from importflow.worker import runtime as runtime_mod

    def make(image_id, task_id='0d8c1b5e-0000-4000-8000-000000000001'):
        db.image_save(image_id, set_props={c.PROP_IMPORT_TASK: task_id})
        rt = runtime_mod.ImportRuntime(
            {'id': task_id, 'image_id': image_id}, [],
            [c.PHASE_CONVERSION], 'test-worker')
        runtime_mod.register(rt)
        made.append(task_id)
        return rt

    made = []
    yield make
    for task_id in made:
        runtime_mod.unregister(task_id)


def test_atom_rerun_and_revert(client, env, atom_runtime):
    from importflow.db import api as db
    from importflow.plugins import image_conversion
    from importflow.stores import staging

    path = _qcow2(env)
    staged = path.read_bytes()
    expected = _to_raw(env, path)
    image_id = _stage(client, staged, 'qcow2')
    rt = atom_runtime(image_id)
    atom = image_conversion.Convert(rt.task_id, image_id, 'raw')
    source = staging.path(image_id)
    first = atom.execute(source)
    output = staging.path(image_id, 'raw')
    assert first[c.KEY_STAGED_PATH] == output
    assert first['previous'] == {'disk_format': 'qcow2',
                                 'container_format': 'bare',
                                 'size': len(staged), 'virtual_size': None}
    converted = {'disk_format': 'raw', 'container_format': 'bare',
                 'size': len(expected), 'virtual_size': 4 * MiB}
    image = client.show_image(image_id)
    assert {k: image[k] for k in converted} == converted
    # A rerun (crash after the image save) finds its own finished output.
    again = atom.execute(source)
    assert again[c.KEY_STAGED_PATH] == output
    assert open(output, 'rb').read() == expected
    # A rerun after a crash before the image save: the partial output
    # left over is replaced.
    db.image_save(image_id, values=first['previous'])
    with open(output, 'r+b') as f:
        f.truncate(1000)
    again = atom.execute(source)
    assert open(output, 'rb').read() == expected
    # Revert deletes the output and restores the attributes.
    atom.revert(again)
    image = client.show_image(image_id)
    assert {k: image[k] for k in converted} == first['previous']
    assert env.staging_files() == [image_id]
    assert _staged(image_id) == staged
    # Revert of a failed run (no result) still removes any output; it
    # never raises.
    open(output, 'wb').write(b'partial')
    atom.revert(None)
    assert env.staging_files() == [image_id]


def test_decompression_then_conversion(env, with_plugins):
    import gzip

    client = with_plugins('image_decompression', 'image_conversion')
    path = _qcow2(env)
    expected = _to_raw(env, path)
    compressed = gzip.compress(path.read_bytes())
    image_id = _stage(client, compressed, 'qcow2')
    task = _import(client, image_id)
    assert task['status'] == c.TASK_SUCCESS, task['message']
    image = client.show_image(image_id)
    assert image['disk_format'] == 'raw'
    assert image['size'] == len(expected)
    assert image['virtual_size'] == 4 * MiB
    for store_id in STORES:
        assert (env.store_dir(store_id) / image_id).read_bytes() == expected
    assert [task['progress']['phases'][p]['state']
            for p in ('decompression', 'conversion')] == ['done', 'done']
    assert env.staging_files() == []
