"""The oslo.context RequestContext of each request."""

from oslo_context import context as oslo_context

from importflow.api import middleware
from importflow.common import exceptions
from importflow.common import policy

# Headers that carry an identity in trusted-headers (noauth) mode.
_IDENTITY_ENVIRON = ('HTTP_X_PROJECT_ID', 'HTTP_X_TENANT_ID',
                     'HTTP_X_USER_ID', 'HTTP_X_ROLES', 'HTTP_X_ROLE')


class Unauthorized(exceptions.ImportflowError):
    code = 401


def from_environ(environ, auth_strategy):
    """Build the caller's context.

    keystone: the identity auth_token validated (X-Identity-Status must be
    Confirmed). noauth: the trusted X-Project-Id, X-User-Id and X-Roles
    headers; a request with none of them (for example a client sending only
    X-Auth-Token) runs as the configured default identity.
    """
    request_id = environ.get(middleware.REQUEST_ID_ENVIRON)
    if auth_strategy == 'keystone':
        if environ.get('HTTP_X_IDENTITY_STATUS') != 'Confirmed':
            raise Unauthorized('Authentication required')
        ctx = oslo_context.RequestContext.from_environ(
            environ, request_id=request_id)
    elif any(environ.get(name) for name in _IDENTITY_ENVIRON):
        ctx = oslo_context.RequestContext.from_environ(
            environ, request_id=request_id)
    else:
        ctx = policy.local_context(request_id=request_id)
    ctx.is_admin = policy.allowed(ctx, 'context_is_admin')
    return ctx
