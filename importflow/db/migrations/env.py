"""Alembic environment: runs on the connection importflow hands over."""

from alembic import context

from importflow.db import models

config = context.config
connection = config.attributes['connection']
# taskflow's own migrations use the default alembic_version table in the
# same database.
context.configure(connection=connection,
                  target_metadata=models.Base.metadata,
                  version_table=models.VERSION_TABLE,
                  render_as_batch=connection.dialect.name == 'sqlite')
with context.begin_transaction():
    context.run_migrations()
