"""URL filter (import-semantics 13.3) against a real local HTTP server."""

import datetime
import http.server
import socket
import ssl
import threading

import pytest
import requests

from importflow.common import exceptions, url_filter
from importflow.conf import CONF, filtering

GROUP = filtering.GROUP
PAYLOAD = bytes(range(256)) * 1024      # 256 KiB, every byte value


@pytest.fixture(autouse=True)
def override():
    """Set filter options for one test; every override is cleared after."""
    def set_opts(**values):
        for name, value in values.items():
            CONF.set_override(name, value, group=GROUP)
    yield set_opts
    for opt in filtering.filtering_opts:
        CONF.clear_override(opt.name, group=GROUP)


@pytest.fixture
def fake_dns(monkeypatch):
    """Replace the resolver with a table; unknown names do not resolve."""
    table = {}

    def resolve(host, port):
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, 'Name does not resolve')
        return table[host]
    monkeypatch.setattr(url_filter, 'resolve', resolve)
    return table


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def _send(self, status, body=b'', headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        server = self.server
        server.seen.append((self.path, self.headers.get('Host'),
                            self.headers.get('Accept-Encoding')))
        path, _, query = self.path.partition('?')
        parts = path.strip('/').split('/')
        if parts[0] == 'data':
            self._send(200, PAYLOAD,
                       [('Content-Type', 'application/octet-stream')])
        elif parts[0] == 'chain':         # /chain/N: N redirects, then data
            left = int(parts[1])
            if left:
                self._send(302, headers=[('Location', f'/chain/{left - 1}')])
            else:
                self._send(200, PAYLOAD)
        elif parts[0] == 'loop':          # redirects forever
            target = f'/loop/{int(parts[1]) + 1}'
            self._send(302, headers=[('Location', target)])
        elif parts[0] == 'to':            # /to?<absolute URL>
            self._send(302, headers=[('Location', query)])
        elif parts[0] == 'slow':
            server.release.wait(10)
            self._send(200, PAYLOAD)
        else:
            self._send(404, b'not here')


def _serve(ssl_context=None):
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    server.daemon_threads = True
    server.seen = []
    server.release = threading.Event()
    if ssl_context is not None:
        server.socket = ssl_context.wrap_socket(server.socket,
                                                server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,),
                              daemon=True)
    thread.start()
    return server


def _stop(server):
    server.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def server():
    server = _serve()
    server.port = server.server_address[1]
    server.base = f'http://127.0.0.1:{server.port}'
    yield server
    _stop(server)


@pytest.fixture
def local(override, server):
    """Private networks and the server's port allowed."""
    override(allow_private_networks=True, allowed_ports=[server.port])
    return server


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _reason(uri):
    with pytest.raises(url_filter.URLRejected) as info:
        url_filter.check(uri)
    assert isinstance(info.value, exceptions.BadRequest)
    assert info.value.reason == str(info.value)
    assert not url_filter.passes(uri)
    return info.value.reason


def _failure(uri):
    with pytest.raises(exceptions.ImportFailed) as info:
        url_filter.open_url(uri)
    assert info.value.phase == 'web-download'
    return str(info.value)


# -- check(): steps 1 to 4 -------------------------------------------------

@pytest.mark.parametrize('uri, address', [
    ('http://127.0.0.1/', '127.0.0.1'),
    ('http://[::1]/', '::1'),
    ('http://169.254.169.254/latest/meta-data/', '169.254.169.254'),
    ('http://100.64.0.1/', '100.64.0.1'),
    ('http://10.1.2.3/', '10.1.2.3'),
    ('http://0.0.0.0/', '0.0.0.0'),
    ('http://224.0.0.1/', '224.0.0.1'),
    ('http://[fe80::1]/', 'fe80::1'),
    ('http://[fc00::1]/', 'fc00::1'),
    ('http://[2002:7f00:1::]/', '2002:7f00:1::'),
])
def test_non_global_literal_rejected(uri, address):
    assert _reason(uri) == (f"host '{address}' resolves to non-global "
                            f'address {address}')


def test_ipv4_mapped_ipv6_judged_by_ipv4_part():
    assert 'non-global address ::ffff:' in _reason(
        'http://[::ffff:127.0.0.1]/')
    assert 'non-global' in _reason('http://[::ffff:10.0.0.1]/')


