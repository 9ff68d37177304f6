"""Accept an import request: validate in the contract's order, create the
task and take the lock atomically, then ring the doorbell."""

import uuid

from oslo_log import log as logging

from importflow.common import constants as c
from importflow.common import exceptions
from importflow.common import policy
from importflow.common import utils
from importflow.conf import CONF
from importflow.db import api as db
from importflow.domain import images
from importflow import methods
from importflow.rpc import client as rpc_client
from importflow.rpc import notifier
from importflow import stores
from importflow.worker import runner

LOG = logging.getLogger(__name__)


def _bad(message):
    return exceptions.BadRequest(message)


def _check_body(body):
    """Checks 1 to 5: the body's shape."""
    if not isinstance(body, dict) or not isinstance(body.get('method'), dict):
        raise _bad("Import request requires a 'method' field.")
    name = body['method'].get('name')
    if name is None:
        raise _bad("Import request requires a 'name' field.")
    if name not in CONF.enabled_import_methods:
        raise _bad("Unknown import method name '%s'." % name)
    for flag in ('all_stores_must_succeed', 'all_stores'):
        if flag in body and not isinstance(body[flag], bool):
            raise _bad("'%s' must be a JSON boolean, got %r"
                       % (flag, body[flag]))
    return name


def _check_image(context, image, method_name, method):
    """Checks 8 to 15: status, formats, policy, lock."""
    if image['status'] == c.ACTIVE and method_name != c.COPY_IMAGE:
        raise exceptions.Conflict('Image with status active cannot be '
                                  'target for import')
    method.check_status(image)
    for attr in ('container_format', 'disk_format'):
        if not image[attr]:
            raise exceptions.Conflict("'%s' needs to be set before import"
                                      % attr)
    rule = 'copy_image' if method_name == c.COPY_IMAGE else 'modify_image'
    policy.authorize(context, rule, policy.image_target(image))
    holder = image['properties'].get(c.PROP_IMPORT_TASK)
    if holder is not None and not _is_stale(holder):
        raise exceptions.Conflict('Image has active task')
    return holder


def _is_stale(task_id):
    """A lock may be busted when its task is gone or long idle (10.4)."""
    try:
        task = db.task_get(task_id)
    except exceptions.TaskNotFound:
        return True
    expiry = CONF.image_import_opts.import_lock_expiry
    if task['status'] == c.TASK_PENDING:
        expiry *= 2
    idle = (utils.utcnow() - task['updated_at']).total_seconds()
    return task['status'] in c.TASK_TERMINAL or idle >= expiry


def _bust(image_id, task_id, context, method):
    """End the stale lock's task, then re-check the image it left."""
    LOG.warning('Image %s: busting stale lock of task %s', image_id,
                task_id)
    try:
        runner.stop_task(task_id, c.MSG_LOCK_BUSTED)
    except exceptions.TaskNotFound:
        pass
    db.lock_release(image_id, task_id)
    image = images.get(context, image_id)
    method.check_status(image)
    return image


def _resolve_targets(body, store_header, image, method_name):
    """Checks 16 to 25 and section 5: the task's target stores."""
    if not stores.is_multi_store():
        if body.get('all_stores_must_succeed') is False:
            raise _bad('all_stores_must_succeed: false needs several stores '
                       '(single-store mode)')
        return [None]
    requested = body.get('stores')
    if body.get('all_stores') and (requested is not None or store_header):
        raise _bad("'all_stores' cannot be combined with 'stores' or "
                   "X-Image-Meta-Store")
    if requested is not None and store_header:
        raise _bad("'stores' and X-Image-Meta-Store cannot both be given")
    if requested is not None:
        if not isinstance(requested, list) or not all(
                isinstance(s, str) for s in requested):
            raise _bad("'stores' must be an array of store ids")
        if not requested:
            raise _bad("'stores' must not be empty")
        dupes = sorted({s for s in requested if requested.count(s) > 1})
        if dupes:
            raise _bad("'stores' lists %s more than once" % ', '.join(dupes))
    elif store_header:
        requested = [store_header]
    holding = {loc['store'] for loc in image['locations']}
    if requested is not None:
        for store_id in requested:
            if not stores.is_known(store_id):
                raise exceptions.Conflict(
                    'Store for identifier %s not found' % store_id)
        for store_id in requested:
            if stores.is_read_only(store_id):
                raise exceptions.Conflict('Store %s is read-only' % store_id)
        targets = list(requested)
    elif body.get('all_stores'):
        targets = stores.writable_store_ids()
        if method_name == c.COPY_IMAGE:
            targets = [s for s in targets if s not in holding]
            if not targets:
                return []   # check 23: nothing to do
    else:
        targets = [stores.default_store()]
    if method_name == c.COPY_IMAGE:
        for store_id in targets:
            if store_id in holding:
                raise _bad("Image is already present at store '%s'"
                           % store_id)
    return targets


def accept(context, image_id, body, store_header=None):
    """Validate an import request and queue it.

    :returns: the new task record, or None when copy-image with all_stores
        finds every store already holding the image (202, nothing changes).
    :raises: ImportflowError subclasses carrying the contract's HTTP code.
    """
    method_name = _check_body(body)
    method = methods.load(method_name)
    image = images.get(context, image_id)
    stale_lock = _check_image(context, image, method_name, method)
    targets = _resolve_targets(body, store_header, image, method_name)
    if not targets:
        return None
    method.validate_request(body)
    if stale_lock is not None:
        image = _bust(image_id, stale_lock, context, method)
    task = db.task_create_locked({
        'id': str(uuid.uuid4()),
        'type': c.TASK_TYPE_IMPORT,
        'owner': context.project_id,
        'user_id': context.user_id,
        'request_id': context.request_id,
        'image_id': image_id,
        'input': {'image_id': image_id, 'import_req': body,
                  'backend': targets},
        'context': {'project_id': context.project_id,
                    'user_id': context.user_id,
                    'roles': list(context.roles)},
    }, expected_status=[image['status']])
    notifier.task_event('task.create', task)
    rpc_client.ImportClient().dispatch(task['id'])
    LOG.info('Image %s: import task %s queued (%s into %s)', image_id,
             task['id'], method_name,
             ', '.join(stores.store_key(s) for s in targets))
    return task
