"""Import request validation (import-semantics 4.3) without HTTP.

Every rejected request must leave everything as it was: the image record,
the task list, the lock and staging. Requests go through
``importflow.domain.imports.accept`` (what the client and the API call), so
that the ``X-Image-Meta-Store`` header can be given too.
"""

import os
import threading

import pytest
from oslo_context import context as oslo_context

from importflow.common import constants as c
from importflow.common import exceptions
from importflow import conf as importflow_conf
from importflow.conf import CONF
from importflow.db import api as db
from importflow.db import migration
from importflow.domain import imports
from importflow import stores
from importflow.stores import staging
from tests import conftest as base

MiB = 1024 * 1024
ALL = ('fast', 'cheap', 'backup')


# ------------------------------------------------------------- helpers

def _image(client, **fields):
    fields.setdefault('disk_format', 'raw')
    fields.setdefault('container_format', 'bare')
    return client.create_image(name='t', **fields)['id']


def _staged(client, env, size=MiB, **fields):
    image_id = _image(client, **fields)
    with open(env.make_file(size), 'rb') as f:
        client.stage(image_id, f)
    return image_id


def _active(client, env, stores_=('fast',)):
    image_id = _staged(client, env)
    task = client.import_image(image_id, stores_=list(stores_))
    task = client.wait(task['id'], timeout=30)
    assert task['status'] == c.TASK_SUCCESS, task['message']
    return image_id


def _snapshot(client, env, image_id):
    return {'image': client.show_image(image_id),
            'tasks': client.list_tasks(image_id),
            'staging': env.staging_files(),
            'stores': {s: env.store_files(s) for s in ALL}}


def _rejected(client, env, image_id, body, exc_type, code, message=None,
              header=None, context=None):
    """Assert the request fails with ``exc_type``/``code`` and changes
    nothing; ``message`` is compared exactly when given."""
    before = _snapshot(client, env, image_id)
    with pytest.raises(exc_type) as info:
        imports.accept(context or client.context, image_id, body,
                       store_header=header)
    assert info.value.code == code
    if message is not None:
        assert str(info.value) == message
    assert _snapshot(client, env, image_id) == before
    return info.value


def _no_task_no_lock(client, image_id, tasks_before=0):
    assert len(client.list_tasks(image_id)) == tasks_before
    if tasks_before == 0:
        assert c.PROP_IMPORT_TASK not in \
            client.show_image(image_id)['properties']


GD = {'method': {'name': c.GLANCE_DIRECT}}


def _gd(**extra):
    body = {'method': {'name': c.GLANCE_DIRECT}}
    body.update(extra)
    return body


# --------------------------------------------------- checks 1 to 5: body

@pytest.mark.parametrize('body', [None, [], 'glance-direct', 42, {},
                                  {'stores': ['fast']},
                                  {'method': None},
                                  {'method': 'glance-direct'}])
def test_check1_body_needs_a_method_object(client, env, body):
    image_id = _staged(client, env)
    _rejected(client, env, image_id, body, exceptions.BadRequest, 400,
              "Import request requires a 'method' field.")
    _no_task_no_lock(client, image_id)


@pytest.mark.parametrize('method', [{}, {'uri': 'http://example.com/x'},
                                    {'name': None}])
def test_check2_method_needs_a_name(client, env, method):
    image_id = _staged(client, env)
    _rejected(client, env, image_id, {'method': method},
              exceptions.BadRequest, 400,
              "Import request requires a 'name' field.")
    _no_task_no_lock(client, image_id)


@pytest.mark.parametrize('name', ['bogus', 'glance-download', 'GLANCE-DIRECT',
                                  ''])
def test_check3_unknown_or_disabled_method(client, env, name):
    image_id = _staged(client, env)
    _rejected(client, env, image_id, {'method': {'name': name}},
              exceptions.BadRequest, 400,
              "Unknown import method name '%s'." % name)
    _no_task_no_lock(client, image_id)


def test_check3_method_disabled_by_configuration(client, env):
    image_id = _staged(client, env)
    CONF.set_override('enabled_import_methods', [c.WEB_DOWNLOAD])
    try:
        _rejected(client, env, image_id, GD, exceptions.BadRequest, 400,
                  "Unknown import method name 'glance-direct'.")
    finally:
        CONF.clear_override('enabled_import_methods')
    _no_task_no_lock(client, image_id)


