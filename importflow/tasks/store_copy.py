"""StoreCopy(s): stream the staged data into one store (section 6.3)."""

import os

from oslo_log import log as logging
from taskflow import states as tf_states

from importflow.common import constants as c
from importflow.common import exceptions
from importflow.common import inspection
from importflow.conf import CONF
from importflow.db import api as db
from importflow.rpc import notifier
from importflow import stores
from importflow.tasks import base
from importflow.tasks import streaming

LOG = logging.getLogger(__name__)

NAME_PREFIX = 'store-copy-'


def restore_finished(progress, flow_detail):
    """Put the copies a resumed flow finished before the takeover back
    into the progress counters: they do not run again, and the heartbeat
    of the worker that ran them may not have published their end."""
    for atom in flow_detail:
        if not atom.name.startswith(NAME_PREFIX) or \
                atom.state != tf_states.SUCCESS or \
                not isinstance(atom.results, dict):
            continue
        key = atom.name[len(NAME_PREFIX):]
        if 'url' in atom.results:
            counter = progress.store(key)
            counter.bytes_done = counter.bytes_total = atom.results['size']
            progress.set_store(key, c.STORE_ACTIVE)
        elif 'error' in atom.results:
            progress.set_store(key, c.STORE_FAILED, atom.results['error'])


class StoreCopyCancelled(exceptions.ImportflowError):
    """Another store failed under all_stores_must_succeed=true."""


