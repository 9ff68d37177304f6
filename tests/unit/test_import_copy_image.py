"""copy-image (import-semantics 4.3 checks 23/24, 5, 6.1, 6.5, 7.1)."""

import hashlib

import pytest

from importflow.common import constants as c
from importflow.common import exceptions

ALL = ('fast', 'cheap', 'backup')
MiB = 1024 * 1024


def _active_in_fast(client, env, size=2 * MiB):
    path = env.make_file(size)
    image = client.create_image(name='t', disk_format='raw',
                                container_format='bare')
    with open(path, 'rb') as f:
        client.stage(image['id'], f)
    task = client.import_image(image['id'], stores_=['fast'])
    task = client.wait(task['id'], timeout=30)
    assert task['status'] == c.TASK_SUCCESS, task['message']
    image = client.show_image(image['id'])
    assert image['status'] == c.ACTIVE
    assert [loc['store'] for loc in image['locations']] == ['fast']
    return image, path.read_bytes()


def _copy(client, image_id, targets, **kwargs):
    return client.import_image(image_id, method=c.COPY_IMAGE,
                               stores_=targets, **kwargs)


def _wait_watching_status(client, task, image_id):
    """Wait for the task while sampling the image's status."""
    seen = set()

    def sample(_task):
        seen.add(client.show_image(image_id)['status'])

    task = client.wait(task['id'], on_progress=sample, poll=0.02, timeout=30)
    seen.add(client.show_image(image_id)['status'])
    return task, seen




def _unchanged_fields(image):
    return {k: image[k] for k in ('status', 'size', 'virtual_size',
                                  'checksum', 'os_hash_algo', 'os_hash_value',
                                  'disk_format', 'container_format')}


def test_copy_to_two_more_stores(client, env):
    original, data = _active_in_fast(client, env)
    image_id = original['id']
    task = _copy(client, image_id, ['cheap', 'backup'])
    assert task['input']['backend'] == ['cheap', 'backup']
    task, seen = _wait_watching_status(client, task, image_id)

    assert task['status'] == c.TASK_SUCCESS, task['message']
    assert seen == {c.ACTIVE}
    image = client.show_image(image_id)
    assert _unchanged_fields(image) == _unchanged_fields(original)
    assert image['checksum'] == hashlib.md5(data).hexdigest()
    assert image['os_hash_value'] == hashlib.sha512(data).hexdigest()
    stores_ = [loc['store'] for loc in image['locations']]
    # The original location stays first; the copies are appended.
    assert stores_[0] == 'fast'
    assert sorted(stores_) == sorted(ALL)
    assert image['locations'][0] == original['locations'][0]
    for store_id in ALL:
        assert env.store_files(store_id) == [image_id]
        assert (env.store_dir(store_id) / image_id).read_bytes() == data
    props = image['properties']
    assert c.PROP_IMPORT_TASK not in props
    assert props[c.PROP_IMPORTING_TO] == ''
    assert props[c.PROP_FAILED_IMPORT] == ''
    assert env.staging_files() == []
    assert task['result'] == {'image_id': image_id, 'stores': {
        s: {'status': c.STORE_ACTIVE, 'size': len(data)}
        for s in ('cheap', 'backup')}}


def test_copy_of_an_image_larger_than_a_copy_chunk(client, env):
    # The whole object is read back, not one chunk of it.
    from importflow.conf import CONF
    size = 2 * CONF.image_import_opts.copy_chunk_size + 12345
    original, data = _active_in_fast(client, env, size=size)
    task = _copy(client, original['id'], ['cheap'])
    task = client.wait(task['id'], timeout=30)
    assert task['status'] == c.TASK_SUCCESS, task['message']
    assert (env.store_dir('cheap') / original['id']).read_bytes() == data


def test_copy_with_all_stores_copies_only_the_missing_ones(client, env):
    original, data = _active_in_fast(client, env)
    image_id = original['id']
    task = client.import_image(image_id, method=c.COPY_IMAGE,
                               all_stores=True)
    # Stores already holding the image are dropped from the targets.
    assert task['input']['backend'] == ['cheap', 'backup']
    task = client.wait(task['id'], timeout=30)
    assert task['status'] == c.TASK_SUCCESS, task['message']
    image = client.show_image(image_id)
    assert sorted(loc['store'] for loc in image['locations']) == \
        sorted(ALL)
    assert image['checksum'] == original['checksum']


def test_copy_with_all_stores_when_every_store_holds_it(client, env):
    original, data = _active_in_fast(client, env)
    image_id = original['id']
    task = client.wait(_copy(client, image_id, ['cheap', 'backup'])['id'],
                       timeout=30)
    assert task['status'] == c.TASK_SUCCESS, task['message']

    before = client.show_image(image_id)
    tasks_before = client.list_tasks(image_id)
    files_before = {s: env.store_files(s) for s in ALL}
    # Check 23: 202 and nothing to do.
    assert client.import_image(image_id, method=c.COPY_IMAGE,
                               all_stores=True) is None
    assert client.import_image(image_id, method=c.COPY_IMAGE,
                               all_stores=True,
                               all_stores_must_succeed=False) is None
    assert client.show_image(image_id) == before
    assert client.list_tasks(image_id) == tasks_before
    assert len(tasks_before) == 2
    assert {s: env.store_files(s) for s in ALL} == files_before
    assert env.staging_files() == []
    assert c.PROP_IMPORT_TASK not in before['properties']


