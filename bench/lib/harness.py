"""Pieces shared by the wrk-driven benchmarks (l4_bench.py; the same method as http_bench.py).

One *cell* is one wrk run against one target: wait for an idle machine,
sample CPU counters, run wrk, sample again, and derive per-request and
per-byte proxy cost plus the foreign load that ran meanwhile.
"""
import datetime
import os
import tempfile
import http.client
import platform
import resource
import shutil
import signal
import subprocess
import sys
import time

from . import configs, procs, sysload, wrk


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_guarded(bench, body, keep_tmp, kept="configs and logs"):
    """Runs body() and returns its exit code, whatever happens: Ctrl-C gives 130, a
    RuntimeError is logged and gives 1; `bench`'s processes are always stopped
    (bench.stop_all()) and its bench.tmp removed unless keep_tmp."""
    try:
        return body()
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        return 130
    except RuntimeError as e:
        log(f"FAILED: {e}")
        return 1
    finally:
        # A second Ctrl-C must not leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        bench.stop_all()
        if keep_tmp:
            log(f"{kept} kept in {bench.tmp}")
        else:
            shutil.rmtree(bench.tmp, ignore_errors=True)


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard == resource.RLIM_INFINITY else max(soft, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ValueError, OSError):
        pass


def tool_version(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    text = (r.stdout + r.stderr).strip().splitlines()
    return text[0] if text else "?"


def git_rev(repo):
    try:
        r = subprocess.run(["git", "-C", repo, "rev-parse", "--short", "HEAD"],
                           capture_output=True, text=True, timeout=5)
        return r.stdout.strip() if r.returncode == 0 else ""
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine_line():
    return (f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}, "
            f"kernel {platform.release()}, {sysload.NCPU} CPUs")


def curl_check(port, path="/", want_bytes=None, max_time=5):
    """None if GET path returns 200 (with want_bytes body bytes, if given), else the problem."""
    cmd = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
           "--max-time", str(max_time), f"http://127.0.0.1:{port}{path}"]
    try:
        rc, out, err = procs.run_bounded(cmd, max_time + 5)
    except subprocess.TimeoutExpired:
        return "curl timed out"
    got = out.strip().split()
    ok = rc == 0 and got[:1] == ["200"]
    if ok and want_bytes is not None:
        ok = got[1:] == [str(want_bytes)]
    if not ok:
        want = "200" + ("" if want_bytes is None else f" {want_bytes}")
        return f"curl {path} got '{out.strip()}' (want '{want}'), rc={rc} {err.strip()}"
    return None


