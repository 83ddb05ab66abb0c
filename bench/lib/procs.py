"""Child processes the bench starts: spawn, find descendants, sample CPU, stop by PID."""
import ctypes
import os
import signal
import subprocess
import time

_CLK_TCK = os.sysconf("SC_CLK_TCK")
_PR_SET_PDEATHSIG = 1
try:
    _LIBC = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - exotic libc
    _LIBC = None


def _die_with_parent():
    # Runs in the child between fork and exec: if the harness is SIGKILLed,
    # the direct child still gets a signal instead of living on.
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _read_stat(pid):
    """(ppid, starttime, utime+stime ticks) of /proc/PID/stat, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # comm may hold spaces and parentheses: split after the last ')'.
    rest = data[data.rfind(")") + 2:].split()
    # rest[0] is field 3 (state); field N is rest[N - 3].
    return int(rest[1]), int(rest[19]), int(rest[11]) + int(rest[12])


def descendants(root):
    """PIDs of root and all its descendants, found through the ppid field."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = _read_stat(name)
        if st is not None:
            children.setdefault(st[0], []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_ns(pids):
    """CPU time in ns used so far by all threads of the given processes.

    Sums the first field of /proc/PID/task/*/schedstat (ns on CPU); falls
    back to utime+stime from /proc/PID/stat when schedstat is unavailable.
    """
    total = 0
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        got = False
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
                    got = True
            except (OSError, ValueError, IndexError):
                pass
        if not got:
            st = _read_stat(pid)
            if st is not None:
                total += st[2] * 1_000_000_000 // _CLK_TCK
    return total


class Managed:
    """One long-running child (nginx master, haproxy, pier) and its descendants."""

    def __init__(self, name, argv, log_path, cwd=None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True,
            preexec_fn=_die_with_parent)
        self.pid = self.proc.pid
        # (pid, starttime) of every process seen in the tree, so stop() never
        # signals a recycled PID.
        self._seen = {}
        self._remember([self.pid])

    def _remember(self, pids):
        for pid in pids:
            st = _read_stat(pid)
            if st is not None:
                self._seen.setdefault(pid, st[1])

    def alive(self):
        return self.proc.poll() is None

    def pids(self):
        if not self.alive():
            return []
        pids = descendants(self.pid)
        self._remember(pids)
        return pids

    def cpu_ns(self):
        return cpu_ns(self.pids())

    def kill_now(self, sig=signal.SIGKILL):
        """Signal the whole tree at once (a simulated crash); stop() still reaps it.

        Returns the time.monotonic() just before the signal, or None if the
        process had already exited.

        The child leads its own session, so its process group holds the tree
        (nginx master and workers); each remembered PID is signalled too in
        case a descendant left the group.
        """
        if not self.alive():
            return None
        pids = self.pids()  # before the clock starts: reading /proc takes milliseconds
        when = time.monotonic()
        try:
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            pass
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        return when

    def log_tail(self, n=15):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def _still_ours(self):
        out = []
        for pid, start in self._seen.items():
            st = _read_stat(pid)
            if st is not None and st[1] == start:
                out.append(pid)
        return out

    def stop(self, grace=3.0):
        if self.alive():
            self._remember(descendants(self.pid))
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        # Anything left (a hung master, orphaned workers) is killed by PID.
        for pid in self._still_ours():
            if pid == self.pid and self.proc.poll() is not None:
                continue
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc.poll() is None:
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        self._log.close()


def wait_port(port, proc=None, timeout=10.0):
    """True once 127.0.0.1:port accepts a TCP connection (False on timeout/exit)."""
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def free_port():
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_bounded(argv, timeout):
    """Run a short-lived command (wrk, curl) with a hard time bound.

    Returns (returncode, stdout, stderr); raises subprocess.TimeoutExpired.
    Unlike subprocess.run, the child is killed *and reaped* on any exception,
    Ctrl-C included, so none outlives the bench.
    """
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except BaseException:
        p.kill()
        try:
            p.communicate(timeout=5)
        except BaseException:
            pass
        raise
    return p.returncode, out, err
