"""POST/DELETE /v2/images/{id}/import, tasks, download and discovery."""

import hashlib
import os

import jsonschema
import pytest

from importflow.api import schemas
from importflow.common import constants as c
from importflow.conf import CONF
from importflow.db import api as db
from tests.unit.api.conftest import Api
from tests.unit.api.conftest import ALICE
from tests.unit.api.conftest import BOB
from tests.unit.api.conftest import message

GD = {'name': 'glance-direct'}


_text = message


@pytest.fixture
def idle(app):
    """The API without an import worker: accepted tasks stay pending."""
    return Api(app.test_client())


def _rejected(api, image_id, body, code, message=None, headers=None):
    before = api.show(image_id)
    tasks_before = len(db.task_list(image_id=image_id))
    resp = api.import_(image_id, body, headers)
    assert resp.status_code == code, _text(resp)
    if message is not None:
        assert message in _text(resp), _text(resp)
    assert api.show(image_id) == before
    assert len(db.task_list(image_id=image_id)) == tasks_before
    return resp


# ------------------------------------------------- import-semantics 4.3

@pytest.mark.parametrize('body,message', [
    ([], "Import request requires a 'method' field."),
    ({}, "Import request requires a 'method' field."),
    ({'method': 'glance-direct'}, "Import request requires a 'method' "
                                  "field."),
    ({'method': {}}, "Import request requires a 'name' field."),
    ({'method': {'name': 'scp'}}, "Unknown import method name 'scp'."),
    ({'method': GD, 'all_stores_must_succeed': 'false'},
     'all_stores_must_succeed'),
    ({'method': GD, 'all_stores': 1}, 'all_stores'),
])
def test_body_checks_1_to_5(api, body, message):
    image_id = api.staged_image(b'x' * 10)
    _rejected(api, image_id, body, 400, message)


def test_malformed_or_empty_body(api):
    image_id = api.staged_image(b'x' * 10)
    resp = api.http.post('/v2/images/%s/import' % image_id, data=b'{',
                         headers={'Content-Type': 'application/json'})
    assert resp.status_code == 400
    assert 'Malformed JSON' in _text(resp)
    resp = api.http.post('/v2/images/%s/import' % image_id)
    assert resp.status_code == 400
    assert "Import request requires a 'method' field." in _text(resp)


def test_check_7_missing_image(api):
    resp = api.import_('00000000-0000-0000-0000-000000000000')
    assert resp.status_code == 404
    private = api.create(headers=ALICE, visibility='private')
    assert api.import_(private['id'], headers=BOB).status_code == 404


def test_check_8_active_image(api):
    image = api.active_image(b'a' * 10)
    _rejected(api, image['id'], {'method': GD}, 409,
              'Image with status active cannot be target for import')


def test_check_9_copy_of_inactive_image(api):
    image_id = api.staged_image(b'a' * 10)
    _rejected(api, image_id, {'method': {'name': 'copy-image'},
                              'stores': ['cheap']}, 409,
              'Only images with status active can be targeted for copying')


def test_check_10_web_download_needs_queued(api):
    image_id = api.staged_image(b'a' * 10)
    _rejected(api, image_id, {'method': {'name': 'web-download',
                                         'uri': 'https://example.com/x'}},
              409, "Image needs to be in 'queued' state to use "
                   "'web-download' method")


def test_check_11_glance_direct_needs_staging(api):
    image = api.create()
    _rejected(api, image['id'], {'method': GD}, 409,
              "Image needs to be staged before 'glance-direct' method can "
              "be used")


def test_check_12_formats_before_import(api):
    image_id = api.staged_image(b'a' * 10, container_format=None,
                                disk_format=None)
    _rejected(api, image_id, {'method': GD}, 409,
              "'container_format' needs to be set before import")
    image_id = api.staged_image(b'a' * 10, disk_format=None)
    _rejected(api, image_id, {'method': GD}, 409,
              "'disk_format' needs to be set before import")


