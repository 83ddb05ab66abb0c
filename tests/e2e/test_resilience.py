"""Resilience: a backend killed under load, outlier ejection, active health
checks (http and tcp), panic mode, retries, circuit breakers and timeouts.

Backends are echo_backend threads; their toggles (force_status, force_delay_ms,
health_status) make one endpoint misbehave while the others stay normal. Tests
that count exact ejection or retry behaviour use one worker, because outlier
state and round-robin order are per worker.
"""

from __future__ import annotations

import collections
import re
import threading
import time

import pytest

import httpraw
from cfg import cluster, config, listener
from echo_backend import EchoBackend
from l4_peers import TcpPeer
from pier_proc import eventually


def route(prefix: str, cluster_name: str, **extra) -> dict:
    d = {"match": {"prefix": prefix}, "cluster": cluster_name}
    d.update(extra)
    return d


def get(port: int, target: str, method: str = "GET", body=None, timeout: float = 5.0) -> httpraw.Response:
    return httpraw.request(port, method, target, body=body, timeout=timeout)


def endpoints(pier, cluster_name: str) -> dict:
    """/clusters as {address: endpoint dict} for one cluster."""
    for c in pier.admin_json("/clusters")["clusters"]:
        if c["name"] == cluster_name:
            return {e["address"]: e for e in c["endpoints"]}
    raise AssertionError(f"cluster {cluster_name} not in /clusters")


def log_line_with(pier, *needles: str) -> str | None:
    for line in pier.log_text().splitlines():
        if all(n in line for n in needles):
            return line
    return None


def probes(backend: EchoBackend) -> int:
    with backend._cond:
        return sum(1 for r in backend.requests if r["path"] == backend.health_path)


NO_OUTLIERS = {"enabled": False}


# ---- (1) a backend killed under load ----------------------------------------------------------

@pytest.mark.slow
def test_backend_killed_mid_load_loses_no_requests_and_comes_back(res):
    b = [res.echo(f"k{i}") for i in range(3)]
    victim = b[2]
    port = httpraw.free_port()
    c = cluster("app", b, connect_timeout="1s", outlier_detection={
        "consecutive_gateway_failure": 2, "base_ejection_time": "300ms", "max_ejection_time": "1s"})
    pier = res.pier(config([listener("web", port, routes=[route("/", "app")])], [c], workers=2))

    results: list[tuple[float, int | None, str]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(tid: int) -> None:
        conn = None
        deadline = time.monotonic() + 20
        for n in range(6000):  # bounded; normally ended by `stop` long before
            if stop.is_set() or time.monotonic() > deadline:
                break
            try:
                if conn is None:
                    conn = httpraw.Conn(port, timeout=5)
                r = conn.request("GET", f"/load/{tid}/{n}")
                rec = (time.monotonic(), r.status, r.json()["backend"] if r.status == 200 else repr(r))
                if "close" in (r.header("connection") or "").lower():
                    conn.close()
                    conn = None
            except Exception as e:  # a failed request is what this test looks for
                rec = (time.monotonic(), None, repr(e))
                if conn is not None:
                    conn.close()
                conn = None
            with lock:
                results.append(rec)
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(2)]
    for t in threads:
        t.start()
    try:
        eventually(lambda: len(results) >= 150, 10, message="150 requests before the kill")
        assert victim.traffic_count() > 0, "victim got no traffic before the kill"
        victim.stop()  # listener closed (connects refused), open connections shut down
        t_stop = time.monotonic()
        victim_count = victim.request_count()
        with lock:
            n_at_stop = len(results)
        # At least a second (several ejection periods) and 300 requests after the kill.
        eventually(lambda: len(results) >= n_at_stop + 300 and time.monotonic() > t_stop + 1.0, 15,
                   message="300 requests and 1s after the kill")
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)

    failed = [r for r in results if r[1] != 200]
    assert not failed, f"{len(failed)} of {len(results)} requests failed, e.g. {failed[:3]}"
    late = [r for r in results if r[0] > t_stop + 0.2]
    assert late, "no requests completed after the kill"
    assert victim.name not in {r[2] for r in late}
    assert {r[2] for r in late} == {"k0", "k1"}, collections.Counter(r[2] for r in late)
    assert victim.request_count() == victim_count
    m = pier.metrics()
    ejections = m.value("pier_endpoint_ejections_total", cluster="app", endpoint=victim.address)
    retries = m.value("pier_cluster_retries_total", cluster="app")
    assert ejections + retries > 0, "neither an ejection nor a retry was counted for the dead endpoint"

    # The same address comes back: traffic returns once the ejection ends.
    again = EchoBackend("k2-again", port=victim.port).start()
    res.add_cleanup(again.stop)
    t_back = time.monotonic()

    def reached_again():
        r = get(port, "/after-restart")
        assert r.status == 200, r
        return again.traffic_count() > 0

    eventually(reached_again, 6, interval=0.05, message="traffic to the restarted backend")
    assert time.monotonic() - t_back < 6
    if ejections:
        assert pier.wait_log(r"back in rotation", 2), "no 'back in rotation' log line"


