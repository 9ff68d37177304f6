"""Image and task persistence.

Every status change is one conditional UPDATE whose WHERE clause states what
the caller expects (status, lock holder, lease owner); a zero row count means
somebody else changed the row first, never a silent overwrite.
"""

import contextlib
import datetime
import threading

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from oslo_log import log as logging

from importflow.common import constants as c
from importflow.common import exceptions
from importflow.common import utils
from importflow.conf import CONF
from importflow.db import models

LOG = logging.getLogger(__name__)

images = models.Image.__table__
props = models.ImageProperty.__table__
tags = models.ImageTag.__table__
locations = models.ImageLocation.__table__
tasks = models.Task.__table__

_ENGINE = None
_ENGINE_LOCK = threading.Lock()


def get_engine():
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = _create_engine(CONF.database.connection)
        return _ENGINE


def dispose_engine():
    """Forget the engine (tests, and after fork)."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is not None:
            _ENGINE.dispose()
        _ENGINE = None


def _create_engine(url):
    if url.startswith('sqlite'):
        engine = sa.create_engine(
            url, connect_args={'timeout': CONF.database.busy_timeout,
                               'check_same_thread': False})

        @sa.event.listens_for(engine, 'connect')
        def _on_connect(dbapi_conn, _record):
            # Let SQLAlchemy, not pysqlite, issue BEGIN (see _on_begin).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute('PRAGMA journal_mode=WAL')
            cur.execute('PRAGMA foreign_keys=ON')
            cur.close()

        @sa.event.listens_for(engine, 'begin')
        def _on_begin(conn):
            # Take the write lock up front: a deferred transaction that reads
            # then writes fails at once under WAL instead of waiting.
            conn.exec_driver_sql('BEGIN IMMEDIATE')

        return engine
    # pool_pre_ping replaces connections the server dropped (restart,
    # pg_terminate_backend) before they are handed out.
    return sa.create_engine(url, pool_pre_ping=True,
                            pool_size=CONF.database.pool_size,
                            pool_recycle=3600)


@contextlib.contextmanager
def transaction():
    with get_engine().begin() as conn:
        yield conn


def _one(conn, stmt):
    row = conn.execute(stmt).mappings().first()
    return dict(row) if row else None


# ---------------------------------------------------------------- images

def image_create(values, properties=None, tags_=None):
    now = utils.utcnow()
    row = {'visibility': 'shared', 'min_disk': 0, 'min_ram': 0,
           'protected': False, 'os_hidden': False, 'deleted': False,
           'created_at': now, 'updated_at': now}
    row.update(values)
    with transaction() as conn:
        conn.execute(images.insert().values(**row))
        for name, value in (properties or {}).items():
            conn.execute(props.insert().values(image_id=row['id'], name=name,
                                               value=value))
        for tag in sorted(set(tags_ or ())):
            conn.execute(tags.insert().values(image_id=row['id'], value=tag))
    return image_get(row['id'])


def _image_view(conn, row):
    image = dict(row)
    image['properties'] = {
        r.name: r.value for r in conn.execute(
            sa.select(props.c.name, props.c.value)
            .where(props.c.image_id == image['id']))}
    image['tags'] = sorted(r.value for r in conn.execute(
        sa.select(tags.c.value).where(tags.c.image_id == image['id'])))
    image['locations'] = [dict(r) for r in conn.execute(
        sa.select(locations.c.store, locations.c.url, locations.c.meta_data,
                  locations.c.task_id)
        .where(locations.c.image_id == image['id'])
        .order_by(locations.c.id)).mappings()]
    return image


def image_get(image_id, include_deleted=False):
    """The image with its properties, tags and locations; raises if absent."""
    with get_engine().connect() as conn:
        stmt = sa.select(images).where(images.c.id == image_id)
        if not include_deleted:
            stmt = stmt.where(images.c.deleted == sa.false())
        row = conn.execute(stmt).mappings().first()
        if row is None:
            raise exceptions.ImageNotFound(image_id)
        return _image_view(conn, row)


def image_list(owner=None, limit=None):
    with get_engine().connect() as conn:
        stmt = (sa.select(images).where(images.c.deleted == sa.false())
                .order_by(images.c.created_at.desc(), images.c.id))
        if owner is not None:
            stmt = stmt.where(images.c.owner == owner)
        if limit:
            stmt = stmt.limit(limit)
        return [_image_view(conn, r)
                for r in conn.execute(stmt).mappings().all()]


def _lock_held_by(image_id, task_id):
    return sa.exists().where(props.c.image_id == image_id,
                             props.c.name == c.PROP_IMPORT_TASK,
                             props.c.value == task_id)


def _explain_failed_save(conn, image_id, task_id, expected_status):
    """Turn a zero-row conditional UPDATE into the error that explains it."""
    row = conn.execute(sa.select(images.c.status, images.c.deleted)
                       .where(images.c.id == image_id)).first()
    if row is None or row.deleted:
        if task_id:
            return exceptions.ImportStopped(c.MSG_IMAGE_DELETED)
        return exceptions.ImageNotFound(image_id)
    if task_id and not conn.execute(
            sa.select(_lock_held_by(image_id, task_id))).scalar():
        reason = conn.execute(sa.select(tasks.c.stop_reason)
                              .where(tasks.c.id == task_id)).scalar()
        return exceptions.LockLost(reason or c.MSG_LOCK_BUSTED)
    return exceptions.Conflict(
        'Image %s has status %s, expected %s'
        % (image_id, row.status, ' or '.join(expected_status)))


def _set_property(conn, image_id, name, value):
    updated = conn.execute(
        props.update().where(props.c.image_id == image_id,
                             props.c.name == name).values(value=value))
    if updated.rowcount == 0:
        conn.execute(props.insert().values(image_id=image_id, name=name,
                                           value=value))


def _get_property(conn, image_id, name):
    return conn.execute(sa.select(props.c.value).where(
        props.c.image_id == image_id, props.c.name == name)).scalar()


def image_save(image_id, *, task_id=None, expected_status=None, values=None,
               set_props=None, remove_props=(), add_to_lists=None,
               remove_from_lists=None, add_location=None,
               remove_location=None, mark_committed=False):
    """Apply one atomic change to an image.

    The UPDATE of the image row comes first: it checks status and lock and
    locks the row, so the property and location changes that follow in the
    same transaction cannot interleave with another writer's.

    :param task_id: when set, the save happens only while the lock names it.
    :param add_to_lists/remove_from_lists: {property: [members]} for the
        sorted comma-joined store lists.
    :param add_location: {'store', 'url', 'meta_data'}.
    :param remove_location: (store, task_id or None).
    :raises: ImportStopped/LockLost (task writes), Conflict, ImageNotFound.
    """
    with transaction() as conn:
        where = [images.c.id == image_id, images.c.deleted == sa.false()]
        if expected_status:
            where.append(images.c.status.in_(expected_status))
        if task_id:
            where.append(_lock_held_by(image_id, task_id))
        row_values = dict(values or {}, updated_at=utils.utcnow())
        result = conn.execute(images.update().where(*where)
                              .values(**row_values))
        if result.rowcount != 1:
            raise _explain_failed_save(conn, image_id, task_id,
                                       expected_status or ())
        for name, value in (set_props or {}).items():
            _set_property(conn, image_id, name, value)
        if remove_props:
            conn.execute(props.delete().where(props.c.image_id == image_id,
                                              props.c.name.in_(remove_props)))
        for name in set(add_to_lists or ()) | set(remove_from_lists or ()):
            members = set(utils.split_list(_get_property(conn, image_id,
                                                         name)))
            members |= set((add_to_lists or {}).get(name, ()))
            members -= set((remove_from_lists or {}).get(name, ()))
            _set_property(conn, image_id, name, utils.join_sorted(members))
        if remove_location:
            store, owner_task = remove_location
            stmt = locations.delete().where(locations.c.image_id == image_id,
                                            locations.c.store == store)
            if owner_task:
                stmt = stmt.where(locations.c.task_id == owner_task)
            conn.execute(stmt)
        if add_location:
            conn.execute(locations.insert().values(
                image_id=image_id, task_id=task_id,
                created_at=utils.utcnow(), **add_location))
        if mark_committed and task_id:
            conn.execute(tasks.update().where(tasks.c.id == task_id)
                         .values(committed=True))


def image_update_user(image_id, values=None, set_props=None,
                      remove_props=(), expected_status=None):
    """A user's change (PATCH): only the named fields are touched."""
    image_save(image_id, expected_status=expected_status, values=values,
               set_props=set_props, remove_props=remove_props)
    return image_get(image_id)


