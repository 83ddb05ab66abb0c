#!/usr/bin/python3
"""Virtual-IP failover in pier's lab: pier against keepalived (VRRPv3).

Both run in the same `pier lab` network (a client, a bridge as the switch,
2-3 nodes in network namespaces, two pod-like backends behind each node).
pier nodes run with virtual_ips (pier answers ARP/NDP and elects the owner);
keepalived nodes run pier without virtual_ips on 0.0.0.0:80 and keepalived
(VRRPv3, all BACKUP, equal priority, nopreempt) places 10.77.0.100 on the
owner's eth0. The heartbeat interval equals keepalived's advert_int.

From the client namespace, `pier lab probe` starts a GET to the VIP every
1 ms, each on a new connection with a 100 ms timeout, and records which pod
answered. Faults, injected at a random point of the heartbeat cycle:
- hard: the owner's eth0 goes down and its pier (or keepalived: the daemon
  and its VRRP child) gets SIGKILL; measured from then to the first request
  served through another node;
- graceful: SIGTERM to the owner's pier (or keepalived); the same time, the
  longest gap without a success, and the failed requests.
Also: a CPU hog beside everything, counting VIP moves the client sees
(spurious failovers), and one pier node announcing 10,000 IPs (RSS, CPU,
ARP frames). Method and columns: bench/README.md.

Run as root with Debian's python:  /usr/bin/python3 bench/vip_failover_bench.py --help
"""
import argparse
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import harness, procs, vip_lab, vip_trials  # noqa: E402
from lib.harness import log  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMPLS = ("pier", "keepalived")
MODES = ("hard", "graceful", "starve", "scale")


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="VIP failover: pier vs keepalived in pier's network-namespace lab.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--pier", default=os.path.join(REPO, "build/release/pier"),
                   help="pier binary (runs the lab, the pods, the probe and the pier nodes)")
    p.add_argument("--impls", default="pier,keepalived", help="comma list of " + ", ".join(IMPLS))
    p.add_argument("--modes", default="hard,graceful,starve,scale",
                   help="comma list of " + ", ".join(MODES))
    p.add_argument("--intervals", default="1000,100,10",
                   help="heartbeat / advert_int in ms (keepalived's minimum is 10)")
    p.add_argument("--trials", type=int, default=20, help="hard-failure trials per implementation and interval")
    p.add_argument("--graceful-trials", type=int, help="graceful-stop trials (default: --trials)")
    p.add_argument("--nodes", type=int, default=3, help="lab nodes (2 or 3)")
    p.add_argument("--probe-interval", default="1ms", help="the client starts a request this often")
    p.add_argument("--probe-timeout", default="100ms", help="and gives up on it after this")
    p.add_argument("--starve-seconds", type=float, default=60, help="CPU-starvation window")
    p.add_argument("--starve-intervals", default="100,10", help="intervals (ms) for the starvation run")
    p.add_argument("--hogs", type=int, default=2 * (os.cpu_count() or 1),
                   help="busy-loop processes in the starvation run")
    p.add_argument("--hog-nice", type=int, default=0,
                   help="nice value of the hogs; below 0 they outrank pier and keepalived (nice 0)")
    p.add_argument("--scale-ips", type=int, default=10000, help="IPs announced by one node (scale mode)")
    p.add_argument("--seed", type=int, default=None, help="random seed for the fault timing")
    p.add_argument("--budget", type=float, default=4 * 3600,
                   help="seconds; no new trial starts after this (what ran is reported)")
    p.add_argument("--out", help="also write the markdown report to this file")
    p.add_argument("--json", help="write every trial's figures to this file")
    args = p.parse_args(argv)
    args.impls = [x for x in args.impls.split(",") if x]
    args.modes = [x for x in args.modes.split(",") if x]
    for x in args.impls:
        if x not in IMPLS:
            p.error(f"unknown implementation {x!r}")
    for x in args.modes:
        if x not in MODES:
            p.error(f"unknown mode {x!r}")
    args.intervals = [int(x) for x in args.intervals.split(",") if x]
    args.starve_intervals = [int(x) for x in args.starve_intervals.split(",") if x]
    if any(i < 10 for i in args.intervals + args.starve_intervals):
        p.error("intervals must be >= 10 ms (keepalived's VRRPv3 minimum)")
    if args.graceful_trials is None:
        args.graceful_trials = args.trials
    if not 1 <= args.nodes <= 9:
        p.error("--nodes must be 1..9")
    args.pier = os.path.abspath(args.pier)
    return args


