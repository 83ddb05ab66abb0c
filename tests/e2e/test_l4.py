"""L4 forwarding: tcp and udp listeners, half-close, idle timeouts, endpoint
failover and health, and the PROXY protocol (sent to upstreams by tcp and http
listeners, accepted from clients by http and tcp listeners).

Upstreams are the raw peers of l4_peers.py (threads in this process).
"""

from __future__ import annotations

import hashlib
import os
import socket
import struct
import threading
import time

import pytest

import httpraw
from cfg import cluster, config, listener
from l4_peers import TcpPeer, UdpEcho, recv_exact, recv_to_eof, tcp_connect
from pier_proc import eventually

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
LOCALHOST = socket.inet_aton("127.0.0.1")


def l4_listener(name: str, port: int, cluster_name: str, protocol: str = "tcp", **extra) -> dict:
    d = {"name": name, "address": f"127.0.0.1:{port}", "protocol": protocol, "cluster": cluster_name}
    d.update(extra)
    return d


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peer(res, *args, **kw) -> TcpPeer:
    p = TcpPeer(*args, **kw).start()
    res.add_cleanup(p.stop)
    return p


def endpoints(pier, cluster_name: str) -> dict:
    for c in pier.admin_json("/clusters")["clusters"]:
        if c["name"] == cluster_name:
            return {e["address"]: e for e in c["endpoints"]}
    raise AssertionError(f"cluster {cluster_name} not in /clusters")


def proxy_v1(src_port: int, dst_port: int, src: str = "127.0.0.1", dst: str = "127.0.0.1") -> bytes:
    return f"PROXY TCP4 {src} {dst} {src_port} {dst_port}\r\n".encode()


def proxy_v2(src_port: int, dst_port: int, src: str = "127.0.0.1", dst: str = "127.0.0.1") -> bytes:
    return (V2_SIG + bytes([0x21, 0x11]) + struct.pack("!H", 12) + socket.inet_aton(src) + socket.inet_aton(dst)
            + struct.pack("!HH", src_port, dst_port))


# ---- tcp listeners ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tcp(mres):
    p = {
        "echo": peer(mres, "echo"),
        "eof": peer(mres, "eof", mode="reply_at_eof"),
        "greet": peer(mres, "greet", mode="greet_shut"),
        "fo": peer(mres, "fo"),
        "h1": peer(mres, "h1"),
        "h2": peer(mres, "h2"),
        "v1": peer(mres, "v1"),
        "v2": peer(mres, "v2"),
        "acc": peer(mres, "acc"),
    }
    p["h2"].pong = b"DOWN"  # fails its health checks from the start
    dead = f"127.0.0.1:{httpraw.refused_port()}"
    ports = {name: httpraw.free_port() for name in ("echo", "eof", "greet", "idle", "fo", "hc", "v1", "v2", "acc")}
    hc = {"type": "tcp", "interval": "100ms", "timeout": "100ms", "jitter": "0ms", "healthy_threshold": 1,
          "unhealthy_threshold": 1, "send": "PING", "expect": "PONG"}
    clusters = [
        cluster("echo", [p["echo"]]),
        cluster("eof", [p["eof"]]),
        cluster("greet", [p["greet"]]),
        cluster("fo", [dead, p["fo"].address], connect_timeout="1s"),
        cluster("hc", [p["h1"], p["h2"]], health_check=hc, panic_threshold_percent=0),
        cluster("v1", [p["v1"]], send_proxy_protocol="v1"),
        cluster("v2", [p["v2"]], send_proxy_protocol="v2"),
        cluster("acc", [p["acc"]], send_proxy_protocol="v1"),
    ]
    listeners = [
        l4_listener("echo", ports["echo"], "echo"),
        l4_listener("eof", ports["eof"], "eof"),
        l4_listener("greet", ports["greet"], "greet"),
        l4_listener("idle", ports["idle"], "echo", tcp_idle_timeout="400ms"),
        l4_listener("fo", ports["fo"], "fo"),
        l4_listener("hc", ports["hc"], "hc"),
        l4_listener("v1", ports["v1"], "v1"),
        l4_listener("v2", ports["v2"], "v2"),
        l4_listener("acc", ports["acc"], "acc", accept_proxy_protocol=True),
    ]
    pier = mres.pier(config(listeners, clusters, workers=2))
    return {"pier": pier, "ports": ports, "peers": p}


