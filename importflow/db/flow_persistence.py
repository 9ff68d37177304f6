"""taskflow's SQLAlchemy persistence, in the image database.

taskflow opens a new ``Connection`` for every state it saves, and each one
builds its own ``Table`` objects: every statement is then new to
SQLAlchemy's compiled-statement cache, and building the tables and
compiling took about a third of a small import's CPU time. The backend
here keeps one connection object (it holds no database connection of its
own, only the tables; each operation takes one from the engine's pool).
"""

import threading

from taskflow.persistence.backends import impl_sqlalchemy

from importflow.conf import CONF


def conf():
    """taskflow's backend configuration for the image database."""
    url = CONF.database.connection
    options = {'connection': url, 'checkin_yield': False}
    if not url.startswith('sqlite'):
        options['engine_args'] = {'pool_pre_ping': True}
        options['max_retries'] = 3
    return options


class _SharedConnectionBackend(impl_sqlalchemy.SQLAlchemyBackend):

    def __init__(self, options):
        super().__init__(options)
        self._lock = threading.Lock()
        self._connection = None

    def get_connection(self):
        with self._lock:
            if self._connection is None:
                self._connection = super().get_connection()
            return self._connection

    def close(self):
        with self._lock:
            self._connection = None
        super().close()


def backend():
    """A taskflow persistence backend; ``close()`` it when done."""
    return _SharedConnectionBackend(conf())
