"""Hostile images built in the test, imported through the store upload's
in-stream inspection (import-semantics 13.1, issue 5).

Each refused import ends failed with a message naming the problem, leaves
nothing in any store and the image retryable: ``uploading`` with its staged
data intact and no lock.

Covered elsewhere, not repeated here: qcow2 backing file / data file, QED
and raw declared qcow2 (tests/unit/test_store_inspection.py); the gzip bomb
and the multi-member zip (tests/unit/plugins/test_image_decompression.py).
"""

import io
import os
import struct
import subprocess

import pytest

from importflow.common import constants as c
from importflow.conf import CONF
from importflow.stores import staging

STORES = ('fast', 'cheap', 'backup')
MiB = 1024 * 1024
SECTOR = 512


@pytest.fixture(autouse=True)
def _clear_format_overrides():
    yield
    for name in ('vmdk_allowed_types', 'gpt_safety_checks_nonfatal',
                 'require_image_format_match'):
        CONF.clear_override(name, group='image_format')


def _qemu_img(*args):
    subprocess.run(['qemu-img', *args], check=True, capture_output=True)


def _stage(client, data, disk_format):
    image = client.create_image(name='hostile', disk_format=disk_format,
                                container_format='bare')
    client.stage(image['id'], io.BytesIO(data))
    assert os.path.getsize(staging.path(image['id'])) == len(data)
    return image['id']


def _import(client, image_id):
    task = client.import_image(image_id, all_stores=True)
    return client.wait(task['id'], timeout=60)


def _import_data(client, data, disk_format):
    image_id = _stage(client, data, disk_format)
    return image_id, _import(client, image_id)


def _assert_refused(client, env, image_id, task, data, *needles):
    assert task['status'] == c.TASK_FAILURE, task
    for needle in needles:
        assert needle in task['message'], task['message']
    for store_id in STORES:
        assert env.store_files(store_id) == []
    image = client.show_image(image_id)
    assert image['status'] == c.UPLOADING
    assert image['checksum'] is None and image['os_hash_value'] is None
    assert image['virtual_size'] is None
    assert image['locations'] == []
    assert c.PROP_IMPORT_TASK not in image['properties']
    assert env.staging_files() == [image_id]
    with open(staging.path(image_id), 'rb') as f:
        assert f.read() == data


def _assert_active(client, env, image_id, task, virtual_size=None):
    assert task['status'] == c.TASK_SUCCESS, task['message']
    image = client.show_image(image_id)
    assert image['status'] == c.ACTIVE
    for store_id in STORES:
        assert env.store_files(store_id) == [image_id]
    if virtual_size is not None:
        assert image['virtual_size'] == virtual_size
    return image


# ------------------------------------------------------------------ VMDK

def _vmdk(tmp_path, subformat='monolithicSparse', size='1M'):
    path = tmp_path / ('disk-%s.vmdk' % subformat)
    _qemu_img('create', '-q', '-f', 'vmdk', '-o', 'subformat=%s' % subformat,
              str(path), size)
    return path


def _rewrite_embedded_descriptor(data, old, new):
    """Replace text in a sparse VMDK's embedded descriptor (sector 1),
    keeping the NUL-padded descriptor area the same length."""
    _sig, _ver, _flags, _cap, _grain, desc_sec, desc_num = struct.unpack(
        '<4sIIQQQQ', data[:44])
    start, length = desc_sec * SECTOR, desc_num * SECTOR
    area = data[start:start + length]
    text = area[:area.index(b'\0')]
    assert old in text
    text = text.replace(old, new)
    assert len(text) < length
    area = text + b'\0' * (length - len(text))
    return data[:start] + area + data[start + length:]


def test_vmdk_monolithic_flat_descriptor_is_refused(client, env, tmp_path):
    # A text descriptor pointing at a flat extent: qemu-img would open
    # whatever file the extent line names on the hypervisor host.
    path = _vmdk(tmp_path, 'monolithicFlat')
    data = path.read_bytes()
    assert data.startswith(b'# Disk DescriptorFile')
    assert b'createType="monolithicFlat"' in data
    image_id, task = _import_data(client, data, 'vmdk')
    _assert_refused(client, env, image_id, task, data,
                    'vmdk image failed safety checks',
                    'descriptor: Unsupported subformat')


def test_vmdk_with_a_path_in_an_extent_is_refused(client, env, tmp_path):
    path = _vmdk(tmp_path)
    name = path.name.encode()
    data = _rewrite_embedded_descriptor(
        path.read_bytes(), b'SPARSE "%s"' % name, b'SPARSE "/etc/shadow"')
    image_id, task = _import_data(client, data, 'vmdk')
    _assert_refused(client, env, image_id, task, data,
                    'vmdk image failed safety checks',
                    'descriptor: Invalid extent filenames found')


def test_vmdk_create_type_not_allowed_then_allowed(client, env, tmp_path):
    CONF.set_override('vmdk_allowed_types', ['streamOptimized'],
                      group='image_format')
    data = _vmdk(tmp_path).read_bytes()
    image_id, task = _import_data(client, data, 'vmdk')
    _assert_refused(client, env, image_id, task, data,
                    'VMDK create-type monolithicsparse is not allowed '
                    '(allowed: streamOptimized)')
    # Retryable: once the operator allows the type, the same staged data
    # imports.
    CONF.set_override('vmdk_allowed_types',
                      ['streamOptimized', 'monolithicSparse'],
                      group='image_format')
    _assert_active(client, env, image_id, _import(client, image_id),
                   virtual_size=MiB)


