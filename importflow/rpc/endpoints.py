"""RPC endpoint of the worker: validates the payload, hands off the task."""

import uuid

import oslo_messaging as messaging
from oslo_log import log as logging

from importflow.common import constants as c

LOG = logging.getLogger(__name__)


class ImportEndpoint:
    target = messaging.Target(namespace=c.RPC_NAMESPACE,
                              version=c.RPC_VERSION)

    def __init__(self, submit):
        self._submit = submit

    def import_image(self, context, task_id=None, **kwargs):
        """A malformed message is dropped and logged, never raised."""
        try:
            task_id = str(uuid.UUID(str(task_id)))
        except ValueError:
            LOG.error('Dropped import_image message with invalid task id %r',
                      task_id)
            return
        if kwargs:
            LOG.warning('import_image for task %s: ignoring unknown '
                        'arguments %s', task_id, sorted(kwargs))
        self._submit(task_id)
