"""Pieces of bench/failover_bench.py: configs, a paced HTTP client that records
every request, samplers of the proxies' per-endpoint counters, and the
analysis of one trial (pure functions, unit-tested).

Times are time.monotonic() seconds unless a name says otherwise.
"""
import csv
import errno
import http.client
import io
import os
import re
import socket
import statistics
import threading
import time

from .configs import _nginx_common, _nginx_head

CHECK_PATH = "/hc"

# ---- configs ---------------------------------------------------------------


def nginx_logging_backend(prefix, port, name):
    """A small backend that logs each request's completion time ($msec, epoch seconds)."""
    os.makedirs(prefix, exist_ok=True)
    return _nginx_head(prefix, 1) + f"""http {{{_nginx_common(prefix)}
    log_format arrivals '$msec $status $request_uri';
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        access_log {prefix}/access.log arrivals;
        location = {CHECK_PATH} {{ access_log off; return 200 "ok\\n"; }}
        location / {{ return 200 "{name}\\n"; }}
    }}
}}
"""


def pier_failover(port, workers, backends, proto, admin_port, active, interval_ms=100):
    """pier with its default passive outlier detection, plus an active check if `active`."""
    eps = ", ".join(f"127.0.0.1:{b}" for b in backends)
    if proto == "http":
        listener = """    protocol: http
    forwarding: { x_forwarded_for: false, x_forwarded_proto: false, request_id_header: "" }
    routes:
      - match: { prefix: / }
        cluster: be"""
    else:
        listener = "    protocol: tcp\n    cluster: be"
    check = ""
    if active:
        kind = f"type: http, path: {CHECK_PATH}" if proto == "http" else "type: tcp"
        check = (f"\n    health_check: {{ {kind}, interval: {interval_ms}ms, "
                 f"timeout: {interval_ms}ms, unhealthy_threshold: 3, healthy_threshold: 2 }}")
    return f"""admin: {{ address: 127.0.0.1:{admin_port} }}
workers: {workers}
listeners:
  - name: fo
    address: 127.0.0.1:{port}
{listener}
clusters:
  - name: be
    lb: round_robin
    endpoints: [{eps}]{check}
"""


def haproxy_failover(port, threads, backends, proto, stats_sock, check=True, interval_ms=100):
    """HAProxy with `option redispatch`, `retries 3` and (if check) `check inter 100ms fall 3`."""
    servers = "\n".join(f"    server b{i + 1} 127.0.0.1:{b}" for i, b in enumerate(backends))
    mode = "    mode http\n    option http-keep-alive\n    http-reuse always" if proto == "http" \
        else "    mode tcp"
    chk = ""
    if check:
        if proto == "http":
            chk += f"    option httpchk GET {CHECK_PATH}\n"
        chk += f"    default-server check inter {interval_ms}ms fall 3 rise 2\n"
    return f"""global
    nbthread {threads}
    maxconn 8000
    stats socket {stats_sock} mode 600 level admin

defaults
{mode}
    option redispatch
    retries 3
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout check {interval_ms}ms

frontend fe
    bind 127.0.0.1:{port}
    default_backend be

backend be
    balance roundrobin
{chk}{servers}
"""


# ---- load ------------------------------------------------------------------


def _error_kind(exc):
    if isinstance(exc, socket.timeout):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
        return "reset"
    if isinstance(exc, OSError) and exc.errno == errno.ECONNRESET:
        return "reset"
    return type(exc).__name__


class _Eof(Exception):
    pass


def parse_response_head(head):
    """(status, content_length, close) of an HTTP/1.1 response head (bytes, no blank line)."""
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length, close = None, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    return status, length, close