def test_vmdk_unknown_create_type_in_embedded_descriptor(client, env,
                                                         tmp_path):
    # A sparse header whose descriptor claims a multi-file type: refused
    # by the inspector whatever vmdk_allowed_types says.
    CONF.set_override('vmdk_allowed_types',
                      ['monolithicSparse', 'twoGbMaxExtentSparse'],
                      group='image_format')
    data = _rewrite_embedded_descriptor(
        _vmdk(tmp_path).read_bytes(), b'createType="monolithicSparse"',
        b'createType="twoGbMaxExtentSparse"')
    image_id, task = _import_data(client, data, 'vmdk')
    _assert_refused(client, env, image_id, task, data,
                    'vmdk image failed safety checks',
                    'descriptor: Unsupported subformat')


# -------------------------------------------------- raw under other names

@pytest.mark.parametrize('disk_format', ['vmdk', 'vhd'])
def test_raw_data_declared_as_another_format_is_refused(client, env,
                                                        disk_format):
    data = os.urandom(MiB)
    image_id, task = _import_data(client, data, disk_format)
    _assert_refused(client, env, image_id, task, data,
                    'image format mismatch: declared disk_format %s, '
                    'detected raw' % disk_format)


# ------------------------------------------------------------ GPT and ISO

def _mbr(entries):
    """A 512-byte MBR with up to four (boot, chs_start, type, lba_start,
    lba_count) partition entries."""
    mbr = bytearray(SECTOR)
    for i, (boot, chs, ostype, start, count) in enumerate(entries):
        mbr[446 + 16 * i:462 + 16 * i] = struct.pack(
            '<B3BB3BII', boot, *chs, ostype, 0xFF, 0xFF, 0xFF, start, count)
    mbr[510:512] = b'\x55\xaa'
    return bytes(mbr)


def _gpt_disk(entries, size=MiB):
    header = bytearray(SECTOR)
    header[:8] = b'EFI PART'
    header[8:12] = b'\x00\x00\x01\x00'
    data = bytearray(size)
    data[:SECTOR] = _mbr(entries)
    data[SECTOR:2 * SECTOR] = header
    return bytes(data)


PROTECTIVE = (0x00, (0x00, 0x02, 0x00), 0xEE, 1, MiB // SECTOR - 1)


@pytest.mark.parametrize('entries, problem', [
    ([(0x00, (0x00, 0x02, 0x00), 0xEE, 2, 100)],
     'GPT MBR has invalid start LBA'),
    ([PROTECTIVE, (0x00, (0x00, 0x03, 0x00), 0x83, 64, 100)],
     'GPT MBR defines invalid extra partitions'),
    ([(0x42,) + PROTECTIVE[1:]], 'MBR PTE 0 has invalid boot flag'),
], ids=['start-lba', 'extra-partition', 'boot-flag'])
def test_gpt_with_invalid_protective_mbr(client, env, entries, problem):
    data = _gpt_disk(entries)
    image_id, task = _import_data(client, data, 'raw')
    _assert_refused(client, env, image_id, task, data,
                    'gpt image failed safety checks', 'mbr: ' + problem)
    # The operator may make the MBR check non-fatal: the same staged data
    # then imports (raw, with a logged warning).
    CONF.set_override('gpt_safety_checks_nonfatal', ['mbr'],
                      group='image_format')
    _assert_active(client, env, image_id, _import(client, image_id),
                   virtual_size=len(data))


def test_valid_gpt_imports_as_raw(client, env):
    data = _gpt_disk([PROTECTIVE])
    image_id, task = _import_data(client, data, 'raw')
    _assert_active(client, env, image_id, task, virtual_size=len(data))


def _iso_volume_descriptors(blocks):
    """ISO 9660 primary volume descriptor and set terminator (2 KiB
    each), for an image of ``blocks`` 2 KiB blocks."""
    pvd = bytearray(2048)
    pvd[0:7] = b'\x01CD001\x01'
    pvd[80:88] = struct.pack('<I', blocks) + struct.pack('>I', blocks)
    pvd[128:132] = struct.pack('<H', 2048) + struct.pack('>H', 2048)
    term = bytearray(2048)
    term[0:7] = b'\xffCD001\x01'
    return bytes(pvd + term)


def _iso_gpt_hybrid(size=MiB):
    """An isohybrid-style image: protective MBR and GPT header in the ISO
    system area (first 32 KiB), volume descriptors from 32 KiB on."""
    data = bytearray(_gpt_disk([PROTECTIVE], size))
    data[32 * 1024:36 * 1024] = _iso_volume_descriptors(size // 2048)
    return bytes(data)


def test_iso_gpt_hybrid_counts_as_iso(client, env):
    data = _iso_gpt_hybrid()
    image_id, task = _import_data(client, data, 'iso')
    _assert_active(client, env, image_id, task, virtual_size=len(data))


def test_iso_gpt_hybrid_declared_qcow2_is_refused_as_iso(client, env):
    data = _iso_gpt_hybrid()
    image_id, task = _import_data(client, data, 'qcow2')
    _assert_refused(client, env, image_id, task, data,
                    'declared disk_format qcow2, detected iso')


def test_iso_hiding_a_qcow2_header_is_refused(client, env, tmp_path):
    # A qcow2 whose header cluster also carries ISO volume descriptors:
    # two readings of one file, refused whatever is declared.
    path = tmp_path / 'disk.qcow2'
    _qemu_img('create', '-q', '-f', 'qcow2', str(path), '1M')
    data = bytearray(path.read_bytes())
    assert data[32 * 1024:36 * 1024] == bytes(4096)
    data[32 * 1024:36 * 1024] = _iso_volume_descriptors(len(data) // 2048)
    data = bytes(data)
    image_id, task = _import_data(client, data, 'iso')
    _assert_refused(client, env, image_id, task, data,
                    'multiple formats detected: iso, qcow2')