def image_mark_deleted(image_id):
    """Soft-delete; returns the image as it was (locations to remove)."""
    with transaction() as conn:
        row = conn.execute(sa.select(images).where(
            images.c.id == image_id,
            images.c.deleted == sa.false())).mappings().first()
        if row is None:
            raise exceptions.ImageNotFound(image_id)
        view = _image_view(conn, row)
        now = utils.utcnow()
        conn.execute(images.update().where(images.c.id == image_id).values(
            deleted=True, deleted_at=now, updated_at=now, status=c.DELETED))
        conn.execute(locations.delete().where(
            locations.c.image_id == image_id))
        conn.execute(tasks.update().where(
            tasks.c.image_id == image_id, tasks.c.status.in_(c.TASK_LIVE),
            tasks.c.stop_reason.is_(None)).values(
                stop_reason=c.MSG_IMAGE_DELETED))
    return view


def lock_holder(image_id):
    with get_engine().connect() as conn:
        return _get_property(conn, image_id, c.PROP_IMPORT_TASK)


def lock_release(image_id, task_id):
    """Remove the lock if, and only if, it names ``task_id``."""
    with transaction() as conn:
        conn.execute(props.delete().where(props.c.image_id == image_id,
                                          props.c.name == c.PROP_IMPORT_TASK,
                                          props.c.value == task_id))


