"""stream_to_file: the threaded staging writer (download, copy to staging,
decompression)."""

import errno
import os

import pytest

from importflow.tasks import streaming


class _Chunks:
    """A reader of the given chunks, then b''; raises ``fail`` at the end
    if given."""

    def __init__(self, chunks, fail=None):
        self._chunks = list(chunks)
        self._fail = fail

    def read(self, size=-1):
        if self._chunks:
            return self._chunks.pop(0)
        if self._fail is not None:
            raise self._fail
        return b''


def test_stream_to_file_writes_every_byte_in_order(tmp_path):
    chunks = [os.urandom(1000 + i) for i in range(50)]
    path = tmp_path / 'out'
    written = streaming.stream_to_file(_Chunks(chunks), str(path), 4096)
    assert written == sum(len(c) for c in chunks)
    assert path.read_bytes() == b''.join(chunks)




def test_stream_to_file_reader_error_leaves_no_file(tmp_path):
    path = tmp_path / 'out'
    with pytest.raises(ValueError, match='cap'):
        streaming.stream_to_file(_Chunks([b'x' * 100] * 5, ValueError('cap')),
                                 str(path), 100)
    assert not path.exists()


def test_stream_to_file_write_error_reaches_the_caller(tmp_path,
                                                      monkeypatch):
    path = tmp_path / 'out'
    reads = []

    class Endless:
        def read(self, size=-1):
            reads.append(size)
            return b'y' * size

    class Full:
        def __init__(self, real):
            self.real = real

        def write(self, chunk):
            raise OSError(errno.ENOSPC, 'No space left on device')

        def close(self):
            self.real.close()

    real_open = open

    def fake_open(file, mode='r', *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        return Full(f) if str(file) == str(path) else f

    monkeypatch.setattr('builtins.open', fake_open)
    with pytest.raises(OSError) as info:
        streaming.stream_to_file(Endless(), str(path), 1000)
    assert info.value.errno == errno.ENOSPC
    assert not path.exists()
    # The reader stopped soon after the writer failed.
    assert len(reads) < 100
