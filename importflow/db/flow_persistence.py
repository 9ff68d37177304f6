"""taskflow's SQLAlchemy persistence, in the image database.

Two costs of taskflow's own backend dominated a small import's CPU time:

- it opens a new ``Connection`` for every state it saves, and each one
  builds its own ``Table`` objects, so every statement is new to
  SQLAlchemy's compiled-statement cache. The backend here keeps one
  connection object (it holds only the tables; each operation takes a
  database connection from the engine's pool).
- an update reads the row back and merges it before writing, and a flow
  state change rewrites every atom of the flow that way. The only writer
  of a task's flow is the worker holding the task's lease, so the row
  holds what that worker wrote last: updates here are one prepared UPDATE
  per row (an INSERT for an atom the database does not have yet). A flow
  update skips the rows that already hold their values, and sends nothing
  when none changed; taskflow's automatic per-atom progress marks are not
  written.
- a new book was looked up before its INSERT, and so was each new atom
  of a flow; a flow this connection created needs neither, and its new
  atoms go in one statement.
- most saves are one UPDATE; those run as a lone statement, without a
  transaction around it (``db.single_statement``).

The states given in ``unrecorded_states`` for an atom are not written at
all: such an atom has nothing to revert and is safe to rerun, so one left
PENDING is simply run again by the next owner. Nor is a flow's SUCCESS,
unless ``records_flow_success``: the runner deletes a finished flow in the
task's final transaction, and one left RUNNING with its atoms done
finishes at once when resumed.

Every operation taskflow and the runner use is retried on a dropped
database connection (taskflow would fail the flow with StorageFailure): each
is one transaction that writes absolute values, so running it again is safe.
"""

import collections
import copy
import threading

import sqlalchemy as sa
from taskflow import exceptions as tf_exc
from taskflow.persistence.backends import impl_sqlalchemy
from taskflow.persistence import models as tf_models
from taskflow import states as tf_states
from taskflow import storage as tf_storage

from importflow.conf import CONF
from importflow.db import api as db


def conf():
    """taskflow's backend configuration for the image database."""
    url = CONF.database.connection
    options = {'connection': url, 'checkin_yield': False}
    if url.startswith('sqlite'):
        if ':memory:' not in url and url.rstrip('/') not in (
                'sqlite:', 'sqlite+pysqlite:'):
            # taskflow opens a new SQLite connection per operation
            # (NullPool); reusing them spares a connect and its PRAGMAs.
            options['engine_args'] = {
                'poolclass': sa.pool.QueuePool,
                'connect_args': {'check_same_thread': False}}
    else:
        options['max_retries'] = 3
    return options


# Atom rows whose last written values are remembered (about 6 per running
# import); forgetting one only costs a redundant UPDATE.
WRITTEN_ATOMS = 4096
# Flows this connection created (book uuid, atoms inserted since): a new
# atom of such a flow needs no lookup before its INSERT. Forgetting one
# only costs that lookup.
CREATED_FLOWS = 1024


def _without_progress(meta):
    return {k: v for k, v in (meta or {}).items()
            if k not in (tf_storage.META_PROGRESS,
                         tf_storage.META_PROGRESS_DETAILS)}


