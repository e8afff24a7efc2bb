"""Guard for outbound HTTP calls to addresses typed in by users (webhooks).

A URL is refused when its scheme is not https (plain http only when allowed)
or when its host is, or resolves to, an address that is not a public internet
address: loopback, private (RFC 1918, unique local), shared (100.64/10),
link-local (169.254/16, fe80::/10, cloud metadata services), multicast,
unspecified, reserved or documentation ranges. Every address the host name
resolves to is checked, IPv4 and IPv6, including IPv4-mapped, 6to4, Teredo and
NAT64 IPv6 addresses and the numeric forms of IPv4 that resolvers accept
(``2130706433``, ``0x7f000001``, ``0177.0.0.1``, ``127.1``).

Checking a name and then connecting resolves the name twice: an attacker's DNS
could answer with a public address first and with 127.0.0.1 next ("DNS
rebinding"). ``guarded_session`` therefore also checks the address each
connection actually reached, before anything is sent on it. Its ``deadline``
bounds the whole exchange (a server answering one byte at a time never resets
it): when it passes, the connection is shut down.

No Odoo import: the model reads its system parameters and translates messages.
"""

import ipaddress
import socket
import threading
import time
from urllib.parse import urlparse

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

# reasons an address is refused, most specific first
LOOPBACK = "loopback"
PRIVATE = "private"
LINK_LOCAL = "link-local"
MULTICAST = "multicast"
UNSPECIFIED = "unspecified"
RESERVED = "reserved"
NOT_GLOBAL = "not public"

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UrlRefused(ValueError):
    """The URL may not be called.

    :ivar str reason: ``"scheme"``, ``"http"``, ``"host"`` or one of the address
        reasons (``LOOPBACK``, ``PRIVATE``...)
    :ivar str address: the refused address, when the reason is an address's
    """

    def __init__(self, reason, address=None):
        super().__init__(f"{reason}: {address}" if address else reason)
        self.reason = reason
        self.address = address


def parse_networks(text):
    """The networks of a comma- or space-separated list of CIDR blocks or
    addresses (``"127.0.0.0/8, ::1"``). Returns ``(networks, invalid entries)``."""
    networks, invalid = [], []
    for entry in (text or "").replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            invalid.append(entry)
    return networks, invalid


