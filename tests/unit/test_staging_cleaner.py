"""The staging cleaner keeps live data only (import-semantics section 11)."""

import io
import os
import uuid

from importflow.common import policy
from importflow.domain import images
from importflow.domain import imports
from importflow import stores
from importflow.stores import staging
from importflow.worker import staging_cleaner


def _touch(name):
    with open(staging.path(name), 'wb') as f:
        f.write(b'x')


def test_cleaner_keeps_live_files_and_removes_the_rest(env):
    ctx = policy.local_context()
    raw = {'disk_format': 'raw', 'container_format': 'bare'}
    # an upload in progress: the image is 'uploading', its <id> file stays
    uploading = images.create(ctx, dict(raw, name='up'))
    images.stage(ctx, uploading['id'], io.BytesIO(b'data'))
    _touch(uploading['id'] + '.uc')          # derived file: not live
    # an import in progress (pending task holds the lock): all files stay
    importing = images.create(ctx, dict(raw, name='imp'))
    images.stage(ctx, importing['id'], io.BytesIO(b'data'))
    imports.accept(ctx, importing['id'], {'method': {'name':
                                                     'glance-direct'}})
    _touch(importing['id'] + '.qcow2')
    # a queued image has no business in staging
    queued = images.create(ctx, dict(raw, name='q'))
    _touch(queued['id'])
    orphan = str(uuid.uuid4())               # no such image
    _touch(orphan)
    _touch('not-an-image-file')              # ignored: no UUID prefix

    removed = staging_cleaner.clean()

    assert sorted(removed) == sorted([uploading['id'] + '.uc', queued['id'],
                                      orphan])
    assert sorted(os.listdir(stores.staging_dir())) == sorted([
        uploading['id'], importing['id'], importing['id'] + '.qcow2',
        'not-an-image-file'])
