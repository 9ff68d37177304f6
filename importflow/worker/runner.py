"""Runs one import task: claim, heartbeat, taskflow engine, final state.

The flow is persisted with taskflow's SQLAlchemy backend in the image
database, keyed by the task id, so that a worker taking the task over
resumes it from its last finished atom.
"""

from concurrent import futures
import contextlib
import threading
import time

from oslo_log import log as logging
from oslo_utils import uuidutils
from taskflow import engines
from taskflow import exceptions as tf_exc
from taskflow.persistence import models as tf_models
from taskflow.types import failure as tf_failure

from importflow.common import constants as c
from importflow.common import exceptions
from importflow.common import utils
from importflow.conf import CONF
from importflow.db import api as db
from importflow.db import flow_persistence
from importflow.flows import engine
from importflow.flows import import_flow
from importflow.rpc import notifier
from importflow import stores
from importflow.tasks import base as tasks_base
from importflow.tasks import store_copy
from importflow.worker import runtime as runtime_mod

LOG = logging.getLogger(__name__)

FLOW_FACTORY = 'importflow.flows.import_flow.get_import_flow'


class Heartbeat(threading.Thread):
    """Renews the lease, publishes progress and hears stop requests."""

    def __init__(self, runtime, on_abandon):
        super().__init__(name='heartbeat-%s' % runtime.task_id, daemon=True)
        self.runtime = runtime
        self.on_abandon = on_abandon
        self._stopped = threading.Event()
        opts = CONF.image_import_opts
        self.interval = min(opts.progress_interval, opts.heartbeat_interval)
        self.lease = opts.task_lease_timeout
        # Give up writing well before another worker may take over.
        self.give_up_after = self.lease - 2 * opts.heartbeat_interval

    def run(self):
        last_renewal = time.monotonic()
        renew_every = CONF.image_import_opts.heartbeat_interval
        published = None
        while not self._stopped.wait(self.interval):
            state = (self.runtime.progress.snapshot(),
                     self.runtime.progress.message())
            if state == published and \
                    time.monotonic() - last_renewal < renew_every:
                continue   # nothing new to say, lease still fresh
            try:
                self.beat(*state)
                last_renewal = time.monotonic()
                published = state
            except exceptions.ImportStopped:
                return
            except Exception as exc:
                LOG.warning('Task %s: heartbeat failed: %s',
                            self.runtime.task_id, exc)
                if time.monotonic() - last_renewal > self.give_up_after:
                    self.runtime.abandon('lease lost: database unreachable '
                                         'for %d s' % self.give_up_after)
                    self.on_abandon(self.runtime)
                    return

    def beat(self, progress, message):
        """Renew the lease, publish progress, hear stop requests."""
        runtime = self.runtime
        held, reason = db.task_heartbeat(
            runtime.task_id, runtime.worker_id, self.lease,
            progress=progress, message=message)
        if not held:
            runtime.abandon('lease lost to another worker')
            self.on_abandon(runtime)
            raise exceptions.ImportStopped('lease lost')
        if reason:
            runtime.stop(reason)

    def stop(self):
        self._stopped.set()
        self.join()


