"""The staging area: plain files named after the image id.

``<id>`` holds staged or downloaded data; plugins write derived files
``<id>.<suffix>`` and never touch ``<id>`` before commit.
"""

import os
import re

from oslo_log import log as logging

from importflow import stores

LOG = logging.getLogger(__name__)

_UUID_PREFIX = re.compile(
    r'^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})',
    re.IGNORECASE)


def path(image_id, suffix=None):
    name = image_id if suffix is None else '%s.%s' % (image_id, suffix)
    return os.path.join(stores.staging_dir(), name)


def size_of(image_id):
    """Bytes staged for the image, or None if nothing is staged."""
    try:
        return os.path.getsize(path(image_id))
    except FileNotFoundError:
        return None


def remove(file_path):
    """Delete one staging file; a missing file counts as deleted."""
    try:
        os.unlink(file_path)
        return True
    except FileNotFoundError:
        return False


def remove_all(image_id, keep_original=False):
    """Delete every staging file of an image (optionally not ``<id>``)."""
    removed = []
    for name in _names():
        if name == image_id and keep_original:
            continue
        if name == image_id or name.startswith(image_id + '.'):
            if remove(os.path.join(stores.staging_dir(), name)):
                removed.append(name)
    if removed:
        LOG.debug('Image %s: removed staging files %s', image_id, removed)
    return removed


def remove_derived(image_id):
    return remove_all(image_id, keep_original=True)


def _names():
    try:
        return os.listdir(stores.staging_dir())
    except FileNotFoundError:
        return []


def image_files():
    """(image_id, file name) of every file whose name starts with a UUID."""
    for name in _names():
        match = _UUID_PREFIX.match(name)
        if match:
            yield match.group(1).lower(), name
