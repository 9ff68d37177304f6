"""Property-based tests (hypothesis) on hostile input (issue 5):

(a) import request validation (``imports.accept``): arbitrary JSON either
    gives an ImportflowError with a 4xx code and changes nothing, or is
    accepted;
(b) format detection (``inspection.wrap`` + ``judge``): arbitrary bytes,
    and mangled prefixes of real image headers, give a Verdict or
    ImportFailed;
(c) the web-download URL filter (``url_filter.check``): a ValidatedURL or
    URLRejected, and never a host name resolving to a non-global address.

Examples are bounded (``max_examples``, no deadline); the images and
files each test needs are made once per test function, not per example.
"""

import io
import ipaddress
import os
import socket
import subprocess

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st
from oslo_context import context as oslo_context

from importflow import client as client_mod
from importflow.common import constants as c
from importflow.common import exceptions
from importflow.common import inspection
from importflow.common import policy
from importflow.common import url_filter
from importflow.conf import CONF
from importflow.conf import filtering
from importflow.db import api as db
from importflow.domain import images
from importflow.domain import imports
from importflow import stores

STORES = ('fast', 'cheap', 'backup')
SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

json_scalars = (st.none() | st.booleans() | st.integers()
                | st.floats(allow_nan=False, allow_infinity=False)
                | st.text(max_size=20))
json_values = st.recursive(
    json_scalars,
    lambda children: (st.lists(children, max_size=4)
                      | st.dictionaries(st.text(max_size=12), children,
                                        max_size=4)),
    max_leaves=12)


# ------------------------------------------------ (a) import requests

METHOD_NAMES = (c.GLANCE_DIRECT, c.WEB_DOWNLOAD, c.COPY_IMAGE) * 3 + (
    'glance-download', 'GLANCE-DIRECT', '', 'no-such-method')
STORE_IDS = STORES + ('os_glance_staging_store', 'os_glance_tasks_store',
                      'nope', '', 'FAST')
HOSTS = {'images.example.com': ['93.184.216.34'],
         'dual.example.com': ['93.184.216.34', '2606:2800:220:1::1'],
         'internal.example.com': ['10.1.2.3'],
         'metadata.example.com': ['169.254.169.254']}
URIS = st.sampled_from([
    'http://images.example.com/disk.img',
    'https://dual.example.com:443/disk.img',
    'http://internal.example.com/x', 'http://metadata.example.com/',
    'http://127.0.0.1/', 'http://2130706433/', 'ftp://images.example.com/',
    'http://unknown.example.com/', 'http://images.example.com:8080/',
    'file:///etc/passwd']) | st.text(max_size=40) | json_values


def _fake_resolver(table):
    def resolve(host, port):
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, 'Name does not resolve')
        return list(table[host])
    return resolve


def _structured_bodies():
    method = st.fixed_dictionaries(
        {'name': st.sampled_from(METHOD_NAMES) | json_values},
        optional={'uri': URIS,
                  'glance_region': json_values,
                  'glance_image_id': st.uuids().map(str) | json_values,
                  'glance_service_interface': json_values})
    # Mostly well-typed, so that examples get past the body checks.
    return st.fixed_dictionaries(
        {'method': st.one_of(method, method, method, json_values)},
        optional={
            'stores': st.one_of(
                st.lists(st.sampled_from(STORE_IDS), max_size=4),
                st.lists(st.sampled_from(STORES), max_size=3, unique=True),
                json_values),
            'all_stores': st.one_of(st.booleans(), st.booleans(),
                                    json_values),
            'all_stores_must_succeed': st.one_of(st.booleans(),
                                                 st.booleans(), json_values),
            'extra': json_values})


def _well_typed_bodies():
    """Bodies of the right shape: the image, caller, stores and flags
    decide."""
    method = st.fixed_dictionaries(
        {'name': st.sampled_from((c.GLANCE_DIRECT, c.WEB_DOWNLOAD,
                                  c.COPY_IMAGE))},
        optional={'uri': st.sampled_from([
            'http://images.example.com/disk.img',
            'https://dual.example.com/disk.img',
            'http://internal.example.com/x', 'file:///etc/passwd'])})
    return st.fixed_dictionaries(
        {'method': method},
        optional={'stores': st.lists(st.sampled_from(STORE_IDS),
                                     max_size=3),
                  'all_stores': st.booleans(),
                  'all_stores_must_succeed': st.booleans()})


def _state(image_id):
    return {'image': db.image_get(image_id, include_deleted=True),
            'tasks': [t['id'] for t in db.task_list(image_id,
                                                    include_expired=True)],
            'staging': sorted(f for f in os.listdir(stores.staging_dir())
                              if f.startswith(image_id))}


