"""Who the caller is: trusted headers, the default identity, keystone."""

from importflow.api import app as api_app
from importflow.conf import CONF
from tests.unit.api.conftest import ALICE


def test_token_only_request_runs_as_the_default_identity(api):
    resp = api.http.post('/v2/images', json={'name': 'n'},
                         headers={'X-Auth-Token': 'anything'})
    assert resp.status_code == 201
    assert resp.get_json()['owner'] == 'admin'
    # The default identity is an administrator: it sees store details.
    assert api.http.get('/v2/info/stores/detail', headers={
        'X-Auth-Token': 'anything'}).status_code == 200


def test_default_identity_is_configurable(api):
    CONF.set_override('default_project_id', 'dev', group='trusted_auth')
    CONF.set_override('default_roles', ['member'], group='trusted_auth')
    image = api.create()
    assert image['owner'] == 'dev'
    assert api.http.get('/v2/info/stores/detail').status_code == 403


def test_trusted_headers_name_the_caller(api):
    image = api.create(headers=ALICE)
    assert image['owner'] == 'proj-a'
    resp = api.http.get('/v2/info/stores/detail', headers=ALICE)
    assert resp.status_code == 403
    admin = dict(ALICE, **{'X-Roles': 'member, admin'})
    assert api.http.get('/v2/info/stores/detail',
                        headers=admin).status_code == 200
    legacy = {'X-Tenant-Id': 'proj-t', 'X-Roles': 'member'}
    assert api.create(headers=legacy)['owner'] == 'proj-t'


def test_keystone_strategy_wraps_auth_token(env):
    from keystonemiddleware import auth_token
    CONF.set_override('auth_strategy', 'keystone', group='api')
    CONF.set_override('www_authenticate_uri', 'http://keystone.invalid:5000',
                      group='keystone_authtoken')
    app = api_app.create_app()
    assert isinstance(app.wsgi_app.app.protected, auth_token.AuthProtocol)
    client = app.test_client()
    resp = client.get('/v2/images')
    assert resp.status_code == 401
    assert resp.headers['X-Openstack-Request-Id'].startswith('req-')
    assert 'keystone.invalid' in resp.headers['WWW-Authenticate']
    assert client.get('/v2/images/x/file').status_code == 401
    assert client.post('/versions').status_code == 401
    # Version discovery needs no token.
    assert client.get('/versions').status_code == 200
    assert client.get('/').status_code == 300


def test_keystone_strategy_refuses_unconfirmed_identities(env):
    CONF.set_override('auth_strategy', 'keystone', group='api')
    flask_app = api_app.create_flask_app()     # without auth_token
    client = flask_app.test_client()
    resp = client.get('/v2/images', headers=ALICE)
    assert resp.status_code == 401
    confirmed = dict(ALICE, **{'X-Identity-Status': 'Confirmed'})
    assert client.get('/v2/images', headers=confirmed).status_code == 200
