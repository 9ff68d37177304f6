"""web-download: stream a URL into staging."""

from importflow.common import constants as c
from importflow.common import exceptions
from importflow.common import url_filter
from importflow.methods import base
from importflow.tasks import download


class WebDownload(base.ImportMethod):
    name = c.WEB_DOWNLOAD
    start_statuses = (c.QUEUED,)
    phases = (c.PHASE_DOWNLOAD,)

    def check_status(self, image):
        if image['status'] != c.QUEUED:
            raise base.conflict("Image needs to be in 'queued' state to use "
                                "'%s' method" % self.name)

    def validate_request(self, import_req):
        uri = import_req['method'].get('uri')
        if not isinstance(uri, str) or not url_filter.passes(uri):
            raise exceptions.BadRequest(
                'URI for web-download does not pass filtering: %s' % uri)

    def get_flow(self, task_id, image_id, import_req, backend):
        return [download.WebDownloadToStaging(
            task_id, image_id, import_req['method']['uri'])]

    def revert_values(self, image, pre_import, staged_intact):
        values = dict(pre_import)
        values.update(base.cleared_data_values())
        return values, c.QUEUED
