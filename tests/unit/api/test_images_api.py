"""Create, show, list, update (JSON-patch) and delete over HTTP."""

import datetime
import time

import jsonschema
import pytest

from importflow.api import schemas
from importflow.common import constants as c
from importflow.db import api as db
from tests.unit.api.conftest import ALICE
from tests.unit.api.conftest import BOB
from tests.unit.api.conftest import message

PATCH21 = 'application/openstack-images-v2.1-json-patch'
PATCH20 = 'application/openstack-images-v2.0-json-patch'


def _patch(api, image_id, ops, media=PATCH21, headers=None):
    hdrs = {'Content-Type': media}
    hdrs.update(headers or {})
    return api.http.patch('/v2/images/%s' % image_id, json=ops,
                          headers=hdrs)


_text = message


# ------------------------------------------------------------- versions

def test_versions_document_lists_v2_current(api):
    resp = api.http.get('/versions')
    assert resp.status_code == 200
    versions = resp.get_json()['versions']
    current = [v for v in versions if v['status'] == 'CURRENT']
    assert [v['id'] for v in current] == ['v2.16']
    assert {'v2.6', 'v2.8', 'v2.12'} <= {v['id'] for v in versions}
    assert current[0]['links'][0]['href'] == 'http://localhost/v2/'
    root = api.http.get('/')
    assert root.status_code == 300
    assert root.get_json() == resp.get_json()


def test_every_response_has_a_request_id(api):
    ids = set()
    for path in ('/versions', '/v2/images', '/v2/images/nope',
                 '/v2/no-such-route'):
        resp = api.http.get(path)
        rid = resp.headers['X-Openstack-Request-Id']
        assert rid.startswith('req-') and len(rid) == 40
        ids.add(rid)
    assert len(ids) == 4


def test_incoming_request_id_is_kept_and_recorded_in_the_task(api, env):
    rid = 'req-12345678-1234-1234-1234-123456789abc'
    resp = api.http.get('/versions', headers={'X-Openstack-Request-Id': rid})
    assert resp.headers['X-Openstack-Request-Id'] == rid
    bogus = api.http.get('/versions',
                         headers={'X-Openstack-Request-Id': 'evil id'})
    assert bogus.headers['X-Openstack-Request-Id'].startswith('req-')
    image_id = api.staged_image(b'x' * 100)
    resp = api.import_(image_id, headers={'X-Openstack-Request-Id': rid})
    assert resp.status_code == 202
    assert api.tasks(image_id)[0]['request_id'] == rid


# --------------------------------------------------------------- create

def test_create_answers_201_with_discovery_headers(api):
    resp = api.http.post('/v2/images', json={
        'name': 'cirros', 'disk_format': 'qcow2', 'container_format': 'bare',
        'os_distro': 'cirros', 'tags': ['a', 'b'], 'min_ram': 64})
    assert resp.status_code == 201, _text(resp)
    assert resp.headers['OpenStack-image-import-methods'] == \
        'glance-direct,web-download,copy-image'
    assert resp.headers['OpenStack-image-store-ids'] == 'fast,cheap,backup'
    image = resp.get_json()
    assert resp.headers['Location'].endswith('/v2/images/%s' % image['id'])
    assert image['status'] == 'queued'
    assert image['os_distro'] == 'cirros'
    assert image['tags'] == ['a', 'b']
    assert image['min_ram'] == 64
    assert image['owner'] == 'admin'
    assert 'stores' not in image
    jsonschema.validate(image, schemas.image())


@pytest.mark.parametrize('body,code,message', [
    ({'status': 'active'}, 403, "Attribute 'status' is read-only."),
    ({'os_glance_import_task': 'x'}, 403,
     "Attribute 'os_glance_import_task' is reserved."),
    ({'disk_format': 'floppy'}, 400, "Invalid value 'floppy' for "
                                     "disk_format"),
    ({'min_ram': 'lots'}, 400, "Invalid value \"lots\" for 'min_ram'"),
    ({'protected': 'yes'}, 400, "for 'protected': must be a boolean"),
    ({'name': 'x' * 256}, 400, 'longer than 255'),
    ({'tags': 'a'}, 400, "for 'tags'"),
    ({'hw_disk_bus': 7}, 400, "Property 'hw_disk_bus' must be a string"),
    ({'visibility': 'everyone'}, 400, "for 'visibility'"),
    ({'id': 'not-a-uuid'}, 400, 'is not a UUID'),
    ([1, 2], 400, 'must be an object'),
])
def test_create_rejects(api, body, code, message):
    resp = api.http.post('/v2/images', json=body)
    assert resp.status_code == code
    assert message in _text(resp)
    assert db.image_list() == []


