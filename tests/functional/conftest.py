"""Functional fixtures: real PostgreSQL, MariaDB and RabbitMQ on this
machine, and importflow processes started from their console scripts.

Without a service a test skips with the reason; with
IMPORTFLOW_REQUIRE_SERVICES=1 (set by .ci/run) it fails instead.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest

PG = ('PostgreSQL', '127.0.0.1', 5432)
MYSQL = ('MariaDB', '127.0.0.1', 3306)
RABBIT = ('RabbitMQ', '127.0.0.1', 5672)
BIN = os.path.dirname(sys.executable)


def require(service):
    name, host, port = service
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        reason = '%s not reachable on %s:%d (%s)' % (name, host, port, exc)
        if os.environ.get('IMPORTFLOW_REQUIRE_SERVICES') == '1':
            pytest.fail('required service missing: ' + reason)
        pytest.skip(reason)


@pytest.fixture
def pg_url():
    require(PG)
    import psycopg
    name = 'importflow_%s' % uuid.uuid4().hex[:10]
    admin = 'host=127.0.0.1 port=5432 user=postgres dbname=test'
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute('CREATE DATABASE %s' % name)
    yield 'postgresql+psycopg://postgres@127.0.0.1:5432/%s' % name
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS %s WITH (FORCE)' % name)


@pytest.fixture
def mysql_url():
    require(MYSQL)
    import pymysql
    name = 'importflow_%s' % uuid.uuid4().hex[:10]
    conn = pymysql.connect(host='127.0.0.1', port=3306, user='root')
    conn.cursor().execute('CREATE DATABASE %s' % name)
    yield 'mysql+pymysql://root@127.0.0.1:3306/%s' % name
    conn.cursor().execute('DROP DATABASE IF EXISTS %s' % name)
    conn.close()


class Deployment:
    """A config file for the deployed mode and the processes using it."""

    STORES = ('alpha', 'beta', 'gamma')

    def __init__(self, root, db_url):
        self.root = root
        self.db_url = db_url
        self.exchange = 'importflow_test_%s' % uuid.uuid4().hex[:8]
        self.config = root / 'importflow.conf'
        self.processes = []
        self.write_config()

    def write_config(self, **sections):
        lines = [
            '[DEFAULT]', 'state_path = %s' % (self.root / 'state'),
            'transport_url = rabbit://guest:guest@127.0.0.1:5672/',
            'control_exchange = %s' % self.exchange,
            'enabled_backends = %s' % ', '.join('%s:file' % s
                                                for s in self.STORES),
            '[glance_store]', 'default_backend = %s' % self.STORES[0],
            '[os_glance_staging_store]',
            'filesystem_store_datadir = %s' % (self.root / 'staging'),
            '[database]', 'connection = %s' % self.db_url,
            '[image_import_opts]', 'heartbeat_interval = 1',
            'progress_interval = 0.5', 'task_lease_timeout = 6',
            '[worker]', 'reaper_interval = 1',
        ]
        for store_id in self.STORES:
            lines += ['[%s]' % store_id, 'filesystem_store_datadir = %s'
                      % (self.root / store_id)]
        for group, values in sections.items():
            lines.append('[%s]' % group)
            lines += ['%s = %s' % kv for kv in values.items()]
        self.config.write_text('\n'.join(lines) + '\n')

    def store_dir(self, store_id):
        return self.root / store_id

    def cli(self, *args, check=True):
        result = subprocess.run(
            [os.path.join(BIN, 'importflow'), '--config-file',
             str(self.config), *args], capture_output=True, text=True,
            timeout=300)
        if check and result.returncode != 0:
            raise AssertionError('importflow %s failed (%d): %s\n%s' % (
                ' '.join(args), result.returncode, result.stdout,
                result.stderr))
        return result

    def cli_json(self, *args):
        return json.loads(self.cli(*args, '--format', 'json').stdout)

    def start_worker(self, name, *args):
        log = open(self.root / ('%s.log' % name), 'w')
        proc = subprocess.Popen(
            [os.path.join(BIN, 'importflow-worker'), '--config-file',
             str(self.config), *args],
            stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(proc)
        deadline = time.monotonic() + 30
        while 'started' not in (self.root / ('%s.log' % name)).read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError('worker %s did not start:\n%s' % (
                    name, (self.root / ('%s.log' % name)).read_text()))
            time.sleep(0.1)
        return proc

    def stop_all(self):
        for proc in self.processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def deployment(tmp_path, pg_url):
    require(RABBIT)
    dep = Deployment(tmp_path, pg_url)
    dep.cli('db', 'sync')
    yield dep
    dep.stop_all()
    shutil.rmtree(tmp_path / 'state', ignore_errors=True)


def wait_for(predicate, timeout, interval=0.05, what='condition'):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError('timed out after %s s waiting for %s'
                         % (timeout, what))
