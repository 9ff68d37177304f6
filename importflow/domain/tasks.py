"""Show, list and abort import tasks."""

from importflow.common import constants as c
from importflow.common import exceptions
from importflow.common import policy
from importflow.db import api as db
from importflow.domain import images
from importflow.worker import runner


def get(context, task_id):
    task = db.task_get(task_id)
    if not (policy.allowed(context, 'context_is_admin')
            or task['owner'] == context.project_id):
        raise exceptions.TaskNotFound(task_id)
    return task


def list_for_image(context, image_id):
    images.get(context, image_id)
    owner = None if policy.allowed(context, 'context_is_admin') \
        else context.project_id
    return db.task_list(image_id=image_id, owner=owner)


def list_all(context):
    owner = None if policy.allowed(context, 'context_is_admin') \
        else context.project_id
    return db.task_list(owner=owner)


def abort(context, image_id):
    """Stop the import holding the image's lock; it reverts (or, after a
    commit, ends successfully with its uncommitted stores cancelled)."""
    images.get(context, image_id)
    policy.authorize(context, 'abort_import')
    task_id = db.lock_holder(image_id)
    try:
        task = db.task_get(task_id) if task_id else None
    except exceptions.TaskNotFound:
        task = None
    if task is None or task['status'] not in c.TASK_LIVE:
        raise exceptions.Conflict('No import in progress for image %s'
                                  % image_id)
    return runner.stop_task(task_id, c.MSG_ABORTED)