# ---- (2) outlier ejection ----------------------------------------------------------------------

def test_consecutive_5xx_ejects_endpoint_for_the_ejection_time(res):
    bad, good = res.echo("bad"), res.echo("good")
    bad.force_status = 500
    port = httpraw.free_port()
    c = cluster("app", [bad, good], outlier_detection={
        "consecutive_5xx": 3, "consecutive_gateway_failure": 0, "base_ejection_time": "1s",
        "max_ejection_time": "10s"})
    pier = res.pier(config([listener("web", port, routes=[route("/", "app")])], [c], workers=1))

    statuses = []
    t_eject = None
    for i in range(6):  # round robin: bad gets requests 1, 3, 5
        if bad.traffic_count() == 2:
            t_eject = time.monotonic()
        statuses.append(get(port, f"/warm/{i}").status)
    assert sorted(statuses) == [200, 200, 200, 500, 500, 500], statuses
    assert bad.traffic_count() == 3

    after = [get(port, f"/ejected/{i}") for i in range(10)]
    assert [r.status for r in after] == [200] * 10, [r.status for r in after]
    assert bad.traffic_count() == 3, "ejected endpoint still got traffic"
    line = eventually(lambda: log_line_with(pier, "ejected", bad.address), 2, message="an ejection log line")
    assert "5xx" in line, line
    m = pier.metrics()
    assert m.value("pier_endpoint_ejections_total", cluster="app", endpoint=bad.address) == 1
    assert m.value("pier_endpoint_ejected", cluster="app", endpoint=bad.address) == 1
    assert m.value("pier_endpoint_ejections_total", cluster="app", endpoint=good.address) == 0

    bad.force_status = None

    def back():
        assert get(port, "/probe-back").status == 200
        return bad.traffic_count() > 3

    eventually(back, 5, interval=0.05, message="ejected endpoint back in rotation")
    elapsed = time.monotonic() - t_eject
    assert elapsed >= 0.9, f"endpoint back after {elapsed:.2f}s, ejection time is 1s"
    assert elapsed < 3.0, f"endpoint back only after {elapsed:.2f}s, ejection time is 1s"
    assert pier.wait_log(r"back in rotation", 2)
    eventually(lambda: pier.metrics().value("pier_endpoint_ejected", cluster="app", endpoint=bad.address) == 0,
               2, message="ejected gauge back to 0")


def test_max_ejection_percent_keeps_one_of_two_failing_endpoints(res):
    a, b = res.echo("a"), res.echo("b")
    a.force_status = b.force_status = 500
    port = httpraw.free_port()
    c = cluster("app", [a, b], outlier_detection={
        "consecutive_5xx": 2, "consecutive_gateway_failure": 0, "base_ejection_time": "5s",
        "max_ejection_percent": 50})
    pier = res.pier(config([listener("web", port, routes=[route("/", "app")])], [c], workers=1))

    statuses = [get(port, f"/x/{i}").status for i in range(10)]
    assert statuses == [500] * 10, statuses
    # a, b, a (a ejected after its 2nd failure), then b only: b is never ejected
    # because half the cluster is already out.
    assert sorted([a.traffic_count(), b.traffic_count()]) == [2, 8]
    m = pier.metrics()
    assert m.value("pier_endpoint_ejected", cluster="app") == 1
    assert m.value("pier_endpoint_ejections_total", cluster="app") == 1
    assert len(re.findall(r"ejected for", pier.log_text())) == 1


# ---- (3) active health checks ------------------------------------------------------------------

HC_INTERVAL = 0.1


