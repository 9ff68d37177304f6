"""Abort and lock busting when no worker runs the task (10.4, 10.5)."""

import io
import time

import pytest

from importflow.common import constants as c
from importflow.common import exceptions
from importflow.common import policy
from importflow.conf import CONF
from importflow.db import api as db
from importflow.domain import images
from importflow.domain import imports
from importflow.domain import tasks
from importflow.stores import staging


@pytest.fixture
def ctx(env):
    return policy.local_context()


def _pending_import(ctx):
    """A staged image whose import task no worker picks up (no worker)."""
    image = images.create(ctx, {'name': 'x', 'disk_format': 'raw',
                                'container_format': 'bare'})
    images.stage(ctx, image['id'], io.BytesIO(b'x' * 4096))
    task = imports.accept(ctx, image['id'], {'method': {'name':
                                                        c.GLANCE_DIRECT}})
    assert db.task_get(task['id'])['status'] == c.TASK_PENDING
    return image['id'], task['id']


def test_abort_reverts_a_task_no_worker_runs(ctx):
    image_id, task_id = _pending_import(ctx)
    ended = tasks.abort(ctx, image_id)
    assert ended['id'] == task_id
    assert ended['status'] == c.TASK_FAILURE
    assert ended['message'] == c.MSG_ABORTED
    image = db.image_get(image_id)
    assert image['status'] == c.UPLOADING
    assert c.PROP_IMPORT_TASK not in image['properties']
    assert staging.size_of(image_id) == 4096
    with pytest.raises(exceptions.Conflict):
        tasks.abort(ctx, image_id)


def test_fresh_lock_is_not_busted(ctx):
    image_id, task_id = _pending_import(ctx)
    with pytest.raises(exceptions.Conflict) as info:
        imports.accept(ctx, image_id, {'method': {'name': c.GLANCE_DIRECT}})
    assert str(info.value) == 'Image has active task'
    assert db.lock_holder(image_id) == task_id


def test_stale_lock_is_busted_by_a_valid_request(ctx):
    CONF.set_override('import_lock_expiry', 1, group='image_import_opts')
    try:
        image_id, old_id = _pending_import(ctx)
        time.sleep(2.1)   # pending: stale after twice the expiry
        # A request failing another check leaves the stale lock alone.
        with pytest.raises(exceptions.BadRequest):
            imports.accept(ctx, image_id, {'method': {'name':
                                                      c.GLANCE_DIRECT},
                                           'stores': []})
        assert db.lock_holder(image_id) == old_id
        new = imports.accept(ctx, image_id, {'method': {'name':
                                                        c.GLANCE_DIRECT}})
    finally:
        CONF.clear_override('import_lock_expiry', group='image_import_opts')
    old = db.task_get(old_id)
    assert old['status'] == c.TASK_FAILURE
    assert old['message'] == c.MSG_LOCK_BUSTED
    assert db.lock_holder(image_id) == new['id']
    assert db.task_get(new['id'])['status'] == c.TASK_PENDING


def test_lock_of_a_missing_task_is_stale(ctx):
    image_id, old_id = _pending_import(ctx)
    with db.transaction() as conn:
        conn.execute(db.tasks.delete().where(db.tasks.c.id == old_id))
    new = imports.accept(ctx, image_id, {'method': {'name':
                                                    c.GLANCE_DIRECT}})
    assert db.lock_holder(image_id) == new['id']
