"""A store that really fails mid-import (import-semantics 6.3, 6.5, 7, 9).

A store is broken by replacing its data directory with a regular file, so
that glance_store's file driver fails with NotADirectoryError when it opens
``<datadir>/<image id>``. Nothing is mocked.
"""

import hashlib
import os

import pytest

from importflow import client as client_mod
from importflow.common import constants as c
from importflow.conf import CONF
from importflow.stores import staging

ALL = ('fast', 'cheap', 'backup')
MiB = 1024 * 1024






def _repair_store(env, store_id):
    datadir = env.store_dir(store_id)
    datadir.unlink()
    datadir.mkdir()


def _store_contents(env, store_id):
    datadir = env.store_dir(store_id)
    if not datadir.is_dir():
        return None  # broken: a regular file
    return sorted(os.listdir(datadir))


def _assert_reverted_glance_direct(client, env, image_id, data, targets):
    """Section 6.5 end state of a failed glance-direct import."""
    image = client.show_image(image_id)
    assert image['status'] == c.UPLOADING
    assert image['size'] == len(data)
    assert image['checksum'] is None
    assert image['os_hash_algo'] is None
    assert image['os_hash_value'] is None
    assert image['virtual_size'] is None
    assert image['locations'] == []
    props = image['properties']
    assert c.PROP_IMPORT_TASK not in props
    assert props[c.PROP_IMPORTING_TO] == ''
    assert props[c.PROP_FAILED_IMPORT] == ','.join(sorted(targets))
    # The staged file is kept byte for byte; nothing derived is left.
    with open(staging.path(image_id), 'rb') as f:
        assert f.read() == data
    assert env.staging_files() == [image_id]
    for store_id in ALL:
        assert _store_contents(env, store_id) in ([], None), store_id
    return image


def _assert_concrete(reason):
    assert reason
    assert 'Internal Error' not in reason
    # The file driver's own error reaches the message.
    assert 'NotADirectoryError' in reason or 'Not a directory' in reason, \
        reason


def _check_true_mode_failure(client, env, broken, serial):
    image_id, data = env.staged_image(client)
    env.break_store(broken)
    task = client.import_image(image_id, all_stores=True)
    assert task['input']['backend'] == list(ALL)
    task = client.wait(task['id'], timeout=30)

    assert task['status'] == c.TASK_FAILURE
    prefix = "Import to store '%s' failed: " % broken
    assert task['message'].startswith(prefix), task['message']
    _assert_concrete(task['message'][len(prefix):])

    _assert_reverted_glance_direct(client, env, image_id, data, ALL)

    stores_result = task['result']['stores']
    assert task['result']['image_id'] == image_id
    assert sorted(stores_result) == sorted(ALL)
    assert stores_result[broken]['status'] == c.STORE_FAILED
    _assert_concrete(stores_result[broken]['error'])
    for store_id in ALL:
        if store_id == broken:
            continue
        entry = stores_result[store_id]
        assert entry['status'] in (c.STORE_REVERTED, c.STORE_CANCELLED), \
            (store_id, entry)
        assert entry.get('error'), (store_id, entry)
        assert 'size' not in entry
    if serial:
        # Serial copies run in target order: the stores before the broken
        # one completed and were reverted, the later ones never started.
        position = ALL.index(broken)
        for store_id in ALL[:position]:
            assert stores_result[store_id]['status'] == c.STORE_REVERTED
        for store_id in ALL[position + 1:]:
            assert stores_result[store_id]['status'] == c.STORE_CANCELLED
    assert client.list_tasks(image_id)[-1]['id'] == task['id']
    return image_id, data


@pytest.mark.parametrize('broken', ALL)
def test_true_mode_broken_store_reverts_everything(client, env, broken):
    _check_true_mode_failure(client, env, broken, serial=False)