@pytest.fixture
def request_images(env, monkeypatch):
    """A queued, a staged (uploading) and an active image, made once; no
    worker runs afterwards, so accepted tasks stay pending."""
    with client_mod.Client() as cl:
        queued = cl.create_image(name='q', disk_format='raw',
                                 container_format='bare')['id']
        staged = cl.create_image(name='s', disk_format='raw',
                                 container_format='bare')['id']
        cl.stage(staged, io.BytesIO(os.urandom(64 * 1024)))
        active = cl.create_image(name='a', disk_format='raw',
                                 container_format='bare',
                                 visibility='public')['id']
        cl.stage(active, io.BytesIO(os.urandom(64 * 1024)))
        task = cl.wait(cl.import_image(active, stores_=['fast'])['id'],
                       timeout=30)
        assert task['status'] == c.TASK_SUCCESS, task['message']
    dispatched = []

    class _NoDoorbell:
        def dispatch(self, task_id):
            dispatched.append(task_id)

    monkeypatch.setattr(imports.rpc_client, 'ImportClient', _NoDoorbell)
    monkeypatch.setattr(url_filter, 'resolve', _fake_resolver(HOSTS))
    return [queued, staged, active]


# Callers: the default (admin) identity, a member of the owning project
# and a member of another project.
CONTEXTS = st.sampled_from([
    None,
    dict(project_id='admin', user_id='m', roles=['member']),
    dict(project_id='other', user_id='o', roles=['member', 'reader'])])


def _context(ident):
    if ident is None:
        return policy.local_context()
    return oslo_context.RequestContext(is_admin=False, **ident)


def _check_accept(image_id, body, header, ident=None):
    """One request: 4xx and nothing changed, or accepted (then undone)."""
    context = _context(ident)
    before = _state(image_id)
    try:
        task = imports.accept(context, image_id, body, header)
    except exceptions.ImportflowError as exc:
        assert 400 <= exc.code < 500, (exc.code, exc)
        assert _state(image_id) == before, exc
        return exc.code
    # Accepted: a pending task holds the lock (or nothing to do, None).
    if task is not None:
        assert db.lock_holder(image_id) == task['id']
        assert task['status'] == c.TASK_PENDING
        # Undo, so that the next example sees the image unlocked.
        db.task_fail_pending(task['id'], 'property test', None)
        db.lock_release(image_id, task['id'])
    return 202


def test_import_request_arbitrary_json(env, request_images):
    headers = st.none() | st.sampled_from(STORE_IDS) | st.text(max_size=10)

    @settings(max_examples=100, **SETTINGS)
    @given(image=st.sampled_from(request_images),
           body=json_values | _structured_bodies(), header=headers,
           ident=CONTEXTS)
    def check(image, body, header, ident):
        _check_accept(image, body, header, ident)
    check()


def test_import_request_near_valid_bodies(env, request_images):
    codes = set()

    queued, staged, active = request_images
    member = dict(project_id='admin', user_id='m', roles=['member'])
    stranger = dict(project_id='other', user_id='o', roles=['member'])

    # Explicit examples pin one request per outcome; generation adds more.
    @example(image=staged, body={'method': {'name': c.GLANCE_DIRECT}},
             header=None, ident=None)                          # 202
    @example(image=active, body={'method': {'name': c.COPY_IMAGE}},
             header='cheap', ident=member)                     # 403
    @example(image=queued, body={'method': {'name': c.WEB_DOWNLOAD},
                                 'stores': ['fast']},
             header=None, ident=stranger)                      # 404
    @example(image=queued, body={'method': {'name': c.GLANCE_DIRECT}},
             header=None, ident=None)                          # 409
    @settings(max_examples=100, **SETTINGS)
    @given(image=st.sampled_from(request_images),
           body=st.one_of(_well_typed_bodies(), _well_typed_bodies(),
                          _structured_bodies()),
           header=st.none() | st.sampled_from(STORE_IDS),
           ident=CONTEXTS)
    def check(image, body, header, ident):
        codes.add(_check_accept(image, body, header, ident))
    check()
    assert {202, 400, 403, 404, 409} <= codes, codes


# ------------------------------------------------ (b) format detection

def _qemu_img_header(tmp_path, fmt, options=(), keep=64 * 1024):
    path = tmp_path / ('h.%s' % fmt)
    subprocess.run(['qemu-img', 'create', '-q', '-f', fmt, *options,
                    str(path), '1M'], check=True, capture_output=True)
    return path.read_bytes()[:keep]


