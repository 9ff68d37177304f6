"""Image and task persistence.

Every status change is one conditional UPDATE whose WHERE clause states what
the caller expects (status, lock holder, lease owner); a zero row count means
somebody else changed the row first, never a silent overwrite.
"""

import contextlib
import datetime
import functools
import json
import threading

from oslo_log import log as logging
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
import tenacity

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
            cur.execute('PRAGMA foreign_keys=ON')
            cur.close()

        @sa.event.listens_for(engine, 'begin')
        def _on_begin(conn):
            # Writers take the write lock up front: a deferred transaction
            # that reads then writes fails at once under WAL instead of
            # waiting. Readers never block anyone.
            if conn.get_execution_options().get(_WRITE_OPTION):
                conn.exec_driver_sql('BEGIN IMMEDIATE')
            else:
                conn.exec_driver_sql('BEGIN')

        return engine
    # No pool_pre_ping: it cost a round trip per transaction (a third of a
    # small import's database time). A connection the server dropped fails
    # one statement, SQLAlchemy then renews the whole pool, and
    # retry_on_disconnect runs the transaction again.
    return sa.create_engine(url, pool_size=CONF.database.pool_size,
                            pool_recycle=3600)


def is_disconnect(exc):
    """Whether ``exc`` or one of its causes is a dropped connection."""
    while exc is not None:
        if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
            return True
        exc = exc.__cause__
    return False


# A connection the server dropped (restart, pg_terminate_backend) fails the
# statement once; every function here is one transaction, so it is retried
# whole on a fresh connection.
_retry_after_disconnect = tenacity.retry(
    retry=tenacity.retry_if_exception(is_disconnect),
    stop=tenacity.stop_after_attempt(3),
    wait=tenacity.wait_exponential(multiplier=0.2, max=2),
    before_sleep=lambda state: LOG.warning(
        'Database connection lost (%s); retrying',
        state.outcome.exception()),
    reraise=True)


def retry_on_disconnect(func):
    """Run ``func`` again (up to 3 more times) after a dropped connection.

    The first attempt is a plain call: tenacity's per-call bookkeeping cost
    more CPU than some of the statements it guarded.
    """
    retrying = _retry_after_disconnect(func)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            if not is_disconnect(exc):
                raise
            LOG.warning('Database connection lost (%s); retrying', exc)
        return retrying(*args, **kwargs)
    return wrapper


_WRITE_OPTION = 'importflow_write'


@sa.event.listens_for(sa.engine.Engine, 'connect')
def _tune_sqlite(dbapi_conn, _record):
    """Every SQLite connection of the process, taskflow's included: WAL so
    that readers never wait, and no fsync per commit (WAL stays consistent;
    a power cut may lose the last transactions, which the embedded default
    accepts)."""
    if type(dbapi_conn).__module__.startswith('sqlite3'):
        cur = dbapi_conn.cursor()
        cur.execute('PRAGMA journal_mode=WAL')
        cur.execute('PRAGMA synchronous=NORMAL')
        cur.execute('PRAGMA busy_timeout=%d'
                    % (CONF.database.busy_timeout * 1000))
        cur.close()


@contextlib.contextmanager
def transaction():
    """A read-write transaction, committed on success."""
    with get_engine().connect() as conn:
        conn = conn.execution_options(**{_WRITE_OPTION: True})
        with conn.begin():
            yield conn


@contextlib.contextmanager
def single_statement(engine=None, write=True):
    """A connection for work of one statement, which is its own
    transaction.

    On PostgreSQL it runs in autocommit mode: that spares the BEGIN and the
    COMMIT (or ROLLBACK) round trips, two of a lone statement's three.
    Elsewhere it is an ordinary transaction (a read needs none): MySQL
    would pay a round trip to switch autocommit on and another to switch
    it off, and SQLite has no round trips.
    """
    engine = engine or get_engine()
    with engine.connect() as conn:
        if engine.dialect.name == 'postgresql':
            yield conn.execution_options(isolation_level='AUTOCOMMIT')
        elif write:
            conn = conn.execution_options(**{_WRITE_OPTION: True})
            with conn.begin():
                yield conn
        else:
            yield conn


