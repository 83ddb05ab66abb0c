#!/usr/bin/python3
"""Per-request CPU cost of a Lua filter in pier, nginx (lua-nginx-module) and HAProxy (Lua 5.3).

Each server runs twice: as a plain reverse proxy and with a Lua filter that
adds one request header and one response header. All targets are measured
with wrk in interleaved rounds against the same two nginx backends; the Lua
overhead of a server is (lua − plain) cpu-s/100k in the same round, median
over rounds. Memory mode measures pier's RSS with 1/100/1000 routes, each
with its own Lua script. Method and columns: bench/README.md.

Run with Debian's python:  /usr/bin/python3 bench/lua_bench.py --help
"""
import argparse
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import configs, harness, lua_configs, lua_report, procs, report, wrk  # noqa: E402
from lib.harness import log  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALL_TARGETS = ("pier", "pier+lua", "nginx", "nginx+lua", "haproxy", "haproxy+lua")
DEFAULT_MEM_ROUTES = "1,100,1000"
FORWARDING_KEYS = ("xff", "xfp", "rid", "via", "fwd")


class Target:
    """One proxy under test: a server (pier, nginx, haproxy), plain or with the Lua filter."""

    def __init__(self, name):
        if name not in ALL_TARGETS:
            raise ValueError(f"unknown target {name!r} (want one of {', '.join(ALL_TARGETS)})")
        self.name = name
        self.server = name.split("+")[0]
        self.lua = name.endswith("+lua")
        self.port = None
        self.managed = None


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Lua filter overhead: pier vs nginx+lua vs HAProxy+Lua, each against its "
                    "plain proxy (loopback, wrk, paired interleaved rounds); plus pier's memory "
                    "per Lua route.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--pier", default=os.path.join(REPO, "build/release/pier"),
                   help="pier binary; pier targets and memory mode are skipped if it is missing")
    p.add_argument("--pier-args", default="run --config {config}",
                   help="arguments for pier; {config} is replaced by the config path")
    p.add_argument("--modes", default="cpu,mem", help="comma list of cpu and mem")
    p.add_argument("--targets", default=",".join(ALL_TARGETS),
                   help="comma list of " + ", ".join(ALL_TARGETS))
    p.add_argument("--workers", type=int, default=1,
                   help="pier workers = nginx worker_processes = HAProxy nbthread (cpu mode)")
    p.add_argument("--conns", type=int, default=64, help="wrk -c: keep-alive connections")
    p.add_argument("--rounds", type=int, default=6, help="interleaved rounds")
    p.add_argument("--duration", type=int, default=4, help="seconds per wrk run")
    p.add_argument("--warmup", type=float, default=0,
                   help="seconds of unmeasured wrk load before each cell (0: none)")
    p.add_argument("--budget", type=float, default=900,
                   help="cpu mode: start no new round once this many seconds have passed or "
                        "the next round would end after it")
    p.add_argument("--idle-threshold", type=float, default=0.2,
                   help="cores busy below which the machine counts as idle")
    p.add_argument("--idle-wait", type=float, default=5,
                   help="max seconds to wait for an idle machine before each cell")
    p.add_argument("--max-bg", type=float, default=0.15,
                   help="re-measure a cell if foreign processes used more cores than this")
    p.add_argument("--retries", type=int, default=1,
                   help="max re-measurements per cell (the quietest attempt is kept)")
    p.add_argument("--mem-routes", default=DEFAULT_MEM_ROUTES,
                   help="mem mode: comma list of route counts")
    p.add_argument("--out", help="also write the markdown report to this file")
    p.add_argument("--json", help="write raw per-cell results to this file")
    p.add_argument("--keep-tmp", action="store_true",
                   help="keep the temp dir with configs and logs")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.duration < 1 or args.retries < 0 or args.workers < 1 \
            or args.conns < 1:
        p.error("--rounds, --duration, --workers and --conns must be >= 1, --retries >= 0")
    args.modes = list(dict.fromkeys(m for m in args.modes.split(",") if m))
    if not args.modes or any(m not in ("cpu", "mem") for m in args.modes):
        p.error("--modes: want a comma list of cpu and mem")
    try:
        args.targets = [Target(x) for x in dict.fromkeys(t for t in args.targets.split(",") if t)]
        args.mem_routes = [int(x) for x in args.mem_routes.split(",") if x]
    except ValueError as e:
        p.error(str(e))
    if any(n < 1 for n in args.mem_routes):
        p.error("--mem-routes: route counts must be >= 1")
    return args


