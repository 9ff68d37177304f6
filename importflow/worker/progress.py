"""Progress of one import, kept in memory and published by the heartbeat.

Streams bump plain integer counters (no lock, no I/O per chunk); the
heartbeat thread turns them into the task's ``progress`` and ``message``.
"""

import threading

from importflow.common import constants as c


class Counter:
    """Bytes done/total of one phase or one store copy."""

    __slots__ = ('state', 'bytes_done', 'bytes_total', 'error')

    def __init__(self, state=c.STATE_PENDING, bytes_done=0, bytes_total=None,
                 error=None):
        self.state = state
        self.bytes_done = bytes_done
        self.bytes_total = bytes_total
        self.error = error

    def as_dict(self):
        view = {'state': self.state, 'bytes_done': self.bytes_done,
                'bytes_total': self.bytes_total}
        if self.error:
            view['error'] = self.error
        return view

    @classmethod
    def from_dict(cls, data):
        return cls(data.get('state', c.STATE_PENDING),
                   data.get('bytes_done', 0), data.get('bytes_total'),
                   data.get('error'))


class ImportProgress:
    """Phase, per-phase and per-store progress (import-semantics 9.3)."""

    def __init__(self, phases, store_keys, previous=None):
        self._lock = threading.Lock()
        self.phase = c.PHASE_STARTING
        self.phases = {name: Counter() for name in phases}
        self.stores = {key: Counter(c.STORE_PENDING) for key in store_keys}
        self.last_message = ''
        if previous:
            # A takeover continues from what the previous owner published.
            for name, data in previous.get('phases', {}).items():
                if name in self.phases:
                    self.phases[name] = Counter.from_dict(data)
            for key, data in previous.get('stores', {}).items():
                if key in self.stores:
                    self.stores[key] = Counter.from_dict(data)

    def enter(self, phase):
        with self._lock:
            if self.phase == phase:
                return
            self.phase = phase
            if phase in self.phases:
                self.phases[phase].state = c.STATE_RUNNING
                self.phases[phase].bytes_done = 0

    def finish_phase(self, phase, state=c.STATE_DONE):
        with self._lock:
            self._refresh_message()
            if phase in self.phases:
                self.phases[phase].state = state

    def store(self, key):
        return self.stores[key]

    def set_store(self, key, state, error=None):
        with self._lock:
            counter = self.stores[key]
            counter.state = state
            self._refresh_message()
            if error is not None:
                counter.error = error

    def snapshot(self):
        with self._lock:
            return {
                'phase': self.phase,
                'phases': {n: p.as_dict() for n, p in self.phases.items()},
                'stores': {k: s.as_dict() for k, s in self.stores.items()},
            }

    def message(self):
        """``Copied N MiB`` for the data flowing in the current phase."""
        with self._lock:
            return self._refresh_message()

    def _refresh_message(self):
        if self.phase == c.PHASE_STORES:
            done = sum(s.bytes_done for s in self.stores.values())
        elif self.phase in self.phases:
            done = self.phases[self.phase].bytes_done
        else:
            return self.last_message
        self.last_message = 'Copied %d MiB' % (done // c.MiB)
        return self.last_message
