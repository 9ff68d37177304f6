"""image_conversion: convert the staged image with qemu-img.

import-semantics 12.2: the staged data is inspected with oslo.utils'
format inspector (it must be the declared ``disk_format`` and pass the
safety checks) before qemu-img ever sees it; ``qemu-img info`` then runs
under resource limits and must agree. The conversion writes the new file
``<id>.<output_format>``; the original staged file is only read.
"""

import os
import signal
import struct
import threading

from oslo_concurrency import processutils
from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import imageutils
from oslo_utils.imageutils import format_inspector as fi
from taskflow.patterns import linear_flow

from importflow.common import constants as c
from importflow.common import exceptions
from importflow.common import inspection
from importflow.conf import CONF
from importflow.db import api as db
from importflow.stores import staging
from importflow.tasks import base

LOG = logging.getLogger(__name__)

GROUP = 'image_conversion'
PLUGIN = 'image_conversion'

conversion_opts = [
    cfg.StrOpt('output_format', default='raw',
               choices=['raw', 'qcow2', 'vmdk'],
               help='Disk format images are converted to.'),
    cfg.IntOpt('convert_cpu_time', default=3600, min=0,
               help='CPU seconds a single "qemu-img convert" may use before '
                    'it is killed and the import fails; 0 = no limit. '
                    '"qemu-img info" is always limited to 2 CPU seconds '
                    'and 1 GiB of address space.'),
]
CONF.register_opts(conversion_opts, group=GROUP)


def list_opts():
    return [(GROUP, conversion_opts)]


GiB = 1024 * 1024 * 1024
# import-semantics 12.2 step 3.
QEMU_IMG_INFO_LIMITS = processutils.ProcessLimits(
    cpu_time=2, address_space=1 * GiB, core_file_size=0)
_INFO_LIMITS_TEXT = '2 s CPU, 1 GiB address space'

_INSPECT_CHUNK = 64 * 1024
_WATCH_INTERVAL = 0.25
_QCOW2_MAGIC = b'QFI\xfb'


def _fail(reason):
    return exceptions.ImportFailed('%s failed: %s' % (PLUGIN, reason),
                                   phase=PLUGIN)


def _inspect(path, check):
    """The inspector matching the file at ``path`` (ISO + GPT = ISO).

    Reads only as far as the inspectors need; ``check`` runs per chunk.
    """
    with open(path, 'rb') as source:
        wrapper = fi.InspectWrapper(source)
        try:
            while wrapper.formats is None:
                check()
                if not wrapper.read(_INSPECT_CHUNK):
                    break
        finally:
            wrapper.close()
        formats = wrapper.formats or []
    names = sorted(str(f) for f in formats)
    if names == ['gpt', 'iso']:
        return next(f for f in formats if str(f) == 'iso')
    if len(formats) > 1:
        raise _fail('multiple image formats detected: %s' % ', '.join(names))
    if not formats:
        raise _fail('image format could not be determined')
    return formats[0]


def _name(inspector):
    """Format name for the comparisons of 12.2: GPT counts as raw."""
    name = str(inspector)
    return 'raw' if name == 'gpt' else name


def _qcow2_backing_name(path):
    """The backing file name stored in a qcow2 header, or None.

    Read directly (bounded: the format allows at most 1023 bytes) so that
    the refusal can name it without running qemu-img on the file.
    """
    with open(path, 'rb') as f:
        header = f.read(20)
        if len(header) < 20 or header[:4] != _QCOW2_MAGIC:
            return None
        offset, = struct.unpack('>Q', header[8:16])
        size, = struct.unpack('>I', header[16:20])
        if not offset or not size:
            return None
        f.seek(offset)
        return f.read(min(size, 1023)).decode('utf-8', 'replace')


def _safety_check(inspector, path, disk_format):
    if str(inspector) == 'qcow2':
        backing = _qcow2_backing_name(path)
        if backing:
            raise _fail('qcow2 image has a backing file %r; images with a '
                        'backing file are not allowed' % backing)
    try:
        # GPT checks are judged as for disk_format gpt (nonfatal list).
        inspection._safety_check(
            inspector, 'gpt' if str(inspector) == 'gpt' else disk_format,
            '%s failed' % PLUGIN)
    except exceptions.ImportFailed as exc:
        raise exceptions.ImportFailed(str(exc), phase=PLUGIN)


def _signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:
        return 'signal %d' % number


def _describe(exc, limits=None):
    """What a failed qemu-img run says: exit status and stderr."""
    code = exc.exit_code
    if isinstance(code, int) and code < 0:
        status = 'killed by %s' % _signal_name(-code)
        if limits:
            status += ' (limits: %s)' % limits
    else:
        status = 'exit code %s' % code
    detail = (exc.stderr or '').strip().replace('\n', ' ')
    return '%s: %s' % (status, detail) if detail else status


