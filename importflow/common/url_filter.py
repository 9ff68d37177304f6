"""URL filtering for web-download (import-semantics section 13.3).

``check`` decides whether a URL may be fetched (steps 1 to 4) and returns the
addresses it validated; ``open_url`` fetches it (steps 5 and 6). The fetch
dials one of those addresses itself, so a second DNS answer (DNS rebinding)
can never steer the connection elsewhere, and every redirect target goes
through the same checks.
"""

import dataclasses
import functools
import ipaddress
import re
import socket
from urllib import parse

import idna
import requests
from oslo_log import log as logging
from requests import adapters
from urllib3 import connection as urllib3_connection
from urllib3 import connectionpool
from urllib3 import exceptions as urllib3_exceptions
from urllib3 import util as urllib3_util

from importflow.common import exceptions
from importflow.conf import CONF

LOG = logging.getLogger(__name__)

PHASE = 'web-download'
DEFAULT_PORTS = {'http': 80, 'https': 443}
REDIRECT_STATUSES = (301, 302, 303, 307, 308)

# WHATWG: a host whose last label is a number is an IPv4 address to a
# browser or inet_aton(), whatever ipaddress thinks of it.
_NUMBER = re.compile(r'^(0x[0-9a-f]*|[0-9]+)$')
_LABEL = re.compile(r'^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$')
_NAT64 = ipaddress.ip_network('64:ff9b::/96')


class URLRejected(exceptions.BadRequest):
    """The URL fails the filter; ``reason`` is the concrete cause."""

    def __init__(self, uri, reason):
        super().__init__(reason)
        self.uri = uri
        self.reason = reason


@dataclasses.dataclass
class ValidatedURL:
    """A URL that passed steps 1 to 4, with the addresses it may dial."""

    url: str
    scheme: str
    host: str              # normalised: lower case, IP literals canonical
    port: int | None       # effective: stated, else the scheme's default
    addresses: list[str]   # canonical IP strings, in resolver order
    stated_port: int | None = None


def _opts():
    return CONF.import_filtering_opts


