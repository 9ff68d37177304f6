"""Default policy rules (oslo.policy); the policy sample is generated
from here. Kept free of configuration imports so that the sample generator
can load it."""

from oslo_policy import policy

RULES = [
    policy.RuleDefault('context_is_admin', 'role:admin',
                       description='Administrators.'),
    policy.RuleDefault('owner', 'project_id:%(owner)s',
                       description='Members of the owning project.'),
    policy.RuleDefault('get_image',
                       'rule:context_is_admin or rule:owner or '
                       "'public':%(visibility)s or "
                       "'community':%(visibility)s",
                       description='See an image.'),
    policy.RuleDefault('modify_image', 'rule:context_is_admin or rule:owner',
                       description='Change, stage or import an image.'),
    policy.RuleDefault('delete_image', 'rule:context_is_admin or rule:owner',
                       description='Delete an image.'),
    policy.RuleDefault('copy_image', 'rule:context_is_admin',
                       description='Copy an active image into more stores '
                                   '(copy-image method).'),
    policy.RuleDefault('abort_import', 'rule:context_is_admin',
                       description='Abort a running import.'),
    policy.RuleDefault('stores_info_detail', 'rule:context_is_admin',
                       description='See store details.'),
]


def list_rules():
    return RULES
