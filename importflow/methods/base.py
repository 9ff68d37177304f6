"""What an import method decides: where it starts, what it stages, how a
failed import leaves the image (import-semantics sections 4.3, 6.1, 6.5)."""

from importflow.common import constants as c
from importflow.common import exceptions


class ImportMethod:
    name = None
    # Image statuses an import request may start from.
    start_statuses = ()
    # copy-image never changes the status of the image.
    sets_importing = True
    runs_plugins = True
    # Phases shown in progress before plugins (import-semantics 9.3).
    phases = ()

    def check_status(self, image):
        """Checks 8 to 11 of import-semantics 4.3; raises Conflict."""
        raise NotImplementedError

    def validate_request(self, import_req):
        """Method-specific request checks that need no image (400)."""

    def get_flow(self, task_id, image_id, import_req, backend):
        """Atoms that bring the data into staging ``<id>``; may be []."""
        return []

    def expected_staged_size(self, image):
        """Size VerifyStaging expects, or None to take the file's size."""
        return None

    def revert_values(self, image, pre_import, staged_intact):
        """(values, status) the image gets when the import is reverted."""
        raise NotImplementedError


def cleared_data_values():
    return {attr: None for attr in c.DATA_ATTRIBUTES}


def conflict(message):
    return exceptions.Conflict(message)
