"""The WSGI application: Flask routes inside request-id and (optionally)
keystonemiddleware auth_token wrappers."""

import flask
from oslo_log import log as logging
from werkzeug import exceptions as wz_exc

from importflow.api import errors
from importflow.api import image_data
from importflow.api import images
from importflow.api import imports
from importflow.api import info
from importflow.api import middleware
from importflow.api import versions
from importflow.common import exceptions
from importflow.conf import CONF

LOG = logging.getLogger(__name__)

BLUEPRINTS = (versions.bp, images.bp, image_data.bp, imports.bp, info.bp)


def _importflow_error(exc):
    if exc.code >= 500:
        LOG.error('%s %s failed: %s', flask.request.method,
                  flask.request.path, exc)
    return errors.response(exc.code, exc.message,
                           getattr(exc, 'headers', None))


def _http_error(exc):
    headers = {}
    if isinstance(exc, wz_exc.MethodNotAllowed) and exc.valid_methods:
        headers['Allow'] = ', '.join(exc.valid_methods)
    return errors.response(exc.code, exc.description, headers)


def _unexpected_error(exc):
    LOG.exception('%s %s failed', flask.request.method, flask.request.path)
    return errors.response(500, 'Internal Server Error: %s'
                           % type(exc).__name__)


def create_flask_app():
    app = flask.Flask('importflow.api', static_folder=None)
    app.url_map.strict_slashes = False
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.register_error_handler(exceptions.ImportflowError, _importflow_error)
    app.register_error_handler(wz_exc.HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    return app


def create_app():
    """The Flask app, its ``wsgi_app`` wrapped in the middleware.

    The returned object is the Flask app itself (so that its test client
    works); calling it runs RequestId -> [auth_token ->] Flask.
    """
    app = create_flask_app()
    inner = app.wsgi_app
    if CONF.api.auth_strategy == 'keystone':
        inner = middleware.keystone_auth(inner, CONF)
    app.wsgi_app = middleware.RequestId(inner)
    return app