@pytest.mark.parametrize('targets', [['fast'], ['cheap', 'fast'],
                                     ['fast', 'cheap']])
def test_copy_to_a_store_already_holding_it(client, env, targets):
    original, data = _active_in_fast(client, env)
    image_id = original['id']
    tasks_before = client.list_tasks(image_id)
    with pytest.raises(exceptions.BadRequest) as info:
        _copy(client, image_id, targets)
    assert info.value.code == 400
    assert str(info.value) == "Image is already present at store 'fast'"
    assert client.show_image(image_id) == original
    assert client.list_tasks(image_id) == tasks_before
    assert env.store_files('cheap') == []


@pytest.mark.parametrize('all_must_succeed', [True, False])
def test_copy_with_a_broken_target_changes_nothing(client, env,
                                                   all_must_succeed):
    original, data = _active_in_fast(client, env)
    image_id = original['id']
    env.break_store('backup')
    targets = ['cheap', 'backup']
    task = _copy(client, image_id, targets,
                 all_stores_must_succeed=all_must_succeed)
    task, seen = _wait_watching_status(client, task, image_id)

    assert seen == {c.ACTIVE}
    image = client.show_image(image_id)
    assert _unchanged_fields(image) == _unchanged_fields(original)
    assert (env.store_dir('fast') / image_id).read_bytes() == data
    assert c.PROP_IMPORT_TASK not in image['properties']
    assert image['properties'][c.PROP_IMPORTING_TO] == ''
    assert env.staging_files() == []
    result = task['result']['stores']
    assert result['backup']['status'] == c.STORE_FAILED
    assert 'Not a directory' in result['backup']['error']

    if all_must_succeed:
        assert task['status'] == c.TASK_FAILURE
        assert task['message'].startswith(
            "Import to store 'backup' failed: "), task['message']
        assert 'Not a directory' in task['message']
        assert 'Internal Error' not in task['message']
        # Exactly the original location; nothing in the other target.
        assert image['locations'] == original['locations']
        assert env.store_files('cheap') == []
        # Every target is listed as failed (section 7.1).
        assert image['properties'][c.PROP_FAILED_IMPORT] == 'backup,cheap'
        assert result['cheap']['status'] in (c.STORE_REVERTED,
                                             c.STORE_CANCELLED)
    else:
        assert task['status'] == c.TASK_SUCCESS, task['message']
        assert task['message'].startswith(
            "Import to store 'backup' failed: "), task['message']
        assert [loc['store'] for loc in image['locations']] == \
            ['fast', 'cheap']
        assert (env.store_dir('cheap') / image_id).read_bytes() == data
        assert image['properties'][c.PROP_FAILED_IMPORT] == 'backup'
        assert result['cheap'] == {'status': c.STORE_ACTIVE,
                                   'size': len(data)}


def test_copy_false_mode_every_target_broken(client, env):
    original, data = _active_in_fast(client, env)
    image_id = original['id']
    for store_id in ('cheap', 'backup'):
        env.break_store(store_id)
    task = _copy(client, image_id, ['cheap', 'backup'],
                 all_stores_must_succeed=False)
    task, seen = _wait_watching_status(client, task, image_id)

    assert task['status'] == c.TASK_FAILURE
    assert task['message'].startswith('All target stores failed: cheap: '), \
        task['message']
    assert '; backup: ' in task['message']
    assert seen == {c.ACTIVE}
    image = client.show_image(image_id)
    assert _unchanged_fields(image) == _unchanged_fields(original)
    assert image['locations'] == original['locations']
    assert (env.store_dir('fast') / image_id).read_bytes() == data
    assert image['properties'][c.PROP_FAILED_IMPORT] == 'backup,cheap'
    assert image['properties'][c.PROP_IMPORTING_TO] == ''
    assert c.PROP_IMPORT_TASK not in image['properties']
    assert env.staging_files() == []


def test_copy_reads_another_store_when_the_default_copy_is_gone(client, env):
    # The image lives in 'cheap' only (its default-store copy never
    # existed): copy-image reads from 'cheap'.
    path = env.make_file(MiB)
    data = path.read_bytes()
    image_id = client.create_image(name='t', disk_format='raw',
                                   container_format='bare')['id']
    with open(path, 'rb') as f:
        client.stage(image_id, f)
    task = client.wait(client.import_image(image_id,
                                           stores_=['cheap'])['id'],
                       timeout=30)
    assert task['status'] == c.TASK_SUCCESS, task['message']
    task = client.wait(_copy(client, image_id, ['fast'])['id'], timeout=30)
    assert task['status'] == c.TASK_SUCCESS, task['message']
    assert (env.store_dir('fast') / image_id).read_bytes() == data
    image = client.show_image(image_id)
    assert [loc['store'] for loc in image['locations']] == ['cheap', 'fast']
    assert image['checksum'] == hashlib.md5(data).hexdigest()