def test_true_mode_retry_after_repair_needs_no_new_staging(client, env):
    image_id, data = _check_true_mode_failure(client, env, 'cheap',
                                              serial=False)
    _repair_store(env, 'cheap')

    # No stage() call: the image is still 'uploading' with its data.
    task = client.import_image(image_id, all_stores=True)
    task = client.wait(task['id'], timeout=30)
    assert task['status'] == c.TASK_SUCCESS, task['message']
    image = client.show_image(image_id)
    assert image['status'] == c.ACTIVE
    assert image['size'] == len(data)
    assert image['checksum'] == hashlib.md5(data).hexdigest()
    assert image['os_hash_value'] == hashlib.sha512(data).hexdigest()
    assert sorted(loc['store'] for loc in image['locations']) == sorted(ALL)
    for store_id in ALL:
        assert (env.store_dir(store_id) / image_id).read_bytes() == data
    props = image['properties']
    assert props[c.PROP_FAILED_IMPORT] == ''
    assert props[c.PROP_IMPORTING_TO] == ''
    assert c.PROP_IMPORT_TASK not in props
    assert env.staging_files() == []
    assert task['result']['stores'] == {
        s: {'status': c.STORE_ACTIVE, 'size': len(data)} for s in ALL}
    assert [t['status'] for t in client.list_tasks(image_id)] == \
        [c.TASK_FAILURE, c.TASK_SUCCESS]


@pytest.mark.parametrize('broken', ['fast', 'backup'])
def test_serial_mode_gives_the_same_end_state(env, broken):
    CONF.set_override('max_parallel_stores', 1, group='image_import_opts')
    try:
        with client_mod.Client() as client:
            _check_true_mode_failure(client, env, broken, serial=True)
    finally:
        CONF.clear_override('max_parallel_stores', group='image_import_opts')


@pytest.mark.parametrize('serial', [False, True])
def test_false_mode_keeps_the_good_stores(env, serial):
    if serial:
        CONF.set_override('max_parallel_stores', 1,
                          group='image_import_opts')
    try:
        with client_mod.Client() as client:
            _check_false_mode_partial_success(client, env)
    finally:
        CONF.clear_override('max_parallel_stores', group='image_import_opts')


def _check_false_mode_partial_success(client, env):
    broken = 'cheap'
    image_id, data = env.staged_image(client)
    env.break_store(broken)
    task = client.import_image(image_id, all_stores=True,
                               all_stores_must_succeed=False)
    task = client.wait(task['id'], timeout=30)

    assert task['status'] == c.TASK_SUCCESS, task['message']
    prefix = "Import to store '%s' failed: " % broken
    assert task['message'].startswith(prefix), task['message']
    assert ';' not in task['message']
    _assert_concrete(task['message'][len(prefix):])

    image = client.show_image(image_id)
    assert image['status'] == c.ACTIVE
    assert image['size'] == len(data)
    assert image['checksum'] == hashlib.md5(data).hexdigest()
    assert image['os_hash_algo'] == 'sha512'
    assert image['os_hash_value'] == hashlib.sha512(data).hexdigest()
    assert sorted(loc['store'] for loc in image['locations']) == \
        ['backup', 'fast']
    props = image['properties']
    assert props[c.PROP_FAILED_IMPORT] == broken
    assert props[c.PROP_IMPORTING_TO] == ''
    assert c.PROP_IMPORT_TASK not in props
    for store_id in ('fast', 'backup'):
        assert _store_contents(env, store_id) == [image_id]
        assert (env.store_dir(store_id) / image_id).read_bytes() == data
    assert _store_contents(env, broken) is None
    assert env.staging_files() == []

    stores_result = task['result']['stores']
    assert stores_result['fast'] == {'status': c.STORE_ACTIVE,
                                     'size': len(data)}
    assert stores_result['backup'] == {'status': c.STORE_ACTIVE,
                                       'size': len(data)}
    assert stores_result[broken]['status'] == c.STORE_FAILED
    _assert_concrete(stores_result[broken]['error'])


def test_false_mode_every_store_broken_fails(client, env):
    image_id, data = env.staged_image(client)
    for store_id in ALL:
        env.break_store(store_id)
    task = client.import_image(image_id, all_stores=True,
                               all_stores_must_succeed=False)
    task = client.wait(task['id'], timeout=30)

    assert task['status'] == c.TASK_FAILURE
    message = task['message']
    assert message.startswith('All target stores failed: '), message
    # '<s1>: <reason>; <s2>: <reason>' in target order.
    detail = message[len('All target stores failed: '):]
    parts = detail.split('; ')
    assert [p.split(': ', 1)[0] for p in parts] == list(ALL), message
    for part in parts:
        _assert_concrete(part.split(': ', 1)[1])

    _assert_reverted_glance_direct(client, env, image_id, data, ALL)
    for store_id in ALL:
        entry = task['result']['stores'][store_id]
        assert entry['status'] == c.STORE_FAILED
        _assert_concrete(entry['error'])