def session_with(p: TcpPeer, prefix: bytes, timeout: float = 5.0):
    """The upstream session whose received bytes start with `prefix`."""
    def find():
        return next((c for c in p.sessions() if bytes(c.received).startswith(prefix)), None)
    try:
        return eventually(find, timeout)
    except AssertionError:
        seen = [bytes(c.received[:80]) for c in p.sessions()[-3:]]
        raise AssertionError(f"no upstream session starting with {prefix!r}; newest sessions got {seen}") from None


def _roundtrip(port: int, payload: bytes, timeout: float = 20.0) -> tuple[bytes, str]:
    """Sends payload from a thread (so neither side blocks on full buffers),
    half-closes, and reads everything back until EOF."""
    s = tcp_connect(port)
    err = []

    def send():
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=send, daemon=True)
    t.start()
    try:
        data, how = recv_to_eof(s, timeout=timeout, limit=len(payload) + 1024)
    finally:
        t.join(timeout=timeout)
        s.close()
    assert not err, err
    return data, how


def test_tcp_echo_1k(tcp):
    payload = os.urandom(1024)
    with tcp_connect(tcp["ports"]["echo"]) as s:
        s.sendall(payload)
        assert recv_exact(s, len(payload)) == payload


def test_tcp_echo_5mib_sha256(tcp):
    payload = os.urandom(5 * 1024 * 1024)
    data, how = _roundtrip(tcp["ports"]["echo"], payload)
    assert how == "eof", f"ended by {how} after {len(data)} bytes"
    assert len(data) == len(payload)
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(payload).hexdigest()


def test_client_half_close_still_gets_the_whole_response(tcp):
    payload = os.urandom(100 * 1024)
    data, how = _roundtrip(tcp["ports"]["eof"], payload)
    # The upstream answers only after it saw EOF: the half-close was relayed
    # and the other direction stayed open for the answer.
    assert data == f"{len(payload)} {hashlib.sha256(payload).hexdigest()}\n".encode()
    assert how == "eof"


def test_server_half_close_keeps_client_to_server_direction(tcp):
    g = tcp["peers"]["greet"]
    with tcp_connect(tcp["ports"]["greet"]) as s:
        data, how = recv_to_eof(s, timeout=5)
        assert (data, how) == (g.greeting, "eof"), "the server's half-close did not arrive as EOF"
        s.sendall(b"after-server-eof")
        s.shutdown(socket.SHUT_WR)
        sess = session_with(g, b"after-server-eof")
        assert g.wait_for(lambda _: sess.eof, 5), "the client's half-close was not relayed"
        assert bytes(sess.received) == b"after-server-eof"
        rest, how = recv_to_eof(s, timeout=5)
        assert rest == b"" and how in ("eof", "reset")


def test_idle_timeout_closes_idle_session_but_not_an_active_one(tcp):
    e = tcp["peers"]["echo"]
    with tcp_connect(tcp["ports"]["idle"]) as s:
        s.sendall(b"idle-1")
        assert recv_exact(s, 6) == b"idle-1"
        sess = session_with(e, b"idle-1")
        # Busy for 1 s (> 400 ms idle timeout) with a byte every 150 ms: stays open.
        for i in range(7):
            time.sleep(0.15)  # pacing the traffic, not synchronisation
            s.sendall(b"k")
            assert recv_exact(s, 1, timeout=2) == b"k", f"closed while active (round {i})"
        start = time.monotonic()
        data, how = recv_to_eof(s, timeout=5)
        elapsed = time.monotonic() - start
    assert how in ("eof", "reset"), f"idle session not closed ({how})"
    assert data == b""
    assert 0.3 <= elapsed <= 3.0, f"closed after {elapsed:.2f}s idle (timeout 400ms)"
    assert e.wait_for(lambda _: sess.eof, 3), "the upstream side of the idle session was not closed"