class StoreCopy(base.ImportTask):

    def __init__(self, task_id, image_id, store_id, all_must_succeed,
                 sets_importing):
        super().__init__(task_id, image_id,
                         name=NAME_PREFIX + stores.store_key(store_id),
                         requires=[c.KEY_STAGED_PATH])
        self.store_id = store_id
        self.key = stores.store_key(store_id)
        self.all_must_succeed = all_must_succeed
        self.sets_importing = sets_importing

    def _own_location(self, image):
        for loc in image['locations']:
            if (loc['store'] or None) == self.store_id and \
                    loc['task_id'] == self.task_id:
                return loc
        return None

    def execute(self, staged_path):
        runtime = self.runtime
        runtime.check()
        progress = runtime.progress
        image = self.load_image()
        done = self._own_location(image)
        if done:
            # A rerun after a crash: this copy finished and was recorded.
            progress.set_store(self.key, c.STORE_ACTIVE)
            return {'url': done['url'], 'size': image['size']}
        if runtime.copies_cancelled.is_set():
            progress.set_store(self.key, c.STATE_CANCELLED,
                               runtime.copies_cancel_reason)
            raise StoreCopyCancelled(runtime.copies_cancel_reason)
        progress.enter(c.PHASE_STORES)
        notifier.image_event('image.prepare', image, backend=self.key)
        try:
            # Failing to clear a left-over is this store's failure too.
            stores.delete_leftover(self.store_id, self.image_id)
            stored = self._copy(image, staged_path)
        except exceptions.ImportStopped:
            progress.set_store(self.key, c.STATE_CANCELLED)
            raise
        except StoreCopyCancelled as exc:
            progress.set_store(self.key, c.STATE_CANCELLED, str(exc))
            raise
        except Exception as exc:
            reason = _reason(exc)
            LOG.error('Image %s task %s: copy to store %s failed: %s',
                      self.image_id, self.task_id, self.key, reason)
            progress.set_store(self.key, c.STORE_FAILED, reason)
            notifier.image_event('image.upload', image, backend=self.key,
                                 error=reason)
            if self.all_must_succeed:
                runtime.cancel_copies(self.key)
                raise exceptions.StoreCopyFailed(self.key, reason)
            db.image_save(self.image_id, task_id=self.task_id,
                          remove_from_lists={c.PROP_IMPORTING_TO:
                                             [self.store_id]},
                          add_to_lists={c.PROP_FAILED_IMPORT:
                                        [self.store_id]})
            return {'error': reason}
        return self._record(image, stored)

    def _copy(self, image, staged_path):
        """Write, validate, and delete what was written if invalid."""
        counter = self.runtime.progress.store(self.key)
        size = os.path.getsize(staged_path)
        counter.bytes_total = size
        counter.bytes_done = 0
        self.runtime.progress.set_store(self.key, c.STORE_COPYING)
        with open(staged_path, 'rb') as source:
            inspector = inspection.wrap(source, image['container_format'])
            reader = streaming.MeteredReader(
                inspector or source, counter, CONF.image_size_cap,
                "store '%s'" % self.key, self._check_stop)
            stored = stores.put(self.store_id, self.image_id, reader, size)
        try:
            verdict = self._validate(image, stored, size, inspector)
        except Exception:
            stores.delete(self.store_id, stored['url'])
            raise
        stored['virtual_size'] = verdict.virtual_size if verdict else None
        return stored

    def _check_stop(self):
        self.runtime.check()
        if self.runtime.copies_cancelled.is_set():
            raise StoreCopyCancelled(self.runtime.copies_cancel_reason)

    def _validate(self, image, stored, size, inspector):
        if stored['size'] != size:
            raise exceptions.ImportFailed(
                'size mismatch: expected %d bytes, stored %d'
                % (size, stored['size']))
        for attr in ('checksum', 'os_hash_value'):
            if image[attr] and image[attr] != stored[attr]:
                raise exceptions.ImportFailed(
                    '%s mismatch: image has %s, store computed %s'
                    % (attr, image[attr], stored[attr]))
        if inspector is None:
            return None
        return inspection.judge(inspector, image['disk_format'], size,
                                "store '%s'" % self.key)

    def _record(self, image, stored):
        """Add the location; the first store sets hashes and sizes."""
        values = {}
        for attr in ('checksum', 'size', 'virtual_size'):
            if image[attr] is None and stored.get(attr) is not None:
                values[attr] = stored[attr]
        if image['os_hash_value'] is None:
            values['os_hash_algo'] = (image['os_hash_algo'] or
                                      CONF.hashing_algorithm)
            values['os_hash_value'] = stored['os_hash_value']
        commit = not self.all_must_succeed
        if commit and self.sets_importing:
            values['status'] = c.ACTIVE
        try:
            db.image_save(
                self.image_id, task_id=self.task_id, values=values,
                add_location={'store': self.store_id or '',
                              'url': stored['url'],
                              'meta_data': stored['meta_data']},
                remove_from_lists={c.PROP_IMPORTING_TO: [self.store_id]},
                mark_committed=commit)
        except Exception:
            stores.delete(self.store_id, stored['url'])
            raise
        self.runtime.progress.set_store(self.key, c.STORE_ACTIVE)
        activated = commit and values.get('status') == c.ACTIVE and \
            self.runtime.first_activation()
        if commit:
            self.runtime.committed = True
        if notifier.enabled():
            saved = self.load_image()
            notifier.image_event('image.upload', saved, backend=self.key)
            if activated:
                notifier.image_event('image.activate', saved)
        return {'url': stored['url'], 'size': stored['size']}

    def revert(self, result, flow_failures, **kwargs):
        if not self.revert_allowed():
            return
        progress = self.runtime.progress
        if isinstance(result, dict) and 'url' in result:
            if self.runtime.committed:
                # After commit the task can only succeed: committed data
                # stays (import-semantics 6.4).
                LOG.info('Image %s task %s: keeping committed copy in '
                         'store %s', self.image_id, self.task_id, self.key)
                return
            try:
                db.image_save(self.image_id, task_id=self.task_id,
                              remove_location=(self.store_id or '',
                                               self.task_id))
            except exceptions.LockLost:
                raise   # whoever took the lock cleans up
            except exceptions.ImportStopped:
                # The image was deleted with its locations; raising here
                # would stop taskflow from reverting the other atoms.
                LOG.info('Image %s task %s: image deleted; its copy in '
                         'store %s goes with it', self.image_id,
                         self.task_id, self.key)
            stores.delete(self.store_id, result['url'])
            progress.set_store(self.key, c.STORE_REVERTED)
            LOG.info('Image %s task %s: removed copy in store %s',
                     self.image_id, self.task_id, self.key)
            return
        # Failed, cancelled or never finished: nothing may stay behind.
        image = _image_or_none(self.image_id)
        if image is None or not any((loc['store'] or None) == self.store_id
                                    for loc in image['locations']):
            try:
                stores.delete_leftover(self.store_id, self.image_id)
            except Exception as exc:
                # A revert that raises stops taskflow from reverting the
                # other atoms (Start would leave the image 'importing').
                LOG.error('Image %s task %s: could not clear store %s: %s',
                          self.image_id, self.task_id, self.key,
                          _reason(exc))
        if progress.store(self.key).state in (c.STORE_PENDING,
                                              c.STORE_COPYING):
            progress.set_store(self.key, c.STATE_CANCELLED)


def _image_or_none(image_id):
    try:
        return db.image_get(image_id)
    except exceptions.ImageNotFound:
        return None


def _reason(exc):
    """A concrete cause: the exception class unless the text says it all."""
    if isinstance(exc, exceptions.ImportflowError):
        return str(exc)
    text = str(exc) or repr(exc)
    return '%s: %s' % (type(exc).__name__, text)
