"""A third-party-style import plugin used by the plugin-loading tests.

It tags the image with a property, and removes it again on revert, the
way a real plugin must.
"""

from taskflow.patterns import linear_flow

from importflow.db import api as db
from importflow.tasks import base

PROPERTY = 'fixture_plugin_ran'


class TagImage(base.ImportTask):

    def __init__(self, task_id, image_id, targets):
        super().__init__(task_id, image_id, name='fixture-tag-image')
        self.targets = targets

    def execute(self):
        self.runtime.check()
        db.image_save(self.image_id, task_id=self.task_id,
                      set_props={PROPERTY: ','.join(self.targets)})

    def revert(self, result, **kwargs):
        if self.revert_allowed():
            db.image_save(self.image_id, task_id=self.task_id,
                          remove_props=[PROPERTY])


def get_flow(**kwargs):
    targets = [s or 'default' for s in kwargs['backend']]
    return linear_flow.Flow('fixture_plugin').add(
        TagImage(kwargs['task_id'], kwargs['image_id'], targets))


def broken_get_flow(**kwargs):
    raise AssertionError('never called: the entry point fails to load')
