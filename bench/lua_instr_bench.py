#!/usr/bin/python3
"""Per-request cost of a Lua filter in instructions (callgrind): pier vs nginx+lua vs HAProxy+Lua.

The deterministic companion of lua_bench.py. Each of the six targets
(pier, nginx, haproxy, plain and +lua, the configs of lua_bench.py with one
worker) runs under `valgrind --tool=callgrind` twice, serving R1 and R2
rounds of a fixed load: C keep-alive connections, each round one GET per
connection. Ir/request = (Ir(R2) − Ir(R1)) / (C × (R2 − R1)): user-space
instructions of the server process alone, with start-up and shutdown
cancelled out. Method and columns: bench/README.md.

Run with Debian's python:  /usr/bin/python3 bench/lua_instr_bench.py --help
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lua_bench  # noqa: E402
from lib import configs, harness, instr, lua_configs, procs  # noqa: E402
from lib.harness import log  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_ROUNDS = "50,150"
# Under callgrind a server runs 20–100× slower; these bound each step of one run.
START_TIMEOUT = 90
CHECK_TIMEOUT = 30
LOAD_TIMEOUT = 180
STOP_TIMEOUT = 60


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Lua filter cost in instructions per request (valgrind callgrind): pier vs "
                    "nginx+lua vs HAProxy+Lua, each against its plain proxy, one worker each.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--pier", default=os.path.join(REPO, "build/release/pier"),
                   help="pier binary; pier targets are skipped if it is missing")
    p.add_argument("--targets", default=",".join(lua_bench.ALL_TARGETS),
                   help="comma list of " + ", ".join(lua_bench.ALL_TARGETS))
    p.add_argument("--rounds", default=DEFAULT_ROUNDS,
                   help="two round counts R1,R2 (R1 < R2): one run each per target")
    p.add_argument("--conns", type=int, default=64,
                   help="keep-alive connections; each round sends one GET on each")
    p.add_argument("--repeat", type=int, default=3,
                   help="pairs of runs per target; Ir/request is the median of the pairs")
    p.add_argument("--valgrind", default="valgrind", help="valgrind binary")
    p.add_argument("--budget", type=float, default=600,
                   help="start no new target once this many seconds have passed")
    p.add_argument("--out", help="also write the markdown report to this file")
    p.add_argument("--json", help="write raw per-run totals and results to this file")
    p.add_argument("--keep-tmp", action="store_true",
                   help="keep the temp dir with configs, logs and callgrind files")
    args = p.parse_args(argv)
    try:
        rounds = [int(x) for x in args.rounds.split(",") if x]
        args.targets = [lua_bench.Target(x)
                        for x in dict.fromkeys(t for t in args.targets.split(",") if t)]
    except ValueError as e:
        p.error(str(e))
    if len(rounds) != 2 or not 1 <= rounds[0] < rounds[1]:
        p.error("--rounds: want two counts R1,R2 with 1 <= R1 < R2")
    if args.conns < 1 or args.repeat < 1:
        p.error("--conns and --repeat must be >= 1")
    args.rounds = rounds
    # lua_bench.Bench's helpers read these.
    args.workers = 1
    args.pier_args = "run --config {config}"
    return args


class Bench(lua_bench.Bench):
    """lua_bench's backends, skip rules and checks; each target started afresh per run."""

    def __init__(self, args):
        harness.ProcessBench.__init__(self, args, "pier-luainstr-")
        self.runs = []      # one dict per callgrind run, failed ones included
        self.results = {}   # target -> {"runs", "ir_per_req", "fixed_ir"}

    def _server_argv(self, t, tag):
        """(argv, config path) of target t with one worker, in the foreground, one process."""
        ports = [p for p, _ in self.backends]
        base = os.path.join(self.tmp, f"{t.name.replace('+', '-')}-{tag}")
        if t.server == "nginx":
            prefix = base
            text = lua_configs.nginx_proxy(prefix, t.port, 1, ports, lua=t.lua)
            conf = base + ".conf"
            with open(conf, "w") as f:
                f.write(instr.nginx_single_process(text))
            return configs.nginx_argv(prefix, conf), conf
        if t.server == "haproxy":
            script = lua_configs.write_haproxy_script(self.tmp) if t.lua else None
            conf = base + ".cfg"
            with open(conf, "w") as f:
                f.write(lua_configs.haproxy(t.port, 1, ports, lua_path=script))
            return configs.haproxy_argv(conf), conf
        conf = base + ".yaml"
        with open(conf, "w") as f:
            f.write(lua_configs.pier(t.port, 1, ports, lua=t.lua))
        return [self.args.pier, "run", "--config", conf], conf

    def _stop_gracefully(self, t, m):
        """None once the server exited by itself after its stop signal, else the problem.

        callgrind writes its totals only when the process exits normally.
        """
        for sig in (instr.GRACEFUL_STOP[t.server], signal.SIGTERM):
            if not m.alive():
                break
            try:
                os.kill(m.pid, sig)
            except ProcessLookupError:
                break
            try:
                m.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log(f"  {t.name}: still running {STOP_TIMEOUT} s after "
                    f"{signal.Signals(sig).name}")
        if m.alive():
            return f"{t.name} did not exit after SIGTERM; killed (no callgrind totals)"
        return None

    def run_once(self, t, rounds, rep):
        """One callgrind run of t serving `rounds` rounds: the run's record (ok or not)."""
        a = self.args
        tag = f"p{rep + 1}-r{rounds}"
        t.port = procs.free_port()
        argv, conf = self._server_argv(t, tag)
        if t.server == "pier":
            err = self._validate_pier(conf)
            if err:
                return {"target": t.name, "rounds": rounds, "ok": False, "error": err}
        out = os.path.join(self.tmp, f"{t.name.replace('+', '-')}-{tag}.callgrind")
        m = self._spawn(f"{t.name.replace('+', '-')}-{tag}",
                        instr.callgrind_argv(a.valgrind, out, argv))
        run = {"target": t.name, "rounds": rounds, "ok": False, "callgrind_out": out}
        t0 = time.monotonic()
        try:
            if not procs.wait_port(t.port, m, timeout=START_TIMEOUT):
                run["error"] = (f"{t.name} did not accept connections on 127.0.0.1:{t.port} "
                                f"within {START_TIMEOUT} s\n{m.log_tail()}")
                return run
            # Checked in every run, so their cost is the same in both and cancels.
            err = harness.curl_check(t.port, "/", configs.BODY_BYTES, max_time=CHECK_TIMEOUT)
            if err:
                run["error"] = f"{t.name}: {err}\n{m.log_tail()}"
                return run
            status, headers, body = lua_bench.fetch_headers(t.port, max_time=CHECK_TIMEOUT)
            fatal, unfair = lua_bench.header_problems(t.lua, status, headers, body)
            if fatal:
                raise RuntimeError(f"{t.name}: {fatal}\n{m.log_tail()}")
            run["unfair"] = unfair
            try:
                run["requests"] = instr.run_load(t.port, a.conns, rounds, LOAD_TIMEOUT,
                                                 want_body=configs.BODY_BYTES)
            except instr.LoadError as e:
                run["error"] = f"{t.name}, load of {rounds} rounds: {e}\n{m.log_tail()}"
                return run
            err = self._stop_gracefully(t, m)
            if err:
                run["error"] = err
                return run
            try:
                run["ir"] = instr.read_total(out)
            except (OSError, ValueError) as e:
                run["error"] = f"{t.name}: {e}\n{m.log_tail()}"
                return run
            run["ok"] = True
            return run
        finally:
            m.stop()
            self.managed.remove(m)
            run["wall_s"] = time.monotonic() - t0

    def run_pair(self, t, rep):
        """Run t with R1 and then R2 rounds; the pair of ok runs, or None (a Problem is listed)."""
        pair = []
        for rounds in self.args.rounds:
            run = self.run_once(t, rounds, rep)
            run["repeat"] = rep
            self.runs.append(run)
            if not run["ok"]:
                msg = f"{t.name}, repeat {rep + 1}, {rounds} rounds: {run['error']}"
                log(msg)
                self.problems.append(msg.splitlines()[0])
                return None
            log(f"  {t.name}, {rounds} rounds: {run['requests']} requests, "
                f"{run['ir']:,} Ir ({run['wall_s']:.0f} s)")
            pair.append(run)
        if rep == 0 and pair[0].get("unfair"):
            self.problems.append(f"{t.name} {pair[0]['unfair']}")
        return pair

    def run_all(self):
        a = self.args
        todo = []
        for t in a.targets:
            skip = self._skip_reason(t)
            if skip:
                log(skip)
                self.problems.append(skip)
            else:
                todo.append(t)
        pairs = {t.name: [] for t in todo}
        start = time.monotonic()
        # Repeats are the outer loop, so a change in machine load hits every target alike.
        for rep in range(a.repeat):
            for t in list(todo):
                elapsed = time.monotonic() - start
                if elapsed > a.budget:
                    msg = (f"time budget {a.budget:.0f} s used up after {elapsed:.0f} s: "
                           f"stopped in repeat {rep + 1} of {a.repeat}")
                    log(msg)
                    self.problems.append(msg)
                    return self._summarize(a.targets, pairs)
                log(f"[repeat {rep + 1}/{a.repeat}] {t.name} under callgrind, "
                    f"{' and '.join(map(str, a.rounds))} rounds × {a.conns} conns")
                pair = self.run_pair(t, rep)
                if pair is None:
                    todo.remove(t)  # failed once: not worth more callgrind runs
                    continue
                pairs[t.name].append(pair)
                what = "adds both Lua headers" if t.lua else "adds no headers"
                log(f"{t.name}: {instr.per_request(*pair)['ir_per_req']:,.0f} Ir/request "
                    f"({what}, checked with curl)")
        self._summarize(a.targets, pairs)

    def _summarize(self, targets, pairs):
        for t in targets:
            if pairs.get(t.name):
                self.results[t.name] = instr.summarize(pairs[t.name])

    # ---- output ----------------------------------------------------------

    def header(self):
        a = self.args
        rev = harness.git_rev(REPO)
        lua_mod = harness.tool_version(["dpkg-query", "-W", "-f=${Version}",
                                        "libnginx-mod-http-lua"])
        hap_lua = harness.tool_version(["sh", "-c", "haproxy -vv | grep -i 'Built with Lua'"])
        r1, r2 = a.rounds
        return [
            harness.machine_line(),
            f"- tools: {harness.tool_version([a.valgrind, '--version'])} (callgrind); "
            f"{harness.tool_version(['nginx', '-v'])} + libnginx-mod-http-lua {lua_mod}; "
            f"{harness.tool_version(['haproxy', '-v'])} ({hap_lua})",
            f"- pier: {a.pier}" + (f" (git {rev})" if rev else ""),
            f"- method: every target runs under callgrind, with 1 worker/thread, in the "
            f"foreground as one process (nginx `master_process off`), once serving {r1} and "
            f"once {r2} rounds of {a.conns} keep-alive GET / (one per connection per round, "
            f"1 KiB body); Ir/request = (Ir({r2}) − Ir({r1})) / ({a.conns} × {r2 - r1}), "
            f"median over {a.repeat} such pairs (targets interleaved). "
            "User-space instructions of the proxy process only (no kernel, no backends); "
            "each +lua variant = its plain config + a filter that adds request header "
            f"{lua_configs.REQ_HEADER} and response header {lua_configs.RESP_HEADER}",
        ]

    def render(self):
        out = ["# pier Lua filter cost in instructions (callgrind)", ""] + self.header() + [""]
        summaries = instr.overheads(self.results)
        if self.results:
            out += ["## Instructions per request", "",
                    instr.target_table(self.results), "",
                    "## Lua overhead (+lua − plain, instructions per request)", "",
                    instr.overhead_table(summaries) if summaries else
                    "No server has both variants measured.", "",
                    "## pier ÷ peers (Ir/request; below 1 favours pier)", ""]
            out += instr.ratio_lines(self.results, summaries) + [""]
        else:
            out += ["No target was measured (see Problems).", ""]
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
                           "targets": [t.name for t in a.targets], "runs": self.runs,
                           "results": self.results, "overheads": summaries,
                           "problems": self.problems}, f, indent=1)
            log(f"raw results written to {a.json}")


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)


def main(argv):
    args = parse_args(argv)
    for tool in ("curl", "nginx", args.valgrind):
        if not shutil.which(tool):
            log(f"{tool} is required (apt-get install valgrind curl nginx-light "
                "libnginx-mod-http-lua haproxy)")
            return 2
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    harness.raise_nofile()
    bench = Bench(args)

    def body():
        bench.start_backends()
        bench.run_all()
        bench.stop_all()
        bench.write_report()
        return 0 if bench.results else 1
    return harness.run_guarded(bench, body, args.keep_tmp, kept="configs, logs and callgrind files")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
