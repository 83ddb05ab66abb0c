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


# ---- HTTP filters (Lua) ----------------------------------------------------------------------

def lua_filter(default_source_code=None, *, name: str | None = None, **fields) -> dict:
    """One listener `filters:` entry running a Lua script (Envoy's envoy.filters.http.lua).

    default_source_code: Lua text (written inline) or a data source dict ({"filename": path} or
    {"inline_string": text}); None leaves it out (routes then name their code). `fields` are the
    other options: source_codes, fail_closed, sandbox, metadata_namespace, stat_prefix."""
    lua = {}
    if default_source_code is not None:
        lua["default_source_code"] = default_source_code
    lua.update(fields)
    d = {"name": name} if name is not None else {}
    d["lua"] = lua
    return d


def lua_override(*, disabled: bool | None = None, name: str | None = None, source_code=None,
                 filter_context: dict | None = None) -> dict:
    """A route's override of one Lua filter entry (Envoy's LuaPerRoute): goes under the route's
    `filters:` keyed by the entry name, e.g. {"filters": {"lua": lua_override(disabled=True)}}."""
    d = {}
    if disabled is not None:
        d["disabled"] = disabled
    if name is not None:
        d["name"] = name
    if source_code is not None:
        d["source_code"] = {"inline_string": source_code} if isinstance(source_code, str) else source_code
    if filter_context is not None:
        d["filter_context"] = filter_context
    return d