def test_connect_failure_fails_over_to_the_next_endpoint(tcp):
    fo = tcp["peers"]["fo"]
    before = len(fo.sessions())
    for i in range(4):
        msg = f"failover-{i}".encode()
        with tcp_connect(tcp["ports"]["fo"]) as s:
            s.sendall(msg)
            assert recv_exact(s, len(msg)) == msg
    assert len(fo.sessions()) - before == 4


def test_unhealthy_endpoint_gets_no_new_sessions(tcp):
    pier, h1, h2 = tcp["pier"], tcp["peers"]["h1"], tcp["peers"]["h2"]
    assert h2.wait_for(lambda p: p.probes() >= 1, 3), "no health probes reached the endpoint"
    eventually(lambda: endpoints(pier, "hc")[h2.address]["healthy"] is False, 3,
               message="h2 (wrong PONG) marked unhealthy")
    b1, b2 = len(h1.sessions()), len(h2.sessions())
    for i in range(6):
        msg = f"hc-{i}".encode()
        with tcp_connect(tcp["ports"]["hc"]) as s:
            s.sendall(msg)
            assert recv_exact(s, len(msg)) == msg
    assert len(h2.sessions()) - b2 == 0, "unhealthy endpoint got sessions"
    assert len(h1.sessions()) - b1 == 6


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_tcp_listener_sends_proxy_header_byte_exact(tcp, version):
    up = tcp["peers"][version]
    lport = tcp["ports"][version]
    payload = f"payload-{version}".encode()
    with tcp_connect(lport) as s:
        cport = s.getsockname()[1]
        header = proxy_v1(cport, lport) if version == "v1" else proxy_v2(cport, lport)
        s.sendall(payload)
        sess = session_with(up, header)
        assert up.wait_for(lambda _: len(sess.received) >= len(header) + len(payload), 5), bytes(sess.received)
        assert bytes(sess.received) == header + payload
        # The echo comes back whole: the header went upstream only.
        assert recv_exact(s, len(header) + len(payload)) == header + payload


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_tcp_listener_accepts_proxy_header_and_passes_the_client_on(tcp, version):
    """accept_proxy_protocol on a tcp listener whose cluster sends v1: the
    upstream's header names the client from the incoming header."""
    up = tcp["peers"]["acc"]
    lport = tcp["ports"]["acc"]
    src_port = 40000 + (1 if version == "v1" else 2)
    incoming = (proxy_v1 if version == "v1" else proxy_v2)(src_port, lport, src="203.0.113.7")
    payload = f"accepted-{version}".encode()
    with tcp_connect(lport) as s:
        s.sendall(incoming + payload)
        want = proxy_v1(src_port, lport, src="203.0.113.7") + payload
        sess = session_with(up, want[: len(want) - len(payload)])
        assert up.wait_for(lambda _: len(sess.received) >= len(want), 5), bytes(sess.received)
        assert bytes(sess.received) == want


def test_tcp_listener_without_proxy_header_is_closed(tcp):
    up = tcp["peers"]["acc"]
    before = len(up.sessions())
    with tcp_connect(tcp["ports"]["acc"]) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data, how = recv_to_eof(s, timeout=5)
    assert how in ("eof", "reset") and data == b""
    assert len(up.sessions()) == before


# ---- PROXY protocol on http listeners -----------------------------------------------------------

@pytest.fixture(scope="module")
def http_pp(mres):
    hv1 = peer(mres, "hv1", mode="http")
    hv2 = peer(mres, "hv2", mode="http")
    echo = mres.echo("web")
    ports = {n: httpraw.free_port() for n in ("hv1", "hv2", "acc")}
    clusters = [
        cluster("hv1", [hv1], send_proxy_protocol="v1"),
        cluster("hv2", [hv2], send_proxy_protocol="v2"),
        cluster("web", [echo]),
    ]
    listeners = [
        listener("hv1", ports["hv1"], routes=[{"match": {"prefix": "/"}, "cluster": "hv1"}]),
        listener("hv2", ports["hv2"], routes=[{"match": {"prefix": "/"}, "cluster": "hv2"}]),
        listener("acc", ports["acc"], routes=[{"match": {"prefix": "/"}, "cluster": "web"}],
                 accept_proxy_protocol=True),
    ]
    pier = mres.pier(config(listeners, clusters, workers=1))
    return {"pier": pier, "ports": ports, "hv1": hv1, "hv2": hv2, "echo": echo}


