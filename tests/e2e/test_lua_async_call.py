"""Asynchronous Lua httpCalls outlive the stream that made them, as in Envoy.

A typical script sends an audit or log request with `httpCall(..., true)` and answers (or passes
on) the client's request at once. The client's stream then ends long before the audit origin
answers; the call must keep running until it completes or times out, not be cancelled with the
stream. The audit origin here answers only after a delay and records whether pier was still
waiting for that answer (a cancelled call closes its connection, which the origin sees as EOF).
"""

from __future__ import annotations

import select
import socket
import threading
import time

import httpraw
from cfg import cluster, config, listener, lua_filter
from pier_proc import eventually


class AuditOrigin:
    """Answers each request after `delay` seconds, unless the caller hangs up first.

    Each call becomes a record: target, body, when it arrived, and its outcome: "answered" (pier
    kept the connection open for the whole delay and got the answer) or "closed" (pier closed the
    connection first), with the time of the outcome."""

    def __init__(self, delay: float):
        self.delay = delay
        self.calls: list[dict] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._lsock.bind(("127.0.0.1", 0))
        self._lsock.listen(64)
        self._lsock.settimeout(0.1)
        self.address = f"127.0.0.1:{self._lsock.getsockname()[1]}"
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._accept_loop, name="audit-accept", daemon=True)

    def start(self) -> "AuditOrigin":
        self._accept.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._accept.join(timeout=5)
        self._lsock.close()
        for t in self._threads:
            t.join(timeout=5)

    def wait_for(self, predicate, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.calls):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def snapshot(self) -> list[dict]:
        with self._cond:
            return [dict(c) for c in self.calls]

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(sock,), name="audit-conn", daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, sock: socket.socket) -> None:
        with sock:
            sock.settimeout(5.0)
            try:
                data = b""
                while b"\r\n\r\n" not in data:
                    piece = sock.recv(65536)
                    if not piece:
                        return  # closed before a whole head: not a call
                    data += piece
                head, _, body = data.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                while len(body) < length:
                    piece = sock.recv(65536)
                    if not piece:
                        break
                    body += piece
            except OSError:
                return
            call = {"target": lines[0].split(" ")[1], "body": body.decode("latin-1"),
                    "received": time.monotonic(), "outcome": None, "ended": None}
            with self._cond:
                self.calls.append(call)
                self._cond.notify_all()
            outcome = self._answer_after_delay(sock)
            with self._cond:
                call["outcome"] = outcome
                call["ended"] = time.monotonic()
                self._cond.notify_all()

    def _answer_after_delay(self, sock: socket.socket) -> str:
        # pier sends nothing after the request, so the socket turns readable only when it closes.
        deadline = time.monotonic() + self.delay
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if self._stop.is_set():
                return "origin stopped"
            readable, _, _ = select.select([sock], [], [], min(left, 0.1))
            if readable:
                try:
                    if sock.recv(1, socket.MSG_PEEK) == b"":
                        return "closed"
                except OSError:
                    return "closed"
        try:
            sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
        except OSError:
            return "closed"
        return "answered"


def audit_origin(res, delay: float) -> AuditOrigin:
    origin = AuditOrigin(delay).start()
    res.add_cleanup(origin.stop)
    return origin


def respond_after_async_call(call_args: str, reply: str = "done") -> str:
    """A script that fires an asynchronous audit call and answers the client itself at once."""
    return """
function envoy_on_request(request_handle)
  request_handle:httpCall("audit",
    {[":method"] = "POST", [":path"] = "/audit", [":authority"] = "audit"}, "who=alice", %s)
  request_handle:respond({[":status"] = "200"}, "%s")
end
""" % (call_args, reply)


def serve(res, code: str, origin: AuditOrigin, workers: int = 1):
    port = httpraw.free_port()
    cfgd = config([listener("web", port, routes=[{"match": {"prefix": "/"}, "cluster": "audit"}],
                            filters=[lua_filter(code)])],
                  [cluster("audit", [origin.address])], workers=workers)
    return port, res.pier(cfgd)


def answered(calls: list[dict]) -> bool:
    return any(c["outcome"] == "answered" for c in calls)


# ---- the rule: the call runs to its end ------------------------------------------------------


