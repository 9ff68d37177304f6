"""Every store read, write and delete goes through here, via glance_store.

Helpers are idempotent: ``put`` removes a crash left-over of the same image
before writing, ``delete`` treats "not found" as done. A store is always
named: two file stores are otherwise ambiguous (stack-notes.md).
"""

import os

import glance_store
from glance_store import capabilities
from glance_store import exceptions as gs_exc
from glance_store import multi_backend
from oslo_log import log as logging

from importflow.common import constants as c
from importflow.common import exceptions
from importflow.conf import CONF
from importflow import conf as importflow_conf

LOG = logging.getLogger(__name__)

_STATE = {'configured': False, 'multi': False, 'stores': ()}


def is_multi_store():
    """True when [DEFAULT] enabled_backends names the stores."""
    return _STATE['multi']


def configure():
    """Register glance_store options, create the stores and check them.

    Refuses to start (ConfigError) on a reserved user store id, an unknown,
    reserved or read-only default store, or a store that cannot be written.
    """
    if _STATE['configured']:
        return
    backends = CONF.enabled_backends
    if backends:
        _configure_multi(dict(backends))
    else:
        _configure_single()
    _STATE['configured'] = True
    os.makedirs(staging_dir(), exist_ok=True)


def _configure_multi(backends):
    for store_id in backends:
        if store_id.startswith(c.RESERVED_STORE_PREFIX):
            raise exceptions.ConfigError(
                "Store identifier '%s' is reserved: ids starting with %s are "
                "internal" % (store_id, c.RESERVED_STORE_PREFIX))
    reserved = {c.STAGING_STORE: 'file', c.TASKS_STORE: 'file'}
    multi_backend.register_store_opts(CONF, reserved_stores=reserved)
    if importflow_conf.is_embedded():
        # No configuration file exists to shadow; overrides, because
        # glance_store re-registers driver options (and their defaults)
        # when it loads a store.
        for store_id in backends:
            CONF.set_override('filesystem_store_datadir',
                              importflow_conf.state_file('stores', store_id),
                              group=store_id)
            CONF.set_override('filesystem_store_chunk_size',
                              CONF.image_import_opts.copy_chunk_size,
                              group=store_id)
        CONF.set_override('default_backend', next(iter(backends)),
                          group='glance_store')
    default = CONF.glance_store.default_backend
    if not default or default not in backends:
        raise exceptions.ConfigError(
            '[glance_store] default_backend must name one of the enabled '
            'backends (%s); got %r' % (', '.join(backends), default))
    if backends[default] in c.READ_ONLY_STORE_TYPES:
        raise exceptions.ConfigError(
            "[glance_store] default_backend '%s' is read-only" % default)
    for store_id, store_type in backends.items():
        if store_type == 'file':
            os.makedirs(CONF[store_id].filesystem_store_datadir,
                        exist_ok=True)
    try:
        multi_backend.create_multi_stores(CONF, reserved_stores=reserved)
        multi_backend.verify_store()
    except gs_exc.GlanceStoreException as exc:
        raise exceptions.ConfigError('Store configuration is invalid: %s'
                                     % exc)
    _STATE['multi'] = True
    _STATE['stores'] = tuple(backends)
    for store_id in writable_store_ids():
        _check_writable(store_id)


def _configure_single():
    glance_store.register_opts(CONF)
    if importflow_conf.is_embedded():
        CONF.set_override('filesystem_store_datadir',
                          importflow_conf.state_file('images'),
                          group='glance_store')
    store_cfg = CONF.glance_store
    if 'file' in store_cfg.stores and store_cfg.default_store == 'file':
        os.makedirs(store_cfg.filesystem_store_datadir, exist_ok=True)
    try:
        glance_store.create_stores(CONF)
        glance_store.verify_default_store()
    except gs_exc.GlanceStoreException as exc:
        raise exceptions.ConfigError('Store configuration is invalid: %s'
                                     % exc)
    _STATE['multi'] = False
    _STATE['stores'] = (None,)


def _driver(store_id):
    if store_id is None:
        return glance_store.backend.get_store_from_scheme(
            CONF.glance_store.default_store)
    return multi_backend.get_store_from_store_identifier(store_id)


def _check_writable(store_id):
    """A misconfigured store only fails at its first add: check it now."""
    datadir = getattr(_driver(store_id), 'datadir', None)
    if datadir and not os.access(datadir, os.W_OK | os.X_OK):
        raise exceptions.ConfigError(
            "Store '%s' cannot be written: no write access to %s"
            % (store_id, datadir))


def staging_dir():
    if is_multi_store():
        # glance_store re-registers this option with no default when it
        # loads the reserved store, so the state folder is the fallback.
        return (CONF[c.STAGING_STORE].filesystem_store_datadir or
                importflow_conf.state_file('staging'))
    uri = CONF.node_staging_uri
    if not uri.startswith('file://'):
        raise exceptions.ConfigError(
            'node_staging_uri must be a file:// URI, got %s' % uri)
    return uri[len('file://'):]