@pytest.mark.parametrize('flag', ['all_stores_must_succeed', 'all_stores'])
@pytest.mark.parametrize('value', ['true', 'false', 1, 0, None, [], {}])
def test_checks4_5_flags_must_be_json_booleans(client, env, flag, value):
    image_id = _staged(client, env)
    _rejected(client, env, image_id, _gd(**{flag: value}),
              exceptions.BadRequest, 400)
    _no_task_no_lock(client, image_id)


def test_check4_comes_before_check5_and_the_image_lookup(client, env):
    # A missing image: the body's checks come first (400, not 404).
    with pytest.raises(exceptions.BadRequest) as info:
        imports.accept(client.context, '8a3b5c5e-0000-4000-8000-000000000000',
                       _gd(all_stores_must_succeed='yes'))
    assert info.value.code == 400
    with pytest.raises(exceptions.BadRequest):
        imports.accept(client.context, '8a3b5c5e-0000-4000-8000-000000000000',
                       {'method': {'name': 'bogus'}})


# --------------------------------------------------- check 7: visibility

def test_check7_missing_image(client, env):
    missing = '8a3b5c5e-0000-4000-8000-000000000000'
    with pytest.raises(exceptions.NotFound) as info:
        imports.accept(client.context, missing, GD)
    assert info.value.code == 404
    assert client.list_tasks() == []


def test_check7_image_not_visible_to_caller(client, env):
    image_id = _staged(client, env)   # owned by project 'admin', shared
    stranger = oslo_context.RequestContext(
        project_id='other-project', user_id='someone', roles=['member'])
    exc = _rejected(client, env, image_id, GD, exceptions.NotFound, 404,
                    context=stranger)
    assert isinstance(exc, exceptions.ImageNotFound)
    _no_task_no_lock(client, image_id)


def test_check7_deleted_image(client, env):
    image_id = _staged(client, env)
    client.delete_image(image_id)
    with pytest.raises(exceptions.NotFound) as info:
        imports.accept(client.context, image_id, GD)
    assert info.value.code == 404
    assert db.task_list(image_id=image_id) == []


# ------------------------------------------- checks 8 to 12: image state

@pytest.mark.parametrize('method', [c.GLANCE_DIRECT, c.WEB_DOWNLOAD])
def test_check8_active_image_only_for_copy_image(client, env, method):
    image_id = _active(client, env)
    body = {'method': {'name': method, 'uri': 'http://127.0.0.1/'}}
    _rejected(client, env, image_id, body, exceptions.Conflict, 409,
              'Image with status active cannot be target for import')
    _no_task_no_lock(client, image_id, tasks_before=1)


def test_check9_copy_image_needs_active(client, env):
    body = {'method': {'name': c.COPY_IMAGE}, 'stores': ['cheap']}
    msg = 'Only images with status active can be targeted for copying'
    queued = _image(client)
    _rejected(client, env, queued, body, exceptions.Conflict, 409, msg)
    uploading = _staged(client, env)
    _rejected(client, env, uploading, body, exceptions.Conflict, 409, msg)
    _no_task_no_lock(client, queued)
    _no_task_no_lock(client, uploading)


def test_check9_copy_image_refuses_deactivated(client, env):
    image_id = _active(client, env)
    # No deactivate call exists yet: the admin action's result, set in the
    # database directly.
    db.image_save(image_id, expected_status=[c.ACTIVE],
                  values={'status': c.DEACTIVATED})
    _rejected(client, env, image_id,
              {'method': {'name': c.COPY_IMAGE}, 'stores': ['cheap']},
              exceptions.Conflict, 409,
              'Only images with status active can be targeted for copying')
    _no_task_no_lock(client, image_id, tasks_before=1)


def test_check10_web_download_needs_queued(client, env):
    image_id = _staged(client, env)
    _rejected(client, env, image_id,
              {'method': {'name': c.WEB_DOWNLOAD,
                          'uri': 'http://example.com/image.raw'}},
              exceptions.Conflict, 409,
              "Image needs to be in 'queued' state to use 'web-download' "
              "method")
    _no_task_no_lock(client, image_id)


def test_check11_glance_direct_needs_staged_data(client, env):
    msg = "Image needs to be staged before 'glance-direct' method can be used"
    queued = _image(client)
    _rejected(client, env, queued, GD, exceptions.Conflict, 409, msg)
    _no_task_no_lock(client, queued)