def test_create_with_malformed_json_is_400(api):
    resp = api.http.post('/v2/images', data=b'{"name": ',
                         headers={'Content-Type': 'application/json'})
    assert resp.status_code == 400
    assert 'Malformed JSON' in _text(resp)


def test_create_with_an_oversized_json_body_is_413(api):
    resp = api.http.post('/v2/images', json={'name': 'x',
                                             'p': 'y' * 70000})
    assert resp.status_code == 413


@pytest.mark.parametrize('accept', [None, '*/*', 'application/json', ''])
def test_error_body_is_json_by_default(api, accept):
    headers = {} if accept is None else {'Accept': accept}
    js = api.http.get('/v2/images/00000000-0000-0000-0000-000000000000',
                      headers=headers)
    assert js.status_code == 404
    assert js.mimetype == 'application/json'
    assert js.get_json() == {'error': {
        'code': 404, 'title': 'Not Found',
        'message': 'No image found with ID '
                   '00000000-0000-0000-0000-000000000000'}}


def test_error_body_is_plain_text_when_preferred(api):
    plain = api.http.get('/v2/images/00000000-0000-0000-0000-000000000000',
                         headers={'Accept': 'text/plain'})
    assert plain.status_code == 404
    assert plain.mimetype == 'text/plain'
    assert _text(plain) == (
        '404 Not Found\n\nNo image found with ID '
        '00000000-0000-0000-0000-000000000000\n\n')


def test_unknown_route_and_method(api):
    assert api.http.get('/v3/images').status_code == 404
    resp = api.http.put('/v2/images')
    assert resp.status_code == 405
    assert 'GET' in resp.headers['Allow']


# ----------------------------------------------------------- show/delete

def test_show_hides_other_projects_private_images(api):
    mine = api.create(headers=ALICE, visibility='private')
    public = api.create(headers=ALICE, visibility='public')
    assert api.http.get('/v2/images/%s' % mine['id'],
                        headers=BOB).status_code == 404
    assert api.http.get('/v2/images/%s' % public['id'],
                        headers=BOB).status_code == 200
    assert api.http.get('/v2/images/%s' % mine['id']).status_code == 200


def test_delete(api, env):
    image = api.active_image(b'z' * 5000, body={
        'method': {'name': 'glance-direct'}, 'all_stores': True})
    assert sorted(image['stores'].split(',')) == ['backup', 'cheap', 'fast']
    resp = api.http.delete('/v2/images/%s' % image['id'], headers=BOB)
    assert resp.status_code == 404
    resp = api.http.delete('/v2/images/%s' % image['id'])
    assert resp.status_code == 204
    assert resp.get_data() == b''
    assert api.http.get('/v2/images/%s' % image['id']).status_code == 404
    for store_id in ('fast', 'cheap', 'backup'):
        assert env.store_files(store_id) == []


def test_delete_protected_is_403(api):
    image = api.create(protected=True)
    resp = api.http.delete('/v2/images/%s' % image['id'])
    assert resp.status_code == 403
    assert 'protected' in _text(resp)


def test_delete_during_import_leaves_nothing(api, env):
    image_id = api.staged_image(b'q' * (3 * 1024 * 1024))
    assert api.import_(image_id, {'method': {'name': 'glance-direct'},
                                  'all_stores': True}).status_code == 202
    assert api.http.delete('/v2/images/%s' % image_id).status_code == 204
    assert api.http.get('/v2/images/%s' % image_id).status_code == 404
    # The image is gone, and with it the listing of its tasks.
    assert api.http.get('/v2/images/%s/tasks' % image_id).status_code == 404
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = db.task_list(image_id=image_id)
        if rows and rows[0]['status'] in c.TASK_TERMINAL:
            break
        time.sleep(0.1)
    assert rows[0]['status'] == c.TASK_FAILURE
    assert rows[0]['message'] == c.MSG_IMAGE_DELETED
    assert env.staging_files() == []
    for store_id in ('fast', 'cheap', 'backup'):
        assert env.store_files(store_id) == []


