"""Base class of every import atom.

Atoms take JSON-only constructor arguments (ids, names) so that a persisted
flow can be rebuilt on another worker; live state comes from the runtime.
"""

import collections

from oslo_log import log as logging
from taskflow import task
from taskflow.types import sets

from importflow.common import constants as c
from importflow.common import exceptions
from importflow.db import api as db
from importflow.stores import staging
from importflow.worker import progress
from importflow.worker import runtime as runtime_mod

LOG = logging.getLogger(__name__)

# {atom name: its states that are not saved} (unrecorded_states).
UNRECORDED_STATES = {}
# taskflow's argument mappings of atom methods, by class and arguments.
_ARG_MAPPINGS = {}


class ImportTask(task.Task):
    """An atom of the import of ``image_id`` by task ``task_id``."""

    # States of this atom (named NAME) that are not saved: one transaction
    # less each, per atom and import.
    # - RUNNING, for an atom with nothing to revert whose rerun is safe:
    #   an interrupted one stays PENDING and the next owner runs it again.
    # - SUCCESS as well, for such an atom that no later atom needs a result
    #   from and that only later atoms of the same kind follow: after a
    #   crash the next owner runs it again even if it had finished.
    unrecorded_states = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.unrecorded_states:
            UNRECORDED_STATES[cls.NAME] = frozenset(cls.unrecorded_states)

    def __init__(self, task_id, image_id, name, **kwargs):
        super().__init__(name=name, **kwargs)
        self.task_id = task_id
        self.image_id = image_id

    def _build_arg_mapping(self, executor, requires=None, rebind=None,
                           auto_extract=True, ignore_list=None):
        """taskflow's argument mapping of execute and revert, worked out
        once per class and arguments: it inspects their signatures, which
        cost each import ~1 ms of CPU for its few atoms."""
        key = (type(self), executor.__name__, repr(requires), repr(rebind),
               auto_extract, repr(ignore_list), repr(self.inject))
        mapping = _ARG_MAPPINGS.get(key)
        if mapping is None:
            mapping = super()._build_arg_mapping(
                executor, requires=requires, rebind=rebind,
                auto_extract=auto_extract, ignore_list=ignore_list)
            _ARG_MAPPINGS[key] = mapping
        rebind_map, required, optional = mapping
        # Copies: each atom owns its mapping.
        return (collections.OrderedDict(rebind_map),
                sets.OrderedSet(required), sets.OrderedSet(optional))

    @property
    def runtime(self):
        return runtime_mod.get(self.task_id)

    def load_image(self):
        """The image; its deletion stops the import with the contract's
        message rather than a lookup error."""
        try:
            return db.image_get(self.image_id)
        except exceptions.ImageNotFound:
            raise exceptions.ImportStopped(c.MSG_IMAGE_DELETED)

    def revert_allowed(self):
        """Reverts run only while this worker owns the task.

        An abandoned task (lease lost, or handed back at shutdown) blocks
        here for good: the worker that takes it over reverts or resumes it,
        and nothing of this attempt may be persisted as reverted.
        """
        runtime = self.runtime
        if runtime.abandoned.is_set():
            LOG.warning('Image %s task %s: abandoned; leaving %s to the '
                        'worker that takes over', self.image_id,
                        self.task_id, self.name)
            runtime.check()
        return True


class TransformTask(ImportTask):
    """A plugin atom that writes a derived staging file ``<id>.<suffix>``
    and changes image attributes.

    It requires and provides ``staged_path``; its result is a dict with
    ``staged_path`` and ``previous`` (the attribute values it replaced).
    Revert deletes the file and restores those values.
    """

    phase = None

    def __init__(self, task_id, image_id, name, suffix):
        super().__init__(task_id, image_id, name=name,
                         requires=[c.KEY_STAGED_PATH],
                         provides={c.KEY_STAGED_PATH})
        # Fixed when the flow is built, so that a takeover writes (and
        # reverts) the same file.
        self.suffix = suffix

    def output_path(self):
        return staging.path(self.image_id, self.suffix)

    def counter(self):
        """This phase's progress counter (a detached one if not shown)."""
        counter = self.runtime.progress.phases.get(self.phase)
        return counter if counter is not None else progress.Counter()

    def revert(self, result, **kwargs):
        if not self.revert_allowed():
            return
        try:
            staging.remove(self.output_path())
            previous = result.get('previous') if isinstance(
                result, dict) else None
            if previous:
                db.image_save(self.image_id, task_id=self.task_id,
                              values=previous)
        except Exception as exc:
            LOG.warning('Image %s task %s: %s revert incomplete: %s: %s',
                        self.image_id, self.task_id, self.name,
                        type(exc).__name__, exc)
