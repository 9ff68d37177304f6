"""Python client: the API's operations for an API tier that is not ours.

It works on the image database and the queue directly, with the same
validation and authorization as importflow-api. Configure first (for
example ``importflow.conf.parse_args([])`` for the embedded default).
"""

import time

from importflow.common import constants as c
from importflow.common import policy
from importflow.db import api as db
from importflow.domain import images
from importflow.domain import imports
from importflow.domain import tasks
from importflow import rpc
from importflow import stores
from importflow.worker import service


class Client:

    def __init__(self, context=None):
        stores.configure()
        self.context = context or policy.local_context()
        self._worker = None
        if rpc.is_in_process():
            # fake:// reaches only this process: run a worker here.
            self._worker = service.ImportWorker()
            self._worker.start()

    def runs_in_process(self):
        """True when this client's own worker runs the imports."""
        return self._worker is not None

    def close(self):
        if self._worker is not None:
            self._worker.stop()
            self._worker = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def create_image(self, **fields):
        return images.create(self.context, fields)

    def stage(self, image_id, data, size=None):
        """Stage a file-like object for glance-direct."""
        return images.stage(self.context, image_id, data, size)

    def import_image(self, image_id, method=c.GLANCE_DIRECT, uri=None,
                     stores_=None, all_stores=None,
                     all_stores_must_succeed=None):
        """Queue an import; returns the task (None if nothing to do)."""
        body = {'method': {'name': method}}
        if uri is not None:
            body['method']['uri'] = uri
        if stores_ is not None:
            body['stores'] = list(stores_)
        if all_stores is not None:
            body['all_stores'] = all_stores
        if all_stores_must_succeed is not None:
            body['all_stores_must_succeed'] = all_stores_must_succeed
        return imports.accept(self.context, image_id, body)

    def show_image(self, image_id):
        return images.get(self.context, image_id)

    def delete_image(self, image_id):
        return images.delete(self.context, image_id)

    def list_images(self):
        return [i for i in db.image_list()
                if policy.allowed(self.context, 'get_image',
                                  policy.image_target(i))]

    def show_task(self, task_id):
        return tasks.get(self.context, task_id)

    def list_tasks(self, image_id=None):
        if image_id:
            return tasks.list_for_image(self.context, image_id)
        return tasks.list_all(self.context)

    def abort_import(self, image_id):
        return tasks.abort(self.context, image_id)

    def wait(self, task_id, on_progress=None, poll=0.25, timeout=None):
        """Poll a task until its import is over: the task is terminal and
        its lock is gone (the lock goes last). Returns the final record."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            task = self.show_task(task_id)
            if on_progress is not None:
                on_progress(task)
            if task['status'] in c.TASK_TERMINAL and \
                    db.lock_holder(task['image_id']) != task_id:
                return task
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError('Task %s still %s after %s s'
                                   % (task_id, task['status'], timeout))
            time.sleep(poll)
