import contextlib

import pytest

from importflow import client as client_mod
from importflow.conf import CONF


@pytest.fixture
def with_plugins(env):
    """make(*names): a client whose worker runs these plugins, in order."""
    stack = contextlib.ExitStack()

    def make(*names):
        CONF.set_override('image_import_plugins', list(names),
                          group='image_import_opts')
        stack.callback(CONF.clear_override, 'image_import_plugins',
                       group='image_import_opts')
        return stack.enter_context(client_mod.Client())

    yield make
    stack.close()