def test_http_health_check_flips_within_thresholds(res):
    a, b = res.echo("a"), res.echo("b")
    port = httpraw.free_port()
    c = cluster("hc", [a, b], panic_threshold_percent=0, outlier_detection=NO_OUTLIERS, health_check={
        "type": "http", "interval": "100ms", "timeout": "100ms", "jitter": "0ms", "healthy_threshold": 2,
        "unhealthy_threshold": 3, "path": "/healthz", "host": "health.local", "expected_statuses": [200, "200-299"]})
    pier = res.pier(config([listener("web", port, routes=[route("/", "hc")])], [c], workers=2))

    assert a.wait_for(lambda s: probes(s) >= 2, 3), "no health probes reached the endpoint"
    probe = next(r for r in a.requests if r["path"] == "/healthz")
    assert probe["method"] == "GET"
    assert ["Host", "health.local"] in probe["headers"] or ["host", "health.local"] in probe["headers"]
    eps = endpoints(pier, "hc")
    assert eps[a.address]["healthy"] is True and eps[b.address]["healthy"] is True
    assert "state" in eps[a.address]
    m = pier.metrics()
    assert m.value("pier_endpoint_healthy", cluster="hc", endpoint=a.address) == 1

    # Down: three failed probes (100 ms apart) flip it.
    a.health_status = 503
    t0 = time.monotonic()
    eventually(lambda: endpoints(pier, "hc")[a.address]["healthy"] is False, 3, interval=0.01,
               message="endpoint marked unhealthy")
    down_after = time.monotonic() - t0
    assert down_after >= 2 * HC_INTERVAL * 0.8, f"unhealthy after {down_after:.3f}s: fewer than 3 probes?"
    assert down_after <= 3 * HC_INTERVAL + 1.0, f"unhealthy only after {down_after:.3f}s"
    eps = endpoints(pier, "hc")
    assert eps[a.address]["state"] != eps[b.address]["state"], eps
    eventually(lambda: pier.metrics().value("pier_endpoint_healthy", cluster="hc", endpoint=a.address) == 0, 2,
               message="pier_endpoint_healthy 0")
    assert eventually(lambda: log_line_with(pier, "hc", a.address, "503"), 2,
                      message="a log line naming cluster, endpoint and the 503")

    before = a.traffic_count()
    seen = [get(port, f"/while-down/{i}").json()["backend"] for i in range(10)]
    assert seen == ["b"] * 10
    assert a.traffic_count() == before

    # Up again: two passing probes.
    a.health_status = 200
    t1 = time.monotonic()
    eventually(lambda: endpoints(pier, "hc")[a.address]["healthy"] is True, 3, interval=0.01,
               message="endpoint healthy again")
    up_after = time.monotonic() - t1
    assert up_after >= 1 * HC_INTERVAL * 0.8, f"healthy after {up_after:.3f}s: fewer than 2 probes?"
    assert up_after <= 2 * HC_INTERVAL + 1.0, f"healthy only after {up_after:.3f}s"
    eventually(lambda: pier.metrics().value("pier_endpoint_healthy", cluster="hc", endpoint=a.address) == 1, 2,
               message="pier_endpoint_healthy 1")
    seen = [get(port, f"/after-up/{i}").json()["backend"] for i in range(10)]
    assert set(seen) == {"a", "b"}, seen


def test_tcp_health_check_send_expect_and_plain_connect(res):
    x = TcpPeer("x").start()
    y = TcpPeer("y").start()
    res.add_cleanup(x.stop)
    res.add_cleanup(y.stop)
    dead = f"127.0.0.1:{httpraw.refused_port()}"
    port = httpraw.free_port()
    tcp_check = {"type": "tcp", "interval": "100ms", "timeout": "100ms", "jitter": "0ms",
                 "healthy_threshold": 1, "unhealthy_threshold": 1}
    clusters = [
        cluster("pingpong", [x, y], health_check=dict(tcp_check, send="PING", expect="PONG")),
        cluster("connect", [x.address, dead], health_check=dict(tcp_check)),
    ]
    routes = [route("/pp/", "pingpong"), route("/cc/", "connect")]
    pier = res.pier(config([listener("web", port, routes=routes)], clusters, workers=1))

    assert y.wait_for(lambda p: p.probes() >= 2, 3), "no tcp probes with the PING payload"
    eventually(lambda: endpoints(pier, "connect")[dead]["healthy"] is False, 3,
               message="refused endpoint unhealthy")
    assert endpoints(pier, "connect")[x.address]["healthy"] is True
    assert endpoints(pier, "pingpong")[y.address]["healthy"] is True

    y.pong = b"NOPE"
    eventually(lambda: endpoints(pier, "pingpong")[y.address]["healthy"] is False, 3,
               message="endpoint with the wrong reply unhealthy")
    assert endpoints(pier, "pingpong")[x.address]["healthy"] is True
    assert eventually(lambda: log_line_with(pier, "pingpong", y.address), 2, message="log line for y")
    eventually(lambda: pier.metrics().value("pier_endpoint_healthy", cluster="pingpong", endpoint=y.address) == 0,
               2, message="pier_endpoint_healthy 0 for y")

    y.pong = b"PONG"
    eventually(lambda: endpoints(pier, "pingpong")[y.address]["healthy"] is True, 3,
               message="endpoint healthy after the right reply")


