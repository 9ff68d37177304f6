"""importflow-api over plain HTTP on the real server (gunicorn): streaming
in bounded memory, chunked bodies, error codes, graceful shutdown, and the
embedded mode (fake:// transport, SQLite) with its in-process worker."""

import hashlib
import os
import pathlib
import signal
import subprocess
import threading
import time

import requests

from tests.functional.conftest import wait_for
from tests.functional.test_api_clients import ApiServer
from tests.functional.test_api_clients import api_command
from tests.functional.test_api_clients import free_port
from tests.functional.test_api_clients import start_api

MiB = 1024 * 1024
OCTET = {'Content-Type': 'application/octet-stream'}


def _children(pid):
    path = pathlib.Path('/proc/%d/task/%d/children' % (pid, pid))
    return [int(p) for p in path.read_text().split()]


def _rss_kib(pid):
    for line in pathlib.Path('/proc/%d/status' % pid).read_text() \
            .splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1])
    return 0


class RssWatch:
    """Peak RSS of processes, sampled in the background."""

    def __init__(self, pids):
        self.pids = pids
        self.base = {p: _rss_kib(p) for p in pids}
        self.peak = dict(self.base)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.05):
            for pid in self.pids:
                self.peak[pid] = max(self.peak[pid], _rss_kib(pid))

    def growth_mib(self):
        self._stop.set()
        self._thread.join()
        return max(self.peak[p] - self.base[p] for p in self.pids) / 1024


def _chunks(total, pattern=b'\xa5'):
    block = pattern * MiB
    sent = 0
    while sent < total:
        yield block[:min(MiB, total - sent)]
        sent += MiB


def _create(url, **body):
    body.setdefault('disk_format', 'raw')
    body.setdefault('container_format', 'bare')
    resp = requests.post(url + '/v2/images', json=body, timeout=30)
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_large_chunked_stage_and_download_in_bounded_memory(deployment):
    api = start_api(deployment, workers=1)
    worker_pid, = _children(api.proc.pid)
    size = 256 * MiB
    image = _create(api.url)
    watch = RssWatch([worker_pid])
    resp = requests.put('%s/v2/images/%s/stage' % (api.url, image['id']),
                        data=_chunks(size), headers=OCTET, timeout=300)
    assert resp.status_code == 204, resp.text
    staged = deployment.root / 'staging' / image['id']
    assert staged.stat().st_size == size
    resp = requests.post('%s/v2/images/%s/import' % (api.url, image['id']),
                         json={'method': {'name': 'glance-direct'}},
                         timeout=30)
    assert resp.status_code == 202, resp.text
    shown = api.wait_idle(image['id'], timeout=300)
    assert shown['status'] == 'active', shown
    digest = hashlib.md5()
    with requests.get('%s/v2/images/%s/file' % (api.url, image['id']),
                      stream=True, timeout=300) as resp:
        assert resp.status_code == 200
        assert int(resp.headers['Content-Length']) == size
        got = 0
        for chunk in resp.iter_content(MiB):
            digest.update(chunk)
            got += len(chunk)
    assert got == size
    assert digest.hexdigest() == shown['checksum']
    growth = watch.growth_mib()
    assert growth < 48, 'API process grew by %.1f MiB' % growth


