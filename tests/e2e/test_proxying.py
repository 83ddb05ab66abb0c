"""Forwarding requests and responses: framing, keep-alive, pipelining, chunked
bodies and trailers, 100-continue, upgrades, hop-by-hop and forwarding headers,
upstream errors, upstream connection reuse, large streamed bodies."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import threading
import time

import pytest

import httpraw
from cfg import cluster, config, listener
from echo_backend import pattern_bytes, pattern_sha256
from pier_proc import eventually

MiB = 1024 * 1024
UUIDISH = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@pytest.fixture(scope="module")
def env(mres):
    echo = mres.echo("echo")
    fragile = mres.echo("fragile")
    aborted = mres.echo("aborted")
    port = httpraw.free_port()
    fwd_port = httpraw.free_port()
    routes = [
        {"match": {"prefix": "/fragile/"}, "cluster": "fragile", "prefix_rewrite": "/"},
        {"match": {"prefix": "/aborted/"}, "cluster": "aborted", "prefix_rewrite": "/"},
        {"match": {"prefix": "/refused"}, "cluster": "refused"},
        {"match": {"prefix": "/tight/"}, "cluster": "tight", "prefix_rewrite": "/"},
        {"match": {"prefix": "/"}, "cluster": "app"},
    ]
    cfg = config(
        [
            listener("web", port, routes=routes),
            listener("fwd", fwd_port, routes=[{"match": {"prefix": "/"}, "cluster": "app"}],
                     forwarding={"x_forwarded_for": False, "x_forwarded_proto": False,
                                 "request_id_header": "x-trace-id", "via": True}),
        ],
        [
            cluster("app", [echo]),
            cluster("refused", [f"127.0.0.1:{httpraw.refused_port()}"], connect_timeout="1s"),
            cluster("tight", [echo], response_timeout="300ms"),
            cluster("fragile", [fragile]),
            cluster("aborted", [aborted]),
        ],
        drain_timeout="2s",  # bounds teardown if a test leaves a request stuck in pier
    )
    pier = mres.pier(cfg)
    return {"port": port, "fwd_port": fwd_port, "pier": pier, "echo": echo, "fragile": fragile,
            "aborted": aborted}


def headers_named(seen: dict, name: str) -> list[str]:
    return [v for n, v in seen["headers"] if n.lower() == name.lower()]


# ---- basics ---------------------------------------------------------------------------------

def test_curl_get_reaches_backend(env):
    r = subprocess.run(["curl", "-sS", "--noproxy", "*", "-m", "5", "-H", "X-Custom: hello",
                        f"http://127.0.0.1:{env['port']}/some/path?a=1&b=2"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    seen = json.loads(r.stdout)
    assert seen["method"] == "GET"
    assert seen["target"] == "/some/path?a=1&b=2"
    assert seen["version"] == "HTTP/1.1"
    assert headers_named(seen, "x-custom") == ["hello"]


def test_curl_post_body_reaches_backend(env):
    r = subprocess.run(["curl", "-sS", "--noproxy", "*", "-m", "5", "--data-binary", "payload=1&x=2",
                        f"http://127.0.0.1:{env['port']}/form"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    seen = json.loads(r.stdout)
    assert seen["method"] == "POST"
    assert seen["body"] == "payload=1&x=2"
    assert headers_named(seen, "content-length") == ["13"]


def test_end_to_end_headers_keep_order_and_duplicates(env):
    r = httpraw.request(env["port"], "GET", "/h", headers=[("X-First", "1"), ("X-Dup", "a"), ("X-Second", "2"),
                                                           ("X-Dup", "b")])
    seen = r.json()
    names = [n.lower() for n, _ in seen["headers"]]
    assert names.index("x-first") < names.index("x-second")
    assert headers_named(seen, "x-dup") in (["a", "b"], ["a, b"])


def test_response_status_and_headers_pass_through(env):
    r = httpraw.request(env["port"], "GET", "/status/201")
    assert r.status == 201
    assert r.header("x-backend") == "echo"
    assert r.header("content-type") == "application/json"


def test_204_has_no_body_and_connection_stays_in_sync(env):
    with httpraw.Conn(env["port"]) as c:
        r = c.request("GET", "/status/204")
        assert r.status == 204 and r.body == b""
        assert c.request("GET", "/after-204").json()["target"] == "/after-204"


def test_head_response_has_no_body(env):
    with httpraw.Conn(env["port"]) as c:
        r = c.request("HEAD", "/size/1000")
        assert r.status == 200
        assert r.header("content-length") == "1000"
        assert r.body == b""
        r2 = c.request("GET", "/after-head")  # would be garbage if a body had followed the HEAD response
        assert r2.status == 200 and r2.json()["target"] == "/after-head"


def test_content_length_request_body(env):
    body = os.urandom(5000)
    r = httpraw.request(env["port"], "PUT", "/cl", body=body)
    seen = r.json()
    assert seen["body_length"] == 5000
    assert seen["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert not seen["chunked"]


def test_content_length_response_body(env):
    r = httpraw.request(env["port"], "GET", "/size/300000")
    assert r.status == 200
    assert r.body == pattern_bytes(300000)


def test_upstream_response_delimited_by_close_is_delivered_whole(env):
    # Repeated because the end of such a body races the upstream's FIN.
    for i in range(10):
        with httpraw.Conn(env["port"]) as c:
            try:
                r = c.request("GET", f"/close?i={i}", timeout=3)
            except httpraw.HttpTimeout as e:
                raise AssertionError(f"attempt {i}: response never completed (body end not signalled): {e}")
            assert r.status == 200
            assert r.json()["target"] == f"/close?i={i}"


def test_http10_client_gets_response_then_close(env):
    with httpraw.Conn(env["port"]) as c:
        r = c.request("GET", "/ten", version="HTTP/1.0")
        assert r.status == 200
        assert r.json()["path"] == "/ten"
        assert c.closed_by_peer(2.0)


def test_connection_close_from_client_closes_after_response(env):
    with httpraw.Conn(env["port"]) as c:
        r = c.request("GET", "/bye", headers=[("Connection", "close")])
        assert r.status == 200
        assert c.closed_by_peer(2.0)


# ---- keep-alive and pipelining -------------------------------------------------------------

def test_keep_alive_serves_sequential_requests(env):
    with httpraw.Conn(env["port"]) as c:
        for i in range(5):
            r = c.request("GET", f"/ka/{i}")
            assert r.status == 200
            assert r.json()["target"] == f"/ka/{i}"


def test_pipelined_requests_answered_in_order(env):
    with httpraw.Conn(env["port"]) as c:
        c.send(b"".join([
            httpraw.build_request("GET", "/pipe/1"),
            httpraw.build_request("POST", "/pipe/2", body=b"two"),
            httpraw.build_request("GET", "/delay/150?n=3"),  # slow in the middle: order must still hold
            httpraw.build_request("HEAD", "/pipe/4"),
            httpraw.build_request("GET", "/pipe/5"),
        ]))
        got = [c.read_response().json()["target"] for _ in range(3)]
        head = c.read_response(method="HEAD")
        last = c.read_response().json()["target"]
        assert got == ["/pipe/1", "/pipe/2", "/delay/150?n=3"]
        assert head.status == 200 and head.body == b""
        assert last == "/pipe/5"


def test_request_sent_byte_by_byte(env):
    data = httpraw.build_request("POST", "/bytewise?x=1", headers=[("X-Slow", "drip")], body=b"body!")
    with httpraw.Conn(env["port"]) as c:
        for i in range(len(data)):
            c.send(data[i:i + 1])
        r = c.read_response()
    seen = r.json()
    assert seen["target"] == "/bytewise?x=1" and seen["body"] == "body!"
    assert headers_named(seen, "x-slow") == ["drip"]


def test_many_pipelined_requests(env):
    n = 60
    with httpraw.Conn(env["port"]) as c:
        c.send(b"".join(httpraw.build_request("POST", f"/many/{i}", body=f"b{i}") for i in range(n)))
        for i in range(n):
            seen = c.read_response().json()
            assert (seen["target"], seen["body"]) == (f"/many/{i}", f"b{i}")


def test_connection_close_mid_pipeline_stops_processing(env):
    echo = env["echo"]
    with httpraw.Conn(env["port"]) as c:
        c.send(httpraw.build_request("GET", "/cm/1")
               + httpraw.build_request("GET", "/cm/2", headers=[("Connection", "close")])
               + httpraw.build_request("GET", "/cm/3-never"))
        assert c.read_response().json()["target"] == "/cm/1"
        assert c.read_response().json()["target"] == "/cm/2"
        assert c.closed_by_peer(2.0)
    assert "/cm/3-never" not in echo.targets()


def test_target_forwarded_byte_for_byte(env):
    target = "/enc/a%20b/%2Fslash/caf%C3%A9?q=%26x%3D1&e=&dup=1&dup=2"
    assert httpraw.request(env["port"], "GET", target).json()["target"] == target


def test_large_response_header_passes(env):
    big = "v" * 30000
    r = httpraw.request(env["port"], "GET", f"/headers?X-Big={big}")
    assert r.status == 200
    assert r.header("x-big") == big


def test_request_body_to_failed_upstream_does_not_desync(env):
    """The unread body of a request answered with an error must never be parsed as a request."""
    smuggled = httpraw.build_request("GET", "/desync/smuggled")
    with httpraw.Conn(env["port"]) as c:
        r = c.request("POST", "/refused", body=smuggled)
        assert r.status == 503
        try:
            r2 = c.request("GET", "/desync/next", timeout=3)
        except ConnectionError:
            r2 = None  # closing the connection is a fine answer too
        if r2 is not None:
            assert r2.json()["target"] == "/desync/next"
    assert "/desync/smuggled" not in env["echo"].targets()


# ---- chunked bodies and trailers ----------------------------------------------------------------

def test_chunked_request_body_forwarded(env):
    pieces = [b"hello ", b"chunked ", b"world" * 1000]
    r = httpraw.request(env["port"], "POST", "/chunked-up", headers=[("Transfer-Encoding", "chunked")],
                        body=httpraw.chunked_body(pieces))
    seen = r.json()
    assert seen["body_length"] == sum(map(len, pieces))
    assert seen["body"] == b"".join(pieces).decode()


def test_chunked_request_with_extensions_forwarded(env):
    r = httpraw.request(env["port"], "POST", "/ext", headers=[("Transfer-Encoding", "chunked")],
                        body=httpraw.chunked_body([b"abc", b"def"], ext=";name=value"))
    assert r.json()["body"] == "abcdef"


def test_request_trailers_forwarded(env):
    r = httpraw.request(env["port"], "POST", "/trailers", headers=[("Transfer-Encoding", "chunked")],
                        body=httpraw.chunked_body([b"data"], trailers=[("X-Digest", "abc123"), ("X-Count", "1")]))
    seen = r.json()
    assert seen["chunked"], "a chunked request with trailers must stay chunked upstream to keep its trailers"
    assert seen["body"] == "data"
    assert [[n.lower(), v] for n, v in seen["trailers"]] == [["x-digest", "abc123"], ["x-count", "1"]]


def test_chunked_response_and_trailers_passed_to_client(env):
    with httpraw.Conn(env["port"]) as c:
        r = c.request("GET", "/chunked", headers=[("TE", "trailers")])
        assert r.status == 200
        assert r.chunked
        seen = json.loads(r.body)
        assert seen["path"] == "/chunked"
        assert r.trailer("x-checksum") == hashlib.sha256(r.body).hexdigest()
        assert r.trailer("x-trailer-test") == "yes"
        assert c.request("GET", "/after-chunked").json()["target"] == "/after-chunked"


def test_chunked_response_large(env):
    r = httpraw.request(env["port"], "GET", "/size/1000000?chunked=1", timeout=10)
    assert r.status == 200
    assert hashlib.sha256(r.body).hexdigest() == pattern_sha256(1000000)


# ---- 100-continue ----------------------------------------------------------------------------

def test_expect_100_continue(env):
    with httpraw.Conn(env["port"]) as c:
        c.send(httpraw.build_request("POST", "/expect", headers=[("Expect", "100-continue"),
                                                                  ("Content-Length", "11")]))
        interim = c.read_response(stop_at_interim=True, timeout=5)
        assert interim.status == 100
        c.send(b"hello world")
        r = c.read_response()
        assert r.status == 200
        assert r.json()["body"] == "hello world"
        assert c.request("GET", "/after-continue").status == 200


def test_expect_100_continue_with_curl(env):
    data = "x" * 2048
    r = subprocess.run(["curl", "-sS", "--noproxy", "*", "-m", "5", "-H", "Expect: 100-continue",
                        "--expect100-timeout", "4", "--data-binary", data, "-w", "\n%{time_total}",
                        f"http://127.0.0.1:{env['port']}/expect-curl"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    out, _, total = r.stdout.rpartition("\n")
    assert json.loads(out)["body"] == data
    assert float(total) < 3.0, "curl waited for its expect timeout: no 100 Continue was sent"


# ---- upgrade ----------------------------------------------------------------------------------

def test_websocket_upgrade_passes_raw_bytes_both_ways(env):
    with httpraw.Conn(env["port"]) as c:
        r = c.request("GET", "/upgrade", headers=[("Connection", "Upgrade"), ("Upgrade", "websocket"),
                                                  ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                                                  ("Sec-WebSocket-Version", "13")])
        assert r.status == 101
        assert r.header("upgrade") == "websocket"
        assert "upgrade" in (r.header("connection") or "").lower()
        for payload in (b"\x81\x05hello", b"\x00\xff binary \r\n\r\n GET / HTTP/1.1\r\n\r\n", b"z" * 70000):
            c.send(payload)
            assert c.recv_exact(len(payload)) == payload


def test_idle_upgraded_connection_closed_after_idle_timeout(res):
    # An upgraded (tunnelled) connection must not live forever once idle; activity keeps it open.
    echo = res.echo("ws")
    port = httpraw.free_port()
    res.pier(config([listener("ws", port, routes=[{"match": {"prefix": "/"}, "cluster": "ws"}],
                              limits={"idle_timeout": "400ms"})],
                    [cluster("ws", [echo])]))
    with httpraw.Conn(port) as c:
        r = c.request("GET", "/upgrade", headers=[("Connection", "Upgrade"), ("Upgrade", "websocket")])
        assert r.status == 101
        for _ in range(4):  # active for ~0.8 s, twice the idle timeout
            time.sleep(0.2)  # the traffic pattern under test, not synchronisation
            c.send(b"ping")
            assert c.recv_exact(4) == b"ping"
        start = time.monotonic()
        assert c.closed_by_peer(5.0), "idle tunnel never closed"
        assert time.monotonic() - start >= 0.3, "closed before idle_timeout"


# ---- hop-by-hop and forwarding headers ------------------------------------------------------

def test_hop_by_hop_request_headers_removed(env):
    r = httpraw.request(env["port"], "GET", "/hop", headers=[
        ("Connection", "keep-alive, X-Conn-Named"), ("X-Conn-Named", "secret"), ("Keep-Alive", "timeout=5"),
        ("Proxy-Connection", "keep-alive"), ("TE", "trailers"), ("Trailer", "X-Foo"), ("Upgrade", "h2c"),
        ("X-End-To-End", "kept")])
    seen = r.json()
    for name in ("x-conn-named", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"):
        assert headers_named(seen, name) == [], f"{name} forwarded: {seen['headers']}"
    for v in headers_named(seen, "connection"):
        assert "x-conn-named" not in v.lower()
    assert headers_named(seen, "x-end-to-end") == ["kept"]


def test_hop_by_hop_response_headers_removed(env):
    r = httpraw.request(env["port"], "GET",
                        "/headers?Connection=X-Resp-Named&X-Resp-Named=1&Keep-Alive=timeout%3D9"
                        "&Proxy-Connection=keep-alive&Upgrade=foo&X-Kept=yes")
    assert r.status == 200
    assert r.header("x-resp-named") is None
    assert r.header("proxy-connection") is None
    assert r.header("upgrade") is None
    assert "timeout=9" not in (r.header("keep-alive") or "")
    assert "x-resp-named" not in (r.header("connection") or "").lower()
    assert r.header("x-kept") == "yes"


def test_x_forwarded_for_added(env):
    seen = httpraw.request(env["port"], "GET", "/xff").json()
    assert headers_named(seen, "x-forwarded-for") == ["127.0.0.1"]


def test_x_forwarded_for_appended(env):
    seen = httpraw.request(env["port"], "GET", "/xff", headers=[("X-Forwarded-For", "203.0.113.7")]).json()
    xff = ", ".join(headers_named(seen, "x-forwarded-for"))
    assert re.fullmatch(r"203\.0\.113\.7,\s*127\.0\.0\.1", xff), xff


def test_x_forwarded_proto_is_http(env):
    seen = httpraw.request(env["port"], "GET", "/xfp", headers=[("X-Forwarded-Proto", "https")]).json()
    assert headers_named(seen, "x-forwarded-proto") == ["http"]


def test_request_id_added_when_absent(env):
    a = headers_named(httpraw.request(env["port"], "GET", "/rid").json(), "x-request-id")
    b = headers_named(httpraw.request(env["port"], "GET", "/rid").json(), "x-request-id")
    assert len(a) == 1 and UUIDISH.match(a[0]), a
    assert len(b) == 1 and b != a


def test_request_id_preserved_when_present(env):
    seen = httpraw.request(env["port"], "GET", "/rid", headers=[("X-Request-Id", "my-id-42")]).json()
    assert headers_named(seen, "x-request-id") == ["my-id-42"]


def test_forwarding_options_per_listener(env):
    seen = httpraw.request(env["fwd_port"], "GET", "/fwd", headers=[("X-Forwarded-For", "198.51.100.1")]).json()
    assert headers_named(seen, "x-forwarded-for") == ["198.51.100.1"]  # passed through, not appended
    assert headers_named(seen, "x-forwarded-proto") == []
    assert headers_named(seen, "x-request-id") == []
    trace = headers_named(seen, "x-trace-id")
    assert len(trace) == 1 and UUIDISH.match(trace[0])
    via = headers_named(seen, "via")
    assert len(via) == 1 and via[0].startswith("1.1 "), via


# ---- upstream failures ----------------------------------------------------------------------

def test_refused_upstream_is_503(env):
    r = httpraw.request(env["port"], "GET", "/refused")
    assert r.status == 503


def test_upstream_response_timeout_is_504(env):
    start = time.monotonic()
    r = httpraw.request(env["port"], "GET", "/tight/delay/3000")
    assert r.status == 504
    assert time.monotonic() - start < 2.0


def test_response_timeout_covers_headers_only(env):
    r = httpraw.request(env["port"], "GET", "/tight/slowbody/600")
    assert r.status == 200
    assert r.json()["path"] == "/slowbody/600"


def test_malformed_upstream_response_is_502(env):
    r = httpraw.request(env["port"], "GET", "/bad")
    assert r.status == 502


def test_upstream_closing_before_headers_is_502(env):
    r = httpraw.request(env["port"], "GET", "/hangup")
    assert r.status == 502


def test_client_connection_usable_after_upstream_error(env):
    with httpraw.Conn(env["port"]) as c:
        assert c.request("GET", "/hangup").status == 502
        assert c.request("GET", "/after-error").json()["target"] == "/after-error"


def test_client_abort_mid_request_leaves_pier_healthy(env):
    pier, backend = env["pier"], env["aborted"]
    c = httpraw.Conn(env["port"])
    c.send(httpraw.build_request("GET", "/aborted/delay/400"))
    assert backend.wait_for(lambda b: b.request_count() > 0, 5)
    c.close()  # client gives up while the upstream is still working
    assert pier.alive()
    eventually(lambda: pier.metrics().value("pier_endpoint_active_requests", cluster="aborted",
                                            endpoint=backend.address) == 0, 5,
               message="aborted request no longer active")
    assert httpraw.request(env["port"], "GET", "/aborted/again").json()["target"] == "/again"


def test_pooled_connection_closed_by_upstream_is_not_reused(env):
    """An origin closing an idle keep-alive connection must not turn the next request into a 502."""
    fragile = env["fragile"]
    for round_ in range(3):
        with httpraw.Conn(env["port"]) as c:
            assert c.request("GET", f"/fragile/warm/{round_}").status == 200
        fragile.drop_connections()
        assert fragile.wait_for(lambda b: b.open_connections() == 0, 5)
        r = httpraw.request(env["port"], "GET", f"/fragile/after-drop/{round_}")
        assert r.status == 200, f"round {round_}: {r.status} after the origin closed its idle connection"


# ---- upstream connection reuse --------------------------------------------------------------

def test_upstream_connection_reused_on_one_client_connection(env):
    with httpraw.Conn(env["port"]) as c:
        ids = [c.request("GET", f"/reuse/{i}").json()["connection_id"] for i in range(6)]
    assert len(set(ids)) == 1, ids


def test_upstream_connections_pooled_across_client_connections(env):
    ids = [httpraw.request(env["port"], "GET", f"/pool/{i}").json()["connection_id"] for i in range(8)]
    workers = 2
    assert len(set(ids)) <= workers, f"each sequential request opened a new upstream connection: {ids}"


# ---- large bodies ------------------------------------------------------------------------------

def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.slow
def test_large_upload_20mib(env):
    size = 20 * MiB
    body = pattern_bytes(size)
    r = httpraw.request(env["port"], "POST", "/upload", body=body, timeout=30)
    assert r.status == 200
    seen = r.json()
    assert seen["body_length"] == size
    assert seen["body_sha256"] == pattern_sha256(size)


@pytest.mark.slow
def test_large_chunked_upload(env):
    size = 6 * MiB
    data = pattern_bytes(size)
    body = httpraw.chunked_body([data[i:i + 100000] for i in range(0, size, 100000)])
    r = httpraw.request(env["port"], "POST", "/upload-chunked", headers=[("Transfer-Encoding", "chunked")],
                        body=body, timeout=30)
    seen = r.json()
    assert seen["body_length"] == size and seen["body_sha256"] == pattern_sha256(size)


@pytest.mark.slow
def test_large_download_slow_reader_backpressure(res):
    """A client that stops reading must not make pier buffer the whole response.

    Runs its own pier so that memory freed by earlier large transfers cannot hide growth."""
    echo = res.echo("bp")
    port = httpraw.free_port()
    pier = res.pier(config([listener("bp", port, routes=[{"match": {"prefix": "/"}, "cluster": "bp"}])],
                           [cluster("bp", [echo])]))
    assert httpraw.request(port, "GET", "/warmup").status == 200
    size = 20 * MiB
    pid = pier.pid
    before = _rss_kib(pid)
    with httpraw.Conn(port, rcvbuf=64 * 1024, timeout=30) as c:
        c.send(httpraw.build_request("GET", f"/size/{size}"))
        head = c.read_head()
        assert head.status == 200 and head.header("content-length") == str(size)
        # Stall for a second while the backend keeps writing, watching pier's memory.
        peak = before
        stall_end = time.monotonic() + 1.0
        while time.monotonic() < stall_end:
            peak = max(peak, _rss_kib(pid))
            time.sleep(0.05)  # sampling interval
        h = hashlib.sha256()
        got = len(c.buf)
        h.update(bytes(c.buf))
        c.buf.clear()
        while got < size:
            chunk = c.sock.recv(64 * 1024)
            assert chunk, f"connection closed after {got} of {size} bytes"
            h.update(chunk)
            got += len(chunk)
            if got % (4 * MiB) < 64 * 1024:
                peak = max(peak, _rss_kib(pid))
    assert got == size
    assert h.hexdigest() == pattern_sha256(size)
    growth_mib = (peak - before) / 1024
    assert growth_mib < 8, f"pier RSS grew by {growth_mib:.1f} MiB while the client was not reading"


@pytest.mark.slow
def test_many_concurrent_clients(env):
    errors = []

    def worker(k):
        try:
            with httpraw.Conn(env["port"]) as c:
                for i in range(20):
                    r = c.request("POST", f"/conc/{k}/{i}", body=f"{k}-{i}")
                    if r.status != 200 or r.json()["body"] != f"{k}-{i}":
                        errors.append((k, i, r.status))
        except Exception as e:  # reported below
            errors.append((k, repr(e)))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors[:5]


# ---- nginx as the origin -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def nginx_env(mres):
    ng = mres.nginx()
    ng.put("small.txt", b"small static file\n")
    big = pattern_bytes(20 * MiB)
    ng.put("big.bin", big)
    port = httpraw.free_port()
    cfg = config([listener("ng", port, routes=[{"match": {"prefix": "/"}, "cluster": "nginx"}])],
                 [cluster("nginx", [ng])])
    pier = mres.pier(cfg)
    return {"port": port, "pier": pier, "nginx": ng}


@pytest.mark.nginx
def test_nginx_static_file(nginx_env):
    r = httpraw.request(nginx_env["port"], "GET", "/small.txt")
    assert r.status == 200
    assert r.body == b"small static file\n"


@pytest.mark.nginx
def test_nginx_keep_alive_and_head(nginx_env):
    with httpraw.Conn(nginx_env["port"]) as c:
        for _ in range(3):
            r = c.request("GET", "/hello")
            assert r.status == 200 and r.body == b"hello from nginx\n"
        r = c.request("HEAD", "/big.bin")
        assert r.status == 200 and r.header("content-length") == str(20 * MiB) and r.body == b""
        assert c.request("GET", "/missing").status == 404


@pytest.mark.nginx
@pytest.mark.slow
def test_nginx_20mib_download_with_curl(nginx_env, tmp_path):
    out = tmp_path / "big.bin"
    r = subprocess.run(["curl", "-sS", "--noproxy", "*", "-m", "30", "--limit-rate", "40M", "-o", str(out),
                        "-w", "%{http_code}", f"http://127.0.0.1:{nginx_env['port']}/big.bin"],
                       capture_output=True, text=True, timeout=40)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "200"
    h = hashlib.sha256()
    with open(out, "rb") as f:
        for block in iter(lambda: f.read(MiB), b""):
            h.update(block)
    assert h.hexdigest() == pattern_sha256(20 * MiB)