# ---- (4) panic mode -----------------------------------------------------------------------------

def test_panic_mode_serves_when_every_endpoint_is_unhealthy(res):
    p = [res.echo(f"p{i}") for i in range(2)]
    s = [res.echo(f"s{i}") for i in range(2)]
    for b in p + s:
        b.health_status = 503
    port = httpraw.free_port()
    check = {"type": "http", "interval": "100ms", "timeout": "100ms", "healthy_threshold": 1,
             "unhealthy_threshold": 1, "path": "/healthz"}
    clusters = [
        cluster("panic", p, health_check=check, outlier_detection=NO_OUTLIERS),  # threshold: default 50
        cluster("strict", s, health_check=check, outlier_detection=NO_OUTLIERS, panic_threshold_percent=0),
    ]
    routes = [route("/panic/", "panic"), route("/strict/", "strict")]
    pier = res.pier(config([listener("web", port, routes=routes)], clusters, workers=1))

    for name, group in (("panic", p), ("strict", s)):
        eventually(lambda: all(e["healthy"] is False for e in endpoints(pier, name).values()), 3,
                   message=f"every endpoint of {name} unhealthy")

    served = [get(port, f"/panic/{i}") for i in range(4)]
    assert [r.status for r in served] == [200] * 4, served
    assert {r.json()["backend"] for r in served} == {"p0", "p1"}
    assert pier.metrics().value("pier_cluster_panic_picks_total", cluster="panic") > 0

    refused = [get(port, f"/strict/{i}").status for i in range(3)]
    assert refused == [503] * 3
    assert sum(b.traffic_count() for b in s) == 0


# ---- (5) retries --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def retry_env(mres):
    gw_bad, gw_ok = mres.echo("gw-bad"), mres.echo("gw-ok")
    gw_bad.force_status = 503
    cf_ok = mres.echo("cf-ok")
    slow, fast = mres.echo("slow"), mres.echo("fast")
    slow.force_delay_ms = 1500
    n = [mres.echo(f"n{i}") for i in range(3)]
    for b in n:
        b.force_status = 503
    t = [mres.echo(f"t{i}") for i in range(2)]
    nb_bad, nb_ok = mres.echo("nb-bad"), mres.echo("nb-ok")
    nb_bad.force_status = 503
    dead = f"127.0.0.1:{httpraw.refused_port()}"
    port = httpraw.free_port()
    clusters = [
        cluster("gw", [gw_bad, gw_ok], outlier_detection=NO_OUTLIERS),
        cluster("cf", [dead, cf_ok.address], outlier_detection=NO_OUTLIERS),
        cluster("slow", [slow, fast], outlier_detection=NO_OUTLIERS),
        cluster("n", n, outlier_detection=NO_OUTLIERS),
        cluster("trunc", t, outlier_detection=NO_OUTLIERS),
        cluster("nobudget", [nb_bad, nb_ok], outlier_detection=NO_OUTLIERS,
                retry_budget={"budget_percent": 0, "min_retry_concurrency": 0}),
    ]
    routes = [
        route("/gw/", "gw", retry_policy={"retry_on": ["gateway-error"], "num_retries": 1}),
        route("/cf/", "cf"),  # no policy anywhere: connect failures only
        route("/slow/", "slow", retry_policy={"retry_on": ["gateway-error"], "num_retries": 1,
                                               "per_try_timeout": "200ms"}),
        route("/n2/", "n", retry_policy={"retry_on": ["5xx"], "num_retries": 2}),
        route("/n1/", "n", retry_policy={"retry_on": ["5xx"], "num_retries": 1}),
        route("/truncate/", "trunc", retry_policy={"retry_on": ["reset", "5xx", "gateway-error"],
                                                  "num_retries": 2}),
        route("/nobudget/", "nobudget", retry_policy={"retry_on": ["gateway-error"], "num_retries": 1}),
    ]
    pier = mres.pier(config([listener("web", port, routes=routes)], clusters, workers=1))
    return {"port": port, "pier": pier, "gw_bad": gw_bad, "gw_ok": gw_ok, "cf_ok": cf_ok, "slow": slow,
            "fast": fast, "n": n, "t": t, "nb_bad": nb_bad, "nb_ok": nb_ok}