@pytest.mark.parametrize("version", ["hv1", "hv2"])
def test_http_listener_sends_proxy_header_byte_exact(http_pp, version):
    up = http_pp[version]
    lport = http_pp["ports"][version]
    with httpraw.Conn(lport) as c:
        cport = c.sock.getsockname()[1]
        r = c.request("GET", f"/pp-{version}")
    assert r.status == 200 and r.body == b"ok", r
    header = proxy_v1(cport, lport) if version == "hv1" else proxy_v2(cport, lport)
    sess = session_with(up, header)
    request_line = f"GET /pp-{version} HTTP/1.1\r\n".encode()
    assert bytes(sess.received).startswith(header + request_line), bytes(sess.received[:120])


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_http_listener_accepts_proxy_header_for_x_forwarded_for(http_pp, version):
    lport = http_pp["ports"]["acc"]
    client = "203.0.113.7" if version == "v1" else "198.51.100.9"
    header = (proxy_v1 if version == "v1" else proxy_v2)(51234, lport, src=client)
    r, c = httpraw.send_raw(lport, header + httpraw.build_request("GET", f"/who-{version}"))
    c.close()
    assert r.status == 200, r
    seen = r.json()
    xff = [v for n, v in seen["headers"] if n.lower() == "x-forwarded-for"]
    assert xff == [client], seen["headers"]


def test_http_listener_without_proxy_header_is_closed(http_pp):
    with httpraw.Conn(http_pp["ports"]["acc"]) as c:
        c.send(httpraw.build_request("GET", "/no-proxy-header"))
        data = c.read_until_close(timeout=5)
        assert c.eof, "connection without a PROXY header left open"
    assert not data.startswith(b"HTTP/1.1 200"), data[:200]
    assert "/no-proxy-header" not in http_pp["echo"].targets()


# ---- udp listeners ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def udp(mres):
    u = UdpEcho("u").start()
    mres.add_cleanup(u.stop)
    port = free_udp_port()
    pier = mres.pier(config([l4_listener("udp", port, "u", protocol="udp", tcp_idle_timeout="300ms")],
                            [cluster("u", [u.address])], workers=1))
    return {"pier": pier, "port": port, "u": u}


def _udp_client() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s


def _udp_exchange(s: socket.socket, port: int, msg: bytes, timeout: float = 2.0) -> bytes:
    s.sendto(msg, ("127.0.0.1", port))
    s.settimeout(timeout)
    try:
        data, src = s.recvfrom(65535)
    except socket.timeout:
        raise AssertionError(f"no reply to {msg!r} within {timeout}s") from None
    assert src == ("127.0.0.1", port), f"reply came from {src}, not the listener"
    return data


def test_udp_two_clients_each_get_their_own_replies(udp):
    errors = []

    def run(cid: int):
        s = _udp_client()
        try:
            for i in range(20):
                msg = f"client{cid}-{i}".encode()
                got = _udp_exchange(s, udp["port"], msg)
                if got != msg:
                    errors.append((cid, msg, got))
        except AssertionError as e:
            errors.append((cid, str(e)))
        finally:
            s.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors[:5]


def test_udp_session_expires_after_idle_timeout(udp):
    u = udp["u"]
    s = _udp_client()
    try:
        assert _udp_exchange(s, udp["port"], b"first") == b"first"
        assert _udp_exchange(s, udp["port"], b"second") == b"second"
        with u._cond:
            srcs = {src for src, d in u.datagrams if d in (b"first", b"second")}
        assert len(srcs) == 1, f"one client used two upstream sessions: {srcs}"
        time.sleep(1.0)  # idle well past tcp_idle_timeout (300ms): the behaviour under test
        assert _udp_exchange(s, udp["port"], b"third") == b"third"
        with u._cond:
            third = [src for src, d in u.datagrams if d == b"third"]
        assert third and third[0] not in srcs, "the idle session was not replaced by a new one"
    finally:
        s.close()
