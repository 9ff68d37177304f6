"""Hostile doorbell messages are dropped and logged; the worker goes on."""

import oslo_messaging as messaging
import pytest

from importflow.common import constants as c
from importflow import rpc


DROPPED = 'Dropped import_image message with invalid task id'


@pytest.mark.parametrize('kwargs, logged', [
    ({}, DROPPED),
    ({'task_id': None}, DROPPED),
    ({'task_id': '../../etc/passwd'}, DROPPED),
    ({'task_id': {'$ne': 1}}, DROPPED),
    ({'task_id': 'x' * 100000}, DROPPED),
    ({'task_id': '00000000-0000-0000-0000-000000000000', 'extra': 'junk'},
     "ignoring unknown arguments ['extra']"),
])
def test_hostile_cast_leaves_the_worker_serving(client, env, caplog,
                                                kwargs, logged):
    target = messaging.Target(topic=c.RPC_TOPIC, namespace=c.RPC_NAMESPACE,
                              version=c.RPC_VERSION)
    cast = messaging.get_rpc_client(rpc.get_transport(), target)
    cast.cast({}, 'import_image', **kwargs)
    # The same worker still runs a real import afterwards.
    image_id, data = env.staged_image(client, 65536)
    task = client.wait(client.import_image(image_id)['id'], timeout=30)
    assert task['status'] == c.TASK_SUCCESS, task['message']
    assert logged in caplog.text
