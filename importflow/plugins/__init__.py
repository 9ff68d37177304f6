"""User import plugins, loaded by name from importflow.image_import.plugins.

A plugin is an entry point whose object is ``get_flow(**kwargs)``, returning
a linear taskflow flow. Loading happens at worker start: a name that cannot
be loaded stops the worker, it is never skipped.
"""

from oslo_log import log as logging
from stevedore import named

from importflow.common import constants as c
from importflow.common import exceptions
from importflow.conf import CONF

LOG = logging.getLogger(__name__)

# Phases the built-in plugins report in progress.
_PLUGIN_PHASES = {'image_decompression': c.PHASE_DECOMPRESSION,
                  'image_conversion': c.PHASE_CONVERSION}

_LOADED = {}


def _on_load_failure(manager, entrypoint, exc):
    raise exceptions.ConfigError(
        "Import plugin '%s' cannot be loaded: %s: %s"
        % (entrypoint.name, type(exc).__name__, exc))


def load_all():
    """Load every plugin named in image_import_plugins, in order.

    :raises ConfigError: naming the first plugin that cannot be loaded.
    """
    names = list(CONF.image_import_opts.image_import_plugins)
    if not names:
        _LOADED.clear()
        return []
    manager = named.NamedExtensionManager(
        c.NS_IMPORT_PLUGINS, names, name_order=True,
        on_load_failure_callback=_on_load_failure,
        on_missing_entrypoints_callback=lambda missing: _missing(missing))
    _LOADED.clear()
    _LOADED.update((ext.name, ext.plugin) for ext in manager.extensions)
    return names


def _missing(missing):
    raise exceptions.ConfigError(
        'Import plugin(s) not found in namespace %s: %s'
        % (c.NS_IMPORT_PLUGINS, ', '.join(sorted(missing))))


def get_flows(**kwargs):
    """One flow per enabled plugin, in configuration order."""
    if set(CONF.image_import_opts.image_import_plugins) - set(_LOADED):
        load_all()
    return [_LOADED[name](**kwargs)
            for name in CONF.image_import_opts.image_import_plugins]


def phases():
    return [_PLUGIN_PHASES[name]
            for name in CONF.image_import_opts.image_import_plugins
            if name in _PLUGIN_PHASES]
