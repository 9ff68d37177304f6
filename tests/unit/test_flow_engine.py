"""importflow's taskflow engines (importflow.flows.engine): progress marks
stay in memory until the atom's next state save, and a failed save is
retried as taskflow's own Storage would."""

import contextlib
import uuid

import pytest
from taskflow import exceptions as tf_exc
from taskflow.patterns import linear_flow
from taskflow.persistence import backends as tf_backends
from taskflow.persistence import models as tf_models
from taskflow import storage as tf_storage
from taskflow import task as tf_task

from importflow.db import flow_persistence
from importflow.flows import engine


class Halve(tf_task.Task):
    default_provides = 'half'

    def execute(self, number):
        self.update_progress(0.5)
        return number / 2


@pytest.fixture
def backend(env):
    backend = flow_persistence.backend()
    with contextlib.closing(backend.get_connection()) as conn:
        conn.upgrade()
    yield backend
    backend.close()


def _engine(engine_cls, backend, **options):
    book = tf_models.LogBook('b', uuid=str(uuid.uuid4()))
    flow_detail = tf_models.FlowDetail('f', str(uuid.uuid4()))
    book.add(flow_detail)
    with contextlib.closing(backend.get_connection()) as conn:
        conn.save_logbook(book)
    flow = linear_flow.Flow('f').add(Halve('halve'))
    run = engine_cls(flow, flow_detail, backend, options)
    run.storage.inject({'number': 42})
    return run, book.uuid


def _atom_row(book_id):
    other = tf_backends.fetch(flow_persistence.conf())
    try:
        with contextlib.closing(other.get_connection()) as conn:
            atom, = [ad for fd in conn.get_logbook(book_id) for ad in fd
                     if ad.name == 'halve']
            return atom.state, atom.results, atom.meta
    finally:
        other.close()


@pytest.mark.parametrize('engine_cls', [engine.SerialEngine,
                                        engine.ParallelEngine])
def test_progress_marks_reach_the_row_with_the_state(backend, engine_cls):
    run, book_id = _engine(engine_cls, backend)
    run.run()
    assert run.storage.get_task_progress('halve') == 1.0
    # The task's own mark (0.5) went with its SUCCESS; the engine's final
    # mark (1.0) comes after it and stays in memory.
    assert _atom_row(book_id) == ('SUCCESS', 21, {
        'progress': 0.5, 'progress_details': None})


def _failing_success_saves(monkeypatch, backend, failures):
    """Make saving 'halve' as SUCCESS fail ``failures`` times; returns the
    list of failed attempts."""
    monkeypatch.setattr(tf_storage, 'RETRY_WAIT_TIMEOUT', 0)
    conn_cls = type(backend.get_connection())
    real = conn_cls.update_atom_details
    attempts = []

    def update(self, atom_detail):
        if atom_detail.name == 'halve' and atom_detail.state == 'SUCCESS' \
                and len(attempts) < failures:
            attempts.append(atom_detail.name)
            raise tf_exc.StorageFailure('database unreachable')
        return real(self, atom_detail)

    monkeypatch.setattr(conn_cls, 'update_atom_details', update)
    return attempts


def test_a_failed_save_is_retried_as_taskflow_does(backend, monkeypatch):
    failures = _failing_success_saves(monkeypatch, backend, 1)
    run, book_id = _engine(engine.SerialEngine, backend)
    run.run()
    assert failures == ['halve']
    assert _atom_row(book_id)[:2] == ('SUCCESS', 21)


def test_a_save_failing_every_time_fails_the_run(backend, monkeypatch):
    attempts = _failing_success_saves(monkeypatch, backend, float('inf'))
    run, _book_id = _engine(engine.SerialEngine, backend)
    with pytest.raises(tf_exc.StorageFailure):
        run.run()
    assert len(attempts) == tf_storage.RETRY_ATTEMPTS
