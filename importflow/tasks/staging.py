"""VerifyStaging: the data every later step reads is there, whole."""

import os

from taskflow import states as tf_states

from importflow.common import constants as c
from importflow.common import exceptions
from importflow.conf import CONF
from importflow import methods
from importflow.stores import staging
from importflow.tasks import base


class VerifyStaging(base.ImportTask):
    NAME = 'verify-staging'
    default_provides = c.KEY_STAGED_PATH
    unrecorded_states = (tf_states.RUNNING,)

    def __init__(self, task_id, image_id, method):
        super().__init__(task_id, image_id, name=self.NAME)
        self.method_name = method

    def execute(self):
        self.runtime.check()
        path = staging.path(self.image_id)
        try:
            actual = os.path.getsize(path)
        except FileNotFoundError:
            raise exceptions.ImportFailed(
                'staging failed: no staged data for image %s at %s'
                % (self.image_id, path), phase='staging')
        image = self.load_image()
        expected = methods.load(self.method_name).expected_staged_size(image)
        if expected is not None and actual != expected:
            raise exceptions.ImportFailed(
                'staging failed: staged data of image %s has %d bytes, '
                'expected %d' % (self.image_id, actual, expected),
                phase='staging')
        if actual > CONF.image_size_cap:
            raise exceptions.SizeCapExceeded('staging', CONF.image_size_cap)
        return path
