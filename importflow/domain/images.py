"""Create, show, stage and delete images."""

import errno
import os
import uuid

from oslo_log import log as logging

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
    return db.image_create(values, properties, body.get('tags'))


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


def _write_capped(data, path, cap):
    chunk_size = CONF.image_import_opts.copy_chunk_size
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
