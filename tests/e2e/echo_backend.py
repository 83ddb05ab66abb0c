"""A small HTTP/1.1 origin server for pier's end-to-end tests.

It is written on raw sockets (not http.server) so that it records exactly what
arrived: header names as sent, their order, duplicates, chunked framing and
trailers. Each request is answered with a JSON description of itself unless
its path asks for something else:

  /status/<code>     answer with that status
  /delay/<ms>        wait, then answer
  /slowbody/<ms>     send the head at once and the body after <ms>
  /close             answer without Content-Length and close (body until close)
  /bad               send a malformed status line
  /hangup            close without answering
  /chunked           chunked response with trailers
  /size/<n>          n-byte body (pattern_bytes); ?chunked=1 sends it chunked
  /upgrade           101 to an Upgrade request, then echo raw bytes
  /headers?K=V&..    add response headers K: V
  /truncate/<n>      send a head announcing 2n body bytes, then n bytes, then close
  anything else      200 with the JSON echo

Toggles for resilience tests (attributes of the backend, safe to set from the
test thread at any time; the defaults change nothing):

  health_status      status of `health_path` ("/healthz") requests (default 200,
                     which is the normal JSON echo)
  force_status       when set, every other request is answered with this status
                     (JSON echo body)
  force_delay_ms     every other request waits this long before its answer

A request with "Expect: 100-continue" gets "100 Continue" before its body is
read (whatever the path), as RFC 9110 asks of an origin server.

Run standalone for a manual check:  python3 echo_backend.py [--port N]
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import socket
import threading
import time
import urllib.parse

_PATTERN = bytes(range(256)) * 256  # 64 KiB


def pattern_bytes(n: int) -> bytes:
    """The body /size/<n> sends; tests use it to compute the expected digest."""
    reps, rest = divmod(n, len(_PATTERN))
    return _PATTERN * reps + _PATTERN[:rest]


def pattern_sha256(n: int) -> str:
    h = hashlib.sha256()
    reps, rest = divmod(n, len(_PATTERN))
    for _ in range(reps):
        h.update(_PATTERN)
    h.update(_PATTERN[:rest])
    return h.hexdigest()


class _Closed(Exception):
    pass


class _BadRequest(Exception):
    pass


class _Reader:
    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = bytearray()

    def _fill(self) -> None:
        data = self.sock.recv(256 * 1024)
        if not data:
            raise _Closed()
        self.buf += data

    def read_until(self, sep: bytes, limit: int = 1 << 20) -> bytes:
        start = 0
        while True:
            i = self.buf.find(sep, start)
            if i >= 0:
                out = bytes(self.buf[: i + len(sep)])
                del self.buf[: i + len(sep)]
                return out
            if len(self.buf) > limit:
                raise _BadRequest("line too long")
            start = max(0, len(self.buf) - len(sep) + 1)
            self._fill()

    def read_exact(self, n: int, sink) -> None:
        while n > 0:
            if not self.buf:
                self._fill()
            take = min(n, len(self.buf))
            sink(bytes(self.buf[:take]))
            del self.buf[:take]
            n -= take

    def read_available(self) -> bytes:
        if not self.buf:
            self._fill()
        out = bytes(self.buf)
        self.buf.clear()
        return out


def _parse_fields(block: bytes) -> list[list[str]]:
    fields = []
    for line in block.split(b"\r\n"):
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep:
            raise _BadRequest(f"bad field line {line!r}")
        fields.append([name.decode("latin-1"), value.strip(b" \t").decode("latin-1")])
    return fields


def _get(headers: list[list[str]], name: str) -> list[str]:
    name = name.lower()
    return [v for n, v in headers if n.lower() == name]


def _tokens(headers: list[list[str]], name: str) -> list[str]:
    return [t.strip().lower() for v in _get(headers, name) for t in v.split(",") if t.strip()]


class EchoBackend:
    """One listening origin server; each accepted connection gets a thread."""

    BODY_ECHO_LIMIT = 64 * 1024  # larger bodies are reported by length and digest only

    def __init__(self, name: str = "echo", host: str = "127.0.0.1", port: int = 0):
        self.name = name
        self._lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._lsock.bind((host, port))
        self._lsock.listen(512)
        self._lsock.settimeout(0.1)
        self.host = host
        self.port = self._lsock.getsockname()[1]
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._conn_ids = itertools.count(1)
        self._conns: dict[int, socket.socket] = {}
        self._threads: list[threading.Thread] = []
        self.requests: list[dict] = []  # every request read completely, in order
        self.errors: list[str] = []
        self.connections_accepted = 0
        self.in_flight = 0
        self.health_path = "/healthz"
        self.health_status = 200
        self.force_status: int | None = None
        self.force_delay_ms = 0
        self._accept_thread = threading.Thread(target=self._accept_loop, name=f"{name}-accept", daemon=True)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> "EchoBackend":
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._accept_thread.join(timeout=5)
        self._lsock.close()
        with self._cond:
            conns = list(self._conns.values())
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in list(self._threads):
            t.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def drop_connections(self) -> int:
        """Closes every open connection (as an origin's idle timeout would); returns how many."""
        with self._cond:
            conns = list(self._conns.values())
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return len(conns)

    def open_connections(self) -> int:
        with self._cond:
            return len(self._conns)

    # ---- observation helpers for tests -------------------------------------------

    def request_count(self) -> int:
        with self._cond:
            return len(self.requests)

    def wait_for(self, predicate, timeout: float = 5.0) -> bool:
        """Waits until predicate(self) holds (evaluated under the lock)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def targets(self) -> list[str]:
        with self._cond:
            return [r["target"] for r in self.requests]

    def traffic(self) -> list[dict]:
        """Requests other than health probes (of `health_path`)."""
        with self._cond:
            return [r for r in self.requests if r["path"] != self.health_path]

    def traffic_count(self) -> int:
        return len(self.traffic())

    def _note(self, fn) -> None:
        with self._cond:
            fn()
            self._cond.notify_all()

    # ---- serving --------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                sock, peer = self._lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            cid = next(self._conn_ids)
            with self._cond:
                self._conns[cid] = sock
                self.connections_accepted += 1
                self._cond.notify_all()
            t = threading.Thread(target=self._serve, args=(sock, peer, cid), name=f"{self.name}-{cid}", daemon=True)
            self._threads = [x for x in self._threads if x.is_alive()]
            self._threads.append(t)
            t.start()

    def _serve(self, sock: socket.socket, peer, cid: int) -> None:
        reader = _Reader(sock)
        index = 0
        try:
            while not self._stop.is_set():
                index += 1
                if not self._serve_one(sock, reader, peer, cid, index):
                    break
        except (_Closed, ConnectionError, OSError):
            pass
        except _BadRequest as e:
            self._note(lambda: self.errors.append(str(e)))
            try:
                sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
        finally:
            with self._cond:
                self._conns.pop(cid, None)
                self._cond.notify_all()
            try:
                sock.close()
            except OSError:
                pass

    def _serve_one(self, sock, reader: _Reader, peer, cid: int, index: int) -> bool:
        """Reads and answers one request; False when the connection must end."""
        head = reader.read_until(b"\r\n\r\n")
        line, _, rest = head[:-4].partition(b"\r\n")
        parts = line.split(b" ")
        if len(parts) != 3:
            raise _BadRequest(f"bad request line {line!r}")
        method, target, version = (p.decode("latin-1") for p in parts)
        headers = _parse_fields(rest)
        parsed = urllib.parse.urlsplit(target)
        path = parsed.path

        if _tokens(headers, "expect") == ["100-continue"]:
            sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")

        digest = hashlib.sha256()
        body = bytearray()
        length = 0

        def sink(piece: bytes) -> None:
            nonlocal length
            digest.update(piece)
            length += len(piece)
            if len(body) < self.BODY_ECHO_LIMIT:
                body.extend(piece[: self.BODY_ECHO_LIMIT - len(body)])

        te = _tokens(headers, "transfer-encoding")
        cl = _get(headers, "content-length")
        trailers: list[list[str]] = []
        chunked = bool(te) and te[-1] == "chunked"
        if chunked:
            while True:
                size_line = reader.read_until(b"\r\n", limit=64 * 1024)[:-2]
                size_text = size_line.split(b";", 1)[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise _BadRequest(f"bad chunk size {size_line!r}")
                if size == 0:
                    lines = []
                    while True:
                        tline = reader.read_until(b"\r\n", limit=64 * 1024)
                        if tline == b"\r\n":
                            break
                        lines.append(tline)
                    trailers = _parse_fields(b"".join(lines))
                    break
                reader.read_exact(size, sink)
                if reader.read_until(b"\r\n", limit=2) != b"\r\n":
                    raise _BadRequest("chunk not followed by CRLF")
        elif te:
            raise _BadRequest(f"unsupported transfer-encoding {te}")
        elif cl:
            try:
                n = int(cl[0])
            except ValueError:
                raise _BadRequest(f"bad content-length {cl}")
            reader.read_exact(n, sink)

        conn_tokens = _tokens(headers, "connection")
        if version == "HTTP/1.0":
            keep_alive = "keep-alive" in conn_tokens
        else:
            keep_alive = "close" not in conn_tokens

        record = {
            "backend": self.name,
            "method": method,
            "target": target,
            "path": path,
            "query": parsed.query,
            "version": version,
            "headers": headers,
            "body": body.decode("latin-1") if length <= self.BODY_ECHO_LIMIT else None,
            "body_length": length,
            "body_sha256": digest.hexdigest(),
            "chunked": chunked,
            "trailers": trailers,
            "connection_id": cid,
            "request_index": index,
            "peer": f"{peer[0]}:{peer[1]}",
        }
        self._note(lambda: self.requests.append(record))
        self._note(lambda: setattr(self, "in_flight", self.in_flight + 1))
        try:
            return self._respond(sock, reader, method, path, parsed.query, headers, record, keep_alive)
        finally:
            self._note(lambda: setattr(self, "in_flight", self.in_flight - 1))

    def _respond(self, sock, reader, method, path, query, headers, record, keep_alive) -> bool:
        segs = path.strip("/").split("/")
        head_only = method == "HEAD"
        extra: list[tuple[str, str]] = []
        status = 200

        if path == self.health_path and self.health_status != 200:
            status = self.health_status
            segs = [""]
        elif path != self.health_path:
            if self.force_delay_ms:
                self._stop.wait(self.force_delay_ms / 1000.0)
            if self.force_status is not None:
                status = self.force_status
                segs = [""]

        if segs[0] == "hangup":
            return False
        if segs[0] == "truncate" and len(segs) > 1:
            n = int(segs[1])
            self._send_head(sock, 200, [("Content-Length", str(2 * n)), ("X-Backend", self.name)], True)
            sock.sendall(pattern_bytes(n))
            return False
        if segs[0] == "bad":
            sock.sendall(b"HTTP/1.1 2x0 Nope\r\nthis is not a header line\r\n\r\n")
            return False
        if segs[0] == "upgrade":
            return self._upgrade(sock, reader, headers)
        if segs[0] == "delay" and len(segs) > 1:
            self._stop.wait(int(segs[1]) / 1000.0)
        if segs[0] == "status" and len(segs) > 1:
            status = int(segs[1])
        if segs[0] == "headers":
            extra = urllib.parse.parse_qsl(query, keep_blank_values=True)

        if segs[0] == "size" and len(segs) > 1:
            n = int(segs[1])
            chunked = "chunked=1" in query
            hdrs = [("Content-Type", "application/octet-stream"), ("X-Backend", self.name)]
            hdrs.append(("Transfer-Encoding", "chunked") if chunked else ("Content-Length", str(n)))
            self._send_head(sock, 200, hdrs, keep_alive)
            if not head_only:
                sent = 0
                while sent < n:
                    piece = _PATTERN[: min(len(_PATTERN), n - sent)]
                    sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                    sent += len(piece)
                if chunked:
                    sock.sendall(b"0\r\n\r\n")
            return keep_alive

        body = json.dumps(record).encode()
        hdrs = [("Content-Type", "application/json"), ("X-Backend", self.name)] + extra

        if segs[0] == "close":
            self._send_head(sock, 200, hdrs, keep_alive=False)
            if not head_only:
                sock.sendall(body)
            return False

        if segs[0] == "chunked":
            hdrs += [("Transfer-Encoding", "chunked"), ("Trailer", "X-Checksum, X-Trailer-Test")]
            self._send_head(sock, 200, hdrs, keep_alive)
            if not head_only:
                third = max(1, len(body) // 3)
                for piece in (body[:third], body[third : 2 * third], body[2 * third :]):
                    if piece:
                        sock.sendall(b"%x;ext=1\r\n%s\r\n" % (len(piece), piece))
                checksum = hashlib.sha256(body).hexdigest()
                sock.sendall(b"0\r\nX-Checksum: %s\r\nX-Trailer-Test: yes\r\n\r\n" % checksum.encode())
            return keep_alive

        no_body = status in (204, 304) or 100 <= status < 200
        if not no_body:
            hdrs.append(("Content-Length", str(len(body))))
        if segs[0] == "slowbody" and len(segs) > 1:
            self._send_head(sock, status, hdrs, keep_alive)
            self._stop.wait(int(segs[1]) / 1000.0)
            if not head_only:
                sock.sendall(body)
            return keep_alive
        self._send_head(sock, status, hdrs, keep_alive, body=None if (head_only or no_body) else body)
        return keep_alive

    def _send_head(self, sock, status, hdrs, keep_alive, body: bytes | None = None) -> None:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
        lines += [f"{n}: {v}" for n, v in hdrs]
        if not keep_alive and not any(n.lower() == "connection" for n, _ in hdrs):
            lines.append("Connection: close")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        sock.sendall(data + body if body else data)

    def _upgrade(self, sock, reader: _Reader, headers) -> bool:
        upgrade = _get(headers, "upgrade")
        if not upgrade or "upgrade" not in _tokens(headers, "connection"):
            self._send_head(sock, 426, [("Content-Length", "0")], keep_alive=True)
            return True
        sock.sendall(
            f"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: {upgrade[0]}\r\n"
            f"X-Backend: {self.name}\r\n\r\n".encode("latin-1")
        )
        while True:
            data = reader.read_available()  # raises _Closed at EOF
            sock.sendall(data)


_REASONS = {
    100: "Continue", 101: "Switching Protocols", 200: "OK", 201: "Created", 202: "Accepted",
    204: "No Content", 301: "Moved Permanently", 302: "Found", 304: "Not Modified", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 418: "I'm a teapot", 426: "Upgrade Required",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--name", default="echo")
    args = ap.parse_args()
    backend = EchoBackend(args.name, port=args.port).start()
    print(f"listening on {backend.address}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        backend.stop()


if __name__ == "__main__":
    main()
