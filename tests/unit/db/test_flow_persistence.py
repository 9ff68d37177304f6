"""The lean taskflow persistence backend (importflow.db.flow_persistence):
what it writes is what taskflow's own backend reads back."""

import contextlib
import threading
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from taskflow import engines
from taskflow import exceptions as tf_exc
from taskflow.patterns import linear_flow
from taskflow.persistence import backends as tf_backends
from taskflow.persistence import models as tf_models
from taskflow import task as tf_task

from importflow.db import flow_persistence


class Double(tf_task.Task):
    default_provides = 'doubled'

    def execute(self, number):
        return number * 2


class Fail(tf_task.Task):
    def execute(self, doubled):
        raise RuntimeError('no %s' % doubled)


@pytest.fixture
def backend(env):
    backend = flow_persistence.backend()
    yield backend
    backend.close()


@pytest.fixture
def conn(backend):
    """The lean connection, on an up-to-date schema."""
    with contextlib.closing(backend.get_connection()) as conn:
        conn.upgrade()
        yield conn


@pytest.fixture
def book_id():
    return str(uuid.uuid4())


def _read_back(book_id):
    """The book as taskflow's own backend reads it (no shared state):
    ({atom name: (state, results, meta)}, [flow states])."""
    backend = tf_backends.fetch(flow_persistence.conf())
    try:
        with contextlib.closing(backend.get_connection()) as conn:
            book = conn.get_logbook(book_id)
            return ({ad.name: (ad.state, ad.results, ad.meta)
                     for fd in book for ad in fd},
                    [fd.state for fd in book])
    finally:
        backend.close()


def _states(book_id):
    """{atom name: (state, results)} as read back."""
    atoms = _read_back(book_id)[0]
    return {name: (state, results)
            for name, (state, results, _meta) in atoms.items()}


def _run(backend, flow, book_id, store):
    book = tf_models.LogBook('t', uuid=book_id)
    engine = engines.load(flow, store=store, backend=backend, book=book)
    engine.run()


def _saved_flow(conn, book_id, state='PENDING'):
    """(flow detail, its one atom detail in ``state``), saved by ``conn``."""
    book = tf_models.LogBook('b', uuid=book_id)
    flow = tf_models.FlowDetail('f', str(uuid.uuid4()))
    atom = tf_models.TaskDetail('a', str(uuid.uuid4()))
    atom.state = state
    flow.add(atom)
    book.add(flow)
    conn.save_logbook(book)
    return flow, atom


def test_states_and_results_reach_the_database(backend, book_id):
    flow = linear_flow.Flow('f').add(Double('double'))
    _run(backend, flow, book_id, {'number': 21})
    assert _states(book_id)['double'] == ('SUCCESS', 42)
    assert _read_back(book_id)[1] == ['SUCCESS']


def test_a_revert_is_recorded(backend, book_id):
    flow = linear_flow.Flow('f').add(Double('double'), Fail('fail'))
    with pytest.raises(RuntimeError, match='no 42'):
        _run(backend, flow, book_id, {'number': 21})
    atoms = _states(book_id)
    assert atoms['double'][0] == 'REVERTED'
    assert atoms['fail'][0] == 'REVERTED'
    assert _read_back(book_id)[1] == ['REVERTED']


def test_updating_an_unknown_atom_is_not_found(conn):
    with pytest.raises(tf_exc.NotFound):
        conn.update_atom_details(
            tf_models.TaskDetail('nobody', str(uuid.uuid4())))
    with pytest.raises(tf_exc.NotFound):
        conn.update_flow_details(
            tf_models.FlowDetail('nobody', str(uuid.uuid4())))


def test_a_flow_update_inserts_atoms_the_database_lacks(conn, book_id):
    book = tf_models.LogBook('b', uuid=book_id)
    flow = tf_models.FlowDetail('f', str(uuid.uuid4()))
    book.add(flow)
    conn.save_logbook(book)
    atom = tf_models.TaskDetail('late', str(uuid.uuid4()))
    atom.state = 'PENDING'
    flow.add(atom)
    flow.state = 'RUNNING'
    conn.update_flow_details(flow)
    assert _states(book_id) == {'late': ('PENDING', None)}
    assert _read_back(book_id)[1] == ['RUNNING']


def test_a_flow_update_writes_an_atom_changed_in_place(conn, book_id):
    # The backend skips atoms whose rows hold their values: a change made
    # to the detail object itself after it was saved still reaches the row.
    flow, atom = _saved_flow(conn, book_id)
    atom.state = 'SUCCESS'
    atom.results = {'stores': ['one']}
    conn.update_atom_details(atom)
    atom.results['stores'].append('two')
    conn.update_flow_details(flow)
    assert _states(book_id) == {'a': ('SUCCESS', {'stores': ['one', 'two']})}