def test_ipv4_mapped_public_passes():
    assert url_filter.check('http://[::ffff:8.8.8.8]/').addresses == [
        '::ffff:808:808']


def test_localhost_rejected():
    # Real resolution: /etc/hosts maps localhost to loopback.
    assert "host 'localhost' resolves to non-global address" in _reason(
        'http://localhost/')


@pytest.mark.parametrize('uri, form', [
    ('http://2130706433/', '2130706433'),
    ('http://017700000001/', '017700000001'),
    ('http://0x7f000001/', '0x7f000001'),
    ('http://127.1/', '127.1'),
    ('http://0x7f.1/', '0x7f.1'),
    ('http://0177.0.0.1/', '0177.0.0.1'),
    ('http://127.0.0.01/', '127.0.0.01'),
    ('http://1.2.3.4.5/', '1.2.3.4.5'),
])
def test_numeric_host_forms_rejected(uri, form):
    assert _reason(uri) == f"numeric host form '{form}' is not allowed"


def test_public_looking_name_resolving_to_loopback_rejected(fake_dns):
    fake_dns['images.example.com'] = ['127.0.0.1']
    assert _reason('http://images.example.com/img.qcow2') == (
        "host 'images.example.com' resolves to non-global address "
        '127.0.0.1')


def test_any_non_global_address_rejects(fake_dns):
    fake_dns['images.example.com'] = ['93.184.216.34', '10.0.0.7']
    assert _reason('https://images.example.com/') == (
        "host 'images.example.com' resolves to non-global address 10.0.0.7")


def test_global_name_passes(fake_dns):
    fake_dns['images.example.com'] = ['93.184.216.34', '2606:2800:220:1::']
    target = url_filter.check('HTTPS://Images.Example.COM./img?x=1')
    assert (target.scheme, target.host, target.port) == (
        'https', 'images.example.com', 443)
    assert target.addresses == ['93.184.216.34', '2606:2800:220:1::']
    assert target.url == 'HTTPS://Images.Example.COM./img?x=1'
    assert url_filter.passes('http://images.example.com/')


def test_name_that_does_not_resolve_rejected(fake_dns):
    assert _reason('http://nosuch.invalid/') == (
        "host 'nosuch.invalid' does not resolve")


def test_ipv6_literal_canonicalised(override):
    override(allow_private_networks=True)
    target = url_filter.check('http://[0:0:0:0:0:0:0:1]/')
    assert (target.host, target.addresses) == ('::1', ['::1'])


def test_non_default_port_rejected(fake_dns):
    fake_dns['images.example.com'] = ['93.184.216.34']
    assert _reason('http://images.example.com:8080/') == (
        'port 8080 is not allowed')
    assert url_filter.check('http://images.example.com:443/').port == 443


@pytest.mark.parametrize('uri, reason', [
    ('file:///etc/passwd', "scheme 'file' is not allowed"),
    ('ftp://example.com/', "scheme 'ftp' is not allowed"),
    ('gopher://example.com/', "scheme 'gopher' is not allowed"),
    ('//example.com/img', 'URL has no scheme'),
    ('http:///img', 'URL has no host'),
    ('http://', 'URL has no host'),
    ('http://user@/img', 'URL has no host'),
    ('http://exa%41mple.com/', "invalid host name 'exa%41mple.com'"),
    ('http://example.com:0/', 'port 0 is not allowed'),
])
def test_scheme_and_host_required(uri, reason):
    assert _reason(uri) == reason


def test_unparseable_url_rejected():
    assert _reason('http://[::1/').startswith('URL cannot be parsed')
    assert _reason('http://example.com:99999/').startswith(
        'URL cannot be parsed')
    assert _reason(None) == 'URL must be a string'


def test_parser_confusion_rejected(fake_dns):
    fake_dns['evil.example'] = ['93.184.216.34']
    assert _reason('http://evil.example\\@127.0.0.1/').startswith(
        'URL is ambiguous')


