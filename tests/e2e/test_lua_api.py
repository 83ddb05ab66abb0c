"""The Lua filter's stream handle API (Envoy's envoy.filters.http.lua), one rule per test,
through the real binary with the echo origin.

Each test starts its own pier (about 30 ms) with the script under test, so a broken API shows
up in exactly the tests that use it. Scripts report what they saw by adding request headers
(the echo origin returns them in its JSON) or response headers; a script that must report after
the request headers have gone on (bodyChunks) uses dynamic metadata and the response hook.

Envoy's getters return no value at all (not nil) when there is nothing to return, so the
scripts write tostring((x:get(k))): the extra parentheses make that one nil, as a script
running under Envoy must.
"""

from __future__ import annotations

import base64
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import httpraw
from cfg import cluster, config, listener, lua_filter, lua_override
from pier_proc import eventually


# ---- helpers --------------------------------------------------------------------------------

def route(prefix: str, cluster_name: str = "app", **extra) -> dict:
    return {"match": {"prefix": prefix}, "cluster": cluster_name, **extra}


def serve(res, code: str | None, *, routes=None, clusters=(), filters=None, workers: int = 2, limits=None,
          **lua_opts) -> SimpleNamespace:
    """Starts pier with one Lua filter (entry name "lua") running `code` in front of the echo
    origin "app"; `clusters` are extra clusters (e.g. for httpCall)."""
    echo = res.echo("app")
    port = httpraw.free_port()
    if filters is None:
        filters = [lua_filter(code, **lua_opts)]
    extra = {"filters": filters}
    if limits:
        extra["limits"] = limits
    cfgd = config([listener("web", port, routes=routes or [route("/")], **extra)],
                  [cluster("app", [echo]), *clusters], workers=workers)
    return SimpleNamespace(port=port, pier=res.pier(cfgd), echo=echo)


def get(env, target: str = "/", method: str = "GET", headers=None, body=None, **kw) -> httpraw.Response:
    return httpraw.request(env.port, method, target, headers=headers, body=body, **kw)


def values(seen: dict, name: str) -> list[str]:
    """Values of a header in the echo's JSON (request as the origin saw it), in order."""
    name = name.lower()
    return [v for n, v in seen["headers"] if n.lower() == name]


def one(seen: dict, name: str) -> str:
    vs = values(seen, name)
    assert len(vs) == 1, f"want exactly one {name!r} upstream, got {vs!r} in {seen['headers']!r}"
    return vs[0]


def tokens(vs: list[str]) -> list[str]:
    """Repeated header lines and one comma-joined line are the same field (RFC 9110 5.3)."""
    return [t.strip() for v in vs for t in v.split(",")]


def upstream(env, target: str = "/", method: str = "GET", headers=None, body=None) -> dict:
    """Sends a request that must reach the origin; returns what the origin saw."""
    r = get(env, target, method, headers, body)
    assert r.status == 200, r
    seen = r.json()
    assert seen["backend"] == "app", seen
    return seen


def still_serving(env) -> None:
    """pier survived what came before: a crash after the response went out is otherwise unseen."""
    r = get(env, "/still-serving")
    assert r.status == 200, r
    assert env.pier.alive()


def lua_errors(pier) -> float:
    return pier.metrics().value("pier_lua_errors_total", listener="web", filter="lua")


# ---- headers --------------------------------------------------------------------------------

def test_headers_add_reaches_upstream(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  local h = request_handle:headers()
  h:add("x-added", "one")
  h:add("x-twice", "first")
  h:add("x-twice", "second")
  h:add("x-number", 42)
end
""")
    seen = upstream(env, "/add")
    assert values(seen, "x-added") == ["one"]
    assert tokens(values(seen, "x-twice")) == ["first", "second"]
    assert values(seen, "x-number") == ["42"], "a number value is converted as Lua's tostring does"


def test_headers_get_joins_repeated_values_with_comma(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  local h = request_handle:headers()
  h:add("x-get", h:get("x-multi"))
  h:add("x-get-any-case", h:get("X-MULTI"))
  h:add("x-get-missing", tostring((h:get("x-absent"))))
end
""")
    seen = upstream(env, "/get", headers=[("X-Multi", "a"), ("X-Multi", "b")])
    assert one(seen, "x-get") == "a,b"
    assert one(seen, "x-get-any-case") == "a,b"
    assert one(seen, "x-get-missing") == "nil"


def test_headers_get_at_index_is_zero_based(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  local h = request_handle:headers()
  h:add("x-idx0", h:getAtIndex("x-multi", 0))
  h:add("x-idx1", h:getAtIndex("X-Multi", 1))
  h:add("x-idx2", tostring((h:getAtIndex("x-multi", 2))))
  h:add("x-idx-absent", tostring((h:getAtIndex("x-absent", 0))))
end
""")
    seen = upstream(env, "/idx", headers=[("X-Multi", "a"), ("X-Multi", "b")])
    assert one(seen, "x-idx0") == "a"
    assert one(seen, "x-idx1") == "b"
    assert one(seen, "x-idx2") == "nil"
    assert one(seen, "x-idx-absent") == "nil"


def test_headers_get_num_values(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  local h = request_handle:headers()
  h:add("x-count-multi", tostring(h:getNumValues("x-multi")))
  h:add("x-count-single", tostring(h:getNumValues("x-single")))
  h:add("x-count-absent", tostring(h:getNumValues("x-absent")))
end
""")
    seen = upstream(env, "/num", headers=[("X-Multi", "a"), ("X-Single", "s"), ("X-Multi", "b")])
    assert one(seen, "x-count-multi") == "2"
    assert one(seen, "x-count-single") == "1"
    assert one(seen, "x-count-absent") == "0"