class _LeanConnection(impl_sqlalchemy.Connection):

    def __init__(self, backend, upgrade_lock, unrecorded_states,
                 records_flow_success):
        super().__init__(backend, upgrade_lock)
        self._unrecorded_states = unrecorded_states
        self._records_flow_success = records_flow_success
        self._updates = {}
        self._written = collections.OrderedDict()
        self._created = collections.OrderedDict()
        self._written_lock = threading.Lock()

    def _remember(self, written):
        """After commit: {atom uuid: values} now held by the rows (copied:
        taskflow may change the detail objects in place later)."""
        written = copy.deepcopy(written)
        with self._written_lock:
            for atom_uuid, values in written.items():
                self._written[atom_uuid] = values
                self._written.move_to_end(atom_uuid)
            while len(self._written) > WRITTEN_ATOMS:
                self._written.popitem(last=False)

    def _held(self, atom_uuid):
        """What this connection last wrote to the atom's row, or None."""
        with self._written_lock:
            return self._written.get(atom_uuid)

    def _update(self, conn, table, values):
        """UPDATE one row by uuid from a detail's ``to_dict()``; the
        statement is built once per table and set of keys."""
        keys = tuple(sorted(k for k in values if k != 'uuid'))
        statement = self._updates.get((table.name, keys))
        if statement is None:
            statement = table.update().where(
                table.c.uuid == sa.bindparam('w_uuid')).values(
                {k: sa.bindparam('v_' + k, type_=table.c[k].type)
                 for k in keys})
            self._updates[(table.name, keys)] = statement
        params = {'v_' + k: values[k] for k in keys}
        params['w_uuid'] = values['uuid']
        return conn.execute(statement, params).rowcount

    def _inserted(self, flow_uuid, atom_uuids):
        """Note atoms this connection inserted into a flow it created."""
        with self._written_lock:
            if flow_uuid in self._created:
                self._created[flow_uuid][1].update(atom_uuids)

    def _stored_atoms(self, conn, flow_uuid, atom_uuids):
        """Which of these atoms (none held by this connection) have rows."""
        with self._written_lock:
            created = self._created.get(flow_uuid)
            if created is not None:
                return created[1].intersection(atom_uuids)
        atoms = self._tables.atomdetails
        return set(conn.execute(sa.select(atoms.c.uuid).where(
            atoms.c.uuid.in_(atom_uuids))).scalars())

    @db.retry_on_disconnect
    def save_logbook(self, book):
        """A new book is inserted without taskflow's lookup first; one
        that exists (its INSERT fails) is merged by taskflow."""
        flows = list(book)
        if any(len(fd) for fd in flows):
            return super().save_logbook(book)
        written = {fd.uuid: fd.to_dict() for fd in flows}
        tables = self._tables
        try:
            with self._engine.begin() as conn:
                conn.execute(tables.logbooks.insert().values(
                    **book.to_dict()))
                for fd in flows:
                    conn.execute(tables.flowdetails.insert().values(
                        parent_uuid=book.uuid, **written[fd.uuid]))
        except sa.exc.IntegrityError:
            return super().save_logbook(book)
        except sa.exc.SQLAlchemyError:
            tf_exc.raise_with_cause(tf_exc.StorageFailure,
                                    "Failed saving logbook '%s'" % book.uuid)
        self._remember(written)
        with self._written_lock:
            for fd in flows:
                self._created[fd.uuid] = (book.uuid, set())
            while len(self._created) > CREATED_FLOWS:
                self._created.popitem(last=False)
        return book

    @db.retry_on_disconnect
    def get_logbook(self, book_uuid, lazy=False):
        return super().get_logbook(book_uuid, lazy=lazy)

    def logbook_delete(self, book_uuid):
        """The DELETE of a book, its flows and their atoms (they cascade),
        for a transaction of the caller's."""
        with self._written_lock:
            for flow_uuid in [u for u, (book, _) in self._created.items()
                              if book == book_uuid]:
                del self._created[flow_uuid]
        logbooks = self._tables.logbooks
        return logbooks.delete().where(logbooks.c.uuid == book_uuid)

    def _unchanged(self, atom_uuid, values):
        """Whether the atom's row already holds ``values``, progress marks
        aside: taskflow saves an atom's progress (0.0 when it starts, 1.0
        when it ends) right after its state, and importflow keeps its own
        progress on the task record, so those marks are not written."""
        held = self._held(atom_uuid)
        if held is None or held.keys() != values.keys():
            return False
        return all(held[k] == values[k] for k in values if k != 'meta') and \
            _without_progress(held['meta']) == _without_progress(
                values['meta'])

    def _skipped(self, atom_detail, values):
        """Whether nothing of the atom is to be written now: its row holds
        ``values`` already, or its state is not recorded (the row keeps
        its PENDING state)."""
        if atom_detail.state in self._unrecorded_states.get(
                atom_detail.name, ()):
            return True
        return self._unchanged(atom_detail.uuid, values)

    @db.retry_on_disconnect
    def update_atom_details(self, atom_detail):
        values = atom_detail.to_dict()
        if self._skipped(atom_detail, values):
            return atom_detail
        try:
            with db.single_statement(self._engine) as conn:
                if not self._update(conn, self._tables.atomdetails, values):
                    raise tf_exc.NotFound('No atom details found with uuid '
                                          "'%s'" % atom_detail.uuid)
            self._remember({atom_detail.uuid: values})
            return atom_detail
        except sa.exc.SQLAlchemyError:
            tf_exc.raise_with_cause(
                tf_exc.StorageFailure, "Failed updating atom details with "
                "uuid '%s'" % atom_detail.uuid)

    @db.retry_on_disconnect
    def update_flow_details(self, flow_detail):
        flow_values = flow_detail.to_dict()
        changed = {}
        for atom_detail in flow_detail:
            values = atom_detail.to_dict()
            if not self._skipped(atom_detail, values):
                changed[atom_detail.uuid] = (atom_detail, values)
        unrecorded = flow_detail.state == tf_states.SUCCESS and \
            not self._records_flow_success
        flow_unchanged = unrecorded or \
            self._held(flow_detail.uuid) == flow_values
        if flow_unchanged and not changed:
            return flow_detail
        written = {} if unrecorded else {flow_detail.uuid: flow_values}
        atoms = self._tables.atomdetails
        unknown = [u for u in changed if self._held(u) is None]
        one_update = not unknown and len(changed) + (not flow_unchanged) == 1
        try:
            with (db.single_statement(self._engine) if one_update
                  else self._engine.begin()) as conn:
                if not flow_unchanged and not self._update(
                        conn, self._tables.flowdetails, flow_values):
                    raise tf_exc.NotFound('No flow details found with uuid '
                                          "'%s'" % flow_detail.uuid)
                stored = self._stored_atoms(conn, flow_detail.uuid,
                                            unknown) if unknown else set()
                new_rows = []
                for atom_uuid, (atom_detail, values) in changed.items():
                    written[atom_uuid] = values
                    if atom_uuid in unknown and atom_uuid not in stored:
                        new_rows.append(dict(
                            values, parent_uuid=flow_detail.uuid,
                            atom_type=tf_models.atom_detail_type(
                                atom_detail)))
                    else:
                        self._update(conn, atoms, values)
                if new_rows:
                    # One statement for all of them (executemany).
                    conn.execute(atoms.insert(), new_rows)
            self._remember(written)
            self._inserted(flow_detail.uuid,
                           [row['uuid'] for row in new_rows])
            return flow_detail
        except sa.exc.SQLAlchemyError:
            tf_exc.raise_with_cause(
                tf_exc.StorageFailure, "Failed updating flow details with "
                "uuid '%s'" % flow_detail.uuid)