# ----------------------------------------------------------------- tasks

def task_create_locked(task_values, expected_status):
    """Insert a pending task and take its image's lock, atomically.

    :raises: Conflict when the image is not in ``expected_status`` or the
        lock is taken (a concurrent request won), ImageNotFound.
    """
    image_id = task_values['image_id']
    now = utils.utcnow()
    row = dict(task_values, status=c.TASK_PENDING, message='', attempt=1,
               committed=False, created_at=now, updated_at=now)
    try:
        with transaction() as conn:
            result = conn.execute(images.update().where(
                images.c.id == image_id, images.c.deleted == sa.false(),
                images.c.status.in_(expected_status)).values(updated_at=now))
            if result.rowcount != 1:
                raise _explain_failed_save(conn, image_id, None,
                                           expected_status)
            conn.execute(props.insert().values(
                image_id=image_id, name=c.PROP_IMPORT_TASK, value=row['id']))
            conn.execute(tasks.insert().values(**row))
    except sa_exc.IntegrityError:
        raise exceptions.Conflict(
            "New operation on image '%s' is not permitted as prior "
            "operation is still in progress" % image_id)
    return task_get(row['id'])


def task_get(task_id):
    with get_engine().connect() as conn:
        row = _one(conn, sa.select(tasks).where(tasks.c.id == task_id))
    if row is None:
        raise exceptions.TaskNotFound(task_id)
    return row


def task_list(image_id=None, owner=None, include_expired=False):
    stmt = sa.select(tasks).order_by(tasks.c.created_at, tasks.c.id)
    if image_id:
        stmt = stmt.where(tasks.c.image_id == image_id)
    if owner is not None:
        stmt = stmt.where(tasks.c.owner == owner)
    if not include_expired:
        stmt = stmt.where(sa.or_(tasks.c.expires_at.is_(None),
                                 tasks.c.expires_at > utils.utcnow()))
    with get_engine().connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings().all()]


