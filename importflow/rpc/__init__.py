"""oslo.messaging plumbing: one transport per process, created lazily."""

import threading

import oslo_messaging as messaging

from importflow.conf import CONF

_LOCK = threading.Lock()
_TRANSPORTS = {}


def get_transport():
    with _LOCK:
        if 'rpc' not in _TRANSPORTS:
            _TRANSPORTS['rpc'] = messaging.get_rpc_transport(CONF)
        return _TRANSPORTS['rpc']


def get_notification_transport():
    with _LOCK:
        if 'notify' not in _TRANSPORTS:
            _TRANSPORTS['notify'] = messaging.get_notification_transport(CONF)
        return _TRANSPORTS['notify']


def is_in_process():
    """True with the embedded fake:// transport: the worker must run in the
    same process as whoever dispatches."""
    return (CONF.transport_url or '').startswith('fake:')


def cleanup():
    with _LOCK:
        for transport in _TRANSPORTS.values():
            transport.cleanup()
        _TRANSPORTS.clear()