def test_headers_remove_drops_every_value(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  local h = request_handle:headers()
  h:remove("x-remove-me")
  h:remove("x-never-there")
  h:add("x-after-remove", tostring((h:get("x-remove-me"))))
end
""")
    seen = upstream(env, "/rm", headers=[("X-Remove-Me", "1"), ("X-Keep", "k"), ("x-remove-me", "2")])
    assert values(seen, "x-remove-me") == []
    assert values(seen, "x-keep") == ["k"]
    assert one(seen, "x-after-remove") == "nil"


def test_headers_replace_existing_and_missing(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  local h = request_handle:headers()
  h:replace("x-rep", "new")
  h:replace("x-rep-missing", "added")
end
""")
    seen = upstream(env, "/rep", headers=[("X-Rep", "old1"), ("X-Rep", "old2")])
    assert values(seen, "x-rep") == ["new"]
    assert values(seen, "x-rep-missing") == ["added"]


PAIRS_SCRIPT = """
function envoy_on_request(request_handle)
  local parts = {}
  for key, value in pairs(request_handle:headers()) do
    parts[#parts + 1] = key .. "=" .. value
  end
  request_handle:headers():add("x-pairs", table.concat(parts, "|"))
end
"""


def _pairs(text: str) -> list[tuple[str, str]]:
    return [tuple(p.split("=", 1)) for p in text.split("|")]


def test_headers_pairs_starts_with_request_pseudo_headers(res):
    env = serve(res, PAIRS_SCRIPT)
    seen = upstream(env, "/pairs/x?q=1", headers=[("X-First", "1")])
    pairs = _pairs(one(seen, "x-pairs"))
    assert pairs[:4] == [(":authority", "localhost"), (":method", "GET"), (":path", "/pairs/x?q=1"),
                         (":scheme", "http")], pairs


def test_headers_pairs_lower_case_keys_in_arrival_order(res):
    env = serve(res, PAIRS_SCRIPT)
    sent = [("X-E2e-First", "1"), ("X-E2e-Dup", "a"), ("X-E2e-Mixed-Case", "V"), ("x-e2e-dup", "b")]
    seen = upstream(env, "/pairs", headers=sent)
    pairs = _pairs(one(seen, "x-pairs"))
    assert all(k == k.lower() for k, _ in pairs), pairs
    assert [(k, v) for k, v in pairs if k.startswith("x-e2e-")] == [(n.lower(), v) for n, v in sent]


def test_headers_pairs_on_response_starts_with_status(res):
    env = serve(res, """
function envoy_on_response(response_handle)
  local keys = {}
  for key, value in pairs(response_handle:headers()) do
    keys[#keys + 1] = key
  end
  response_handle:headers():add("x-resp-keys", table.concat(keys, ","))
  response_handle:headers():add("x-status", response_handle:headers():get(":status"))
end
""")
    r = get(env, "/headers?X-Upper-Case=1")
    assert r.status == 200
    keys = r.header("x-resp-keys").split(",")
    assert keys[0] == ":status", keys
    assert keys.count(":status") == 1
    assert "x-upper-case" in keys and "content-type" in keys, keys
    assert all(k == k.lower() for k in keys), keys
    assert r.header("x-status") == "200"
    assert not any(n.startswith(":") for n, _ in r.headers), "a pseudo-header leaked onto the wire"


def test_modifying_path_changes_upstream_target(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  request_handle:headers():replace(":path", "/changed/b?y=2")
end
""")
    seen = upstream(env, "/orig/a?x=1")
    assert seen["target"] == "/changed/b?y=2"


def test_modifying_authority_method_and_status_reaches_the_wire(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  local h = request_handle:headers()
  h:replace(":authority", "changed.example")
  h:replace(":method", "PUT")
end
function envoy_on_response(response_handle)
  response_handle:headers():replace(":status", "203")
end
""")
    r = get(env, "/pseudo", headers=[("Host", "original.example")])
    assert r.status == 203, r
    seen = r.json()
    assert seen["method"] == "PUT", seen
    assert one(seen, "host") == "changed.example"


def test_pseudo_headers_a_script_leaves_alone_reach_the_wire_as_sent(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  request_handle:headers():add("x-other", "1")
end
function envoy_on_response(response_handle)
  response_handle:headers():add("x-other", "1")
end
""")
    r = get(env, "/as/sent?q=1", "DELETE", headers=[("Host", "asis.example")])
    assert r.status == 200, r
    seen = r.json()
    assert (seen["method"], seen["target"], one(seen, "host")) == ("DELETE", "/as/sent?q=1", "asis.example")


def test_set_http1_reason_phrase_on_response(res):
    env = serve(res, """
function envoy_on_response(response_handle)
  response_handle:headers():setHttp1ReasonPhrase("Totally Fine")
end
""")
    r = get(env, "/reason")
    assert r.status == 200
    assert r.reason == "Totally Fine"


# ---- body -----------------------------------------------------------------------------------

def test_request_body_read_whole(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  local body = request_handle:body()
  local h = request_handle:headers()
  h:add("x-body-length", tostring(body:length()))
  h:add("x-body", body:getBytes(0, body:length()))
end
""")
    seen = upstream(env, "/body", "POST", body="hello world")
    assert one(seen, "x-body-length") == "11"
    assert one(seen, "x-body") == "hello world"
    assert seen["body"] == "hello world", "reading the body must not change it"


@pytest.mark.parametrize("new_body", ["a new and much longer body", "x"], ids=["longer", "shorter"])
def test_request_body_set_bytes_upstream_gets_new_body_and_length(res, new_body):
    env = serve(res, """
function envoy_on_request(request_handle)
  local new_body = request_handle:headers():get("x-new-body")
  local n = request_handle:body():setBytes(new_body)
  request_handle:headers():add("x-set-bytes-returned", tostring(n))
end
""")
    seen = upstream(env, "/setbytes", "POST", headers=[("X-New-Body", new_body)], body="original")
    assert seen["body"] == new_body
    assert values(seen, "content-length") == [str(len(new_body))]
    assert one(seen, "x-set-bytes-returned") == str(len(new_body))


def test_response_body_set_bytes_rewrites_body_and_length(res):
    env = serve(res, """
function envoy_on_response(response_handle)
  response_handle:body():setBytes("rewritten response")
end
""")
    r = get(env, "/resp-body")
    assert r.status == 200
    assert r.body == b"rewritten response"
    assert r.header_all("content-length") == [str(len(b"rewritten response"))]
    assert env.echo.request_count() == 1


