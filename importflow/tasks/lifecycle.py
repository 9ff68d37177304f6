"""Start, Commit, Cleanup and Complete: the frame of every import flow."""

from oslo_log import log as logging
from taskflow import states as tf_states

from importflow.common import constants as c
from importflow.common import exceptions
from importflow.db import api as db
from importflow import methods
from importflow.rpc import notifier
from importflow.stores import staging
from importflow.tasks import base

LOG = logging.getLogger(__name__)

# Attributes a task may change, restored by a revert.
RESTORABLE = ('disk_format', 'container_format', 'size', 'virtual_size',
              'checksum', 'os_hash_algo', 'os_hash_value')


class Start(base.ImportTask):
    """Mark the image importing and record what a revert restores."""

    def __init__(self, task_id, image_id, method, store_ids):
        super().__init__(task_id, image_id, name='start')
        self.method_name = method
        self.store_ids = store_ids

    def execute(self):
        self.runtime.check()
        self.runtime.progress.enter(c.PHASE_STARTING)
        method = methods.load(self.method_name)
        image = self.load_image()
        pre_import = {attr: image[attr] for attr in RESTORABLE}
        expected = list(method.start_statuses)
        values = {}
        if method.sets_importing:
            if not image['disk_format'] or not image['container_format']:
                raise exceptions.ImportFailed(
                    "Image %s: '%s' needs to be set before import"
                    % (self.image_id, 'container_format'
                       if not image['container_format'] else 'disk_format'),
                    phase='start')
            # A rerun after a crash finds the image importing already.
            expected.append(c.IMPORTING)
            values['status'] = c.IMPORTING
        user_stores = [s for s in self.store_ids if s]
        db.image_save(
            self.image_id, task_id=self.task_id, expected_status=expected,
            values=values, remove_props=[c.PROP_STAGE_HOST],
            add_to_lists={c.PROP_IMPORTING_TO: user_stores},
            remove_from_lists={c.PROP_FAILED_IMPORT: user_stores})
        return {'pre_import': pre_import}

    def revert(self, result, flow_failures, **kwargs):
        if not self.revert_allowed():
            return
        if self.runtime.committed:
            # A stop after commit cancels the uncommitted stores only; the
            # runner ends the task 'success' and Complete's work is redone
            # here: no target stays in the importing list.
            user_stores = [s for s in self.store_ids if s]
            progress = self.runtime.progress
            missed = [s for s in user_stores
                      if progress.store(s).state != c.STORE_ACTIVE]
            db.image_save(self.image_id, task_id=self.task_id,
                          remove_from_lists={c.PROP_IMPORTING_TO:
                                             user_stores},
                          add_to_lists={c.PROP_FAILED_IMPORT: missed})
            staging.remove_all(self.image_id)
            return
        self.runtime.progress.enter(c.PHASE_REVERTING)
        method = methods.load(self.method_name)
        try:
            image = db.image_get(self.image_id)
        except exceptions.ImageNotFound:
            LOG.info('Image %s was deleted; nothing to restore', self.image_id)
            return
        pre_import = (result or {}).get('pre_import') if isinstance(
            result, dict) else None
        if pre_import is None:
            # Start itself failed: it changed nothing but the lists.
            pre_import = {attr: image[attr] for attr in RESTORABLE}
        staged_intact = _staged_intact(self.image_id, pre_import)
        values, status = method.revert_values(image, pre_import,
                                              staged_intact)
        if status != image['status']:
            values['status'] = status
        if status != c.UPLOADING:
            staging.remove_all(self.image_id)
        else:
            staging.remove_derived(self.image_id)
        user_stores = [s for s in self.store_ids if s]
        try:
            db.image_save(
                self.image_id, task_id=self.task_id, values=values,
                remove_from_lists={c.PROP_IMPORTING_TO: user_stores},
                add_to_lists={c.PROP_FAILED_IMPORT: user_stores})
        except exceptions.ImportStopped as exc:
            LOG.warning('Image %s task %s: could not restore the image: %s',
                        self.image_id, self.task_id, exc)


def _staged_intact(image_id, pre_import):
    size = staging.size_of(image_id)
    return size is not None and size == pre_import.get('size')


class Commit(base.ImportTask):
    """Make the result permanent (import-semantics 6.4). Never undone."""

    NAME = 'commit'
    unrecorded_states = (tf_states.RUNNING,)

    def __init__(self, task_id, image_id, method, all_must_succeed,
                 store_ids):
        super().__init__(task_id, image_id, name=self.NAME)
        self.method_name = method
        self.all_must_succeed = all_must_succeed
        self.store_ids = store_ids

    def execute(self):
        progress = self.runtime.progress
        progress.finish_phase(c.PHASE_STORES)
        keys = [s or c.SINGLE_STORE_KEY for s in self.store_ids]
        succeeded = [k for k in keys
                     if progress.store(k).state == c.STORE_ACTIVE]
        if not self.all_must_succeed:
            if not succeeded:
                raise exceptions.ImportFailed('All target stores failed: ' +
                                              '; '.join(
                    '%s: %s' % (k, progress.store(k).error) for k in keys),
                    phase=c.PHASE_STORES)
            return  # each store committed on its own
        self.runtime.check()
        method = methods.load(self.method_name)
        values = {'status': c.ACTIVE} if method.sets_importing else {}
        db.image_save(self.image_id, task_id=self.task_id, values=values,
                      expected_status=[c.IMPORTING, c.ACTIVE],
                      mark_committed=True)
        self.runtime.committed = True
        if values and notifier.enabled():
            notifier.image_event('image.activate',
                                 db.image_get(self.image_id))


class Cleanup(base.ImportTask):
    """Delete every staging file of the image."""

    NAME = 'cleanup'
    unrecorded_states = (tf_states.RUNNING, tf_states.SUCCESS)

    def __init__(self, task_id, image_id):
        super().__init__(task_id, image_id, name=self.NAME)

    def execute(self):
        self.runtime.progress.enter(c.PHASE_FINISHING)
        staging.remove_all(self.image_id)


class Complete(base.ImportTask):
    """Final image state; the runner then ends the task and drops the lock."""

    NAME = 'complete'
    unrecorded_states = (tf_states.RUNNING, tf_states.SUCCESS)

    def __init__(self, task_id, image_id, store_ids):
        super().__init__(task_id, image_id, name=self.NAME)
        self.store_ids = store_ids

    def execute(self):
        user_stores = [s for s in self.store_ids if s]
        db.image_save(self.image_id, task_id=self.task_id,
                      remove_from_lists={c.PROP_IMPORTING_TO: user_stores})
