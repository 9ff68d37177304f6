#!/usr/bin/env python3
"""Data-path benchmark: big imports into several file stores, on tmpfs and
on disk, with real processes. Not a test: it measures.

Every scenario run is a fresh process: the "worker", importflow's embedded
mode (``importflow.client.Client`` with the ``fake://`` transport and the
in-process import worker, SQLite), with its own state folder (staging,
stores, database), so that its CPU time and peak RSS are the worker's.
The database is created by ``importflow db sync`` and the data is staged
by ``importflow image stage`` (other processes, as the API would). The
stage upload scenario starts a real ``importflow-api`` (gunicorn) and
uploads to it with ``requests``; web-download fetches from an
``http.server`` thread of this (parent) process on 127.0.0.1 (sendfile).

Scenarios; the wall time runs from the import request to the task's
success being recorded (image ``active`` in every target store):

=======================  ==================================================
``glance-direct``        a staged image into 1, 2 and 3 stores (parallel
                         copies, ``max_parallel_stores = 4``; each copy
                         reads the staged file, the page cache serves it)
``serial``               3 stores with ``max_parallel_stores = 1``: the
                         baseline of the disk target
``dd``                   ``dd bs=4M`` writing the same bytes (3 x size) to
                         the same file system
``copy-image``           an active image (in store 1) into 2 more stores
``web-download``         from the local HTTP server into 3 stores
``stage-api``            ``PUT /v2/images/{id}/stage`` through
                         importflow-api (upload wall time; CPU and RSS of
                         the gunicorn worker)
``1 KiB import``         (``small``) fixed cost: a 1 KiB image into 1
                         store, p50/min/max over ``--small-runs`` imports
``4 GiB``                with ``--full``: glance-direct of 4 GiB into 3
                         stores (peak RSS must not grow with the size)
=======================  ==================================================

Columns: median/min/max wall seconds over ``--runs`` runs, MiB/s of image
data (size / median wall), the worker's CPU seconds (user + system,
median), its peak RSS during the import (VmHWM reset just before the
import request; max over the runs) and ``noise``: the CPU seconds other
processes of the machine used during the run (max over the runs). On a
shared machine a run with more than ``--max-noise`` is repeated, at most
``--retries`` times per scenario, and each run waits (``--wait-idle``) for
a quiet second first. Each run checks its result: task success, every
store file of the right size, the image checksum equal to the md5 of the
data (``--verify`` compares every stored byte).

Usage::

    python tools/benchmark.py [--size 1G] [--runs 3] [--location both]
                              [--only SCENARIO,...] [--stores 1,2,3]
                              [--full] [--smoke] [--verify] [-v]
                              [--py-spy DIR]

``--location tmpfs`` puts each run's state folder in ``/dev/shm``,
``disk`` in ``/var/tmp``, ``both`` (default) runs both; the source data
always lives on disk. ``--chunk`` sets ``copy_chunk_size`` and the stores'
``filesystem_store_chunk_size`` (default 2 MiB, as importflow's).
``--smoke`` (64 MiB, one run, 5 small imports, ``--verify``, no waiting
for quiet) is what CI runs to keep this script working; the exit code is
non-zero if any run failed.
``--py-spy DIR`` adds an uncounted first run to every import scenario, in
which py-spy records the import (on-CPU samples with native frames, folded
stacks per thread, for flamegraph.pl or speedscope).
"""

import argparse
import contextlib
import datetime
import hashlib
import http.server
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BIN = os.path.dirname(sys.executable)
MiB = 1024 * 1024
GiB = 1024 * MiB
STORES = ('s1', 's2', 's3')
LOCATIONS = {'tmpfs': '/dev/shm', 'disk': '/var/tmp'}


# ----------------------------------------------------------------- helpers