@pytest.fixture
def real_headers(env, tmp_path):
    headers = [
        _qemu_img_header(tmp_path, 'qcow2'),
        _qemu_img_header(tmp_path, 'qcow2', ['-o', 'data_file=%s' % (
            tmp_path / 'data.raw')]),
        _qemu_img_header(tmp_path, 'vmdk'),
        _qemu_img_header(tmp_path, 'vmdk', ['-o',
                                            'subformat=streamOptimized']),
        _qemu_img_header(tmp_path, 'vmdk', ['-o',
                                            'subformat=monolithicFlat']),
        _qemu_img_header(tmp_path, 'vpc', ['-o', 'subformat=fixed'],
                         keep=None)[-512:],   # VHD footer as a header
        _qemu_img_header(tmp_path, 'vpc'),
        _qemu_img_header(tmp_path, 'vhdx', keep=512 * 1024),
        _qemu_img_header(tmp_path, 'vdi'),
        _qemu_img_header(tmp_path, 'qed'),
        b'\x00' * 510 + b'\x55\xaa',                      # bare MBR
        b'\x00' * 32768 + b'\x01CD001\x01' + b'\x00' * 2041,  # ISO PVD
        b'LUKS\xba\xbe\x00\x01' + b'\x00' * 584,
    ]
    return headers


def _mangled(headers):
    """A real header, cut short and with some bytes overwritten."""
    @st.composite
    def build(draw):
        data = bytearray(draw(st.sampled_from(headers)))
        cut = draw(st.integers(0, len(data)))
        data = data[:cut]
        for _ in range(draw(st.integers(0, 8))):
            if not data:
                break
            pos = draw(st.integers(0, len(data) - 1))
            data[pos] = draw(st.integers(0, 255))
        return bytes(data) + draw(st.binary(max_size=64))
    return build()


def _judge(data, disk_format, chunk):
    if len(data) > 16 * 1024:
        chunk = max(chunk, 4096)   # byte-sized reads of 512 KiB are slow
    reader = inspection.wrap(io.BytesIO(data), 'bare')
    while reader.read(chunk):
        pass
    return inspection.judge(reader, disk_format, len(data), 'property')


def test_format_detection_never_crashes(env, real_headers):
    @settings(max_examples=150, **SETTINGS)
    @given(data=st.binary(max_size=4096) | _mangled(real_headers),
           disk_format=st.sampled_from(images.DISK_FORMATS),
           chunk=st.sampled_from([1, 7, 512, 4096, 65536]),
           strict=st.booleans())
    def check(data, disk_format, chunk, strict):
        CONF.set_override('require_image_format_match', strict,
                          group='image_format')
        try:
            verdict = _judge(data, disk_format, chunk)
        except exceptions.ImportFailed as exc:
            assert str(exc).startswith('property: ') or \
                str(exc).startswith('multiple formats detected'), exc
        else:
            assert isinstance(verdict, inspection.Verdict)
            assert verdict.virtual_size is None or \
                isinstance(verdict.virtual_size, int)
        finally:
            CONF.clear_override('require_image_format_match',
                                group='image_format')
    check()


def test_real_headers_are_detected(env, real_headers):
    """Sanity for the generator above: the whole headers are recognised
    (a truncated qemu-img file is still its format)."""
    detected = {_safe_detect(h) for h in real_headers}
    assert {'qcow2', 'vmdk', 'vhd', 'vhdx', 'vdi', 'qed', 'gpt',
            'iso', 'luks'} <= detected, detected


def _safe_detect(data):
    reader = inspection.wrap(io.BytesIO(data), 'bare')
    while reader.read(65536):
        pass
    reader.wrapper._finish()
    formats = reader.wrapper.formats or []
    return ','.join(sorted(str(f) for f in formats))


# ------------------------------------------------- (c) the URL filter

NON_GLOBAL = ['127.0.0.1', '127.1.2.3', '10.0.0.1', '172.16.5.4',
              '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0',
              '224.0.0.1', '240.0.0.1', '255.255.255.255', '::1', '::',
              'fe80::1', 'fc00::1', 'ff02::1', '::ffff:127.0.0.1',
              '::ffff:10.0.0.1', '64:ff9b::7f00:1', '2002:7f00:1::1',
              '192.0.2.1', '2001:db8::1']

labels = st.from_regex(r'[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?', fullmatch=True)
host_names = st.lists(labels, min_size=1, max_size=4).map('.'.join)
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(lambda a: '[%s]' % a)
numeric_hosts = st.one_of(
    st.integers(0, 2 ** 32 - 1).map(str),
    st.integers(0, 2 ** 32 - 1).map(hex),
    st.integers(0, 2 ** 32 - 1).map(lambda n: '0%o' % n),
    st.tuples(st.integers(0, 255), st.integers(0, 2 ** 24 - 1)).map(
        lambda t: '%d.%d' % t),
    st.lists(st.integers(0, 255).map(hex), min_size=4, max_size=4).map(
        '.'.join))
