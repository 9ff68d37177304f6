"""The alembic migrations and taskflow's tables on the real servers."""

import sqlalchemy as sa

from importflow.db import models


def _sync_and_inspect(url, tmp_path):
    from tests.functional.conftest import Deployment
    dep = Deployment(tmp_path, url)
    dep.cli('db', 'sync')
    dep.cli('db', 'sync')    # a second run changes nothing
    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        tables = set(inspector.get_table_names())
        with engine.connect() as conn:
            version = conn.execute(sa.text(
                'SELECT version_num FROM %s' % models.VERSION_TABLE)).scalar()
        columns = {t: {c['name'] for c in inspector.get_columns(t)}
                   for t in models.Base.metadata.tables}
    finally:
        engine.dispose()
    return tables, version, columns


def _assert_schema(tables, version, columns):
    assert set(models.Base.metadata.tables) <= tables
    # taskflow persistence shares the database
    assert {'logbooks', 'flowdetails', 'atomdetails'} <= tables
    assert version == '0001'
    for name, table in models.Base.metadata.tables.items():
        assert columns[name] == {c.name for c in table.columns}, name


def test_migrations_on_postgresql(pg_url, tmp_path):
    _assert_schema(*_sync_and_inspect(pg_url, tmp_path))


def test_migrations_on_mariadb(mysql_url, tmp_path):
    _assert_schema(*_sync_and_inspect(mysql_url, tmp_path))
