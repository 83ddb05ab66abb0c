"""Raw-socket HTTP/1.1 client for exact-byte tests.

Every read has a deadline; nothing here sleeps to synchronise. Responses are
framed the way RFC 9112 says (HEAD/1xx/204/304 have no body, chunked, then
Content-Length, then until close) so that a framing bug in pier shows up as a
wrong body or a desynchronised next response rather than a hang.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field

DEFAULT_TIMEOUT = 5.0


class HttpTimeout(AssertionError):
    """The peer did not send what we waited for before the deadline."""


@dataclass
class Response:
    version: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    trailers: list[tuple[str, str]] = field(default_factory=list)
    interim: list["Response"] = field(default_factory=list)  # 1xx responses before this one
    chunked: bool = False
    raw_head: bytes = b""

    def header(self, name: str) -> str | None:
        name = name.lower()
        for n, v in self.headers:
            if n.lower() == name:
                return v
        return None

    def header_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for n, v in self.headers if n.lower() == name]

    def has_header(self, name: str) -> bool:
        return self.header(name) is not None

    def trailer(self, name: str) -> str | None:
        name = name.lower()
        for n, v in self.trailers:
            if n.lower() == name:
                return v
        return None

    def json(self):
        return json.loads(self.body)

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.headers!r} body={self.body[:200]!r}>"


def build_request(method: str = "GET", target: str = "/", headers=None, body: bytes | str | None = None,
                  version: str = "HTTP/1.1", host: str | None = "localhost") -> bytes:
    """Serialises a request. Host and Content-Length are added unless given (or host=None)."""
    headers = list(headers or [])
    names = {n.lower() for n, _ in headers}
    if isinstance(body, str):
        body = body.encode()
    out = [f"{method} {target} {version}"]
    if host is not None and "host" not in names:
        out.append(f"Host: {host}")
    out += [f"{n}: {v}" for n, v in headers]
    if body is not None and "content-length" not in names and "transfer-encoding" not in names:
        out.append(f"Content-Length: {len(body)}")
    data = ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")
    return data + (body or b"")


def chunked_body(pieces, trailers=None, ext: str = "") -> bytes:
    """Chunked encoding of `pieces` (bytes), with optional trailer pairs."""
    out = bytearray()
    for p in pieces:
        if isinstance(p, str):
            p = p.encode()
        out += b"%x%s\r\n%s\r\n" % (len(p), ext.encode(), p)
    out += b"0\r\n"
    for n, v in trailers or []:
        out += f"{n}: {v}\r\n".encode("latin-1")
    out += b"\r\n"
    return bytes(out)


class Conn:
    """One client connection with a receive buffer."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = DEFAULT_TIMEOUT, rcvbuf: int | None = None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.timeout = timeout
        self.eof = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def request(self, method="GET", target="/", headers=None, body=None, host="localhost",
                version="HTTP/1.1", timeout: float | None = None) -> Response:
        self.send(build_request(method, target, headers, body, version, host))
        return self.read_response(method=method, timeout=timeout)

    # ---- reading -------------------------------------------------------------------

    def _fill(self, deadline: float, what: str) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise HttpTimeout(f"timed out waiting for {what}; have {bytes(self.buf[:300])!r}")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(256 * 1024)
        except socket.timeout:
            raise HttpTimeout(f"timed out waiting for {what}; have {bytes(self.buf[:300])!r}") from None
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            raise ConnectionError(f"connection closed while waiting for {what}; have {bytes(self.buf[:300])!r}")
        self.buf += data

    def _read_until(self, sep: bytes, deadline: float, what: str) -> bytes:
        start = 0
        while True:
            i = self.buf.find(sep, start)
            if i >= 0:
                out = bytes(self.buf[: i + len(sep)])
                del self.buf[: i + len(sep)]
                return out
            start = max(0, len(self.buf) - len(sep) + 1)
            self._fill(deadline, what)

    def _read_exact(self, n: int, deadline: float, what: str) -> bytes:
        while len(self.buf) < n:
            self._fill(deadline, what)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_head(self, timeout: float | None = None) -> Response:
        """Reads one status line and header block (interim or final)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        raw = self._read_until(b"\r\n\r\n", deadline, "response head")
        line, _, rest = raw[:-4].partition(b"\r\n")
        parts = line.decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise AssertionError(f"malformed status line {line!r}")
        headers = []
        for fl in rest.split(b"\r\n"):
            if not fl:
                continue
            n, sep, v = fl.partition(b":")
            if not sep:
                raise AssertionError(f"malformed header line {fl!r} in {raw!r}")
            headers.append((n.decode("latin-1"), v.strip(b" \t").decode("latin-1")))
        return Response(parts[0], int(parts[1]), parts[2] if len(parts) > 2 else "", headers, raw_head=raw)

    def read_response(self, method: str = "GET", timeout: float | None = None, stop_at_interim: bool = False) -> Response:
        """Reads a complete response; 1xx interim heads (other than 101) are collected in .interim."""
        deadline = time.monotonic() + (timeout or self.timeout)
        interim = []
        while True:
            resp = self.read_head(timeout=max(0.001, deadline - time.monotonic()))
            if 100 <= resp.status < 200 and resp.status != 101:
                if stop_at_interim:
                    return resp
                interim.append(resp)
                continue
            break
        resp.interim = interim
        if method == "HEAD" or resp.status in (101, 204, 304):
            return resp
        te = [t.strip().lower() for v in resp.header_all("transfer-encoding") for t in v.split(",")]
        if te and te[-1] == "chunked":
            resp.chunked = True
            body = bytearray()
            while True:
                size_line = self._read_until(b"\r\n", deadline, "chunk size")[:-2]
                size = int(size_line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while True:
                        tl = self._read_until(b"\r\n", deadline, "trailers")
                        if tl == b"\r\n":
                            break
                        n, _, v = tl[:-2].partition(b":")
                        resp.trailers.append((n.decode("latin-1"), v.strip().decode("latin-1")))
                    break
                body += self._read_exact(size, deadline, "chunk data")
                if self._read_exact(2, deadline, "chunk CRLF") != b"\r\n":
                    raise AssertionError("chunk data not followed by CRLF")
            resp.body = bytes(body)
        elif resp.header("content-length") is not None:
            resp.body = self._read_exact(int(resp.header("content-length")), deadline, "body")
        else:
            resp.body = self.read_until_close(timeout=max(0.001, deadline - time.monotonic()))
        return resp

    def read_until_close(self, timeout: float | None = None) -> bytes:
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.eof:
            try:
                self._fill(deadline, "connection close")
            except ConnectionError:
                break
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def recv_some(self, timeout: float | None = None) -> bytes:
        """Whatever is buffered, or the next bytes to arrive (raw mode, e.g. after 101)."""
        if not self.buf:
            self._fill(time.monotonic() + (timeout or self.timeout), "data")
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def recv_exact(self, n: int, timeout: float | None = None) -> bytes:
        return self._read_exact(n, time.monotonic() + (timeout or self.timeout), f"{n} bytes")

    def closed_by_peer(self, timeout: float = 2.0) -> bool:
        """True when the peer closes (EOF or reset) within `timeout` and sends nothing more."""
        if self.buf:
            return False
        deadline = time.monotonic() + timeout
        try:
            self._fill(deadline, "close")
        except ConnectionError:
            return True
        except HttpTimeout:
            return False
        return False


def request(port: int, method="GET", target="/", headers=None, body=None, host="localhost",
            version="HTTP/1.1", timeout: float = DEFAULT_TIMEOUT) -> Response:
    """One request on a fresh connection, which is closed afterwards."""
    with Conn(port, timeout=timeout) as c:
        return c.request(method, target, headers, body, host, version, timeout)


def send_raw(port: int, data: bytes, method: str = "GET", timeout: float = DEFAULT_TIMEOUT) -> tuple[Response, Conn]:
    """Sends bytes on a fresh connection, reads one response; returns it and the still-open Conn."""
    c = Conn(port, timeout=timeout)
    c.send(data)
    try:
        return c.read_response(method=method, timeout=timeout), c
    except BaseException:
        c.close()
        raise


def wait_port_open(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.02)  # poll interval, not synchronisation
    return False


_handed_out: set[int] = set()
_handed_out_lock = threading.Lock()


def free_port() -> int:
    """A port that was free a moment ago (bound to 127.0.0.1:0 and released).

    Never one this process handed out before: the kernel may offer a port it
    has just offered again, and a config whose listener and admin address got
    the same port would not start.
    """
    with _handed_out_lock:
        for _ in range(1000):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise RuntimeError("no port left that this test run has not handed out already")


def refused_port() -> int:
    """A port with nothing listening on it, for 'connection refused' upstreams."""
    return free_port()