hosts = st.one_of(host_names, ipv4, ipv4, ipv6, numeric_hosts,
                  st.sampled_from(['localhost', 'LOCALHOST.', 'xn--nxasmq6b',
                                   'пример.рф', '[::ffff:127.0.0.1]',
                                   'a..b', '-a.com', 'a_b.com']),
                  st.text(max_size=15))


@st.composite
def urls(draw):
    """URLs, mostly well-formed enough to reach the host and address
    checks, with hostile parts mixed in."""
    scheme = draw(st.sampled_from(['http'] * 6 + ['https'] * 3 + [
        'HTTP', 'ftp', 'file', 'gopher', '', 'ht tp']))
    userinfo = draw(st.sampled_from([''] * 8 + ['user@', 'u:p@', 'a@b@',
                                                'x\\@', 'a%40b@']))
    host = draw(hosts)
    port = draw(st.sampled_from([None] * 6 + ['80', '443', '8080', '0',
                                              '65536', '', '080', '+80',
                                              '99999', '-1']))
    path = draw(st.sampled_from(['', '/', '/disk.img', '/a?b#c',
                                 '\\@127.0.0.1/', '#@127.0.0.1', '/%00']))
    netloc = userinfo + host + ('' if port is None else ':' + port)
    return '%s://%s%s' % (scheme, netloc, path)


@pytest.fixture
def filter_opts():
    yield
    for opt in filtering.filtering_opts:
        CONF.clear_override(opt.name, group=filtering.GROUP)


def _is_global(address):
    ip = ipaddress.ip_address(address)
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def test_url_filter_never_reaches_private_addresses(env, filter_opts):
    @settings(max_examples=300, **SETTINGS)
    @given(uri=st.one_of(urls(), urls(), urls(), st.text(max_size=60)),
           answers=st.lists(st.sampled_from(NON_GLOBAL), min_size=1,
                            max_size=3),
           extra_public=st.booleans())
    def check(uri, answers, extra_public):
        # Every name resolves, and always to at least one non-global
        # address (possibly next to a public one).
        table = list(answers) + (['93.184.216.34'] if extra_public else [])
        resolved = []

        def resolve(host, port):
            resolved.append(host)
            return table
        try:
            result = url_filter.check(uri, resolver=resolve)
        except url_filter.URLRejected as exc:
            assert exc.code == 400 and exc.reason
            return
        assert isinstance(result, url_filter.ValidatedURL)
        # Only a global IP literal can pass: no name resolved here.
        assert not resolved, (uri, result)
        assert result.addresses == [result.host]
        assert all(_is_global(a) for a in result.addresses), result
        assert result.scheme in ('http', 'https')
        assert result.stated_port in (None, 80, 443)
    check()


def test_url_filter_module_resolver_is_used(env, filter_opts, monkeypatch):
    """Same, through the module-level ``resolve`` (what the API's
    ``passes`` and the download use), replaced by a table that sends every
    name to a loopback or private address."""
    answer, resolved = [], []

    def resolve(host, port):
        resolved.append(host)
        return list(answer)
    monkeypatch.setattr(url_filter, 'resolve', resolve)

    @settings(max_examples=100, **SETTINGS)
    @given(uri=urls(), address=st.sampled_from(NON_GLOBAL))
    def check(uri, address):
        answer[:] = [address]
        resolved.clear()
        accepted = url_filter.passes(uri)
        try:
            result = url_filter.check(uri)
        except url_filter.URLRejected:
            assert not accepted
            return
        assert accepted
        assert not resolved, (uri, result)
        assert all(_is_global(a) for a in result.addresses), result
    check()


def test_url_filter_arbitrary_values(env, filter_opts):
    """Anything at all, with arbitrary filter options."""
    @settings(max_examples=150, **SETTINGS)
    @given(uri=json_values | urls(),
           allowed_hosts=st.lists(st.sampled_from(
               ['images.example.com', '127.0.0.1', 'пример.рф', '']),
               max_size=2),
           allowed_schemes=st.lists(st.sampled_from(['http', 'ftp',
                                                     'HTTPS']), max_size=2),
           allow_private=st.booleans())
    def check(uri, allowed_hosts, allowed_schemes, allow_private):
        CONF.set_override('allowed_hosts', allowed_hosts,
                          group=filtering.GROUP)
        CONF.set_override('allowed_schemes', allowed_schemes,
                          group=filtering.GROUP)
        CONF.set_override('allow_private_networks', allow_private,
                          group=filtering.GROUP)
        try:
            result = url_filter.check(
                uri, resolver=lambda host, port: ['10.0.0.7'])
        except url_filter.URLRejected:
            return
        assert isinstance(result, url_filter.ValidatedURL)
        if not allow_private and \
                result.host not in url_filter._host_set(allowed_hosts):
            assert all(_is_global(a) for a in result.addresses), result
    check()
