"""The one reader every data phase streams through.

It counts bytes into a progress counter, enforces ``image_size_cap`` at the
first byte past it, and stops the stream when the import must stop. The
per-chunk cost is a few attribute reads: progress is published elsewhere.
"""

import os

from importflow.common import exceptions


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


def copy_stream(reader, destination, chunk_size):
    """Copy a reader into an open file; returns bytes written."""
    written = 0
    while True:
        chunk = reader.read(chunk_size)
        if not chunk:
            return written
        destination.write(chunk)
        written += len(chunk)


def stream_to_file(reader, path, chunk_size):
    """Write a reader to ``path``; a failure leaves no partial file."""
    try:
        with open(path, 'wb') as destination:
            return copy_stream(reader, destination, chunk_size)
    except BaseException:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        raise