def load_name(args):
    return f"ka{args.conns}"


def fetch_headers(port, path="/__hdrs", max_time=5):
    """One curl GET: (status, {lower-case header: value}, body) or (None, {}, problem)."""
    cmd = ["curl", "-sS", "-D", "-", "--max-time", str(max_time), f"http://127.0.0.1:{port}{path}"]
    try:
        rc, out, err = procs.run_bounded(cmd, max_time + 5)
    except subprocess.TimeoutExpired:
        return None, {}, "curl timed out"
    if rc != 0:
        return None, {}, f"curl rc={rc} {err.strip()}"
    return parse_curl_output(out)


def parse_curl_output(out):
    """Split `curl -D -` output into (status, headers, body)."""
    head, _, body = out.replace("\r\n", "\n").partition("\n\n")
    lines = head.split("\n")
    m = re.match(r"HTTP/\S+ (\d{3})", lines[0])
    status = int(m.group(1)) if m else None
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return status, headers, body


def header_problems(lua, status, headers, body):
    """(fatal, unfair) for one target's /__hdrs answer.

    fatal: the Lua variant did not add both headers, or the plain one did
    (the measured difference would not be the filter's cost). unfair: a
    forwarding header some proxy added on its own (http_bench's rule).
    """
    if status != 200:
        return f"GET /__hdrs answered {status}: {body.strip()[:200]}", None
    echoed = dict(re.findall(r"(\w+)=\[([^\]]*)\]", body))
    want = lua_configs.HEADER_VALUE if lua else ""
    got_req = echoed.get("lua")
    got_resp = headers.get(lua_configs.RESP_HEADER, "")
    fatal = None
    if got_req is None:
        fatal = f"the backend did not echo the request headers (body {body.strip()[:200]!r})"
    elif got_req != want or got_resp != want:
        verb = "must add" if lua else "must not add"
        fatal = (f"{verb} {lua_configs.REQ_HEADER} and {lua_configs.RESP_HEADER}: the backend "
                 f"saw {lua_configs.REQ_HEADER}={got_req!r}, the client got "
                 f"{lua_configs.RESP_HEADER}={got_resp!r}")
    added = [f"{k}={echoed[k]}" for k in FORWARDING_KEYS if echoed.get(k)]
    return fatal, (f"adds forwarding headers (unfair): {', '.join(added)}" if added else None)


def hit_routes(port, n_routes, want_header, deadline_s=120):
    """GET every route once on one keep-alive connection; the number of failures.

    want_header: also require each route's own response header (its script ran).
    """
    deadline = time.monotonic() + deadline_s
    conn, bad = None, 0
    try:
        for i in range(n_routes):
            if time.monotonic() > deadline:
                return bad + n_routes - i
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", lua_configs.route_path(i))
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
                if want_header:
                    ok = ok and resp.getheader(lua_configs.route_header(i)) == "1"
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                ok = False
                if conn is not None:
                    conn.close()
                conn = None
            bad += 0 if ok else 1
    finally:
        if conn is not None:
            conn.close()
    return bad