def test_check_14_policy(api):
    image = api.active_image(b'a' * 10, headers=ALICE,
                             visibility='public')
    _rejected(api, image['id'], {'method': {'name': 'copy-image'},
                                 'stores': ['cheap']}, 403,
              headers=ALICE)
    image_id = api.staged_image(b'a' * 10, headers=ALICE,
                                visibility='public')
    _rejected(api, image_id, {'method': GD}, 403, headers=BOB)


def test_check_15_active_lock(idle):
    image_id = idle.staged_image(b'a' * 10)
    assert idle.import_(image_id).status_code == 202
    _rejected(idle, image_id, {'method': GD}, 409, 'Image has active task')


@pytest.mark.parametrize('body,header,code,message', [
    ({'all_stores': True, 'stores': ['fast']}, None, 400, 'all_stores'),
    ({'all_stores': True}, 'fast', 400, 'all_stores'),
    ({'stores': ['fast']}, 'cheap', 400, 'X-Image-Meta-Store'),
    ({'stores': 'fast'}, None, 400, 'array'),
    ({'stores': [1]}, None, 400, 'array'),
    ({'stores': []}, None, 400, 'empty'),
    ({'stores': ['fast', 'cheap', 'fast']}, None, 400, 'fast'),
    ({'stores': ['fast', 'nope', 'gone']}, None, 409,
     'Store for identifier nope not found'),
    ({'stores': ['os_glance_staging_store']}, None, 409,
     'Store for identifier os_glance_staging_store not found'),
    ({}, 'nope', 409, 'Store for identifier nope not found'),
])
def test_checks_16_to_21_store_selection(api, body, header, code, message):
    image_id = api.staged_image(b'a' * 10)
    body = dict(body, method=GD)
    _rejected(api, image_id, body, code, message,
              headers={'X-Image-Meta-Store': header} if header else None)


def test_check_23_copy_to_all_stores_already_holding(api):
    image = api.active_image(b'a' * 10, body={'method': GD,
                                              'all_stores': True})
    tasks_before = len(api.tasks(image['id']))
    resp = api.import_(image['id'], {'method': {'name': 'copy-image'},
                                     'all_stores': True})
    assert resp.status_code == 202
    assert len(api.tasks(image['id'])) == tasks_before
    assert c.PROP_IMPORT_TASK not in api.show(image['id'])


def test_check_24_copy_to_a_store_holding_the_image(api):
    image = api.active_image(b'a' * 10)
    _rejected(api, image['id'], {'method': {'name': 'copy-image'},
                                 'stores': ['cheap', 'fast']}, 400,
              "Image is already present at store 'fast'")


def test_check_26_web_download_filter(api):
    image = api.create()
    _rejected(api, image['id'], {'method': {'name': 'web-download',
                                            'uri': 'http://127.0.0.1/x'}},
              400, 'URI for web-download does not pass filtering: '
                   'http://127.0.0.1/x')
    _rejected(api, image['id'], {'method': {'name': 'web-download'}},
              400, 'URI for web-download does not pass filtering')


def test_check_28_accepted_with_lock_and_empty_body(idle):
    image_id = idle.staged_image(b'a' * 10)
    resp = idle.import_(image_id, {'method': GD, 'stores': ['cheap'],
                                   'unknown_member': 1})
    assert resp.status_code == 202
    assert resp.get_data() == b''
    tasks = idle.tasks(image_id)
    assert len(tasks) == 1
    assert tasks[0]['status'] == 'pending'
    assert tasks[0]['input']['backend'] == ['cheap']
    assert idle.show(image_id)[c.PROP_IMPORT_TASK] == tasks[0]['id']


def test_x_image_meta_store_selects_the_target(api):
    image_id = api.staged_image(b'h' * 100)
    resp = api.import_(image_id, {'method': GD},
                       headers={'X-Image-Meta-Store': 'backup'})
    assert resp.status_code == 202
    image = api.wait_idle(image_id)
    assert image['stores'] == 'backup'


# ------------------------------------------------ import to active + data