def test_scheme_deny_list(override, fake_dns):
    fake_dns['example.com'] = ['93.184.216.34']
    override(allowed_schemes=[], disallowed_schemes=['http'])
    assert _reason('http://example.com/') == "scheme 'http' is not allowed"
    assert url_filter.passes('https://example.com/')
    assert url_filter.passes('ftp://example.com/')


def test_host_allow_list(override, fake_dns):
    fake_dns['images.example.com'] = ['93.184.216.34']
    fake_dns['other.example.com'] = ['93.184.216.35']
    override(allowed_hosts=['Images.Example.com'],
             disallowed_hosts=['images.example.com'])
    assert url_filter.passes('http://images.example.com/')
    assert _reason('http://other.example.com/') == (
        "host 'other.example.com' is not allowed")


def test_host_deny_list(override, fake_dns):
    fake_dns['images.example.com'] = ['93.184.216.34']
    fake_dns['other.example.com'] = ['93.184.216.35']
    override(disallowed_hosts=['other.example.com', '[2001:4860::8888]'])
    assert url_filter.passes('http://images.example.com/')
    assert _reason('http://OTHER.example.com./') == (
        "host 'other.example.com' is not allowed")
    assert _reason('http://[2001:4860:0::8888]/') == (
        "host '2001:4860::8888' is not allowed")


def test_port_deny_list(override, fake_dns):
    fake_dns['images.example.com'] = ['93.184.216.34']
    override(allowed_ports=[], disallowed_ports=[8443])
    assert _reason('https://images.example.com:8443/') == (
        'port 8443 is not allowed')
    assert url_filter.check('https://images.example.com:8080/').port == 8080


def test_allowed_host_skips_address_check(override):
    override(allowed_hosts=['127.0.0.1'])
    assert url_filter.check('http://127.0.0.1/').addresses == ['127.0.0.1']
    assert "host '10.0.0.1' is not allowed" == _reason('http://10.0.0.1/')


def test_allow_private_networks_skips_address_check(override):
    override(allow_private_networks=True)
    assert url_filter.passes('http://169.254.169.254/')
    # Numeric forms stay refused: they are a syntax check, not an address one.
    assert not url_filter.passes('http://2130706433/')


def test_resolver_argument_used():
    target = url_filter.check('http://images.example.com/',
                              resolver=lambda host, port: ['93.184.216.34'])
    assert target.addresses == ['93.184.216.34']


def test_real_resolve_returns_addresses():
    assert url_filter.resolve('127.0.0.1', 80) == ['127.0.0.1']
    assert '127.0.0.1' in url_filter.resolve('localhost', 80)


# -- open_url(): steps 5 and 6 --------------------------------------------

def test_download_from_local_server(local):
    response = url_filter.open_url(local.base + '/data')
    try:
        assert response.status_code == 200
        assert response.raw.read() == PAYLOAD
    finally:
        response.close()
    path, host, encoding = local.seen[0]
    assert (path, host, encoding) == (
        '/data', f'127.0.0.1:{local.port}', 'identity')


def test_download_blocked_without_private_networks(server, override):
    override(allowed_ports=[server.port])
    assert _failure(server.base + '/data') == (
        f'web-download failed: URL {server.base}/data rejected: '
        "host '127.0.0.1' resolves to non-global address 127.0.0.1")
    assert server.seen == []


def test_connects_to_validated_address_without_second_lookup(
        local, fake_dns, monkeypatch):
    fake_dns['images.example.test'] = ['127.0.0.1']
    real = socket.getaddrinfo

    def literal_only(host, *args, **kwargs):
        if host != '127.0.0.1':
            raise AssertionError(f'second lookup of {host}')
        return real(host, *args, **kwargs)
    monkeypatch.setattr(socket, 'getaddrinfo', literal_only)

    url = f'http://images.example.test:{local.port}/data'
    with url_filter.open_url(url) as response:
        assert b''.join(response.iter_content(65536)) == PAYLOAD
    assert local.seen[0][1] == f'images.example.test:{local.port}'


def test_proxy_environment_ignored(local, monkeypatch):
    dead = f'http://127.0.0.1:{_free_port()}'
    for name in ('http_proxy', 'HTTP_PROXY', 'https_proxy', 'all_proxy'):
        monkeypatch.setenv(name, dead)
    monkeypatch.delenv('no_proxy', raising=False)
    monkeypatch.delenv('NO_PROXY', raising=False)
    with url_filter.open_url(local.base + '/data') as response:
        assert response.raw.read() == PAYLOAD


