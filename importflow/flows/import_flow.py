"""The import flow factory.

Module-level and JSON-only in its arguments, so that taskflow can rebuild a
persisted flow on another worker (``engines.load_from_detail``). Atom names
are stable for the same reason.
"""

from taskflow.patterns import linear_flow
from taskflow.patterns import unordered_flow

from importflow.common import constants as c
from importflow.conf import CONF
from importflow import methods
from importflow import plugins
from importflow.tasks import lifecycle
from importflow.tasks import staging as staging_tasks
from importflow.tasks import store_copy


def get_import_flow(task_id, task_type, image_id, import_req, backend,
                    context=None):
    """Start -> method steps -> VerifyStaging -> plugins -> StoreCopy(each
    target) -> Commit -> Cleanup -> Complete (import-semantics 6.1)."""
    method_name = import_req['method']['name']
    method = methods.load(method_name)
    all_must_succeed = import_req.get('all_stores_must_succeed', True)
    flow = linear_flow.Flow('import-%s' % task_id)
    flow.add(lifecycle.Start(task_id, image_id, method_name, backend))
    flow.add(*method.get_flow(task_id, image_id, import_req, backend))
    flow.add(staging_tasks.VerifyStaging(task_id, image_id, method_name))
    if method.runs_plugins:
        for plugin_flow in plugins.get_flows(
                task_id=task_id, task_type=task_type, image_id=image_id,
                import_req=import_req, backend=backend, context=context):
            flow.add(plugin_flow)
    copies = [store_copy.StoreCopy(task_id, image_id, store_id,
                                   all_must_succeed, method.sets_importing)
              for store_id in backend]
    if copies_in_parallel(backend):
        flow.add(unordered_flow.Flow('store-copies').add(*copies))
    else:
        # Serial copies run in target order.
        flow.add(linear_flow.Flow('store-copies').add(*copies))
    flow.add(lifecycle.Commit(task_id, image_id, method_name,
                              all_must_succeed, backend),
             lifecycle.Cleanup(task_id, image_id),
             lifecycle.Complete(task_id, image_id, backend))
    return flow


def copies_in_parallel(backend):
    """Whether the store copies of an import into ``backend`` run at once:
    the only atoms of a flow that ever do."""
    return CONF.image_import_opts.max_parallel_stores > 1 and len(backend) > 1


def phases_for(method_name):
    """Phases a task of this method reports (import-semantics 9.3)."""
    method = methods.load(method_name)
    phases = list(method.phases)
    if method.runs_plugins:
        phases += plugins.phases()
    return phases + [c.PHASE_STORES]
