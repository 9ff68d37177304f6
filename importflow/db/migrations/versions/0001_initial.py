"""Images, properties, tags, locations and tasks.

Revision ID: 0001
Revises:
"""

from alembic import op
import sqlalchemy as sa

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'images',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('name', sa.String(255)),
        sa.Column('status', sa.String(30), nullable=False),
        sa.Column('visibility', sa.String(20), nullable=False),
        sa.Column('owner', sa.String(255)),
        sa.Column('disk_format', sa.String(20)),
        sa.Column('container_format', sa.String(20)),
        sa.Column('size', sa.BigInteger),
        sa.Column('virtual_size', sa.BigInteger),
        sa.Column('checksum', sa.String(32)),
        sa.Column('os_hash_algo', sa.String(64)),
        sa.Column('os_hash_value', sa.String(128)),
        sa.Column('min_disk', sa.Integer, nullable=False),
        sa.Column('min_ram', sa.Integer, nullable=False),
        sa.Column('protected', sa.Boolean, nullable=False),
        sa.Column('os_hidden', sa.Boolean, nullable=False),
        sa.Column('created_at', sa.DateTime, nullable=False),
        sa.Column('updated_at', sa.DateTime, nullable=False),
        sa.Column('deleted_at', sa.DateTime),
        sa.Column('deleted', sa.Boolean, nullable=False),
    )
    op.create_index('ix_images_status', 'images', ['status'])
    op.create_index('ix_images_owner', 'images', ['owner'])
    op.create_index('ix_images_deleted', 'images', ['deleted'])

    op.create_table(
        'image_properties',
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        sa.Column('image_id', sa.String(36),
                  sa.ForeignKey('images.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('value', sa.Text),
        sa.UniqueConstraint('image_id', 'name',
                            name='uq_image_properties_name'),
    )
    op.create_index('ix_image_properties_image_id', 'image_properties',
                    ['image_id'])

    op.create_table(
        'image_tags',
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        sa.Column('image_id', sa.String(36),
                  sa.ForeignKey('images.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('value', sa.String(255), nullable=False),
        sa.UniqueConstraint('image_id', 'value', name='uq_image_tags_value'),
    )
    op.create_index('ix_image_tags_image_id', 'image_tags', ['image_id'])

    op.create_table(
        'image_locations',
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        sa.Column('image_id', sa.String(36),
                  sa.ForeignKey('images.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('store', sa.String(255), nullable=False),
        sa.Column('url', sa.Text, nullable=False),
        sa.Column('meta_data', sa.JSON, nullable=False),
        sa.Column('task_id', sa.String(36)),
        sa.Column('created_at', sa.DateTime, nullable=False),
        sa.UniqueConstraint('image_id', 'store',
                            name='uq_image_locations_store'),
    )
    op.create_index('ix_image_locations_image_id', 'image_locations',
                    ['image_id'])

    op.create_table(
        'tasks',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('type', sa.String(30), nullable=False),
        sa.Column('status', sa.String(30), nullable=False),
        sa.Column('owner', sa.String(255)),
        sa.Column('user_id', sa.String(255)),
        sa.Column('request_id', sa.String(255)),
        sa.Column('image_id', sa.String(36), nullable=False),
        sa.Column('input', sa.JSON, nullable=False),
        sa.Column('context', sa.JSON),
        sa.Column('result', sa.JSON),
        sa.Column('message', sa.Text, nullable=False),
        sa.Column('progress', sa.JSON),
        sa.Column('attempt', sa.Integer, nullable=False),
        sa.Column('lease_owner', sa.String(255)),
        sa.Column('lease_expires_at', sa.DateTime),
        sa.Column('started_at', sa.DateTime),
        sa.Column('committed', sa.Boolean, nullable=False),
        sa.Column('stop_reason', sa.Text),
        sa.Column('created_at', sa.DateTime, nullable=False),
        sa.Column('updated_at', sa.DateTime, nullable=False),
        sa.Column('expires_at', sa.DateTime),
    )
    op.create_index('ix_tasks_status', 'tasks', ['status'])
    op.create_index('ix_tasks_owner', 'tasks', ['owner'])
    op.create_index('ix_tasks_image_id', 'tasks', ['image_id'])
    op.create_index('ix_tasks_lease_expires_at', 'tasks',
                    ['lease_expires_at'])
