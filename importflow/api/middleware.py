"""WSGI middleware around the Flask app: request ids and authentication."""

import re
import uuid

REQUEST_ID_HEADER = 'X-Openstack-Request-Id'
REQUEST_ID_ENVIRON = 'openstack.request_id'
_REQUEST_ID = re.compile(r'^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-'
                         r'[0-9a-f]{4}-[0-9a-f]{12}$')


class RequestId:
    """Give every request an id and every response the header.

    An incoming ``X-Openstack-Request-Id`` of the form ``req-<uuid>`` is
    kept; anything else is replaced by a new one. Outermost, so that
    responses of the authentication middleware carry it too.
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        request_id = environ.get('HTTP_X_OPENSTACK_REQUEST_ID', '')
        if not _REQUEST_ID.match(request_id):
            request_id = 'req-%s' % uuid.uuid4()
        environ[REQUEST_ID_ENVIRON] = request_id

        def _start_response(status, headers, exc_info=None):
            headers = [(k, v) for k, v in headers
                       if k.lower() != REQUEST_ID_HEADER.lower()]
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status, headers, exc_info)

        return self.app(environ, _start_response)


# Version discovery needs no token (as in Glance, where version
# negotiation runs before auth_token).
UNAUTHENTICATED_PATHS = ('/', '/versions')


class Unauthenticated:
    """Send the unauthenticated paths around ``protected``."""

    def __init__(self, protected, app):
        self.protected = protected
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get('PATH_INFO', '').rstrip('/') or '/'
        if path in UNAUTHENTICATED_PATHS and \
                environ.get('REQUEST_METHOD') in ('GET', 'HEAD'):
            return self.app(environ, start_response)
        return self.protected(environ, start_response)


def keystone_auth(app, conf):
    """keystonemiddleware auth_token, configured from [keystone_authtoken]
    of ``conf`` (no paste pipeline); version discovery bypasses it."""
    from keystonemiddleware import auth_token
    protected = auth_token.AuthProtocol(app, {'oslo_config_config': conf})
    return Unauthenticated(protected, app)
