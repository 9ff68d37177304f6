"""CopyToStaging (copy-image): bring an active image's data into staging."""

import hashlib
import os

from glance_store import exceptions as gs_exc
from oslo_log import log as logging

from importflow.common import constants as c
from importflow.common import exceptions
from importflow.conf import CONF
from importflow import stores
from importflow.stores import staging
from importflow.tasks import base
from importflow.tasks import streaming

LOG = logging.getLogger(__name__)


class _HashingReader:
    """Reads from an iterator of chunks while hashing them."""

    def __init__(self, chunks, hasher):
        self._chunks = iter(chunks)
        self._hasher = hasher

    def read(self, size=-1):
        chunk = next(self._chunks, b'')
        self._hasher.update(chunk)
        return chunk


class CopyToStaging(base.ImportTask):

    def __init__(self, task_id, image_id):
        super().__init__(task_id, image_id, name='copy-to-staging')

    def execute(self):
        self.runtime.check()
        image = self.load_image()
        path = staging.path(self.image_id)
        progress = self.runtime.progress
        progress.enter(c.PHASE_COPY_TO_STAGING)
        counter = progress.phases[c.PHASE_COPY_TO_STAGING]
        counter.bytes_total = image['size']
        if image['size'] > CONF.image_size_cap:
            raise exceptions.SizeCapExceeded('copy-image',
                                             CONF.image_size_cap)
        if self._leftover_matches(path, image):
            counter.bytes_done = image['size']
            progress.finish_phase(c.PHASE_COPY_TO_STAGING)
            return
        errors = []
        for loc in _ordered_locations(image):
            store_id = stores.location_store(loc)
            try:
                chunks, _size = stores.get(store_id, loc['url'])
            except gs_exc.NotFound:
                errors.append('%s: not found' % stores.store_key(store_id))
                continue
            hasher = hashlib.new(image['os_hash_algo'] or
                                 CONF.hashing_algorithm)
            reader = streaming.MeteredReader(
                _HashingReader(chunks, hasher), counter, CONF.image_size_cap,
                'copy-image', self.runtime.check)
            written = streaming.stream_to_file(
                reader, path, CONF.image_import_opts.staging_chunk_size)
            self._verify(path, image, written, hasher.hexdigest(), store_id)
            progress.finish_phase(c.PHASE_COPY_TO_STAGING)
            return
        raise exceptions.ImportFailed(
            'copy-image failed: Image not found in any configured store (%s)'
            % '; '.join(errors), phase='copy-image')

    def _verify(self, path, image, written, digest, store_id):
        problem = None
        if written != image['size']:
            problem = ('read %d bytes from store %s, image size is %d'
                       % (written, stores.store_key(store_id), image['size']))
        elif image['os_hash_value'] and digest != image['os_hash_value']:
            problem = ('data read from store %s does not match the image '
                       'os_hash_value' % stores.store_key(store_id))
        if problem:
            staging.remove(path)
            raise exceptions.ImportFailed('copy-image failed: ' + problem,
                                          phase='copy-image')

    def _leftover_matches(self, path, image):
        """A file left by an earlier attempt is reused only if it is whole."""
        if os.path.exists(path):
            if os.path.getsize(path) == image['size'] and \
                    _file_digest(path, image) == image['os_hash_value']:
                return True
            staging.remove(path)
        return False

    def revert(self, result, flow_failures, **kwargs):
        if self.revert_allowed():
            staging.remove(staging.path(self.image_id))


def _ordered_locations(image):
    """The default store's copy first, then the others in order."""
    default = stores.default_store()
    locs = image['locations']
    return ([loc for loc in locs if (loc['store'] or None) == default] +
            [loc for loc in locs if (loc['store'] or None) != default])


def _file_digest(path, image):
    hasher = hashlib.new(image['os_hash_algo'] or CONF.hashing_algorithm)
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(CONF.image_import_opts
                                         .copy_chunk_size), b''):
            hasher.update(chunk)
    return hasher.hexdigest()
