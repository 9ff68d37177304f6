"""The doorbell: cast import_image(task_id) on topic importflow.

The task row is the truth; a lost cast is recovered by the workers'
reaper, so the cast is bounded and its failure only logged.
"""

import oslo_messaging as messaging
from oslo_log import log as logging

from importflow.common import constants as c
from importflow import rpc

LOG = logging.getLogger(__name__)


class ImportClient:

    def __init__(self):
        target = messaging.Target(topic=c.RPC_TOPIC,
                                  namespace=c.RPC_NAMESPACE,
                                  version=c.RPC_VERSION)
        self._client = messaging.get_rpc_client(rpc.get_transport(), target)

    def dispatch(self, task_id):
        """Announce a pending task; never blocks on a broken broker."""
        try:
            self._client.prepare(retry=2).cast({}, 'import_image',
                                               task_id=task_id)
        except Exception as exc:
            LOG.warning('Task %s: doorbell not delivered (%s); a worker '
                        'reaper will pick it up', task_id, exc)
