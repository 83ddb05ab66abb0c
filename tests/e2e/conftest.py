"""Fixtures for pier's end-to-end tests.

Every process a fixture starts (pier, nginx, wrk) is tracked by its Popen and
stopped by PID at teardown; echo backends are threads in this process. Ports
are 0 for our own backends, otherwise allocated by binding 127.0.0.1:0.
Temporary directories are removed at teardown, pass or fail; when a test fails
the tail of every live pier's stderr is printed first.
"""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from echo_backend import EchoBackend  # noqa: E402
from nginx_proc import Nginx  # noqa: E402
from pier_proc import Pier, pier_binary  # noqa: E402

_LIVE_PIERS: list[Pier] = []


class Resources:
    """Starts things for one fixture scope and stops all of them, newest first."""

    def __init__(self, binary: Path, label: str):
        self.binary = binary
        self.workdir = Path(tempfile.mkdtemp(prefix=f"pier-e2e-{label}-"))
        self._stops = []
        self._n = 0

    def subdir(self, name: str) -> Path:
        self._n += 1
        p = self.workdir / f"{self._n:02d}-{name}"
        p.mkdir()
        return p

    def echo(self, name: str = "echo") -> EchoBackend:
        b = EchoBackend(name).start()
        self._stops.append(b.stop)
        return b

    def nginx(self) -> Nginx:
        n = Nginx(self.subdir("nginx"))
        self._stops.append(n.stop)
        return n.start()

    def pier(self, config: dict | str, start: bool = True, wait_ready: bool = True) -> Pier:
        p = Pier(self.binary, self.subdir("pier"), config)

        def stop():
            rc = p.stop()
            if p in _LIVE_PIERS:
                _LIVE_PIERS.remove(p)
            # With a sanitizer build (PIER_BIN=build/debug/pier) any memory
            # error, undefined behaviour or leak fails the test that ran it.
            log = p.log_text()
            for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
                if marker in log:
                    raise AssertionError(f"pier reported a sanitizer error:\n{p.log_tail(60)}")
            # A crash after the test's last response would otherwise go unnoticed.
            crashes = (signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGFPE, signal.SIGILL)
            if rc is not None and rc < 0 and -rc in crashes:
                raise AssertionError(f"pier crashed ({signal.Signals(-rc).name}):\n{p.log_tail(60)}")

        self._stops.append(stop)
        if start:
            _LIVE_PIERS.append(p)
            p.start(wait_ready=wait_ready)
        return p

    def add_cleanup(self, fn) -> None:
        self._stops.append(fn)

    def close(self) -> None:
        errors = []
        for stop in reversed(self._stops):
            try:
                stop()
            except Exception as e:  # keep stopping the rest
                errors.append(e)
        shutil.rmtree(self.workdir, ignore_errors=True)
        if errors:
            raise errors[0]


@pytest.fixture(scope="session")
def pier_bin() -> Path:
    path = pier_binary()
    if not path.exists():
        pytest.fail(f"pier binary not found at {path}: build it (cmake --preset release) or set PIER_BIN", pytrace=False)
    return path


@pytest.fixture
def res(pier_bin, request):
    r = Resources(pier_bin, request.node.name[:40].replace("/", "_").replace("[", "-").replace("]", ""))
    yield r
    r.close()


@pytest.fixture(scope="module")
def mres(pier_bin, request):
    r = Resources(pier_bin, request.module.__name__.rsplit(".", 1)[-1])
    yield r
    r.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(autouse=True)
def _dump_pier_logs_on_failure(request):
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for p in list(_LIVE_PIERS):
            print(f"---- pier {p.config_path} (alive={p.alive()}) stderr tail ----")
            print(p.log_tail(30))