def _one(conn, stmt):
    row = conn.execute(stmt).mappings().first()
    return dict(row) if row else None


def _task_updated(conn, task_id, update, columns=tuple(tasks.c)):
    """Run an UPDATE of task ``task_id``; ``columns`` of its row afterwards,
    or None if it matched nothing. One statement where the database returns
    rows from an UPDATE (PostgreSQL, SQLite; not MariaDB)."""
    if conn.dialect.update_returning:
        return _one(conn, update.returning(*columns))
    if conn.execute(update).rowcount != 1:
        return None
    return _one(conn, sa.select(*columns).where(tasks.c.id == task_id))


# ---------------------------------------------------------------- images

@retry_on_disconnect
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


@retry_on_disconnect
def image_get(image_id, include_deleted=False):
    """The image with its properties, tags and locations; raises if absent."""
    with single_statement(write=False) as conn:
        return _image_by_id(conn, image_id, include_deleted)


@retry_on_disconnect
def image_list(owner=None, limit=None):
    with get_engine().connect() as conn:
        stmt = (sa.select(images).where(images.c.deleted == sa.false())
                .order_by(images.c.created_at.desc(), images.c.id))
        if owner is not None:
            stmt = stmt.where(images.c.owner == owner)
        if limit:
            stmt = stmt.limit(limit)
        return _image_views(conn, conn.execute(stmt).mappings().all())


# ------------------------------------------- image lists (GET /v2/images)

# Columns an image list may be sorted by.
IMAGE_SORT_KEYS = ('name', 'status', 'container_format', 'disk_format',
                   'size', 'virtual_size', 'id', 'created_at', 'updated_at',
                   'min_disk', 'min_ram', 'visibility', 'owner', 'os_hidden',
                   'protected')
# Columns filtered by equality (or membership, given a list).
IMAGE_MATCH_FILTERS = ('id', 'name', 'status', 'owner', 'disk_format',
                       'container_format', 'checksum', 'os_hash_value',
                       'os_hidden', 'protected')
_COMPARE = {'eq': '__eq__', 'neq': '__ne__', 'gt': '__gt__',
            'gte': '__ge__', 'lt': '__lt__', 'lte': '__le__'}


def _visibility_clause(visibility, project_id):
    """Who sees what in a list (Glance's rules, without image members).

    ``project_id`` None means no restriction by owner (administrators).
    """
    vis = images.c.visibility
    if project_id is None:
        if visibility in (None, 'all'):
            return None
        return vis == visibility
    own = images.c.owner == project_id
    if visibility is None:
        return sa.or_(own, vis == 'public')
    if visibility == 'all':
        return sa.or_(own, vis.in_(('public', 'community')))
    if visibility in ('public', 'community'):
        return vis == visibility
    return sa.and_(own, vis == visibility)


def _match(column, value):
    if isinstance(value, (list, tuple)):
        return column.in_(list(value))
    return column == value


def _filter_clauses(filters):
    where = []
    for key in IMAGE_MATCH_FILTERS:
        if key in filters:
            where.append(_match(images.c[key], filters[key]))
    if filters.get('size_min') is not None:
        where.append(images.c.size >= filters['size_min'])
    if filters.get('size_max') is not None:
        where.append(images.c.size <= filters['size_max'])
    for key in ('created_at', 'updated_at'):
        for op, value in filters.get(key, ()):
            where.append(getattr(images.c[key], _COMPARE[op])(value))
    for tag in filters.get('tags', ()):
        where.append(sa.exists().where(tags.c.image_id == images.c.id,
                                       tags.c.value == tag))
    for name, value in (filters.get('properties') or {}).items():
        where.append(sa.exists().where(props.c.image_id == images.c.id,
                                       props.c.name == name,
                                       _match(props.c.value, value)))
    return where


def _sort_terms(sort):
    """ORDER BY terms; NULL sorts lowest on every database."""
    terms = []
    for key, direction in sort:
        column = images.c[key]
        if column.nullable:
            present = column.isnot(None)
            terms.append(present.asc() if direction == 'asc'
                         else present.desc())
        terms.append(column.asc() if direction == 'asc' else column.desc())
    return terms