def stub_accepts(port):
    """nginx stub_status 'accepts' counter (includes this request's connection)."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/nginx_status", headers={"Connection": "close"})
        body = conn.getresponse().read().decode()
        conn.close()
        return int(body.splitlines()[2].split()[0])
    except (OSError, ValueError, IndexError, http.client.HTTPException):
        return None


def interleaved(targets, rnd):
    """Forward order in even rounds, reversed in odd ones, so drift hits every target alike."""
    return list(targets) if rnd % 2 == 0 else list(reversed(targets))


def measure_cell(wrk_argv, duration, proxy, backends, idle_threshold, idle_wait,
                 warmup_argv=None):
    """Run one wrk cell and return its figures (see http_bench.py's _attempt, which this mirrors).

    proxy: procs.Managed or None (direct); backends: list of (port, Managed)
    nginx backends with stub_status. Adds to wrk's figures: wall, cores,
    cpu_s, cpu100k (proxy CPU-s per 100k requests), cpu_gb (per 10^9 bytes
    read by wrk), mb_s (10^6 bytes per second), be_conn_1k, wrk/be/bg/
    machine/irq cores and the idle-wait figures.
    """
    idle, pre_busy, waited = sysload.wait_idle(idle_threshold, idle_wait)
    if proxy is not None and not proxy.alive():
        return {"ok": False, "error": f"{proxy.name} exited:\n{proxy.log_tail()}"}
    timeout = duration + 15
    if warmup_argv:
        try:
            procs.run_bounded(warmup_argv, timeout)
        except subprocess.TimeoutExpired:
            return {"ok": False, "error": f"warm-up wrk exceeded {timeout}s"}
    be_ports = [p for p, _ in backends]
    acc0 = [stub_accepts(p) for p in be_ports]
    px_pids = proxy.pids() if proxy is not None else []
    be_pids = [pid for _, m in backends for pid in m.pids()]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    be0, px0 = procs.cpu_ns(be_pids), procs.cpu_ns(px_pids)
    s0, t0 = sysload.snapshot(), time.monotonic()
    try:
        rc, stdout, stderr = procs.run_bounded(wrk_argv, timeout)
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
    return derive(w, wall=t1 - t0, idle=(idle, pre_busy, waited),
                  wrk_s=(ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime),
                  be_s=(be1 - be0) / 1e9,
                  proxy_s=(px1 - px0) / 1e9 if proxy is not None else None,
                  machine=sysload.cores_between(s0, s1), accepts=(acc0, acc1))


def derive(w, wall, idle, wrk_s, be_s, proxy_s, machine, accepts):
    """The cell's figures from raw counter deltas (pure; unit-tested)."""
    reqs = max(w["requests"], 1)
    task_cores, irq_cores = machine
    cell = dict(w, ok=True, wall=wall, idle_reached=idle[0], pre_busy=idle[1],
                idle_waited=idle[2], wrk_cores=wrk_s / wall, be_cores=be_s / wall,
                machine_cores=task_cores + irq_cores, irq_cores=irq_cores,
                cores=None, cpu_s=None, cpu100k=None, cpu_gb=None, mb_s=None,
                be_conn_1k=None)
    nbytes = w.get("bytes")
    if nbytes:
        cell["mb_s"] = nbytes / w.get("secs", wall) / 1e6
    ours = cell["wrk_cores"] + cell["be_cores"]
    if proxy_s is not None:
        cell.update(cpu_s=proxy_s, cores=proxy_s / wall, cpu100k=proxy_s / reqs * 1e5)
        if nbytes:
            cell["cpu_gb"] = proxy_s / (nbytes / 1e9)
        ours += cell["cores"]
    # Foreign CPU: machine busy (task + irq: task runtimes include softirq
    # work done in their context) minus what our processes used.
    cell["bg_cores"] = max(0.0, task_cores + irq_cores - ours)
    acc0, acc1 = accepts
    if None not in acc0 and None not in acc1:
        # -1 per backend: the second stub_status request's own connection.
        new = sum(b - a - 1 for a, b in zip(acc0, acc1))
        cell["be_conn_1k"] = new / reqs * 1000
    return cell


def best_of(attempt, retries, max_bg, on_retry=None):
    """Call attempt() up to retries+1 times while foreign load exceeds max_bg; keep the quietest."""
    best = None
    for n in range(retries + 1):
        cell = attempt()
        cell["attempts"] = n + 1
        if not cell["ok"]:
            return cell
        if best is None or cell["bg_cores"] < best["bg_cores"]:
            best = cell
        if cell["bg_cores"] <= max_bg or n == retries:
            break
        if on_retry:
            on_retry(cell)
    return best


def span(values, spec="{:.2f}"):
    v = sorted(x for x in values if x is not None)
    return f"{spec.format(v[0])}–{spec.format(v[-1])}" if v else "-"


class ProcessBench:
    """The processes one bench run starts (backends, proxies), in a temp dir,
    stopped newest first by stop_all()."""

    def __init__(self, args, tmp_prefix):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix=tmp_prefix)
        # nginx workers may run as nobody: let them reach their temp dirs.
        os.chmod(self.tmp, 0o755)
        self.managed = []
        self.backends = []  # (port, Managed)
        self.targets = []
        self.cells = []
        self.problems = []

    def _spawn(self, name, argv):
        m = procs.Managed(name, argv, os.path.join(self.tmp, name + ".log"), cwd=self.tmp)
        self.managed.append(m)
        return m

    def _start_nginx(self, name, text):
        prefix = os.path.join(self.tmp, name)
        conf = os.path.join(self.tmp, name + ".conf")
        with open(conf, "w") as f:
            f.write(text(prefix))
        return self._spawn(name, configs.nginx_argv(prefix, conf))

    def _listening(self, name, port, managed):
        """None once `port` accepts connections, else the problem (with the log tail)."""
        if not procs.wait_port(port, managed, timeout=10):
            tail = managed.log_tail() if managed else ""
            return f"{name} did not accept connections on 127.0.0.1:{port}\n{tail}"
        return None

    def stop_all(self):
        for m in reversed(self.managed):
            m.stop()
        self.managed = []