def parse_size(text):
    text = text.strip().upper().rstrip('B').rstrip('I')
    units = {'K': 1024, 'M': MiB, 'G': GiB, 'T': 1024 * GiB}
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def human_size(size):
    for unit, div in (('GiB', GiB), ('MiB', MiB), ('KiB', 1024)):
        if size >= div and size % div == 0:
            return '%d %s' % (size // div, unit)
    return '%d B' % size


def free_port():
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def make_data(path, size):
    """Random data, written once (and its md5)."""
    md5 = hashlib.md5()
    block = 4 * MiB
    with open(path, 'wb') as f:
        left = size
        while left:
            chunk = os.urandom(min(block, left))
            md5.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return md5.hexdigest()


def write_config(root, port=None, parallel=4, chunk=2 * MiB, api_port=None):
    lines = ['[DEFAULT]', 'state_path = %s' % root,
             'transport_url = fake://', 'debug = false',
             'enabled_backends = %s' % ', '.join('%s:file' % s
                                                 for s in STORES),
             '[glance_store]', 'default_backend = %s' % STORES[0],
             '[os_glance_staging_store]',
             'filesystem_store_datadir = %s/staging' % root,
             '[database]',
             'connection = sqlite:///%s/importflow.sqlite' % root,
             '[image_import_opts]', 'max_parallel_stores = %d' % parallel,
             'copy_chunk_size = %d' % chunk,
             '[import_filtering_opts]', 'allow_private_networks = true',
             'allowed_ports = %d' % (port or 80)]
    for store in STORES:
        lines += ['[%s]' % store,
                  'filesystem_store_datadir = %s/stores/%s' % (root, store),
                  'filesystem_store_chunk_size = %d' % chunk]
    if api_port:
        lines += ['[api]', 'bind_port = %d' % api_port, 'workers = 1',
                  'access_log = false']
    path = os.path.join(root, 'importflow.conf')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


class _FileHandler(http.server.BaseHTTPRequestHandler):
    """Serves the files of ``server.files`` with sendfile (zero copy)."""

    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.server.files.get(self.path)
        if path is None:
            self.send_error(404)
            return
        size = os.path.getsize(path)
        self.send_response(200)
        self.send_header('Content-Type', 'application/octet-stream')
        self.send_header('Content-Length', str(size))
        self.end_headers()
        self.wfile.flush()
        try:
            with open(path, 'rb') as f:
                self.connection.sendfile(f)
        except (BrokenPipeError, ConnectionResetError):
            pass


@contextlib.contextmanager
def http_server(files):
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _FileHandler)
    httpd.daemon_threads = True
    httpd.files = files
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


# ------------------------------------------------------ measuring a process

