"""Create, show, stage and delete images."""

import errno
import json
import os
import shutil
import uuid

from oslo_log import log as logging
from sqlalchemy import exc as sa_exc

from importflow.common import constants as c
from importflow.common import exceptions
from importflow.common import policy
from importflow.conf import CONF
from importflow.db import api as db
from importflow import stores
from importflow.stores import staging

LOG = logging.getLogger(__name__)

DISK_FORMATS = ('ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2',
                'vdi', 'iso', 'ploop')
CONTAINER_FORMATS = ('ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker',
                     'compressed')
VISIBILITIES = ('public', 'private', 'shared', 'community')
_CREATE_FIELDS = ('id', 'name', 'disk_format', 'container_format',
                  'visibility', 'min_disk', 'min_ram', 'protected',
                  'os_hidden', 'tags')
_READ_ONLY = ('status', 'size', 'virtual_size', 'checksum', 'os_hash_algo',
              'os_hash_value', 'owner', 'created_at', 'updated_at',
              'locations', 'self', 'file', 'schema', 'stores', 'direct_url')


def check_reserved(names):
    for name in names:
        if name.startswith(c.RESERVED_PROPERTY_PREFIX):
            raise exceptions.Forbidden("Attribute '%s' is reserved." % name)


def _validate_formats(values):
    for attr, allowed in (('disk_format', DISK_FORMATS),
                          ('container_format', CONTAINER_FORMATS)):
        value = values.get(attr)
        if value is not None and value not in allowed:
            raise exceptions.BadRequest(
                "Invalid value '%s' for %s: must be one of %s"
                % (value, attr, ', '.join(allowed)))


def create(context, body):
    """Create a queued image from an Image API v2 create body."""
    if not isinstance(body, dict):
        raise exceptions.BadRequest('Image create body must be an object')
    for key in body:
        if key in _READ_ONLY:
            raise exceptions.Forbidden("Attribute '%s' is read-only." % key)
    properties = {k: v for k, v in body.items() if k not in _CREATE_FIELDS}
    check_reserved(properties)
    for name, value in properties.items():
        if not isinstance(value, str):
            raise exceptions.BadRequest(
                "Property '%s' must be a string" % name)
    values = {k: body[k] for k in _CREATE_FIELDS if k in body and k != 'tags'}
    _validate_formats(values)
    if values.get('visibility', 'shared') not in VISIBILITIES:
        raise exceptions.BadRequest('Invalid visibility %r'
                                    % values['visibility'])
    image_id = values.setdefault('id', str(uuid.uuid4()))
    try:
        uuid.UUID(image_id)
    except (ValueError, TypeError, AttributeError):
        raise exceptions.BadRequest('Image id %r is not a UUID' % image_id)
    values.update(status=c.QUEUED, owner=context.project_id)
    try:
        return db.image_create(values, properties, body.get('tags'))
    except sa_exc.IntegrityError:
        # The id is taken (deleted images keep their row), possibly by a
        # concurrent create: the primary key is the only check needed.
        raise exceptions.Conflict('Image with identifier %s already '
                                  'exists!' % image_id)


def get(context, image_id):
    """The image if the caller may see it, else ImageNotFound."""
    try:
        image = db.image_get(image_id)
    except exceptions.ImageNotFound:
        raise
    if not policy.allowed(context, 'get_image', policy.image_target(image)):
        raise exceptions.ImageNotFound(image_id)
    return image


def update_formats(context, image_id, values):
    """Users may change formats only while the image is queued."""
    image = get(context, image_id)
    policy.authorize(context, 'modify_image', policy.image_target(image))
    _validate_formats(values)
    if image['status'] != c.QUEUED:
        raise exceptions.Forbidden(
            'disk_format and container_format can only be changed while '
            'the image is queued (image %s is %s)'
            % (image_id, image['status']))
    return db.image_update_user(image_id, values=values,
                                expected_status=[c.QUEUED])


