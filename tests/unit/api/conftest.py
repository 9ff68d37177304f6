"""Fixtures: the Flask app on the unit ``env`` (SQLite, three file stores,
fake:// transport) with an in-process import worker."""

import time

import pytest

from importflow.api import app as api_app
from importflow.api import server
from importflow.common import constants as c

ADMIN = {'X-Project-Id': 'admin', 'X-User-Id': 'admin',
         'X-Roles': 'admin,member'}
ALICE = {'X-Project-Id': 'proj-a', 'X-User-Id': 'alice', 'X-Roles': 'member'}
BOB = {'X-Project-Id': 'proj-b', 'X-User-Id': 'bob', 'X-Roles': 'member'}


@pytest.fixture
def app(env):
    flask_app = api_app.create_app()
    flask_app.testing = True
    yield flask_app


@pytest.fixture
def worker(env):
    assert server.EMBEDDED.start()
    yield
    server.EMBEDDED.stop(grace_period=5)


@pytest.fixture
def api(app, worker):
    return Api(app.test_client())


class Api:
    """Test client with JSON and image helpers."""

    def __init__(self, http):
        self.http = http

    def create(self, headers=None, **body):
        body.setdefault('disk_format', 'raw')
        body.setdefault('container_format', 'bare')
        resp = self.http.post('/v2/images', json=body, headers=headers or {})
        assert resp.status_code == 201, resp.get_data(as_text=True)
        return resp.get_json()

    def show(self, image_id, headers=None):
        resp = self.http.get('/v2/images/%s' % image_id,
                             headers=headers or {})
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return resp.get_json()

    def stage(self, image_id, data, headers=None):
        hdrs = {'Content-Type': 'application/octet-stream'}
        hdrs.update(headers or {})
        return self.http.put('/v2/images/%s/stage' % image_id, data=data,
                             headers=hdrs)

    def import_(self, image_id, body=None, headers=None):
        if body is None:
            body = {'method': {'name': c.GLANCE_DIRECT}}
        return self.http.post('/v2/images/%s/import' % image_id, json=body,
                              headers=headers or {})

    def tasks(self, image_id, headers=None):
        resp = self.http.get('/v2/images/%s/tasks' % image_id,
                             headers=headers or {})
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return resp.get_json()['tasks']

    def wait_idle(self, image_id, timeout=60, headers=None):
        """Wait until no import holds the image; returns the image view."""
        deadline = time.monotonic() + timeout
        while True:
            image = self.show(image_id, headers)
            if c.PROP_IMPORT_TASK not in image:
                return image
            if time.monotonic() > deadline:
                raise AssertionError('import still running: %s' % image)
            time.sleep(0.1)

    def staged_image(self, data, headers=None, **body):
        image = self.create(headers=headers, **body)
        resp = self.stage(image['id'], data, headers)
        assert resp.status_code == 204, resp.get_data(as_text=True)
        return image['id']

    def active_image(self, data, headers=None, body=None, **create):
        image_id = self.staged_image(data, headers, **create)
        resp = self.import_(image_id, body, headers)
        assert resp.status_code == 202, resp.get_data(as_text=True)
        image = self.wait_idle(image_id, headers=headers)
        assert image['status'] == 'active', image
        return image


def message(resp):
    """The text a client shows for a response: an error's message, or
    the body."""
    if resp.mimetype == 'application/json':
        body = resp.get_json()
        if isinstance(body, dict) and isinstance(body.get('error'), dict):
            return body['error']['message']
    return resp.get_data(as_text=True)
