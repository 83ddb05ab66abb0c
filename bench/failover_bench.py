#!/usr/bin/python3
"""How fast pier stops using a backend that died under load, against HAProxy.

Each trial starts three fresh nginx backends (access logs with $msec) and
one proxy, runs a paced load through it, SIGKILLs one backend part-way and
samples the proxy's own counters for that endpoint every 20 ms: pier's
/metrics on its admin port (pier_endpoint_connect_failures_total,
_ejected, _healthy), HAProxy's `show stat` (connect, status). It reports when
the proxy took the endpoint out of rotation, when it last tried to connect
to it, and what the client saw. Method and columns: bench/README.md.

Run with Debian's python:  /usr/bin/python3 bench/failover_bench.py --help
"""
import argparse
import json
import os
import shlex
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import configs, failover, harness, procs  # noqa: E402
from lib.harness import log  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KINDS = {
    "pier-passive": "pier, default outlier detection (3 consecutive gateway failures eject for "
                    "5 s), default retry (1, on connect-failure and reset)",
    "pier-active": "pier-passive + health_check every 100 ms (timeout 100 ms, unhealthy 3, "
                   "healthy 2)",
    "hap": "HAProxy, option redispatch, retries 3, check inter 100ms fall 3 rise 2 "
           "(timeout check 100ms)",
    "hap-nocheck": "HAProxy, option redispatch, retries 3, no health checks",
}
DEFAULT_TARGETS = "pier-passive,pier-active,hap"
KILLED = 1  # index of the backend that dies (the middle one of three)


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Failover benchmark: kill a backend under load; how long does the proxy "
                    "keep trying it, and what does the client see? pier vs HAProxy.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--pier", default=os.path.join(REPO, "build/release/pier"),
                   help="pier binary; pier targets are skipped if it is missing")
    p.add_argument("--pier-args", default="run --config {config}",
                   help="arguments for pier; {config} is replaced by the config path")
    p.add_argument("--targets", default=DEFAULT_TARGETS,
                   help="comma list of " + ", ".join(KINDS))
    p.add_argument("--protos", default="http,tcp",
                   help="comma list: http (L7 listener, keep-alive client) and/or tcp "
                        "(L4 listener, new connection per request)")
    p.add_argument("--trials", type=int, default=5, help="trials per target and protocol")
    p.add_argument("--duration", type=float, default=6, help="seconds of load per trial")
    p.add_argument("--kill-at", type=float, default=2, help="seconds into the load to kill")
    p.add_argument("--rate", type=float, default=1000, help="client requests per second, total")
    p.add_argument("--conns", type=int, default=8, help="client connections (threads)")
    p.add_argument("--workers", type=int, default=2, help="pier workers = HAProxy threads")
    p.add_argument("--sample-ms", type=float, default=20, help="counter sampling interval")
    p.add_argument("--out", help="also write the markdown report to this file")
    p.add_argument("--json", help="write raw per-trial results to this file")
    p.add_argument("--keep-tmp", action="store_true",
                   help="keep the temp dir with configs and logs")
    args = p.parse_args(argv)
    if args.trials < 1 or args.conns < 1 or args.rate <= 0 or args.workers < 1:
        p.error("--trials, --conns, --workers must be >= 1 and --rate > 0")
    if not 0 < args.kill_at < args.duration:
        p.error("--kill-at must be inside the load (0 < kill-at < duration)")
    args.targets = list(dict.fromkeys(t for t in args.targets.split(",") if t))
    for t in args.targets:
        if t not in KINDS:
            p.error(f"unknown target {t!r} (want {', '.join(KINDS)})")
    args.protos = list(dict.fromkeys(x for x in args.protos.split(",") if x))
    for x in args.protos:
        if x not in ("http", "tcp"):
            p.error(f"unknown protocol {x!r} (want http, tcp)")
    return args


