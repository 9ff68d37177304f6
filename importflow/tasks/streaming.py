"""The reader every data phase streams through, and the staging writer.

It counts bytes into a progress counter, enforces ``image_size_cap`` at the
first byte past it, and stops the stream when the import must stop. The
per-chunk cost is a few attribute reads: progress is published elsewhere.
"""

import os
import queue
import threading

from importflow.common import exceptions

# Chunks that may wait for the writer thread of stream_to_file.
WRITE_AHEAD = 2


class MeteredReader:
    """File-like wrapper used as glance_store's or a plugin's input."""

    def __init__(self, source, counter, cap, where, check_stop):
        self._source = source
        self._counter = counter
        self._cap = cap
        self._where = where
        self._check_stop = check_stop
        self.bytes_read = 0

    def read(self, size=-1):
        chunk = self._source.read(size)
        self.bytes_read += len(chunk)
        if self.bytes_read > self._cap:
            raise exceptions.SizeCapExceeded(self._where, self._cap)
        self._counter.bytes_done = self.bytes_read
        self._check_stop()
        return chunk

    def __iter__(self):
        while True:
            chunk = self.read(1024 * 1024)
            if not chunk:
                return
            yield chunk


def stream_to_file(reader, path, chunk_size):
    """Write a reader to ``path``; a failure leaves no partial file.

    A second thread writes while this one reads (and hashes, for a copy to
    staging): the phase takes about max(read, write), not their sum. At most
    WRITE_AHEAD chunks wait for the writer.
    """
    destination = open(path, 'wb')
    writer = _Writer(destination)
    try:
        written = 0
        while True:
            chunk = reader.read(chunk_size)
            if not chunk:
                break
            writer.put(chunk)
            written += len(chunk)
        writer.finish()
        return written
    except BaseException:
        writer.abandon()
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        raise


class _Writer:
    """Writes queued chunks to an open file in its own thread; its error is
    raised in the caller's thread at the next put or at finish."""

    _END = object()

    def __init__(self, destination):
        self._destination = destination
        self._queue = queue.Queue(maxsize=WRITE_AHEAD)
        self._error = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='staging-writer')
        self._thread.start()

    def _run(self):
        try:
            while True:
                chunk = self._queue.get()
                if chunk is self._END or self._stopped.is_set():
                    return
                self._destination.write(chunk)
        except BaseException as exc:
            self._error = exc
            self._stopped.set()

    def put(self, chunk):
        # A writer that failed takes nothing more: its error surfaces here.
        while True:
            if self._error is not None:
                raise self._error
            try:
                self._queue.put(chunk, timeout=0.1)
                return
            except queue.Full:
                continue

    def finish(self):
        self.put(self._END)
        self._thread.join()
        self._destination.close()
        if self._error is not None:
            raise self._error

    def abandon(self):
        self._stopped.set()
        try:
            self._queue.put_nowait(self._END)
        except queue.Full:
            pass
        self._thread.join()
        self._destination.close()
