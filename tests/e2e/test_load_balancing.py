"""Load balancing policies across echo backends (one worker, so per-worker
balancer state is the whole state)."""

from __future__ import annotations

import collections
import threading

import pytest

import httpraw
from cfg import cluster, config, listener
from pier_proc import eventually


@pytest.fixture(scope="module")
def env(mres):
    b = [mres.echo(f"b{i}") for i in range(3)]
    port = httpraw.free_port()
    dead = f"127.0.0.1:{httpraw.refused_port()}"
    clusters = [
        cluster("rr", b[:2], lb="round_robin"),
        cluster("rr3", b, lb="round_robin"),
        cluster("wrr", [], lb="round_robin"),
        cluster("lr", b[:2], lb="least_request"),
        cluster("rnd", b[:2], lb="random"),
        cluster("ring_hdr", b, lb="ring_hash", hash_on={"header": "x-user"}),
        cluster("ring_cookie", b, lb="ring_hash", hash_on={"cookie": "session"}),
        cluster("ring_ip", b, lb="ring_hash", hash_on="source_ip"),
        cluster("maglev_hdr", b, lb="maglev", hash_on={"header": "x-user"}),
        cluster("half_dead", [dead, b[0].address], lb="round_robin", connect_timeout="1s"),
    ]
    clusters[2]["endpoints"] = [{"address": b[0].address, "weight": 3}, {"address": b[1].address, "weight": 1}]
    routes = [{"match": {"prefix": f"/{c['name']}/"}, "cluster": c["name"]} for c in clusters]
    routes.append({"match": {"prefix": "/lr-slow/"}, "cluster": "lr", "prefix_rewrite": "/"})
    pier = mres.pier(config([listener("lb", port, routes=routes)], clusters, workers=1))
    return {"port": port, "pier": pier, "b": b}


def backends(env, target, n, headers=None, keep_alive=True) -> list[str]:
    out = []
    if keep_alive:
        with httpraw.Conn(env["port"]) as c:
            for i in range(n):
                r = c.request("GET", f"{target}{i}", headers=headers)
                assert r.status == 200, r
                out.append(r.json()["backend"])
    else:
        for i in range(n):
            r = httpraw.request(env["port"], "GET", f"{target}{i}", headers=headers)
            assert r.status == 200, r
            out.append(r.json()["backend"])
    return out


def test_round_robin_alternates(env):
    seq = backends(env, "/rr/", 10)
    assert all(a != b for a, b in zip(seq, seq[1:])), seq
    assert collections.Counter(seq) == {"b0": 5, "b1": 5}


def test_round_robin_alternates_across_connections(env):
    seq = backends(env, "/rr/", 10, keep_alive=False)
    assert all(a != b for a, b in zip(seq, seq[1:])), seq


def test_round_robin_three_backends_cycle(env):
    seq = backends(env, "/rr3/", 9)
    assert collections.Counter(seq) == {"b0": 3, "b1": 3, "b2": 3}
    assert seq[0:3] == seq[3:6] == seq[6:9], seq


def test_weighted_round_robin(env):
    seq = backends(env, "/wrr/", 40)
    counts = collections.Counter(seq)
    assert 27 <= counts["b0"] <= 33, counts
    assert counts["b0"] + counts["b1"] == 40


def test_least_request_avoids_busy_endpoint(env):
    result = {}
    holder = threading.Thread(target=lambda: result.setdefault(
        "r", httpraw.request(env["port"], "GET", "/lr-slow/delay/1500", timeout=10)))
    holder.start()
    try:
        busy = eventually(lambda: next((b for b in env["b"][:2] if b.in_flight > 0), None), 5,
                          message="slow request in flight")
        seq = backends(env, "/lr/", 6)
        assert busy.name not in seq, f"least_request sent requests to {busy.name}, which is busy: {seq}"
    finally:
        holder.join(timeout=10)
    assert result["r"].status == 200


def test_least_request_uses_both_when_idle(env):
    seq = backends(env, "/lr/", 30)
    assert set(seq) == {"b0", "b1"}, collections.Counter(seq)


def test_random_reaches_all_backends(env):
    seq = backends(env, "/rnd/", 40)
    assert set(seq) == {"b0", "b1"}, collections.Counter(seq)


@pytest.mark.parametrize("name", ["ring_hdr", "maglev_hdr"])
def test_consistent_hash_on_header(env, name):
    chosen = {}
    for user in range(20):
        seq = backends(env, f"/{name}/", 4, headers=[("X-User", f"user-{user}")], keep_alive=False)
        assert len(set(seq)) == 1, f"user-{user} was spread over {seq}"
        chosen[user] = seq[0]
    assert len(set(chosen.values())) >= 2, f"every key went to one backend: {chosen}"


def test_ring_hash_on_cookie(env):
    chosen = {}
    for s in range(20):
        seq = backends(env, "/ring_cookie/", 3, headers=[("Cookie", f"theme=dark; session=s{s}; x=y")])
        assert len(set(seq)) == 1, f"session s{s} spread over {seq}"
        chosen[s] = seq[0]
    assert len(set(chosen.values())) >= 2, chosen


def test_ring_hash_on_source_ip(env):
    seq = backends(env, "/ring_ip/", 12, keep_alive=False)
    assert len(set(seq)) == 1, seq


def test_connect_failure_retried_on_another_endpoint(env):
    pier = env["pier"]
    before = pier.metrics().value("pier_cluster_upstream_connect_failures_total", cluster="half_dead")
    seq = backends(env, "/half_dead/", 6, keep_alive=False)
    assert seq == ["b0"] * 6
    eventually(lambda: pier.metrics().value("pier_cluster_upstream_connect_failures_total",
                                            cluster="half_dead") > before,
               message="connect failures counted")