class Bench:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.tmp = tempfile.mkdtemp(prefix="pier-vip-bench-")
        self.lab = vip_lab.Lab(args.pier, args.nodes, log)
        self.kas = {}
        self.live = []  # other Managed processes (hogs, tcpdump, probes)
        self.trials, self.starve, self.scale, self.problems = [], [], [], []
        self.t_start = time.monotonic()
        self.impl = None
        self.interval_ms = None

    def note(self, msg):
        log(msg)
        self.problems.append(msg.splitlines()[0])

    def over_budget(self):
        return time.monotonic() - self.t_start > self.args.budget

    # ---- lab per implementation ------------------------------------------

    def setup(self, impl, interval_ms):
        self.teardown()
        self.impl, self.interval_ms = impl, interval_ms
        if impl == "pier":
            self.lab.up(vip=True, heartbeat_ms=interval_ms)
        else:
            self.lab.up(vip=False)
            for n in range(1, self.args.nodes + 1):
                self.kas[n] = vip_lab.Keepalived(n, interval_ms / 1000).start()
        owner = self.lab.steady_owner(timeout=30)
        if owner is None:
            raise RuntimeError(f"{impl} at {interval_ms} ms: the VIP never served steadily from one node")
        time.sleep(self.settle_s())
        return owner

    def teardown(self):
        for ka in self.kas.values():
            ka.stop(grace=3)
        self.kas = {}
        for m in reversed(self.live):
            m.stop(grace=3)
        self.live = []
        self.lab.down()

    def settle_s(self):
        """After a node returns: long enough for it to be heard and for an
        election (or a VRRP master) to settle."""
        return max(1.0, 5 * self.interval_ms / 1000) + 0.5

    def window_s(self):
        """Longest a trial waits for the new owner."""
        return max(3.0, 8 * self.interval_ms / 1000 + 2)

    # ---- faults -----------------------------------------------------------

    def inject(self, kind, node):
        """Returns the fault's time (CLOCK_MONOTONIC ns)."""
        if kind == "hard":
            if self.impl == "keepalived":
                pids = self.kas[node].managed.pids()  # read /proc before the clock starts
            self.lab.set_link(node, False)
            t0 = time.monotonic_ns()
            if self.impl == "pier":
                pid = self.lab.node_pid(node)
                if pid:
                    os.kill(pid, signal.SIGKILL)
            else:
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            return t0
        t0 = time.monotonic_ns()
        if self.impl == "pier":
            pid = self.lab.node_pid(node)
            if pid:
                os.kill(pid, signal.SIGTERM)
        else:
            os.kill(self.kas[node].managed.pid, signal.SIGTERM)
        return t0

    def restore(self, kind, node):
        """Bring the faulty node back as a fresh member (a reboot after a hard failure)."""
        if self.impl == "keepalived":
            self.kas[node].stop(grace=5)  # reaps it (SIGKILLed or exiting on SIGTERM)
            if kind == "hard":
                self.lab.del_vip(node)
        else:
            deadline = time.monotonic() + 10
            while self.lab.node_pid(node) and time.monotonic() < deadline:
                time.sleep(0.02)  # the SIGTERMed pier drains and exits
        if kind == "hard":
            self.lab.set_link(node, True)
        if self.impl == "keepalived":
            self.kas[node] = vip_lab.Keepalived(node, self.interval_ms / 1000).start()
        else:
            self.lab.start_node(node)
        time.sleep(self.settle_s())
        if self.impl == "keepalived" and not self.kas[node].alive():
            raise RuntimeError(f"keepalived on node{node} did not come back:\n"
                               f"{self.kas[node].managed.log_tail()}")

    # ---- one trial --------------------------------------------------------

    def trial(self, kind, n):
        a = self.args
        owner = self.lab.steady_owner(timeout=20)
        if owner is None:
            self.note(f"{self.impl} {self.interval_ms} ms {kind} #{n}: no steady owner; lab rebuilt")
            self.setup(self.impl, self.interval_ms)
            return None
        path = os.path.join(self.tmp, f"{self.impl}-{self.interval_ms}-{kind}-{n}.probe")
        window = self.window_s()
        probe = vip_lab.Probe(a.pier, path, interval=a.probe_interval, timeout=a.probe_timeout,
                              duration_s=int(window + 15))
        self.live.append(probe.managed)
        try:
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                rs = vip_trials.parse_probe(probe.text())
                if sum(1 for r in rs if r[2]) >= 50:
                    break
                time.sleep(0.05)
            time.sleep(0.2 + self.rng.uniform(0, self.interval_ms / 1000))
            t0 = self.inject(kind, owner)
            end = time.monotonic() + window
            while time.monotonic() < end:
                time.sleep(0.05)
                rs = vip_trials.parse_probe(probe.text())
                if vip_trials.settled_after(rs, t0, owner, 300_000_000):
                    break
            t_end = time.monotonic_ns()
        finally:
            probe.stop()
            self.live.remove(probe.managed)
        rs = vip_trials.parse_probe(probe.text())
        res = vip_trials.analyze_fault(rs, t0, t_end, owner)
        before = [r for r in rs if r[1] < t0]
        res.update(impl=self.impl, interval_ms=self.interval_ms, kind=kind, trial=n, old_node=owner,
                   ok_before=sum(1 for r in before if r[2]),
                   failed_before=sum(1 for r in before if not r[2]))
        log(f"[{self.impl} {self.interval_ms} ms {kind} {n + 1}] node{owner} -> "
            f"node{res['new_node']}: {vip_trials.fmt(res['to_new_owner_ms'])} ms, "
            f"{res['failed']} failed {res['fail_kinds']}, longest gap {res['longest_gap_ms']:.1f} ms")
        if res["failed_before"]:
            self.note(f"{self.impl} {self.interval_ms} ms {kind} #{n}: {res['failed_before']} "
                      "requests failed before the fault")
        self.restore(kind, owner)
        return res

    # ---- CPU starvation ---------------------------------------------------

    def starve_run(self, impl, interval_ms):
        a = self.args
        self.setup(impl, interval_ms)
        path = os.path.join(self.tmp, f"starve-{impl}-{interval_ms}.probe")
        masters0 = sum(k.master_entries() for k in self.kas.values())
        metrics0 = {n: vip_lab.node_metrics(n) for n in range(1, a.nodes + 1)} if impl == "pier" else {}
        probe = vip_lab.Probe(a.pier, path, interval="5ms", timeout="200ms",
                              duration_s=int(a.starve_seconds + 20))
        self.live.append(probe.managed)
        hogs = []
        try:
            time.sleep(0.5)
            t0 = time.monotonic_ns()
            for i in range(a.hogs):
                m = procs.Managed(f"hog{i}", ["nice", "-n", str(a.hog_nice), "timeout",
                                              str(int(a.starve_seconds + 5)), "sh", "-c", "while :; do :; done"],
                                  os.path.join(self.tmp, f"hog{i}.log"))
                hogs.append(m)
                self.live.append(m)
            time.sleep(a.starve_seconds)
            t1 = time.monotonic_ns()
        finally:
            for m in hogs:
                m.stop(grace=2)
                self.live.remove(m)
            probe.stop()
            self.live.remove(probe.managed)
        rs = [r for r in vip_trials.parse_probe(probe.text()) if t0 <= r[1] <= t1]
        run = {"impl": impl, "interval_ms": interval_ms, "window_s": (t1 - t0) / 1e9,
               "hogs": f"{a.hogs}" + (f" at nice {a.hog_nice}" if a.hog_nice else ""),
               "moves": vip_trials.count_moves(rs), "failed": sum(1 for r in rs if not r[2]),
               "requests": len(rs)}
        if impl == "keepalived":
            run["owner_changes"] = sum(k.master_entries() for k in self.kas.values()) - masters0
        else:
            deltas = {n: counter_deltas(metrics0.get(n, ""), vip_lab.node_metrics(n))
                      for n in range(1, a.nodes + 1)}
            run["metrics_delta"] = deltas
            run["owner_changes"] = sum(v for d in deltas.values() for k, v in d.items()
                                       if k.startswith("pier_vip_takeovers_total"))
        log(f"[starve {impl} {interval_ms} ms] {run['moves']} moves, {run['failed']} failed of "
            f"{run['requests']}, {run['owner_changes']} ownership changes")
        self.starve.append(run)

    # ---- 10,000 IPs -------------------------------------------------------

    def scale_run(self):
        a = self.args
        self.teardown()
        self.impl, self.interval_ms = "pier", 100
        self.lab.nodes = 1
        try:
            self.lab.up(vip=True, heartbeat_ms=100)
        except RuntimeError as e:
            self.note(f"scale: lab up failed: {str(e).splitlines()[0]}")
            return
        finally:
            self.lab.nodes = a.nodes
        conf = os.path.join(vip_lab.RUN_DIR, "node1.yaml")
        pid = self.lab.node_pid(1)
        if pid:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while self.lab.node_pid(1) and time.monotonic() < deadline:
                time.sleep(0.02)
        with open(conf, "w") as f:
            f.write(vip_lab.scale_config(a.scale_ips))
        rc, out, err = procs.run_bounded([a.pier, "validate", conf], 60)
        if rc != 0:
            self.note(f"scale: pier rejects the {a.scale_ips}-IP config: {(out + err).strip()[:300]}")
            return
        vip_lab.run(["ip", "-n", vip_lab.CLIENT_NS, "route", "add", "10.80.0.0/16", "dev", "eth0"])
        cap = os.path.join(self.tmp, "scale-arp.txt")
        tcpdump = procs.Managed("tcpdump", ["ip", "netns", "exec", vip_lab.CLIENT_NS, "tcpdump", "-i", "eth0",
                                            "-nn", "-tt", "-l", "-B", "16384",
                                            f"arp and ether src {vip_lab.node_mac(1)}"], cap)
        self.live.append(tcpdump)
        time.sleep(1.0)
        run = {"ips": a.scale_ips}
        try:
            t0 = time.monotonic()
            self.lab.start_node(1, timeout=120)
            pid = self.lab.node_pid(1)
            cpu0 = procs.cpu_ns([pid])
            time.sleep(max(0.0, t0 + 10 - time.monotonic()))
            cpu1 = procs.cpu_ns([pid])
            time.sleep(10)
            cpu2 = procs.cpu_ns([pid])
            run["cpu_takeover_s"] = (cpu1 - cpu0) / 1e9
            run["cpu_steady_pct"] = (cpu2 - cpu1) / 1e9 / 10 * 100
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        run["rss_mib"] = int(line.split()[1]) / 1024
            lo, hi = vip_lab.ipv4_range("10.80.0.1", a.scale_ips)
            sample = sorted({lo, hi} | {vip_lab.ipv4_range("10.80.0.1", self.rng.randint(1, a.scale_ips))[1]
                                       for _ in range(3)})
            ok = 0
            for ip in sample:
                rc, _, _ = procs.run_bounded(["ip", "netns", "exec", vip_lab.CLIENT_NS, "arping", "-c", "1",
                                              "-w", "2", "-i", "eth0", ip], 10)
                ok += rc == 0
            run["answering"] = f"{ok}/{len(sample)}"
            run["garp_metric"] = counter_deltas("", vip_lab.node_metrics(1)).get("pier_vip_garp_sent_total")
        finally:
            tcpdump.stop(grace=3)
            self.live.remove(tcpdump)
        stamps = []
        with open(cap, errors="replace") as f:
            for line in f:
                head = line.split(" ", 1)[0]
                if "ARP" in line and head.replace(".", "", 1).isdigit():
                    stamps.append(float(head))
        run["arp_frames"] = len(stamps)
        run["arp_peak_per_s"] = vip_trials.per_second_peak(stamps)
        log(f"[scale] {run}")
        self.scale.append(run)

    # ---- driver -----------------------------------------------------------

    def run(self):
        a = self.args
        if not (os.path.isfile(a.pier) and os.access(a.pier, os.X_OK)):
            raise SystemExit(f"pier binary {a.pier} not found: build it (cmake --preset release) or pass --pier")
        for tool in ("ip", "keepalived", "curl", "tcpdump", "arping"):
            if not shutil.which(tool):
                self.note(f"{tool} not installed (scripts/install-deps.sh)")
        for iv in a.intervals:
            for impl in a.impls:
                if "hard" not in a.modes and "graceful" not in a.modes:
                    break
                if self.over_budget():
                    self.note(f"budget reached: {impl} at {iv} ms not run")
                    continue
                try:
                    self.setup(impl, iv)
                except RuntimeError as e:
                    self.note(f"{impl} at {iv} ms: {str(e).splitlines()[0]}")
                    continue
                for kind, count in (("hard", a.trials), ("graceful", a.graceful_trials)):
                    if kind not in a.modes:
                        continue
                    for n in range(count):
                        if self.over_budget():
                            self.note(f"budget reached during {impl} {iv} ms {kind}")
                            break
                        try:
                            res = self.trial(kind, n)
                        except RuntimeError as e:
                            self.note(f"{impl} {iv} ms {kind} #{n}: {str(e).splitlines()[0]}")
                            res = None
                            try:
                                self.setup(impl, iv)
                            except RuntimeError as e2:
                                self.note(f"{impl} at {iv} ms: {str(e2).splitlines()[0]}")
                                break
                        if res is not None:
                            self.trials.append(res)
        if "starve" in a.modes:
            for iv in a.starve_intervals:
                for impl in a.impls:
                    if self.over_budget():
                        break
                    try:
                        self.starve_run(impl, iv)
                    except RuntimeError as e:
                        self.note(f"starve {impl} {iv} ms: {str(e).splitlines()[0]}")
        if "scale" in a.modes and "pier" in a.impls and not self.over_budget():
            try:
                self.scale_run()
            except RuntimeError as e:
                self.note(f"scale: {str(e).splitlines()[0]}")

    def render(self):
        a = self.args
        rev = harness.git_rev(REPO)
        out = ["# pier VIP failover benchmark", "",
               harness.machine_line(),
               f"- keepalived: {harness.tool_version(['keepalived', '--version'])}",
               f"- pier: {a.pier}" + (f" (git {rev})" if rev else ""),
               f"- lab: {a.nodes} nodes on one bridge, 2 pods each; client probe every {a.probe_interval} "
               f"(new connection, {a.probe_timeout} timeout); faults at a random point of the "
               f"heartbeat cycle (seed {a.seed})",
               "- p99 of 20 trials is the largest value (nearest rank); times in ms from the fault",
               ""]
        intervals = a.intervals
        if self.trials:
            out += ["## Hard failure (owner's link down + SIGKILL): to the first request through the new owner",
                    "", vip_trials.hard_table(self.trials, a.impls, intervals), "",
                    "## Graceful stop (SIGTERM to the owner)", "",
                    vip_trials.graceful_table(self.trials, a.impls, intervals), ""]
            if set(a.impls) == set(IMPLS):
                out += ["## pier ÷ keepalived (below 1 favours pier)", "",
                        "| fault | interval | p50 | p99 |", "|---|---|---|---|"]
                out += vip_trials.ratio_rows(self.trials, intervals, "hard")
                out += vip_trials.ratio_rows(self.trials, intervals, "graceful")
                out.append("")
        if self.starve:
            out += ["## CPU starvation: spurious moves", "", vip_trials.starve_table(self.starve), ""]
        if self.scale:
            out += ["## One node announcing many IPs", "", vip_trials.scale_table(self.scale), ""]
        if "pier" in a.impls:
            out += ["## Goals (issue 4)", ""] + vip_trials.goals(self.trials, self.starve, intervals) + [""]
        out += ["## Problems", ""] + ([f"- {p}" for p in self.problems] or ["- none"])
        return "\n".join(out) + "\n"


def counter_deltas(before, after):
    """{metric{labels}: after - before} for the pier_vip/pier_announce counters that changed."""
    def parse(text):
        vals = {}
        for line in text.splitlines():
            if line.startswith(("pier_vip", "pier_announce")) and " " in line:
                k, v = line.rsplit(" ", 1)
                try:
                    vals[k] = float(v)
                except ValueError:
                    pass
        return vals
    b, a = parse(before), parse(after)
    return {k: a[k] - b.get(k, 0) for k in a if a[k] != b.get(k, 0)}


def main(argv):
    args = parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("run as root: the lab needs network namespaces")
    bench = Bench(args)

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        bench.run()
    except KeyboardInterrupt:
        bench.note("interrupted")
    finally:
        bench.teardown()
        shutil.rmtree(bench.tmp, ignore_errors=True)
    report = bench.render()
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"trials": bench.trials, "starve": bench.starve, "scale": bench.scale,
                       "problems": bench.problems}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
