"""no_op: logs that it ran; a template for plugin authors."""

from oslo_log import log as logging
from taskflow.patterns import linear_flow
from taskflow import task

LOG = logging.getLogger(__name__)


class _NoOp(task.Task):

    def __init__(self, task_id, image_id):
        super().__init__(name='no-op')
        self.task_id = task_id
        self.image_id = image_id

    def execute(self):
        LOG.info('Image %s task %s: no_op plugin ran', self.image_id,
                 self.task_id)

    def revert(self, result, **kwargs):
        LOG.info('Image %s task %s: no_op plugin reverted', self.image_id,
                 self.task_id)


def get_flow(**kwargs):
    return linear_flow.Flow('no_op').add(
        _NoOp(kwargs['task_id'], kwargs['image_id']))
