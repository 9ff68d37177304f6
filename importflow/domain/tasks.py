"""Show, list and abort import tasks."""

from importflow.common import constants as c
from importflow.common import exceptions
from importflow.common import policy
from importflow.db import api as db
from importflow.domain import images


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
    """Ask the import holding the image's lock to stop and revert."""
    images.get(context, image_id)
    policy.authorize(context, 'abort_import')
    task_id = db.lock_holder(image_id)
    if task_id is None or not db.task_request_stop(task_id, c.MSG_ABORTED):
        raise exceptions.Conflict('No import in progress for image %s'
                                  % image_id)
    return db.task_get(task_id)
