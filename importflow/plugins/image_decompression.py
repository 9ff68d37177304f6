"""image_decompression: unpack gzip, zip, xz and bzip2 staged data.

import-semantics 12.2: the format is recognised by its magic bytes, the
data is streamed (never held in memory) into staging ``<id>.uc`` and the
output is cut once it exceeds ``min(image_size_cap, max_compression_ratio x
compressed size)``. Data that is not compressed passes through unchanged.
The original staged file is only read.
"""

import bz2
import gzip
import lzma
import os
import zipfile
import zlib

from oslo_config import cfg
from oslo_log import log as logging
from taskflow.patterns import linear_flow

from importflow.common import constants as c
from importflow.common import exceptions
from importflow.conf import CONF
from importflow.db import api as db
from importflow.stores import staging
from importflow.tasks import base
from importflow.tasks import streaming

LOG = logging.getLogger(__name__)

GROUP = 'image_decompression'
PLUGIN = 'image_decompression'
OUTPUT_SUFFIX = 'uc'

decompression_opts = [
    cfg.IntOpt('max_compression_ratio', default=1000, min=0,
               help='Largest output/input size ratio; 0 = no ratio limit '
                    '(image_size_cap still applies).'),
]
CONF.register_opts(decompression_opts, group=GROUP)


def list_opts():
    return [(GROUP, decompression_opts)]


# (format, offset, magic), checked in order.
_MAGIC = (
    ('gzip', 0, b'\x1f\x8b\x08'),
    ('zip', 0, b'PK\x03\x04'),
    ('xz', 0, b'\xfd7zXZ\x00'),
    ('bzip2', 0, b'BZh'),
    ('lha', 2, b'-lh'),
)
_MAGIC_LEN = max(offset + len(magic) for _, offset, magic in _MAGIC)

# What the stdlib decompressors raise on corrupt or unsupported input.
_DATA_ERRORS = (OSError, EOFError, ValueError, RuntimeError,
                NotImplementedError, zlib.error, lzma.LZMAError,
                zipfile.BadZipFile)


def detect(path):
    """The compression format of a file, or None for anything else."""
    with open(path, 'rb') as f:
        head = f.read(_MAGIC_LEN)
    for name, offset, magic in _MAGIC:
        if head[offset:offset + len(magic)] == magic:
            return name
    return None


def _fail(reason):
    return exceptions.ImportFailed('%s failed: %s' % (PLUGIN, reason),
                                   phase=PLUGIN)


class _RatioExceeded(Exception):
    pass


class Decompress(base.TransformTask):
    """Provides ``staged_path``: ``<id>.uc`` or, if not compressed, its
    input."""

    phase = c.PHASE_DECOMPRESSION

    def __init__(self, task_id, image_id):
        super().__init__(task_id, image_id, 'image-decompression',
                         OUTPUT_SUFFIX)

    def execute(self, staged_path):
        runtime = self.runtime
        runtime.check()
        progress = runtime.progress
        output = self.output_path()
        # Left-over of an interrupted attempt: start again from scratch.
        staging.remove(output)
        image = self.load_image()
        if image['container_format'] == 'compressed':
            LOG.info('Image %s: container_format is compressed, '
                     'image_decompression skipped', self.image_id)
            progress.finish_phase(c.PHASE_DECOMPRESSION)
            return {c.KEY_STAGED_PATH: staged_path, 'output': None}
        kind = detect(staged_path)
        if kind is None:
            LOG.debug('Image %s: staged data is not compressed',
                      self.image_id)
            progress.finish_phase(c.PHASE_DECOMPRESSION)
            return {c.KEY_STAGED_PATH: staged_path, 'output': None}
        progress.enter(c.PHASE_DECOMPRESSION)
        try:
            written = self._decompress(kind, staged_path, output)
            previous = {'size': image['size']}
            db.image_save(self.image_id, task_id=self.task_id,
                          values={'size': written})
        except BaseException as exc:
            staging.remove(output)
            progress.finish_phase(
                c.PHASE_DECOMPRESSION,
                c.STATE_CANCELLED if isinstance(exc, exceptions.ImportStopped)
                else c.STATE_FAILED)
            raise
        progress.finish_phase(c.PHASE_DECOMPRESSION)
        LOG.info('Image %s: decompressed %s data, %d -> %d bytes',
                 self.image_id, kind, os.path.getsize(staged_path), written)
        return {c.KEY_STAGED_PATH: output, 'output': output,
                'previous': previous}

    def _limits(self, compressed_size):
        """(limit, ratio limit or None) for the output."""
        cap = CONF.image_size_cap
        ratio = CONF[GROUP].max_compression_ratio
        if ratio and ratio * compressed_size < cap:
            return ratio * compressed_size, ratio
        return cap, None

    def _decompress(self, kind, source_path, output):
        if kind == 'lha':
            raise _fail('lha archives are not supported: no maintained '
                        'LHA library is installed')
        compressed_size = os.path.getsize(source_path)
        limit, ratio = self._limits(compressed_size)
        counter = self.counter()
        counter.bytes_done = 0
        counter.bytes_total = None
        try:
            with self._open(kind, source_path) as stream:
                reader = streaming.MeteredReader(
                    stream, counter, CONF.image_size_cap, PLUGIN,
                    self.runtime.check)
                return _write_limited(
                    reader, output, limit,
                    CONF.image_import_opts.staging_chunk_size)
        except _RatioExceeded:
            if ratio is None:
                raise exceptions.SizeCapExceeded(PLUGIN, limit)
            raise _fail('decompressed data exceeds %dx the compressed size '
                        '(limit %d bytes)' % (ratio, limit))
        except exceptions.ImportflowError:
            raise
        except _DATA_ERRORS as exc:
            raise _fail('cannot decompress %s data: %s: %s'
                        % (kind, type(exc).__name__, exc))

    def _open(self, kind, path):
        if kind == 'gzip':
            return gzip.open(path, 'rb')
        if kind == 'bzip2':
            return bz2.open(path, 'rb')
        if kind == 'xz':
            return lzma.open(path, 'rb', format=lzma.FORMAT_XZ)
        return _ZipMember(path)


class _ZipMember:
    """The single member of a zip archive, as a readable stream."""

    def __init__(self, path):
        self._zip = zipfile.ZipFile(path)
        try:
            members = self._zip.infolist()
            if len(members) != 1:
                raise _fail('zip archive must hold exactly one member, it '
                            'holds %d' % len(members))
            self._member = self._zip.open(members[0])
        except BaseException:
            self._zip.close()
            raise

    def read(self, size=-1):
        return self._member.read(size)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._member.close()
        self._zip.close()


def _write_limited(reader, path, limit, chunk_size):
    """Copy ``reader`` into ``path``; raise _RatioExceeded past ``limit``
    bytes. The file is durable on return; a failure leaves no file."""
    written = 0
    try:
        with open(path, 'wb') as destination:
            while True:
                chunk = reader.read(chunk_size)
                if not chunk:
                    break
                written += len(chunk)
                if written > limit:
                    raise _RatioExceeded()
                destination.write(chunk)
            destination.flush()
            os.fsync(destination.fileno())
    except BaseException:
        staging.remove(path)
        raise
    return written


def get_flow(**kwargs):
    return linear_flow.Flow(PLUGIN).add(
        Decompress(kwargs['task_id'], kwargs['image_id']))