def test_redirects_followed_up_to_limit(local, override):
    override(max_redirects=3)
    with url_filter.open_url(local.base + '/chain/3') as response:
        assert response.raw.read() == PAYLOAD
    assert [p for p, _, _ in local.seen] == [
        '/chain/3', '/chain/2', '/chain/1', '/chain/0']


def test_too_many_redirects_refused(local, override):
    override(max_redirects=2)
    message = _failure(local.base + '/chain/3')
    assert message == (f'web-download failed: too many redirects from '
                       f'{local.base}/chain/3: more than 2')
    assert len(local.seen) == 3


def test_endless_redirects_refused(local):
    assert 'more than 10' in _failure(local.base + '/loop/0')


def test_redirect_to_blocked_port_refused(local):
    target = f'http://127.0.0.1:{_free_port()}/data'
    message = _failure(f'{local.base}/to?{target}')
    port = target.split(':')[2].split('/')[0]
    assert message == (f'web-download failed: redirect 1 to {target} '
                       f'rejected: port {port} is not allowed')


def test_redirect_to_denied_host_refused(local, override):
    override(disallowed_hosts=['localhost'])
    target = f'http://localhost:{local.port}/data'
    message = _failure(f'{local.base}/to?{target}')
    assert message.endswith(f"redirect 1 to {target} rejected: host "
                            "'localhost' is not allowed")
    assert [p.split('?')[0] for p, _, _ in local.seen] == ['/to']


def test_redirect_to_metadata_service_refused(server, override):
    # The first hop passes only because its host is allow-listed.
    override(allowed_hosts=['127.0.0.1'], allowed_ports=[server.port])
    message = _failure(
        f'{server.base}/to?http://169.254.169.254/latest/meta-data/')
    assert message.endswith("rejected: host '169.254.169.254' is not "
                            'allowed')
    assert 'redirect 1 to http://169.254.169.254/' in message


class _Redirect:
    status_code = 302
    reason = 'Found'

    def __init__(self, location):
        self.headers = {'Location': location}
        self.connection = self

    def close(self):
        pass


def test_redirect_to_private_address_refused(fake_dns, monkeypatch):
    # No public server exists here: the first hop's answer is simulated.
    fake_dns['images.example.com'] = ['93.184.216.34']
    fake_dns['internal.example.com'] = ['93.184.216.35', '10.0.0.5']
    fetched = []

    def fetch(target):
        fetched.append(target)
        return _Redirect('//internal.example.com/latest')
    monkeypatch.setattr(url_filter, '_fetch', fetch)
    assert _failure('http://images.example.com/img') == (
        'web-download failed: redirect 1 to '
        'http://internal.example.com/latest rejected: host '
        "'internal.example.com' resolves to non-global address 10.0.0.5")
    assert [t.host for t in fetched] == ['images.example.com']


def test_allowed_host_reached_through_relative_redirect(server, override,
                                                        fake_dns):
    fake_dns['images.example.com'] = ['127.0.0.1']
    override(allowed_hosts=['images.example.com'],
             allowed_ports=[server.port])
    url = f'http://images.example.com:{server.port}/chain/1'
    with url_filter.open_url(url) as response:
        assert response.raw.read() == PAYLOAD
    assert [host for _, host, _ in server.seen] == [
        f'images.example.com:{server.port}'] * 2


def test_open_url_uses_given_resolver(local):
    url = f'http://images.example.test:{local.port}/data'
    with url_filter.open_url(
            url, resolver=lambda host, port: ['127.0.0.1']) as response:
        assert response.raw.read() == PAYLOAD


def test_http_error_status_named(local):
    message = _failure(local.base + '/missing')
    assert message == (f'web-download failed: HTTP status 404 Not Found '
                       f'from {local.base}/missing')


def test_read_timeout_reported(local, override):
    override(read_timeout=0.2)
    message = _failure(local.base + '/slow')
    assert message == (f'web-download failed: read timeout: no data for '
                       f'0.2 s from {local.base}/slow')