# ----------------------------------------------------------------- list

def _ids(resp):
    assert resp.status_code == 200, _text(resp)
    return [i['id'] for i in resp.get_json()['images']]


def _set_created(image_id, when):
    with db.transaction() as conn:
        conn.execute(db.images.update().where(db.images.c.id == image_id)
                     .values(created_at=when, updated_at=when))


@pytest.fixture
def catalogue(api):
    """Five images with known names, sizes, times, tags and owners."""
    base = datetime.datetime(2021, 1, 1)
    made = {}
    specs = [('alpha', 'private', ALICE, ['red'], False),
             ('bravo', 'public', ALICE, ['red', 'blue'], False),
             ('charlie', 'shared', BOB, ['blue'], False),
             ('delta', 'community', BOB, [], False),
             ('echo', 'private', BOB, [], True)]
    for n, (name, vis, who, tags, hidden) in enumerate(specs):
        image = api.create(headers=who, name=name, visibility=vis, tags=tags,
                           os_hidden=hidden, os_distro='d%d' % (n % 2))
        _set_created(image['id'], base + datetime.timedelta(days=n))
        made[name] = image['id']
    return made


def test_list_default_order_is_newest_first_without_hidden(api, catalogue):
    ids = _ids(api.http.get('/v2/images'))
    assert ids == [catalogue[n] for n in ('delta', 'charlie', 'bravo',
                                          'alpha')]
    jsonschema.validate(api.http.get('/v2/images').get_json(),
                        schemas.images_())


def test_list_visibility_per_project(api, catalogue):
    assert set(_ids(api.http.get('/v2/images', headers=ALICE))) == {
        catalogue['alpha'], catalogue['bravo']}
    assert set(_ids(api.http.get('/v2/images', headers=BOB))) == {
        catalogue['bravo'], catalogue['charlie'], catalogue['delta']}
    assert _ids(api.http.get('/v2/images?visibility=community',
                             headers=ALICE)) == [catalogue['delta']]
    assert set(_ids(api.http.get('/v2/images?visibility=all',
                                 headers=ALICE))) == {
        catalogue['alpha'], catalogue['bravo'], catalogue['delta']}
    assert _ids(api.http.get('/v2/images?visibility=private',
                             headers=ALICE)) == [catalogue['alpha']]
    assert api.http.get('/v2/images?visibility=nope').status_code == 400


@pytest.mark.parametrize('query,names', [
    ('name=bravo', ['bravo']),
    ('name=in:alpha,"charlie"', ['charlie', 'alpha']),
    ('status=queued&visibility=public', ['bravo']),
    ('owner=proj-b', ['delta', 'charlie']),
    ('tag=red', ['bravo', 'alpha']),
    ('tag=red&tag=blue', ['bravo']),
    ('os_hidden=true', ['echo']),
    ('os_hidden=True', ['echo']),
    ('protected=false&name=alpha', ['alpha']),
    ('created_at=gte:2021-01-02T00:00:00Z&created_at=lt:2021-01-04T00:00:00Z',
     ['charlie', 'bravo']),
    ('created_at=lte:2021-01-01T00:00:00%2B00:00', ['alpha']),
    ('updated_at=gt:2021-01-03T12:00:00Z', ['delta']),
    ('os_distro=d1', ['delta', 'bravo']),
    ('sort_key=name&sort_dir=asc', ['alpha', 'bravo', 'charlie', 'delta']),
    ('sort=name:desc', ['delta', 'charlie', 'bravo', 'alpha']),
    ('sort=visibility:asc,name', ['delta', 'alpha', 'bravo', 'charlie']),
    ('sort_key=visibility&sort_key=name&sort_dir=desc&sort_dir=asc',
     ['charlie', 'bravo', 'alpha', 'delta']),
])
def test_list_filters_and_sorting(api, catalogue, query, names):
    assert _ids(api.http.get('/v2/images?' + query)) == \
        [catalogue[n] for n in names]