class ImportRunner:
    """Runs claimed tasks in the calling thread."""

    def __init__(self, worker_id):
        self.worker_id = worker_id
        # A finished flow goes in the task's final transaction (_finish).
        self._backend = flow_persistence.backend(
            unrecorded_states=tasks_base.UNRECORDED_STATES,
            records_flow_success=False)

    def close(self):
        self._backend.close()

    def run(self, task_id, on_abandon=lambda runtime: None):
        """Claim and run a task; returns its final record, or None if this
        worker did not get it (another runs it, or it is finished).

        ``on_abandon(runtime)`` is called from the heartbeat thread when the
        lease is lost: the calling thread then never returns.
        """
        task = db.task_claim(task_id, self.worker_id,
                             CONF.image_import_opts.task_lease_timeout)
        if task is None:
            LOG.debug('Task %s: not claimed (running elsewhere or done)',
                      task_id)
            return None
        method = task['input']['import_req']['method']['name']
        targets = [{'store': s, 'key': stores.store_key(s)}
                   for s in task['input']['backend']]
        rt = runtime_mod.ImportRuntime(task, targets,
                                       import_flow.phases_for(method),
                                       self.worker_id)
        runtime_mod.register(rt)
        if task['attempt'] > 1:
            self._decide_takeover(task, rt)
        heartbeat = Heartbeat(rt, on_abandon)
        heartbeat.start()
        notifier.task_event('task.processing', task)
        error = None
        try:
            self._run_engine(task, rt)
        except tf_exc.StorageFailure as exc:
            # The flow's own state could not be saved: its progress is
            # unknown, so neither finish nor revert here. Hand the task
            # back; the next owner resumes from what was persisted.
            LOG.error('Task %s: flow persistence failed (%s); handing the '
                      'task back', task_id, exc)
            rt.abandon('flow persistence failed')
            error = exc
        except Exception as exc:
            error = exc
        finally:
            heartbeat.stop()
            runtime_mod.unregister(task_id)
        if rt.abandoned.is_set():
            db.task_release_lease(task_id, self.worker_id)
            return None
        return self._finish(rt, error)

    def _decide_takeover(self, task, rt):
        """Resume a taken-over task, or revert it when it was taken over
        too often (import-semantics 10.3)."""
        takeovers = task['attempt'] - 1
        LOG.warning('Task %s: taken over by %s (takeover %d)',
                    task['id'], task['lease_owner'], takeovers)
        if task['committed'] or \
                takeovers <= CONF.image_import_opts.max_task_takeovers:
            return
        rt.stop('Import reverted after worker failure: %s'
                % self._interrupted_step(task))

    def _interrupted_step(self, task):
        with contextlib.closing(self._backend.get_connection()) as conn:
            try:
                book = conn.get_logbook(task['id'])
            except tf_exc.NotFound:
                return 'start'
        for flow_detail in book:
            for atom in flow_detail:
                if atom.state == 'RUNNING':
                    return atom.name
        # An atom whose RUNNING state is not recorded: name its phase.
        return '%s phase' % (task.get('progress') or {}).get(
            'phase', 'unknown')

    def _run_engine(self, task, rt):
        LOG.info('Task %s: running import of image %s (attempt %d)',
                 task['id'], task['image_id'], task['attempt'])
        if not import_flow.copies_in_parallel(task['input']['backend']):
            # Nothing to overlap: the atoms run in this thread, without a
            # hand-over to a pool thread and back for each (under many
            # concurrent imports that cost ~10 ms of CPU per import).
            self._load_engine(task, rt, engine.SerialEngine, {}).run()
            return
        # The standard library pool stops at once; the engine's default
        # (futurist) pool idles for a second before its threads notice.
        executor = futures.ThreadPoolExecutor(
            max_workers=CONF.image_import_opts.max_parallel_stores,
            thread_name_prefix='import-%s' % task['id'][:8])
        try:
            self._load_engine(task, rt, engine.ParallelEngine,
                              {'executor': executor}).run()
        finally:
            executor.shutdown(wait=True)

    def _load_engine(self, task, rt, engine_cls, options):
        book = None
        if task['attempt'] > 1:
            # Only an earlier claim can have persisted a flow.
            with contextlib.closing(self._backend.get_connection()) as conn:
                try:
                    book = conn.get_logbook(task['id'])
                except tf_exc.NotFound:
                    pass
        details = list(book) if book else []
        if details:
            LOG.info('Task %s: resuming persisted flow', task['id'])
            store_copy.restore_finished(rt.progress, details[0])
            return engine_cls(engines.flow_from_detail(details[0]),
                              details[0], self._backend, options)
        inputs = task['input']
        factory_kwargs = {
            'task_id': task['id'], 'task_type': task['type'],
            'image_id': task['image_id'], 'import_req': inputs['import_req'],
            'backend': inputs['backend'], 'context': task['context']}
        flow = import_flow.get_import_flow(**factory_kwargs)
        # What taskflow's load_from_factory does, but the flow's factory
        # (for a resume elsewhere) goes into the same INSERT as the flow
        # itself rather than into an UPDATE right after it.
        flow_detail = tf_models.FlowDetail(flow.name,
                                           uuidutils.generate_uuid())
        engines.save_factory_details(flow_detail, FLOW_FACTORY, [],
                                     factory_kwargs)
        book = tf_models.LogBook(task['id'], uuid=task['id'])
        book.add(flow_detail)
        with contextlib.closing(self._backend.get_connection()) as conn:
            conn.save_logbook(book)
        return engine_cls(flow, flow_detail, self._backend, options)

    def _finish(self, rt, error):
        """Task result and terminal status, with the lock dropped and the
        flow forgotten in the same transaction."""
        success = error is None or rt.committed
        rt.progress.message()   # the final 'Copied N MiB'
        message = (_success_message(rt) if success
                   else failure_message(rt, error))
        progress = rt.progress
        progress.phase = c.PHASE_DONE
        if not success:
            for counter in progress.stores.values():
                if counter.state in (c.STORE_PENDING, c.STORE_COPYING):
                    counter.state = c.STATE_CANCELLED
        result = {'image_id': rt.image_id,
                  'stores': store_results(rt, message)}
        status = c.TASK_SUCCESS if success else c.TASK_FAILURE
        if error is not None and success:
            LOG.warning('Task %s: error after commit, ending success: %s',
                        rt.task_id, error)
        with contextlib.closing(self._backend.get_connection()) as conn:
            forget_flow = conn.logbook_delete(rt.task_id)
        task = db.task_finish(rt.task_id, self.worker_id, status, message,
                              result, progress.snapshot(), also=[forget_flow])
        if task is None:
            # The lease went to another worker meanwhile: the task, its
            # lock and its flow are that worker's now.
            LOG.warning('Task %s: lease lost before the end; %s not '
                        'recorded here', rt.task_id, status)
            return db.task_get(rt.task_id)
        notifier.task_event('task.%s' % status, task)
        LOG.info('Task %s: %s: %s', rt.task_id, status, message)
        return task