class _SharedConnectionBackend(impl_sqlalchemy.SQLAlchemyBackend):

    def __init__(self, options, engine=None, unrecorded_states=None,
                 records_flow_success=True):
        super().__init__(options, engine=engine)
        self._unrecorded_states = unrecorded_states or {}
        self._records_flow_success = records_flow_success
        self._lock = threading.Lock()
        self._connection = None

    def get_connection(self):
        with self._lock:
            if self._connection is None:
                self._connection = _LeanConnection(
                    self, self._upgrade_lock, self._unrecorded_states,
                    self._records_flow_success)
                if not self._validated:
                    self._connection.validate(max_retries=self._max_retries)
                    self._validated = True
            return self._connection

    def close(self):
        with self._lock:
            self._connection = None
        super().close()


def backend(unrecorded_states=None, records_flow_success=True):
    """A taskflow persistence backend; ``close()`` it when done.

    :param unrecorded_states: {atom name: states of it that are not
        written}; such an atom stays PENDING instead, and is run again.
    :param records_flow_success: False for a user that deletes a flow once
        it succeeded.
    """
    options = conf()
    engine = None
    if not options['connection'].startswith('sqlite'):
        # One pool for the image and flow tables: a separate one for
        # taskflow kept too few connections and opened a new one for
        # nearly every import.
        engine = db.get_engine()
    return _SharedConnectionBackend(
        options, engine=engine, unrecorded_states=unrecorded_states,
        records_flow_success=records_flow_success)