def _after_marker(sort, marker):
    """Rows strictly after ``marker`` in the order of ``sort`` (keyset
    pagination; ``sort`` ends with the unique id)."""
    alternatives = []
    equal_so_far = []
    for key, direction in sort:
        column = images.c[key]
        value = marker[key]
        if value is None:
            after = column.isnot(None) if direction == 'asc' else sa.false()
            same = column.is_(None)
        else:
            if direction == 'asc':
                after = column > value
            else:
                after = sa.or_(column < value, column.is_(None)) \
                    if column.nullable else column < value
            same = column == value
        alternatives.append(sa.and_(*equal_so_far, after))
        equal_so_far.append(same)
    return sa.or_(*alternatives)


def _related_rows(image_ids):
    """Properties, tags and locations of images in one query (each was a
    query of its own: a third of the statements of a small import).

    ``image_ids``: a list, or an expanding bind parameter. Rows are
    (image_id, kind, a, b, meta_data as JSON text, task_id, id).
    """
    text = sa.Text

    def blank():
        return sa.cast(sa.null(), text)

    return sa.union_all(
        sa.select(props.c.image_id, sa.literal('p', text).label('kind'),
                  props.c.name.label('a'),
                  sa.cast(props.c.value, text).label('b'),
                  blank().label('meta_data'), blank().label('task_id'),
                  sa.literal(0).label('id'))
        .where(props.c.image_id.in_(image_ids)),
        sa.select(tags.c.image_id, sa.literal('t', text), tags.c.value,
                  blank(), blank(), blank(), sa.literal(0))
        .where(tags.c.image_id.in_(image_ids)),
        sa.select(locations.c.image_id, sa.literal('l', text),
                  locations.c.store, sa.cast(locations.c.url, text),
                  sa.cast(locations.c.meta_data, text),
                  sa.cast(locations.c.task_id, text), locations.c.id)
        .where(locations.c.image_id.in_(image_ids)))


def _attach_related(views, related):
    """Fill {image id: view} with related rows: properties, sorted tags,
    locations in completion order."""
    found = []
    for image_id, kind, a, b, meta_data, task_id, loc_id in related:
        view = views[image_id]
        if kind == 'p':
            view['properties'][a] = b
        elif kind == 't':
            view['tags'].append(a)
        else:
            found.append((loc_id, image_id, {
                'store': a, 'url': b, 'meta_data': json.loads(meta_data),
                'task_id': task_id}))
    for view in views.values():
        view['tags'].sort()
    for _loc_id, image_id, location in sorted(found,
                                               key=lambda f: f[0]):
        views[image_id]['locations'].append(location)


def _image_views(conn, rows):
    """Images from their rows, with related rows read in one query."""
    views = {r['id']: dict(r, properties={}, tags=[], locations=[])
             for r in rows}
    if not views:
        return []
    _attach_related(views, conn.execute(_related_rows(list(views))))
    return [views[r['id']] for r in rows]


def _image_with_related(include_deleted):
    """One statement for an image and its related rows: the image's
    columns on every row, beside one related row each (NULLs if none).
    Built once: a reused statement skips SQLAlchemy's construction and
    cache-key work, a tenth of a worker's CPU when rebuilt per read."""
    related = _related_rows(
        sa.bindparam('image_ids', expanding=True)).subquery('related')
    stmt = sa.select(
        images, *[col.label('related_' + col.name) for col in related.c]
    ).select_from(images.outerjoin(
        related, related.c.image_id == images.c.id)).where(
        images.c.id == sa.bindparam('image_id'))
    if not include_deleted:
        stmt = stmt.where(images.c.deleted == sa.false())
    return stmt


_IMAGE_WITH_RELATED = {deleted: _image_with_related(deleted)
                       for deleted in (False, True)}
_RELATED_KEYS = ['related_' + name for name in (
    'image_id', 'kind', 'a', 'b', 'meta_data', 'task_id', 'id')]


def _image_by_id(conn, image_id, include_deleted=False):
    rows = conn.execute(_IMAGE_WITH_RELATED[include_deleted], {
        'image_id': image_id, 'image_ids': [image_id]}).mappings().all()
    if not rows:
        raise exceptions.ImageNotFound(image_id)
    view = {col.name: rows[0][col.name] for col in images.c}
    view.update(properties={}, tags=[], locations=[])
    _attach_related({image_id: view}, [
        [row[k] for k in _RELATED_KEYS] for row in rows
        if row['related_kind'] is not None])
    return view


