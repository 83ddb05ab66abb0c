"""Process lifecycle: SIGHUP reloads (good, bad, under load) and SIGTERM drain."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

import httpraw
from cfg import cluster, config, listener
from pier_proc import dump_yaml, eventually


def direct_config(port: int, body: str, extra_routes=(), clusters=(), **top) -> dict:
    routes = list(extra_routes) + [{"match": {"prefix": "/version"}, "direct_response": {"status": 200, "body": body}}]
    return config([listener("web", port, routes=routes)], clusters, **top)


def wait_body(port: int, target: str, want: str, timeout: float = 5.0) -> None:
    def check():
        r = httpraw.request(port, "GET", target, timeout=2)
        return r.status == 200 and r.text() == want
    eventually(check, timeout, message=f"{target} to answer {want!r}")


def test_sighup_reload_changes_direct_response(res):
    port = httpraw.free_port()
    pier = res.pier(direct_config(port, "v1"))
    assert httpraw.request(port, "GET", "/version").text() == "v1"
    pier.write_config(direct_config(port, "v2"))
    pier.reload()
    wait_body(port, "/version", "v2")
    assert pier.alive()
    assert '"v2"' in json.dumps(pier.admin_json("/config")), "/config does not show the reloaded config"


def test_sighup_reload_adds_route_and_cluster(res):
    echo = res.echo("new")
    port = httpraw.free_port()
    pier = res.pier(direct_config(port, "v1"))
    assert httpraw.request(port, "GET", "/new/x").status == 404
    pier.write_config(direct_config(port, "v1", extra_routes=[{"match": {"prefix": "/new"}, "cluster": "fresh"}],
                                    clusters=[cluster("fresh", [echo])]))
    pier.reload()
    eventually(lambda: httpraw.request(port, "GET", "/new/x").status == 200, message="new route")
    assert httpraw.request(port, "GET", "/new/x").json()["backend"] == "new"


def test_sighup_with_invalid_file_keeps_old_config_and_logs_location(res):
    port = httpraw.free_port()
    pier = res.pier(direct_config(port, "v1"))
    good = pier.config_text
    bad_cfg = direct_config(port, "v2", extra_routes=[{"match": {"prefix": "/broken"}, "cluster": "ghost"}])
    bad_text = dump_yaml(dict(bad_cfg, admin={"address": f"127.0.0.1:{pier.admin_port}"}))
    assert "ghost" in bad_text and good != bad_text
    pier.write_config(bad_text)
    bad_line = pier.line_of("cluster: ghost")
    log_start = len(pier.log_text())
    pier.reload()
    m = pier.wait_log(rf"pier\.yaml:{bad_line}:\d+:", timeout=5, start=log_start)
    assert m, f"no log line naming pier.yaml:{bad_line}:<col>:\n{pier.log_tail()}"
    assert pier.alive()
    r = httpraw.request(port, "GET", "/version")
    assert r.status == 200 and r.text() == "v1"
    # A later good file is still picked up.
    pier.write_config(direct_config(port, "v3"))
    pier.reload()
    wait_body(port, "/version", "v3")


def test_in_flight_request_survives_reload(res):
    echo = res.echo("slow")
    port = httpraw.free_port()
    routes = [{"match": {"prefix": "/delay/"}, "cluster": "app"}]
    pier = res.pier(direct_config(port, "v1", extra_routes=routes, clusters=[cluster("app", [echo])]))
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("r", httpraw.request(port, "GET", "/delay/1000", timeout=10)))
    t.start()
    try:
        assert echo.wait_for(lambda b: b.in_flight == 1, 5)
        pier.write_config(direct_config(port, "v2", extra_routes=routes, clusters=[cluster("app", [echo])]))
        pier.reload()
        wait_body(port, "/version", "v2")
    finally:
        t.join(timeout=10)
    assert result["r"].status == 200
    assert result["r"].json()["path"] == "/delay/1000"


@pytest.mark.nginx
@pytest.mark.slow
def test_reload_under_load_has_no_errors(res):
    ng = res.nginx()
    port = httpraw.free_port()
    load_route = [{"match": {"prefix": "/load"}, "cluster": "nginx", "prefix_rewrite": "/hello"}]
    clusters = [cluster("nginx", [ng])]
    pier = res.pier(direct_config(port, "gen0", extra_routes=load_route, clusters=clusters))
    assert httpraw.request(port, "GET", "/load").body == b"hello from nginx\n"

    wrk = subprocess.Popen(["wrk", "-t2", "-c16", "-d3s", "--timeout", "2s", f"http://127.0.0.1:{port}/load"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    res.add_cleanup(lambda: wrk.poll() is None and (wrk.kill(), wrk.wait()))
    try:
        eventually(lambda: pier.metrics().value("pier_listener_requests_total", listener="web") > 100, 3,
                   message="load flowing")
        first = time.monotonic()
        for gen in range(1, 7):
            # Spread the reloads over wrk's 3 s run (pacing, not synchronisation).
            time.sleep(max(0.0, first + 0.4 * (gen - 1) - time.monotonic()))
            pier.write_config(direct_config(port, f"gen{gen}", extra_routes=load_route, clusters=clusters))
            pier.reload()
            wait_body(port, "/version", f"gen{gen}", timeout=3)
        assert wrk.poll() is None, "wrk finished before the reloads did; the test did not overlap them"
        out, _ = wrk.communicate(timeout=15)
    finally:
        if wrk.poll() is None:
            wrk.kill()
            wrk.wait()
    assert wrk.returncode == 0, out
    total = re.search(r"(\d+) requests in", out)
    assert total and int(total.group(1)) > 500, out
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    assert not errs or all(int(x) == 0 for x in errs.groups()), out
    assert "Non-2xx or 3xx responses" not in out, out
    assert pier.alive()


def _connect_refused(port: int) -> bool:
    s = socket.socket()
    s.settimeout(0.5)
    try:
        s.connect(("127.0.0.1", port))
        return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    finally:
        s.close()


def test_sigterm_drains_in_flight_request_then_exits_zero(res):
    echo = res.echo("drain")
    port = httpraw.free_port()
    routes = [{"match": {"prefix": "/delay/"}, "cluster": "app"}]
    pier = res.pier(direct_config(port, "v1", extra_routes=routes, clusters=[cluster("app", [echo])],
                                  drain_timeout="5s"))
    result = {}

    def slow():
        try:
            result["r"] = httpraw.request(port, "GET", "/delay/1500", timeout=10)
        except Exception as e:  # reported below
            result["e"] = e

    t = threading.Thread(target=slow)
    t.start()
    try:
        assert echo.wait_for(lambda b: b.in_flight == 1, 5), "slow request never reached the backend"
        start = time.monotonic()
        pier.signal(signal.SIGTERM)
        eventually(lambda: _connect_refused(port), 1.2, message="listener closed after SIGTERM")
        assert "r" not in result, "in-flight request finished before the listener closed; test not meaningful"
    finally:
        t.join(timeout=10)
    assert "e" not in result, f"in-flight request failed during drain: {result.get('e')!r}"
    assert result["r"].status == 200 and result["r"].json()["path"] == "/delay/1500"
    code = pier.wait_exit(timeout=7)
    assert code is not None, "pier still running after drain_timeout"
    assert code == 0
    assert time.monotonic() - start < 5.5


def test_sigterm_when_idle_exits_quickly(res):
    port = httpraw.free_port()
    pier = res.pier(direct_config(port, "v1", drain_timeout="5s"))
    start = time.monotonic()
    pier.signal(signal.SIGTERM)
    code = pier.wait_exit(timeout=5)
    assert code == 0
    assert time.monotonic() - start < 2.0


def test_sigterm_closes_idle_keep_alive_connections(res):
    port = httpraw.free_port()
    pier = res.pier(direct_config(port, "v1", drain_timeout="3s"))
    c = httpraw.Conn(port)
    res.add_cleanup(c.close)
    assert c.request("GET", "/version").status == 200  # now an idle keep-alive connection
    start = time.monotonic()
    pier.signal(signal.SIGTERM)
    assert c.closed_by_peer(3.5), "idle keep-alive connection not closed during drain"
    code = pier.wait_exit(timeout=4)
    assert code == 0
    assert time.monotonic() - start < 3.5


def test_drain_timeout_bounds_shutdown(res):
    echo = res.echo("stuck")
    port = httpraw.free_port()
    routes = [{"match": {"prefix": "/delay/"}, "cluster": "app"}]
    pier = res.pier(direct_config(port, "v1", extra_routes=routes, clusters=[cluster("app", [echo])],
                                  drain_timeout="500ms"))
    c = httpraw.Conn(port, timeout=10)
    res.add_cleanup(c.close)
    c.send(httpraw.build_request("GET", "/delay/8000"))
    assert echo.wait_for(lambda b: b.in_flight == 1, 5)
    start = time.monotonic()
    pier.signal(signal.SIGTERM)
    code = pier.wait_exit(timeout=5)
    assert code is not None, "pier ignored drain_timeout"
    assert time.monotonic() - start < 3.0


def test_listener_port_in_use_fails_startup(res):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    res.add_cleanup(blocker.close)
    port = blocker.getsockname()[1]
    pier = res.pier(direct_config(port, "v1"), start=False)
    pier.start(wait_ready=False)
    code = pier.wait_exit(timeout=5)
    assert code is not None and code != 0, "pier kept running without its listener"
    assert str(port) in pier.log_text()
