"""copy-image: copy an active image into more stores."""

from importflow.common import constants as c
from importflow.methods import base
from importflow.tasks import copy_to_staging


class CopyImage(base.ImportMethod):
    name = c.COPY_IMAGE
    start_statuses = (c.ACTIVE,)
    sets_importing = False
    runs_plugins = False
    phases = (c.PHASE_COPY_TO_STAGING,)

    def check_status(self, image):
        if image['status'] != c.ACTIVE:
            raise base.conflict('Only images with status active can be '
                                'targeted for copying')

    def get_flow(self, task_id, image_id, import_req, backend):
        return [copy_to_staging.CopyToStaging(task_id, image_id)]

    def expected_staged_size(self, image):
        return image['size']

    def revert_values(self, image, pre_import, staged_intact):
        # Nothing about the image changes; only the new copies go.
        return {}, c.ACTIVE
