"""`importflow-worker`: consume import tasks from the queue.

cotyledon runs ``[worker] workers`` processes, forwards SIGTERM for a
graceful stop and SIGHUP to reload mutable options.
"""

import gc
import sys
import threading

import cotyledon
from oslo_config import cfg
from oslo_log import log as logging

from importflow import conf as importflow_conf
from importflow.common import exceptions
from importflow.conf import CONF
from importflow.db import api as db

LOG = logging.getLogger(__name__)


class WorkerService(cotyledon.Service):
    name = 'importflow-worker'

    def __init__(self, worker_id):
        super().__init__(worker_id)
        from importflow.worker import service
        db.dispose_engine()   # never share connections across fork
        self.worker = service.ImportWorker()

    def run(self):
        self.worker.start()
        # What is loaded by now lives as long as the process: the garbage
        # collector's full passes need not walk it again and again (a few
        # percent of the CPU of a small import).
        gc.freeze()
        threading.Event().wait()   # cotyledon calls terminate() on SIGTERM

    def terminate(self):
        self.worker.stop()

    def reload(self):
        CONF.mutate_config_files()
        LOG.info('Worker %s reloaded mutable options (reaper_interval=%s, '
                 'max_parallel_stores=%s)', self.worker.worker_id,
                 CONF.worker.reaper_interval,
                 CONF.image_import_opts.max_parallel_stores)


# `importflow-worker --workers N` overrides [worker] workers.
workers_cli_opt = cfg.IntOpt('workers', min=1,
                             help='Worker processes (default: [worker] '
                                  'workers).')


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if 'workers' not in CONF:
        CONF.register_cli_opt(workers_cli_opt)
    importflow_conf.parse_args(argv)
    logging.setup(CONF, 'importflow')
    try:
        # Fail before forking: an unloadable plugin or a bad store stops
        # the service with a message naming it.
        from importflow import plugins
        from importflow import stores
        stores.configure()
        plugins.load_all()
    except exceptions.ConfigError as exc:
        LOG.error('Worker cannot start: %s', exc)
        return 2
    manager = cotyledon.ServiceManager(
        graceful_shutdown_timeout=CONF.worker.graceful_shutdown_timeout + 15)
    manager.add(WorkerService, workers=CONF.workers or CONF.worker.workers)
    manager.run()
    return 0


if __name__ == '__main__':
    sys.exit(main())
