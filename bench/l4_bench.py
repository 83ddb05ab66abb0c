#!/usr/bin/python3
"""pier's L4 (TCP) proxy benchmark against HAProxy `mode tcp` and nginx `stream {}`.

Same backends, method and report style as http_bench.py: two nginx HTTP
backends (1 KiB body, plus a 1 MiB file for bulk loads), the proxies under
test forwarding plain TCP to them round-robin, wrk driving HTTP through
them in interleaved rounds. Prints markdown tables of medians and
pier-vs-peer ratios. Method and column meanings: bench/README.md.

Run with Debian's python:  /usr/bin/python3 bench/l4_bench.py --help
"""
import argparse
import json
import os
import re
import shlex
import shutil
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import configs, harness, procs, report, wrk  # noqa: E402
from lib.harness import log  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_LOADS = "ka64,close64,bulk4"
DEFAULT_TARGETS = "pier1,pier2,ngx1,ngx2,hap1,hap2"

REQUEST_COLUMNS = report.COLUMNS
BULK_COLUMNS = [
    ("MB/s", "mb_s", "{:.0f}"),
    ("p50 ms", "p50_ms", "{:.2f}"),
    ("p99 ms", "p99_ms", "{:.2f}"),
    ("cores", "cores", "{:.2f}"),
    ("cpu-s/GB", "cpu_gb", "{:.3f}"),
    ("be conn/1k", "be_conn_1k", "{:.1f}"),
    ("bg cores", "bg_cores", "{:.2f}"),
]


def parse_load(name):
    """'ka64' -> ('ka', 64); 'close64' -> ('close', 64); 'bulk4' -> ('bulk', 4); else None."""
    m = re.fullmatch(r"(ka|close|bulk)(\d+)", name)
    if not m or int(m.group(2)) < 1:
        return None
    return m.group(1), int(m.group(2))


def load_wrk_argv(port, load, duration):
    kind, conns = parse_load(load)
    path = configs.BULK_PATH if kind == "bulk" else "/"
    return wrk.argv(port, conns, kind == "close", duration, path=path)


class Target:
    """One thing wrk is pointed at: a proxy we started, or `direct` (backend 1)."""

    def __init__(self, name):
        m = re.fullmatch(r"(pier|ngx|haps|hap)(\d+)", name)
        if name == "direct":
            self.kind, self.workers = "direct", 0
        elif m and int(m.group(2)) >= 1:
            self.kind, self.workers = m.group(1), int(m.group(2))
        else:
            raise ValueError(f"unknown target {name!r} (want pierN, ngxN, hapN, hapsN or direct)")
        self.name = name
        self.port = None
        self.managed = None  # procs.Managed; None for direct


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="L4 TCP benchmark: pier tcp listener vs HAProxy mode tcp vs nginx stream "
                    "(loopback, wrk).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--pier", default=os.path.join(REPO, "build/release/pier"),
                   help="pier binary; pier targets are skipped if it is missing")
    p.add_argument("--pier-args", default="run --config {config}",
                   help="arguments for pier; {config} is replaced by the config path")
    p.add_argument("--loads", default=DEFAULT_LOADS,
                   help="comma list of kaN (keep-alive, N conns), closeN (new connection per "
                        "request), bulkN (1 MiB bodies, keep-alive, N conns)")
    p.add_argument("--targets", default=DEFAULT_TARGETS,
                   help="comma list of pierN, ngxN, hapN (N workers/threads), hapsN (HAProxy "
                        "with option splice-auto) and direct")
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
    args.loads = list(dict.fromkeys(x for x in args.loads.split(",") if x))
    for load in args.loads:
        if parse_load(load) is None:
            p.error(f"bad load {load!r} (want kaN, closeN or bulkN)")
    try:
        args.targets = [Target(x) for x in dict.fromkeys(t for t in args.targets.split(",") if t)]
    except ValueError as e:
        p.error(str(e))
    return args