@retry_on_disconnect
def image_list_page(filters=None, sort=(('created_at', 'desc'),),
                    limit=None, marker=None, visibility=None,
                    project_id=None):
    """One page of non-deleted images.

    :param filters: {column: value or list} for IMAGE_MATCH_FILTERS, and
        ``size_min``, ``size_max``, ``created_at``/``updated_at`` as lists of
        (op, naive UTC datetime) with op in eq, neq, gt, gte, lt, lte,
        ``tags`` (all must be present), ``properties`` {name: value or list}.
    :param sort: (key, 'asc'|'desc') pairs over IMAGE_SORT_KEYS; ``id`` is
        added as the final tie-breaker when absent.
    :param marker: id of the last image of the previous page.
    :param visibility: None (default list), 'all', or a visibility value.
    :param project_id: the caller's project; None lists every owner.
    :returns: (images, more) where ``more`` tells whether images follow.
    :raises: ImageNotFound if the marker image does not exist.
    """
    filters = filters or {}
    sort = list(sort)
    if not any(key == 'id' for key, _ in sort):
        sort.append(('id', sort[0][1] if sort else 'desc'))
    for key, direction in sort:
        if key not in IMAGE_SORT_KEYS or direction not in ('asc', 'desc'):
            raise ValueError('Invalid sort %s:%s' % (key, direction))
    where = [images.c.deleted == sa.false()] + _filter_clauses(filters)
    scope = _visibility_clause(visibility, project_id)
    if scope is not None:
        where.append(scope)
    with get_engine().connect() as conn:
        if marker is not None:
            row = conn.execute(sa.select(images).where(
                images.c.id == marker,
                images.c.deleted == sa.false())).mappings().first()
            if row is None:
                raise exceptions.ImageNotFound(marker)
            where.append(_after_marker(sort, row))
        stmt = sa.select(images).where(*where).order_by(*_sort_terms(sort))
        if limit is not None:
            stmt = stmt.limit(limit + 1)
        rows = conn.execute(stmt).mappings().all()
        more = limit is not None and len(rows) > limit
        if more:
            rows = rows[:limit]
        return _image_views(conn, rows), more


@retry_on_disconnect
def image_patch(image_id, values=None, set_props=None, remove_props=(),
                tags_=None, expected_status=None, must_exist=(),
                must_not_exist=()):
    """A user's JSON-patch, applied in one transaction.

    Only the named fields, properties and (when ``tags_`` is not None) the
    tag set are written, so a concurrent import's property changes are
    kept.

    :param must_exist: properties that must be present (replace, remove).
    :param must_not_exist: properties that must be absent (add, v2.0).
    :raises: Conflict (status, or a property presence condition),
        ImageNotFound.
    """
    with transaction() as conn:
        result = conn.execute(images.update().where(
            images.c.id == image_id, images.c.deleted == sa.false(),
            *([images.c.status.in_(expected_status)]
              if expected_status else [])
        ).values(dict(values or {}, updated_at=utils.utcnow())))
        if result.rowcount != 1:
            raise _explain_failed_save(conn, image_id, None,
                                       expected_status or ())
        present = {r.name for r in conn.execute(
            sa.select(props.c.name).where(props.c.image_id == image_id))}
        for name in must_exist:
            if name not in present:
                raise exceptions.Conflict('Property %s does not exist.'
                                          % name)
        for name in must_not_exist:
            if name in present:
                raise exceptions.Conflict('Property %s already present.'
                                          % name)
        if remove_props:
            conn.execute(props.delete().where(
                props.c.image_id == image_id,
                props.c.name.in_(list(remove_props))))
        for name, value in (set_props or {}).items():
            _set_property(conn, image_id, name, value)
        if tags_ is not None:
            conn.execute(tags.delete().where(tags.c.image_id == image_id))
            for tag in sorted(set(tags_)):
                conn.execute(tags.insert().values(image_id=image_id,
                                                  value=tag))
    return image_get(image_id)