def test_glance_direct_import_to_all_stores_then_download(api, env):
    data = os.urandom(3 * 1024 * 1024 + 11)
    image = api.active_image(data, body={'method': GD, 'all_stores': True,
                                         'all_stores_must_succeed': False})
    assert image['checksum'] == hashlib.md5(data).hexdigest()
    assert image['os_hash_value'] == hashlib.sha512(data).hexdigest()
    assert sorted(image['stores'].split(',')) == ['backup', 'cheap', 'fast']
    assert image[c.PROP_FAILED_IMPORT] == ''
    tasks = api.tasks(image['id'])
    assert [t['status'] for t in tasks] == ['success']
    assert tasks[0]['result']['stores'] == {
        s: {'status': 'active', 'size': len(data)}
        for s in ('fast', 'cheap', 'backup')}
    resp = api.http.get('/v2/images/%s/file' % image['id'])
    assert resp.status_code == 200
    assert resp.mimetype == 'application/octet-stream'
    assert resp.headers['Content-Length'] == str(len(data))
    assert resp.headers['Content-MD5'] == image['checksum']
    assert resp.get_data() == data
    assert env.staging_files() == []


RANGES = [('bytes=0-0', 0, 1), ('bytes=10-19', 10, 20),
          ('bytes=4000-', 4000, 4096), ('bytes=-5', 4091, 4096),
          ('bytes=4090-99999', 4090, 4096)]
BAD_RANGES = ['bytes=5000-6000', 'bytes=0-1,5-6', 'lines=1-2', 'bytes=x-y']


def test_download_ranges(api):
    data = os.urandom(4096)
    image = api.active_image(data)
    url = '/v2/images/%s/file' % image['id']
    for header, start, stop in RANGES:
        resp = api.http.get(url, headers={'Range': header})
        assert resp.status_code == 206, header
        assert resp.get_data() == data[start:stop], header
        assert resp.headers['Content-Range'] == \
            'bytes %d-%d/4096' % (start, stop - 1)
        assert resp.headers['Content-Length'] == str(stop - start)
        assert 'Content-MD5' not in resp.headers
    for header in BAD_RANGES:
        resp = api.http.get(url, headers={'Range': header})
        assert resp.status_code == 416, header
        assert resp.headers['Content-Range'] == 'bytes */4096'


def test_download_without_data_is_204(api):
    image = api.create()
    resp = api.http.get('/v2/images/%s/file' % image['id'])
    assert resp.status_code == 204
    image_id = api.staged_image(b'staged')
    assert api.http.get('/v2/images/%s/file' % image_id).status_code == 204


def test_download_reads_the_next_location_when_one_is_gone(api, env):
    data = os.urandom(2048)
    image = api.active_image(data, body={'method': GD,
                                         'stores': ['fast', 'cheap']})
    os.unlink(env.store_dir('fast') / image['id'])
    resp = api.http.get('/v2/images/%s/file' % image['id'])
    assert resp.status_code == 200
    assert resp.get_data() == data
    os.unlink(env.store_dir('cheap') / image['id'])
    resp = api.http.get('/v2/images/%s/file' % image['id'])
    assert resp.status_code == 404
    assert 'could not be read from any store' in _text(resp)


def test_download_of_invisible_image_is_404(api):
    image = api.active_image(b'p' * 10, headers=ALICE, visibility='private')
    assert api.http.get('/v2/images/%s/file' % image['id'],
                        headers=BOB).status_code == 404


def test_copy_image_by_admin_adds_a_store(api):
    data = b'c' * 5000
    image = api.active_image(data)
    resp = api.import_(image['id'], {'method': {'name': 'copy-image'},
                                     'stores': ['backup']})
    assert resp.status_code == 202, _text(resp)
    image = api.wait_idle(image['id'])
    assert image['stores'] == 'fast,backup'
    assert image['status'] == 'active'


# ---------------------------------------------------------------- tasks

