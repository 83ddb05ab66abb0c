"""Request smuggling and malformed requests: every ambiguous or malformed
message is answered 400 (505 for an unsupported version) and the connection is
closed, and nothing of it -- least of all a smuggled second request -- reaches
the backend."""

from __future__ import annotations

import pytest

import httpraw
from cfg import cluster, config, listener

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture(scope="module")
def env(mres):
    echo = mres.echo("echo")
    port = httpraw.free_port()
    pier = mres.pier(config([listener("web", port, routes=[{"match": {"prefix": "/"}, "cluster": "app"}])],
                            [cluster("app", [echo])]))
    return {"port": port, "pier": pier, "echo": echo}


def head(target: str, *lines: str, version: str = "HTTP/1.1", method: str = "POST") -> bytes:
    return (f"{method} {target} {version}\r\n" + "".join(l + "\r\n" for l in lines) + "\r\n").encode("latin-1")


# (id, bytes, acceptable statuses). Every target is unique so the backend log can be checked for it.
CASES = [
    ("cl_and_te", head("/s/cl-te", "Host: x", "Content-Length: 6", "Transfer-Encoding: chunked")
     + b"0\r\n\r\n" + SMUGGLED, {400}),
    ("te_and_cl", head("/s/te-cl", "Host: x", "Transfer-Encoding: chunked", "Content-Length: 40")
     + b"0\r\n\r\n" + SMUGGLED, {400}),
    ("duplicate_cl_differing", head("/s/dup-cl", "Host: x", "Content-Length: 5", "Content-Length: 41")
     + b"hello" + SMUGGLED, {400}),
    ("cl_list_differing", head("/s/cl-list", "Host: x", "Content-Length: 5, 41") + b"hello" + SMUGGLED, {400}),
    ("cl_non_numeric", head("/s/cl-abc", "Host: x", "Content-Length: abc"), {400}),
    ("cl_negative", head("/s/cl-neg", "Host: x", "Content-Length: -1"), {400}),
    ("cl_plus_sign", head("/s/cl-plus", "Host: x", "Content-Length: +5") + b"hello", {400}),
    ("cl_hex", head("/s/cl-hex", "Host: x", "Content-Length: 0x5") + b"hello", {400}),
    ("cl_overflow", head("/s/cl-huge", "Host: x", "Content-Length: 99999999999999999999999"), {400, 413}),
    ("te_unknown", head("/s/te-unknown", "Host: x", "Transfer-Encoding: foo"), {400, 501}),
    ("te_chunked_twice", head("/s/te-twice", "Host: x", "Transfer-Encoding: chunked, chunked")
     + b"0\r\n\r\n", {400}),
    ("te_two_headers", head("/s/te-two", "Host: x", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked")
     + b"0\r\n\r\n", {400}),
    ("te_not_last_chunked", head("/s/te-notlast", "Host: x", "Transfer-Encoding: chunked, gzip")
     + b"0\r\n\r\n", {400}),
    ("te_in_http10", head("/s/te-10", "Host: x", "Transfer-Encoding: chunked", version="HTTP/1.0")
     + b"0\r\n\r\n" + SMUGGLED, {400}),
    ("te_space_before_colon", head("/s/te-space", "Host: x", "Transfer-Encoding : chunked", "Content-Length: 5")
     + b"0\r\n\r\n" + SMUGGLED, {400}),
    ("ws_before_colon", head("/s/ws-colon", "Host: x", "X-Foo : bar", method="GET"), {400}),
    ("obs_fold", head("/s/obs-fold", "Host: x", "X-Foo: a", " b", method="GET"), {400}),
    ("obs_fold_te", head("/s/obs-fold-te", "Host: x", "Transfer-Encoding: gzip", " , chunked")
     + b"0\r\n\r\n", {400}),
    ("bare_cr_in_value", head("/s/bare-cr", "Host: x", "X-Foo: a\rb", method="GET"), {400}),
    ("nul_in_value", head("/s/nul", "Host: x", "X-Foo: a\x00b", method="GET"), {400}),
    ("space_in_header_name", head("/s/name-space", "Host: x", "X Foo: bar", method="GET"), {400}),
    ("chunk_size_not_hex", head("/s/chunk-zz", "Host: x", "Transfer-Encoding: chunked") + b"zz\r\nhello\r\n0\r\n\r\n",
     {400}),
    ("chunk_size_negative", head("/s/chunk-neg", "Host: x", "Transfer-Encoding: chunked") + b"-1\r\nx\r\n0\r\n\r\n",
     {400}),
    ("chunk_size_overflow", head("/s/chunk-ovf", "Host: x", "Transfer-Encoding: chunked")
     + b"10000000000000005\r\nhello\r\n0\r\n\r\n" + SMUGGLED, {400}),
    ("chunk_size_huge", head("/s/chunk-huge", "Host: x", "Transfer-Encoding: chunked")
     + b"ffffffffffffffffffffffff\r\nhello\r\n0\r\n\r\n", {400}),
    ("chunk_data_overrun", head("/s/chunk-overrun", "Host: x", "Transfer-Encoding: chunked")
     + b"3\r\nhello\r\n0\r\n\r\n", {400}),
    ("chunk_extension_too_long", head("/s/chunk-ext", "Host: x", "Transfer-Encoding: chunked")
     + b"5;" + b"a" * 400 + b"\r\nhello\r\n0\r\n\r\n", {400}),
    ("missing_host_http11", head("/s/no-host", method="GET"), {400}),
    ("two_host_headers", head("/s/two-hosts", "Host: a.test", "Host: b.test", method="GET"), {400}),
    ("bad_request_line", b"GET /s/bad-line\r\nHost: x\r\n\r\n", {400}),
    ("lowercase_version", head("/s/lower-version", "Host: x", version="http/1.1", method="GET"), {400, 505}),
]


@pytest.mark.parametrize("data,statuses", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rejected_with_status_and_close(env, data, statuses):
    echo = env["echo"]
    before = echo.request_count()
    with httpraw.Conn(env["port"]) as c:
        c.send(data)
        r = c.read_response(timeout=5)
        assert r.status in statuses, f"got {r.status}, want one of {statuses}: {r!r}"
        assert c.closed_by_peer(2.0), "connection left open after a rejected request"
    targets = echo.targets()[before:]
    assert "/smuggled" not in echo.targets(), "smuggled request reached the backend"
    assert not any(t.startswith("/s/") for t in targets), f"rejected request reached the backend: {targets}"


def test_http2_request_line_is_505(env):
    with httpraw.Conn(env["port"]) as c:
        c.send(b"GET / HTTP/2.0\r\nHost: x\r\n\r\n")
        r = c.read_response(timeout=5)
        assert r.status == 505


def test_valid_chunked_request_still_accepted(env):
    """Control: the same listener accepts a well-formed chunked request."""
    with httpraw.Conn(env["port"]) as c:
        c.send(head("/ok/chunked", "Host: x", "Transfer-Encoding: chunked") + b"5\r\nhello\r\n0\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.json()["body"] == "hello"


def test_identical_duplicate_content_length_is_accepted_or_rejected_cleanly(env):
    """RFC 9112 allows treating 'Content-Length: 5' twice as one value; either that or 400, never desync."""
    with httpraw.Conn(env["port"]) as c:
        c.send(head("/ok/dup-cl", "Host: x", "Content-Length: 5", "Content-Length: 5") + b"hello")
        r = c.read_response()
        assert r.status in (200, 400)
        if r.status == 200:
            assert r.json()["body"] == "hello"


def test_smuggled_request_in_body_is_just_body(env):
    """A request that is a Content-Length body of another request must not be executed."""
    body = SMUGGLED
    with httpraw.Conn(env["port"]) as c:
        r = c.request("POST", "/ok/carrier", body=body)
        assert r.status == 200
        assert r.json()["body"] == body.decode()
    assert "/smuggled" not in env["echo"].targets()