def test_check11_staged_file_lost(client, env):
    image_id = _staged(client, env)
    os.unlink(staging.path(image_id))
    _rejected(client, env, image_id, GD, exceptions.Conflict, 409,
              "Image needs to be staged before 'glance-direct' method can "
              "be used")
    _no_task_no_lock(client, image_id)


def test_check11_uploading_without_size_is_not_staged(client, env):
    # Staging is complete only once 'size' is set (section 4.2): this is
    # the state while a PUT /stage is still streaming.
    image_id = _image(client)
    db.image_save(image_id, expected_status=[c.QUEUED],
                  values={'status': c.UPLOADING})
    _rejected(client, env, image_id, GD, exceptions.Conflict, 409,
              "Image needs to be staged before 'glance-direct' method can "
              "be used")
    _no_task_no_lock(client, image_id)


@pytest.mark.parametrize('fields, attr', [
    ({'disk_format': None, 'container_format': None}, 'container_format'),
    ({'container_format': None}, 'container_format'),
    ({'disk_format': None}, 'disk_format'),
])
def test_check12_formats_must_be_set(client, env, fields, attr):
    image_id = _staged(client, env, **fields)
    _rejected(client, env, image_id, GD, exceptions.Conflict, 409,
              "'%s' needs to be set before import" % attr)
    # Check 12 comes before the store checks (16 to 22).
    _rejected(client, env, image_id, _gd(stores=['nope']),
              exceptions.Conflict, 409,
              "'%s' needs to be set before import" % attr)
    _no_task_no_lock(client, image_id)


def test_check11_comes_before_check12(client, env):
    image_id = client.create_image(name='t')['id']   # queued, no formats
    _rejected(client, env, image_id, GD, exceptions.Conflict, 409,
              "Image needs to be staged before 'glance-direct' method can "
              "be used")


# ------------------------------------------------------- check 15: lock

def test_check15_image_with_active_task(client, env):
    client.close()   # no worker: the first task stays pending
    image_id = _staged(client, env)
    first = client.import_image(image_id)
    assert first['status'] == c.TASK_PENDING
    image = client.show_image(image_id)
    assert image['properties'][c.PROP_IMPORT_TASK] == first['id']
    for body in (GD, _gd(stores=['cheap']), _gd(all_stores=True),
                 # Check 15 comes before the store checks.
                 _gd(stores=['nope']), _gd(stores=[]),
                 _gd(all_stores=True, stores=['fast'])):
        _rejected(client, env, image_id, body, exceptions.Conflict, 409,
                  'Image has active task')
    tasks = client.list_tasks(image_id)
    assert [t['id'] for t in tasks] == [first['id']]
    assert client.show_image(image_id)['properties'][c.PROP_IMPORT_TASK] \
        == first['id']


# ------------------------------------------- checks 16 to 22: the stores

def test_check16_all_stores_with_stores(client, env):
    image_id = _staged(client, env)
    _rejected(client, env, image_id, _gd(all_stores=True, stores=['fast']),
              exceptions.BadRequest, 400)
    _rejected(client, env, image_id, _gd(all_stores=True),
              exceptions.BadRequest, 400, header='fast')
    _no_task_no_lock(client, image_id)


def test_check17_stores_with_header(client, env):
    image_id = _staged(client, env)
    _rejected(client, env, image_id, _gd(stores=['fast']),
              exceptions.BadRequest, 400, header='cheap')
    _rejected(client, env, image_id, _gd(stores=['fast']),
              exceptions.BadRequest, 400, header='fast')
    _no_task_no_lock(client, image_id)


@pytest.mark.parametrize('value', ['fast', 'fast,cheap', ['fast', 1],
                                   [['fast']], {'fast': True}, 7, True,
                                   [None]])
def test_check18_stores_must_be_an_array_of_strings(client, env, value):
    image_id = _staged(client, env)
    _rejected(client, env, image_id, _gd(stores=value),
              exceptions.BadRequest, 400)
    _no_task_no_lock(client, image_id)


def test_check19_empty_stores(client, env):
    image_id = _staged(client, env)
    _rejected(client, env, image_id, _gd(stores=[]),
              exceptions.BadRequest, 400)
    _no_task_no_lock(client, image_id)


@pytest.mark.parametrize('value', [['fast', 'fast'],
                                   ['cheap', 'fast', 'cheap'],
                                   # check 20 comes before check 21
                                   ['nope', 'nope']])
def test_check20_duplicate_store(client, env, value):
    image_id = _staged(client, env)
    _rejected(client, env, image_id, _gd(stores=value),
              exceptions.BadRequest, 400)
    _no_task_no_lock(client, image_id)


