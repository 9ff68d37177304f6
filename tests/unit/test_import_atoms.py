"""Import atoms map their arguments as taskflow would, though the mapping
is worked out once per class (importflow.tasks.base)."""

from taskflow import task as tf_task

from importflow.tasks import base
from importflow.tasks import lifecycle
from importflow.tasks import staging
from importflow.tasks import store_copy


def _atoms():
    return [lifecycle.Start('t', 'i', 'glance-direct', ['fast', 'cheap']),
            staging.VerifyStaging('t', 'i', 'glance-direct'),
            store_copy.StoreCopy('t', 'i', 'fast', True, True),
            lifecycle.Commit('t', 'i', 'glance-direct', True, ['fast'])]


def _mappings(atom):
    return (atom.rebind, atom.requires, atom.optional, atom.revert_rebind,
            atom.revert_optional)


def test_cached_argument_mappings_are_taskflows(monkeypatch):
    monkeypatch.setattr(base, '_ARG_MAPPINGS', {})
    first, cached = _atoms(), _atoms()
    assert base._ARG_MAPPINGS   # the second set came from the cache
    monkeypatch.setattr(base.ImportTask, '_build_arg_mapping',
                        tf_task.Task._build_arg_mapping)
    for atom, again, uncached in zip(first, cached, _atoms(), strict=True):
        assert _mappings(atom) == _mappings(again) == _mappings(uncached)
    # Each atom owns its mapping.
    cached[2].rebind['extra'] = 'x'
    assert 'extra' not in first[2].rebind
    assert 'staged_path' in cached[2].requires
