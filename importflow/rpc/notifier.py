"""Notifications (import-semantics section 15), sent only when a driver is
configured in [oslo_messaging_notifications]."""

import threading

import oslo_messaging as messaging
from oslo_context import context as oslo_context
from oslo_log import log as logging

from importflow.common import constants as c
from importflow.common import utils
from importflow.conf import CONF
from importflow import rpc

LOG = logging.getLogger(__name__)

_LOCK = threading.Lock()
_NOTIFIER = {}


def _notifier():
    with _LOCK:
        if 'n' not in _NOTIFIER:
            if not CONF.oslo_messaging_notifications.driver:
                _NOTIFIER['n'] = None
            else:
                _NOTIFIER['n'] = messaging.Notifier(
                    rpc.get_notification_transport(),
                    publisher_id='importflow.' + utils.default_worker_id())
        return _NOTIFIER['n']


def enabled():
    """Whether events are sent: callers skip reading what only an event
    would carry."""
    try:
        return _notifier() is not None
    except Exception as exc:
        LOG.warning('Notifications disabled: %s', exc)
        return False


def _context(request_id):
    # A plain dict context is dropped by the notifier (stack-notes.md).
    return oslo_context.RequestContext(request_id=request_id)


def _emit(event_type, payload, request_id=None, error=False):
    if not enabled():
        return
    notifier = _notifier()
    send = notifier.error if error else notifier.info
    try:
        send(_context(request_id), event_type, payload)
    except Exception as exc:
        # A notification must never fail an import.
        LOG.warning('Notification %s not sent: %s', event_type, exc)


def task_payload(task):
    return {'id': task['id'], 'type': task['type'], 'status': task['status'],
            'owner': task['owner'], 'image_id': task['image_id'],
            'input': task['input'], 'result': task['result'],
            'message': task['message'],
            'created_at': utils.isotime(task['created_at']),
            'updated_at': utils.isotime(task['updated_at'])}


def task_event(event_type, task):
    _emit(event_type, task_payload(task), task.get('request_id'))


def image_payload(image):
    payload = {k: v for k, v in image.items()
               if k not in ('properties', 'locations', 'tags', 'deleted')}
    for key in ('created_at', 'updated_at', 'deleted_at'):
        payload[key] = utils.isotime(payload.get(key))
    props = image['properties']
    payload['properties'] = {k: v for k, v in props.items()
                             if k not in c.HIDDEN_PROPERTIES}
    for name in (c.PROP_IMPORTING_TO, c.PROP_FAILED_IMPORT):
        payload[name] = utils.split_list(props.get(name))
    return payload


def image_event(event_type, image, backend=None, error=None):
    payload = image_payload(image)
    if backend is not None:
        payload['backend'] = backend
    if error is not None:
        payload['error'] = error
    _emit(event_type, payload, error=error is not None)