def test_error_codes_on_the_real_server(deployment):
    api = start_api(deployment)
    url = api.url
    image = _create(url)
    stage = '%s/v2/images/%s/stage' % (url, image['id'])
    # 415, then 413 from the announced size before any byte is read
    assert requests.put(stage, data=b'x', timeout=30).status_code == 415
    resp = requests.put(stage, data=_chunks(4 * MiB), timeout=60,
                        headers=dict(OCTET, **{
                            'x-openstack-image-size': str(2 ** 41)}))
    assert resp.status_code == 413
    assert 'image_size_cap' in resp.json()['error']['message']
    # 400: byte count differs from the announced size; nothing is left
    resp = requests.put(stage, data=_chunks(2 * MiB), timeout=60,
                        headers=dict(OCTET, **{
                            'x-openstack-image-size': str(MiB)}))
    assert resp.status_code == 400
    assert os.listdir(deployment.root / 'staging') == []
    assert api.image(image['id'])['status'] == 'queued'
    # 409: import before staging; 404: unknown image
    imp = '%s/v2/images/%s/import' % (url, image['id'])
    resp = requests.post(imp, json={'method': {'name': 'glance-direct'}},
                         timeout=30)
    assert resp.status_code == 409
    assert resp.json()['error']['message'] == (
        "Image needs to be staged before 'glance-direct' method can be "
        "used")
    resp = requests.get(url + '/v2/images/%s' % ('0' * 8 + '-0000' * 3 +
                                                 '-' + '0' * 12),
                        timeout=30)
    assert resp.status_code == 404
    # 403: reserved attribute; plain text for clients that prefer it
    resp = requests.patch(
        '%s/v2/images/%s' % (url, image['id']), timeout=30,
        json=[{'op': 'add', 'path': '/os_glance_x', 'value': 'y'}],
        headers={'Content-Type':
                 'application/openstack-images-v2.1-json-patch',
                 'Accept': 'text/plain'})
    assert resp.status_code == 403
    assert resp.text == ("403 Forbidden\n\nAttribute 'os_glance_x' is "
                         "reserved.\n\n")
    # 404 in multi-store mode only for stores detail of non-admins: 403
    resp = requests.get(url + '/v2/info/stores/detail', timeout=30,
                        headers={'X-Project-Id': 'p', 'X-Roles': 'member'})
    assert resp.status_code == 403
    assert resp.headers['X-Openstack-Request-Id'].startswith('req-')


def test_sigterm_lets_a_running_upload_finish(deployment):
    api = start_api(deployment, workers=1, graceful_timeout=30)
    image = _create(api.url)
    result = {}

    def slow_body():
        for n, chunk in enumerate(_chunks(8 * MiB)):
            if n == 2:
                api.proc.send_signal(signal.SIGTERM)
            time.sleep(0.2)
            yield chunk

    def upload():
        result['resp'] = requests.put(
            '%s/v2/images/%s/stage' % (api.url, image['id']),
            data=slow_body(), headers=OCTET, timeout=120)

    thread = threading.Thread(target=upload)
    thread.start()
    thread.join(120)
    assert result['resp'].status_code == 204, result['resp'].text
    assert api.proc.wait(timeout=60) == 0
    staged = deployment.root / 'staging' / image['id']
    assert staged.stat().st_size == 8 * MiB
    assert 'Shutting down: Master' in api.log.read_text()


def test_embedded_mode_runs_imports_in_the_api_process(tmp_path):
    port = free_port()
    config = tmp_path / 'importflow.conf'
    config.write_text('\n'.join([
        '[DEFAULT]', 'state_path = %s' % (tmp_path / 'state'),
        'transport_url = fake://',
        'enabled_backends = one:file, two:file',
        '[glance_store]', 'default_backend = one',
        '[one]', 'filesystem_store_datadir = %s' % (tmp_path / 'one'),
        '[two]', 'filesystem_store_datadir = %s' % (tmp_path / 'two'),
        '[database]',
        'connection = sqlite:///%s' % (tmp_path / 'importflow.sqlite'),
        '[api]', 'bind_host = 127.0.0.1', 'bind_port = %d' % port]) + '\n')
    subprocess.run([os.path.join(os.path.dirname(api_command(config)[0]),
                                 'importflow'), '--config-file', str(config),
                    'db', 'sync'], check=True, capture_output=True,
                   timeout=120)

    class Standalone:
        root = tmp_path
        processes = []

    Standalone.config = config
    api = ApiServer(Standalone, port)
    api.start()
    try:
        data = os.urandom(3 * MiB)
        image = _create(api.url)
        resp = requests.put('%s/v2/images/%s/stage' % (api.url, image['id']),
                            data=data, headers=OCTET, timeout=60)
        assert resp.status_code == 204
        resp = requests.post(
            '%s/v2/images/%s/import' % (api.url, image['id']), timeout=30,
            json={'method': {'name': 'glance-direct'}, 'all_stores': True})
        assert resp.status_code == 202, resp.text
        shown = api.wait_idle(image['id'], timeout=60)
        assert shown['status'] == 'active'
        assert sorted(shown['stores'].split(',')) == ['one', 'two']
        assert (tmp_path / 'two' / image['id']).read_bytes() == data
        assert 'in-process import worker' in api.log.read_text()
    finally:
        api.proc.send_signal(signal.SIGTERM)
        api.proc.wait(timeout=60)
    wait_for(lambda: api.proc.poll() is not None, 5)
