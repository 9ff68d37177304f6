"""A worker dies after one store copy ended; the next owner resumes the
flow from its last finished step and reports every store's outcome, even
those the dead worker's heartbeat never published."""

import pytest

from importflow.common import constants as c
from importflow.common import policy
from importflow.conf import CONF
from importflow.db import api as db
from importflow.domain import imports
from importflow.tasks import store_copy
from importflow.worker import runner as runner_mod


class WorkerDied(BaseException):
    """Ends the run as a SIGKILL would: no revert, no final state."""


def _import_taken_over_in_cheap(client, monkeypatch, image_id, **request):
    """Import into fast then cheap; the first worker dies in cheap's copy
    before its heartbeat published anything, the second one resumes."""
    client.close()   # no in-process worker: the runners here do the work
    CONF.set_override('max_parallel_stores', 1, group='image_import_opts')
    task = imports.accept(policy.local_context(), image_id,
                          dict(request, method={'name': 'glance-direct'},
                               stores=['fast', 'cheap']))
    real_execute = store_copy.StoreCopy.execute

    def dies_in_cheap(self, staged_path):
        if self.store_id == 'cheap':
            raise WorkerDied()
        return real_execute(self, staged_path)

    monkeypatch.setattr(store_copy.StoreCopy, 'execute', dies_in_cheap)
    first = runner_mod.ImportRunner('worker-1')
    second = runner_mod.ImportRunner('worker-2')
    try:
        with pytest.raises(WorkerDied):
            first.run(task['id'])
        # Its lease runs out; its heartbeat had published nothing.
        assert db.task_heartbeat(task['id'], 'worker-1', -1,
                                 progress={}) == (True, None)
        monkeypatch.setattr(store_copy.StoreCopy, 'execute', real_execute)
        return second.run(task['id'])
    finally:
        first.close()
        second.close()


def test_copies_finished_before_a_takeover_are_reported(client, env,
                                                        monkeypatch):
    image_id, data = env.staged_image(client)
    done = _import_taken_over_in_cheap(client, monkeypatch, image_id)
    assert (done['status'], done['attempt']) == (c.TASK_SUCCESS, 2)
    assert done['result']['stores'] == {
        'fast': {'status': 'active', 'size': len(data)},
        'cheap': {'status': 'active', 'size': len(data)}}
    image = db.image_get(image_id)
    assert image['status'] == c.ACTIVE
    assert sorted(loc['store'] for loc in image['locations']) == [
        'cheap', 'fast']
    for store_id in ('fast', 'cheap'):
        assert (env.store_dir(store_id) / image_id).read_bytes() == data


def test_a_copy_failed_before_a_takeover_is_reported(client, env,
                                                     monkeypatch):
    image_id, data = env.staged_image(client)
    env.break_store('fast')
    done = _import_taken_over_in_cheap(client, monkeypatch, image_id,
                                       all_stores_must_succeed=False)
    assert (done['status'], done['attempt']) == (c.TASK_SUCCESS, 2)
    stores = done['result']['stores']
    assert stores['cheap'] == {'status': 'active', 'size': len(data)}
    assert stores['fast']['status'] == 'failed'
    assert 'Not a directory' in stores['fast']['error']
    image = db.image_get(image_id)
    assert [loc['store'] for loc in image['locations']] == ['cheap']
    assert image['properties'][c.PROP_FAILED_IMPORT] == 'fast'