def _qemu_img_info(path, disk_format):
    try:
        out, err = processutils.execute(
            'qemu-img', 'info', '-f', disk_format, '--output=json', path,
            prlimit=QEMU_IMG_INFO_LIMITS)
    except processutils.ProcessExecutionError as exc:
        raise _fail('qemu-img info failed, %s'
                    % _describe(exc, _INFO_LIMITS_TEXT))
    except OSError as exc:
        raise _fail('cannot run qemu-img: %s: %s' % (type(exc).__name__,
                                                     exc))
    try:
        return imageutils.QemuImgInfo(out, format='json')
    except (ValueError, TypeError, AttributeError) as exc:
        raise _fail('cannot parse qemu-img info output: %s: %s'
                    % (type(exc).__name__, exc))


def _check_info(info, disk_format):
    """Step 3: qemu-img must agree and the image must be self-contained."""
    if info.file_format != disk_format:
        raise _fail('qemu-img info reports format %s, declared disk_format '
                    '%s' % (info.file_format, disk_format))
    if info.backing_file:
        raise _fail('%s image has a backing file %r; images with a backing '
                    'file are not allowed' % (disk_format, info.backing_file))
    specific = info.format_specific if isinstance(info.format_specific,
                                                  dict) else {}
    data = specific.get('data') or {}
    if disk_format == 'qcow2' and data.get('data-file') is not None:
        raise _fail('qcow2 image has a data-file %r; images with a data-file '
                    'are not allowed' % data['data-file'])
    if disk_format == 'vmdk':
        create_type = data.get('create-type')
        allowed = list(CONF.image_format.vmdk_allowed_types)
        if not create_type:
            raise _fail('VMDK create-type could not be determined')
        if create_type.lower() not in [t.lower() for t in allowed]:
            raise _fail('VMDK create-type %s is not allowed (allowed: %s)'
                        % (create_type, ', '.join(allowed) or 'none'))
    if not isinstance(info.virtual_size, int) or info.virtual_size < 0:
        raise _fail('qemu-img info reports no valid virtual size (%r)'
                    % (info.virtual_size,))
    return info.virtual_size


class _Watch:
    """Stops a running qemu-img when the import must stop, and reports
    the bytes it has written so far."""

    def __init__(self, check, counter, output, total):
        self._check = check
        self._counter = counter
        self._output = output
        self._total = total
        self._done = threading.Event()
        self._thread = None
        self.process = None
        self.stopped = None

    def on_execute(self, process):
        self.process = process
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='image-conversion-watch')
        self._thread.start()

    def _run(self):
        while not self._done.wait(_WATCH_INTERVAL):
            try:
                self._check()
            except exceptions.ImportStopped as exc:
                self.stopped = exc
                try:
                    self.process.kill()
                except OSError:
                    pass
                return
            try:
                written = os.stat(self._output).st_blocks * 512
            except OSError:
                continue
            if self._total is not None:
                written = min(written, self._total)
            self._counter.bytes_done = written

    def finish(self):
        self._done.set()
        if self._thread is not None:
            self._thread.join()


