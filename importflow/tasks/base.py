"""Base class of every import atom.

Atoms take JSON-only constructor arguments (ids, names) so that a persisted
flow can be rebuilt on another worker; live state comes from the runtime.
"""

from oslo_log import log as logging
from taskflow import task

from importflow.worker import runtime as runtime_mod

LOG = logging.getLogger(__name__)


class ImportTask(task.Task):
    """An atom of the import of ``image_id`` by task ``task_id``."""

    def __init__(self, task_id, image_id, name, **kwargs):
        super().__init__(name=name, **kwargs)
        self.task_id = task_id
        self.image_id = image_id

    @property
    def runtime(self):
        return runtime_mod.get(self.task_id)

    def revert_allowed(self):
        """False when this worker lost the task: the new owner cleans up."""
        if self.runtime.lease_lost:
            LOG.warning('Image %s task %s: lease lost, leaving the revert of '
                        '%s to the worker that takes over', self.image_id,
                        self.task_id, self.name)
            return False
        return True
