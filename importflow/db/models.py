"""Image database schema (the alembic migrations create exactly this)."""

import sqlalchemy as sa
from sqlalchemy import orm


VERSION_TABLE = 'importflow_alembic_version'


class Base(orm.DeclarativeBase):
    pass


def _now():
    from importflow.common import utils
    return utils.utcnow()


class Image(Base):
    __tablename__ = 'images'

    id = sa.Column(sa.String(36), primary_key=True)
    name = sa.Column(sa.String(255))
    status = sa.Column(sa.String(30), nullable=False, index=True)
    visibility = sa.Column(sa.String(20), nullable=False, default='shared')
    owner = sa.Column(sa.String(255), index=True)
    disk_format = sa.Column(sa.String(20))
    container_format = sa.Column(sa.String(20))
    size = sa.Column(sa.BigInteger)
    virtual_size = sa.Column(sa.BigInteger)
    checksum = sa.Column(sa.String(32))
    os_hash_algo = sa.Column(sa.String(64))
    os_hash_value = sa.Column(sa.String(128))
    min_disk = sa.Column(sa.Integer, nullable=False, default=0)
    min_ram = sa.Column(sa.Integer, nullable=False, default=0)
    protected = sa.Column(sa.Boolean, nullable=False, default=False)
    os_hidden = sa.Column(sa.Boolean, nullable=False, default=False)
    created_at = sa.Column(sa.DateTime, nullable=False, default=_now)
    updated_at = sa.Column(sa.DateTime, nullable=False, default=_now)
    deleted_at = sa.Column(sa.DateTime)
    deleted = sa.Column(sa.Boolean, nullable=False, default=False, index=True)


class ImageProperty(Base):
    __tablename__ = 'image_properties'
    __table_args__ = (sa.UniqueConstraint('image_id', 'name',
                                          name='uq_image_properties_name'),)

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    image_id = sa.Column(sa.String(36),
                         sa.ForeignKey('images.id', ondelete='CASCADE'),
                         nullable=False, index=True)
    name = sa.Column(sa.String(255), nullable=False)
    value = sa.Column(sa.Text)


class ImageTag(Base):
    __tablename__ = 'image_tags'
    __table_args__ = (sa.UniqueConstraint('image_id', 'value',
                                          name='uq_image_tags_value'),)

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    image_id = sa.Column(sa.String(36),
                         sa.ForeignKey('images.id', ondelete='CASCADE'),
                         nullable=False, index=True)
    value = sa.Column(sa.String(255), nullable=False)


class ImageLocation(Base):
    """One stored copy; ``id`` order is completion order."""

    __tablename__ = 'image_locations'
    __table_args__ = (sa.UniqueConstraint('image_id', 'store',
                                          name='uq_image_locations_store'),)

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    image_id = sa.Column(sa.String(36),
                         sa.ForeignKey('images.id', ondelete='CASCADE'),
                         nullable=False, index=True)
    store = sa.Column(sa.String(255), nullable=False)
    url = sa.Column(sa.Text, nullable=False)
    meta_data = sa.Column(sa.JSON, nullable=False, default=dict)
    # The task that wrote this copy, so that its revert removes only its own.
    task_id = sa.Column(sa.String(36))
    created_at = sa.Column(sa.DateTime, nullable=False, default=_now)


class Task(Base):
    __tablename__ = 'tasks'

    id = sa.Column(sa.String(36), primary_key=True)
    type = sa.Column(sa.String(30), nullable=False)
    status = sa.Column(sa.String(30), nullable=False, index=True)
    owner = sa.Column(sa.String(255), index=True)
    user_id = sa.Column(sa.String(255))
    request_id = sa.Column(sa.String(255))
    image_id = sa.Column(sa.String(36), nullable=False, index=True)
    input = sa.Column(sa.JSON, nullable=False)
    # Requesting identity (project, user, roles) for plugins and policy.
    context = sa.Column(sa.JSON)
    result = sa.Column(sa.JSON)
    message = sa.Column(sa.Text, nullable=False, default='')
    progress = sa.Column(sa.JSON)
    attempt = sa.Column(sa.Integer, nullable=False, default=1)
    # Worker lease: who runs the task and until when (design.md section 1).
    lease_owner = sa.Column(sa.String(255))
    lease_expires_at = sa.Column(sa.DateTime, index=True)
    # When a worker first claimed the task (queue latency = this - created).
    started_at = sa.Column(sa.DateTime)
    committed = sa.Column(sa.Boolean, nullable=False, default=False)
    # Why the task must stop (abort, image deleted, lock busted), if it must.
    stop_reason = sa.Column(sa.Text)
    created_at = sa.Column(sa.DateTime, nullable=False, default=_now)
    updated_at = sa.Column(sa.DateTime, nullable=False, default=_now)
    expires_at = sa.Column(sa.DateTime)
