"""web-download from a real local HTTP server (import-semantics 6.1, 6.5,
13.3)."""

import hashlib
import http.server
import os
import threading

import pytest

from importflow.common import constants as c
from importflow.conf import CONF

ALL = ('fast', 'cheap', 'backup')
MiB = 1024 * 1024
DATA = os.urandom(3 * MiB + 12345)
SHORT_BY = 1000


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.paths.append(self.path)
        if self.path == '/image.raw':
            self._send(200, DATA, len(DATA))
        elif self.path == '/short.raw':
            # Announces more bytes than it sends, then hangs up.
            self._send(200, DATA[:-SHORT_BY], len(DATA))
            self.close_connection = True
        elif self.path == '/redirect':
            self.send_response(302)
            self.send_header('Location', '/image.raw')
            self.send_header('Content-Length', '0')
            self.end_headers()
        else:
            self._send(404, b'not here\n', 9)

    def _send(self, status, body, announced):
        self.send_response(status)
        self.send_header('Content-Type', 'application/octet-stream')
        self.send_header('Content-Length', str(announced))
        self.end_headers()
        try:
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def server(env):
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    httpd.daemon_threads = True
    httpd.paths = []
    port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    CONF.set_override('allow_private_networks', True,
                      group='import_filtering_opts')
    CONF.set_override('allowed_ports', [port], group='import_filtering_opts')
    try:
        yield httpd, 'http://127.0.0.1:%d' % port
    finally:
        CONF.clear_override('allow_private_networks',
                            group='import_filtering_opts')
        CONF.clear_override('allowed_ports', group='import_filtering_opts')
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _queued_image(client):
    return client.create_image(name='web', disk_format='raw',
                               container_format='bare')


def _download(client, image_id, uri, **kwargs):
    task = client.import_image(image_id, method=c.WEB_DOWNLOAD, uri=uri,
                               **kwargs)
    assert task['input']['import_req']['method']['uri'] == uri
    return client.wait(task['id'], timeout=30)


def _assert_back_to_queued(client, env, image_id, original):
    image = client.show_image(image_id)
    assert image['status'] == c.QUEUED
    for attr in ('size', 'virtual_size', 'checksum', 'os_hash_algo',
                 'os_hash_value'):
        assert image[attr] is None, attr
    assert image['disk_format'] == original['disk_format']
    assert image['container_format'] == original['container_format']
    assert image['locations'] == []
    props = image['properties']
    assert c.PROP_IMPORT_TASK not in props
    assert props[c.PROP_IMPORTING_TO] == ''
    assert props[c.PROP_FAILED_IMPORT] == ','.join(sorted(ALL))
    assert env.staging_files() == []
    for store_id in ALL:
        assert env.store_files(store_id) == [], store_id


@pytest.mark.parametrize('path', ['/image.raw', '/redirect'])
def test_web_download_into_every_store(client, env, server, path):
    httpd, base_url = server
    image = _queued_image(client)
    task = _download(client, image['id'], base_url + path, all_stores=True)

    assert task['status'] == c.TASK_SUCCESS, task['message']
    image = client.show_image(image['id'])
    assert image['status'] == c.ACTIVE
    assert image['size'] == len(DATA)
    assert image['virtual_size'] == len(DATA)
    assert image['checksum'] == hashlib.md5(DATA).hexdigest()
    assert image['os_hash_algo'] == 'sha512'
    assert image['os_hash_value'] == hashlib.sha512(DATA).hexdigest()
    assert sorted(loc['store'] for loc in image['locations']) == sorted(ALL)
    for store_id in ALL:
        assert env.store_files(store_id) == [image['id']]
        assert (env.store_dir(store_id) / image['id']).read_bytes() == DATA
    props = image['properties']
    assert c.PROP_IMPORT_TASK not in props
    assert props[c.PROP_IMPORTING_TO] == ''
    assert props[c.PROP_FAILED_IMPORT] == ''
    assert env.staging_files() == []
    assert task['result']['stores'] == {
        s: {'status': c.STORE_ACTIVE, 'size': len(DATA)} for s in ALL}
    download = task['progress']['phases']['download']
    assert download['state'] == 'done'
    assert download['bytes_done'] == download['bytes_total'] == len(DATA)
    assert httpd.paths[-1] == '/image.raw'


def test_web_download_404_leaves_the_image_queued(client, env, server):
    httpd, base_url = server
    original = _queued_image(client)
    task = _download(client, original['id'], base_url + '/missing.raw',
                     all_stores=True)

    assert task['status'] == c.TASK_FAILURE
    assert task['message'].startswith('web-download failed: '), \
        task['message']
    assert '404' in task['message']
    assert 'Internal Error' not in task['message']
    _assert_back_to_queued(client, env, original['id'], original)
    assert httpd.paths == ['/missing.raw']
    assert set(task['result']['stores']) == set(ALL)
    for entry in task['result']['stores'].values():
        assert entry['status'] == c.STORE_CANCELLED


def test_web_download_short_body_names_both_counts(client, env, server):
    httpd, base_url = server
    original = _queued_image(client)
    task = _download(client, original['id'], base_url + '/short.raw',
                     all_stores=True)

    assert task['status'] == c.TASK_FAILURE
    message = task['message']
    assert message.startswith('web-download failed: '), message
    # Section 13.3: a byte count that differs from Content-Length, both
    # numbers given.
    assert str(len(DATA)) in message, message
    assert str(len(DATA) - SHORT_BY) in message, message
    _assert_back_to_queued(client, env, original['id'], original)


def test_web_download_retry_after_failure(client, env, server):
    httpd, base_url = server
    original = _queued_image(client)
    task = _download(client, original['id'], base_url + '/missing.raw')
    assert task['status'] == c.TASK_FAILURE
    # Back in 'queued': the same image can be downloaded again.
    task = _download(client, original['id'], base_url + '/image.raw')
    assert task['status'] == c.TASK_SUCCESS, task['message']
    image = client.show_image(original['id'])
    assert image['status'] == c.ACTIVE
    assert [loc['store'] for loc in image['locations']] == ['fast']
    assert image['properties'][c.PROP_FAILED_IMPORT] == ''
    assert (env.store_dir('fast') / original['id']).read_bytes() == DATA
