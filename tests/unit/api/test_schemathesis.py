"""schemathesis against doc/api/openapi.yaml, in process (issue 5).

Every documented operation is called through schemathesis' WSGI transport
on the Flask app of tests/unit/api/conftest.py (unit ``env``: SQLite,
three file stores, fake:// transport, embedded import worker). Examples
are bounded (``max_examples`` per operation, no deadline) and
deterministic; no response may be a server error (5xx).

Generated path ids are random UUIDs, which would only ever exercise the
404 branch; so most examples instead target a queued, a staged or an
active image made for the example (or, for the active one, once per
operation), and the caller is drawn from the default (admin) identity
and two project members. Nothing is excluded: every operation can run
in process.
"""

import json
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings, strategies as st
from schemathesis.checks import not_a_server_error

from tests.unit.api.conftest import ALICE, BOB

DOC = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'doc', 'api',
                   'openapi.yaml')
PATCH_TYPES = ('application/openstack-images-v2.1-json-patch',
               'application/openstack-images-v2.0-json-patch')

schema = schemathesis.openapi.from_path(DOC)


@schemathesis.serializer(*PATCH_TYPES)
def _json_patch(ctx, value):
    """Glance's JSON-patch media types carry plain JSON."""
    return json.dumps(value).encode()


@pytest.fixture
def images(api):
    """An active image (imported once per operation); each call adds a
    queued and a staged one."""
    active = api.active_image(os.urandom(4096), visibility='public')['id']

    def fresh():
        return {'queued': api.create()['id'],
                'staged': api.staged_image(b'\0' * 1024),
                'active': active}
    return fresh


# Generated examples only: schemathesis refuses ``@schema.given`` together
# with the document's own examples, which test_document_examples runs.
@schema.parametrize()
@schema.given(data=st.data())
@settings(max_examples=20, deadline=None, derandomize=True, database=None,
          phases=[Phase.generate, Phase.shrink],
          suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, data, app, images):
    if 'image_id' in (case.path_parameters or {}):
        target = data.draw(st.sampled_from(
            ['generated', 'queued', 'staged', 'active', 'active']),
            label='target image')
        if target != 'generated':
            case.path_parameters['image_id'] = images()[target]
    identity = data.draw(st.sampled_from([{}, {}, ALICE, BOB]),
                         label='identity')
    response = case.call(app=app, headers=identity)
    case.validate_response(response, checks=[not_a_server_error])


@schema.parametrize()
@settings(deadline=None, database=None, phases=[Phase.explicit],
          suppress_health_check=list(HealthCheck))
def test_document_examples(case, app, env):
    response = case.call(app=app)
    case.validate_response(response, checks=[not_a_server_error])


# Regressions: 5xx answers schemathesis found, now 4xx.

def test_create_with_an_existing_id_is_a_conflict(api):
    image_id = api.create()['id']
    resp = api.http.post('/v2/images', json={'id': image_id})
    assert resp.status_code == 409, resp.get_data(as_text=True)
    assert resp.get_json()['error']['message'] == (
        'Image with identifier %s already exists!' % image_id)
    # A deleted image's id stays taken, as in Glance.
    assert api.http.delete('/v2/images/%s' % image_id).status_code == 204
    resp = api.http.post('/v2/images', json={'id': image_id})
    assert resp.status_code == 409, resp.get_data(as_text=True)


@pytest.mark.parametrize('attr', ['min_disk', 'min_ram'])
def test_min_disk_and_min_ram_beyond_32_bits_are_refused(api, attr):
    resp = api.http.post('/v2/images', json={attr: 2 ** 31})
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert 'must be an integer from 0 to 2147483647' in \
        resp.get_json()['error']['message']
    image_id = api.create(**{attr: 2 ** 31 - 1})['id']
    resp = api.http.patch(
        '/v2/images/%s' % image_id, data=json.dumps(
            [{'op': 'replace', 'path': '/' + attr, 'value': 2 ** 63}]),
        headers={'Content-Type': PATCH_TYPES[0]})
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert api.show(image_id)[attr] == 2 ** 31 - 1