class Bench(harness.ProcessBench):
    def __init__(self, args):
        super().__init__(args, "pier-luabench-")
        self.mem_rows = []

    # ---- processes -------------------------------------------------------

    def _pier_ok(self):
        return os.path.isfile(self.args.pier) and os.access(self.args.pier, os.X_OK)

    def _validate_pier(self, conf):
        """None if `pier validate` accepts the config, else its message."""
        try:
            rc, out, err = procs.run_bounded([self.args.pier, "validate", conf], 30)
        except subprocess.TimeoutExpired:
            return "pier validate timed out"
        if rc == 0:
            return None
        lines = (err or out).strip().splitlines()
        more = f" (+{len(lines) - 3} more lines)" if len(lines) > 3 else ""
        return (f"pier validate rejected {os.path.basename(conf)}: " + "\n".join(lines[:3])
                + more)

    def _spawn_pier(self, name, text):
        """(Managed, None) or (None, problem); the config is validated first for a clear error."""
        conf = os.path.join(self.tmp, name.replace("+", "-") + ".yaml")
        with open(conf, "w") as f:
            f.write(text)
        err = self._validate_pier(conf)
        if err:
            return None, err
        extra = shlex.split(self.args.pier_args.replace("{config}", conf))
        return self._spawn(name, [self.args.pier] + extra), None

    def start_backends(self):
        for i in (1, 2):
            port = procs.free_port()
            m = self._start_nginx(f"be{i}", lambda pre, port=port: lua_configs.nginx_backend(
                pre, port))
            err = self._listening(f"backend be{i}", port, m) or harness.curl_check(
                port, "/", configs.BODY_BYTES)
            if err:
                raise RuntimeError(err)
            self.backends.append((port, m))

    def _skip_reason(self, t):
        if t.server == "pier" and not self._pier_ok():
            return f"pier binary {self.args.pier} not found: skipping {t.name}"
        if t.server == "haproxy" and not shutil.which("haproxy"):
            return f"haproxy not installed: skipping {t.name}"
        if t.name == "nginx+lua":
            for so in (lua_configs.NDK_MODULE, lua_configs.LUA_MODULE):
                if not os.path.isfile(so):
                    return (f"{so} missing (apt-get install libnginx-mod-http-lua): "
                            f"skipping {t.name}")
        return None

    def start_target(self, t):
        """None once t runs and serves the 1 KiB body, else the problem."""
        ports = [p for p, _ in self.backends]
        w = self.args.workers
        t.port = procs.free_port()
        if t.server == "nginx":
            t.managed = self._start_nginx(
                t.name.replace("+", "-"),
                lambda pre: lua_configs.nginx_proxy(pre, t.port, w, ports, lua=t.lua))
        elif t.server == "haproxy":
            script = lua_configs.write_haproxy_script(self.tmp) if t.lua else None
            conf = os.path.join(self.tmp, t.name.replace("+", "-") + ".cfg")
            with open(conf, "w") as f:
                f.write(lua_configs.haproxy(t.port, w, ports, lua_path=script))
            t.managed = self._spawn(t.name, configs.haproxy_argv(conf))
        else:
            t.managed, err = self._spawn_pier(
                t.name, lua_configs.pier(t.port, w, ports, lua=t.lua))
            if err:
                return err
        err = self._listening(t.name, t.port, t.managed) or harness.curl_check(
            t.port, "/", configs.BODY_BYTES)
        if err and t.managed:
            err += "\n" + t.managed.log_tail()
        return err

    def start_targets(self):
        """Start every target; RuntimeError if one runs but its headers are wrong."""
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
            status, headers, body = fetch_headers(t.port)
            fatal, unfair = header_problems(t.lua, status, headers, body)
            if fatal:
                raise RuntimeError(f"{t.name}: {fatal}\n{t.managed.log_tail()}")
            if unfair:
                log(f"{t.name} {unfair}")
                self.problems.append(f"{t.name} {unfair}")
            self.targets.append(t)
            what = "adds both Lua headers" if t.lua else "adds no headers"
            log(f"{t.name}: ready on 127.0.0.1:{t.port}, {what} (checked with curl)")

    # ---- cpu mode --------------------------------------------------------

    def run_cell(self, t, rnd):
        a = self.args
        argv = wrk.argv(t.port, a.conns, False, a.duration)
        warm = wrk.argv(t.port, a.conns, False, max(1, round(a.warmup))) if a.warmup > 0 else None

        def attempt():
            return harness.measure_cell(argv, a.duration, t.managed, self.backends,
                                        a.idle_threshold, a.idle_wait, warmup_argv=warm)

        def on_retry(cell):
            log(f"  {t.name}: foreign load {cell['bg_cores']:.2f} cores, re-measuring")

        cell = harness.best_of(attempt, a.retries, a.max_bg, on_retry)
        cell.update(load=load_name(a), target=t.name, round=rnd)
        self.cells.append(cell)
        return cell

    def run_cpu(self):
        a = self.args
        total = a.rounds * len(self.targets)
        start = time.monotonic()
        n = 0
        for rnd in range(a.rounds):
            elapsed = time.monotonic() - start
            per_round = elapsed / rnd if rnd else 0
            if rnd and elapsed + per_round > a.budget:
                msg = (f"time budget {a.budget:.0f} s: stopped after {rnd} of {a.rounds} rounds "
                       f"({elapsed:.0f} s so far, ~{per_round:.0f} s per round)")
                log(msg)
                self.problems.append(msg)
                break
            # Targets are listed server by server (plain, then +lua), so each
            # pair runs back to back, in alternating order from round to round.
            for t in harness.interleaved(self.targets, rnd):
                n += 1
                c = self.run_cell(t, rnd)
                tag = f"[{n}/{total}] r{rnd + 1} {t.name}"
                if not c["ok"]:
                    msg = f"{tag}: FAILED: {c['error']}"
                    log(msg)
                    self.problems.append(msg.splitlines()[0])
                    continue
                log(f"{tag}: {c['rps']:.0f} rps p50 {c['p50_ms']:.2f} p99 {c['p99_ms']:.2f} ms"
                    f" cpu/100k {c['cpu100k']:.3f} bg {c['bg_cores']:.2f}")
                if c["errors"] or c["non2xx"]:
                    self.problems.append(
                        f"{tag}: wrk saw {c['errors']} socket errors "
                        f"{c.get('socket_errors', {})} and {c['non2xx']} non-2xx responses")

    # ---- memory mode -----------------------------------------------------

    def _mem_one(self, n_routes, scripts):
        """(RSS KiB before any request, RSS KiB after one request per route) of one pier run."""
        name = f"mem-{n_routes}-{'lua' if scripts else 'plain'}"
        port = procs.free_port()
        text = lua_configs.pier_routes(port, self.backends[0][0], n_routes, scripts)
        m, err = self._spawn_pier(name, text)
        if err:
            raise RuntimeError(err)
        try:
            err = self._listening(name, port, m)
            if err:
                raise RuntimeError(err)
            before = lua_configs.rss_kib(m.pid)
            bad = hit_routes(port, n_routes, want_header=scripts)
            if bad:
                raise RuntimeError(f"{name}: {bad} of {n_routes} routes failed (status not 200"
                                   + (" or the route's script header missing)" if scripts else ")")
                                   + f"\n{m.log_tail()}")
            after = lua_configs.rss_kib(m.pid)
            if not m.alive():
                raise RuntimeError(f"{name} exited:\n{m.log_tail()}")
            return before, after
        finally:
            m.stop()

    def run_mem(self):
        if not self._pier_ok():
            msg = f"pier binary {self.args.pier} not found: memory mode skipped"
            log(msg)
            self.problems.append(msg)
            return
        for n in self.args.mem_routes:
            try:
                _, plain = self._mem_one(n, scripts=False)
                before, lua = self._mem_one(n, scripts=True)
            except RuntimeError as e:
                msg = f"memory mode, {n} routes: {e}"
                log(msg)
                self.problems.append(msg.splitlines()[0])
                continue
            row = lua_report.mem_row(n, plain, before, lua)
            self.mem_rows.append(row)
            log(f"mem {n} routes: RSS {plain} KiB plain, {lua} KiB with scripts "
                f"(delta {row['delta_kib']:+d} KiB, {row['per_route_kib']:.1f} KiB/route)")

    # ---- output ----------------------------------------------------------

    def summaries(self):
        names = {t.name for t in self.targets}
        out = []
        for s in lua_report.SERVERS:
            if s in names and lua_report.lua_name(s) in names:
                summary = lua_report.overhead_summary(self.cells, s)
                if summary:
                    out.append(summary)
        return out

    def header(self):
        a = self.args
        oks = [c for c in self.cells if c.get("ok")]
        rev = harness.git_rev(REPO)
        lua_mod = harness.tool_version(["dpkg-query", "-W", "-f=${Version}",
                                        "libnginx-mod-http-lua"])
        hap_lua = harness.tool_version(["sh", "-c", "haproxy -vv | grep -i 'Built with Lua'"])
        lines = [
            harness.machine_line(),
            f"- tools: {harness.tool_version(['nginx', '-v'])} + libnginx-mod-http-lua {lua_mod}; "
            f"{harness.tool_version(['haproxy', '-v'])} ({hap_lua}); "
            f"{harness.tool_version(['wrk', '-v'])}",
            f"- pier: {a.pier}" + (f" (git {rev})" if rev else ""),
        ]
        if "cpu" in a.modes:
            lines += [
                f"- cpu mode: {a.workers} worker(s)/thread(s) each; wrk -t1 -c{a.conns} "
                f"keep-alive, {a.duration} s per cell, warm-up {a.warmup} s; interleaved rounds "
                f"(asked {a.rounds}); each +lua variant = its plain config + a filter that adds "
                f"request header {lua_configs.REQ_HEADER} and response header "
                f"{lua_configs.RESP_HEADER}",
                f"- machine busy during cells: {harness.span(c['machine_cores'] for c in oks)} "
                f"cores; wrk {harness.span(c['wrk_cores'] for c in oks)} cores; "
                f"foreign (bg) {harness.span(c['bg_cores'] for c in oks)} cores",
            ]
            bg = [c["bg_cores"] for c in oks]
            if bg and max(bg) > a.max_bg:
                lines.append(f"- WARNING: some cells ran with foreign load above {a.max_bg} "
                             "cores: overheads of a few tenths of cpu-s/100k are within noise")
        return lines

    def render(self):
        a = self.args
        names = [t.name for t in self.targets]
        out = ["# pier Lua filter overhead benchmark", ""] + self.header() + [""]
        summaries = []
        if "cpu" in a.modes and names:
            load = load_name(a)
            summaries = self.summaries()
            out += [f"## CPU per request ({load}, medians over rounds)", "",
                    report.load_table(self.cells, load, names), "",
                    "## Lua overhead (lua − plain in the same round, median over rounds)", "",
                    "1 cpu-s/100k = 10 µs of proxy CPU per request.", ""]
            if summaries:
                out += [lua_report.overhead_table(summaries), ""]
            out += lua_report.ratio_lines(summaries) + [""]
        if "mem" in a.modes:
            out += ["## Memory: pier, workers: 1, one distinct inline Lua script per route", "",
                    "RSS of the pier process (VmRSS) after one request to every route (Lua "
                    "states are created per worker on first use), against the same routes "
                    "without scripts.", ""]
            out += [lua_report.mem_table(self.mem_rows) if self.mem_rows else
                    "No result (see Problems).", ""]
        if self.problems:
            out += ["## Problems", ""] + [f"- {p}" for p in self.problems] + [""]
        return "\n".join(out), summaries

    def write_report(self):
        a = self.args
        md, summaries = self.render()
        print(md)
        if a.out:
            with open(a.out, "w") as f:
                f.write(md)
            log(f"report written to {a.out}")
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"args": {k: v for k, v in vars(a).items() if k != "targets"},
                           "targets": [t.name for t in self.targets], "cells": self.cells,
                           "overheads": summaries, "memory": self.mem_rows}, f, indent=1)
            log(f"raw results written to {a.json}")


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)


def main(argv):
    args = parse_args(argv)
    for tool in ("wrk", "curl", "nginx"):
        if not shutil.which(tool):
            log(f"{tool} is required (apt-get install wrk curl nginx-light libnginx-mod-http-lua "
                "haproxy)")
            return 2
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    harness.raise_nofile()
    bench = Bench(args)

    def body():
        bench.start_backends()
        if "cpu" in args.modes:
            bench.start_targets()
            if bench.targets:
                bench.run_cpu()
            else:
                log("no target passed its check; cpu mode has nothing to measure")
            # Idle targets would only add noise to the memory runs.
            for t in bench.targets:
                t.managed.stop()
        if "mem" in args.modes:
            bench.run_mem()
        bench.stop_all()
        bench.write_report()
        return 0 if (bench.targets or "cpu" not in args.modes) else 1
    return harness.run_guarded(bench, body, args.keep_tmp)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
