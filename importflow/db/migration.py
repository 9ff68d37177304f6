"""`importflow db sync`: alembic migrations plus taskflow's own tables."""

import contextlib
import os

from alembic import command
from alembic import config as alembic_config
from alembic import migration
from alembic import script

from importflow.conf import CONF
from importflow.db import api
from importflow.db import flow_persistence
from importflow.db import models

_SCRIPT_LOCATION = os.path.join(os.path.dirname(__file__), 'migrations')


def _alembic_config(connection):
    cfg = alembic_config.Config()
    cfg.set_main_option('script_location', _SCRIPT_LOCATION)
    cfg.attributes['connection'] = connection
    return cfg


def _ensure_sqlite_folder():
    url = CONF.database.connection
    if url.startswith('sqlite:///'):
        folder = os.path.dirname(url[len('sqlite:///'):])
        if folder:
            os.makedirs(folder, exist_ok=True)


def sync():
    """Bring the image schema and taskflow persistence up to date."""
    _ensure_sqlite_folder()
    with api.transaction() as conn:
        command.upgrade(_alembic_config(conn), 'head')
    backend = flow_persistence.backend()
    with contextlib.closing(backend.get_connection()) as tf_conn:
        tf_conn.upgrade()
    backend.close()


def is_current():
    """True when the image schema is at the newest revision."""
    with api.get_engine().connect() as conn:
        current = migration.MigrationContext.configure(
            conn, opts={'version_table': models.VERSION_TABLE}
        ).get_current_heads()
    heads = script.ScriptDirectory(_SCRIPT_LOCATION).get_heads()
    return set(current) == set(heads)