def test_retriable_503_is_retried_on_the_other_endpoint(retry_env):
    env = retry_env
    before_bad = env["gw_bad"].traffic_count()
    before_retries = env["pier"].metrics().value("pier_cluster_retries_total", cluster="gw")
    got = [get(env["port"], f"/gw/get/{i}") for i in range(4)]
    assert [r.status for r in got] == [200] * 4, got
    assert {r.json()["backend"] for r in got} == {"gw-ok"}
    tried_bad = env["gw_bad"].traffic_count() - before_bad
    assert tried_bad >= 1, "the failing endpoint was never tried, so nothing was retried"
    eventually(lambda: env["pier"].metrics().value("pier_cluster_retries_total", cluster="gw")
               - before_retries >= tried_bad, 2, message="retries counted")


def test_post_is_not_retried_on_5xx(retry_env):
    env = retry_env
    before_bad = env["gw_bad"].traffic_count()
    got = [get(env["port"], f"/gw/post/{i}", method="POST", body=b"payload") for i in range(4)]
    statuses = [r.status for r in got]
    to_bad = env["gw_bad"].traffic_count() - before_bad
    assert to_bad >= 1
    assert statuses.count(503) == to_bad, f"statuses {statuses}, POSTs that reached the 503 endpoint: {to_bad}"
    assert statuses.count(200) == 4 - to_bad


def test_post_is_retried_on_connect_failure(retry_env):
    env = retry_env
    before = env["cf_ok"].traffic_count()
    m0 = env["pier"].metrics().value("pier_cluster_upstream_connect_failures_total", cluster="cf")
    got = [get(env["port"], f"/cf/post/{i}", method="POST", body=f"body-{i}") for i in range(4)]
    assert [r.status for r in got] == [200] * 4, got
    bodies = [r["body"] for r in env["cf_ok"].traffic()[before:]]
    assert bodies == [f"body-{i}" for i in range(4)]
    assert env["pier"].metrics().value("pier_cluster_upstream_connect_failures_total", cluster="cf") - m0 >= 1, \
        "the refused endpoint was never tried"


def test_per_try_timeout_retries_on_the_other_endpoint(retry_env):
    env = retry_env
    before_slow = env["slow"].traffic_count()
    for i in range(2):
        start = time.monotonic()
        r = get(env["port"], f"/slow/{i}")
        elapsed = time.monotonic() - start
        assert r.status == 200, r
        assert r.json()["backend"] == "fast"
        assert elapsed < 1.2, f"took {elapsed:.2f}s: waited for the slow endpoint (1.5s) instead of retrying"
    assert env["slow"].traffic_count() - before_slow >= 1, "the slow endpoint was never tried"


@pytest.mark.parametrize("path,tries", [("/n2/", 3), ("/n1/", 2)])
def test_num_retries_is_respected(retry_env, path, tries):
    env = retry_env
    before = [b.traffic_count() for b in env["n"]]
    r = get(env["port"], f"{path}x")
    assert r.status == 503
    hits = [b.traffic_count() - x for b, x in zip(env["n"], before)]
    assert sum(hits) == tries, hits
    assert max(hits) == 1, f"a retry went back to an endpoint that already failed: {hits}"


def test_exhausted_retry_budget_stops_retries(retry_env):
    env = retry_env
    before_bad = env["nb_bad"].traffic_count()
    statuses = [get(env["port"], f"/nobudget/{i}").status for i in range(4)]
    to_bad = env["nb_bad"].traffic_count() - before_bad
    assert to_bad >= 1
    assert statuses.count(503) == to_bad, f"statuses {statuses}: a retry got past a zero budget"
    m = env["pier"].metrics()
    assert m.value("pier_cluster_retry_budget_exhausted_total", cluster="nobudget") >= to_bad
    assert m.value("pier_cluster_retries_total", cluster="nobudget") == 0


def test_no_retry_after_response_bytes_were_sent(retry_env):
    env = retry_env
    before = sum(b.traffic_count() for b in env["t"])
    with httpraw.Conn(env["port"]) as c:
        c.send(httpraw.build_request("GET", "/truncate/1000"))
        head = c.read_head()
        assert head.status == 200 and head.header("content-length") == "2000"
        data = c.read_until_close(timeout=5)
    assert len(data) < 2000, "got a complete body from a backend that sent half of it"
    assert b"HTTP/1.1" not in data, "a second response followed the cut one"
    assert sum(b.traffic_count() for b in env["t"]) - before == 1, "the request was retried"


