"""Listener limits: header size and count (431), body size (413), chunk
extensions (400), slow request heads (408), idle keep-alive connections and
requests per connection."""

from __future__ import annotations

import time

import pytest

import httpraw
from cfg import cluster, config, listener


@pytest.fixture(scope="module")
def env(mres):
    echo = mres.echo("echo")
    lim_port = httpraw.free_port()
    maxreq_port = httpraw.free_port()
    default_port = httpraw.free_port()
    slow_port = httpraw.free_port()
    routes = [{"match": {"prefix": "/"}, "cluster": "app"}]
    cfg = config(
        [
            listener("lim", lim_port, routes=routes, limits={
                "max_request_headers_bytes": 2048,
                "max_headers": 20,
                "max_request_body_bytes": 1000,
                "max_chunk_extension_bytes": 16,
                "request_headers_timeout": "400ms",
                "idle_timeout": "500ms",
            }),
            listener("maxreq", maxreq_port, routes=routes, limits={"max_requests_per_connection": 2}),
            listener("slowloris", slow_port, routes=routes, limits={
                "request_headers_timeout": "300ms",
                "idle_timeout": "30s",
            }),
            listener("defaults", default_port, routes=routes),
        ],
        [cluster("app", [echo])],
    )
    pier = mres.pier(cfg)
    return {"lim": lim_port, "maxreq": maxreq_port, "defaults": default_port, "slow": slow_port, "pier": pier,
            "echo": echo}


def _rejected(env, port, data: bytes, want: int, timeout: float = 5.0) -> None:
    before = env["echo"].request_count()
    r, c = httpraw.send_raw(port, data, timeout=timeout)
    try:
        assert r.status == want, r
    finally:
        c.close()
    assert env["echo"].request_count() == before, "rejected request reached the backend"


# ---- header block ----------------------------------------------------------------------

def test_header_block_within_limit_is_accepted(env):
    r = httpraw.request(env["lim"], "GET", "/ok", headers=[("X-Pad", "a" * 1500)])
    assert r.status == 200


def test_header_block_over_limit_is_431(env):
    _rejected(env, env["lim"], httpraw.build_request("GET", "/big", headers=[("X-Pad", "a" * 3000)]), 431)


def test_header_block_over_default_64k_is_431(env):
    pad = [(f"X-Pad-{i}", "b" * 8000) for i in range(9)]
    _rejected(env, env["defaults"], httpraw.build_request("GET", "/big", headers=pad), 431)


def test_header_count_within_limit_is_accepted(env):
    hdrs = [(f"X-H{i}", str(i)) for i in range(15)]
    assert httpraw.request(env["lim"], "GET", "/ok", headers=hdrs).status == 200


def test_header_count_over_limit_is_431(env):
    hdrs = [(f"X-H{i}", str(i)) for i in range(25)]
    _rejected(env, env["lim"], httpraw.build_request("GET", "/many", headers=hdrs), 431)


# ---- body size ----------------------------------------------------------------------------

def test_body_at_limit_is_accepted(env):
    r = httpraw.request(env["lim"], "POST", "/body", body=b"x" * 1000)
    assert r.status == 200
    assert r.json()["body_length"] == 1000


def test_content_length_over_limit_is_413_without_contacting_upstream(env):
    before_conns = env["echo"].connections_accepted
    # Only the head is sent: pier must answer from Content-Length alone.
    _rejected(env, env["lim"], httpraw.build_request("POST", "/body", headers=[("Content-Length", "2000")]), 413)
    assert env["echo"].connections_accepted == before_conns


def test_body_sent_after_413_is_never_executed(env):
    smuggled = httpraw.build_request("GET", "/after-413-smuggled")
    pad = smuggled + b"x" * (2000 - len(smuggled))
    with httpraw.Conn(env["lim"]) as c:
        c.send(httpraw.build_request("POST", "/body", headers=[("Content-Length", "2000")]))
        assert c.read_response().status == 413
        try:
            c.send(pad)
            c.read_until_close(timeout=2)  # whatever pier does with it, give it time to do it
        except (OSError, httpraw.HttpTimeout):
            pass
    assert "/after-413-smuggled" not in env["echo"].targets()