def test_tasks_of_an_image_oldest_first_and_per_project(api):
    image_id = api.staged_image(b't' * 10, headers=ALICE,
                                visibility='public')
    resp = api.import_(image_id, {'method': GD, 'stores': ['nope']},
                       headers=ALICE)
    assert resp.status_code == 409
    assert api.import_(image_id, headers=ALICE).status_code == 202
    api.wait_idle(image_id, headers=ALICE)
    mine = api.tasks(image_id, headers=ALICE)
    assert [t['status'] for t in mine] == ['success']
    assert mine[0]['owner'] == 'proj-a'
    jsonschema.validate({'tasks': mine, 'schema': '/v2/schemas/tasks'},
                        schemas.tasks())
    assert mine[0]['user_id'] == 'alice'
    assert api.tasks(image_id, headers=BOB) == []
    assert len(api.tasks(image_id)) == 1      # admin
    assert api.http.get('/v2/images/%s/tasks'
                        % '00000000-0000-0000-0000-000000000000'
                        ).status_code == 404


# ---------------------------------------------------------------- abort

def test_abort_needs_admin_and_an_import(idle):
    image_id = idle.staged_image(b'a' * 10, headers=ALICE,
                                 visibility='public')
    resp = idle.http.delete('/v2/images/%s/import' % image_id)
    assert resp.status_code == 409
    assert 'No import in progress for image %s' % image_id in _text(resp)
    assert idle.import_(image_id, headers=ALICE).status_code == 202
    resp = idle.http.delete('/v2/images/%s/import' % image_id, headers=ALICE)
    assert resp.status_code == 403
    resp = idle.http.delete('/v2/images/%s/import'
                            % '00000000-0000-0000-0000-000000000000')
    assert resp.status_code == 404
    resp = idle.http.delete('/v2/images/%s/import' % image_id)
    assert resp.status_code == 202
    task = db.task_list(image_id=image_id)[0]
    assert task['stop_reason'] == c.MSG_ABORTED


# ------------------------------------------------------------ discovery

def test_import_info(api):
    resp = api.http.get('/v2/info/import')
    assert resp.get_json() == {'import-methods': {
        'description': 'Import methods available.', 'type': 'array',
        'value': ['glance-direct', 'web-download', 'copy-image']}}
    CONF.set_override('enabled_import_methods', [])
    assert api.http.get('/v2/info/import').get_json()[
        'import-methods']['value'] == []


def test_stores_info(api):
    CONF.set_override('store_description', 'Fast disks', group='fast')
    resp = api.http.get('/v2/info/stores', headers=BOB)
    assert resp.status_code == 200
    assert resp.get_json() == {'stores': [
        {'id': 'fast', 'description': 'Fast disks', 'default': 'true'},
        {'id': 'cheap'}, {'id': 'backup'}]}


def test_stores_detail_is_admin_only(api, env):
    assert api.http.get('/v2/info/stores/detail',
                        headers=BOB).status_code == 403
    resp = api.http.get('/v2/info/stores/detail')
    assert resp.status_code == 200
    stores = resp.get_json()['stores']
    assert [s['id'] for s in stores] == ['fast', 'cheap', 'backup']
    assert stores[0]['type'] == 'file'
    assert stores[0]['weight'] == 0
    assert stores[0]['default'] == 'true'
    assert stores[1]['properties']['data_dir'] == str(env.store_dir('cheap'))
    assert 'default' not in stores[1]


def test_schemas(api):
    image = api.http.get('/v2/schemas/image').get_json()
    assert image['name'] == 'image'
    assert image['additionalProperties'] == {'type': 'string'}
    for prop in ('stores', 'os_hash_value', c.PROP_IMPORT_TASK,
                 c.PROP_IMPORTING_TO, c.PROP_FAILED_IMPORT, 'locations'):
        assert prop in image['properties']
    assert image['properties']['stores']['readOnly'] is True
    images = api.http.get('/v2/schemas/images').get_json()
    assert images['properties']['images']['items'] == image
    assert api.http.get('/v2/schemas/task').get_json()['name'] == 'task'
    assert api.http.get('/v2/schemas/tasks').get_json()['name'] == 'tasks'
