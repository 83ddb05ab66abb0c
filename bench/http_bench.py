#!/usr/bin/python3
"""pier's L7 HTTP benchmark against nginx and HAProxy on loopback.

Starts two nginx backends, the proxies under test (pier, nginx, HAProxy),
then runs wrk against each target for every load in interleaved rounds and
prints markdown tables of medians plus pier-vs-peer ratios. Method and
column meanings: bench/README.md.

Run with Debian's python:  /usr/bin/python3 bench/http_bench.py --help
"""
import argparse
import datetime
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import configs, harness, procs, report, sysload, wrk  # noqa: E402
from lib.harness import log, raise_nofile, stub_accepts, tool_version  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_LOADS = "ka64,ka256,close64"
DEFAULT_TARGETS = "pier1,pier2,ngx1,ngx2,hap1,hap2"


class Target:
    """One thing wrk is pointed at: a proxy we started, or `direct`."""

    def __init__(self, name):
        m = re.fullmatch(r"(pier|ngx|hap)(\d+)", name)
        if name == "direct":
            self.kind, self.workers = "direct", 0
        elif m and int(m.group(2)) >= 1:
            self.kind, self.workers = m.group(1), int(m.group(2))
        else:
            raise ValueError(f"unknown target {name!r} (want pierN, ngxN, hapN or direct)")
        self.name = name
        self.port = None
        self.managed = None  # procs.Managed; None for direct

    def pids(self):
        return self.managed.pids() if self.managed else []


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="L7 HTTP benchmark: pier vs nginx vs HAProxy (loopback, wrk).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--pier", default=os.path.join(REPO, "build/release/pier"),
                   help="pier binary; pier targets are skipped if it is missing")
    p.add_argument("--pier-args", default="run --config {config}",
                   help="arguments for pier; {config} is replaced by the config path")
    p.add_argument("--loads", default=DEFAULT_LOADS,
                   help="comma list of kaN (keep-alive, N conns) / closeN (Connection: close)")
    p.add_argument("--targets", default=DEFAULT_TARGETS,
                   help="comma list of pierN, ngxN, hapN (N workers/threads) and direct")
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds per load")
    p.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    p.add_argument("--warmup", type=float, default=0,
                   help="seconds of unmeasured wrk load before each cell (0: none)")
    p.add_argument("--idle-threshold", type=float, default=0.2,
                   help="cores busy below which the machine counts as idle")
    p.add_argument("--idle-wait", type=float, default=5,
                   help="max seconds to wait for an idle machine before each cell")
    p.add_argument("--max-bg", type=float, default=0.15,
                   help="re-measure a cell if foreign processes used more cores than this")
    p.add_argument("--retries", type=int, default=1,
                   help="max re-measurements per cell (the quietest attempt is kept)")
    p.add_argument("--out", help="also write the markdown report to this file")
    p.add_argument("--json", help="write raw per-cell results to this file")
    p.add_argument("--keep-tmp", action="store_true",
                   help="keep the temp dir with configs and logs")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.duration < 1 or args.retries < 0:
        p.error("--rounds and --duration must be >= 1, --retries >= 0")
    args.loads = [x for x in args.loads.split(",") if x]
    for load in args.loads:
        if wrk.parse_load(load) is None:
            p.error(f"bad load {load!r} (want kaN or closeN)")
    try:
        args.targets = [Target(x) for x in dict.fromkeys(t for t in args.targets.split(",") if t)]
    except ValueError as e:
        p.error(str(e))
    return args


def curl_check(port):
    """None if GET / returns 200 with the backends' 1024-byte body, else the problem."""
    return harness.curl_check(port, want_bytes=configs.BODY_BYTES)


def added_headers(port):
    """Forwarding headers the proxy added, as echoed by a backend (fairness check)."""
    try:
        _, out, _ = procs.run_bounded(
            ["curl", "-sS", "--max-time", "5", f"http://127.0.0.1:{port}/__hdrs"], 10)
    except subprocess.TimeoutExpired:
        return "timeout"
    added = re.findall(r"(\w+)=\[([^\]]+)\]", out)
    return ", ".join(f"{k}={v}" for k, v in added)