@pytest.mark.parametrize('query,message', [
    ('limit=x', "'limit'"),
    ('limit=-1', "'limit'"),
    ('size_min=big', "'size_min'"),
    ('protected=yes', "Valid values are 'true' or 'false'"),
    ('os_hidden=maybe', "Valid values are 'true' or 'false'"),
    ('protected=True', "Valid values are 'true' or 'false'"),
    ('created_at=gte:yesterday', "Invalid time 'yesterday'"),
    ('sort_key=colour', 'Invalid sort key: colour'),
    ('sort_dir=up', 'Invalid sort direction: up'),
    ('sort=name&sort_key=id', "cannot be combined"),
    ('sort_key=name&sort_key=id&sort_dir=asc&sort_dir=desc&sort_dir=asc',
     'Number of sort dirs'),
    ('marker=00000000-0000-0000-0000-000000000000', 'Invalid marker'),
])
def test_list_rejects(api, catalogue, query, message):
    resp = api.http.get('/v2/images?' + query)
    assert resp.status_code == 400
    assert message in _text(resp)


def test_list_size_filters(api):
    small = api.active_image(b's' * 100)
    big = api.active_image(b'b' * 5000)
    api.create(name='empty')
    assert _ids(api.http.get('/v2/images?size_min=101')) == [big['id']]
    assert _ids(api.http.get('/v2/images?size_max=100')) == [small['id']]
    assert _ids(api.http.get('/v2/images?size_min=100&size_max=5000'
                             '&sort_key=size&sort_dir=asc')) == \
        [small['id'], big['id']]


def test_list_pages_with_limit_marker_and_next(api, catalogue):
    seen, url = [], '/v2/images?limit=2&sort_key=name&sort_dir=asc'
    pages = 0
    while url:
        resp = api.http.get(url)
        body = resp.get_json()
        seen += [i['name'] for i in body['images']]
        url = body.get('next')
        pages += 1
        assert pages < 5
    assert seen == ['alpha', 'bravo', 'charlie', 'delta']
    assert pages == 2
    body = api.http.get('/v2/images?limit=2&sort_key=name').get_json()
    assert 'sort_key=name' in body['next'] and 'limit=2' in body['next']


def test_pages_sorted_by_a_nullable_key_cover_every_image(api):
    for name in ('b', None, 'a', None, 'c'):
        api.create(name=name)
    for direction in ('asc', 'desc'):
        full = _ids(api.http.get('/v2/images?sort_key=name&sort_dir=%s'
                                 % direction))
        paged, marker = [], None
        while True:
            url = '/v2/images?limit=1&sort_key=name&sort_dir=%s' % direction
            if marker:
                url += '&marker=' + marker
            body = api.http.get(url).get_json()
            paged += [i['id'] for i in body['images']]
            if 'next' not in body:
                break
            marker = paged[-1]
        assert paged == full and len(full) == 5


# ---------------------------------------------------------------- patch

def test_patch_v21_add_replace_remove(api):
    image = api.create(name='one', os_distro='x')
    resp = _patch(api, image['id'], [
        {'op': 'replace', 'path': '/name', 'value': 'two'},
        {'op': 'add', 'path': '/hw_disk_bus', 'value': 'scsi'},
        {'op': 'add', 'path': '/os_distro', 'value': 'y'},
        {'op': 'remove', 'path': '/os_distro'},
        {'op': 'replace', 'path': '/tags', 'value': ['t1', 't2']},
        {'op': 'replace', 'path': '/min_disk', 'value': 3},
        {'op': 'replace', 'path': '/disk_format', 'value': 'qcow2'},
    ])
    assert resp.status_code == 200, _text(resp)
    view = resp.get_json()
    assert view['name'] == 'two'
    assert view['hw_disk_bus'] == 'scsi'
    assert 'os_distro' not in view
    assert view['tags'] == ['t1', 't2']
    assert view['min_disk'] == 3
    assert view['disk_format'] == 'qcow2'
    assert api.show(image['id']) == view


def test_patch_v20_media_type(api):
    image = api.create(name='one')
    resp = _patch(api, image['id'], [{'replace': '/name', 'value': 'two'},
                                     {'add': '/a', 'value': 'b'}],
                  media=PATCH20)
    assert resp.status_code == 200, _text(resp)
    assert resp.get_json()['a'] == 'b'
    resp = _patch(api, image['id'], [{'add': '/a', 'value': 'c'}],
                  media=PATCH20)
    assert resp.status_code == 409
    assert 'Property a already present.' in _text(resp)