class _Conn:
    """One client connection speaking just enough HTTP/1.1 for the backends' fixed replies."""

    def __init__(self, port, timeout):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise _Eof()
        self.buf += data

    def request(self, close):
        extra = b"Connection: close\r\n" if close else b""
        self.sock.sendall(b"GET / HTTP/1.1\r\nHost: failover\r\n" + extra + b"\r\n")
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        status, length, must_close = parse_response_head(head)
        if length is None:
            raise ValueError("response without Content-Length")
        while len(self.buf) < length:
            self._fill()
        self.buf = self.buf[length:]
        return status, must_close

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class LoadClient:
    """`conns` threads, each with one connection, together paced to `rate` requests/s.

    Records (start, end, result) per request: result is the HTTP status or
    an error kind ('refused', 'reset', 'eof', 'timeout', ...).
    With close=True every request uses a new connection (needed through an
    L4 proxy: it picks an endpoint per connection, not per request).
    """

    def __init__(self, port, conns, rate, close, timeout=2.0):
        self.port, self.conns, self.close, self.timeout = port, conns, close, timeout
        self.interval = conns / rate
        self.records = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                         for i in range(conns)]

    def start(self):
        for t in self._threads:
            t.start()

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=self.timeout + 2)

    def _run(self, idx):
        mine = []
        conn = None
        # Spread the threads' first requests over one interval.
        nxt = time.monotonic() + self.interval * idx / self.conns
        while not self._stop.is_set():
            delay = nxt - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            nxt = max(nxt + self.interval, time.monotonic())
            t0 = time.monotonic()
            try:
                if conn is None:
                    conn = _Conn(self.port, self.timeout)
                status, must_close = conn.request(self.close)
                result = status
                if self.close or must_close:
                    conn.close()
                    conn = None
            except _Eof:
                result = "eof"
            except (OSError, ValueError, IndexError) as e:
                result = _error_kind(e)
            if not isinstance(result, int) and conn is not None:
                conn.close()
                conn = None
            mine.append((t0, time.monotonic(), result))
        if conn is not None:
            conn.close()
        with self._lock:
            self.records.extend(mine)


# ---- samplers ----------------------------------------------------------------


_PROM = re.compile(r'^(\w+)\{([^}]*)\}\s+(\S+)$')


def prometheus_values(text, endpoint):
    """{metric name: value} of the series whose endpoint label is `endpoint`."""
    out = {}
    want = f'endpoint="{endpoint}"'
    for line in text.splitlines():
        m = _PROM.match(line)
        if m and want in m.group(2).split(","):
            out[m.group(1)] = float(m.group(3))
    return out


def pier_state(values, workers):
    """(connect failures, requests routed, out of rotation?, healthy gauge) from prometheus_values.

    Each worker ejects on its own (pier_endpoint_ejected counts the workers
    that do): the endpoint is out of rotation once all `workers` have.
    """
    fails = values.get("pier_endpoint_connect_failures_total")
    routed = values.get("pier_endpoint_requests_total")
    ejected = values.get("pier_endpoint_ejected", 0) >= workers
    healthy = values.get("pier_endpoint_healthy")
    return fails, routed, ejected, healthy


def haproxy_server_row(csv_text, backend, server):
    """The `show stat` CSV row of one server as a dict (None if absent)."""
    text = csv_text.lstrip("# ")
    for row in csv.DictReader(io.StringIO(text)):
        if row.get("pxname") == backend and row.get("svname") == server:
            return row
    return None


def haproxy_state(row):
    """(connection attempts, sessions routed, down?, status text) of a server row.

    Attempts are the `connect` column (every connection attempt, failed or
    not; after the kill all of them fail). `econ` is no substitute: it
    counts only requests whose retries all failed, so attempts rescued by
    redispatch are missing from it. Old HAProxy without `connect`: econ.
    """
    def num(key):
        try:
            return float(row.get(key) or 0)
        except ValueError:
            return 0.0
    status = row.get("status", "")
    attempts = num("connect") if row.get("connect") not in (None, "") else num("econ")
    return attempts, num("stot"), status.startswith(("DOWN", "MAINT")), status


class Sampler:
    """Polls a proxy's view of one endpoint every `interval` seconds in a thread.

    samples: list of dicts {t, fails, routed, down, healthy}. t is the
    midpoint of the poll; a poll that fails is skipped.
    """

    def __init__(self, poll, interval=0.02):
        self.poll, self.interval = poll, interval
        self.samples = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)

    def sample_once(self):
        t0 = time.monotonic()
        try:
            s = self.poll()
        except (OSError, ValueError, KeyError, http.client.HTTPException):
            self.errors += 1
            return None
        if s is None:
            self.errors += 1
            return None
        s["t"] = (t0 + time.monotonic()) / 2
        return s

    def _run(self):
        nxt = time.monotonic()
        while not self._stop.is_set():
            s = self.sample_once()
            if s is not None:
                self.samples.append(s)
            nxt += self.interval
            delay = nxt - time.monotonic()
            if delay < 0:
                nxt = time.monotonic()
            elif self._stop.wait(delay):
                break


