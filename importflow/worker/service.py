"""The worker: RPC server, bounded pool of running imports, reaper.

The same class serves the importflow-worker process and the embedded
in-process worker of the CLI (fake:// transport).
"""

import datetime
import threading
import time

import oslo_messaging as messaging
from oslo_log import log as logging

from importflow.common import constants as c
from importflow.common import utils
from importflow.conf import CONF
from importflow.db import api as db
from importflow import plugins
from importflow import rpc
from importflow.rpc import endpoints
from importflow import stores
from importflow.worker import runner as runner_mod
from importflow.worker import runtime as runtime_mod
from importflow.worker import staging_cleaner

LOG = logging.getLogger(__name__)


class ImportWorker:

    def __init__(self, worker_id=None):
        self.worker_id = worker_id or CONF.worker_id or \
            utils.default_worker_id()
        stores.configure()
        plugins.load_all()   # an unloadable plugin stops the worker here
        self.runner = runner_mod.ImportRunner(self.worker_id)
        self._slots = threading.BoundedSemaphore(
            CONF.worker.max_concurrent_imports)
        self._queued = set()
        self._queued_lock = threading.Lock()
        self._stop = threading.Event()
        self._server = None
        self._reaper = None

    def start(self):
        staging_cleaner.clean()
        target = messaging.Target(topic=c.RPC_TOPIC, server=self.worker_id)
        self._server = messaging.get_rpc_server(
            rpc.get_transport(), target,
            [endpoints.ImportEndpoint(self.submit_waiting)])
        self._server.start()
        self._reaper = threading.Thread(target=self._reap_loop,
                                        name='reaper', daemon=True)
        self._reaper.start()
        LOG.info('Worker %s started', self.worker_id)

    def submit_waiting(self, task_id):
        """A doorbell: wait for a free slot, so that a busy worker holds
        the message back instead of dropping it (RPC threads are the
        buffer; beyond them RabbitMQ keeps the messages)."""
        while not self._stop.is_set():
            if self._slots.acquire(timeout=1):
                return self._start(task_id)
        return False

    def submit(self, task_id):
        """Run a task unless it runs here already or every slot is taken
        (the reaper offers it again later)."""
        if not self._slots.acquire(blocking=False):
            LOG.debug('Worker %s busy; task %s left for later',
                      self.worker_id, task_id)
            return False
        return self._start(task_id)

    def _start(self, task_id):
        """Start a task in its own thread; the caller holds a slot."""
        with self._queued_lock:
            if task_id in self._queued:
                self._slots.release()
                return False
            self._queued.add(task_id)
        # One thread per import: an abandoned import blocks its thread for
        # good, which must not cost a pool slot.
        threading.Thread(target=self._run, args=(task_id,),
                         name='import-%s' % task_id, daemon=True).start()
        return True

    def _run(self, task_id):
        released = threading.Event()

        def release(_runtime=None):
            if not released.is_set():
                released.set()
                with self._queued_lock:
                    self._queued.discard(task_id)
                self._slots.release()

        try:
            self.runner.run(task_id, on_abandon=release)
        except Exception:
            LOG.exception('Task %s: worker error', task_id)
        finally:
            release()

    def _reap_loop(self):
        last_clean = utils.utcnow()
        # Read each round: SIGHUP may change it.
        while not self._stop.wait(CONF.worker.reaper_interval):
            try:
                self.reap()
                every = CONF.image_import_opts.staging_cleanup_interval
                if every and (utils.utcnow() - last_clean).total_seconds() \
                        >= every:
                    staging_cleaner.clean()
                    last_clean = utils.utcnow()
            except Exception as exc:
                LOG.warning('Reaper: %s', exc)

    def reap(self):
        """Offer this worker the tasks nobody runs: lost doorbells and
        expired leases."""
        threshold = CONF.image_import_opts.task_lease_timeout
        cutoff = utils.utcnow() - datetime.timedelta(seconds=threshold)
        for task_id in db.tasks_needing_worker(cutoff):
            if task_id not in runtime_mod.running_task_ids():
                self.submit(task_id)
        for image_id, task_id in db.locks_of_finished_tasks():
            # The task ended but its worker died before dropping the lock.
            db.lock_release(image_id, task_id)
            LOG.info('Image %s: released lock of finished task %s',
                     image_id, task_id)

    def idle(self):
        with self._queued_lock:
            return not self._queued

    def stop(self, grace_period=None):
        """Stop taking work, let running imports finish for
        ``grace_period`` seconds, then hand the rest back: frozen here,
        leases released so that another worker resumes them at once."""
        if grace_period is None:
            grace_period = CONF.worker.graceful_shutdown_timeout
        self._stop.set()   # waiting doorbells give up their slot wait
        stopping = None
        if self._server is not None:
            # No new doorbells; stopping the listener may take a while, so
            # the grace period starts now, not after it.
            stopping = threading.Thread(target=self._server.stop)
            stopping.start()
        deadline = time.monotonic() + grace_period
        while not self.idle() and time.monotonic() < deadline:
            time.sleep(0.2)
        left = runtime_mod.running()
        for rt in left:
            rt.abandon('worker %s shutting down' % self.worker_id)
        if left:
            # Let the streams reach their next check (per chunk) and freeze
            # before another worker may take the tasks.
            time.sleep(0.5)
        for rt in left:
            db.task_release_lease(rt.task_id, self.worker_id)
            LOG.warning('Task %s handed back at shutdown', rt.task_id)
        if stopping is not None:
            stopping.join()
            self._server.wait()
        self.runner.close()
        LOG.info('Worker %s stopped', self.worker_id)