def test_async_call_completes_after_the_stream_ended(res):
    origin = audit_origin(res, delay=0.3)
    port, pier = serve(res, respond_after_async_call("5000, true"), origin)
    r = httpraw.request(port, "GET", "/login")
    assert r.status == 200 and r.text() == "done"
    assert not answered(origin.snapshot()), "the client's answer waited for the asynchronous call"
    assert origin.wait_for(lambda calls: any(c["outcome"] for c in calls), 5), \
        "the asynchronous call never reached the audit origin (cancelled when the stream ended?)"
    calls = origin.snapshot()
    assert [c["outcome"] for c in calls] == ["answered"], \
        f"pier closed the asynchronous call before its answer: {calls}"
    assert calls[0]["target"] == "/audit" and calls[0]["body"] == "who=alice"
    assert pier.alive()


def test_async_call_options_table_completes_after_the_stream_ended(res):
    origin = audit_origin(res, delay=0.3)
    port, pier = serve(res, respond_after_async_call("{asynchronous = true, timeout_ms = 5000}"), origin)
    assert httpraw.request(port, "GET", "/login").status == 200
    assert origin.wait_for(lambda calls: any(c["outcome"] for c in calls), 5)
    assert [c["outcome"] for c in origin.snapshot()] == ["answered"]


def test_many_streams_each_complete_their_async_call(res):
    origin = audit_origin(res, delay=0.3)
    port, pier = serve(res, respond_after_async_call("5000, true"), origin, workers=2)
    for _ in range(8):
        assert httpraw.request(port, "GET", "/login").status == 200
    assert origin.wait_for(lambda calls: len(calls) == 8 and all(c["outcome"] for c in calls), 5), \
        origin.snapshot()
    assert [c["outcome"] for c in origin.snapshot()] == ["answered"] * 8
    # The finished calls left nothing behind that breaks the next stream.
    assert httpraw.request(port, "GET", "/again").status == 200


def test_async_call_still_times_out_after_the_stream_ended(res):
    origin = audit_origin(res, delay=5.0)
    port, pier = serve(res, respond_after_async_call("300, true"), origin)
    assert httpraw.request(port, "GET", "/login").status == 200
    assert origin.wait_for(lambda calls: any(c["outcome"] for c in calls), 4), \
        "the detached call neither timed out nor was cancelled"
    call = origin.snapshot()[0]
    assert call["outcome"] == "closed"
    # A timer never fires early: a cancel at the stream's end would close it at once.
    assert call["ended"] - call["received"] >= 0.25, \
        f"closed {call['ended'] - call['received']:.3f}s after arrival: cancelled, not timed out"


# ---- what ends a detached call early ---------------------------------------------------------


def test_sigterm_with_an_outstanding_detached_call_exits_cleanly(res):
    # Under an ASan build (PIER_BIN=build/debug/pier) a leak or use-after-free in the cancellation
    # at shutdown is reported in pier's log, which the `res` fixture checks too.
    origin = audit_origin(res, delay=30.0)
    port, pier = serve(res, respond_after_async_call("20000, true"), origin, workers=2)
    assert httpraw.request(port, "GET", "/login").status == 200
    assert origin.wait_for(lambda calls: len(calls) == 1, 5), "the asynchronous call never arrived"
    start = time.monotonic()
    rc = pier.stop(timeout=10)
    assert rc == 0, f"pier exited with {rc}:\n{pier.log_tail(40)}"
    assert time.monotonic() - start < 5, "an outstanding detached call held up the shutdown"
    for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        assert marker not in pier.log_text(), pier.log_tail(60)
    assert origin.wait_for(lambda calls: calls[0]["outcome"] == "closed", 5)


def test_reload_with_an_outstanding_detached_call_keeps_serving(res):
    # A reload empties the worker's cache, which cancels the calls detached before it (documented
    # in docs/filters.md); that must not disturb the worker.
    origin = audit_origin(res, delay=30.0)
    port, pier = serve(res, respond_after_async_call("20000, true", reply="v1"), origin)
    assert httpraw.request(port, "GET", "/login").text() == "v1"
    assert origin.wait_for(lambda calls: len(calls) == 1, 5)
    cfgd = config([listener("web", port, routes=[{"match": {"prefix": "/"}, "cluster": "audit"}],
                            filters=[lua_filter(respond_after_async_call("20000, true", reply="v2"))])],
                  [cluster("audit", [origin.address])], workers=1)
    pier.write_config(cfgd)
    pier.reload()
    eventually(lambda: httpraw.request(port, "GET", "/after", timeout=2).text() == "v2", 5,
               message="the reloaded script to answer")
    assert httpraw.request(port, "GET", "/again").text() == "v2"
    assert pier.alive()