def delete(context, image_id):
    """Delete an image, its staging files and every stored copy.

    A running import sees the deletion at its next check and stops.
    """
    image = get(context, image_id)
    policy.authorize(context, 'delete_image', policy.image_target(image))
    if image['protected']:
        raise exceptions.Forbidden('Image %s is protected and cannot be '
                                   'deleted.' % image_id)
    gone = db.image_mark_deleted(image_id)
    staging.remove_all(image_id)
    for loc in gone['locations']:
        store_id = stores.location_store(loc)
        try:
            stores.delete(store_id, loc['url'])
        except Exception as exc:
            LOG.error('Image %s: could not delete %s from store %s: %s',
                      image_id, loc['url'], stores.store_key(store_id), exc)
    return gone


def stage(context, image_id, data, declared_size=None):
    """PUT /stage: stream ``data`` (file-like) into staging.

    Checks apply in the order of import-semantics 4.2 (the media type is the
    API's to check). Any failure after streaming starts removes the partial
    data and returns the image to queued.
    """
    if c.GLANCE_DIRECT not in CONF.enabled_import_methods:
        raise exceptions.NotFound('The glance-direct import method is not '
                                  'enabled')
    image = get(context, image_id)
    policy.authorize(context, 'modify_image', policy.image_target(image))
    if image['status'] != c.QUEUED:
        raise exceptions.Conflict('Image %s has status %s; staging needs '
                                  'queued' % (image_id, image['status']))
    if staging.size_of(image_id) is not None:
        raise exceptions.Conflict('Image %s already has staged data'
                                  % image_id)
    cap = CONF.image_size_cap
    if declared_size is not None and declared_size > cap:
        raise exceptions.RequestEntityTooLarge(
            'Image size %d exceeds image_size_cap of %d bytes'
            % (declared_size, cap))
    if declared_size is not None:
        _check_staging_space(declared_size)
    db.image_save(image_id, expected_status=[c.QUEUED],
                  values={'status': c.UPLOADING})
    path = staging.path(image_id)
    try:
        written = _write_capped(data, path, cap)
        if declared_size is not None and written != declared_size:
            raise exceptions.BadRequest(
                'Staged %d bytes but x-openstack-image-size declared %d'
                % (written, declared_size))
        db.image_save(image_id, expected_status=[c.UPLOADING],
                      values={'size': written})
    except BaseException:
        staging.remove(path)
        try:
            db.image_save(image_id, expected_status=[c.UPLOADING],
                          values={'status': c.QUEUED, 'size': None})
        except exceptions.ImportflowError as exc:
            LOG.warning('Image %s: could not return to queued: %s',
                        image_id, exc)
        raise
    return db.image_get(image_id)


def _check_staging_space(needed):
    """Refuse a stage of known size that cannot fit in staging (413),
    before anything changes (import-semantics 4.2 check 9, issue 5)."""
    free = shutil.disk_usage(stores.staging_dir()).free
    if needed > free:
        raise exceptions.RequestEntityTooLarge(
            'Staging area has %d bytes free, image needs %d'
            % (free, needed))


def _write_capped(data, path, cap):
    chunk_size = CONF.image_import_opts.staging_chunk_size
    written = 0
    try:
        with open(path, 'xb') as out:
            while True:
                chunk = data.read(chunk_size)
                if not chunk:
                    return written
                written += len(chunk)
                if written > cap:
                    raise exceptions.RequestEntityTooLarge(
                        'Image data exceeds image_size_cap of %d bytes' % cap)
                out.write(chunk)
    except FileExistsError:
        raise exceptions.Conflict('Image already has staged data')
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise exceptions.RequestEntityTooLarge(
                'Staging area is full: %s' % os.strerror(exc.errno))
        raise


# ------------------------------------------------ Image API v2 additions

# Attributes a user may set, with the JSON types the image schema allows.
_WRITABLE_CORE = ('name', 'visibility', 'protected', 'os_hidden', 'min_disk',
                  'min_ram', 'disk_format', 'container_format', 'tags')