@pytest.mark.parametrize('value, reported', [
    (['nope'], 'nope'),
    (['fast', 'nope1', 'nope2'], 'nope1'),
    (['FAST'], 'FAST'),
    ([''], ''),
    # Reserved ids are reported exactly like unknown ones.
    ([c.STAGING_STORE], c.STAGING_STORE),
    ([c.TASKS_STORE], c.TASKS_STORE),
    (['cheap', c.STAGING_STORE, 'nope'], c.STAGING_STORE),
])
def test_check21_unknown_or_reserved_store(client, env, value, reported):
    image_id = _staged(client, env)
    _rejected(client, env, image_id, _gd(stores=value),
              exceptions.Conflict, 409,
              'Store for identifier %s not found' % reported)
    _no_task_no_lock(client, image_id)


@pytest.mark.parametrize('store', ['nope', c.STAGING_STORE, c.TASKS_STORE])
def test_check21_unknown_or_reserved_store_in_header(client, env, store):
    image_id = _staged(client, env)
    _rejected(client, env, image_id, GD, exceptions.Conflict, 409,
              'Store for identifier %s not found' % store, header=store)
    _no_task_no_lock(client, image_id)


def test_check21_comes_before_check24(client, env):
    image_id = _active(client, env)
    _rejected(client, env, image_id,
              {'method': {'name': c.COPY_IMAGE}, 'stores': ['fast', 'nope']},
              exceptions.Conflict, 409, 'Store for identifier nope not found')
    _no_task_no_lock(client, image_id, tasks_before=1)


def test_check21_comes_before_check26(client, env):
    image_id = _image(client)
    _rejected(client, env, image_id,
              {'method': {'name': c.WEB_DOWNLOAD,
                          'uri': 'http://127.0.0.1/'},
               'stores': ['nope']},
              exceptions.Conflict, 409, 'Store for identifier nope not found')
    _no_task_no_lock(client, image_id)


def test_check24_copy_image_to_a_store_holding_it(client, env):
    image_id = _active(client, env)
    for value in (['fast'], ['cheap', 'fast']):
        _rejected(client, env, image_id,
                  {'method': {'name': c.COPY_IMAGE}, 'stores': value},
                  exceptions.BadRequest, 400,
                  "Image is already present at store 'fast'")
    # Without 'stores' the target is the default store, which holds it.
    _rejected(client, env, image_id, {'method': {'name': c.COPY_IMAGE}},
              exceptions.BadRequest, 400,
              "Image is already present at store 'fast'")
    _rejected(client, env, image_id, {'method': {'name': c.COPY_IMAGE}},
              exceptions.BadRequest, 400,
              "Image is already present at store 'fast'", header='fast')
    _no_task_no_lock(client, image_id, tasks_before=1)


def test_check25_false_mode_is_accepted_with_several_stores(client, env):
    # Check 25 applies to single-store mode only.
    image_id = _staged(client, env)
    task = client.import_image(image_id, all_stores_must_succeed=False)
    assert task['input']['backend'] == ['fast']
    assert client.wait(task['id'], timeout=30)['status'] == c.TASK_SUCCESS


@pytest.mark.parametrize('uri', ['http://127.0.0.1/', 'http://127.1/x',
                                 'http://2130706433/', 'http://[::1]/',
                                 'http://169.254.169.254/latest/',
                                 'http://10.0.0.1/x', 'file:///etc/passwd',
                                 'ftp://example.com/x', 'not a url', ''])
def test_check26_web_download_uri_must_pass_the_filter(client, env, uri):
    image_id = _image(client)
    _rejected(client, env, image_id,
              {'method': {'name': c.WEB_DOWNLOAD, 'uri': uri}},
              exceptions.BadRequest, 400,
              'URI for web-download does not pass filtering: %s' % uri)
    _no_task_no_lock(client, image_id)


@pytest.mark.parametrize('method', [{'name': c.WEB_DOWNLOAD},
                                    {'name': c.WEB_DOWNLOAD, 'uri': None},
                                    {'name': c.WEB_DOWNLOAD, 'uri': 42}])
def test_check26_web_download_uri_missing(client, env, method):
    image_id = _image(client)
    exc = _rejected(client, env, image_id, {'method': method},
                    exceptions.BadRequest, 400)
    assert str(exc).startswith('URI for web-download does not pass '
                               'filtering: ')
    _no_task_no_lock(client, image_id)