def test_connect_timeout_reported(local, monkeypatch):
    def timing_out(address, timeout, **kwargs):
        raise TimeoutError('timed out')
    monkeypatch.setattr(url_filter.urllib3_util.connection,
                        'create_connection', timing_out)
    assert _failure(local.base + '/data') == (
        'web-download failed: connect timeout after 30.0 s to 127.0.0.1 '
        f'port {local.port} (127.0.0.1)')
    assert local.seen == []


def test_connection_refused_reported(override):
    port = _free_port()
    override(allow_private_networks=True, allowed_ports=[port])
    message = _failure(f'http://127.0.0.1:{port}/data')
    assert message.startswith(
        f'web-download failed: cannot connect to 127.0.0.1 port {port} '
        '(127.0.0.1)')


def test_next_address_tried_when_one_refuses(local, fake_dns):
    fake_dns['images.example.test'] = ['127.0.0.2', '127.0.0.1']
    # 127.0.0.2 listens on nothing at this port on a typical loopback.
    try:
        with socket.create_connection(('127.0.0.2', local.port), 1):
            pytest.skip('127.0.0.2 accepts connections here')
    except OSError:
        pass
    url = f'http://images.example.test:{local.port}/data'
    with url_filter.open_url(url) as response:
        assert response.raw.read() == PAYLOAD


def test_credentials_not_in_messages(local):
    message = _failure(f'http://user:secret@127.0.0.1:{local.port}/missing')
    assert 'secret' not in message
    assert '***@127.0.0.1' in message


# -- TLS: SNI and certificate check use the host name ----------------------

def _make_ca_and_leaf(tmp_path, name):
    x509 = pytest.importorskip('cryptography.x509')
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def build(subject, issuer, key, sign_key, ca):
        builder = (x509.CertificateBuilder()
                   .subject_name(subject).issuer_name(issuer)
                   .public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(datetime.datetime(2000, 1, 1))
                   .not_valid_after(datetime.datetime(2100, 1, 1))
                   .add_extension(x509.BasicConstraints(ca=ca,
                                                        path_length=None),
                                  critical=True))
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(name)]),
                critical=False)
        return builder.sign(sign_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'test CA')])
    ca_cert = build(ca_name, ca_name, ca_key, ca_key, True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_cert = build(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]),
        ca_name, leaf_key, ca_key, False)

    pem = serialization.Encoding.PEM
    ca_file = tmp_path / 'ca.pem'
    ca_file.write_bytes(ca_cert.public_bytes(pem))
    leaf_file = tmp_path / 'leaf.pem'
    leaf_file.write_bytes(
        leaf_cert.public_bytes(pem) + leaf_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
    return str(ca_file), str(leaf_file)


@pytest.fixture
def tls_server(tmp_path, monkeypatch, override, fake_dns):
    ca_file, leaf_file = _make_ca_and_leaf(tmp_path, 'images.example.test')
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(leaf_file)
    sni = []
    context.sni_callback = lambda sock, name, ctx: sni.append(name)
    server = _serve(context)
    server.port = server.server_address[1]
    server.sni = sni
    # open_url verifies against the default bundle; point it at the test CA.
    monkeypatch.setattr(requests.adapters, 'DEFAULT_CA_BUNDLE_PATH', ca_file)
    fake_dns['images.example.test'] = ['127.0.0.1']
    fake_dns['other.example.test'] = ['127.0.0.1']
    override(allow_private_networks=True, allowed_ports=[server.port])
    yield server
    _stop(server)


def test_tls_uses_host_name_for_sni_and_certificate(tls_server):
    url = f'https://images.example.test:{tls_server.port}/data'
    with url_filter.open_url(url) as response:
        assert response.raw.read() == PAYLOAD
    assert tls_server.sni == ['images.example.test']
    assert tls_server.seen[0][1] == f'images.example.test:{tls_server.port}'


def test_tls_certificate_for_other_name_refused(tls_server):
    message = _failure(f'https://other.example.test:{tls_server.port}/data')
    assert message.startswith('web-download failed: TLS error with '
                              f'other.example.test port {tls_server.port}')
    assert 'other.example.test' in tls_server.sni
    assert tls_server.seen == []