_FORMAT_ATTRS = ('disk_format', 'container_format')
MAX_NAME_LENGTH = 255
# min_disk and min_ram are 32-bit INTEGER columns (as in Glance).
MAX_INT32 = 2 ** 31 - 1


def _invalid(attr, value, why):
    return exceptions.BadRequest("Invalid value %s for '%s': %s"
                                 % (_json_repr(value), attr, why))


def _json_repr(value):
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def check_core_value(attr, value):
    """Type and range of a writable core attribute; raises BadRequest."""
    if attr == 'name':
        if value is not None and not isinstance(value, str):
            raise _invalid(attr, value, 'must be a string or null')
        if value is not None and len(value) > MAX_NAME_LENGTH:
            raise _invalid(attr, value, 'longer than %d characters'
                           % MAX_NAME_LENGTH)
    elif attr == 'visibility':
        if value not in VISIBILITIES:
            raise _invalid(attr, value, 'must be one of %s'
                           % ', '.join(VISIBILITIES))
    elif attr in ('protected', 'os_hidden'):
        if not isinstance(value, bool):
            raise _invalid(attr, value, 'must be a boolean')
    elif attr in ('min_disk', 'min_ram'):
        if isinstance(value, bool) or not isinstance(value, int) \
                or not 0 <= value <= MAX_INT32:
            raise _invalid(attr, value, 'must be an integer from 0 to %d'
                           % MAX_INT32)
    elif attr in _FORMAT_ATTRS:
        if value is not None and not isinstance(value, str):
            raise _invalid(attr, value, 'must be a string or null')
        _validate_formats({attr: value})
    elif attr == 'tags':
        if not isinstance(value, list) or not all(
                isinstance(t, str) and 0 < len(t) <= 255 for t in value):
            raise _invalid(attr, value, 'must be an array of strings of '
                           '1 to 255 characters')
    elif attr == 'id':
        if not isinstance(value, str):
            raise _invalid(attr, value, 'must be a UUID string')


def check_property(name, value):
    """A user property: not reserved, a string value; raises."""
    check_reserved([name])
    if len(name) > 255:
        raise exceptions.BadRequest("Property name '%s...' is longer than "
                                    "255 characters" % name[:32])
    if not isinstance(value, str):
        raise exceptions.BadRequest("Property '%s' must be a string" % name)


def validate_create_body(body):
    """The checks of ``create`` in its order, plus the types of the core
    attributes that ``create`` stores as given (400 instead of a database
    error)."""
    if not isinstance(body, dict):
        raise exceptions.BadRequest('Image create body must be an object')
    for key in body:
        if key in _READ_ONLY:
            raise exceptions.Forbidden("Attribute '%s' is read-only." % key)
    check_reserved([k for k in body if k not in _CREATE_FIELDS])
    for key, value in body.items():
        if key in _CREATE_FIELDS:
            check_core_value(key, value)


def list_images(context, filters=None, sort=(('created_at', 'desc'),),
                limit=None, marker=None, visibility=None):
    """A page of the images the caller may see.

    :param filters: as db.image_list_page; ``os_hidden`` defaults to False
        (hidden images are listed only when asked for).
    :returns: (images, next_marker); next_marker is None on the last page.
    """
    filters = dict(filters or {})
    filters.setdefault('os_hidden', False)
    for key, direction in sort:
        if key not in db.IMAGE_SORT_KEYS:
            raise exceptions.BadRequest(
                'Invalid sort key: %s. It should be one of the following: '
                '%s' % (key, ', '.join(db.IMAGE_SORT_KEYS)))
        if direction not in ('asc', 'desc'):
            raise exceptions.BadRequest(
                'Invalid sort direction: %s. It should be asc or desc'
                % direction)
    if visibility is not None and visibility != 'all' and \
            visibility not in VISIBILITIES:
        raise exceptions.BadRequest(
            'Invalid visibility value: %s. It should be one of %s, all'
            % (visibility, ', '.join(VISIBILITIES)))
    if marker is not None:
        try:
            get(context, marker)
        except exceptions.ImageNotFound:
            raise exceptions.BadRequest('Invalid marker. Image %s could not '
                                        'be found.' % marker)
    admin = policy.allowed(context, 'context_is_admin')
    try:
        rows, more = db.image_list_page(
            filters, sort=sort, limit=limit, marker=marker,
            visibility=visibility,
            project_id=None if admin else context.project_id)
    except exceptions.ImageNotFound:
        raise exceptions.BadRequest('Invalid marker. Image %s could not '
                                    'be found.' % marker)
    visible = [i for i in rows
               if policy.allowed(context, 'get_image',
                                 policy.image_target(i))]
    return visible, (rows[-1]['id'] if more and rows else None)


