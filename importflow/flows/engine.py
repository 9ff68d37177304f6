"""The taskflow engines import flows run on, with a leaner Storage.

taskflow's Storage costs a small import more CPU than the statements it
saves: it wraps each of ~27 saves in a tenacity retry, and it saves every
atom's progress marks (0.0 when it starts, 1.0 when it ends, twice each)
as saves of their own. importflow publishes progress on the task record,
and its backend writes no progress mark alone, so the marks are kept in
memory here (the atom's next state save carries them), and the retry is a
plain loop with taskflow's own limits. Its reader-writer lock, taken ~180
times per import, is one reentrant lock here: what it guards are
dictionary lookups, briefer than the shared-read bookkeeping around them.
"""

import threading
import time

from taskflow.engines.action_engine import engine as tf_engine
from taskflow import exceptions as tf_exc
from taskflow.persistence import models as tf_models
from taskflow import storage as tf_storage
from taskflow.utils import misc


def _retried(save):
    """taskflow's retry of a failed save, without tenacity's per-call
    bookkeeping on the path where the save succeeds."""
    def retrying(*args):
        for attempt in range(1, tf_storage.RETRY_ATTEMPTS + 1):
            try:
                return save(*args)
            except tf_exc.StorageFailure:
                if attempt == tf_storage.RETRY_ATTEMPTS:
                    raise
                time.sleep(tf_storage.RETRY_WAIT_TIMEOUT)
    return retrying


class _ReentrantLock:
    """A ReaderWriterLock's interface on one threading.RLock."""

    def __init__(self):
        self._lock = threading.RLock()

    def read_lock(self):
        return self._lock

    def write_lock(self):
        return self._lock


class LeanStorage(tf_storage.Storage):

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._lock = _ReentrantLock()

    @_retried
    def _save_flow_detail(self, conn, original_flow_detail, flow_detail):
        original_flow_detail.update(conn.update_flow_details(flow_detail))
        return original_flow_detail

    @_retried
    def _save_atom_detail(self, conn, original_atom_detail, atom_detail):
        original_atom_detail.update(conn.update_atom_details(atom_detail))
        return original_atom_detail

    def set_task_progress(self, task_name, progress, details=None):
        """In memory only: the task's next state save writes it."""
        with self._lock.write_lock():
            source, _clone = self._atomdetail_by_name(
                task_name, expected_type=tf_models.TaskDetail)
            source.meta[tf_storage.META_PROGRESS] = progress
            if details is not None:
                source.meta[tf_storage.META_PROGRESS_DETAILS] = {
                    'at_progress': progress, 'details': details} \
                    if details else None


class _LeanStorageEngine:

    @misc.cachedproperty
    def storage(self):
        # taskflow's ActionEngine.storage, with LeanStorage (the unit tests
        # run both engines against the installed taskflow).
        def scope_fetcher(atom_name):
            if self._compiled:
                return self._runtime.fetch_scopes_for(atom_name)
            return None

        return LeanStorage(self._flow_detail, backend=self._backend,
                           scope_fetcher=scope_fetcher)


class SerialEngine(_LeanStorageEngine, tf_engine.SerialActionEngine):
    """Runs the atoms in the calling thread."""


class ParallelEngine(_LeanStorageEngine, tf_engine.ParallelActionEngine):
    """Runs independent atoms (the store copies) at once."""