def _fsync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Convert(base.TransformTask):
    """Provides ``staged_path``: ``<id>.<output_format>`` or, when no
    conversion is needed, its input."""

    phase = c.PHASE_CONVERSION

    def __init__(self, task_id, image_id, output_format):
        super().__init__(task_id, image_id, 'image-conversion',
                         output_format)
        self.output_format = output_format

    def execute(self, staged_path):
        runtime = self.runtime
        runtime.check()
        output = self.output_path()
        if os.path.abspath(output) == os.path.abspath(staged_path):
            raise _fail('conversion output %s would overwrite its input'
                        % output)
        progress = runtime.progress
        progress.enter(c.PHASE_CONVERSION)
        image = self.load_image()
        if self._done_before(image, output):
            # A rerun after a crash that followed the final image save:
            # the pre-conversion values are gone, Start's revert has them.
            LOG.info('Image %s: conversion to %s already done',
                     self.image_id, self.output_format)
            progress.finish_phase(c.PHASE_CONVERSION)
            return {c.KEY_STAGED_PATH: output, 'output': output,
                    'previous': None}
        # Left-over of an interrupted attempt: start again from scratch.
        staging.remove(output)
        try:
            result = self._convert(image, staged_path, output)
        except BaseException as exc:
            staging.remove(output)
            progress.finish_phase(
                c.PHASE_CONVERSION,
                c.STATE_CANCELLED if isinstance(exc, exceptions.ImportStopped)
                else c.STATE_FAILED)
            raise
        progress.finish_phase(c.PHASE_CONVERSION)
        return result

    def _done_before(self, image, output):
        """True if an earlier run of this step saved its result: the
        image already describes the complete output file."""
        try:
            size = os.path.getsize(output)
        except OSError:
            return False
        if (image['disk_format'] != self.output_format or
                image['container_format'] != 'bare' or
                image['size'] != size or image['virtual_size'] is None):
            return False
        try:
            inspector = _inspect(output, self.runtime.check)
            _safety_check(inspector, output, self.output_format)
        except exceptions.ImportFailed:
            return False
        return _name(inspector) == self.output_format

    def _convert(self, image, source, output):
        check = self.runtime.check
        disk_format = image['disk_format']
        target = self.output_format
        unchanged = {c.KEY_STAGED_PATH: source, 'output': None}

        # Steps 1-2: our own inspector decides before qemu-img looks.
        inspector = _inspect(source, check)
        detected = _name(inspector)
        if detected == 'iso' and disk_format == 'iso':
            LOG.info('Image %s: ISO image, not converted', self.image_id)
            return unchanged
        if detected != disk_format:
            raise _fail('image format mismatch: declared disk_format %s, '
                        'detected %s' % (disk_format, detected))
        _safety_check(inspector, source, disk_format)

        # Step 3.
        check()
        virtual_size = _check_info(_qemu_img_info(source, disk_format),
                                   disk_format)
        cap = CONF.image_size_cap

        # Step 4.
        if disk_format == target:
            LOG.info('Image %s: already %s, not converted', self.image_id,
                     target)
            if image['virtual_size'] != virtual_size:
                db.image_save(self.image_id, task_id=self.task_id,
                              values={'virtual_size': virtual_size})
            return dict(unchanged,
                        previous={'virtual_size': image['virtual_size']})
        if target == 'raw' and virtual_size > cap:
            LOG.error('Image %s: virtual size %d exceeds image_size_cap %d',
                      self.image_id, virtual_size, cap)
            raise exceptions.SizeCapExceeded(PLUGIN, cap)

        # Step 5.
        counter = self.counter()
        counter.bytes_done = 0
        counter.bytes_total = virtual_size if target == 'raw' else None
        self._run_convert(source, output, disk_format, target, counter, cap)
        size = os.path.getsize(output)
        if size > cap:
            raise exceptions.SizeCapExceeded(PLUGIN, cap)
        out_inspector = _inspect(output, check)
        if _name(out_inspector) != target:
            raise _fail('conversion output inspects as %s, expected %s'
                        % (_name(out_inspector), target))
        _safety_check(out_inspector, output, target)
        _fsync(output)
        counter.bytes_done = size

        # Step 6.
        previous = {attr: image[attr] for attr in
                    ('disk_format', 'container_format', 'size',
                     'virtual_size')}
        db.image_save(self.image_id, task_id=self.task_id,
                      values={'disk_format': target,
                              'container_format': 'bare',
                              'size': size, 'virtual_size': virtual_size})
        LOG.info('Image %s: converted %s to %s (%d bytes, virtual size %d)',
                 self.image_id, disk_format, target, size, virtual_size)
        return {c.KEY_STAGED_PATH: output, 'output': output,
                'previous': previous}

    def _run_convert(self, source, output, disk_format, target, counter,
                     cap):
        cpu = CONF[GROUP].convert_cpu_time or None
        limits = processutils.ProcessLimits(file_size=cap, cpu_time=cpu,
                                            core_file_size=0)
        limits_text = 'file size %d bytes%s' % (
            cap, ', %d s CPU' % cpu if cpu else '')
        watch = _Watch(self.runtime.check, counter, output,
                       counter.bytes_total)
        try:
            processutils.execute(
                'qemu-img', 'convert', '-f', disk_format, '-O', target,
                source, output, prlimit=limits,
                on_execute=watch.on_execute)
        except processutils.ProcessExecutionError as exc:
            if watch.stopped is not None:
                raise watch.stopped
            if _file_too_large(exc, output, cap):
                raise exceptions.SizeCapExceeded(PLUGIN, cap)
            raise _fail('qemu-img convert failed, %s'
                        % _describe(exc, limits_text))
        except OSError as exc:
            raise _fail('cannot run qemu-img: %s: %s' % (type(exc).__name__,
                                                         exc))
        finally:
            watch.finish()
        if watch.stopped is not None:
            raise watch.stopped


def _file_too_large(exc, output, cap):
    """qemu-img hit the file-size rlimit: killed by SIGXFSZ, or (when the
    signal is ignored) a write failing with EFBIG."""
    if exc.exit_code == -signal.SIGXFSZ:
        return True
    if 'File too large' in (exc.stderr or ''):
        return True
    try:
        return os.path.getsize(output) >= cap
    except OSError:
        return False


def get_flow(**kwargs):
    return linear_flow.Flow(PLUGIN).add(
        Convert(kwargs['task_id'], kwargs['image_id'],
                CONF[GROUP].output_format))
