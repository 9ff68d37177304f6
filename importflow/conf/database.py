"""[database] options."""

from oslo_config import cfg

GROUP = 'database'

database_opts = [
    cfg.StrOpt('connection', secret=True,
               help='SQLAlchemy URL of the image database, also used for '
                    'taskflow persistence (e.g. '
                    'postgresql+psycopg://user@host/db, '
                    'mysql+pymysql://root@host/db). Default: SQLite file '
                    '<state_path>/importflow.sqlite.'),
    cfg.IntOpt('pool_size', default=10, min=1,
               help='Connections kept in the pool per process (not SQLite).'),
    cfg.IntOpt('busy_timeout', default=30, min=1,
               help='Seconds SQLite waits on a locked database.'),
]


def register(conf):
    conf.register_opts(database_opts, group=GROUP)


def list_opts():
    return [(GROUP, database_opts)]