def reset_peak_rss(pid='self'):
    """Reset VmHWM to the current RSS (Linux >= 4.0); False if refused."""
    try:
        with open('/proc/%s/clear_refs' % pid, 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def peak_rss_mib(pid='self'):
    with open('/proc/%s/status' % pid) as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds(pid='self'):
    if pid == 'self':
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return ru.ru_utime + ru.ru_stime
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def children_cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def system_busy_seconds():
    """CPU seconds all processes of the machine used so far."""
    with open('/proc/stat') as f:
        values = [int(v) for v in f.readline().split()[1:9]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / os.sysconf('SC_CLK_TCK')


def wait_idle(limit):
    """Wait up to ``limit`` seconds for a second with the machine < 10 %
    busy: this machine may be shared, and others' load is noise here."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        busy = system_busy_seconds()
        time.sleep(1)
        if system_busy_seconds() - busy < 0.1 * os.cpu_count():
            return True
    return False


class Meter:
    """Wall, CPU and peak RSS of one process across a ``with`` block, and
    the CPU time the rest of the machine used meanwhile (``others``)."""

    def __init__(self, pid='self'):
        self.pid = pid

    def __enter__(self):
        reset_peak_rss(self.pid)
        self.busy0 = system_busy_seconds()
        self.own0 = cpu_seconds()
        self.cpu0 = cpu_seconds(self.pid)
        self.t0 = time.monotonic()
        return self

    def __exit__(self, *exc):
        self.wall = time.monotonic() - self.t0
        self.cpu = cpu_seconds(self.pid) - self.cpu0
        self.rss = peak_rss_mib(self.pid)
        own = cpu_seconds() - self.own0
        if self.pid != 'self':
            own += self.cpu
        self.others = max(0.0, system_busy_seconds() - self.busy0 - own)

    def result(self):
        return {'wall': self.wall, 'cpu': self.cpu, 'rss': self.rss,
                'others': self.others}


# --------------------------------------------------- child: one scenario run

def _client(config):
    # The database was created by `importflow db sync` (alembic is not a
    # worker's memory).
    from importflow import conf
    conf.parse_args(['--config-file', config])
    from importflow import client as client_mod
    return client_mod.Client()


def _staged_image(client, data_path, config):
    """A new image with the data staged by another process (`importflow
    image stage`), as the API would: staging is not the worker's memory."""
    image = client.create_image(name='bench', disk_format='raw',
                                container_format='bare')
    subprocess.run([os.path.join(BIN, 'importflow'), '--config-file',
                    config, 'image', 'stage', image['id'], data_path],
                   check=True, capture_output=True)
    return image['id']


@contextlib.contextmanager
def profiled(path):
    """py-spy records this process while the block runs: on-CPU samples
    with native frames (hashing, system calls), folded stacks per thread,
    for flamegraph.pl or speedscope."""
    if not path:
        yield
        return
    spy = subprocess.Popen([os.path.join(BIN, 'py-spy'), 'record', '--pid',
                            str(os.getpid()), '--threads', '--native',
                            '--rate', '200', '--format', 'raw', '--output',
                            path], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    time.sleep(1)   # attached
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)


def _run_import(client, image_id, targets, poll, method='glance-direct',
                uri=None, profile=None):
    """Import and wait; the wall time ends when the worker recorded the
    task's success (its ``updated_at``), so polling adds no error and
    little load."""
    os.sync()   # the previous step's dirty pages are not this step's cost
    with profiled(profile), Meter() as meter:
        start = time.time()
        task = client.import_image(image_id, method=method, uri=uri,
                                   stores_=list(targets),
                                   all_stores_must_succeed=True)
        task = client.wait(task['id'], poll=poll)
    if task['status'] != 'success':
        raise RuntimeError('import failed: %s' % task['message'])
    finished = task['updated_at'].replace(
        tzinfo=datetime.timezone.utc).timestamp()
    meter.wall = finished - start
    return meter


def _check(client, image_id, targets, size, md5, verify):
    image = client.show_image(image_id)
    if image['status'] != 'active' or image['checksum'] != md5 or \
            image['size'] != size:
        raise RuntimeError('bad image after import: %s %s %s'
                           % (image['status'], image['checksum'],
                              image['size']))
    from importflow import stores
    for store in targets:
        path = os.path.join(stores._driver(store).datadir, image_id)
        if os.path.getsize(path) != size:
            raise RuntimeError('store %s holds %d bytes, not %d'
                               % (store, os.path.getsize(path), size))
        if verify:
            digest = hashlib.md5()
            with open(path, 'rb') as f:
                for chunk in iter(lambda: f.read(4 * MiB), b''):
                    digest.update(chunk)
            if digest.hexdigest() != md5:
                raise RuntimeError('store %s: md5 mismatch' % store)


def child(spec):
    """One scenario run in this fresh process; prints a JSON result."""
    scenario = spec['scenario']
    result = {}
    if scenario == 'stage-api':
        result = child_stage_api(spec)
    else:
        client = _client(spec['config'])
        try:
            if scenario == 'small':
                result = child_small(client, spec)
            else:
                result = child_import(client, spec)
        finally:
            client.close()
    print('RESULT ' + json.dumps(result))


def child_import(client, spec):
    # The wall time comes from the task record: polling rarely keeps the
    # client's share of the worker process small.
    size, md5, poll = spec['size'], spec['md5'], 0.5
    targets = spec['stores']
    if spec['method'] == 'web-download':
        image = client.create_image(name='bench', disk_format='raw',
                                    container_format='bare')
        image_id = image['id']
        meter = _run_import(client, image_id, targets, poll,
                            method='web-download', uri=spec['uri'],
                            profile=spec.get('profile'))
    elif spec['method'] == 'copy-image':
        image_id = _staged_image(client, spec['data'], spec['config'])
        _run_import(client, image_id, STORES[:1], poll)
        meter = _run_import(client, image_id, targets, poll,
                            method='copy-image', profile=spec.get('profile'))
        targets = STORES[:1] + tuple(targets)
    else:
        image_id = _staged_image(client, spec['data'], spec['config'])
        meter = _run_import(client, image_id, targets, poll,
                            profile=spec.get('profile'))
    _check(client, image_id, targets, size, md5, spec['verify'])
    return meter.result()


def child_small(client, spec):
    payload = os.urandom(1024)
    md5 = hashlib.md5(payload).hexdigest()
    walls, cpus, rss, others = [], [], 0, 0.0
    for i in range(spec['small_runs'] + 1):
        image = client.create_image(name='small', disk_format='raw',
                                    container_format='bare')
        with tempfile.TemporaryFile() as f:
            f.write(payload)
            f.seek(0)
            client.stage(image['id'], f)
        meter = _run_import(client, image['id'], STORES[:1], poll=0.01)
        _check(client, image['id'], STORES[:1], 1024, md5, True)
        if i:   # the first one warms caches up
            walls.append(meter.wall)
            cpus.append(meter.cpu)
            rss = max(rss, meter.rss)
            others += meter.others
    return {'walls': walls, 'cpus': cpus, 'rss': rss, 'others': others}


class _Body:
    """A request body that streams a file in 4 MiB blocks with a
    Content-Length (requests would send a file object in 8 KiB blocks)."""

    def __init__(self, path):
        self.path = path

    def __len__(self):
        return os.path.getsize(self.path)

    def __iter__(self):
        with open(self.path, 'rb') as f:
            yield from iter(lambda: f.read(4 * MiB), b'')


def child_stage_api(spec):
    import requests
    root = os.path.dirname(spec['config'])
    log = open(os.path.join(root, 'api.log'), 'w')
    api = subprocess.Popen([os.path.join(BIN, 'importflow-api'),
                            '--config-file', spec['config']],
                           stdout=log, stderr=subprocess.STDOUT)
    base = 'http://127.0.0.1:%d' % spec['api_port']
    session = requests.Session()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if session.get(base + '/versions', timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            if api.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('importflow-api did not start: %s' % open(
                    os.path.join(root, 'api.log')).read()[-2000:])
            time.sleep(0.1)
        import psutil
        workers = psutil.Process(api.pid).children()
        worker = workers[0].pid if workers else api.pid
        resp = session.post(base + '/v2/images', json={
            'name': 'bench', 'disk_format': 'raw',
            'container_format': 'bare'})
        resp.raise_for_status()
        image_id = resp.json()['id']
        os.sync()
        with Meter(worker) as meter:
            resp = session.put(
                base + '/v2/images/%s/stage' % image_id,
                data=_Body(spec['data']),
                headers={'Content-Type': 'application/octet-stream'})
        if resp.status_code != 204:
            raise RuntimeError('stage: %s %s' % (resp.status_code,
                                                  resp.text))
        image = session.get(base + '/v2/images/%s' % image_id).json()
        if image['status'] != 'uploading' or image['size'] != spec['size']:
            raise RuntimeError('stage: image %s' % image)
        staged = os.path.join(root, 'staging', image_id)
        if os.path.getsize(staged) != spec['size']:
            raise RuntimeError('stage: staged file has the wrong size')
        return meter.result()
    finally:
        api.terminate()
        try:
            api.wait(timeout=30)
        except subprocess.TimeoutExpired:
            api.kill()
            api.wait()
        log.close()


# ------------------------------------------------------ parent: the driver

class RunFailed(Exception):

    def __init__(self, message, output):
        super().__init__(message)
        self.output = output


class Bench:

    def __init__(self, args):
        self.args = args
        self.rows = []
        self.failures = []
        self.work = tempfile.mkdtemp(prefix='importflow-bench-data-',
                                     dir=LOCATIONS['disk'])
        self.data = {}

    def close(self):
        shutil.rmtree(self.work, ignore_errors=True)

    def data_file(self, size):
        if size not in self.data:
            path = os.path.join(self.work, 'data-%d.raw' % size)
            md5 = make_data(path, size)
            self.data[size] = (path, md5)
        return self.data[size]

    def spawn(self, spec, profile_name=None):
        subprocess.run([os.path.join(BIN, 'importflow'), '--config-file',
                        spec['config'], 'db', 'sync'], check=True,
                       capture_output=True)
        if self.args.wait_idle:
            wait_idle(self.args.wait_idle)
        if profile_name:
            os.makedirs(self.args.py_spy, exist_ok=True)
            spec = dict(spec, profile=os.path.join(
                os.path.abspath(self.args.py_spy),
                profile_name + '.folded.txt'))
        argv = [sys.executable, os.path.abspath(__file__), '--child',
                json.dumps(spec)]
        out = subprocess.run(argv, capture_output=True, text=True)
        lines = [ln for ln in out.stdout.splitlines()
                 if ln.startswith('RESULT ')]
        if out.returncode or not lines:
            error = [ln for ln in out.stderr.strip().splitlines()
                     if ln.strip()]
            last = error[-1] if error else 'exit code %s' % out.returncode
            raise RunFailed('%s: %s' % (spec['scenario'], last),
                            out.stdout + out.stderr)
        result = json.loads(lines[-1][len('RESULT '):])
        if self.args.verbose:
            print('#   run: %s' % json.dumps(result), flush=True)
        return result

    def run_scenario(self, location, name, scenario, size, stores=(),
                     method='glance-direct', parallel=4, uri_port=None,
                     api=False):
        path, md5 = self.data_file(size)
        results = []
        retries = self.args.retries
        # A profiled run comes first and does not count: py-spy's sampling
        # slows the process down and uses CPU itself.
        profile = self.args.py_spy and scenario == 'import' and \
            '%s-%s-%d-%s' % (location, name.split(' ')[0], len(stores),
                             human_size(size).replace(' ', ''))
        while len(results) < self.args.runs:
            root = tempfile.mkdtemp(prefix='importflow-bench-',
                                    dir=LOCATIONS[location])
            try:
                spec = {'scenario': scenario, 'method': method,
                        'size': size, 'md5': md5, 'data': path,
                        'stores': list(stores), 'verify': self.args.verify,
                        'small_runs': self.args.small_runs}
                if api:
                    spec['api_port'] = free_port()
                if uri_port:
                    spec['uri'] = 'http://127.0.0.1:%d/data' % uri_port
                spec['config'] = write_config(
                    root, port=uri_port, parallel=parallel,
                    chunk=self.args.chunk, api_port=spec.get('api_port'))
                result = self.spawn(spec, profile)
            except RunFailed as exc:
                self.failures.append((location, name, exc.output))
                print('%-6s %-24s %6d %8s FAILED: %s' % (
                    location, name, len(stores), human_size(size), exc),
                    flush=True)
                return None
            finally:
                shutil.rmtree(root, ignore_errors=True)
            if profile:
                print('#   profiled run (not counted): %s' % json.dumps(
                    result), flush=True)
                profile = None
                continue
            if result['others'] > self.args.max_noise and retries > 0:
                retries -= 1
                print('#   noisy run (others used %.1f CPU s), repeated'
                      % result['others'], flush=True)
                continue
            results.append(result)
        if scenario == 'small':
            walls = [w for r in results for w in r['walls']]
            cpus = [c for r in results for c in r['cpus']]
        else:
            walls = [r['wall'] for r in results]
            cpus = [r['cpu'] for r in results]
        row = {'location': location, 'scenario': name,
               'stores': len(stores), 'size': size, 'n': len(walls),
               'median': statistics.median(walls), 'min': min(walls),
               'max': max(walls), 'cpu': statistics.median(cpus),
               'rss': max(r['rss'] for r in results),
               'others': max(r['others'] for r in results)}
        self.add_row(row)
        return row

    def run_dd(self, location, size):
        path, _md5 = self.data_file(size)
        walls, cpus, others = [], [], []
        retries = self.args.retries
        while len(walls) < self.args.runs:
            root = tempfile.mkdtemp(prefix='importflow-bench-dd-',
                                    dir=LOCATIONS[location])
            try:
                os.sync()
                if self.args.wait_idle:
                    wait_idle(self.args.wait_idle)
                dd0 = children_cpu_seconds()
                with Meter() as meter:
                    for i in range(len(STORES)):
                        subprocess.run(['dd', 'if=%s' % path,
                                        'of=%s/copy-%d' % (root, i),
                                        'bs=4M', 'status=none'], check=True)
                dd_cpu = children_cpu_seconds() - dd0
            finally:
                shutil.rmtree(root, ignore_errors=True)
            noise = max(0.0, meter.others - dd_cpu)
            if noise > self.args.max_noise and retries > 0:
                retries -= 1
                continue
            walls.append(meter.wall)
            cpus.append(dd_cpu)
            others.append(noise)
        self.add_row({'location': location, 'scenario': 'dd (3 x size)',
                      'stores': len(STORES), 'size': size, 'n': len(walls),
                      'median': statistics.median(walls), 'min': min(walls),
                      'max': max(walls), 'cpu': statistics.median(cpus),
                      'rss': None, 'others': max(others)})

    def add_row(self, row):
        self.rows.append(row)
        print(format_row(row), flush=True)

    def fits(self, location, size, copies):
        free = shutil.disk_usage(LOCATIONS[location]).free
        if location == 'tmpfs':
            with open('/proc/meminfo') as f:
                info = dict(line.split(':', 1) for line in f)
            free = min(free, int(info['MemAvailable'].split()[0]) * 1024)
        return free > size * copies * 1.2

    def run_location(self, location):
        args, size = self.args, self.args.size
        only = args.only
        with http_server({'/data': self.data_file(size)[0]}) as port:
            for n in args.stores:
                if 'glance-direct' in only:
                    self.run_scenario(location, 'glance-direct', 'import',
                                      size, STORES[:n])
            if 'serial' in only:
                self.run_scenario(location, 'serial (max_parallel=1)',
                                  'import', size, STORES, parallel=1)
            if 'dd' in only:
                self.run_dd(location, size)
            if 'copy-image' in only:
                self.run_scenario(location, 'copy-image', 'import', size,
                                  STORES[1:], method='copy-image')
            if 'web-download' in only:
                self.run_scenario(location, 'web-download', 'import', size,
                                  STORES, method='web-download',
                                  uri_port=port)
        if 'stage-api' in only:
            self.run_scenario(location, 'stage-api', 'stage-api', size,
                              api=True)
        if 'small' in only:
            self.run_scenario(location, '1 KiB import', 'small', 1024,
                              STORES[:1])
        if args.full and 'glance-direct' in only:
            big = 4 * GiB
            if self.fits(location, big, len(STORES) + 2):
                self.run_scenario(location, 'glance-direct', 'import', big,
                                  STORES)
            else:
                print('# %s: not enough space for the 4 GiB run' % location)


HEADER = ('%-6s %-24s %6s %8s %4s %8s %8s %8s %8s %7s %8s %7s' % (
    'where', 'scenario', 'stores', 'size', 'n', 'median', 'min', 'max',
    'MiB/s', 'CPU s', 'RSS MiB', 'noise'))


def format_row(row):
    if row['scenario'] == '1 KiB import':
        wall = '%7.0fms %7.0fms %7.0fms' % (1000 * row['median'],
                                            1000 * row['min'],
                                            1000 * row['max'])
    else:
        wall = '%7.2fs %7.2fs %7.2fs' % (row['median'], row['min'],
                                         row['max'])
    rate = row['size'] / MiB / row['median'] if row['median'] else 0
    return '%-6s %-24s %6d %8s %4d %s %8.0f %7s %8s %7.2f' % (
        row['location'], row['scenario'], row['stores'],
        human_size(row['size']), row['n'], wall, rate,
        '-' if row['cpu'] is None else '%.2f' % row['cpu'],
        '-' if row['rss'] is None else '%.0f' % row['rss'], row['others'])


ALL_SCENARIOS = ('glance-direct', 'serial', 'dd', 'copy-image',
                 'web-download', 'stage-api', 'small')


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--size', type=parse_size, default=GiB,
                        help='image size, e.g. 1G (default), 256M')
    parser.add_argument('--runs', type=int, default=3,
                        help='runs per scenario (default 3)')
    parser.add_argument('--small-runs', type=int, default=20,
                        help='1 KiB imports for the fixed cost (default 20)')
    parser.add_argument('--location', choices=('tmpfs', 'disk', 'both'),
                        default='both')
    parser.add_argument('--chunk', type=parse_size, default=2 * MiB,
                        help='copy_chunk_size and filesystem_store_chunk_'
                             'size (default 4M)')
    parser.add_argument('--only', default=','.join(ALL_SCENARIOS),
                        help='comma-separated subset of: %s'
                        % ', '.join(ALL_SCENARIOS))
    parser.add_argument('--stores', default='1,2,3',
                        type=lambda v: [int(n) for n in v.split(',')],
                        help='store counts of the glance-direct scenario '
                             '(default 1,2,3)')
    parser.add_argument('--full', action='store_true',
                        help='also import 4 GiB (peak RSS comparison)')
    parser.add_argument('--smoke', action='store_true',
                        help='64 MiB, 1 run, 5 small imports, --verify')
    parser.add_argument('--verify', action='store_true',
                        help='compare every stored byte (md5) after a run')
    parser.add_argument('--wait-idle', type=float, default=60,
                        metavar='SECONDS',
                        help='before each run, wait up to this long for '
                             'the machine to be idle (default 60; 0: no)')
    parser.add_argument('--max-noise', type=float, default=0.5,
                        metavar='CPU_SECONDS',
                        help='repeat a run during which other processes '
                             'used more CPU than this (default 0.5)')
    parser.add_argument('--retries', type=int, default=4,
                        help='noisy runs repeated per scenario at most '
                             '(default 4)')
    parser.add_argument('-v', '--verbose', action='store_true',
                        help='print every run')
    parser.add_argument('--py-spy', metavar='DIR',
                        help='profile an extra, uncounted run of each '
                             'import scenario with py-spy into DIR')
    args = parser.parse_args()
    if args.smoke:
        # It checks that the script works; its numbers mean little.
        args.size, args.runs, args.small_runs = 64 * MiB, 1, 5
        args.verify, args.wait_idle, args.retries = True, 0, 0
    args.only = set(args.only.split(','))
    unknown = args.only - set(ALL_SCENARIOS)
    if unknown:
        parser.error('unknown scenarios: %s' % ', '.join(sorted(unknown)))
    locations = ('tmpfs', 'disk') if args.location == 'both' \
        else (args.location,)
    # On SIGTERM too, remove the data and state folders.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    bench = Bench(args)
    start = time.monotonic()
    try:
        print('# %d CPUs, Python %s, image %s, chunk %s, %d run(s)' % (
            os.cpu_count(), sys.version.split()[0], human_size(args.size),
            human_size(args.chunk), args.runs), flush=True)
        bench.data_file(args.size)
        print(HEADER, flush=True)
        for location in locations:
            if not bench.fits(location, args.size, len(STORES) + 2):
                print('# %s: not enough space, skipped' % location)
                continue
            bench.run_location(location)
    finally:
        bench.close()
    print('# done in %.0f s' % (time.monotonic() - start))
    for location, name, output in bench.failures:
        print('\n# %s %s failed:\n%s' % (location, name, output[-4000:]),
              file=sys.stderr)
    return 1 if bench.failures else 0


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == '--child':
        child(json.loads(sys.argv[2]))
    else:
        sys.exit(main())
