"""Configurations the service refuses to start with, and CLI bad input."""

import pytest

from importflow.cmd import cli
from importflow.common import exceptions
from importflow import conf as importflow_conf
from importflow.conf import CONF
from importflow import stores
from tests import conftest


@pytest.fixture
def configure(tmp_path):
    """Parse a config file built from sections, then configure stores."""
    def run(**sections):
        conftest._reset_process_state()
        lines = ['[DEFAULT]', 'state_path = %s' % tmp_path,
                 'transport_url = fake://']
        lines += sections.pop('DEFAULT', [])
        for group, values in sections.items():
            lines.append('[%s]' % group)
            lines += values
        path = tmp_path / 'c.conf'
        path.write_text('\n'.join(lines) + '\n')
        importflow_conf.parse_args(['--config-file', str(path)])
        stores.configure()
    yield run
    conftest._reset_process_state()
    CONF.reset()


def _stores(*ids, default=None):
    return {'DEFAULT': ['enabled_backends = %s' % ', '.join(ids)],
            'glance_store': ['default_backend = %s' % default]}


@pytest.mark.parametrize('sections, message', [
    (_stores('os_glance_mine:file', 'a:file', default='a'),
     "Store identifier 'os_glance_mine' is reserved"),
    (_stores('a:file', default='nope'),
     'default_backend must name one of the enabled backends'),
    (_stores('a:http', 'b:file', default='a'),
     "default_backend 'a' is read-only"),
])
def test_bad_store_configuration_refuses_to_start(configure, sections,
                                                  message):
    with pytest.raises(exceptions.ConfigError) as info:
        configure(**sections)
    assert message in str(info.value)


def test_lease_shorter_than_three_heartbeats_refuses_to_start(configure):
    with pytest.raises(exceptions.ConfigError) as info:
        configure(image_import_opts=['heartbeat_interval = 10',
                                     'task_lease_timeout = 29'])
    assert 'task_lease_timeout (29) must be at least 3 x' in str(info.value)


def test_out_of_range_option_is_refused(configure):
    with pytest.raises(exceptions.ConfigError) as info:
        configure(image_import_opts=['max_parallel_stores = 33'])
    assert 'Invalid value for [image_import_opts] max_parallel_stores' in \
        str(info.value)


def test_cli_unreadable_file_is_a_clear_error(tmp_path, capsys,
                                              monkeypatch):
    monkeypatch.setenv('IMPORTFLOW_STATE_PATH', str(tmp_path / 'state'))
    conftest._reset_process_state()
    try:
        code = cli.main(['import', str(tmp_path / 'missing.raw')])
    finally:
        conftest._reset_process_state()
        CONF.reset()
        # The CLI's sub-command option would make later parses demand one.
        CONF.unregister_opt(cli.command_opt)
    assert code == 1
    err = capsys.readouterr().err
    assert 'Cannot read' in err and 'missing.raw' in err
    assert 'No such file' in err