_PREBUILT = {}


def _prebuilt(key, build):
    """The statement of shape ``key``, built once: a reused statement skips
    SQLAlchemy's construction and cache-key work, which cost a worker more
    CPU than executing the statement did. Fixed shapes are module
    constants; this serves the ones that vary (the columns an UPDATE
    sets)."""
    stmt = _PREBUILT.get(key)
    if stmt is None:
        stmt = _PREBUILT.setdefault(key, build())
    return stmt


def _bind(column, name=None, expanding=False):
    return sa.bindparam(name or column.name, type_=column.type,
                        expanding=expanding)


def _image_update(keys, check_status, check_lock):
    """UPDATE of a live image row: binds ``w_id``, ``w_status`` (a list),
    ``w_task`` (the lock holder) and ``v_<column>``."""
    where = [images.c.id == _bind(images.c.id, 'w_id'),
             images.c.deleted == sa.false()]
    if check_status:
        where.append(images.c.status.in_(
            _bind(images.c.status, 'w_status', expanding=True)))
    if check_lock:
        where.append(_lock_held_by(_bind(images.c.id, 'w_id'),
                                   _bind(props.c.value, 'w_task')))
    return images.update().where(*where).values(
        {k: _bind(images.c[k], 'v_' + k) for k in keys})


def _lock_held_by(image_id, task_id):
    return sa.exists().where(props.c.image_id == image_id,
                             props.c.name == c.PROP_IMPORT_TASK,
                             props.c.value == task_id)


# Statements of a fixed shape, built once (see _prebuilt).
_PROPS_NAMED = sa.select(props.c.name, props.c.value).where(
    props.c.image_id == _bind(props.c.image_id),
    props.c.name.in_(_bind(props.c.name, 'names', expanding=True)))
_PROP_UPDATE = props.update().where(
    props.c.image_id == _bind(props.c.image_id, 'w_image_id'),
    props.c.name == _bind(props.c.name, 'w_name')).values(
    value=_bind(props.c.value, 'v_value'))
_PROPS_DELETE = props.delete().where(
    props.c.image_id == _bind(props.c.image_id),
    props.c.name.in_(_bind(props.c.name, 'names', expanding=True)))
_LOCK_DELETE = props.delete().where(
    props.c.image_id == _bind(props.c.image_id),
    props.c.name == c.PROP_IMPORT_TASK,
    props.c.value == _bind(props.c.value))
_MARK_COMMITTED = tasks.update().where(
    tasks.c.id == _bind(tasks.c.id, 'w_id')).values(committed=True)


def _release_lock(conn, image_id, task_id):
    conn.execute(_LOCK_DELETE, {'image_id': image_id, 'value': task_id})


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


def _change_lists(conn, image_id, add, remove):
    """Add and remove members of comma-joined list properties; a list the
    image lacks is created (empty if nothing is added), one that does not
    change is not written."""
    names = sorted(set(add) | set(remove))
    held = dict(conn.execute(_PROPS_NAMED, {
        'image_id': image_id, 'names': names}).all())
    for name in names:
        members = set(utils.split_list(held.get(name)))
        members |= set(add.get(name, ()))
        members -= set(remove.get(name, ()))
        value = utils.join_sorted(members)
        if name not in held:
            conn.execute(props.insert(), {'image_id': image_id,
                                          'name': name, 'value': value})
        elif held[name] != value:
            conn.execute(_PROP_UPDATE, {
                'w_image_id': image_id, 'w_name': name, 'v_value': value})


def _get_property(conn, image_id, name):
    return conn.execute(sa.select(props.c.value).where(
        props.c.image_id == image_id, props.c.name == name)).scalar()


