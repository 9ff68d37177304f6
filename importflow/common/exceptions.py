"""Errors that carry meaning: which image, which store, which phase, why.

API-facing errors carry the HTTP code the contract assigns to them, so the
API tier and the CLI report the same thing.
"""


class ImportflowError(Exception):
    """Base class; ``code`` is the HTTP status the API answers with."""

    code = 500

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def __str__(self):
        return self.message


class BadRequest(ImportflowError):
    code = 400


class Forbidden(ImportflowError):
    code = 403


class NotFound(ImportflowError):
    code = 404


class Conflict(ImportflowError):
    code = 409


class RequestEntityTooLarge(ImportflowError):
    code = 413


class UnsupportedMediaType(ImportflowError):
    code = 415


class ImageNotFound(NotFound):
    def __init__(self, image_id):
        super().__init__('No image found with ID %s' % image_id)
        self.image_id = image_id


class TaskNotFound(NotFound):
    def __init__(self, task_id):
        super().__init__('No task found with ID %s' % task_id)
        self.task_id = task_id


class ConfigError(ImportflowError):
    """A configuration that the service refuses to start with."""


class ImportFailed(ImportflowError):
    """A flow step failed; ``phase`` and ``store`` say where."""

    def __init__(self, message, phase=None, store=None):
        super().__init__(message)
        self.phase = phase
        self.store = store


class StoreCopyFailed(ImportFailed):
    def __init__(self, store, reason):
        super().__init__(reason, phase='stores', store=store)
        self.reason = reason


class SizeCapExceeded(ImportFailed):
    def __init__(self, where, cap):
        super().__init__('%s failed: data exceeds image_size_cap of %d bytes'
                         % (where, cap), phase=where)
        self.cap = cap


class ImportStopped(ImportflowError):
    """The task must stop: aborted, image deleted, lock or lease lost.

    ``message`` is the task message the contract prescribes for the cause.
    """


class LockLost(ImportStopped):
    """An image write found the lock no longer naming this task."""
