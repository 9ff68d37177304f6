"""Image format inspection with oslo.utils' format inspector.

Applies the decision rules of import-semantics section 13.1 to what the
inspector saw while the data streamed past.
"""

from oslo_log import log as logging
from oslo_utils.imageutils import format_inspector as fi

from importflow.common import exceptions
from importflow.conf import CONF

LOG = logging.getLogger(__name__)


class Verdict:
    """Outcome of a passed inspection."""

    def __init__(self, detected, virtual_size):
        self.detected = detected
        self.virtual_size = virtual_size


# Formats whose safety checks need the end of the stream (VMDK footer).
_NEEDS_WHOLE_STREAM = ('vmdk',)


class InspectingReader:
    """File-like reader that inspects the stream until the format is
    decided, then passes data through untouched (inspecting every byte of
    a 1 GiB image costs seconds per store for nothing)."""

    def __init__(self, source):
        self._source = source
        self.wrapper = fi.InspectWrapper(source)
        self._inspecting = True

    def read(self, size=-1):
        if not self._inspecting:
            return self._source.read(size)
        chunk = self.wrapper.read(size)
        formats = self.wrapper.formats
        if formats is not None and not any(
                str(f) in _NEEDS_WHOLE_STREAM for f in formats):
            self._inspecting = False
        return chunk


def wrap(source, container_format):
    """Wrap a file-like source for in-stream inspection (bare only)."""
    if container_format != 'bare':
        return None
    return InspectingReader(source)


def _detected_inspector(wrapper):
    formats = wrapper.formats or []
    names = sorted(str(f) for f in formats)
    if names == ['gpt', 'iso']:
        return next(f for f in formats if str(f) == 'iso')
    if len(formats) > 1:
        raise exceptions.ImportFailed('multiple formats detected: %s'
                                      % ', '.join(names))
    return formats[0] if formats else None


def judge(wrapper, disk_format, size, where):
    """Decide on a finished stream.

    :param wrapper: the InspectingReader the data went through (at EOF).
    :param size: bytes in the stream (raw virtual size).
    :param where: store or phase, for the error message.
    :returns: Verdict; raises ImportFailed naming declared/detected formats.
    """
    wrapper = wrapper.wrapper
    wrapper._finish()  # the stream hit EOF; let incomplete inspectors settle
    inspector = _detected_inspector(wrapper)
    detected = str(inspector) if inspector else 'raw'
    if detected == disk_format:
        _safety_check(inspector, disk_format, where)
        virtual = size if detected == 'raw' else inspector.virtual_size
        return Verdict(detected, virtual)
    if detected == 'raw' and fi.get_inspector(disk_format) is None:
        return Verdict(detected, None)
    if disk_format == 'raw':
        # Whatever the declared format, detected content is checked: a
        # QED or a qcow2 with a backing file never passes as raw.
        _safety_check(inspector, detected, where)
        LOG.warning('%s: disk_format is raw but %s content was detected; '
                    'accepted as raw', where, detected)
        return Verdict(detected, size)
    message = ('%s: image format mismatch: declared disk_format %s, '
               'detected %s' % (where, disk_format, detected))
    if CONF.image_format.require_image_format_match:
        raise exceptions.ImportFailed(message)
    LOG.warning(message)
    return Verdict(detected, None)


def _safety_check(inspector, disk_format, where):
    if inspector is None:
        return
    try:
        inspector.safety_check()
    except fi.SafetyCheckFailed as exc:
        fatal = {name: str(err) for name, err in exc.failures.items()
                 if not (disk_format == 'gpt' and name in
                         CONF.image_format.gpt_safety_checks_nonfatal)}
        if fatal:
            raise exceptions.ImportFailed(
                '%s: %s image failed safety checks: %s' % (
                    where, disk_format,
                    '; '.join('%s: %s' % kv for kv in sorted(fatal.items()))))
        LOG.warning('%s: non-fatal GPT safety check failures: %s', where,
                    exc.failures)
    except fi.ImageFormatError as exc:
        raise exceptions.ImportFailed('%s: %s image could not be inspected: '
                                      '%s' % (where, disk_format, exc))
    if disk_format == 'vmdk':
        allowed = [t.lower() for t in CONF.image_format.vmdk_allowed_types]
        if (inspector.vmdktype or '').lower() not in allowed:
            raise exceptions.ImportFailed(
                '%s: VMDK create-type %s is not allowed (allowed: %s)'
                % (where, inspector.vmdktype,
                   ', '.join(CONF.image_format.vmdk_allowed_types)))
