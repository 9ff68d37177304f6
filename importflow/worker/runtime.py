"""Per-import state that is not JSON: progress counters and stop signals.

Flow atoms take JSON-only inputs (task id, image id, store names); they find
the live state of their import here, by task id. A worker that takes a task
over creates a fresh runtime before it resumes the flow.
"""

import threading

from importflow.common import exceptions
from importflow.worker import progress as progress_mod

_RUNTIMES = {}
_LOCK = threading.Lock()


class ImportRuntime:

    def __init__(self, task, targets, phases, worker_id):
        self.task = task
        self.task_id = task['id']
        self.image_id = task['image_id']
        self.worker_id = worker_id
        self.targets = targets
        self.progress = progress_mod.ImportProgress(
            phases, [t['key'] for t in targets], task.get('progress'))
        # A stop requested before the task started (abort, image deleted).
        self._stop_reason = task.get('stop_reason')
        self.abandoned = threading.Event()
        self.committed = bool(task.get('committed'))
        # Set when a store copy failed and all_stores_must_succeed is true:
        # the other copies stop and the unstarted ones never start.
        self.copies_cancelled = threading.Event()
        self.copies_cancel_reason = None
        self.first_failed_store = None
        self._cancel_lock = threading.Lock()
        self._activated = False

    @property
    def stop_reason(self):
        return self._stop_reason

    def stop(self, reason):
        """Ask every step of this import to stop at its next check."""
        if self._stop_reason is None:
            self._stop_reason = reason

    def check(self):
        """Raise ImportStopped if the import must stop now.

        An abandoned import never returns from here: its thread must write
        nothing more, not even a revert, because another worker owns the
        task now (or will, once the lease is handed back).
        """
        if self.abandoned.is_set():
            threading.Event().wait()
        if self._stop_reason is not None:
            raise exceptions.ImportStopped(self._stop_reason)

    def abandon(self, reason):
        """Freeze every step of this import at its next check."""
        self._stop_reason = self._stop_reason or reason
        self.abandoned.set()

    def first_activation(self):
        """True once: the commit that made the image active."""
        with self._cancel_lock:
            first, self._activated = not self._activated, True
            return first

    def cancel_copies(self, failed_store):
        with self._cancel_lock:
            if self.first_failed_store is None:
                self.first_failed_store = failed_store
                self.copies_cancel_reason = ("cancelled: store '%s' failed"
                                             % failed_store)
        self.copies_cancelled.set()


def register(runtime):
    with _LOCK:
        _RUNTIMES[runtime.task_id] = runtime


def unregister(task_id):
    with _LOCK:
        _RUNTIMES.pop(task_id, None)


def get(task_id):
    with _LOCK:
        try:
            return _RUNTIMES[task_id]
        except KeyError:
            raise RuntimeError('No runtime for task %s in this worker'
                               % task_id)


def running_task_ids():
    with _LOCK:
        return list(_RUNTIMES)


def running():
    with _LOCK:
        return list(_RUNTIMES.values())
