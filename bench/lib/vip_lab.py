"""The `pier lab` network as the VIP failover bench drives it.

Names, addresses and MACs mirror src/lab/plan.h (the source of truth; a
unit test pins the ones used here). The lab itself is built and removed by
`pier lab up|down`; this module adds what the bench does inside it: faults
(kill -9, link down, SIGTERM), keepalived on the nodes, the prober in the
client namespace, and owner lookups. Every process it starts is tracked and
stopped by PID; `pier lab down` also stops any it missed (they keep their
PID files and configs in the lab's run directory).
"""
import os
import re
import signal
import subprocess
import time

from . import procs

RUN_DIR = "/run/pier-lab"
CLIENT_NS = "pier-lab-client"
VIP4 = "10.77.0.100"
VIP6 = "fd77::100"
VRID = 77


def node_ns(n):
    return f"pier-lab-node{n}"


def node_mac(n):
    return f"02:77:00:00:00:1{n}"


def node_of_mac(mac):
    m = re.fullmatch(r"02:77:00:00:00:1([1-9])", (mac or "").lower().replace("-", ":"))
    return int(m.group(1)) if m else None


def node_of_label(label):
    """'node2-pod1' (or 'pod node2-pod1') -> 2; None if it names no node."""
    m = re.search(r"node([1-9])(?![0-9])", label or "")
    return int(m.group(1)) if m else None


def run(argv, timeout=10, check=True):
    """A short helper command (ip, arping); returns stdout. Bounded in time."""
    rc, out, err = procs.run_bounded(argv, timeout)
    if check and rc != 0:
        raise RuntimeError(f"{' '.join(argv)} -> {rc}: {(out + err).strip()[:400]}")
    return out


def read_pid(name):
    """PID from RUN_DIR/<name>.pid if that process runs and is the lab's."""
    try:
        with open(os.path.join(RUN_DIR, name + ".pid")) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return None
    if state in ("Z", "X") or (RUN_DIR + "/").encode() not in cmdline:
        return None
    return pid


class Lab:
    """`pier lab` commands for one bench run."""

    def __init__(self, pier, nodes, log):
        self.pier = pier
        self.nodes = nodes
        self.log = log

    def up(self, vip=True, heartbeat_ms=100, timeout=60):
        argv = [self.pier, "lab", "up", "--nodes", str(self.nodes), "--binary", self.pier,
                "--heartbeat", f"{heartbeat_ms}ms"]
        if not vip:
            argv.append("--no-vip")
        rc, out, err = procs.run_bounded(argv, timeout)
        if rc != 0:
            raise RuntimeError(f"pier lab up failed ({rc}):\n{out}{err}")

    def down(self):
        try:
            procs.run_bounded([self.pier, "lab", "down"], 60)
        except subprocess.TimeoutExpired:
            self.log("pier lab down timed out")

    def start_node(self, n, timeout=30):
        rc, out, err = procs.run_bounded([self.pier, "lab", "start-node", str(n)], timeout)
        if rc != 0:
            text = (out + err).strip()
            raise RuntimeError(f"pier lab start-node {n} failed ({rc}): {' | '.join(text.splitlines()[-8:])}")

    def node_pid(self, n):
        return read_pid(f"node{n}")

    def set_link(self, n, up):
        run(["ip", "-n", node_ns(n), "link", "set", "eth0", "up" if up else "down"])

    def del_vip(self, n):
        """What a reboot does to a VIP that a killed keepalived left on eth0."""
        run(["ip", "-n", node_ns(n), "addr", "del", f"{VIP4}/24", "dev", "eth0"], check=False)

    def client_neigh(self, ip=VIP4):
        """(mac or None, state or None) of the client's neighbour entry."""
        out = run(["ip", "-n", CLIENT_NS, "neigh", "show", ip], check=False)
        m = re.search(r"lladdr (\S+)", out)
        words = out.split()
        return (m.group(1).lower() if m else None), (words[-1] if words else None)

    def get(self, url=f"http://{VIP4}/", timeout=1.0):
        """Body of one GET from the client, or None."""
        try:
            rc, out, _ = procs.run_bounded(
                ["ip", "netns", "exec", CLIENT_NS, "curl", "-sS", "-m", str(timeout), url],
                timeout + 5)
        except subprocess.TimeoutExpired:
            return None
        return out.strip() if rc == 0 else None

    def steady_owner(self, timeout=30, need=5):
        """Wait until `need` GETs in a row are served through one node that is also
        the one the client's neighbour entry names; that node, or None."""
        deadline = time.monotonic() + timeout
        streak, last = 0, None
        while time.monotonic() < deadline:
            node = node_of_label(self.get() or "")
            streak = streak + 1 if node is not None and node == last else (1 if node else 0)
            last = node
            if streak >= need:
                mac, _ = self.client_neigh()
                if node_of_mac(mac) == node:
                    return node
                streak = 0
            time.sleep(0.05)
        return None