def test_body_of_chunked_request(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  local body = request_handle:body()
  request_handle:headers():add("x-body-length", tostring(body:length()))
  request_handle:headers():add("x-body", body:getBytes(0, body:length()))
end
""")
    seen = upstream(env, "/chunked-req", "POST", headers=[("Transfer-Encoding", "chunked")],
                    body=httpraw.chunked_body([b"hel", b"lo ", b"world"]))
    assert one(seen, "x-body-length") == "11"
    assert one(seen, "x-body") == "hello world"
    assert seen["body"] == "hello world"


def test_body_is_nil_when_request_has_none(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  request_handle:headers():add("x-body-is", tostring((request_handle:body())))
end
""")
    seen = upstream(env, "/nobody")
    assert one(seen, "x-body-is") == "nil"


def test_body_always_wrap_gives_empty_buffer(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  local body = request_handle:body(true)
  request_handle:headers():add("x-wrapped", type(body) .. ":" .. tostring(body:length()))
end
""")
    seen = upstream(env, "/wrap")
    assert one(seen, "x-wrapped") == "userdata:0"


def test_body_always_wrap_set_bytes_gives_bodyless_request_a_body(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  request_handle:body(true):setBytes("made up")
end
""")
    seen = upstream(env, "/wrap-set", "PUT")
    assert seen["body"] == "made up"
    assert values(seen, "content-length") == ["7"]


def test_get_bytes_slices_zero_based_and_rejects_out_of_range(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  local body = request_handle:body()
  local h = request_handle:headers()
  h:add("x-slice", body:getBytes(2, 3))
  h:add("x-first", body:getBytes(0, 1))
  h:add("x-last", body:getBytes(9, 1))
  local ok = pcall(function() return body:getBytes(8, 5) end)
  h:add("x-out-of-range-ok", tostring(ok))
end
""")
    seen = upstream(env, "/getbytes", "POST", body="0123456789")
    assert one(seen, "x-slice") == "234"
    assert one(seen, "x-first") == "0"
    assert one(seen, "x-last") == "9"
    assert one(seen, "x-out-of-range-ok") == "false"


def test_request_body_chunks_are_seen_as_they_arrive_and_rewritten(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  local lengths = {}
  for chunk in request_handle:bodyChunks() do
    local n = chunk:length()
    lengths[#lengths + 1] = tostring(n)
    if n > 0 then
      chunk:setBytes(string.upper(chunk:getBytes(0, n)))
    end
    request_handle:logInfo("lua-e2e-chunk-seen " .. n)
  end
  request_handle:streamInfo():dynamicMetadata():set("e2e", "lengths", table.concat(lengths, ","))
end
function envoy_on_response(response_handle)
  local meta = response_handle:streamInfo():dynamicMetadata():get("e2e")
  response_handle:headers():add("x-chunk-lengths", meta["lengths"])
end
""")
    with httpraw.Conn(env.port) as c:
        c.send(httpraw.build_request("POST", "/chunks", headers=[("Content-Length", "11")]) + b"hello")
        # The second piece goes out only once the script has seen the first.
        assert env.pier.wait_log(r"lua-e2e-chunk-seen 5", timeout=5), env.pier.log_tail()
        c.send(b" world")
        r = c.read_response()
    assert r.status == 200
    assert r.json()["body"] == "HELLO WORLD"
    lengths = [int(n) for n in r.header("x-chunk-lengths").split(",") if n != "0"]
    assert lengths == [5, 6]


def test_response_body_chunks_are_rewritten_while_streaming(res):
    env = serve(res, """
function envoy_on_response(response_handle)
  for chunk in response_handle:bodyChunks() do
    chunk:setBytes(chunk:length() .. ";")
  end
end
""")
    r = get(env, "/size/200000?chunked=1", timeout=10)
    assert r.status == 200
    lengths = [int(n) for n in r.text().split(";") if n]
    assert sum(lengths) == 200000, r.body[:200]
    assert [n for n in lengths if n > 0], lengths


def test_request_trailers_read_and_modified(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  local body = request_handle:body()
  local trailers = request_handle:trailers()
  trailers:replace("x-trail", trailers:get("x-trail") .. "-seen")
  trailers:add("x-lua-trailer", "added")
end
""")
    seen = upstream(env, "/trailers", "POST", headers=[("Transfer-Encoding", "chunked")],
                    body=httpraw.chunked_body([b"data"], trailers=[("X-Trail", "v1")]))
    assert seen["body"] == "data"
    trailers = {n.lower(): v for n, v in seen["trailers"]}
    assert trailers.get("x-trail") == "v1-seen", seen["trailers"]
    assert trailers.get("x-lua-trailer") == "added", seen["trailers"]


def test_request_trailers_nil_without_trailers(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  local body = request_handle:body()
  request_handle:headers():add("x-trailers", tostring((request_handle:trailers())))
end
""")
    seen = upstream(env, "/no-trailers", "POST", body="abc")
    assert one(seen, "x-trailers") == "nil"


def test_response_trailers_read(res):
    env = serve(res, """
function envoy_on_response(response_handle)
  local body = response_handle:body()
  local trailers = response_handle:trailers()
  response_handle:headers():add("x-got-trailer", trailers:get("x-trailer-test"))
  response_handle:headers():add("x-body-length", tostring(body:length()))
end
""")
    r = get(env, "/chunked", headers=[("TE", "trailers")])
    assert r.status == 200
    assert r.header("x-got-trailer") == "yes"
    assert r.header("x-body-length") == str(len(r.body))


# ---- route metadata ----------------------------------------------------------------------------

META = {"str": "bar", "num": 7, "float": 2.5, "flag": True, "off": False,
        "nested": {"a": {"b": "deep"}}, "list": ["x", "y"]}