def store_ids():
    """User stores in configuration order (single-store mode: [None])."""
    return list(_STATE['stores'])


def default_store():
    return CONF.glance_store.default_backend if is_multi_store() else None


def store_type(store_id):
    return CONF.enabled_backends[store_id] if store_id else \
        CONF.glance_store.default_store


def is_known(store_id):
    return store_id in _STATE['stores']


def is_read_only(store_id):
    if store_type(store_id) in c.READ_ONLY_STORE_TYPES:
        return True
    return not _driver(store_id).is_capable(
        capabilities.BitMasks.WRITE_ACCESS)


def writable_store_ids():
    return [s for s in store_ids() if not is_read_only(s)]


def store_key(store_id):
    """Key of a store in task result and progress maps."""
    return store_id or c.SINGLE_STORE_KEY


def describe(store_id):
    """Discovery view of one store (import-semantics section 14)."""
    group = CONF[store_id] if store_id else CONF.glance_store
    view = {'id': store_key(store_id), 'type': store_type(store_id),
            'weight': getattr(group, 'weight', 0) or 0,
            'default': store_id == default_store(),
            'read-only': is_read_only(store_id)}
    description = getattr(group, 'store_description', None)
    if description:
        view['description'] = description
    driver = _driver(store_id)
    if view['type'] == 'file':
        view['properties'] = {
            'data_dir': getattr(driver, 'datadir', None),
            'chunk_size': getattr(driver, 'chunk_size', None),
            'thin_provisioning': getattr(driver, 'thin_provisioning', False)}
    else:
        view['properties'] = {}
    return view


class StoredObject(dict):
    """What a write produced: url, size, checksum, os_hash_value, meta."""


def put(store_id, image_id, data, size=0):
    """Write ``data`` (a file-like object) as ``image_id`` into a store.

    A left-over object of the same image (a crash mid-write) is deleted and
    the write retried once.
    """
    algo = CONF.hashing_algorithm
    for attempt in (1, 2):
        try:
            if store_id is None:
                url, written, md5, multihash, meta = \
                    glance_store.add_to_backend_with_multihash(
                        CONF, image_id, data, size, algo)
            else:
                url, written, md5, multihash, meta = \
                    multi_backend.add_with_multihash(
                        CONF, image_id, data, size, store_id, algo)
            return StoredObject(url=url, size=written, checksum=md5,
                                os_hash_value=multihash,
                                meta_data=dict(meta or {}))
        except gs_exc.Duplicate:
            if attempt == 2 or not delete_leftover(store_id, image_id):
                raise
            if hasattr(data, 'seek'):
                data.seek(0)


def leftover_url(store_id, image_id):
    """Where a crashed write of this image would have left an object.

    Known for stores whose object names derive from the image id (file);
    None for others.
    """
    datadir = getattr(_driver(store_id), 'datadir', None)
    if datadir:
        return 'file://' + os.path.join(datadir, image_id)
    return None


def delete_leftover(store_id, image_id):
    """Delete an object of this image that no location points to.

    :returns: True if something was deleted.
    """
    url = leftover_url(store_id, image_id)
    # A missing object counts as deleted. Ask first: a store that cannot be
    # listed (e.g. its data directory is gone) has no left-over either, but
    # its driver reports the unlink failure as Forbidden, not NotFound.
    if url is None or not exists(store_id, url) or \
            not delete(store_id, url):
        return False
    LOG.warning('Image %s: deleted left-over object %s in store %s',
                image_id, url, store_key(store_id))
    return True


def delete(store_id, url):
    """Delete an object; "not found" counts as deleted.

    :returns: True if an object was removed, False if it was already gone.
    """
    try:
        if store_id is None:
            glance_store.delete_from_backend(url)
        else:
            multi_backend.delete(url, store_id)
        return True
    except gs_exc.NotFound:
        return False


def exists(store_id, url):
    try:
        get_size(store_id, url)
        return True
    except gs_exc.NotFound:
        return False


def get_size(store_id, url):
    if store_id is None:
        return glance_store.get_size_from_backend(url)
    return multi_backend.get_size_from_uri_and_backend(url, store_id)


def get(store_id, url, offset=0, length=None):
    """(iterator of chunks, size) of a stored object, or of ``length`` bytes
    of it from ``offset`` (glance_store calls that length ``chunk_size``;
    its chunks have the store's own chunk size)."""
    if store_id is None:
        return glance_store.get_from_backend(url, offset=offset,
                                             chunk_size=length)
    return multi_backend.get(url, store_id, offset=offset,
                             chunk_size=length)


def location_store(location):
    """Store id of a DB location row (None in single-store mode)."""
    return location.get('store') or None