class Bench(harness.ProcessBench):
    def __init__(self, args):
        super().__init__(args, "pier-l4bench-")

    def _ready(self, name, port, managed):
        err = self._listening(name, port, managed)
        if err:
            return err
        err = harness.curl_check(port, "/", configs.BODY_BYTES)
        if err is None and any(parse_load(x)[0] == "bulk" for x in self.args.loads):
            err = harness.curl_check(port, configs.BULK_PATH, configs.BULK_BYTES, max_time=10)
        if err and managed:
            err += "\n" + managed.log_tail()
        return err

    def start_backends(self):
        for i in (1, 2):
            port = procs.free_port()
            m = self._start_nginx(
                f"be{i}", lambda pre, port=port: configs.nginx_backend(
                    pre, port, bulk_bytes=configs.BULK_BYTES))
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
                t.name, lambda pre: configs.nginx_stream(pre, t.port, t.workers, ports))
        elif t.kind in ("hap", "haps"):
            conf = os.path.join(self.tmp, t.name + ".cfg")
            with open(conf, "w") as f:
                f.write(configs.haproxy_tcp(t.port, t.workers, ports, splice=t.kind == "haps"))
            t.managed = self._spawn(t.name, configs.haproxy_argv(conf))
        elif t.kind == "pier":
            conf = os.path.join(self.tmp, t.name + ".yaml")
            with open(conf, "w") as f:
                f.write(configs.pier_tcp(t.port, t.workers, ports))
            extra = shlex.split(self.args.pier_args.replace("{config}", conf))
            t.managed = self._spawn(t.name, [self.args.pier] + extra)
        return self._ready(t.name, t.port, t.managed)

    def _skip_reason(self, t):
        if t.kind == "pier" and not (os.path.isfile(self.args.pier)
                                     and os.access(self.args.pier, os.X_OK)):
            return f"pier binary {self.args.pier} not found: skipping {t.name}"
        if t.kind in ("hap", "haps") and not shutil.which("haproxy"):
            return f"haproxy not installed: skipping {t.name}"
        if t.kind == "ngx" and not os.path.isfile(configs.STREAM_MODULE):
            return (f"{configs.STREAM_MODULE} missing (apt-get install libnginx-mod-stream): "
                    f"skipping {t.name}")
        return None

    def start_targets(self):
        for t in self.args.targets:
            skip = self._skip_reason(t)
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
            self.targets.append(t)
            log(f"{t.name}: ready on 127.0.0.1:{t.port}")

    # ---- measuring -------------------------------------------------------

    def run_cell(self, t, load, rnd):
        a = self.args
        argv = load_wrk_argv(t.port, load, a.duration)
        warm = load_wrk_argv(t.port, load, max(1, round(a.warmup))) if a.warmup > 0 else None

        def attempt():
            return harness.measure_cell(argv, a.duration, t.managed, self.backends,
                                        a.idle_threshold, a.idle_wait, warmup_argv=warm)

        def on_retry(cell):
            log(f"  {load} {t.name}: foreign load {cell['bg_cores']:.2f} cores, re-measuring")

        cell = harness.best_of(attempt, a.retries, a.max_bg, on_retry)
        cell.update(load=load, target=t.name, round=rnd)
        self.cells.append(cell)
        return cell

    def run(self):
        a = self.args
        total = len(a.loads) * a.rounds * len(self.targets)
        n = 0
        for load in a.loads:
            bulk = parse_load(load)[0] == "bulk"
            for rnd in range(a.rounds):
                for t in harness.interleaved(self.targets, rnd):
                    n += 1
                    c = self.run_cell(t, load, rnd)
                    tag = f"[{n}/{total}] {load} r{rnd + 1} {t.name}"
                    if not c["ok"]:
                        msg = f"{tag}: FAILED: {c['error']}"
                        log(msg)
                        self.problems.append(msg.splitlines()[0])
                        continue
                    if bulk:
                        cpu = "-" if c["cpu_gb"] is None else f"{c['cpu_gb']:.3f}"
                        rate = f"{c['mb_s'] or 0:.0f} MB/s"
                        what = f"cpu/GB {cpu}"
                    else:
                        cpu = "-" if c["cpu100k"] is None else f"{c['cpu100k']:.2f}"
                        rate = f"{c['rps']:.0f} rps"
                        what = f"cpu/100k {cpu}"
                    log(f"{tag}: {rate} p50 {c['p50_ms']:.2f} p99 {c['p99_ms']:.2f} ms"
                        f" {what} bg {c['bg_cores']:.2f}")
                    if c["errors"] or c["non2xx"]:
                        self.problems.append(
                            f"{tag}: wrk saw {c['errors']} socket errors "
                            f"{c.get('socket_errors', {})} and {c['non2xx']} non-2xx responses")

    # ---- output ----------------------------------------------------------

    def header(self):
        a = self.args
        oks = [c for c in self.cells if c.get("ok")]
        rev = harness.git_rev(REPO)
        lines = [
            harness.machine_line(),
            f"- tools: {harness.tool_version(['nginx', '-v'])} (+ stream module); "
            f"{harness.tool_version(['haproxy', '-v'])}; {harness.tool_version(['wrk', '-v'])}",
            f"- pier: {a.pier}" + (f" (git {rev})" if rev else ""),
            f"- {a.rounds} interleaved round(s) × {a.duration} s per cell, warm-up {a.warmup} s, "
            f"wrk -t1 --latency; values are medians over rounds",
            f"- machine busy during cells: {harness.span(c['machine_cores'] for c in oks)} cores; "
            f"wrk {harness.span(c['wrk_cores'] for c in oks)} cores; "
            f"foreign (bg) {harness.span(c['bg_cores'] for c in oks)} cores",
            "- kaN/closeN: 1 KiB HTTP responses through the L4 proxy, keep-alive or a new "
            "connection per request; cpu-s/100k = proxy CPU-s per 100k requests",
            f"- bulkN: {configs.BULK_BYTES >> 20} MiB responses, keep-alive; MB/s = 10^6 bytes/s "
            "read by wrk; cpu-s/GB = proxy CPU-s per 10^9 bytes",
            "- be conn/1k = new backend connections per 1000 requests; bg cores = CPU used by "
            "processes the bench did not start; n = good rounds",
        ]
        bg = [c["bg_cores"] for c in oks]
        if bg and max(bg) > a.max_bg:
            lines.append(f"- WARNING: some cells ran with foreign load above {a.max_bg} cores: "
                         "numbers are noisy; treat differences under ~15 % as noise")
        return lines

    def render(self):
        names = [t.name for t in self.targets]
        out = ["# pier L4 TCP benchmark", ""] + self.header() + [""]
        for load in self.args.loads:
            bulk = parse_load(load)[0] == "bulk"
            cols = BULK_COLUMNS if bulk else REQUEST_COLUMNS
            out += [f"## {load}", "", report.load_table(self.cells, load, names, cols), ""]
            if bulk:
                ratios = report.ratio_section(
                    self.cells, load, names, metrics=(("cpu-s/GB", "cpu_gb"), ("p99", "p99_ms")),
                    rate=("MB/s", "mb_s"), rate_per_peer=True)
                hint = "cpu-s/GB and p99 below 1 and MB/s above 1 favour pier."
            else:
                ratios = report.ratio_section(self.cells, load, names, rate_per_peer=True)
                hint = "cpu-s/100k and p99 below 1 and rps above 1 favour pier."
            if ratios:
                out += [f"### {load}: pier ÷ peers", "", hint, "", ratios, ""]
        if self.problems:
            out += ["## Problems", ""] + [f"- {f}" for f in self.problems] + [""]
        return "\n".join(out)

    def write_report(self):
        a = self.args
        md = self.render()
        print(md)
        if a.out:
            with open(a.out, "w") as f:
                f.write(md)
            log(f"report written to {a.out}")
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"args": {k: v for k, v in vars(a).items() if k != "targets"},
                           "targets": [t.name for t in self.targets], "cells": self.cells},
                          f, indent=1)
            log(f"raw results written to {a.json}")


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)


def main(argv):
    args = parse_args(argv)
    for tool in ("wrk", "curl", "nginx"):
        if not shutil.which(tool):
            log(f"{tool} is required (apt-get install wrk curl nginx-light libnginx-mod-stream "
                "haproxy)")
            return 2
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    harness.raise_nofile()
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
