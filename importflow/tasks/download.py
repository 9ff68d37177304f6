"""WebDownloadToStaging: stream a filtered URL into staging ``<id>``."""

from oslo_log import log as logging

from importflow.common import constants as c
from importflow.common import exceptions
from importflow.common import url_filter
from importflow.conf import CONF
from importflow.stores import staging
from importflow.tasks import base
from importflow.tasks import streaming

LOG = logging.getLogger(__name__)


class WebDownloadToStaging(base.ImportTask):

    def __init__(self, task_id, image_id, uri):
        super().__init__(task_id, image_id, name='web-download')
        self.uri = uri

    def execute(self):
        self.runtime.check()
        progress = self.runtime.progress
        progress.enter(c.PHASE_DOWNLOAD)
        counter = progress.phases[c.PHASE_DOWNLOAD]
        path = staging.path(self.image_id)
        staging.remove(path)  # partial output of an interrupted attempt
        cap = CONF.image_size_cap
        response = url_filter.open_url(self.uri)
        # A body shorter than Content-Length is detected below, naming both
        # numbers; urllib3 would raise IncompleteRead and drop the count.
        response.raw.enforce_content_length = False
        with response:
            announced = response.headers.get('Content-Length')
            announced = int(announced) if announced and \
                announced.isdigit() else None
            counter.bytes_total = announced
            if announced is not None and announced > cap:
                raise exceptions.SizeCapExceeded('web-download', cap)
            reader = streaming.MeteredReader(response.raw, counter, cap,
                                             'web-download',
                                             self.runtime.check)
            try:
                written = streaming.stream_to_file(
                    reader, path, CONF.image_import_opts.staging_chunk_size)
            except (exceptions.ImportflowError, OSError):
                raise
            except Exception as exc:
                raise exceptions.ImportFailed(
                    'web-download failed: %s: %s' % (type(exc).__name__,
                                                     exc),
                    phase='web-download')
        if announced is not None and written != announced:
            staging.remove(path)
            raise exceptions.ImportFailed(
                'web-download failed: received %d bytes, Content-Length '
                'announced %d' % (written, announced), phase='web-download')
        progress.finish_phase(c.PHASE_DOWNLOAD)
        LOG.info('Image %s: downloaded %d bytes from %s', self.image_id,
                 written, self.uri)

    def revert(self, result, flow_failures, **kwargs):
        if self.revert_allowed():
            staging.remove(staging.path(self.image_id))