def resolve(host, port):
    """A and AAAA lookup; module level so tests can replace it."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                               proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(info[4][0] for info in infos))


def _normalise_host(host):
    """Lower case, no brackets or trailing dot, IDNA, canonical IP literal."""
    host = host.strip('[]').rstrip('.').lower()
    if not host.isascii():
        host = idna.encode(host, uts46=True).decode('ascii')
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def _host_set(entries):
    """Configured host entries, normalised like URL hosts."""
    hosts = set()
    for entry in entries:
        try:
            hosts.add(_normalise_host(entry))
        except (idna.IDNAError, UnicodeError):
            hosts.add(entry.lower())
    return hosts


def _judged(ip):
    """Addresses whose traffic ends at an embedded IPv4 address are judged
    by it too (IPv4-mapped by the IPv4 part alone)."""
    if ip.version == 6:
        if ip.ipv4_mapped:
            return [ip.ipv4_mapped]
        if ip.sixtofour:
            return [ip, ip.sixtofour]
        if ip in _NAT64:
            return [ip, ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return [ip]


def _is_non_global(ip):
    return any(a.is_loopback or a.is_private or a.is_link_local
               or a.is_multicast or a.is_reserved or a.is_unspecified
               or getattr(a, 'is_site_local', False) or not a.is_global
               for a in _judged(ip))


def _check_listed(kind, value, allowed, disallowed, shown=None):
    """Allow-list if non-empty, else deny-list."""
    refused = value not in allowed if allowed else value in disallowed
    if refused:
        return f'{kind} {value if shown is None else shown} is not allowed'
    return None


def _host_of(uri, parts, stated_port):
    """The normalised host and, for a literal, its address (step 2 syntax)."""
    raw_host = parts.hostname
    if not raw_host:
        raise URLRejected(uri, 'URL has no host')
    try:
        host = _normalise_host(raw_host)
    except (idna.IDNAError, UnicodeError) as e:
        raise URLRejected(uri, f"invalid host name '{raw_host}': {e}")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
        labels = host.split('.')
        if _NUMBER.match(labels[-1]):
            raise URLRejected(
                uri, f"numeric host form '{raw_host}' is not allowed")
        if len(host) > 253 or not all(_LABEL.match(x) for x in labels):
            raise URLRejected(uri, f"invalid host name '{raw_host}'")
    if stated_port == 0:
        raise URLRejected(uri, 'port 0 is not allowed')
    # The transport parses with urllib3: both parsers must see one target,
    # or 'http://a.example\\@127.0.0.1/' means two things.
    try:
        other = urllib3_util.parse_url(uri)
        other_host = _normalise_host(other.host or '')
    except (ValueError, idna.IDNAError, UnicodeError) as e:
        raise URLRejected(uri, f'URL cannot be parsed: {e}')
    if (other_host, other.port) != (host, stated_port):
        raise URLRejected(
            uri, f"URL is ambiguous: host '{host}' or '{other_host}'")
    return host, literal


def check(uri, resolver=None):
    """Steps 1 to 4; returns a ValidatedURL or raises URLRejected."""
    opts = _opts()
    if not isinstance(uri, str):
        raise URLRejected(uri, 'URL must be a string')
    try:
        parts = parse.urlsplit(uri)
        stated_port = parts.port
    except ValueError as e:
        raise URLRejected(uri, f'URL cannot be parsed: {e}')

    # 1. Scheme.
    scheme = parts.scheme.lower()
    if not scheme:
        raise URLRejected(uri, 'URL has no scheme')
    reason = _check_listed(
        'scheme', scheme,
        [s.lower() for s in opts.allowed_schemes],
        [s.lower() for s in opts.disallowed_schemes], shown=f"'{scheme}'")
    if reason:
        raise URLRejected(uri, reason)

    # 2. Host.
    host, literal = _host_of(uri, parts, stated_port)
    port = stated_port or DEFAULT_PORTS.get(scheme)
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = (resolver or resolve)(host, port)
        except (OSError, UnicodeError) as e:
            LOG.debug('Resolving %s failed: %s', host, e)
            addresses = []
        if not addresses:
            raise URLRejected(uri, f"host '{host}' does not resolve")
        try:
            addresses = [str(ipaddress.ip_address(a)) for a in addresses]
        except ValueError as e:
            raise URLRejected(uri, f"host '{host}' resolves to {e}")
    allowed_hosts = _host_set(opts.allowed_hosts)
    reason = _check_listed('host', host, allowed_hosts,
                           _host_set(opts.disallowed_hosts),
                           shown=f"'{host}'")
    if reason:
        raise URLRejected(uri, reason)

    # 3. Port, only when stated.
    if stated_port is not None:
        reason = _check_listed('port', stated_port, opts.allowed_ports,
                               opts.disallowed_ports)
        if reason:
            raise URLRejected(uri, reason)

    # 4. Address.
    if not opts.allow_private_networks and host not in allowed_hosts:
        for address in addresses:
            if _is_non_global(ipaddress.ip_address(address)):
                raise URLRejected(
                    uri, f"host '{host}' resolves to non-global address "
                         f"{address}")

    return ValidatedURL(url=uri, scheme=scheme, host=host, port=port,
                        addresses=addresses, stated_port=stated_port)


def passes(uri):
    """True iff ``check`` succeeds; the API answers 400 otherwise."""
    try:
        check(uri)
    except URLRejected as e:
        LOG.info('URL %s rejected: %s', redact(uri), e.reason)
        return False
    return True


def redact(url):
    """The URL without its user information, fit for messages and logs."""
    try:
        parts = parse.urlsplit(url) if isinstance(url, str) else None
    except ValueError:
        parts = None
    if parts is None:
        return repr(url)
    if '@' not in parts.netloc:
        return url
    netloc = '***@' + parts.netloc.rpartition('@')[2]
    return parse.urlunsplit(parts._replace(netloc=netloc))


# Step 5: urllib3 takes the Host header, SNI and the certificate check from
# the connection's host name; only the dial below uses the validated address.

class _PinnedConnectionMixin:
    def __init__(self, *args, pinned_address, **kwargs):
        super().__init__(*args, **kwargs)
        self.pinned_address = pinned_address

    def _new_conn(self):
        """Dial the validated address; never resolve the host name again."""
        try:
            return urllib3_util.connection.create_connection(
                (self.pinned_address, self.port), self.timeout,
                source_address=self.source_address,
                socket_options=self.socket_options)
        except TimeoutError as e:
            raise urllib3_exceptions.ConnectTimeoutError(
                self, f'Connection to {self.host} ({self.pinned_address}) '
                      f'timed out (connect timeout={self.timeout})') from e
        except OSError as e:
            raise urllib3_exceptions.NewConnectionError(
                self, f'Failed to establish a new connection: {e}') from e


class _PinnedHTTPConnection(_PinnedConnectionMixin,
                            urllib3_connection.HTTPConnection):
    pass


class _PinnedHTTPSConnection(_PinnedConnectionMixin,
                             urllib3_connection.HTTPSConnection):
    pass


class _PinnedHTTPPool(connectionpool.HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSPool(connectionpool.HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


class _PinnedAdapter(adapters.HTTPAdapter):
    """Transport adapter whose every connection dials one fixed address."""

    def __init__(self, address):
        self._address = address
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        pin = {'pinned_address': self._address}
        self.poolmanager.pool_classes_by_scheme = {
            'http': functools.partial(_PinnedHTTPPool, **pin),
            'https': functools.partial(_PinnedHTTPSPool, **pin),
        }


def _failed(message):
    LOG.warning('web-download failed: %s', message)
    return exceptions.ImportFailed(f'web-download failed: {message}',
                                   phase=PHASE)


def _fetch(target):
    """One GET to ``target``, dialling its validated addresses in turn."""
    opts = _opts()
    where = f'{target.host} port {target.port}'
    error = None
    for address in target.addresses:
        session = requests.Session()
        session.trust_env = False      # no proxies, no .netrc
        adapter = _PinnedAdapter(address)
        session.mount('http://', adapter)
        session.mount('https://', adapter)
        try:
            return session.get(
                target.url, stream=True, allow_redirects=False,
                timeout=(opts.connect_timeout, opts.read_timeout),
                # The bytes staged must be the bytes served.
                headers={'Accept-Encoding': 'identity'})
        except requests.exceptions.SSLError as e:
            session.close()
            raise _failed(f'TLS error with {where} ({address}): {e}')
        except requests.exceptions.ConnectTimeout:
            session.close()
            error = (f'connect timeout after {opts.connect_timeout} s to '
                     f'{where} ({address})')
        except requests.exceptions.ConnectionError as e:
            session.close()
            error = f'cannot connect to {where} ({address}): {e}'
        except requests.exceptions.ReadTimeout:
            session.close()
            raise _failed(f'read timeout: no data for {opts.read_timeout} s '
                          f'from {redact(target.url)}')
        except requests.exceptions.RequestException as e:
            session.close()
            raise _failed(f'request to {redact(target.url)} failed: {e}')
        LOG.info('web-download: %s', error)
    raise _failed(error)


def _discard(response):
    """Close a response and the single-use adapter that fetched it."""
    response.close()
    response.connection.close()


def open_url(uri, resolver=None):
    """Steps 1 to 6: a streaming response with a final 2xx status.

    Raises ImportFailed (phase web-download) naming the cause. The caller
    reads the body and closes the response.
    """
    url = uri
    max_redirects = _opts().max_redirects
    for hop in range(max_redirects + 1):
        try:
            target = check(url, resolver)
        except URLRejected as e:
            what = (f'URL {redact(url)}' if hop == 0 else
                    f'redirect {hop} to {redact(url)}')
            raise _failed(f'{what} rejected: {e.reason}')
        if target.scheme not in DEFAULT_PORTS:
            raise _failed(f"scheme '{target.scheme}' cannot be downloaded")
        response = _fetch(target)
        status = response.status_code
        location = response.headers.get('Location')
        if status in REDIRECT_STATUSES and location:
            _discard(response)
            url = parse.urljoin(target.url, location)
            LOG.debug('web-download: %s redirects (%d) to %s',
                      redact(target.url), status, redact(url))
            continue
        if not 200 <= status < 300:
            _discard(response)
            raise _failed(f'HTTP status {status} {response.reason or ""} '
                          f'from {redact(target.url)}')
        return response
    raise _failed(f'too many redirects from {redact(uri)}: more than '
                  f'{max_redirects}')