# ------------------------------------------------ a read-only store (22)

@pytest.fixture
def ro_env(tmp_path, monkeypatch):
    """'fast' (file, default) and 'web', a read-only http store."""
    base._reset_process_state()
    state = tmp_path / 'state'
    monkeypatch.setenv('IMPORTFLOW_STATE_PATH', str(state))
    config = tmp_path / 'importflow.conf'
    config.write_text('\n'.join([
        '[DEFAULT]', 'state_path = %s' % state, 'transport_url = fake://',
        'enabled_backends = fast:file, web:http',
        '[glance_store]', 'default_backend = fast',
        '[database]',
        'connection = sqlite:///%s' % (tmp_path / 'importflow.sqlite'),
        '[image_import_opts]', 'heartbeat_interval = 1',
        'progress_interval = 0.2', 'task_lease_timeout = 5',
        '[fast]', 'filesystem_store_datadir = %s' % (tmp_path / 'fast'),
    ]) + '\n')
    importflow_conf.parse_args(['--config-file', str(config)])
    migration.sync()
    stores.configure()
    yield base.Env(tmp_path)
    base._reset_process_state()
    CONF.reset()


@pytest.fixture
def ro_client(ro_env):
    from importflow import client as client_mod
    with client_mod.Client() as client:
        yield client


def _ro_snapshot(client, env, image_id):
    return (client.show_image(image_id), client.list_tasks(image_id),
            env.staging_files(), env.store_files('fast'))


def test_check22_read_only_store(ro_client, ro_env):
    client, env = ro_client, ro_env
    image_id = _staged(client, env)
    for body, header in ((_gd(stores=['web']), None),
                         (_gd(stores=['fast', 'web']), None),
                         (GD, 'web')):
        before = _ro_snapshot(client, env, image_id)
        with pytest.raises(exceptions.Conflict) as info:
            imports.accept(client.context, image_id, body,
                           store_header=header)
        assert info.value.code == 409
        assert str(info.value) == 'Store web is read-only'
        assert _ro_snapshot(client, env, image_id) == before
    # Check 21 (every id) comes before check 22.
    with pytest.raises(exceptions.Conflict) as info:
        imports.accept(client.context, image_id,
                       _gd(stores=['web', 'nope']))
    assert str(info.value) == 'Store for identifier nope not found'
    assert client.list_tasks(image_id) == []
    assert c.PROP_IMPORT_TASK not in \
        client.show_image(image_id)['properties']
    # all_stores never targets a read-only store (section 5).
    task = client.import_image(image_id, all_stores=True)
    assert task['input']['backend'] == ['fast']
    assert client.wait(task['id'], timeout=30)['status'] == c.TASK_SUCCESS


# --------------------------------------------------- concurrent requests

@pytest.mark.parametrize('round_', range(4))
def test_concurrent_requests_create_exactly_one_task(client, env, round_):
    image_id = _staged(client, env)
    barrier = threading.Barrier(2)
    outcomes = [None, None]

    def request(slot, body):
        barrier.wait()
        try:
            outcomes[slot] = imports.accept(client.context, image_id, body)
        except Exception as exc:   # collected and judged below
            outcomes[slot] = exc

    bodies = (GD, _gd(all_stores=True)) if round_ % 2 else (GD, GD)
    threads = [threading.Thread(target=request, args=(i, b))
               for i, b in enumerate(bodies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    winners = [o for o in outcomes if isinstance(o, dict)]
    losers = [o for o in outcomes if not isinstance(o, dict)]
    assert len(winners) == 1, outcomes
    assert len(losers) == 1, outcomes
    assert isinstance(losers[0], exceptions.Conflict), repr(losers[0])
    assert losers[0].code == 409
    # Check 15 if the winner's lock was visible, else check 27.
    assert str(losers[0]) in (
        'Image has active task',
        "New operation on image '%s' is not permitted as prior operation "
        "is still in progress" % image_id), str(losers[0])
    tasks = client.list_tasks(image_id)
    assert [t['id'] for t in tasks] == [winners[0]['id']]
    task = client.wait(winners[0]['id'], timeout=30)
    assert task['status'] == c.TASK_SUCCESS, task['message']
    image = client.show_image(image_id)
    assert image['status'] == c.ACTIVE
    assert c.PROP_IMPORT_TASK not in image['properties']
    assert len(client.list_tasks(image_id)) == 1
