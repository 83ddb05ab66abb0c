"""Builders for pier config dicts (written out as YAML by pier_proc)."""

from __future__ import annotations


def listener(name: str, port: int, routes=None, virtual_hosts=None, **extra) -> dict:
    d = {"name": name, "address": f"127.0.0.1:{port}", "protocol": "http"}
    if routes is not None:
        d["routes"] = routes
    if virtual_hosts is not None:
        d["virtual_hosts"] = virtual_hosts
    d.update(extra)
    return d


def cluster(name: str, endpoints, **extra) -> dict:
    eps = [e.address if hasattr(e, "address") else e for e in endpoints]
    d = {"name": name, "endpoints": eps}
    d.update(extra)
    return d


def config(listeners, clusters=(), workers: int = 2, **extra) -> dict:
    d = {"workers": workers, "listeners": list(listeners), "clusters": list(clusters)}
    d.update(extra)
    return d
