"""Import methods, loaded by name from the importflow.import_methods
entry-point namespace."""

from stevedore import driver

from importflow.common import constants as c
from importflow.common import exceptions


def load(name):
    """The ImportMethod registered under ``name``."""
    try:
        return driver.DriverManager(c.NS_IMPORT_METHODS, name,
                                    invoke_on_load=True).driver
    except Exception as exc:
        raise exceptions.BadRequest("Unknown import method name '%s'. (%s)"
                                    % (name, exc))
