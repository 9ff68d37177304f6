"""image_decompression in full glance-direct imports (import-semantics
12.2, 6.5)."""

import bz2
import gzip
import hashlib
import io
import lzma
import os
import zipfile

import pytest

from importflow.common import constants as c
from importflow.conf import CONF
from importflow.plugins import image_decompression
from importflow import stores

STORES = ('fast', 'cheap', 'backup')
MiB = 1024 * 1024


@pytest.fixture
def client(with_plugins):
    return with_plugins('image_decompression')


def _gzip(data):
    return gzip.compress(data)


def _zip(*members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as zf:
        for i, member in enumerate(members):
            zf.writestr('disk%d.img' % i, member)
    return buf.getvalue()


def _xz(data):
    return lzma.compress(data, format=lzma.FORMAT_XZ)


def _bzip2(data):
    return bz2.compress(data)


def _payload(size=2 * MiB):
    # Compressible but not trivial: random blocks and zeros.
    return (os.urandom(256 * 1024) + b'\0' * (256 * 1024)) * (size // (
        512 * 1024))


def _stage(client, data, container_format='bare', disk_format='raw'):
    image = client.create_image(name='t', disk_format=disk_format,
                                container_format=container_format)
    client.stage(image['id'], io.BytesIO(data))
    return image['id']


def _import(client, image_id):
    task = client.import_image(image_id, all_stores=True)
    return client.wait(task['id'], timeout=60)


def _staged(image_id):
    with open(os.path.join(stores.staging_dir(), image_id), 'rb') as f:
        return f.read()


def _assert_reverted(client, env, image_id, compressed):
    image = client.show_image(image_id)
    assert image['status'] == c.UPLOADING
    assert image['size'] == len(compressed)
    assert image['virtual_size'] is None
    assert image['checksum'] is None and image['os_hash_value'] is None
    assert image['locations'] == []
    for store_id in STORES:
        assert env.store_files(store_id) == []
    # The original staged file is intact; the derived file is gone.
    assert env.staging_files() == [image_id]
    assert _staged(image_id) == compressed
    assert c.PROP_IMPORT_TASK not in image['properties']
    assert image['properties'][c.PROP_IMPORTING_TO] == ''
    assert image['properties'][c.PROP_FAILED_IMPORT] == ','.join(
        sorted(STORES))


@pytest.mark.parametrize('compress', [_gzip, _zip, _xz, _bzip2],
                         ids=['gzip', 'zip', 'xz', 'bzip2'])
def test_compressed_data_is_stored_decompressed(client, env, compress):
    data = _payload()
    compressed = compress(data)
    assert len(compressed) < len(data)
    image_id = _stage(client, compressed)
    task = _import(client, image_id)
    assert task['status'] == c.TASK_SUCCESS, task['message']
    image = client.show_image(image_id)
    assert image['status'] == c.ACTIVE
    assert image['size'] == len(data)
    assert image['virtual_size'] == len(data)
    assert image['checksum'] == hashlib.md5(data).hexdigest()
    assert image['os_hash_value'] == hashlib.sha512(data).hexdigest()
    for store_id in STORES:
        assert (env.store_dir(store_id) / image_id).read_bytes() == data
    assert env.staging_files() == []
    assert task['progress']['phases']['decompression']['state'] == 'done'
    assert task['progress']['phases']['decompression']['bytes_done'] == \
        len(data)
    assert task['result']['stores']['fast'] == {'status': 'active',
                                                'size': len(data)}


def test_uncompressed_data_passes_through(client, env):
    data = os.urandom(1024 * 1024)
    image_id = _stage(client, data)
    task = _import(client, image_id)
    assert task['status'] == c.TASK_SUCCESS, task['message']
    image = client.show_image(image_id)
    assert image['status'] == c.ACTIVE
    assert image['size'] == len(data)
    for store_id in STORES:
        assert (env.store_dir(store_id) / image_id).read_bytes() == data


def test_compressed_container_is_not_decompressed(client, env):
    compressed = _gzip(_payload())
    image_id = _stage(client, compressed, container_format='compressed')
    task = _import(client, image_id)
    assert task['status'] == c.TASK_SUCCESS, task['message']
    image = client.show_image(image_id)
    assert image['status'] == c.ACTIVE
    assert image['size'] == len(compressed)
    for store_id in STORES:
        assert (env.store_dir(store_id) / image_id).read_bytes() == \
            compressed