class Bench(harness.ProcessBench):
    def __init__(self, args):
        super().__init__(args, "pier-bench-")

    def _ready(self, name, port, managed):
        err = self._listening(name, port, managed)
        if err:
            return err
        return curl_check(port)

    def start_backends(self):
        for i in (1, 2):
            port = procs.free_port()
            m = self._start_nginx(f"be{i}", lambda pre, port=port: configs.nginx_backend(pre, port))
            err = self._ready(f"backend be{i}", port, m)
            if err:
                raise RuntimeError(err)
            self.backends.append((port, m))

    def start_target(self, t):
        ports = [p for p, _ in self.backends]
        if t.kind == "direct":
            t.port = ports[0]
            return None
        t.port = procs.free_port()
        if t.kind == "ngx":
            t.managed = self._start_nginx(
                t.name, lambda pre: configs.nginx_proxy(pre, t.port, t.workers, ports))
        elif t.kind == "hap":
            conf = os.path.join(self.tmp, t.name + ".cfg")
            with open(conf, "w") as f:
                f.write(configs.haproxy(t.port, t.workers, ports))
            t.managed = self._spawn(t.name, configs.haproxy_argv(conf))
        elif t.kind == "pier":
            conf = os.path.join(self.tmp, t.name + ".yaml")
            with open(conf, "w") as f:
                f.write(configs.pier(t.port, t.workers, ports))
            extra = shlex.split(self.args.pier_args.replace("{config}", conf))
            t.managed = self._spawn(t.name, [self.args.pier] + extra)
        return self._ready(t.name, t.port, t.managed)

    def start_targets(self):
        pier_ok = os.path.isfile(self.args.pier) and os.access(self.args.pier, os.X_OK)
        for t in self.args.targets:
            skip = None
            if t.kind == "pier" and not pier_ok:
                skip = f"pier binary {self.args.pier} not found: skipping {t.name}"
            elif t.kind == "hap" and not shutil.which("haproxy"):
                skip = f"haproxy not installed: skipping {t.name}"
            if not skip:
                err = self.start_target(t)
                if err:
                    skip = f"{t.name} failed its check, skipped: {err}"
            if skip:
                log(skip)
                self.problems.append(skip.splitlines()[0])
                if t.managed:
                    t.managed.stop()
                continue
            hdrs = added_headers(t.port)
            if hdrs and t.kind != "direct":
                msg = f"{t.name} adds forwarding headers (unfair): {hdrs}"
                log(msg)
                self.problems.append(msg)
            self.targets.append(t)
            log(f"{t.name}: ready on 127.0.0.1:{t.port}")

    # ---- measuring -------------------------------------------------------

    def _attempt(self, t, load):
        a = self.args
        conns, close = wrk.parse_load(load)
        idle, pre_busy, waited = sysload.wait_idle(a.idle_threshold, a.idle_wait)
        if t.managed and not t.managed.alive():
            return {"ok": False, "error": f"{t.name} exited:\n{t.managed.log_tail()}"}
        timeout = a.duration + 15
        if a.warmup > 0:
            try:
                procs.run_bounded(wrk.argv(t.port, conns, close, max(1, round(a.warmup))),
                                  timeout)
            except subprocess.TimeoutExpired:
                return {"ok": False, "error": f"warm-up wrk exceeded {timeout}s"}
        be_ports = [p for p, _ in self.backends]
        acc0 = [stub_accepts(p) for p in be_ports]
        px_pids = t.pids()
        be_pids = [pid for _, m in self.backends for pid in m.pids()]
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        be0, px0 = procs.cpu_ns(be_pids), procs.cpu_ns(px_pids)
        s0, t0 = sysload.snapshot(), time.monotonic()
        try:
            rc, stdout, stderr = procs.run_bounded(
                wrk.argv(t.port, conns, close, a.duration), timeout)
        except subprocess.TimeoutExpired:
            return {"ok": False, "error": f"wrk exceeded {timeout}s"}
        t1, s1 = time.monotonic(), sysload.snapshot()
        px1, be1 = procs.cpu_ns(px_pids), procs.cpu_ns(be_pids)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        acc1 = [stub_accepts(p) for p in be_ports]
        if rc != 0:
            return {"ok": False, "error": f"wrk rc={rc}: {stderr.strip()[:300]}"}
        try:
            w = wrk.parse(stdout)
        except ValueError as e:
            return {"ok": False, "error": f"{e}: {stdout[-300:]}"}
        wall = t1 - t0
        reqs = max(w["requests"], 1)
        wrk_s = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
        be_s = (be1 - be0) / 1e9
        task_cores, irq_cores = sysload.cores_between(s0, s1)
        cell = dict(w, ok=True, wall=wall, idle_reached=idle, pre_busy=pre_busy,
                    idle_waited=waited, wrk_cores=wrk_s / wall, be_cores=be_s / wall,
                    machine_cores=task_cores + irq_cores, irq_cores=irq_cores,
                    cores=None, cpu_s=None, cpu100k=None, be_conn_1k=None)
        ours = cell["wrk_cores"] + cell["be_cores"]
        if t.managed:
            cpu_s = (px1 - px0) / 1e9
            cell.update(cpu_s=cpu_s, cores=cpu_s / wall, cpu100k=cpu_s / reqs * 1e5)
            ours += cell["cores"]
        # Foreign CPU: everything busy on the machine that our processes did
        # not use (includes idle targets and this script, normally ~0).
        # Task runtimes include softirq work done in their context, so the
        # machine side is task + irq time.
        cell["bg_cores"] = max(0.0, task_cores + irq_cores - ours)
        if None not in acc0 and None not in acc1:
            # -1 per backend: the second stub_status request's own connection.
            new = sum(b - a - 1 for a, b in zip(acc0, acc1))
            cell["be_conn_1k"] = new / reqs * 1000
        return cell

    def run_cell(self, t, load, rnd):
        best = None
        for attempt in range(self.args.retries + 1):
            cell = self._attempt(t, load)
            cell["attempts"] = attempt + 1
            if not cell["ok"]:
                best = cell
                break
            if best is None or cell["bg_cores"] < best["bg_cores"]:
                best = cell
            if cell["bg_cores"] <= self.args.max_bg or attempt == self.args.retries:
                break
            log(f"  {load} {t.name}: foreign load {cell['bg_cores']:.2f} cores, re-measuring")
        best.update(load=load, target=t.name, round=rnd)
        self.cells.append(best)
        return best

    def run(self):
        a = self.args
        total = len(a.loads) * a.rounds * len(self.targets)
        n = 0
        for load in a.loads:
            for rnd in range(a.rounds):
                order = self.targets if rnd % 2 == 0 else list(reversed(self.targets))
                for t in order:
                    n += 1
                    c = self.run_cell(t, load, rnd)
                    tag = f"[{n}/{total}] {load} r{rnd + 1} {t.name}"
                    if not c["ok"]:
                        msg = f"{tag}: FAILED: {c['error']}"
                        log(msg)
                        self.problems.append(msg.splitlines()[0])
                        continue
                    cpu = "-" if c["cpu100k"] is None else f"{c['cpu100k']:.2f}"
                    log(f"{tag}: {c['rps']:.0f} rps p50 {c['p50_ms']:.2f} p99 {c['p99_ms']:.2f} ms"
                        f" cpu/100k {cpu} bg {c['bg_cores']:.2f}")
                    if c["errors"] or c["non2xx"]:
                        self.problems.append(
                            f"{tag}: wrk saw {c['errors']} socket errors "
                            f"{c.get('socket_errors', {})} and {c['non2xx']} non-2xx responses")

    # ---- output ----------------------------------------------------------

    def header(self):
        a = self.args
        oks = [c for c in self.cells if c.get("ok")]
        bg = sorted(c["bg_cores"] for c in oks)
        busy = sorted(c["machine_cores"] for c in oks)
        wrkc = sorted(c["wrk_cores"] for c in oks)
        rev = self._git_rev()

        def span(v):
            return f"{v[0]:.2f}–{v[-1]:.2f}" if v else "-"

        lines = [
            f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}, "
            f"kernel {platform.release()}, {sysload.NCPU} CPUs",
            f"- tools: {tool_version(['nginx', '-v'])}; {tool_version(['haproxy', '-v'])}; "
            f"{tool_version(['wrk', '-v'])}",
            f"- pier: {a.pier}" + (f" (git {rev})" if rev else ""),
            f"- {a.rounds} interleaved round(s) × {a.duration} s per cell, warm-up {a.warmup} s, "
            f"wrk -t1 --latency; values are medians over rounds",
            f"- machine busy during cells: {span(busy)} cores; wrk {span(wrkc)} cores; "
            f"foreign (bg) {span(bg)} cores",
            "- columns: rps, p50/p99 from wrk; cores = proxy CPU-s ÷ wall s; "
            "cpu-s/100k = proxy CPU-s per 100k requests (the comparable figure); "
            "be conn/1k = new backend connections per 1000 requests; "
            "bg cores = CPU used by processes the bench did not start; n = good rounds",
        ]
        if bg and bg[-1] > a.max_bg:
            lines.append(f"- WARNING: some cells ran with foreign load above {a.max_bg} cores: "
                         "numbers are noisy; treat differences under ~15 % as noise")
        return lines

    def _git_rev(self):
        try:
            r = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                               capture_output=True, text=True, timeout=5)
            return r.stdout.strip() if r.returncode == 0 else ""
        except (OSError, subprocess.TimeoutExpired):
            return ""

    def write_report(self):
        a = self.args
        names = [t.name for t in self.targets]
        md = report.render(self.cells, a.loads, names, self.header(), self.problems)
        print(md)
        if a.out:
            with open(a.out, "w") as f:
                f.write(md)
            log(f"report written to {a.out}")
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"args": {k: v for k, v in vars(a).items() if k != "targets"},
                           "targets": names, "cells": self.cells}, f, indent=1)
            log(f"raw results written to {a.json}")


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)


def main(argv):
    args = parse_args(argv)
    for tool in ("wrk", "curl", "nginx"):
        if not shutil.which(tool):
            log(f"{tool} is required (apt-get install wrk curl nginx-light haproxy)")
            return 2
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    raise_nofile()
    bench = Bench(args)

    def body():
        bench.start_backends()
        bench.start_targets()
        if not bench.targets:
            log("no target passed its check; nothing to measure")
            return 1
        bench.run()
        bench.stop_all()
        bench.write_report()
        return 0
    return harness.run_guarded(bench, body, args.keep_tmp)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
