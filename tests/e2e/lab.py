"""Drives `pier lab` for the end-to-end VIP tests: the lab's namespaces and
processes, faults, and real kernel clients in the client namespace (curl,
arping, ndisc6, tcpdump, ip neigh, `pier lab probe`).

Names and addresses mirror src/lab/plan.h. Every helper is bounded in time;
every process started here is stopped by PID (tcpdump, probes), and the
fixture always ends with `pier lab down`, which stops the lab's own piers by
PID file and deletes every pier-lab-* namespace.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import signal
import struct
import subprocess
import tempfile
import time
from pathlib import Path

RUN_DIR = Path("/run/pier-lab")
CLIENT_NS = "pier-lab-client"
VIP4 = "10.77.0.100"
VIP6 = "fd77::100"
HEARTBEAT_GROUP = "239.255.80.80"
HEARTBEAT_PORT = 7946


def node_ns(n: int) -> str:
    return f"pier-lab-node{n}"


def node_mac(n: int) -> str:
    return f"02:77:00:00:00:1{n}"


def node_of_mac(mac: str | None) -> int | None:
    m = re.fullmatch(r"02:77:00:00:00:1([1-9])", (mac or "").lower())
    return int(m.group(1)) if m else None


def node_of_label(label: str | None) -> int | None:
    m = re.search(r"node([1-9])(?![0-9])", label or "")
    return int(m.group(1)) if m else None


def run(argv: list[str], timeout: float = 10.0, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} -> {r.returncode}\n{r.stdout}{r.stderr}")
    return r


def in_client(argv: list[str], timeout: float = 10.0, check: bool = False) -> subprocess.CompletedProcess:
    return run(["ip", "netns", "exec", CLIENT_NS] + argv, timeout=timeout, check=check)


def lab_namespaces() -> list[str]:
    r = run(["ip", "netns", "list"], check=False)
    return sorted(line.split()[0] for line in r.stdout.splitlines() if line.startswith("pier-lab-"))


def read_pid(name: str) -> int | None:
    """The PID in RUN_DIR/<name>.pid while that process runs the lab's config."""
    try:
        pid = int((RUN_DIR / f"{name}.pid").read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return None
    if state in ("Z", "X") or f"{RUN_DIR}/".encode() not in cmdline:
        return None
    return pid


def lab_pids() -> list[int]:
    """Every running process whose command line names the lab's run directory."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if f"{RUN_DIR}/".encode() in Path(f"/proc/{d}/cmdline").read_bytes():
                out.append(int(d))
        except OSError:
            pass
    return out


# ---- the prober ------------------------------------------------------------------------

_PROBE_LINE = re.compile(r"^(\d+) (\d+) (ok|fail) (\S+)$")


class Probe:
    """`pier lab probe` in the client namespace: a GET every `interval`, each on a
    new connection; results as (start_ns, end_ns, ok, detail) in CLOCK_MONOTONIC."""

    def __init__(self, binary: Path, url: str = f"http://{VIP4}/", interval: str = "1ms",
                 timeout: str = "100ms", duration: float = 10.0):
        self._out = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", CLIENT_NS, str(binary), "lab", "probe", url, "--interval", interval,
             "--timeout", timeout, "--duration", f"{duration}s"],
            stdout=self._out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def stop(self) -> list[tuple[int, int, bool, str]]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self._out.seek(0)
        text = self._out.read().decode(errors="replace")
        self._out.close()
        self.text = text
        return [(int(m.group(1)), int(m.group(2)), m.group(3) == "ok", m.group(4))
                for m in map(_PROBE_LINE.match, text.splitlines()) if m]


def first_ok_via_other(results, t0_ns: int, old_node: int):
    """(ms from t0, node) of the first success through a node other than old_node."""
    for _, end, ok, detail in sorted(results, key=lambda r: r[1]):
        if end >= t0_ns and ok and node_of_label(detail) not in (None, old_node):
            return (end - t0_ns) / 1e6, node_of_label(detail)
    return None, None


# ---- packet captures -------------------------------------------------------------------

class Capture:
    """tcpdump in the client namespace (text, link-level headers, line-buffered)."""

    def __init__(self, bpf: str):
        self._out = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", CLIENT_NS, "tcpdump", "-i", "eth0", "-nn", "-e", "-l", "-tt", bpf],
            stdout=self._out, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        # tcpdump says "listening on eth0" on stderr once the capture runs.
        deadline = time.monotonic() + 5
        buf = b""
        os.set_blocking(self.proc.stderr.fileno(), False)
        while b"listening on" not in buf and time.monotonic() < deadline and self.proc.poll() is None:
            try:
                buf += self.proc.stderr.read() or b""
            except BlockingIOError:
                pass
            time.sleep(0.02)  # poll interval
        if b"listening on" not in buf:
            self.stop()
            raise AssertionError(f"tcpdump did not start: {buf.decode(errors='replace')}")

    def lines(self) -> list[str]:
        self._out.flush()
        self._out.seek(0)
        return self._out.read().decode(errors="replace").splitlines()

    def stop(self) -> list[str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        out = self.lines()
        self._out.close()
        self.proc.stderr.close()
        return out


def gratuitous_arps(lines: list[str], ip: str = VIP4) -> list[str]:
    """Source MACs of gratuitous ARPs for `ip` (request form: sender = target = ip;
    or a broadcast reply announcing ip)."""
    macs = []
    for line in lines:
        src = line.split()[1] if len(line.split()) > 1 else ""
        if re.search(rf"Request who-has {re.escape(ip)} tell {re.escape(ip)},", line):
            macs.append(src.lower())
        elif re.search(rf"Reply {re.escape(ip)} is-at ", line) and "ff:ff:ff:ff:ff:ff" in line:
            macs.append(src.lower())
    return macs


def arp_reply_macs(lines: list[str], ip: str = VIP4) -> set[str]:
    """Every MAC that claimed `ip` in an ARP reply."""
    return {m.group(1).lower() for m in (re.search(rf"Reply {re.escape(ip)} is-at ([0-9a-fA-F:]+)", l)
                                         for l in lines) if m}


# ---- forged heartbeats -----------------------------------------------------------------

def rendezvous_weight(node: str, ip_bytes: bytes) -> int:
    fam = 4 if len(ip_bytes) == 4 else 6
    return int.from_bytes(hashlib.sha256(node.encode() + b"\0" + bytes([fam]) + ip_bytes).digest()[:8], "big")


def forged_heartbeat(node: str, key: bytes, seq: int, ips: list[bytes] | None = None,
                     except_listed: bool = True) -> bytes:
    """A heartbeat in pier's wire format (src/vip/heartbeat.h), MACed with `key`.
    By default "eligible for every IP" (except-listed with an empty list)."""
    ips = ips or []
    v4 = [i for i in ips if len(i) == 4]
    v6 = [i for i in ips if len(i) == 16]
    now_ms = int(time.time() * 1000)
    flags = 0x02 if except_listed else 0
    body = (b"PIER" + bytes([1, flags, len(node), 0]) + struct.pack(">QQQIHH", now_ms, seq, now_ms, 100,
                                                                    len(v4), len(v6))
            + node.encode() + b"".join(v4) + b"".join(v6))
    return body + hmac.new(key, body, hashlib.sha256).digest()


def send_udp_from_client(datagrams: list[bytes], group: str = HEARTBEAT_GROUP, port: int = HEARTBEAT_PORT,
                         spacing_s: float = 0.02) -> None:
    """Sends each datagram from the client namespace to group:port on the lab LAN."""
    script = (
        "import socket,sys,time\n"
        "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
        "s.setsockopt(socket.IPPROTO_IP,socket.IP_MULTICAST_TTL,1)\n"
        "s.setsockopt(socket.IPPROTO_IP,socket.IP_MULTICAST_IF,socket.inet_aton('10.77.0.1'))\n"
        "for h in sys.argv[3:]:\n"
        "    s.sendto(bytes.fromhex(h),(sys.argv[1],int(sys.argv[2])))\n"
        f"    time.sleep({spacing_s})\n")
    in_client(["/usr/bin/python3", "-c", script, group, str(port)] + [d.hex() for d in datagrams],
              timeout=30, check=True)


# ---- the lab ---------------------------------------------------------------------------

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


class PierLab:
    def __init__(self, binary: Path, nodes: int = 3):
        self.binary = Path(binary)
        self.nodes = nodes

    def cli(self, *args: str, timeout: float = 90.0) -> subprocess.CompletedProcess:
        return run([str(self.binary), "lab", *args], timeout=timeout, check=False)

    def up(self, *extra: str) -> subprocess.CompletedProcess:
        r = self.cli("up", "--nodes", str(self.nodes), "--binary", str(self.binary), *extra)
        if r.returncode != 0:
            raise AssertionError(f"pier lab up failed ({r.returncode}):\n{r.stdout}{r.stderr}\n"
                                 + self.log_tails())
        return r

    def down(self) -> subprocess.CompletedProcess:
        return self.cli("down", timeout=60)

    def log_tails(self, n: int = 15) -> str:
        out = []
        for log in sorted(RUN_DIR.glob("*.log")) if RUN_DIR.is_dir() else []:
            lines = log.read_text(errors="replace").splitlines()[-n:]
            out.append(f"---- {log.name} ----\n" + "\n".join(lines))
        return "\n".join(out)

    def sanitizer_reports(self) -> str:
        found = []
        for log in sorted(RUN_DIR.glob("*.log")) if RUN_DIR.is_dir() else []:
            text = log.read_text(errors="replace")
            if any(m in text for m in SANITIZER_MARKERS):
                found.append(f"---- {log.name} ----\n" + "\n".join(text.splitlines()[-60:]))
        return "\n".join(found)

    # processes and links
    def node_pid(self, n: int) -> int | None:
        return read_pid(f"node{n}")

    def signal_node(self, n: int, sig: int) -> int:
        pid = self.node_pid(n)
        assert pid, f"node{n}'s pier is not running\n{self.log_tails()}"
        os.kill(pid, sig)
        return pid

    def wait_node_gone(self, n: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.node_pid(n) and time.monotonic() < deadline:
            time.sleep(0.02)  # poll interval
        assert not self.node_pid(n), f"node{n} still running after {timeout}s"

    def start_node(self, n: int) -> None:
        r = self.cli("start-node", str(n), timeout=60)
        assert r.returncode == 0, f"start-node {n}: {r.stdout}{r.stderr}"

    def set_link(self, n: int, up: bool) -> None:
        run(["ip", "-n", node_ns(n), "link", "set", "eth0", "up" if up else "down"])

    def restore(self, settle_s: float = 1.5) -> None:
        """Every node's link up and pier running (after a test's faults). A node
        that returns may win IPs back once it has heard the others (its start-up
        hold-off), so wait `settle_s` before anyone asks who owns what."""
        changed = False
        for n in range(1, self.nodes + 1):
            link = run(["ip", "-n", node_ns(n), "link", "show", "eth0"]).stdout
            if "state DOWN" in link or ",UP" not in link:
                self.set_link(n, True)
                changed = True
            if not self.node_pid(n):
                self.start_node(n)
                changed = True
        if changed:
            time.sleep(settle_s)

    # the client's view
    def get(self, url: str = f"http://{VIP4}/", timeout: float = 2.0) -> str | None:
        r = in_client(["curl", "-sS", "-g", "-m", str(timeout), url], timeout=timeout + 5)
        return r.stdout.strip() if r.returncode == 0 else None

    def neigh(self, ip: str = VIP4) -> tuple[str | None, str | None]:
        r = in_client(["ip", "neigh", "show", ip])
        m = re.search(r"lladdr (\S+)", r.stdout)
        words = r.stdout.split()
        return (m.group(1).lower() if m else None), (words[-1] if words else None)

    def owner(self, ip: str = VIP4, url: str | None = None, timeout: float = 15.0, need: int = 3) -> int:
        """The node that serves `ip` steadily (`need` GETs in a row through it) and
        that the client's neighbour entry names."""
        url = url or (f"http://[{ip}]/" if ":" in ip else f"http://{ip}/")
        deadline = time.monotonic() + timeout
        streak, last, seen = 0, None, []
        while time.monotonic() < deadline:
            body = self.get(url, timeout=1.0)
            node = node_of_label(body)
            seen.append(body)
            streak = streak + 1 if node is not None and node == last else (1 if node else 0)
            last = node
            # The node must also be the one pier itself names: right after the lab
            # starts (or a node joins), a planned move may still be under way, and
            # the old owner serves the clients that have not switched yet.
            if streak >= need and node_of_mac(self.neigh(ip)[0]) == node and self.metric_owners(ip) == [node]:
                return node
            time.sleep(0.05)  # poll interval
        raise AssertionError(f"{ip} has no steady owner after {timeout}s (answers: {seen[-5:]}, "
                             f"neigh {self.neigh(ip)})\n{self.log_tails()}")

    def metric_owners(self, ip: str) -> list[int]:
        """The nodes whose pier_vip_owned{ip} is 1."""
        from pier_proc import Metrics  # tests/e2e's own helper, imported where it is used
        return [n for n in range(1, self.nodes + 1)
                if Metrics(self.metrics_text(n)).value("pier_vip_owned", ip=ip) == 1]

    def metrics_text(self, n: int) -> str:
        r = run(["ip", "netns", "exec", node_ns(n), "curl", "-sS", "-m", "3",
                 "http://127.0.0.1:9901/stats/prometheus"], check=True)
        return r.stdout

    def probe(self, **kw) -> Probe:
        return Probe(self.binary, **kw)