def test_zip_with_two_members_fails(client, env):
    compressed = _zip(b'a' * 1000, b'b' * 1000)
    image_id = _stage(client, compressed)
    task = _import(client, image_id)
    assert task['status'] == c.TASK_FAILURE
    assert task['message'] == ('image_decompression failed: zip archive '
                               'must hold exactly one member, it holds 2')
    assert task['progress']['phases']['decompression']['state'] == 'failed'
    _assert_reverted(client, env, image_id, compressed)


def test_failed_import_can_be_retried(client, env):
    compressed = _zip(b'a' * 1000, b'b' * 1000)
    image_id = _stage(client, compressed)
    for _ in range(2):
        task = _import(client, image_id)
        assert task['status'] == c.TASK_FAILURE
        assert 'exactly one member' in task['message']
        _assert_reverted(client, env, image_id, compressed)


def test_decompression_bomb_is_cut_at_the_ratio_limit(client, env):
    CONF.set_override('max_compression_ratio', 10,
                      group='image_decompression')
    compressed = _gzip(b'\0' * (50 * MiB))
    image_id = _stage(client, compressed)
    task = _import(client, image_id)
    assert task['status'] == c.TASK_FAILURE
    assert task['message'] == (
        'image_decompression failed: decompressed data exceeds 10x the '
        'compressed size (limit %d bytes)' % (10 * len(compressed)))
    _assert_reverted(client, env, image_id, compressed)


def test_decompressed_data_is_cut_at_image_size_cap(client, env):
    CONF.set_override('max_compression_ratio', 0,
                      group='image_decompression')
    CONF.set_override('image_size_cap', 3 * MiB)
    try:
        compressed = _xz(b'\0' * (8 * MiB))
        image_id = _stage(client, compressed)
        task = _import(client, image_id)
    finally:
        CONF.clear_override('image_size_cap')
    assert task['status'] == c.TASK_FAILURE
    assert task['message'] == ('image_decompression failed: data exceeds '
                               'image_size_cap of %d bytes' % (3 * MiB))
    _assert_reverted(client, env, image_id, compressed)


def test_corrupt_data_fails_naming_the_cause(client, env):
    compressed = _gzip(_payload())[:-5000]
    image_id = _stage(client, compressed)
    task = _import(client, image_id)
    assert task['status'] == c.TASK_FAILURE
    assert task['message'].startswith(
        'image_decompression failed: cannot decompress gzip data: EOFError')
    _assert_reverted(client, env, image_id, compressed)


def test_lha_is_refused(client, env):
    compressed = b'\x20\x00-lh5-' + os.urandom(4000)
    image_id = _stage(client, compressed)
    task = _import(client, image_id)
    assert task['status'] == c.TASK_FAILURE
    assert task['message'].startswith('image_decompression failed: lha '
                                      'archives are not supported')
    _assert_reverted(client, env, image_id, compressed)


def test_store_failure_reverts_the_decompression(client, env, monkeypatch):
    real_put = stores.put

    def put(store_id, image_id, data, size=0):
        if store_id == 'backup':
            raise IOError('disk on fire')
        return real_put(store_id, image_id, data, size)

    monkeypatch.setattr(stores, 'put', put)
    CONF.set_override('max_parallel_stores', 1, group='image_import_opts')
    compressed = _bzip2(_payload())
    image_id = _stage(client, compressed)
    task = _import(client, image_id)
    assert task['status'] == c.TASK_FAILURE
    assert task['message'].startswith("Import to store 'backup' failed")
    _assert_reverted(client, env, image_id, compressed)


def test_detect_magic_bytes(tmp_path):
    cases = {'gzip': _gzip(b'x'), 'zip': _zip(b'x'), 'xz': _xz(b'x'),
             'bzip2': _bzip2(b'x'), 'lha': b'\x20\x00-lh5-abc',
             None: b'plain data'}
    for expected, data in cases.items():
        path = tmp_path / 'f'
        path.write_bytes(data)
        assert image_decompression.detect(str(path)) == expected