def literal_address(host):
    """The IP address written in ``host`` (any form a resolver accepts for
    IPv4: dotted, decimal, hex, octal, shortened), or ``None`` for a name."""
    host = (host or "").strip("[]")
    if "%" in host:  # IPv6 zone id (fe80::1%eth0)
        host = host.split("%", 1)[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def _embedded_ipv4(address):
    """IPv4 addresses carried inside an IPv6 address (mapped, 6to4, Teredo,
    NAT64), which a connection may reach."""
    if address.version != 6:
        return []
    found = []
    if address.ipv4_mapped:
        found.append(address.ipv4_mapped)
    if address.sixtofour:
        found.append(address.sixtofour)
    if address.teredo:
        found.extend(address.teredo)
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def blocked_reason(address, allowed_networks=()):
    """Why ``address`` may not be called, or ``None`` when it is a public
    address or inside one of ``allowed_networks``."""
    address = ipaddress.ip_address(address)
    same_version = (net for net in allowed_networks if net.version == address.version)
    if any(address in network for network in same_version):
        return None
    for inner in _embedded_ipv4(address):
        reason = blocked_reason(inner, allowed_networks)
        if reason:
            return reason
    if address.is_loopback:
        return LOOPBACK
    if address.is_unspecified:
        return UNSPECIFIED
    if address.is_link_local:
        return LINK_LOCAL
    if address.is_multicast:
        return MULTICAST
    if address.is_private:
        return PRIVATE
    if address.is_reserved:
        return RESERVED
    if not address.is_global:
        return NOT_GLOBAL
    return None


def resolve(host, port):
    """Every address ``host`` resolves to (a literal address is not looked
    up). Raises ``OSError`` (``socket.gaierror``) when the name does not resolve."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos))


def check_url(url, allowed_networks=(), allow_http=False, resolve_host=True):
    """Raise ``UrlRefused`` when ``url`` may not be called.

    :param allowed_networks: networks allowed although not public (``parse_networks``)
    :param bool allow_http: whether plain http is allowed besides https
    :param bool resolve_host: look the host name up and check every address it
        resolves to; a name that does not resolve raises ``OSError``
    :return: the addresses checked
    """
    try:
        parsed = urlparse(url or "")
        host, port = parsed.hostname, parsed.port
    except ValueError:
        raise UrlRefused("host") from None
    if parsed.scheme not in ("http", "https"):
        raise UrlRefused("scheme")
    if not host:
        raise UrlRefused("host")
    if parsed.scheme == "http" and not allow_http:
        raise UrlRefused("http")
    literal = literal_address(host)
    if literal is not None:
        addresses = [literal]
    elif resolve_host:
        addresses = resolve(host, port or (443 if parsed.scheme == "https" else 80))
    else:
        addresses = []
    for address in addresses:
        reason = blocked_reason(address, allowed_networks)
        if reason:
            raise UrlRefused(reason, str(address))
    return addresses


def _shutdown(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


def _guarded_connection(base, adapter):
    class GuardedConnection(base):
        def _new_conn(self):
            sock = super()._new_conn()
            try:
                peer = sock.getpeername()[0]
            except OSError:
                peer = None
            reason = (
                blocked_reason(peer.split("%", 1)[0], adapter.allowed_networks) if peer else "host"
            )
            if reason:
                sock.close()
                raise UrlRefused(reason, peer)
            return sock

        def connect(self):
            super().connect()
            if adapter.deadline is not None and self.sock is not None:
                # the socket itself (TLS-wrapped if any): the response keeps
                # reading from it after the connection object lets it go
                timer = threading.Timer(
                    max(adapter.deadline - time.monotonic(), 0), _shutdown, [self.sock]
                )
                timer.daemon = True
                adapter.timers.append(timer)
                timer.start()

    return GuardedConnection


class GuardedAdapter(HTTPAdapter):
    """An adapter whose connections refuse to talk to a non-public address
    (checked on the connected socket, after name resolution) and are shut down
    at ``deadline`` (a ``time.monotonic()`` value)."""

    def __init__(self, allowed_networks=(), deadline=None, **kwargs):
        self.allowed_networks = list(allowed_networks)
        self.deadline = deadline
        self.timers = []
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        http_pool = type(
            "GuardedHTTPConnectionPool",
            (HTTPConnectionPool,),
            {"ConnectionCls": _guarded_connection(HTTPConnection, self)},
        )
        https_pool = type(
            "GuardedHTTPSConnectionPool",
            (HTTPSConnectionPool,),
            {"ConnectionCls": _guarded_connection(HTTPSConnection, self)},
        )
        self.poolmanager.pool_classes_by_scheme = {"http": http_pool, "https": https_pool}

    def close(self):
        for timer in self.timers:
            timer.cancel()
        super().close()


def guarded_session(allowed_networks=(), deadline=None):
    """A ``requests`` session that only connects to public addresses (or
    ``allowed_networks``), shuts its connections down at ``deadline`` (a
    ``time.monotonic()`` value), ignores proxy settings of the environment (a
    proxy would hide the address really called) and never follows redirects."""
    session = requests.Session()
    session.trust_env = False
    session.max_redirects = 0
    adapter = GuardedAdapter(allowed_networks, deadline)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def read_limited(response, max_bytes, deadline):
    """Read at most ``max_bytes`` of a streamed ``response``, stopping at
    ``deadline`` (a ``time.monotonic()`` value; ``guarded_session`` shuts the
    connection down then, which ends a read blocked on a slow server).
    Returns ``(bytes, truncated)``."""
    chunks, size, truncated = [], 0, False
    try:
        for chunk in response.iter_content(chunk_size=4096):
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes or time.monotonic() > deadline:
                truncated = True
                break
    except (requests.RequestException, OSError):
        if time.monotonic() < deadline:
            raise
        truncated = True  # shut down at the deadline: keep what arrived
    data = b"".join(chunks)
    if len(data) > max_bytes:
        data, truncated = data[:max_bytes], True
    return data, truncated
