"""Runs the real pier binary for a test and talks to its admin API."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import yaml

import httpraw


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def pier_binary() -> Path:
    return Path(os.environ.get("PIER_BIN", repo_root() / "build" / "release" / "pier"))


def dump_yaml(config: dict) -> str:
    return yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


class PierFailed(AssertionError):
    pass


class Pier:
    """One `pier run` process with its config file and stderr log in `workdir`.

    Ports: the admin port is allocated here unless the config names one; listener
    ports are whatever the config says (allocate them with httpraw.free_port()).
    """

    def __init__(self, binary: Path, workdir: Path, config: dict | str, config_name: str = "pier.yaml"):
        self.binary = Path(binary)
        self.workdir = Path(workdir)
        self.config_path = self.workdir / config_name
        self.log_path = self.workdir / f"{config_name}.stderr.log"
        self.stdout_path = self.workdir / f"{config_name}.stdout.log"
        self.proc: subprocess.Popen | None = None
        self.admin_port: int | None = None
        self.write_config(config)

    # ---- config ----------------------------------------------------------------------

    def write_config(self, config: dict | str) -> None:
        """Writes the config file (atomically, so a reload never reads half a file)."""
        if isinstance(config, dict):
            config = dict(config)
            admin = dict(config.get("admin") or {})
            if "address" not in admin:
                admin["address"] = f"127.0.0.1:{self.admin_port or httpraw.free_port()}"
            config["admin"] = admin
            self.admin_port = int(admin["address"].rsplit(":", 1)[1])
            text = dump_yaml(config)
        else:
            text = config
            m = re.search(r"address:\s*\"?127\.0\.0\.1:(\d+)", text.split("listeners:")[0])
            if m:
                self.admin_port = int(m.group(1))
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.config_path)
        self.config_text = text

    def line_of(self, needle: str) -> int:
        """1-based line number of the first config line containing `needle`."""
        for i, line in enumerate(self.config_text.splitlines(), 1):
            if needle in line:
                return i
        raise KeyError(needle)

    # ---- process ---------------------------------------------------------------------

    def start(self, wait_ready: bool = True, timeout: float = 10.0) -> "Pier":
        self._log = open(self.log_path, "wb")
        self._out = open(self.stdout_path, "wb")
        self.proc = subprocess.Popen(
            [str(self.binary), "run", "--config", str(self.config_path)],
            stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._log, cwd=self.workdir,
        )
        if wait_ready:
            self.wait_ready(timeout)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if not self.alive():
                raise PierFailed(f"pier exited with {self.proc.returncode} before ready:\n{self.log_tail()}")
            try:
                r = httpraw.request(self.admin_port, "GET", "/ready", timeout=1.0)
                if r.status == 200:
                    return
                last = f"/ready answered {r.status}"
            except (OSError, AssertionError) as e:
                last = str(e)
            time.sleep(0.02)  # poll interval
        raise PierFailed(f"pier not ready after {timeout}s ({last}):\n{self.log_tail()}")

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)

    def reload(self) -> None:
        self.signal(signal.SIGHUP)

    def wait_exit(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`. Only ever signals our own child."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        for f in (self._log, self._out):
            try:
                f.close()
            except Exception:
                pass
        return self.proc.returncode

    # ---- logs ------------------------------------------------------------------------

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

    def wait_log(self, pattern: str, timeout: float = 5.0, start: int = 0) -> re.Match | None:
        """Waits for `pattern` (regex) to appear in stderr after character offset `start`."""
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log_text(), start)
            if m or time.monotonic() >= deadline:
                return m
            time.sleep(0.02)  # poll interval

    # ---- admin -----------------------------------------------------------------------

    def admin(self, path: str, method: str = "GET") -> httpraw.Response:
        return httpraw.request(self.admin_port, method, path, timeout=5.0)

    def admin_json(self, path: str):
        r = self.admin(path)
        assert r.status == 200, f"admin {path} -> {r.status}: {r.body[:300]!r}"
        return json.loads(r.body)

    def metrics(self) -> "Metrics":
        r = self.admin("/stats/prometheus")
        assert r.status == 200, f"/stats/prometheus -> {r.status}"
        return Metrics(r.text())


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class Metrics:
    """Parsed Prometheus text exposition."""

    def __init__(self, text: str):
        self.text = text
        self.samples: list[tuple[str, dict, float]] = []
        self.types: dict[str, str] = {}
        for line in text.splitlines():
            line = line.strip()
            if not line:
                continue
            if line.startswith("#"):
                parts = line.split()
                if len(parts) >= 4 and parts[1] == "TYPE":
                    self.types[parts[2]] = parts[3]
                continue
            m = _SAMPLE.match(line)
            if not m:
                raise AssertionError(f"unparseable metrics line: {line!r}")
            labels = dict(_LABEL.findall(m.group(3) or ""))
            self.samples.append((m.group(1), labels, float(m.group(4))))

    def series(self, name: str, **labels) -> list[tuple[dict, float]]:
        return [(l, v) for n, l, v in self.samples if n == name and all(l.get(k) == str(x) for k, x in labels.items())]

    def has(self, name: str, **labels) -> bool:
        return bool(self.series(name, **labels))

    def value(self, name: str, **labels) -> float:
        """Sum over every series of `name` whose labels include `labels` (0 if none)."""
        return sum(v for _, v in self.series(name, **labels))


def run_cli(args: list[str], timeout: float = 10.0, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(pier_binary())] + args, capture_output=True, text=True, timeout=timeout, cwd=cwd)


def eventually(fn, timeout: float = 5.0, interval: float = 0.02, message: str = "condition"):
    """Calls fn() until it returns a truthy value or raises no AssertionError; returns that value.

    For state that pier publishes asynchronously (metrics aggregated from workers,
    log lines flushed by a logger thread)."""
    deadline = time.monotonic() + timeout
    last_err = None
    while True:
        try:
            v = fn()
            if v:
                return v
            last_err = None
        except AssertionError as e:
            last_err = e
        if time.monotonic() >= deadline:
            if last_err:
                raise last_err
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)