@retry_on_disconnect
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
    row_values = dict(values or {}, updated_at=utils.utcnow())
    shape = (tuple(sorted(row_values)), bool(expected_status), bool(task_id))
    params = {'v_' + k: v for k, v in row_values.items()}
    params.update(w_id=image_id, w_status=list(expected_status or ()),
                  w_task=task_id)
    with transaction() as conn:
        result = conn.execute(
            _prebuilt(('image_update',) + shape,
                      lambda: _image_update(*shape)), params)
        if result.rowcount != 1:
            raise _explain_failed_save(conn, image_id, task_id,
                                       expected_status or ())
        for name, value in (set_props or {}).items():
            _set_property(conn, image_id, name, value)
        if remove_props:
            conn.execute(_PROPS_DELETE, {
                'image_id': image_id, 'names': list(remove_props)})
        if add_to_lists or remove_from_lists:
            _change_lists(conn, image_id, add_to_lists or {},
                          remove_from_lists or {})
        if remove_location:
            store, owner_task = remove_location
            stmt = locations.delete().where(locations.c.image_id == image_id,
                                            locations.c.store == store)
            if owner_task:
                stmt = stmt.where(locations.c.task_id == owner_task)
            conn.execute(stmt)
        if add_location:
            conn.execute(locations.insert(), dict(
                add_location, image_id=image_id, task_id=task_id,
                created_at=utils.utcnow()))
        if mark_committed and task_id:
            conn.execute(_MARK_COMMITTED, {'w_id': task_id})


@retry_on_disconnect
def image_update_user(image_id, values=None, set_props=None,
                      remove_props=(), expected_status=None):
    """A user's change (PATCH): only the named fields are touched."""
    image_save(image_id, expected_status=expected_status, values=values,
               set_props=set_props, remove_props=remove_props)
    return image_get(image_id)


@retry_on_disconnect
def image_mark_deleted(image_id):
    """Soft-delete; returns the image as it was (locations to remove)."""
    with transaction() as conn:
        view = _image_by_id(conn, image_id)
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


@retry_on_disconnect
def lock_holder(image_id):
    with single_statement(write=False) as conn:
        return _get_property(conn, image_id, c.PROP_IMPORT_TASK)


@retry_on_disconnect
def lock_release(image_id, task_id):
    """Remove the lock if, and only if, it names ``task_id``."""
    with single_statement() as conn:
        _release_lock(conn, image_id, task_id)


# ----------------------------------------------------------------- tasks

@retry_on_disconnect
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
                if _get_property(conn, image_id, c.PROP_IMPORT_TASK):
                    # A concurrent request won, and its task already moved
                    # the image on: the same race as the insert below.
                    raise _lost_lock_race(image_id)
                raise _explain_failed_save(conn, image_id, None,
                                           expected_status)
            conn.execute(props.insert().values(
                image_id=image_id, name=c.PROP_IMPORT_TASK, value=row['id']))
            conn.execute(tasks.insert().values(**row))
    except sa_exc.IntegrityError:
        raise _lost_lock_race(image_id)
    return task_get(row['id'])


def _lost_lock_race(image_id):
    return exceptions.Conflict(
        "New operation on image '%s' is not permitted as prior "
        "operation is still in progress" % image_id)


@retry_on_disconnect
def task_get(task_id):
    with single_statement(write=False) as conn:
        row = _one(conn, sa.select(tasks).where(tasks.c.id == task_id))
    if row is None:
        raise exceptions.TaskNotFound(task_id)
    return row


@retry_on_disconnect
def task_list(image_id=None, owner=None, include_expired=False):
    stmt = sa.select(tasks).order_by(tasks.c.created_at, tasks.c.id)
    if image_id:
        stmt = stmt.where(tasks.c.image_id == image_id)
    if owner is not None:
        stmt = stmt.where(tasks.c.owner == owner)
    if not include_expired:
        stmt = stmt.where(sa.or_(tasks.c.expires_at.is_(None),
                                 tasks.c.expires_at > utils.utcnow()))
    with single_statement(write=False) as conn:
        return [dict(r) for r in conn.execute(stmt).mappings().all()]