@pytest.mark.parametrize('ops,code,message', [
    ([{'op': 'add', 'path': '/os_glance_import_task', 'value': 'x'}], 403,
     "Attribute 'os_glance_import_task' is reserved."),
    ([{'op': 'replace', 'path': '/os_glance_failed_import', 'value': ''}],
     403, "Attribute 'os_glance_failed_import' is reserved."),
    ([{'op': 'remove', 'path': '/os_glance_foo'}], 403,
     "Attribute 'os_glance_foo' is reserved."),
    ([{'op': 'replace', 'path': '/status', 'value': 'active'}], 403,
     "Attribute 'status' is read-only."),
    ([{'op': 'replace', 'path': '/size', 'value': 1}], 403,
     "Attribute 'size' is read-only."),
    ([{'op': 'remove', 'path': '/name'}], 403, 'cannot be removed'),
    ([{'op': 'replace', 'path': '/nope', 'value': 'x'}], 409,
     'Property nope does not exist.'),
    ([{'op': 'remove', 'path': '/nope'}], 409,
     'Property nope does not exist.'),
    ([{'op': 'move', 'path': '/name', 'value': 'x'}], 400,
     "Invalid operation: 'move'"),
    ([{'op': 'replace', 'path': '/name'}], 400, "'value'"),
    ([{'op': 'replace', 'path': 'name', 'value': 'x'}], 400, 'JSON pointer'),
    ([{'op': 'replace', 'path': '/a/b', 'value': 'x'}], 400,
     'Nested paths are not allowed'),
    ([{'op': 'add', 'path': '/prop', 'value': 1}], 400, 'must be a string'),
    ([{'op': 'replace', 'path': '/min_ram', 'value': -1}], 400, 'min_ram'),
    ([{'op': 'replace', 'path': '/visibility', 'value': 'x'}], 400,
     'visibility'),
    ({'op': 'replace'}, 400, 'JSON array'),
])
def test_patch_rejects(api, ops, code, message):
    image = api.create(name='keep')
    resp = _patch(api, image['id'], ops)
    assert resp.status_code == code, _text(resp)
    assert message in _text(resp)
    assert api.show(image['id']) == image


def test_patch_needs_a_json_patch_media_type(api):
    image = api.create()
    resp = api.http.patch('/v2/images/%s' % image['id'],
                          json=[{'op': 'replace', 'path': '/name',
                                 'value': 'x'}])
    assert resp.status_code == 415
    assert PATCH21 in resp.headers['Accept-Patch']


def test_patch_of_formats_only_while_queued(api):
    image = api.active_image(b'f' * 1000)
    resp = _patch(api, image['id'], [{'op': 'replace',
                                      'path': '/disk_format',
                                      'value': 'qcow2'}])
    assert resp.status_code == 403
    resp = _patch(api, image['id'], [{'op': 'replace', 'path': '/name',
                                      'value': 'renamed'}])
    assert resp.status_code == 200
    assert resp.get_json()['status'] == 'active'


def test_patch_by_another_project(api):
    image = api.create(headers=ALICE, visibility='public')
    resp = _patch(api, image['id'], [{'op': 'replace', 'path': '/name',
                                      'value': 'x'}], headers=BOB)
    assert resp.status_code == 403
    hidden = api.create(headers=ALICE, visibility='private')
    resp = _patch(api, hidden['id'], [{'op': 'replace', 'path': '/name',
                                       'value': 'x'}], headers=BOB)
    assert resp.status_code == 404


def test_patch_keeps_import_properties_written_meanwhile(api):
    image = api.create(name='n', custom='1')
    # An import writes its properties between the user's GET and PATCH.
    db.image_save(image['id'], set_props={c.PROP_FAILED_IMPORT: 'cheap'})
    resp = _patch(api, image['id'], [{'op': 'replace', 'path': '/custom',
                                      'value': '2'}])
    assert resp.status_code == 200
    assert resp.get_json()[c.PROP_FAILED_IMPORT] == 'cheap'
    assert resp.get_json()['custom'] == '2'


def test_views_validate_against_the_image_schema(api):
    image = api.active_image(b'v' * 2000, body={
        'method': {'name': 'glance-direct'}, 'stores': ['cheap', 'fast']})
    jsonschema.validate(image, schemas.image())
    assert sorted(image['stores'].split(',')) == ['cheap', 'fast']
