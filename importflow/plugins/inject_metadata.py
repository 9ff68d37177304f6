"""inject_image_metadata: write operator-chosen properties onto the image."""

from oslo_config import cfg
from oslo_log import log as logging
from taskflow.patterns import linear_flow

from importflow.common import constants as c
from importflow.conf import CONF
from importflow.db import api as db
from importflow.tasks import base

LOG = logging.getLogger(__name__)

GROUP = 'inject_metadata_properties'

inject_opts = [
    cfg.DictOpt('inject', default={},
                help='Properties written to every imported image, '
                     'overwriting existing values. os_glance* keys are '
                     'dropped.'),
    cfg.ListOpt('ignore_user_roles', default=['admin'],
                help='Imports by users with any of these roles get no '
                     'injected properties.'),
]
CONF.register_opts(inject_opts, group=GROUP)


def list_opts():
    return [(GROUP, inject_opts)]


class InjectMetadata(base.ImportTask):

    def __init__(self, task_id, image_id, user_roles):
        super().__init__(task_id, image_id, name='inject-image-metadata')
        self.user_roles = user_roles

    def execute(self):
        self.runtime.check()
        opts = CONF[GROUP]
        if set(self.user_roles) & set(opts.ignore_user_roles):
            return {}
        wanted = {}
        for key, value in opts.inject.items():
            if key.startswith(c.RESERVED_PROPERTY_PREFIX):
                LOG.warning('inject_image_metadata: dropping reserved key '
                            '%s', key)
            else:
                wanted[key] = value
        if not wanted:
            return {}
        before = self.load_image()['properties']
        db.image_save(self.image_id, task_id=self.task_id, set_props=wanted)
        # What revert needs: previous values, None for keys that were absent.
        return {key: before.get(key) for key in wanted}

    def revert(self, result, **kwargs):
        if not isinstance(result, dict) or not result or \
                not self.revert_allowed():
            return
        db.image_save(
            self.image_id, task_id=self.task_id,
            set_props={k: v for k, v in result.items() if v is not None},
            remove_props=[k for k, v in result.items() if v is None])


def get_flow(**kwargs):
    context = kwargs.get('context') or {}
    return linear_flow.Flow('inject_image_metadata').add(
        InjectMetadata(kwargs['task_id'], kwargs['image_id'],
                       list(context.get('roles', []))))
