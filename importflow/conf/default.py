"""[DEFAULT] options: state folder, methods, size cap, hashing, staging."""

import os

from oslo_config import cfg

from importflow.common import constants


def _default_state_path():
    return os.environ.get(
        'IMPORTFLOW_STATE_PATH',
        os.path.join(os.path.expanduser('~'), '.local', 'share', 'importflow'))


default_opts = [
    cfg.StrOpt('state_path', default=_default_state_path(),
               sample_default='~/.local/share/importflow',
               help='Folder holding the embedded default state: SQLite '
                    'database, staging area and file stores. Used for every '
                    'path option left unset. Environment variable '
                    'IMPORTFLOW_STATE_PATH overrides the default.'),
    cfg.ListOpt('enabled_import_methods',
                default=[constants.GLANCE_DIRECT, constants.WEB_DOWNLOAD,
                         constants.COPY_IMAGE],
                item_type=cfg.types.String(choices=constants.ALL_METHODS),
                help='Import methods offered, in this order.'),
    cfg.IntOpt('image_size_cap', default=1099511627776, min=1,
               help='Largest image size in bytes, enforced while streaming '
                    'in every phase.'),
    cfg.StrOpt('hashing_algorithm', default='sha512',
               help='hashlib algorithm for os_hash_value.'),
    cfg.StrOpt('node_staging_uri', default=None,
               help='file:// URI of the staging folder in single-store mode '
                    '(no enabled_backends). Default: <state_path>/staging.'),
    cfg.StrOpt('worker_id', default=None,
               help='Name this process uses as task lease owner. Default: '
                    'host name and process id.'),
]

# Registered here rather than by glance_store: glance_store expects the
# service to own it (stack-notes.md).
enabled_backends_opt = cfg.DictOpt(
    'enabled_backends',
    help='Store identifiers and their types, as id:type pairs (for example '
         '"fast:file, cheap:file"). Unset means single-store mode. '
         'Identifiers starting with os_glance_ are reserved.')




TRUSTED_AUTH_GROUP = 'trusted_auth'

trusted_auth_opts = [
    cfg.StrOpt('default_project_id', default='admin',
               help='Project of requests that carry no identity (CLI, and '
                    'the API without keystonemiddleware).'),
    cfg.StrOpt('default_user_id', default='admin',
               help='User of requests that carry no identity.'),
    cfg.ListOpt('default_roles', default=['admin', 'member'],
                help='Roles of requests that carry no identity.'),
]


def register(conf):
    conf.register_opts(default_opts)
    conf.register_opt(enabled_backends_opt)
    conf.register_opts(trusted_auth_opts, group=TRUSTED_AUTH_GROUP)


def list_opts():
    return default_opts + [enabled_backends_opt]


def list_group_opts():
    return [(TRUSTED_AUTH_GROUP, trusted_auth_opts)]