def test_metadata_get_returns_typed_values(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  local m = request_handle:metadata()
  local h = request_handle:headers()
  h:add("x-str", m:get("str"))
  h:add("x-num", type(m:get("num")) .. ":" .. tostring(m:get("num")))
  h:add("x-float", tostring(m:get("float")))
  h:add("x-flag", type(m:get("flag")) .. ":" .. tostring(m:get("flag")))
  h:add("x-off", tostring(m:get("off")))
  h:add("x-nested", m:get("nested")["a"]["b"])
  h:add("x-list", m:get("list")[1] .. "," .. m:get("list")[2])
  h:add("x-missing", tostring((m:get("missing"))))
end
""", routes=[route("/", metadata={"filter_metadata": {"envoy.filters.http.lua": META}})])
    seen = upstream(env, "/meta")
    assert one(seen, "x-str") == "bar"
    assert one(seen, "x-num") == "number:7"
    assert one(seen, "x-float") == "2.5"
    assert one(seen, "x-flag") == "boolean:true"
    assert one(seen, "x-off") == "false"
    assert one(seen, "x-nested") == "deep"
    assert one(seen, "x-list") == "x,y"
    assert one(seen, "x-missing") == "nil"


def test_metadata_pairs_iterates_every_key(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  local entries = {}
  for key, value in pairs(request_handle:metadata()) do
    entries[#entries + 1] = key .. "=" .. (type(value) == "table" and "table" or tostring(value))
  end
  table.sort(entries)
  request_handle:headers():add("x-meta-pairs", table.concat(entries, ","))
end
""", routes=[route("/", metadata={"filter_metadata": {"envoy.filters.http.lua": {"a": "1", "b": 2, "c": {"d": "e"}}}})])
    seen = upstream(env, "/meta-pairs")
    assert one(seen, "x-meta-pairs") == "a=1,b=2,c=table"


def test_metadata_of_route_without_metadata_is_empty(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  request_handle:headers():add("x-str", tostring((request_handle:metadata():get("str"))))
end
""", routes=[route("/with", metadata={"filter_metadata": {"envoy.filters.http.lua": {"str": "here"}}}), route("/")])
    assert one(upstream(env, "/with/x"), "x-str") == "here"
    assert one(upstream(env, "/plain"), "x-str") == "nil"


def test_metadata_namespace_option_selects_the_key(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  request_handle:headers():add("x-who", tostring((request_handle:metadata():get("who"))))
end
""", metadata_namespace="acme.lua", routes=[route("/", metadata={"filter_metadata": {
        "envoy.filters.http.lua": {"who": "canonical"}, "acme.lua": {"who": "acme"}}})])
    assert one(upstream(env, "/ns"), "x-who") == "acme"


# ---- stream info ---------------------------------------------------------------------------------

PROTOCOL_SCRIPT = """
function envoy_on_request(request_handle)
  request_handle:headers():add("x-protocol", request_handle:streamInfo():protocol())
end
function envoy_on_response(response_handle)
  response_handle:headers():add("x-protocol", response_handle:streamInfo():protocol())
end
"""


@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/1.0"])
def test_stream_info_protocol(res, version):
    env = serve(res, PROTOCOL_SCRIPT)
    r = get(env, "/proto", version=version)
    assert r.status == 200
    assert one(r.json(), "x-protocol") == version
    assert r.header("x-protocol") == version


def test_stream_info_route_name(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  request_handle:headers():add("x-route", request_handle:streamInfo():routeName())
end
""", routes=[route("/named", name="api-route"), route("/", name="fallback-route")])
    assert one(upstream(env, "/named/x"), "x-route") == "api-route"
    assert one(upstream(env, "/other"), "x-route") == "fallback-route"


def test_stream_info_route_name_empty_without_a_route(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  request_handle:respond({[":status"] = "200"}, "[" .. request_handle:streamInfo():routeName() .. "]")
end
""", routes=[route("/only")])
    r = get(env, "/elsewhere")
    assert (r.status, r.body) == (200, b"[]")


def test_stream_info_downstream_addresses(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  local si = request_handle:streamInfo()
  local h = request_handle:headers()
  h:add("x-local", si:downstreamLocalAddress())
  h:add("x-direct-local", si:downstreamDirectLocalAddress())
  h:add("x-remote", si:downstreamRemoteAddress())
  h:add("x-direct-remote", si:downstreamDirectRemoteAddress())
end
""")
    with httpraw.Conn(env.port) as c:
        client = "127.0.0.1:%d" % c.sock.getsockname()[1]
        r = c.request("GET", "/addr")
    seen = r.json()
    assert one(seen, "x-local") == f"127.0.0.1:{env.port}"
    assert one(seen, "x-direct-local") == f"127.0.0.1:{env.port}"
    assert one(seen, "x-remote") == client
    assert one(seen, "x-direct-remote") == client


def test_stream_info_plaintext_fields_are_empty(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  local si = request_handle:streamInfo()
  local h = request_handle:headers()
  h:add("x-sni", "[" .. si:requestedServerName() .. "]")
  h:add("x-virtual-cluster", "[" .. si:virtualClusterName() .. "]")
  h:add("x-ssl-info", tostring((si:downstreamSslConnection())))
  h:add("x-filter-state", tostring((si:filterState():get("no.such.object"))))
end
""")
    seen = upstream(env, "/plain")
    assert one(seen, "x-sni") == "[]"
    assert one(seen, "x-virtual-cluster") == "[]"
    assert one(seen, "x-ssl-info") == "nil"
    assert one(seen, "x-filter-state") == "nil"


DYNAMIC_METADATA_SCRIPT = """
function envoy_on_request(request_handle)
  local dm = request_handle:streamInfo():dynamicMetadata()
  dm:set("acme.test", "user", request_handle:headers():get("x-user"))
  dm:set("acme.test", "info", {count = 3, tags = {"a", "b"}, ok = true})
end
function envoy_on_response(response_handle)
  local dm = response_handle:streamInfo():dynamicMetadata()
  local meta = dm:get("acme.test")
  local h = response_handle:headers()
  h:add("x-user", meta["user"])
  h:add("x-count", tostring(meta["info"]["count"]))
  h:add("x-tag2", meta["info"]["tags"][2])
  h:add("x-ok", tostring(meta["info"]["ok"]))
  h:add("x-unknown-namespace", tostring((dm:get("no.such.namespace"))))
end
"""