def task_claim(task_id, worker_id, lease_seconds):
    """Take a pending task, or a processing one whose lease expired.

    :returns: the task as claimed (``attempt`` > 1 means a takeover), or
        None if another worker holds it or it is finished.
    """
    now = utils.utcnow()
    takeover = tasks.c.status == c.TASK_PROCESSING
    with transaction() as conn:
        result = conn.execute(tasks.update().where(
            tasks.c.id == task_id,
            sa.or_(tasks.c.status == c.TASK_PENDING,
                   sa.and_(takeover,
                           sa.or_(tasks.c.lease_expires_at.is_(None),
                                  tasks.c.lease_expires_at < now)))
        ).values(
            attempt=sa.case((takeover, tasks.c.attempt + 1),
                            else_=tasks.c.attempt),
            status=c.TASK_PROCESSING,
            lease_owner=worker_id,
            lease_expires_at=now + datetime.timedelta(seconds=lease_seconds),
            updated_at=now))
        if result.rowcount != 1:
            return None
        return _one(conn, sa.select(tasks).where(tasks.c.id == task_id))


def task_heartbeat(task_id, worker_id, lease_seconds, progress=None,
                   message=None):
    """Extend the lease and publish progress.

    :returns: (lease_still_held, stop_reason)
    """
    now = utils.utcnow()
    values = {'lease_expires_at': now + datetime.timedelta(
        seconds=lease_seconds), 'updated_at': now}
    if progress is not None:
        values['progress'] = progress
    if message is not None:
        values['message'] = message
    with transaction() as conn:
        result = conn.execute(tasks.update().where(
            tasks.c.id == task_id, tasks.c.lease_owner == worker_id,
            tasks.c.status == c.TASK_PROCESSING).values(**values))
        reason = conn.execute(sa.select(tasks.c.stop_reason).where(
            tasks.c.id == task_id)).scalar()
    return result.rowcount == 1, reason


def task_finish(task_id, worker_id, status, message, result, progress):
    """Write the terminal status; only the lease owner may."""
    now = utils.utcnow()
    ttl = datetime.timedelta(hours=CONF.task.task_time_to_live)
    with transaction() as conn:
        done = conn.execute(tasks.update().where(
            tasks.c.id == task_id, tasks.c.lease_owner == worker_id,
            tasks.c.status == c.TASK_PROCESSING).values(
                status=status, message=message, result=result,
                progress=progress, updated_at=now, expires_at=now + ttl,
                lease_owner=None, lease_expires_at=None))
    return done.rowcount == 1


def task_fail_pending(task_id, message, result):
    """End a task that never started (e.g. its image vanished)."""
    now = utils.utcnow()
    ttl = datetime.timedelta(hours=CONF.task.task_time_to_live)
    with transaction() as conn:
        done = conn.execute(tasks.update().where(
            tasks.c.id == task_id, tasks.c.status == c.TASK_PENDING).values(
                status=c.TASK_FAILURE, message=message, result=result,
                updated_at=now, expires_at=now + ttl))
    return done.rowcount == 1


def task_release_lease(task_id, worker_id):
    """Hand a running task back so that another worker takes it over now."""
    with transaction() as conn:
        conn.execute(tasks.update().where(
            tasks.c.id == task_id, tasks.c.lease_owner == worker_id,
            tasks.c.status == c.TASK_PROCESSING).values(
                lease_expires_at=utils.utcnow()))


def task_request_stop(task_id, reason):
    """Ask a live task to stop; the first reason given wins."""
    with transaction() as conn:
        result = conn.execute(tasks.update().where(
            tasks.c.id == task_id, tasks.c.status.in_(c.TASK_LIVE),
            tasks.c.stop_reason.is_(None)).values(stop_reason=reason))
    return result.rowcount == 1


def tasks_needing_worker(pending_before, now=None):
    """Ids of tasks that no live worker is running.

    Pending tasks created before ``pending_before`` (their doorbell was lost)
    and processing tasks whose lease expired.
    """
    now = now or utils.utcnow()
    stmt = sa.select(tasks.c.id).where(sa.or_(
        sa.and_(tasks.c.status == c.TASK_PENDING,
                tasks.c.updated_at < pending_before),
        sa.and_(tasks.c.status == c.TASK_PROCESSING,
                tasks.c.lease_expires_at < now))).order_by(tasks.c.created_at)
    with get_engine().connect() as conn:
        return [r.id for r in conn.execute(stmt)]