# ---- (6) circuit breaker ------------------------------------------------------------------------

def test_circuit_breaker_max_requests_overflow_is_503(res):
    e = res.echo("cb")
    port = httpraw.free_port()
    c = cluster("cb", [e], circuit_breakers={"max_requests": 2}, outlier_detection=NO_OUTLIERS)
    pier = res.pier(config([listener("web", port, routes=[route("/", "cb")])], [c], workers=2))

    held: list = [None, None]

    def hold(i):
        held[i] = get(port, "/delay/800", timeout=5)

    threads = [threading.Thread(target=hold, args=(i,), daemon=True) for i in range(2)]
    for t in threads:
        t.start()
    try:
        assert e.wait_for(lambda s: s.in_flight == 2, 3), "two slow requests not in flight"
        for i in range(3):
            start = time.monotonic()
            r = get(port, f"/overflow/{i}")
            assert r.status == 503, r
            assert time.monotonic() - start < 0.5, "overflow not answered at once"
    finally:
        for t in threads:
            t.join(timeout=5)
    assert [r.status for r in held] == [200, 200]
    assert e.traffic_count() == 2
    eventually(lambda: pier.metrics().value("pier_cluster_circuit_breaker_overflow_total", cluster="cb") == 3, 2,
               message="overflow counted 3 times")


# ---- (7) timeouts -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def timeout_env(mres):
    e = mres.echo("t")
    rt_port, port = httpraw.free_port(), httpraw.free_port()
    once = {"retry_on": ["connect-failure"], "num_retries": 1}
    clusters = [
        cluster("app", [e], outlier_detection=NO_OUTLIERS),
        cluster("resp", [e], outlier_detection=NO_OUTLIERS, response_timeout="300ms"),
        cluster("stall", [e], outlier_detection=NO_OUTLIERS, idle_timeout="300ms"),
    ]
    pier = mres.pier(config([
        listener("rt", rt_port, routes=[route("/", "app", retry_policy=once)],
                 limits={"request_timeout": "400ms"}),
        listener("web", port, routes=[
            route("/route-timeout/", "app", timeout="300ms", prefix_rewrite="/", retry_policy=once),
            route("/resp-timeout/", "resp", prefix_rewrite="/", retry_policy=once),
            route("/stall/", "stall", prefix_rewrite="/", retry_policy=once),
        ]),
    ], clusters, workers=1))
    return {"rt": rt_port, "port": port, "pier": pier, "echo": e}


def _timed(port, target, want, lo, hi):
    start = time.monotonic()
    r = get(port, target, timeout=5)
    elapsed = time.monotonic() - start
    assert r.status == want, r
    assert lo <= elapsed <= hi, f"{target}: {want} after {elapsed:.2f}s"


def test_request_timeout_waiting_upstream_is_504(timeout_env):
    _timed(timeout_env["rt"], "/delay/3000", 504, 0.3, 2.0)


def test_request_timeout_while_client_sends_is_408(timeout_env):
    env = timeout_env
    with httpraw.Conn(env["rt"]) as c:
        c.send(httpraw.build_request("POST", "/slow-upload", headers=[("Content-Length", "100")]) + b"x" * 10)
        start = time.monotonic()
        r = c.read_response(timeout=5)
        elapsed = time.monotonic() - start
    assert r.status == 408, r
    assert 0.3 <= elapsed <= 2.0, elapsed


def test_route_timeout_is_504(timeout_env):
    _timed(timeout_env["port"], "/route-timeout/delay/3000", 504, 0.25, 2.0)


def test_cluster_response_timeout_is_504(timeout_env):
    _timed(timeout_env["port"], "/resp-timeout/delay/3000", 504, 0.25, 2.0)


def test_upstream_stalling_mid_body_is_cut_by_idle_timeout(timeout_env):
    with httpraw.Conn(timeout_env["port"]) as c:
        c.send(httpraw.build_request("GET", "/stall/slowbody/3000"))
        start = time.monotonic()
        head = c.read_head()
        assert head.status == 200
        want = int(head.header("content-length"))
        data = c.read_until_close(timeout=3)
        elapsed = time.monotonic() - start
    assert len(data) < want, "the whole body arrived: the stall was not cut"
    assert elapsed < 2.5, f"connection closed only after {elapsed:.2f}s (idle_timeout 300ms)"
