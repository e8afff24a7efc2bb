"""The outbound URL guard of webhooks (rbm_recurring/engine/url_guard.py)."""

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rbm_recurring_engine import url_guard

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


@pytest.mark.parametrize(
    ("url", "reason", "address"),
    [
        ("https://127.0.0.1/hook", "loopback", "127.0.0.1"),
        ("https://127.1/hook", "loopback", "127.0.0.1"),
        ("https://2130706433/hook", "loopback", "127.0.0.1"),  # decimal
        ("https://0x7f000001/hook", "loopback", "127.0.0.1"),  # hex
        ("https://0177.0.0.1/hook", "loopback", "127.0.0.1"),  # octal
        ("https://[::1]/hook", "loopback", "::1"),
        ("https://[::ffff:127.0.0.1]/hook", "loopback", "::ffff:7f00:1"),  # IPv4-mapped
        ("https://[::ffff:a9fe:a9fe]/hook", "link-local", "::ffff:a9fe:a9fe"),
        ("https://[64:ff9b::a00:1]/hook", "private", "64:ff9b::a00:1"),  # NAT64 of 10.0.0.1
        ("https://[2002:c0a8:101::1]/hook", "private", "2002:c0a8:101::1"),  # 6to4 of 192.168.1.1
        ("https://10.1.2.3/hook", "private", "10.1.2.3"),
        ("https://172.16.0.1/hook", "private", "172.16.0.1"),
        ("https://192.168.0.10:8443/hook", "private", "192.168.0.10"),
        ("https://[fd12:3456::1]/hook", "private", "fd12:3456::1"),
        ("https://169.254.169.254/latest/meta-data", "link-local", "169.254.169.254"),
        ("https://[fe80::1%25eth0]/hook", "link-local", "fe80::1"),
        ("https://224.0.0.1/hook", "multicast", "224.0.0.1"),
        ("https://[ff02::1]/hook", "multicast", "ff02::1"),
        ("https://0.0.0.0/hook", "unspecified", "0.0.0.0"),
        ("https://[::]/hook", "unspecified", "::"),
        ("https://240.0.0.1/hook", "private", "240.0.0.1"),  # reserved class E
        ("https://100.64.0.1/hook", "not public", "100.64.0.1"),  # carrier-grade NAT
        ("ftp://panel.example.com/hook", "scheme", None),
        ("panel.example.com/hook", "scheme", None),
        ("https://", "host", None),
        ("http://panel.example.com/hook", "http", None),
    ],
)
def test_refused(url, reason, address):
    with pytest.raises(url_guard.UrlRefused) as refused:
        url_guard.check_url(url, resolve_host=False)
    assert refused.value.reason == reason
    assert refused.value.address == address


def test_public_addresses_and_allowed_networks_pass():
    assert url_guard.check_url(f"https://{PUBLIC_V4}/hook") == [
        url_guard.literal_address(PUBLIC_V4)
    ]
    assert url_guard.check_url(f"https://[{PUBLIC_V6}]/hook")
    networks, invalid = url_guard.parse_networks("127.0.0.0/8, ::1  10.0.0.0/8,nonsense")
    assert invalid == ["nonsense"]
    assert url_guard.check_url("https://127.0.0.1:8069/hook", networks)
    assert url_guard.check_url("https://2130706433/hook", networks)
    assert url_guard.check_url("https://[::1]/hook", networks)
    assert url_guard.check_url("http://10.9.8.7/hook", networks, allow_http=True)
    with pytest.raises(url_guard.UrlRefused):  # allowing 10/8 does not allow 192.168/16
        url_guard.check_url("https://192.168.1.1/hook", networks)
    with pytest.raises(url_guard.UrlRefused):  # nor plain http by itself
        url_guard.check_url("http://10.9.8.7/hook", networks)


def test_every_resolved_address_is_checked(monkeypatch):
    def fake_getaddrinfo(host, port, *args, **kwargs):
        assert host == "hooks.example.net"
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_V4, port)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(url_guard.UrlRefused) as refused:
        url_guard.check_url("https://hooks.example.net/hook")
    assert (refused.value.reason, refused.value.address) == ("loopback", "::1")


class _Hello(BaseHTTPRequestHandler):
    def do_POST(self):
        self.server.hits.append(self.path)
        body = b"x" * 100_000
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path == "/drip":  # one byte every 0.1 s: never idle for a whole timeout
            try:
                for _byte in range(100):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.1)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client hung up at its deadline
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    server.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_session_checks_the_address_actually_connected(local_server):
    """DNS rebinding: a name checked as public then connecting to 127.0.0.1 is
    stopped on the connected socket, before the request is sent."""
    port = local_server.server_address[1]
    with url_guard.guarded_session() as session, pytest.raises(url_guard.UrlRefused) as refused:
        session.post(f"http://localhost:{port}/hook", data=b"{}", timeout=5)
    assert refused.value.reason == "loopback"
    assert local_server.hits == []
    networks, _invalid = url_guard.parse_networks("127.0.0.0/8")
    with url_guard.guarded_session(networks) as session:
        response = session.post(f"http://127.0.0.1:{port}/hook", data=b"{}", timeout=5, stream=True)
        data, truncated = url_guard.read_limited(response, 1024, float("inf"))
    assert local_server.hits == ["/hook"]
    assert (len(data), truncated) == (1024, True)


def test_deadline_bounds_a_server_answering_byte_by_byte(local_server):
    networks, _invalid = url_guard.parse_networks("127.0.0.0/8")
    start = time.monotonic()
    deadline = start + 1
    with url_guard.guarded_session(networks, deadline) as session:
        response = session.post(
            f"http://127.0.0.1:{local_server.server_address[1]}/drip", timeout=5, stream=True
        )
        data, truncated = url_guard.read_limited(response, 16 * 1024, deadline)
    elapsed = time.monotonic() - start
    assert truncated
    assert 0 < len(data) < 100
    assert elapsed < 2.5, f"took {elapsed:.1f}s for a 1s deadline (the server drips for 10s)"
