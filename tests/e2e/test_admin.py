"""The admin API: readiness, Prometheus metrics, /config and /clusters."""

from __future__ import annotations

import threading

import pytest

import httpraw
from cfg import cluster, config, listener
from pier_proc import eventually

REQUIRED_METRICS = [
    "pier_listener_requests_total",
    "pier_listener_connections_total",
    "pier_listener_active_connections",
    "pier_listener_bytes_received_total",
    "pier_listener_bytes_sent_total",
    "pier_listener_request_duration_seconds_bucket",
    "pier_listener_request_duration_seconds_sum",
    "pier_listener_request_duration_seconds_count",
    "pier_listener_rejected_requests_total",
    "pier_route_requests_total",
    "pier_cluster_requests_total",
    "pier_cluster_upstream_connect_failures_total",
    "pier_cluster_upstream_connections_total",
    "pier_cluster_response_duration_seconds_bucket",
    "pier_endpoint_requests_total",
    "pier_endpoint_active_requests",
]


@pytest.fixture(scope="module")
def env(mres):
    echo = mres.echo("echo")
    port = httpraw.free_port()
    routes = [
        {"name": "app-route", "match": {"prefix": "/app"}, "cluster": "app"},
        {"name": "direct-route", "match": {"exact": "/direct"}, "direct_response": {"status": 200, "body": "d"}},
        {"name": "refused-route", "match": {"prefix": "/refused"}, "cluster": "refused"},
        {"name": "slow-route", "match": {"prefix": "/delay/"}, "cluster": "app"},
    ]
    cfg = config([listener("web", port, routes=routes)],
                 [cluster("app", [echo]), cluster("refused", [f"127.0.0.1:{httpraw.refused_port()}"])])
    pier = mres.pier(cfg)
    # Some traffic of every kind so that every metric family has a series.
    for target in ("/app/warm", "/direct", "/refused", "/nowhere"):
        httpraw.request(port, "GET", target)
    r, c = httpraw.send_raw(port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
    c.close()
    return {"port": port, "pier": pier, "echo": echo}


def _get(env, target, n=1):
    with httpraw.Conn(env["port"]) as c:
        for _ in range(n):
            c.request("GET", target)


def _delta(env, name, labels, action, want, timeout=5.0):
    """Runs action(); waits until metric `name{labels}` has grown by `want`, then checks it is exactly that."""
    pier = env["pier"]
    before = pier.metrics().value(name, **labels)
    action()
    eventually(lambda: pier.metrics().value(name, **labels) - before >= want, timeout,
               message=f"{name}{labels} to grow by {want}")
    got = pier.metrics().value(name, **labels) - before
    assert got == want, f"{name}{labels} grew by {got}, want {want}"


def test_ready(env):
    r = env["pier"].admin("/ready")
    assert r.status == 200


def test_unknown_admin_path_is_404(env):
    assert env["pier"].admin("/no-such-thing").status == 404


def test_prometheus_content_type(env):
    r = env["pier"].admin("/stats/prometheus")
    assert r.status == 200
    assert (r.header("content-type") or "").startswith("text/plain")


@pytest.mark.parametrize("name", REQUIRED_METRICS)
def test_required_metric_present(env, name):
    m = env["pier"].metrics()
    assert m.has(name), f"{name} missing from /stats/prometheus"


def test_metric_types(env):
    m = env["pier"].metrics()
    assert m.types.get("pier_listener_requests_total") == "counter"
    assert m.types.get("pier_listener_active_connections") == "gauge"
    assert m.types.get("pier_listener_request_duration_seconds") == "histogram"


def test_listener_requests_counted_by_status(env):
    def action():
        _get(env, "/app/x", 3)
        _get(env, "/missing", 2)
    pier = env["pier"]
    b200 = pier.metrics().value("pier_listener_requests_total", listener="web", status="200")
    b404 = pier.metrics().value("pier_listener_requests_total", listener="web", status="404")
    action()
    eventually(lambda: pier.metrics().value("pier_listener_requests_total", listener="web", status="404") - b404 >= 2)
    m = pier.metrics()
    assert m.value("pier_listener_requests_total", listener="web", status="200") - b200 == 3
    assert m.value("pier_listener_requests_total", listener="web", status="404") - b404 == 2


def test_route_requests_counted(env):
    _delta(env, "pier_route_requests_total", {"listener": "web", "route": "app-route", "status": "200"},
           lambda: _get(env, "/app/r", 4), 4)


def test_connections_counted(env):
    def action():
        for i in range(3):
            httpraw.request(env["port"], "GET", f"/app/c{i}")
    _delta(env, "pier_listener_connections_total", {"listener": "web"}, action, 3)


def test_active_connections_gauge(env):
    pier = env["pier"]
    name, labels = "pier_listener_active_connections", {"listener": "web"}
    eventually(lambda: pier.metrics().value(name, **labels) == 0, message="no active connections")
    conns = [httpraw.Conn(env["port"]) for _ in range(2)]
    try:
        for c in conns:
            assert c.request("GET", "/app/held").status == 200
        eventually(lambda: pier.metrics().value(name, **labels) == 2, message="2 active connections")
    finally:
        for c in conns:
            c.close()
    eventually(lambda: pier.metrics().value(name, **labels) == 0, message="active connections back to 0")


def test_bytes_counted(env):
    pier = env["pier"]
    req = httpraw.build_request("POST", "/app/bytes", body=b"b" * 1000)
    rx0 = pier.metrics().value("pier_listener_bytes_received_total", listener="web")
    tx0 = pier.metrics().value("pier_listener_bytes_sent_total", listener="web")
    with httpraw.Conn(env["port"]) as c:
        c.send(req)
        r = c.read_response()
    resp_len = len(r.raw_head) + len(r.body)
    eventually(lambda: pier.metrics().value("pier_listener_bytes_sent_total", listener="web") - tx0 >= resp_len)
    m = pier.metrics()
    rx = m.value("pier_listener_bytes_received_total", listener="web") - rx0
    tx = m.value("pier_listener_bytes_sent_total", listener="web") - tx0
    assert len(req) <= rx < 2 * len(req)
    assert resp_len <= tx < 2 * resp_len


def test_request_duration_histogram(env):
    pier = env["pier"]
    _delta(env, "pier_listener_request_duration_seconds_count", {"listener": "web"}, lambda: _get(env, "/app/h", 5), 5)
    m = pier.metrics()
    buckets = m.series("pier_listener_request_duration_seconds_bucket", listener="web")
    assert buckets
    by_le = sorted(((float(l["le"]), v) for l, v in buckets), key=lambda x: x[0])
    counts = [v for _, v in by_le]
    assert counts == sorted(counts), f"buckets not cumulative: {by_le}"
    assert by_le[-1][0] == float("inf")
    assert by_le[-1][1] == m.value("pier_listener_request_duration_seconds_count", listener="web")
    assert m.value("pier_listener_request_duration_seconds_sum", listener="web") >= 0


def test_rejected_requests_counted(env):
    def action():
        r, c = httpraw.send_raw(env["port"], b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
        c.close()
        assert r.status == 400
    _delta(env, "pier_listener_rejected_requests_total", {"listener": "web"}, action, 1)
    reasons = [l.get("reason") for l, _ in env["pier"].metrics().series("pier_listener_rejected_requests_total")]
    assert all(reasons), "rejected requests need a reason label"


def test_cluster_and_endpoint_requests_counted(env):
    ep = env["echo"].address
    pier = env["pier"]
    c0 = pier.metrics().value("pier_cluster_requests_total", cluster="app")
    e0 = pier.metrics().value("pier_endpoint_requests_total", cluster="app", endpoint=ep)
    _get(env, "/app/e", 3)
    eventually(lambda: pier.metrics().value("pier_endpoint_requests_total", cluster="app", endpoint=ep) - e0 >= 3)
    m = pier.metrics()
    assert m.value("pier_cluster_requests_total", cluster="app") - c0 == 3
    assert m.value("pier_endpoint_requests_total", cluster="app", endpoint=ep) - e0 == 3
    assert m.value("pier_cluster_upstream_connections_total", cluster="app") >= 1
    assert m.has("pier_cluster_response_duration_seconds_bucket", cluster="app")


def test_connect_failures_counted(env):
    _delta(env, "pier_cluster_upstream_connect_failures_total", {"cluster": "refused"},
           lambda: httpraw.request(env["port"], "GET", "/refused"), 1)


def test_endpoint_active_requests_gauge(env):
    pier = env["pier"]
    ep = env["echo"].address
    name = "pier_endpoint_active_requests"
    result = {}
    holder = threading.Thread(
        target=lambda: result.setdefault("r", httpraw.request(env["port"], "GET", "/delay/1200", timeout=10)))
    holder.start()
    try:
        assert env["echo"].wait_for(lambda b: b.in_flight >= 1, 5), "slow request never reached the backend"
        eventually(lambda: pier.metrics().value(name, cluster="app", endpoint=ep) == 1, message="1 active request")
        clusters = pier.admin_json("/clusters")["clusters"]
        app = next(c for c in clusters if c["name"] == "app")
        assert app["endpoints"][0]["active_requests"] == 1
    finally:
        holder.join(timeout=10)
    assert result["r"].status == 200
    eventually(lambda: pier.metrics().value(name, cluster="app", endpoint=ep) == 0, message="0 active requests")


def test_config_endpoint(env):
    cfg = env["pier"].admin_json("/config")
    assert [l["name"] for l in cfg["listeners"]] == ["web"]
    assert sorted(c["name"] for c in cfg["clusters"]) == ["app", "refused"]


def test_clusters_endpoint(env):
    pier = env["pier"]
    ep = env["echo"].address

    def app_entry():
        return next(c for c in pier.admin_json("/clusters")["clusters"] if c["name"] == "app")

    before = app_entry()
    assert before["lb"] == "round_robin"
    assert len(before["endpoints"]) == 1
    e = before["endpoints"][0]
    assert e["address"] == ep
    assert e["weight"] == 1
    assert e["healthy"] is True
    assert e["active_requests"] == 0
    _get(env, "/app/cl", 2)
    eventually(lambda: app_entry()["endpoints"][0]["requests_total"] - e["requests_total"] >= 2)
    assert app_entry()["endpoints"][0]["requests_total"] - e["requests_total"] == 2
