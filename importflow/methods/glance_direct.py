"""glance-direct: import data the user staged with PUT /stage."""

from importflow.common import constants as c
from importflow.methods import base
from importflow.stores import staging


class GlanceDirect(base.ImportMethod):
    name = c.GLANCE_DIRECT
    start_statuses = (c.UPLOADING,)

    def check_status(self, image):
        if (image['status'] != c.UPLOADING or image['size'] is None
                or staging.size_of(image['id']) is None):
            raise base.conflict("Image needs to be staged before "
                                "'glance-direct' method can be used")

    def expected_staged_size(self, image):
        return image['size']

    def revert_values(self, image, pre_import, staged_intact):
        values = dict(pre_import)
        values.update(checksum=None, os_hash_algo=None, os_hash_value=None)
        if staged_intact:
            # Retry needs no new upload (differs from Glance).
            values['size'] = staging.size_of(image['id'])
            return values, c.UPLOADING
        values.update(base.cleared_data_values())
        return values, c.QUEUED