def pier_poll(admin_port, endpoint, workers):
    def poll():
        conn = http.client.HTTPConnection("127.0.0.1", admin_port, timeout=1)
        try:
            conn.request("GET", "/metrics", headers={"Connection": "close"})
            text = conn.getresponse().read().decode("utf-8", "replace")
        finally:
            conn.close()
        fails, routed, ejected, healthy = pier_state(prometheus_values(text, endpoint), workers)
        if fails is None:
            return None
        return {"fails": fails, "routed": routed, "down": ejected, "healthy": healthy}
    return poll


def haproxy_poll(sock_path, backend, server):
    def poll():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            s.connect(sock_path)
            s.sendall(b"show stat\n")
            chunks = []
            while True:
                data = s.recv(65536)
                if not data:
                    break
                chunks.append(data)
        row = haproxy_server_row(b"".join(chunks).decode("utf-8", "replace"), backend, server)
        if row is None:
            return None
        fails, routed, down, status = haproxy_state(row)
        return {"fails": fails, "routed": routed, "down": down, "healthy": None,
                "status": status}
    return poll


# ---- analysis ----------------------------------------------------------------


def _ms(x):
    return None if x is None else round(x * 1000.0, 1)


def analyze(kill_t, end_t, samples, records, interval):
    """Figures of one trial, times in ms relative to the kill.

    detect_ms: first sample at/after the kill where the proxy has the
      endpoint out of rotation (ejected, health gauge dropped from 1 to 0,
      HAProxy DOWN).
    last_try_ms: the last sample at which the endpoint's connect-failure
      counter had grown (an upper bound, within one sample interval).
    tries: connect failures to the endpoint after the kill.
    still_trying: the counter grew in the last 5 intervals of the window,
      i.e. the proxy had not stopped trying when the load ended.
    errors: requests finished after the kill that got no 2xx/3xx, by kind.
    """
    before = [s for s in samples if s["t"] < kill_t]
    after = [s for s in samples if s["t"] >= kill_t]
    base = before[-1] if before else (after[0] if after else None)
    out = {"samples": len(samples), "detect_ms": None, "last_try_ms": None, "tries": None,
           "still_trying": False, "routed_before": None, "fails_before": None}
    if base is not None:
        out["routed_before"] = base.get("routed")
        out["fails_before"] = base.get("fails")
        was_healthy = any(s.get("healthy") == 1 for s in before)
        for s in after:
            if s["down"] or (was_healthy and s.get("healthy") == 0):
                out["detect_ms"] = _ms(s["t"] - kill_t)
                break
        prev = base["fails"]
        last = None
        for s in after:
            if s["fails"] > prev:
                last = s["t"]
            prev = s["fails"]
        out["tries"] = int((after[-1]["fails"] if after else base["fails"]) - base["fails"])
        if last is not None:
            out["last_try_ms"] = _ms(last - kill_t)
            out["still_trying"] = last >= end_t - 5 * interval
    ok = [r for r in records if isinstance(r[2], int) and 200 <= r[2] < 400]
    bad = [r for r in records if not (isinstance(r[2], int) and 200 <= r[2] < 400)]
    bad_after = [r for r in bad if r[1] >= kill_t]
    kinds = {}
    for r in bad_after:
        kinds[str(r[2])] = kinds.get(str(r[2]), 0) + 1
    span = (max(r[1] for r in records) - min(r[0] for r in records)) if records else 0
    out.update(requests=len(records), ok=len(ok), rps=len(records) / span if span > 0 else 0.0,
               errors=len(bad_after), errors_before=len(bad) - len(bad_after),
               error_kinds=kinds,
               last_error_ms=_ms(max(r[1] for r in bad_after) - kill_t) if bad_after else None)
    return out


def last_logged_before(log_text, kill_wall):
    """ms from the kill to the last request in an nginx `$msec` access log (None if empty)."""
    last = None
    for line in log_text.splitlines():
        try:
            t = float(line.split()[0])
        except (ValueError, IndexError):
            continue
        last = t if last is None else max(last, t)
    return None if last is None else _ms(last - kill_wall)


def p50_max(values, spec="{:.0f}"):
    """'p50 / max' of the values that are not None, or '-'."""
    v = [x for x in values if x is not None]
    if not v:
        return "-"
    return f"{spec.format(statistics.median(v))} / {spec.format(max(v))}"