def test_progress_marks_alone_are_not_written(conn, book_id):
    _flow, atom = _saved_flow(conn, book_id)
    atom.state = 'RUNNING'
    conn.update_atom_details(atom)
    atom.meta['progress'] = 1.0
    conn.update_atom_details(atom)
    progress_row = _read_back(book_id)[0]['a'][2]
    atom.state = 'SUCCESS'
    conn.update_atom_details(atom)
    assert progress_row == {}
    assert _read_back(book_id)[0]['a'][2] == {'progress': 1.0}


def _failing_once(monkeypatch, conn, error):
    calls = []
    real = type(conn)._update

    def update(self, *args):
        calls.append(args)
        if len(calls) == 1:
            raise error
        return real(self, *args)

    monkeypatch.setattr(type(conn), '_update', update)
    return calls


def test_a_dropped_connection_is_retried(conn, book_id, monkeypatch):
    _flow, atom = _saved_flow(conn, book_id)
    dropped = sa_exc.OperationalError(
        'UPDATE', {}, Exception('server closed the connection'),
        connection_invalidated=True)
    calls = _failing_once(monkeypatch, conn, dropped)
    atom.state = 'SUCCESS'
    conn.update_atom_details(atom)
    assert len(calls) == 2
    assert _states(book_id) == {'a': ('SUCCESS', None)}


def test_other_database_errors_are_not_retried(conn, book_id, monkeypatch):
    _flow, atom = _saved_flow(conn, book_id)
    broken = sa_exc.OperationalError(
        'UPDATE', {}, Exception('disk I/O error'))
    calls = _failing_once(monkeypatch, conn, broken)
    atom.state = 'SUCCESS'
    with pytest.raises(tf_exc.StorageFailure):
        conn.update_atom_details(atom)
    assert len(calls) == 1
    assert _states(book_id) == {'a': ('PENDING', None)}


@contextlib.contextmanager
def _statements(backend):
    """The SQL statements the backend sends inside the block."""
    sent = []

    def record(conn, cursor, statement, *args):
        sent.append(statement)

    engine = backend._engine
    sa.event.listen(engine, 'before_cursor_execute', record)
    try:
        yield sent
    finally:
        sa.event.remove(engine, 'before_cursor_execute', record)


def test_a_flow_update_with_nothing_new_sends_nothing(backend, conn,
                                                      book_id):
    flow, atom = _saved_flow(conn, book_id)
    atom.state = 'SUCCESS'
    conn.update_atom_details(atom)
    flow.state = 'SUCCESS'
    conn.update_flow_details(flow)
    atom.meta['progress'] = 1.0
    with _statements(backend) as sent:
        conn.update_flow_details(flow)
    assert sent == []
    assert _read_back(book_id)[1] == ['SUCCESS']


def test_a_flow_update_writes_atoms_another_process_saved(conn, book_id):
    # A resumed flow: its rows were written by the previous owner, so this
    # connection has no memory of them and must update, not insert.
    other = tf_backends.fetch(flow_persistence.conf())
    try:
        with contextlib.closing(other.get_connection()) as other_conn:
            flow, atom = _saved_flow(other_conn, book_id, state='RUNNING')
    finally:
        other.close()
    atom.state = 'SUCCESS'
    atom.results = 7
    flow.state = 'SUCCESS'
    conn.update_flow_details(flow)
    assert _states(book_id) == {'a': ('SUCCESS', 7)}
    assert _read_back(book_id)[1] == ['SUCCESS']


def test_a_new_book_and_its_atoms_are_inserted_without_lookups(
        backend, conn, book_id):
    book = tf_models.LogBook('b', uuid=book_id)
    flow = tf_models.FlowDetail('f', str(uuid.uuid4()))
    book.add(flow)
    with _statements(backend) as sent:
        conn.save_logbook(book)
        for name in ('a', 'b', 'c'):
            atom = tf_models.TaskDetail(name, str(uuid.uuid4()))
            atom.state = 'PENDING'
            flow.add(atom)
        conn.update_flow_details(flow)
    verbs = [s.split()[0] for s in sent]
    assert 'SELECT' not in verbs
    # The three atoms in one statement, the unchanged flow row not at all.
    assert [s.split()[2] for s in sent] == [
        'logbooks', 'flowdetails', 'atomdetails']
    assert _states(book_id) == {n: ('PENDING', None) for n in 'abc'}