def keepalived_conf(node, advert_s):
    """VRRPv3 for one node: all BACKUP with equal priority and nopreempt, so a
    node that comes back never takes the VIP back (as pier's lab nodes should
    not either); the VIP on eth0, which the node's pier serves on 0.0.0.0:80."""
    advert = f"{advert_s:.2f}".rstrip("0").rstrip(".")
    return f"""# keepalived for node{node} of pier's lab (bench/vip_failover_bench.py)
global_defs {{
  router_id node{node}
  vrrp_version 3
}}
vrrp_instance lab {{
  state BACKUP
  nopreempt
  interface eth0
  virtual_router_id {VRID}
  priority 100
  advert_int {advert}
  virtual_ipaddress {{
    {VIP4}/24 dev eth0
  }}
}}
"""


class Keepalived:
    """keepalived in one node's namespace, with its own config, PID files and log."""

    def __init__(self, node, advert_s):
        self.node = node
        self.conf = os.path.join(RUN_DIR, f"ka-node{node}.conf")
        with open(self.conf, "w") as f:
            f.write(keepalived_conf(node, advert_s))
        self.managed = None

    def start(self):
        base = os.path.join(RUN_DIR, f"ka-node{self.node}")
        # A SIGKILLed keepalived leaves its PID files, and its VRRP child may
        # linger as a zombie nobody reaps, so keepalived would refuse to start
        # ("daemon is already running"). /run is empty after a reboot anyway.
        for suffix in (".pid", "-vrrp.pid"):
            try:
                os.unlink(base + suffix)
            except FileNotFoundError:
                pass
        argv = ["ip", "netns", "exec", node_ns(self.node), "keepalived", "--dont-fork",
                "--log-console", "--log-detail", "--no-syslog", "--vrrp",
                "-f", self.conf, "-p", base + ".pid", "-r", base + "-vrrp.pid"]
        self.managed = procs.Managed(f"keepalived-node{self.node}", argv, base + ".log")
        return self

    def alive(self):
        return self.managed is not None and self.managed.alive()

    def kill_hard(self):
        """SIGKILL the parent and its VRRP child at once (nothing is sent, the VIP stays)."""
        if self.managed is not None:
            self.managed.kill_now(signal.SIGKILL)
            self.managed.stop(grace=2)

    def stop(self, grace=5.0):
        """SIGTERM: keepalived sends a priority-0 advert and removes the VIP."""
        if self.managed is not None:
            self.managed.stop(grace=grace)

    def master_entries(self):
        """How often it has entered MASTER state so far (from its log)."""
        if self.managed is None:
            return 0
        try:
            with open(self.managed.log_path, errors="replace") as f:
                return sum(1 for line in f if "Entering MASTER STATE" in line)
        except OSError:
            return 0


class Probe:
    """`pier lab probe` in the client namespace, writing one line per request to a file."""

    def __init__(self, pier, path, url=f"http://{VIP4}/", interval="1ms", timeout="100ms",
                 duration_s=60):
        self.path = path
        argv = ["ip", "netns", "exec", CLIENT_NS, pier, "lab", "probe", url,
                "--interval", interval, "--timeout", timeout, "--duration", f"{duration_s}s"]
        self.managed = procs.Managed("probe", argv, path)

    def stop(self):
        self.managed.stop(grace=5)

    def text(self):
        try:
            with open(self.path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


def node_metrics(n, timeout=5):
    """A node pier's /stats/prometheus text (read inside its namespace), or ''."""
    try:
        rc, out, _ = procs.run_bounded(
            ["ip", "netns", "exec", node_ns(n), "curl", "-sS", "-m", "2",
             "http://127.0.0.1:9901/stats/prometheus"], timeout)
    except subprocess.TimeoutExpired:
        return ""
    return out if rc == 0 else ""


def ipv4_range(first, count):
    """'10.80.0.1', 3 -> ('10.80.0.1', '10.80.0.3')."""
    a = [int(x) for x in first.split(".")]
    n = ((a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3]) + count - 1
    return first, f"{n >> 24 & 255}.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


def scale_config(ips, heartbeat_ms=100, first="10.80.0.1"):
    """node1's config with `ips` announce-only services from one pool (10,000-IP run)."""
    lo, hi = ipv4_range(first, ips)
    lines = [
        "# node1 of pier's lab announcing many IPs (bench/vip_failover_bench.py --modes scale)",
        "workers: 1",
        "drain_timeout: 2s",
        'admin: { address: "127.0.0.1:9901" }',
        "virtual_ips:",
        "  node_name: node1",
        f"  key_file: {RUN_DIR}/cluster.key",
        "  interfaces: [eth0]",
        f"  heartbeat: {{ interval: {heartbeat_ms}ms, dead_after_missed: 3 }}",
        "  pools:",
        f'    - {{ name: big, addresses: ["{lo}-{hi}"] }}',
        "  services:",
    ]
    for i in range(ips):
        lines.append(f"    - {{ name: s{i:05d}, pool: big, ports: [ {{ port: 80, protocol: tcp }} ] }}")
    return "\n".join(lines) + "\n"
