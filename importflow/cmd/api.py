"""`importflow-api`: the Image API v2 import subset, served by gunicorn."""

import sys

from oslo_log import log as logging

from importflow import conf as importflow_conf
from importflow.common import exceptions
from importflow.conf import CONF
from importflow import stores

LOG = logging.getLogger(__name__)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        importflow_conf.parse_args(argv)
    except exceptions.ConfigError as exc:
        print('importflow-api cannot start: %s' % exc, file=sys.stderr)
        return 2
    logging.setup(CONF, 'importflow')
    try:
        stores.configure()
    except exceptions.ConfigError as exc:
        LOG.error('importflow-api cannot start: %s', exc)
        return 2
    from importflow.api import server
    LOG.info('importflow-api listening on %s (%d process(es) x %d '
             'threads, auth %s)', server.gunicorn_options()['bind'],
             CONF.api.workers, CONF.api.threads, CONF.api.auth_strategy)
    server.Server().run()
    return 0


if __name__ == '__main__':
    sys.exit(main())