def test_chunked_body_over_limit_is_413(env):
    body = httpraw.chunked_body([b"y" * 600, b"y" * 600])
    r, c = httpraw.send_raw(env["lim"], httpraw.build_request(
        "POST", "/chunked-body", headers=[("Transfer-Encoding", "chunked")], body=body))
    c.close()
    assert r.status == 413
    assert "/chunked-body" not in env["echo"].targets()


def test_chunked_body_within_limit_is_accepted(env):
    r = httpraw.request(env["lim"], "POST", "/chunked-ok", headers=[("Transfer-Encoding", "chunked")],
                        body=httpraw.chunked_body([b"z" * 500, b"z" * 500]))
    assert r.status == 200 and r.json()["body_length"] == 1000


# ---- chunk extensions ------------------------------------------------------------------------

def test_chunk_extension_within_limit_is_accepted(env):
    r = httpraw.request(env["lim"], "POST", "/ext", headers=[("Transfer-Encoding", "chunked")],
                        body=b"3;a=b\r\nabc\r\n0\r\n\r\n")
    assert r.status == 200 and r.json()["body"] == "abc"


def test_chunk_extension_over_configured_limit_is_400(env):
    body = b"3;" + b"e" * 40 + b"\r\nabc\r\n0\r\n\r\n"
    r, c = httpraw.send_raw(env["lim"], httpraw.build_request("POST", "/ext-long",
                                                              headers=[("Transfer-Encoding", "chunked")], body=body))
    try:
        assert r.status == 400
        assert c.closed_by_peer(2.0)
    finally:
        c.close()
    assert "/ext-long" not in env["echo"].targets()


# ---- slow heads and idle connections -------------------------------------------------------

def test_slow_request_head_gets_408_then_close(env):
    with httpraw.Conn(env["lim"]) as c:
        c.send(b"GET /slow HTTP/1.1\r\nHost: localhost\r\n")  # head never finished
        start = time.monotonic()
        r = c.read_response(timeout=5)
        elapsed = time.monotonic() - start
        assert r.status == 408
        assert elapsed < 3.0
        assert c.closed_by_peer(2.0)


def test_slow_head_after_idle_keep_alive_gets_header_timeout_not_idle_timeout(env):
    # A slowloris client first idles on a kept-alive connection, then trickles
    # a head: the 300ms header timeout applies from its first byte, not the 30s idle one.
    with httpraw.Conn(env["slow"]) as c:
        assert c.request("GET", "/first").status == 200
        c.send(b"GET /slow HTTP/1.1\r\nHost: localhost\r\n")
        start = time.monotonic()
        r = c.read_response(timeout=5)
        assert r.status == 408
        assert time.monotonic() - start < 3.0


def test_idle_keep_alive_connection_closed_silently(env):
    with httpraw.Conn(env["lim"]) as c:
        assert c.request("GET", "/idle").status == 200
        start = time.monotonic()
        assert c.closed_by_peer(4.0), "idle connection not closed within 4s (idle_timeout 500ms)"
        assert time.monotonic() - start >= 0.3, "closed well before idle_timeout"


def test_active_connection_not_closed_by_idle_timeout(env):
    with httpraw.Conn(env["lim"]) as c:
        # A request taking longer than idle_timeout must still complete.
        r = c.request("GET", "/delay/900")
        assert r.status == 200


# ---- requests per connection ------------------------------------------------------------------

def test_max_requests_per_connection(env):
    with httpraw.Conn(env["maxreq"]) as c:
        assert c.request("GET", "/one").status == 200
        r2 = c.request("GET", "/two")
        assert r2.status == 200
        assert c.closed_by_peer(2.0), "connection stayed open after max_requests_per_connection"


def test_max_requests_per_connection_pipelined(env):
    with httpraw.Conn(env["maxreq"]) as c:
        c.send(b"".join(httpraw.build_request("GET", f"/p{i}") for i in range(3)))
        assert c.read_response().json()["target"] == "/p0"
        r = c.read_response()
        assert r.json()["target"] == "/p1"
        assert "close" in (r.header("connection") or "").lower()
        assert c.closed_by_peer(2.0)
