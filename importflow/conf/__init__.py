"""Configuration: every option lives in a module of this package.

The global ``cfg.CONF`` is used on purpose: oslo.messaging and glance_store
register and read options there (stack-notes.md).
"""

import os

from oslo_config import cfg
from oslo_log import log as logging
from oslo_messaging import opts as messaging_opts

from importflow.common import exceptions
from importflow.conf import api
from importflow.conf import database
from importflow.conf import default
from importflow.conf import filtering
from importflow.conf import image_format
from importflow.conf import image_import
from importflow.conf import worker

CONF = cfg.CONF

# Stores the embedded default creates when no configuration file is given,
# so that multi-store imports work out of the box.
EMBEDDED_STORES = ('local1', 'local2', 'local3')

_MODULES = (default, api, database, image_import, filtering, image_format,
            worker)


def _register():
    for module in _MODULES:
        module.register(CONF)
    logging.register_options(CONF)
    # glance_store probes every driver it knows; missing optional ones
    # (cinder, rbd, ...) are not errors of this service.
    logging.set_defaults(default_log_levels=logging.get_default_log_levels()
                         + ['stevedore.extension=CRITICAL'])
    # oslo.messaging registers its options only when a transport is made;
    # register them now so that defaults can be set and read early.
    for group, opts in messaging_opts.list_opts():
        CONF.register_opts(opts, group=group)


_register()


def is_embedded(conf=CONF):
    """True when no configuration file was given at all."""
    return not conf.config_file and not conf.config_dir


def state_file(*parts, conf=CONF):
    return os.path.join(os.path.expanduser(conf.state_path), *parts)


def parse_args(argv, default_config_files=None):
    """Parse the command line and config files, then fill derived defaults.

    Called once per process by the console entry points.
    """
    CONF(argv, project='importflow',
         default_config_files=default_config_files)
    _apply_derived_defaults()
    _check_values()
    image_import.validate(CONF)


def _check_values():
    """Read every importflow option once: oslo.config validates values
    lazily, and a malformed one must stop the service at start, not an
    import later."""
    from importflow import opts
    for group, options in opts.list_opts():
        section = CONF if group == 'DEFAULT' else CONF[group]
        for opt in options:
            try:
                getattr(section, opt.dest)
            except (ValueError, cfg.ConfigFileValueError) as exc:
                raise exceptions.ConfigError(
                    'Invalid value for [%s] %s: %s' % (group, opt.name, exc))


def _apply_derived_defaults():
    """Point every unset path at the state folder (the embedded default)."""
    if CONF.database.connection is None:
        CONF.set_default('connection',
                         'sqlite:///' + state_file('importflow.sqlite'),
                         group=database.GROUP)
    if CONF.node_staging_uri is None:
        CONF.set_default('node_staging_uri', 'file://' + state_file('staging'))
    if is_embedded() and CONF.enabled_backends is None:
        CONF.set_default('enabled_backends',
                         {name: 'file' for name in EMBEDDED_STORES})
    # Embedded default: in-process transport, worker inside the caller.
    CONF.set_default('transport_url', 'fake://')
