"""Delete staging files that no live upload or import needs (section 11)."""

from oslo_log import log as logging

from importflow.common import constants as c
from importflow.common import exceptions
from importflow.db import api as db
from importflow.stores import staging

LOG = logging.getLogger(__name__)


def _is_live(image_id, name):
    try:
        image = db.image_get(image_id)
    except exceptions.ImageNotFound:
        return False
    if image['status'] == c.UPLOADING and name == image_id:
        return True
    task_id = image['properties'].get(c.PROP_IMPORT_TASK)
    if task_id is None:
        return False
    try:
        return db.task_get(task_id)['status'] in c.TASK_LIVE
    except exceptions.TaskNotFound:
        return False


def clean():
    """:returns: names of the files deleted."""
    removed = []
    for image_id, name in list(staging.image_files()):
        if not _is_live(image_id, name):
            if staging.remove(staging.path(name)):
                removed.append(name)
    if removed:
        LOG.info('Staging cleaner removed %s', ', '.join(sorted(removed)))
    return removed
