"""`importflow-worker`: consume import tasks from the queue."""

import signal
import sys
import threading

from oslo_log import log as logging

from importflow import conf as importflow_conf
from importflow.common import exceptions
from importflow.conf import CONF
from importflow.worker import service

LOG = logging.getLogger(__name__)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    importflow_conf.parse_args(argv)
    logging.setup(CONF, 'importflow')
    try:
        worker = service.ImportWorker()
    except exceptions.ConfigError as exc:
        LOG.error('Worker cannot start: %s', exc)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    worker.start()
    stop.wait()
    worker.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