@retry_on_disconnect
def task_claim(task_id, worker_id, lease_seconds):
    """Take a pending task, or a processing one whose lease expired.

    :returns: the task as claimed (``attempt`` > 1 means a takeover), or
        None if another worker holds it or it is finished.
    """
    now = utils.utcnow()
    takeover = tasks.c.status == c.TASK_PROCESSING
    with single_statement() as conn:
        return _task_updated(conn, task_id, tasks.update().where(
            tasks.c.id == task_id,
            sa.or_(tasks.c.status == c.TASK_PENDING,
                   sa.and_(takeover,
                           sa.or_(tasks.c.lease_expires_at.is_(None),
                                  tasks.c.lease_expires_at < now)))
        ).ordered_values(
            # attempt before status: MySQL and MariaDB evaluate SET left to
            # right, so the CASE would see the new status if it came later.
            (tasks.c.attempt, sa.case((takeover, tasks.c.attempt + 1),
                                      else_=tasks.c.attempt)),
            (tasks.c.status, c.TASK_PROCESSING),
            (tasks.c.lease_owner, worker_id),
            (tasks.c.lease_expires_at,
             now + datetime.timedelta(seconds=lease_seconds)),
            (tasks.c.started_at, sa.func.coalesce(tasks.c.started_at, now)),
            (tasks.c.updated_at, now)))


@retry_on_disconnect
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
    with single_statement() as conn:
        held = _task_updated(conn, task_id, tasks.update().where(
            tasks.c.id == task_id, tasks.c.lease_owner == worker_id,
            tasks.c.status == c.TASK_PROCESSING).values(**values),
            columns=(tasks.c.stop_reason,))
    return held is not None, held and held['stop_reason']


@retry_on_disconnect
def task_finish(task_id, worker_id, status, message, result, progress,
                also=()):
    """Write the terminal status and drop the image's lock, in one
    transaction; only the lease owner may.

    :param also: statements for the same transaction once the task is
        finished (the runner's: forget the task's flow).
    :returns: the finished task, or None if this worker did not own it
        (nothing changed then).
    """
    now = utils.utcnow()
    ttl = datetime.timedelta(hours=CONF.task.task_time_to_live)
    with transaction() as conn:
        task = _task_updated(conn, task_id, tasks.update().where(
            tasks.c.id == task_id, tasks.c.lease_owner == worker_id,
            tasks.c.status == c.TASK_PROCESSING).values(
                status=status, message=message, result=result,
                progress=progress, updated_at=now, expires_at=now + ttl,
                lease_expires_at=None))
        if task is not None:
            _release_lock(conn, task['image_id'], task_id)
            for statement in also:
                conn.execute(statement)
        return task


@retry_on_disconnect
def task_fail_pending(task_id, message, result):
    """End a task that never started (e.g. its image vanished)."""
    now = utils.utcnow()
    ttl = datetime.timedelta(hours=CONF.task.task_time_to_live)
    with single_statement() as conn:
        done = conn.execute(tasks.update().where(
            tasks.c.id == task_id, tasks.c.status == c.TASK_PENDING).values(
                status=c.TASK_FAILURE, message=message, result=result,
                updated_at=now, expires_at=now + ttl))
    return done.rowcount == 1


@retry_on_disconnect
def task_release_lease(task_id, worker_id):
    """Hand a running task back so that another worker takes it over now."""
    with single_statement() as conn:
        conn.execute(tasks.update().where(
            tasks.c.id == task_id, tasks.c.lease_owner == worker_id,
            tasks.c.status == c.TASK_PROCESSING).values(
                lease_expires_at=utils.utcnow()))


@retry_on_disconnect
def task_request_stop(task_id, reason):
    """Ask a live task to stop; the first reason given wins."""
    with single_statement() as conn:
        result = conn.execute(tasks.update().where(
            tasks.c.id == task_id, tasks.c.status.in_(c.TASK_LIVE),
            tasks.c.stop_reason.is_(None)).values(stop_reason=reason))
    return result.rowcount == 1


@retry_on_disconnect
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
    with single_statement(write=False) as conn:
        return [r.id for r in conn.execute(stmt)]


@retry_on_disconnect
def locks_of_finished_tasks():
    """(image_id, task_id) of locks naming a terminal or missing task."""
    stmt = (sa.select(props.c.image_id, props.c.value)
            .select_from(props.outerjoin(tasks, tasks.c.id == props.c.value))
            .where(props.c.name == c.PROP_IMPORT_TASK,
                   sa.or_(tasks.c.id.is_(None),
                          tasks.c.status.in_(c.TASK_TERMINAL))))
    with single_statement(write=False) as conn:
        return [(r.image_id, r.value) for r in conn.execute(stmt)]