PATCH_OPS = ('add', 'replace', 'remove')


def check_patch_target(attr):
    """An attribute a JSON-patch may name; raises Forbidden."""
    if attr in _READ_ONLY or attr == 'id':
        raise exceptions.Forbidden("Attribute '%s' is read-only." % attr)
    check_reserved([attr])


def patch(context, image_id, changes, add_replaces=True):
    """Apply a JSON-patch to an image (PATCH /v2/images/{id}).

    :param changes: (op, attribute, value) in request order; op is add,
        replace or remove; value is None for remove.
    :param add_replaces: True for the v2.1 media type, where ``add`` of an
        existing attribute replaces it; False (v2.0) makes it a conflict.
    :returns: the updated image.
    """
    for op, attr, _value in changes:
        if op not in PATCH_OPS:
            raise exceptions.BadRequest('Invalid operation: %s' % op)
        check_patch_target(attr)
    image = get(context, image_id)
    policy.authorize(context, 'modify_image', policy.image_target(image))
    values, tags_ = {}, None
    props = dict(image['properties'])
    set_props, removed = {}, set()
    must_exist, must_not_exist = set(), set()
    for op, attr, value in changes:
        if attr in _WRITABLE_CORE:
            if op == 'remove':
                raise exceptions.Forbidden(
                    "Attribute '%s' cannot be removed." % attr)
            if op == 'add' and not add_replaces:
                raise exceptions.Conflict('Property %s already present.'
                                          % attr)
            check_core_value(attr, value)
            if attr == 'tags':
                tags_ = list(value)
            else:
                values[attr] = value
            continue
        original = attr in image['properties']
        if op == 'remove' or op == 'replace':
            if attr not in props:
                raise exceptions.Conflict('Property %s does not exist.'
                                          % attr)
            if original and attr not in set_props and attr not in removed:
                must_exist.add(attr)
        elif not add_replaces and attr in props:
            raise exceptions.Conflict('Property %s already present.' % attr)
        elif not add_replaces and not original:
            must_not_exist.add(attr)
        if op == 'remove':
            props.pop(attr)
            set_props.pop(attr, None)
            removed.add(attr)
        else:
            check_property(attr, value)
            props[attr] = value
            set_props[attr] = value
            removed.discard(attr)
    expected = None
    if any(a in values for a in _FORMAT_ATTRS):
        if image['status'] != c.QUEUED:
            raise exceptions.Forbidden(
                'disk_format and container_format can only be changed while '
                'the image is queued (image %s is %s)'
                % (image_id, image['status']))
        expected = [c.QUEUED]
    return db.image_patch(image_id, values=values, set_props=set_props,
                          remove_props=sorted(removed & set(
                              image['properties'])),
                          tags_=tags_, expected_status=expected,
                          must_exist=sorted(must_exist),
                          must_not_exist=sorted(must_not_exist))


def authorize_stage(context, image_id):
    """Checks 1 to 3 of import-semantics 4.2, for an API that must check
    the media type (check 4) before ``stage`` checks the rest."""
    if c.GLANCE_DIRECT not in CONF.enabled_import_methods:
        raise exceptions.NotFound('The glance-direct import method is not '
                                  'enabled')
    image = get(context, image_id)
    policy.authorize(context, 'modify_image', policy.image_target(image))
    return image
