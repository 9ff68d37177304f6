"""gunicorn serving the app: gthread workers, graceful SIGTERM, and an
in-process import worker in each server process when the transport is
fake:// (embedded mode)."""

import threading

from gunicorn.app import base as gunicorn_base
from oslo_log import log as logging

from importflow.api import app as api_app
from importflow.conf import CONF
from importflow import rpc

LOG = logging.getLogger(__name__)


class EmbeddedWorker:
    """The import worker of a process whose transport is in-process."""

    def __init__(self):
        self._worker = None
        self._lock = threading.Lock()

    def start(self):
        if not rpc.is_in_process():
            return False
        from importflow.worker import service
        with self._lock:
            if self._worker is None:
                self._worker = service.ImportWorker()
                self._worker.start()
        return True

    def stop(self, grace_period=None):
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop(grace_period)


EMBEDDED = EmbeddedWorker()


def _bind():
    host = CONF.api.bind_host
    if ':' in host and not host.startswith('['):
        host = '[%s]' % host
    return '%s:%d' % (host, CONF.api.bind_port)


def gunicorn_options():
    return {
        'bind': _bind(),
        'workers': CONF.api.workers,
        'worker_class': 'gthread',
        'threads': CONF.api.threads,
        'timeout': CONF.api.worker_timeout,
        'graceful_timeout': CONF.api.graceful_timeout,
        'keepalive': CONF.api.keepalive,
        'accesslog': '-' if CONF.api.access_log else None,
        'errorlog': '-',
        'proc_name': 'importflow-api',
        # Build the app (and fail on its errors) once, before forking.
        'preload_app': True,
        'post_worker_init': _post_worker_init,
        'worker_exit': _worker_exit,
    }


def _post_worker_init(worker):
    if EMBEDDED.start():
        LOG.info('Server process %d runs an in-process import worker '
                 '(transport %s)', worker.pid, CONF.transport_url)


def _worker_exit(server, worker):
    # Requests have drained; leave the imports part of the grace period.
    EMBEDDED.stop(grace_period=max(1, CONF.api.graceful_timeout // 2))


class Server(gunicorn_base.BaseApplication):

    def __init__(self, options=None):
        self.options = gunicorn_options()
        self.options.update(options or {})
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            if value is not None:
                self.cfg.set(key, value)

    def load(self):
        return api_app.create_app()
