"""Raw TCP and UDP peers for pier's L4 end-to-end tests.

`TcpPeer` is a threaded TCP server that records, per accepted connection, every
byte it received and whether the client half-closed. What it sends back depends
on its mode:

  echo           echo every byte; on EOF from the client shut down its own write
                 side (so a relayed half-close comes back as EOF)
  reply_at_eof   send nothing until the client's EOF, then one line
                 "<byte count> <sha256 hex>\\n" and close (proves the half-close
                 reached the upstream and the reverse direction stayed open)
  greet_shut     send `greeting`, shut down its write side at once, keep reading
                 until the client's EOF (server-side half-close)
  http           read one HTTP/1.1 request head per turn and answer it with a
                 small 200 (for PROXY-protocol checks behind an http listener)

In every mode a connection whose first bytes are `ping` (default b"PING")
is a health probe: it is answered with `pong` (b"PONG"; set it to
something else to fail probes) and closed, and it is kept out of `sessions()`.

`UdpEcho` answers each datagram to its sender with `reply_prefix + datagram`
and records (sender address, datagram).

Each peer runs threads of this process; `stop()` closes the listening socket and
every open connection and joins the threads.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from dataclasses import dataclass, field


@dataclass
class TcpConn:
    id: int
    peer: tuple
    received: bytearray = field(default_factory=bytearray)
    eof: bool = False      # the client half-closed (or closed)
    closed: bool = False   # our handler finished
    probe: bool = False    # a health probe (first bytes == ping)


class TcpPeer:
    def __init__(self, name: str = "tcp", mode: str = "echo", greeting: bytes = b"hello from upstream\n",
                 ping: bytes = b"PING", pong: bytes = b"PONG", port: int = 0):
        assert mode in ("echo", "reply_at_eof", "greet_shut", "http"), mode
        self.name = name
        self.mode = mode
        self.greeting = greeting
        self.ping = ping
        self.pong = pong
        self._lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._lsock.bind(("127.0.0.1", port))
        self._lsock.listen(256)
        self._lsock.settimeout(0.1)
        self.port = self._lsock.getsockname()[1]
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._conns: list[TcpConn] = []
        self._socks: dict[int, socket.socket] = {}
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._accept_loop, name=f"{name}-accept", daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "TcpPeer":
        self._accept.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._accept.is_alive():
            self._accept.join(timeout=5)
        self._lsock.close()
        with self._cond:
            socks = list(self._socks.values())
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in list(self._threads):
            t.join(timeout=5)

    # ---- observation -------------------------------------------------------------

    def connections(self) -> list[TcpConn]:
        with self._cond:
            return list(self._conns)

    def sessions(self) -> list[TcpConn]:
        """Connections that are not health probes (one that has sent nothing
        yet counts as a session)."""
        with self._cond:
            return [c for c in self._conns if not c.probe]

    def probes(self) -> int:
        with self._cond:
            return sum(1 for c in self._conns if c.probe)

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

    def _with_sessions(self):
        return [c for c in self._conns if not c.probe]

    def wait_received(self, n: int, timeout: float = 5.0, index: int = -1) -> TcpConn | None:
        """Waits until session `index` (default: the newest) has received n bytes."""
        ok = self.wait_for(lambda p: p._with_sessions() and len(p._with_sessions()[index].received) >= n, timeout)
        return self.sessions()[index] if ok else None

    # ---- serving -----------------------------------------------------------------

    def _accept_loop(self) -> None:
        ids = 0
        while not self._stop.is_set():
            try:
                sock, peer = self._lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            ids += 1
            conn = TcpConn(ids, peer)
            with self._cond:
                self._conns.append(conn)
                self._socks[ids] = sock
                self._cond.notify_all()
            t = threading.Thread(target=self._serve, args=(sock, conn), name=f"{self.name}-{ids}", daemon=True)
            self._threads = [x for x in self._threads if x.is_alive()]
            self._threads.append(t)
            t.start()

    def _recv(self, sock, conn: TcpConn) -> bytes:
        try:
            data = sock.recv(256 * 1024)
        except OSError:
            data = b""
        with self._cond:
            if data:
                conn.received += data
            else:
                conn.eof = True
            self._cond.notify_all()
        return data

    def _serve(self, sock: socket.socket, conn: TcpConn) -> None:
        try:
            if self.mode == "greet_shut":
                sock.sendall(self.greeting)
                sock.shutdown(socket.SHUT_WR)
                while self._recv(sock, conn):
                    pass
                return
            first = True
            digest = hashlib.sha256()
            total = 0
            pending = bytearray()
            while True:
                data = self._recv(sock, conn)
                if first and data and self.ping:
                    # A probe sends `ping` as its very first bytes; wait for all of them.
                    while len(conn.received) < len(self.ping) and self.ping.startswith(bytes(conn.received)):
                        if not self._recv(sock, conn):
                            break
                    if bytes(conn.received).startswith(self.ping):
                        with self._cond:
                            conn.probe = True
                            self._cond.notify_all()
                        sock.sendall(self.pong)
                        return
                    data = bytes(conn.received)
                first = False
                if not data:
                    break
                if self.mode == "echo":
                    sock.sendall(data)
                elif self.mode == "reply_at_eof":
                    digest.update(data)
                    total += len(data)
                elif self.mode == "http":
                    pending += data
                    while b"\r\n\r\n" in pending:
                        _, _, rest = bytes(pending).partition(b"\r\n\r\n")
                        pending = bytearray(rest)
                        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Peer: " +
                                     self.name.encode() + b"\r\n\r\nok")
            if self.mode == "reply_at_eof":
                sock.sendall(f"{total} {digest.hexdigest()}\n".encode())
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            with self._cond:
                conn.closed = True
                self._socks.pop(conn.id, None)
                self._cond.notify_all()
            try:
                sock.close()
            except OSError:
                pass


class UdpEcho:
    def __init__(self, name: str = "udp", reply_prefix: bytes = b""):
        self.name = name
        self.reply_prefix = reply_prefix
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self.datagrams: list[tuple[tuple, bytes]] = []
        self._thread = threading.Thread(target=self._loop, name=f"{name}-udp", daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "UdpEcho":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._sock.close()

    def sources(self) -> list[tuple]:
        with self._cond:
            return [src for src, _ in self.datagrams]

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                data, src = self._sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                break
            with self._cond:
                self.datagrams.append((src, data))
                self._cond.notify_all()
            try:
                self._sock.sendto(self.reply_prefix + data, src)
            except OSError:
                pass


def tcp_connect(port: int, timeout: float = 5.0) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(sock: socket.socket, n: int, timeout: float = 5.0) -> bytes:
    """Exactly n bytes, or AssertionError at EOF or deadline (with what arrived)."""
    deadline = time.monotonic() + timeout
    out = bytearray()
    while len(out) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out after {len(out)} of {n} bytes: {bytes(out[:200])!r}")
        sock.settimeout(left)
        try:
            data = sock.recv(min(n - len(out), 256 * 1024))
        except socket.timeout:
            continue
        if not data:
            raise AssertionError(f"EOF after {len(out)} of {n} bytes: {bytes(out[:200])!r}")
        out += data
    return bytes(out)


def recv_to_eof(sock: socket.socket, timeout: float = 5.0, limit: int = 64 << 20) -> tuple[bytes, str]:
    """Reads until EOF; returns (data, how) where how is "eof", "reset" or "timeout"."""
    deadline = time.monotonic() + timeout
    out = bytearray()
    while len(out) <= limit:
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(out), "timeout"
        sock.settimeout(left)
        try:
            data = sock.recv(256 * 1024)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return bytes(out), "reset"
        if not data:
            return bytes(out), "eof"
        out += data
    return bytes(out), "limit"