def test_dynamic_metadata_set_on_request_read_on_response(res):
    env = serve(res, DYNAMIC_METADATA_SCRIPT)
    with httpraw.Conn(env.port) as c:
        for user in ("alice", "bob"):  # per stream: the second request must not see the first's
            r = c.request("GET", "/dm", headers=[("X-User", user)])
            assert r.status == 200
            assert r.header("x-user") == user
            assert r.header("x-count") == "3"
            assert r.header("x-tag2") == "b"
            assert r.header("x-ok") == "true"
            assert r.header("x-unknown-namespace") == "nil"


def test_dynamic_metadata_pairs_lists_namespaces(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  local dm = request_handle:streamInfo():dynamicMetadata()
  dm:set("ns.one", "k", "v1")
  dm:set("ns.two", "k", "v2")
  local names = {}
  for name, value in pairs(dm) do
    names[#names + 1] = name .. ":" .. type(value)
  end
  request_handle:headers():add("x-namespaces", table.concat(names, ","))
end
""")
    names = one(upstream(env, "/dm-pairs"), "x-namespaces").split(",")
    assert "ns.one:table" in names and "ns.two:table" in names, names


def test_dynamic_metadata_shared_between_two_filters(res):
    first = """
function envoy_on_request(request_handle)
  request_handle:streamInfo():dynamicMetadata():set("from.first", "k", "v-first")
end
"""
    second = """
function envoy_on_request(request_handle)
  local meta = request_handle:streamInfo():dynamicMetadata():get("from.first")
  request_handle:headers():add("x-from-first", meta and meta["k"] or "missing")
end
"""
    env = serve(res, None, filters=[lua_filter(first, name="first"), lua_filter(second, name="second")])
    assert one(upstream(env, "/two"), "x-from-first") == "v-first"


def test_drain_connection_upon_completion_closes_after_response(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  if request_handle:headers():get(":path") == "/drain" then
    request_handle:streamInfo():drainConnectionUponCompletion()
  end
end
""")
    with httpraw.Conn(env.port) as c:
        assert c.request("GET", "/keep").status == 200
        assert c.request("GET", "/keep-again").status == 200, "connection closed without a drain"
        r = c.request("GET", "/drain")
        assert r.status == 200
        assert c.closed_by_peer(3.0), "connection still open after drainConnectionUponCompletion()"


FILTER_CONTEXT_SCRIPT = """
function envoy_on_request(request_handle)
  local ctx = request_handle:filterContext()
  request_handle:headers():add("x-ctx-type", type(ctx))
  request_handle:headers():add("x-ctx-key", tostring(ctx["key"]))
end
"""


def test_filter_context_from_route(res):
    # As in Envoy's LuaPerRoute, filter_context accompanies one of disabled/name/source_code.
    env = serve(res, FILTER_CONTEXT_SCRIPT, source_codes={"ctx.lua": {"inline_string": FILTER_CONTEXT_SCRIPT}},
                routes=[route("/ctx", filters={"lua": lua_override(name="ctx.lua",
                                                                   filter_context={"key": "value", "n": 2})}),
                        route("/")])
    seen = upstream(env, "/ctx/x")
    assert one(seen, "x-ctx-type") == "table"
    assert one(seen, "x-ctx-key") == "value"
    seen = upstream(env, "/plain")
    assert one(seen, "x-ctx-type") == "table", "filterContext() is an empty table without a route context"
    assert one(seen, "x-ctx-key") == "nil"


def test_connection_ssl_is_nil_without_tls(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  request_handle:headers():add("x-ssl", tostring((request_handle:connection():ssl())))
end
""")
    assert one(upstream(env, "/ssl"), "x-ssl") == "nil"


def test_connection_stream_info_dynamic_metadata(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  local dm = request_handle:connectionStreamInfo():dynamicMetadata()
  request_handle:headers():add("x-conn-dm", tostring((dm:get("no.such.namespace"))))
end
""")
    assert one(upstream(env, "/conn-si"), "x-conn-dm") == "nil"


# ---- logging --------------------------------------------------------------------------------------

def test_log_functions_write_and_do_not_fail(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  request_handle:logTrace("lua-e2e-log-trace")
  request_handle:logDebug("lua-e2e-log-debug")
  request_handle:logInfo("lua-e2e-log-info")
  request_handle:logWarn("lua-e2e-log-warn")
  request_handle:logErr("lua-e2e-log-err")
  request_handle:logCritical("lua-e2e-log-critical")
  request_handle:headers():add("x-logged", "yes")
end
""")
    seen = upstream(env, "/log")
    assert one(seen, "x-logged") == "yes", "a log call stopped the script"
    for marker in ("lua-e2e-log-info", "lua-e2e-log-warn", "lua-e2e-log-err", "lua-e2e-log-critical"):
        assert env.pier.wait_log(marker, timeout=5), f"{marker} not in the log:\n{env.pier.log_tail()}"
    assert lua_errors(env.pier) == 0


def test_log_error_does_not_exist(res):
    """Envoy names it logErr; a script calling logError gets a Lua error, as under Envoy."""
    env = serve(res, """
function envoy_on_request(request_handle)
  local ok = pcall(function() request_handle:logError("lua-e2e-log-error") end)
  request_handle:headers():add("x-log-error-ok", tostring(ok))
end
""")
    assert one(upstream(env, "/logerror"), "x-log-error-ok") == "false"


# ---- httpCall ---------------------------------------------------------------------------------------

SYNC_CALL = """
function envoy_on_request(request_handle)
  local headers, body = request_handle:httpCall(
    "side",
    {[":method"] = "POST", [":path"] = "/side/call?k=v", [":authority"] = "side.test", ["x-from-lua"] = "yes"},
    "ping body",
    5000)
  local h = request_handle:headers()
  h:add("x-side-status", headers[":status"])
  h:add("x-side-backend", headers["x-backend"])
  h:add("x-side-body-length", tostring(#body))
  h:add("x-side-saw-body", string.match(body, '"body": "([^"]*)"'))
end
"""


def test_http_call_sync_returns_headers_and_body(res):
    side = res.echo("side")
    env = serve(res, SYNC_CALL, clusters=[cluster("side", [side])])
    for i in range(3):  # the side connection is reused (or replaced) between calls
        seen = upstream(env, f"/main/{i}")
        assert one(seen, "x-side-status") == "200"
        assert one(seen, "x-side-backend") == "side"
        assert one(seen, "x-side-saw-body") == "ping body"
        assert int(one(seen, "x-side-body-length")) > 0
    still_serving(env)


def test_http_call_request_reaches_cluster_as_given(res):
    side = res.echo("side")
    env = serve(res, SYNC_CALL, clusters=[cluster("side", [side])])
    upstream(env, "/main")
    assert side.request_count() == 1
    call = side.requests[0]
    assert call["method"] == "POST"
    assert call["target"] == "/side/call?k=v"
    assert values(call, "host") == ["side.test"], ":authority becomes Host"
    assert values(call, "x-from-lua") == ["yes"]
    assert call["body"] == "ping body"
    assert values(call, "content-length") == ["9"]


def test_http_call_header_value_list_sends_repeated_header(res):
    side = res.echo("side")
    env = serve(res, """
function envoy_on_request(request_handle)
  request_handle:httpCall("side",
    {[":method"] = "GET", [":path"] = "/list", [":authority"] = "side", ["x-multi"] = {"one", "two"}},
    "", 5000)
end
""", clusters=[cluster("side", [side])])
    upstream(env, "/main")
    assert side.request_count() == 1
    assert tokens(values(side.requests[0], "x-multi")) == ["one", "two"]


def test_http_call_transport_failure_is_503_upstream_failure(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  local headers, body = request_handle:httpCall("dead",
    {[":method"] = "GET", [":path"] = "/", [":authority"] = "dead"}, "", 3000)
  request_handle:headers():add("x-dead-status", headers[":status"])
  request_handle:headers():add("x-dead-body", tostring(body))
end
""", clusters=[cluster("dead", [f"127.0.0.1:{httpraw.refused_port()}"])])
    seen = upstream(env, "/main")
    assert one(seen, "x-dead-status") == "503"
    assert one(seen, "x-dead-body") == "upstream failure"
    assert lua_errors(env.pier) == 0, "a transport failure is an answer, not a script error"
    still_serving(env)


def test_http_call_async_is_fire_and_forget(res):
    side = res.echo("side")
    env = serve(res, """
function envoy_on_request(request_handle)
  request_handle:httpCall("side",
    {[":method"] = "POST", [":path"] = "/delay/2000?async=1", [":authority"] = "side"}, "fire", 5000, true)
  request_handle:headers():add("x-after-async", "yes")
end
""", clusters=[cluster("side", [side])])
    start = time.monotonic()
    seen = upstream(env, "/main")
    elapsed = time.monotonic() - start
    assert one(seen, "x-after-async") == "yes"
    assert elapsed < 1.5, f"main request took {elapsed:.2f}s: it waited for the 2 s asynchronous call"
    assert side.wait_for(lambda b: any(r["target"] == "/delay/2000?async=1" for r in b.requests), 5), \
        "the asynchronous call never reached the side cluster"
    assert next(r for r in side.requests if r["target"] == "/delay/2000?async=1")["body"] == "fire"
    still_serving(env)


def test_http_call_options_table_sync(res):
    side = res.echo("side")
    env = serve(res, """
function envoy_on_request(request_handle)
  local headers, body = request_handle:httpCall("side",
    {[":method"] = "GET", [":path"] = "/opts", [":authority"] = "side"}, "", {timeout_ms = 5000})
  request_handle:headers():add("x-side-status", headers[":status"])
  request_handle:headers():add("x-side-path", string.match(body, '"path": "([^"]*)"'))
end
""", clusters=[cluster("side", [side])])
    seen = upstream(env, "/main")
    assert one(seen, "x-side-status") == "200"
    assert one(seen, "x-side-path") == "/opts"


def test_http_call_options_table_async(res):
    side = res.echo("side")
    env = serve(res, """
function envoy_on_request(request_handle)
  request_handle:httpCall("side",
    {[":method"] = "GET", [":path"] = "/delay/2000?opts=async", [":authority"] = "side"}, "",
    {asynchronous = true, timeout_ms = 5000})
end
""", clusters=[cluster("side", [side])])
    start = time.monotonic()
    upstream(env, "/main")
    assert time.monotonic() - start < 1.5, "the main request waited for an asynchronous call"
    assert side.wait_for(lambda b: any(r["target"] == "/delay/2000?opts=async" for r in b.requests), 5)
    still_serving(env)


def test_http_call_return_duplicate_headers(res):
    side = res.echo("side")
    env = serve(res, """
function envoy_on_request(request_handle)
  local hdrs = {[":method"] = "GET", [":path"] = "/headers?x-dup=v0&x-dup=v1&x-dup=v2", [":authority"] = "side"}
  local last = request_handle:httpCall("side", hdrs, "", {timeout_ms = 5000})
  local all = request_handle:httpCall("side", hdrs, "", {timeout_ms = 5000, return_duplicate_headers = true})
  local h = request_handle:headers()
  h:add("x-last-wins", last["x-dup"])
  h:add("x-dup-type", type(all["x-dup"]))
  h:add("x-dup-all", table.concat(all["x-dup"], "|"))
end
""", clusters=[cluster("side", [side])])
    seen = upstream(env, "/main")
    assert one(seen, "x-last-wins") == "v2"
    assert one(seen, "x-dup-type") == "table"
    assert one(seen, "x-dup-all") == "v0|v1|v2"
    still_serving(env)


@pytest.mark.parametrize("call", [
    '"no-such-cluster", {[":method"] = "GET", [":path"] = "/", [":authority"] = "x"}, "", 1000',
    '"side", {[":method"] = "GET", [":path"] = "/"}, "", 1000',
], ids=["unknown_cluster", "missing_authority"])
def test_http_call_misuse_is_a_script_error(res, call):
    side = res.echo("side")
    env = serve(res, """
function envoy_on_request(request_handle)
  request_handle:headers():add("x-before", "yes")
  request_handle:httpCall(%s)
  request_handle:headers():add("x-after", "yes")
end
""" % call, clusters=[cluster("side", [side])])
    seen = upstream(env, "/main")
    assert one(seen, "x-before") == "yes", "edits made before the error are kept"
    assert values(seen, "x-after") == []
    assert side.request_count() == 0
    eventually(lambda: lua_errors(env.pier) == 1, 5, message="pier_lua_errors_total == 1")


# ---- respond -----------------------------------------------------------------------------------------

def test_respond_answers_locally_without_upstream(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  request_handle:respond({[":status"] = "403", ["x-why"] = "denied"}, "nope")
end
""")
    r = get(env, "/denied")
    assert r.status == 403
    assert r.body == b"nope"
    assert r.header_all("content-length") == ["4"]
    assert r.header("x-why") == "denied"
    assert env.echo.request_count() == 0


def test_respond_header_value_list_sends_repeated_header(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  request_handle:respond({[":status"] = "200", ["set-cookie"] = {"a=1", "b=2"}}, "cookies")
end
""")
    r = get(env, "/cookies")
    assert r.status == 200
    assert r.header_all("set-cookie") == ["a=1", "b=2"]


def test_respond_without_body_has_zero_length(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  request_handle:respond({[":status"] = "401"})
end
""")
    r = get(env, "/empty")
    assert r.status == 401
    assert r.body == b""
    assert r.header_all("content-length") == ["0"]


def test_respond_to_request_with_body_keeps_connection_in_sync(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  if request_handle:headers():get(":path") == "/deny" then
    request_handle:respond({[":status"] = "403"}, "nope")
  end
end
""")
    smuggled = httpraw.build_request("GET", "/smuggled-in-body")
    with httpraw.Conn(env.port) as c:
        r = c.request("POST", "/deny", body=smuggled)
        assert r.status == 403
        try:
            r2 = c.request("GET", "/next", timeout=3)
        except ConnectionError:
            r2 = None  # closing instead of reading the body is also safe
        if r2 is not None:
            assert r2.status == 200 and r2.json()["target"] == "/next"
    assert "/smuggled-in-body" not in env.echo.targets()


@pytest.mark.parametrize("headers", ['{[":status"] = "99"}', '{[":status"] = "600"}', '{["x-no-status"] = "1"}'],
                         ids=["status_99", "status_600", "no_status"])
def test_respond_with_bad_status_is_a_script_error(res, headers):
    env = serve(res, """
function envoy_on_request(request_handle)
  request_handle:respond(%s, "nope")
end
""" % headers)
    r = get(env, "/bad-status")
    assert r.status == 200, "fail-open: the request goes on to the origin"
    assert r.json()["path"] == "/bad-status"
    eventually(lambda: lua_errors(env.pier) == 1, 5, message="pier_lua_errors_total == 1")


def test_respond_on_response_path_replaces_upstream_response(res):
    env = serve(res, """
function envoy_on_response(response_handle)
  response_handle:respond({[":status"] = "502", ["x-replaced"] = "yes"}, "replaced by lua")
end
""")
    r = get(env, "/replace")
    assert r.status == 502
    assert r.body == b"replaced by lua"
    assert r.header_all("content-length") == [str(len(b"replaced by lua"))]
    assert r.header("x-replaced") == "yes"
    assert r.header("x-backend") is None, "the origin's headers went out with the replacement"
    assert env.echo.request_count() == 1


# ---- utilities ---------------------------------------------------------------------------------------

def test_timestamp_is_milliseconds_since_epoch(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  local h = request_handle:headers()
  h:add("x-ts-type", type(request_handle:timestamp()))
  h:add("x-ts", string.format("%.0f", request_handle:timestamp()))
  h:add("x-ts-ms", string.format("%.0f", request_handle:timestamp(EnvoyTimestampResolution.MILLISECOND)))
end
""")
    before = time.time() * 1000
    seen = upstream(env, "/ts")
    after = time.time() * 1000
    assert one(seen, "x-ts-type") == "number"
    for name in ("x-ts", "x-ts-ms"):
        ts = int(one(seen, name))
        assert before - 1000 <= ts <= after + 1000, f"{name}={ts} not within [{before:.0f}, {after:.0f}]"


def test_timestamp_string_resolutions(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  local h = request_handle:headers()
  h:add("x-tss", request_handle:timestampString())
  h:add("x-tss-ms", request_handle:timestampString(EnvoyTimestampResolution.MILLISECOND))
  h:add("x-tss-us", request_handle:timestampString(EnvoyTimestampResolution.MICROSECOND))
end
""")
    before = time.time()
    seen = upstream(env, "/tss")
    after = time.time()
    for name, scale in (("x-tss", 1e3), ("x-tss-ms", 1e3), ("x-tss-us", 1e6)):
        text = one(seen, name)
        assert text.isdigit(), f"{name}={text!r} is not an integer string"
        assert (before - 1) * scale <= int(text) <= (after + 1) * scale, f"{name}={text}"


def test_base64_escape(res):
    env = serve(res, r"""
function envoy_on_request(request_handle)
  local h = request_handle:headers()
  h:add("x-b64-text", request_handle:base64Escape("input string"))
  h:add("x-b64-binary", request_handle:base64Escape("\0\1\2\255hi"))
  h:add("x-b64-empty", "[" .. request_handle:base64Escape("") .. "]")
end
""")
    seen = upstream(env, "/b64")
    assert one(seen, "x-b64-text") == base64.b64encode(b"input string").decode()
    assert one(seen, "x-b64-binary") == base64.b64encode(b"\x00\x01\x02\xffhi").decode()
    assert one(seen, "x-b64-empty") == "[]"


# ---- importPublicKey / verifySignature -------------------------------------------------------

class Signer:
    """An RSA key made with the openssl command line: the public key as DER
    (SubjectPublicKeyInfo, what importPublicKey takes) and detached signatures."""

    def __init__(self, workdir: Path):
        self.dir = workdir
        self.key = workdir / "key.pem"
        self._openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(self.key))
        der = workdir / "pub.der"
        self._openssl("pkey", "-in", str(self.key), "-pubout", "-outform", "DER", "-out", str(der))
        self.public_der = der.read_bytes()

    @staticmethod
    def _openssl(*args: str) -> None:
        r = subprocess.run(["openssl", *args], capture_output=True, timeout=30)
        assert r.returncode == 0, f"openssl {' '.join(args)}: {r.stderr.decode(errors='replace')}"

    def sign(self, data: bytes, hash_name: str) -> bytes:
        src, sig = self.dir / "data.bin", self.dir / "sig.bin"
        src.write_bytes(data)
        self._openssl("dgst", f"-{hash_name.lower()}", "-sign", str(self.key), "-out", str(sig), str(src))
        return sig.read_bytes()


@pytest.fixture(scope="module")
def signer(tmp_path_factory):
    return Signer(tmp_path_factory.mktemp("lua-rsa"))


# Envoy's own scripts call importPublicKey(...):get() (the wrapper's get() gives the key, or nil
# when the DER does not parse); its docs pass the imported object straight to verifySignature.
# Both forms must work.
VERIFY_SCRIPT = """
local function fromhex(s)
  return (s:gsub("..", function(cc) return string.char(tonumber(cc, 16)) end))
end
function envoy_on_request(request_handle)
  local h = request_handle:headers()
  local der = fromhex(h:get("x-key"))
  local key = request_handle:importPublicKey(der, string.len(der))
  if h:get("x-key-form") == "get" then
    key = key:get()
  end
  if key == nil then
    h:add("x-verified", "no-key")
    return
  end
  local sig = fromhex(h:get("x-sig"))
  local data = h:get("x-data")
  local ok, err = request_handle:verifySignature(h:get("x-hash"), key, sig, string.len(sig), data, string.len(data))
  h:add("x-verified", tostring(ok))
  h:add("x-verify-error", tostring(err))
end
"""

KEY_FORMS = ["get", "direct"]


def _verify(env, key: bytes, sig: bytes, data: str, hash_name: str, key_form: str = "get") -> dict:
    return upstream(env, "/verify", headers=[("X-Key", key.hex()), ("X-Sig", sig.hex()), ("X-Data", data),
                                              ("X-Hash", hash_name), ("X-Key-Form", key_form)])


@pytest.mark.parametrize("hash_name", ["SHA1", "SHA224", "SHA256", "SHA384", "SHA512"])
def test_verify_signature_accepts_good_signature(res, signer, hash_name):
    env = serve(res, VERIFY_SCRIPT)
    sig = signer.sign(b"signed message", hash_name)
    seen = _verify(env, signer.public_der, sig, "signed message", hash_name)
    assert one(seen, "x-verified") == "true"
    assert one(seen, "x-verify-error") == "nil"


def test_verify_signature_hash_name_is_case_insensitive(res, signer):
    env = serve(res, VERIFY_SCRIPT)
    sig = signer.sign(b"signed message", "SHA256")
    assert one(_verify(env, signer.public_der, sig, "signed message", "sha256"), "x-verified") == "true"


def test_verify_signature_with_imported_key_object_directly(res, signer):
    env = serve(res, VERIFY_SCRIPT)
    sig = signer.sign(b"signed message", "SHA256")
    seen = _verify(env, signer.public_der, sig, "signed message", "SHA256", key_form="direct")
    assert one(seen, "x-verified") == "true"


@pytest.mark.parametrize("key_form", KEY_FORMS)
def test_verify_signature_rejects_tampered_data(res, signer, key_form):
    env = serve(res, VERIFY_SCRIPT)
    sig = signer.sign(b"signed message", "SHA256")
    seen = _verify(env, signer.public_der, sig, "signed messagE", "SHA256", key_form)
    assert one(seen, "x-verified") == "false"
    assert one(seen, "x-verify-error") not in ("nil", ""), "a failed verification returns an error message"


def test_verify_signature_rejects_unknown_hash(res, signer):
    env = serve(res, VERIFY_SCRIPT)
    sig = signer.sign(b"signed message", "SHA256")
    seen = _verify(env, signer.public_der, sig, "signed message", "MD4")
    assert one(seen, "x-verified") == "false"
    assert one(seen, "x-verify-error") not in ("nil", "")


def test_import_public_key_of_garbage_gets_nil(res):
    env = serve(res, VERIFY_SCRIPT)
    seen = _verify(env, b"\x30\x03\x02\x01\x00", b"\x00", "x", "SHA256")
    assert one(seen, "x-verified") == "no-key"


def test_verify_signature_with_garbage_key_object_fails_without_error(res):
    env = serve(res, VERIFY_SCRIPT)
    seen = _verify(env, b"\x30\x03\x02\x01\x00", b"\x00", "x", "SHA256", key_form="direct")
    assert one(seen, "x-verified") == "false"
    assert lua_errors(env.pier) == 0


# ---- clearRouteCache ------------------------------------------------------------------------------

def test_clear_route_cache_after_path_change_reroutes(res):
    other = res.echo("other")
    env = serve(res, """
function envoy_on_request(request_handle)
  local h = request_handle:headers()
  if string.sub(h:get(":path"), 1, 8) == "/rc/from" then
    h:replace(":path", "/rc/to/x")
    request_handle:clearRouteCache()
  end
end
""", routes=[route("/rc/from", "app"), route("/rc/to", "other")], clusters=[cluster("other", [other])])
    r = get(env, "/rc/from")
    assert r.status == 200
    seen = r.json()
    assert seen["backend"] == "other"
    assert seen["target"] == "/rc/to/x"
    assert env.echo.request_count() == 0
