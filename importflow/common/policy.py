"""Authorization with oslo.policy; defaults are documented in code."""

import threading

from oslo_context import context as oslo_context
from oslo_policy import policy

from importflow.common import exceptions
from importflow.common import policies
from importflow.conf import CONF

_LOCK = threading.Lock()
_ENFORCER = {}


def _enforcer():
    with _LOCK:
        if 'e' not in _ENFORCER:
            enforcer = policy.Enforcer(CONF)
            enforcer.register_defaults(policies.list_rules())
            _ENFORCER['e'] = enforcer
        return _ENFORCER['e']


def allowed(context, rule, target=None):
    return _enforcer().enforce(rule, target or {}, context.to_policy_values())


def authorize(context, rule, target=None, message=None):
    if not allowed(context, rule, target):
        raise exceptions.Forbidden(message or
                                   'You are not authorized to %s' % rule)


def image_target(image):
    return {'owner': image['owner'], 'visibility': image['visibility'],
            'project_id': image['owner']}


def local_context(request_id=None):
    """The identity of requests that carry none (CLI, trusted mode)."""
    ident = CONF.trusted_auth
    return oslo_context.RequestContext(
        project_id=ident.default_project_id, user_id=ident.default_user_id,
        roles=list(ident.default_roles),
        is_admin='admin' in ident.default_roles, request_id=request_id)