def _success_message(rt):
    problems = ["Import to store '%s' failed: %s" % (key, counter.error)
                for key, counter in rt.progress.stores.items()
                if counter.state in (c.STORE_FAILED, c.STATE_CANCELLED)]
    if rt.stop_reason:
        problems.append(rt.stop_reason)
    return '; '.join(problems) if problems else rt.progress.last_message


def _failures(error):
    if isinstance(error, tf_exc.WrappedFailure):
        return [f.exception for f in error if f.exception is not None]
    if isinstance(error, tf_failure.Failure):
        return [error.exception]
    return [error]


def failure_message(rt, error):
    """The task message of a failed import (import-semantics 9.4)."""
    if rt.stop_reason:
        return rt.stop_reason
    errors = _failures(error)
    for exc in errors:
        if isinstance(exc, exceptions.ImportStopped):
            return str(exc)
    store_failures = {exc.store: exc for exc in errors
                      if isinstance(exc, exceptions.StoreCopyFailed)}
    if store_failures:
        first = rt.first_failed_store or sorted(store_failures)[0]
        exc = store_failures.get(first) or next(iter(store_failures.values()))
        return "Import to store '%s' failed: %s" % (exc.store, exc.reason)
    for exc in errors:
        if isinstance(exc, exceptions.ImportFailed):
            return str(exc)
    exc = errors[0]
    return '%s failed: %s: %s' % (rt.progress.phase, type(exc).__name__, exc)


def store_results(rt, message):
    """Per-store outcome map of the task result (import-semantics 9.2)."""
    results = {}
    for key, counter in rt.progress.stores.items():
        entry = {'status': counter.state}
        if counter.state == c.STORE_ACTIVE:
            entry['size'] = counter.bytes_total
        elif counter.state == c.STORE_FAILED:
            entry['error'] = counter.error
        else:
            if counter.state not in (c.STORE_REVERTED, c.STATE_CANCELLED):
                entry['status'] = c.STATE_CANCELLED
            entry['error'] = counter.error or message
        results[key] = entry
    return results


def stop_task(task_id, reason):
    """Stop a task now: abort, lock bust (import-semantics 10.4, 10.5).

    A task with a live lease is told to stop; its owner reverts it within a
    heartbeat. A task nobody runs (pending, or its lease expired) is
    reverted here, synchronously, before this returns.

    :returns: the task record afterwards.
    """
    db.task_request_stop(task_id, reason)
    task = db.task_get(task_id)
    live = (task['status'] == c.TASK_PROCESSING and task['lease_expires_at']
            and task['lease_expires_at'] > utils.utcnow())
    if task['status'] in c.TASK_LIVE and not live:
        runner = ImportRunner('inline:' + utils.default_worker_id())
        try:
            runner.run(task_id)
        finally:
            runner.close()
    return db.task_get(task_id)