class Trial:
    """The processes of one trial: three backends and one proxy, in their own subdir."""

    def __init__(self, bench, target, proto, n):
        self.bench, self.target, self.proto = bench, target, proto
        self.dir = os.path.join(bench.tmp, f"{proto}-{target}-{n}")
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.managed = []
        self.backends = []  # (port, Managed, prefix)
        self.port = None
        self.poll = None

    def _spawn(self, name, argv):
        m = procs.Managed(name, argv, os.path.join(self.dir, name + ".log"), cwd=self.dir)
        self.managed.append(m)
        self.bench.live.append(m)
        return m

    def start(self):
        """None when ready, else the problem."""
        for i in range(3):
            port = procs.free_port()
            prefix = os.path.join(self.dir, f"be{i + 1}")
            conf = prefix + ".conf"
            with open(conf, "w") as f:
                f.write(failover.nginx_logging_backend(prefix, port, f"be{i + 1}"))
            m = self._spawn(f"be{i + 1}", configs.nginx_argv(prefix, conf))
            self.backends.append((port, m, prefix))
        for port, m, _ in self.backends:
            if not procs.wait_port(port, m, timeout=10):
                return f"backend on {port} did not start\n{m.log_tail()}"
        ports = [p for p, _, _ in self.backends]
        a = self.bench.args
        self.port = procs.free_port()
        killed = f"127.0.0.1:{ports[KILLED]}"
        if self.target.startswith("pier"):
            admin = procs.free_port()
            conf = os.path.join(self.dir, "pier.yaml")
            with open(conf, "w") as f:
                f.write(failover.pier_failover(self.port, a.workers, ports, self.proto, admin,
                                               active=self.target == "pier-active"))
            extra = shlex.split(a.pier_args.replace("{config}", conf))
            proxy = self._spawn("pier", [a.pier] + extra)
            self.poll = failover.pier_poll(admin, killed, a.workers)
        else:
            sock = os.path.join(self.dir, "hap.sock")
            conf = os.path.join(self.dir, "hap.cfg")
            with open(conf, "w") as f:
                f.write(failover.haproxy_failover(self.port, a.workers, ports, self.proto, sock,
                                                  check=self.target == "hap"))
            proxy = self._spawn("hap", configs.haproxy_argv(conf))
            self.poll = failover.haproxy_poll(sock, "be", f"b{KILLED + 1}")
        if not procs.wait_port(self.port, proxy, timeout=10):
            return f"{self.target} did not accept connections\n{proxy.log_tail()}"
        err = harness.curl_check(self.port)
        if err:
            return f"{self.target}: {err}\n{proxy.log_tail()}"
        return self._wait_steady()

    def _wait_steady(self):
        """Wait until the proxy reports the endpoint (and, with checks, it healthy)."""
        sampler = failover.Sampler(self.poll)
        deadline = time.monotonic() + 3
        s = None
        while time.monotonic() < deadline:
            s = sampler.sample_once()
            if s is not None and not s["down"] and (
                    self.target != "pier-active" or s.get("healthy") == 1):
                return None
            time.sleep(0.05)
        if s is None:
            return f"{self.target}: its counters for the endpoint could not be read"
        if self.target == "pier-active":
            self.bench.note(f"{self.proto} {self.target}: pier_endpoint_healthy never became 1 "
                            "within 3 s (health checks not running?); measured anyway")
            return None
        return f"{self.target}: endpoint not in rotation before the kill: {s}"

    def run(self):
        a = self.bench.args
        interval = a.sample_ms / 1000
        client = failover.LoadClient(self.port, a.conns, a.rate, close=self.proto == "tcp")
        sampler = failover.Sampler(self.poll, interval)
        sampler.start()
        t0 = time.monotonic()
        client.start()
        time.sleep(max(0.0, t0 + a.kill_at - time.monotonic()))
        kill_wall = time.time()
        kill_t = self.backends[KILLED][1].kill_now()
        time.sleep(max(0.0, t0 + a.duration - time.monotonic()))
        end_t = time.monotonic()
        client.stop()
        sampler.stop()
        res = failover.analyze(kill_t, end_t, sampler.samples, client.records, interval)
        res["sample_errors"] = sampler.errors
        try:
            with open(os.path.join(self.backends[KILLED][2], "access.log")) as f:
                res["be_last_ms"] = failover.last_logged_before(f.read(), kill_wall)
        except OSError:
            res["be_last_ms"] = None
        return res

    def stop(self):
        for m in reversed(self.managed):
            m.stop()
            if m in self.bench.live:
                self.bench.live.remove(m)


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="pier-failover-")
        os.chmod(self.tmp, 0o755)
        self.live = []  # every Managed still running, for cleanup on any exit
        self.results = []
        self.problems = []

    def note(self, msg):
        log(msg)
        self.problems.append(msg.splitlines()[0])

    def _skip_reason(self, target):
        a = self.args
        pier_ok = os.path.isfile(a.pier) and os.access(a.pier, os.X_OK)
        if target.startswith("pier") and not pier_ok:
            return f"pier binary {a.pier} not found"
        if target.startswith("hap") and not shutil.which("haproxy"):
            return "haproxy not installed"
        return None

    def run(self):
        a = self.args
        broken = {}
        for proto in a.protos:
            for t in a.targets:
                why = self._skip_reason(t)
                if why:
                    broken[(proto, t)] = why
                    self.note(f"{proto} {t}: skipped: {why}")
        for n in range(a.trials):
            for proto in a.protos:
                for t in harness.interleaved(a.targets, n):
                    if (proto, t) in broken:
                        continue
                    tag = f"[trial {n + 1}/{a.trials}] {proto} {t}"
                    trial = Trial(self, t, proto, n)
                    try:
                        err = trial.start()
                        if err:
                            self.note(f"{tag}: not started: {err}")
                            if n == 0:
                                # Broken from the start: don't repeat it every trial.
                                broken[(proto, t)] = err
                            continue
                        res = trial.run()
                    finally:
                        trial.stop()
                    res.update(proto=proto, target=t, trial=n)
                    self.results.append(res)
                    log(f"{tag}: detect {res['detect_ms']} ms, last try {res['last_try_ms']} ms, "
                        f"tries {res['tries']}, client errors {res['errors']} "
                        f"{res['error_kinds']}, {res['rps']:.0f} req/s")
                    self._sanity(tag, res)

    def _sanity(self, tag, res):
        if res["errors_before"]:
            self.note(f"{tag}: {res['errors_before']} client errors before the kill")
        if not res["routed_before"]:
            self.note(f"{tag}: the proxy had routed nothing to the endpoint before the kill")
        if res["be_last_ms"] is not None and res["be_last_ms"] > 50:
            self.note(f"{tag}: the killed backend logged a request {res['be_last_ms']} ms "
                      "after the kill")
        if res["sample_errors"]:
            self.note(f"{tag}: {res['sample_errors']} counter samples failed")

    def stop_all(self):
        for m in reversed(self.live):
            m.stop()
        self.live = []

    # ---- output ----------------------------------------------------------

    def table(self, proto):
        rows = ["| target | out of rotation ms | last try ms | tries after kill | stopped trying "
                "| client errors | last error ms | req/s | n |",
                "|---|---|---|---|---|---|---|---|---|"]
        for t in self.args.targets:
            rs = [r for r in self.results if r["proto"] == proto and r["target"] == t]
            if not rs:
                rows.append(f"| {t} | - | - | - | - | - | - | - | 0 |")
                continue
            stopped = sum(1 for r in rs if r["tries"] is not None and not r["still_trying"])
            rows.append(
                f"| {t} | {failover.p50_max(r['detect_ms'] for r in rs)} "
                f"| {failover.p50_max(r['last_try_ms'] for r in rs)} "
                f"| {failover.p50_max(r['tries'] for r in rs)} "
                f"| {stopped}/{len(rs)} "
                f"| {failover.p50_max(r['errors'] for r in rs)} "
                f"| {failover.p50_max(r['last_error_ms'] for r in rs)} "
                f"| {failover.p50_max((r['rps'] for r in rs), '{:.0f}').split(' / ')[0]} "
                f"| {len(rs)} |")
        kinds = []
        for t in self.args.targets:
            total = {}
            for r in self.results:
                if r["proto"] == proto and r["target"] == t:
                    for k, v in r["error_kinds"].items():
                        total[k] = total.get(k, 0) + v
            if total:
                kinds.append(f"- {t}: " + ", ".join(f"{k} × {v}" for k, v in sorted(total.items())))
        return "\n".join(rows), kinds

    def render(self):
        a = self.args
        rev = harness.git_rev(REPO)
        window = a.duration - a.kill_at
        out = ["# pier failover benchmark", "",
               harness.machine_line(),
               f"- tools: {harness.tool_version(['nginx', '-v'])}; "
               f"{harness.tool_version(['haproxy', '-v'])}",
               f"- pier: {a.pier}" + (f" (git {rev})" if rev else ""),
               f"- {a.trials} trial(s) per target, interleaved; 3 nginx backends, round-robin; "
               f"{a.conns} client connections paced to {a.rate:.0f} req/s in total; "
               f"backend 2 SIGKILLed {a.kill_at:g} s into {a.duration:g} s of load "
               f"(window after the kill: {window:g} s); proxy counters sampled every "
               f"{a.sample_ms:g} ms; {a.workers} pier workers = HAProxy threads",
               "- values are `median / max` over trials, times in ms after the kill",
               "- out of rotation: pier_endpoint_ejected = workers (every worker ejects on its "
               "own) or pier_endpoint_healthy 1 → 0; HAProxy status DOWN",
               "- last try: last sample at which the endpoint's attempt counter had grown "
               "(pier_endpoint_connect_failures_total; HAProxy `connect`, its connection attempts); "
               "tries after kill: that counter's growth; stopped trying: trials whose counter was "
               "flat for the last 100 ms of the window",
               "- client errors: requests ending after the kill without a 2xx/3xx",
               ""]
        for t in a.targets:
            out.append(f"- **{t}**: {KINDS[t]}")
        out.append("")
        for proto in a.protos:
            client = "keep-alive" if proto == "http" else "new connection per request"
            out += [f"## {proto} listener ({client})", ""]
            table, kinds = self.table(proto)
            out += [table, ""]
            if kinds:
                out += ["Client errors by kind (all trials):", ""] + kinds + [""]
        if self.problems:
            out += ["## Problems", ""] + [f"- {p}" for p in self.problems] + [""]
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
                json.dump({"args": vars(a), "results": self.results, "problems": self.problems},
                          f, indent=1)
            log(f"raw results written to {a.json}")


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)


def main(argv):
    args = parse_args(argv)
    for tool in ("curl", "nginx"):
        if not shutil.which(tool):
            log(f"{tool} is required (apt-get install curl nginx-light haproxy)")
            return 2
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    harness.raise_nofile()
    bench = Bench(args)

    def body():
        bench.run()
        bench.stop_all()
        if not bench.results:
            log("no trial ran")
            print(bench.render())
            return 1
        bench.write_report()
        return 0
    return harness.run_guarded(bench, body, args.keep_tmp)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