def test_saving_a_book_that_exists_merges_it(conn, book_id):
    other = tf_backends.fetch(flow_persistence.conf())
    try:
        with contextlib.closing(other.get_connection()) as other_conn:
            _saved_flow(other_conn, book_id, state='SUCCESS')
    finally:
        other.close()
    book = tf_models.LogBook('b', uuid=book_id)
    book.add(tf_models.FlowDetail('second', str(uuid.uuid4())))
    conn.save_logbook(book)
    assert _states(book_id) == {'a': ('SUCCESS', None)}
    assert len(_read_back(book_id)[1]) == 2


def test_an_unrecorded_atom_stays_pending_while_it_runs(env, book_id):
    backend = flow_persistence.backend(
        unrecorded_states={'quiet': {'RUNNING'}})
    try:
        with contextlib.closing(backend.get_connection()) as conn:
            book = tf_models.LogBook('b', uuid=book_id)
            flow = tf_models.FlowDetail('f', str(uuid.uuid4()))
            book.add(flow)
            conn.save_logbook(book)
            atoms = {}
            for name in ('quiet', 'loud'):
                atoms[name] = tf_models.TaskDetail(name, str(uuid.uuid4()))
                atoms[name].state = 'PENDING'
                flow.add(atoms[name])
            conn.update_flow_details(flow)
            for atom in atoms.values():
                atom.state = 'RUNNING'
                conn.update_atom_details(atom)
            assert _states(book_id) == {'quiet': ('PENDING', None),
                                        'loud': ('RUNNING', None)}
            atoms['quiet'].state = 'SUCCESS'
            atoms['quiet'].results = 'done'
            conn.update_atom_details(atoms['quiet'])
            assert _states(book_id)['quiet'] == ('SUCCESS', 'done')
    finally:
        backend.close()



class Record(tf_task.Task):
    """Adds one; its first run hangs until released, as on a dead worker."""

    def __init__(self, runs, entered, release):
        super().__init__('record')
        self.runs, self.entered, self.release = runs, entered, release

    def execute(self, doubled):
        self.runs.append(doubled)
        if len(self.runs) == 1:
            self.entered.set()
            self.release.wait()
            raise RuntimeError('the dead worker wakes up')
        return doubled + 1


def test_an_interrupted_unrecorded_atom_runs_again_on_resume(env, book_id):
    runs, entered, release = [], threading.Event(), threading.Event()

    def flow():
        return linear_flow.Flow('f').add(
            Double('double'), Record(runs, entered, release))

    first = flow_persistence.backend(
        unrecorded_states={'record': {'RUNNING'}})
    dead = threading.Thread(target=lambda: pytest.raises(
        RuntimeError, _run, first, flow(), book_id, {'number': 21}))
    dead.start()
    try:
        assert entered.wait(10)
        states = _states(book_id)
        assert (states['double'], states['record']) == (
            ('SUCCESS', 42), ('PENDING', None))
        # The next owner resumes the persisted flow: 'record' runs again.
        second = flow_persistence.backend(
        unrecorded_states={'record': {'RUNNING'}})
        try:
            with contextlib.closing(second.get_connection()) as conn:
                book = conn.get_logbook(book_id)
            engines.load(flow(), flow_detail=list(book)[0], book=book,
                         backend=second).run()
        finally:
            second.close()
        states = _states(book_id)
        assert runs == [42, 42]
        assert (states['double'], states['record']) == (
            ('SUCCESS', 42), ('SUCCESS', 43))
    finally:
        release.set()
        dead.join()
        first.close()


class Tail(tf_task.Task):
    """Counts its runs; needs 'doubled' so it runs after Double."""

    def __init__(self, runs):
        super().__init__('tail')
        self.runs = runs

    def execute(self, doubled):
        self.runs.append(doubled)


def test_a_finished_atom_with_unrecorded_success_runs_again(env, book_id):
    # The trailing atoms of an import: after a crash before the flow was
    # deleted, the next owner runs them again.
    runs = []
    flow = linear_flow.Flow('f').add(Double('double'), Tail(runs))
    first = flow_persistence.backend(
        unrecorded_states={'tail': {'RUNNING', 'SUCCESS'}},
        records_flow_success=False)
    try:
        _run(first, flow, book_id, {'number': 21})
    finally:
        first.close()
    states = _states(book_id)
    assert (states['double'], states['tail']) == (
        ('SUCCESS', 42), ('PENDING', None))
    assert _read_back(book_id)[1] == ['RUNNING']
    second = flow_persistence.backend()
    try:
        with contextlib.closing(second.get_connection()) as conn:
            book = conn.get_logbook(book_id)
        engines.load(flow, flow_detail=list(book)[0], book=book,
                     backend=second).run()
    finally:
        second.close()
    assert runs == [42, 42]
    assert _states(book_id)['tail'] == ('SUCCESS', None)
    assert _read_back(book_id)[1] == ['SUCCESS']
