"""Plugins load by entry point, in order; a bad name stops the worker."""

import textwrap

import pytest
from stevedore import extension

from importflow.common import constants as c
from importflow.common import exceptions
from importflow.conf import CONF
from importflow.worker import service
from tests.unit.fixture_plugin import PROPERTY


@pytest.fixture
def fixture_entry_points(tmp_path, monkeypatch):
    """Register the test-tree plugin as a real distribution entry point."""
    dist = tmp_path / 'site' / 'importflow_fixture_plugin-1.0.dist-info'
    dist.mkdir(parents=True)
    (dist / 'METADATA').write_text(
        'Metadata-Version: 2.1\nName: importflow-fixture-plugin\n'
        'Version: 1.0\n')
    (dist / 'entry_points.txt').write_text(textwrap.dedent('''
        [importflow.image_import.plugins]
        fixture_tag = tests.unit.fixture_plugin:get_flow
        fixture_broken = tests.unit.fixture_plugin:no_such_attribute
        '''))
    monkeypatch.syspath_prepend(str(tmp_path / 'site'))
    # stevedore remembers each namespace's entry points per process.
    extension.ExtensionManager.ENTRY_POINT_CACHE.clear()
    yield
    extension.ExtensionManager.ENTRY_POINT_CACHE.clear()
    CONF.clear_override('image_import_plugins', group='image_import_opts')


def _enable(*names):
    CONF.set_override('image_import_plugins', list(names),
                      group='image_import_opts')


def _import(env, client_cls, **kwargs):
    data = env.make_file(1024 * 1024)
    with client_cls() as client:
        image = client.create_image(name='p', disk_format='raw',
                                    container_format='bare')
        with open(data, 'rb') as f:
            client.stage(image['id'], f)
        task = client.import_image(image['id'], **kwargs)
        task = client.wait(task['id'], timeout=60)
        return client.show_image(image['id']), task


def test_third_party_plugin_runs_in_the_flow(env, fixture_entry_points):
    from importflow.client import Client
    _enable('no_op', 'fixture_tag')
    image, task = _import(env, Client, stores_=['fast', 'cheap'])
    assert task['status'] == c.TASK_SUCCESS, task['message']
    assert image['properties'][PROPERTY] == 'fast,cheap'


def test_plugin_change_is_reverted_when_import_fails(env,
                                                     fixture_entry_points):
    from importflow.client import Client
    _enable('fixture_tag')
    # A store whose directory became a file fails its write for real.
    env.break_store('cheap')
    image, task = _import(env, Client, stores_=['fast', 'cheap'])
    assert task['status'] == c.TASK_FAILURE
    assert task['message'].startswith("Import to store 'cheap' failed: ")
    assert PROPERTY not in image['properties']
    assert image['status'] == c.UPLOADING


@pytest.mark.parametrize('name, expected', [
    ('no_such_plugin', "not found in namespace "
                       "importflow.image_import.plugins: no_such_plugin"),
    ('fixture_broken', "Import plugin 'fixture_broken' cannot be loaded"),
])
def test_unloadable_plugin_stops_the_worker(env, fixture_entry_points, name,
                                            expected):
    _enable('no_op', name)
    with pytest.raises(exceptions.ConfigError) as info:
        service.ImportWorker()
    assert expected in str(info.value)

