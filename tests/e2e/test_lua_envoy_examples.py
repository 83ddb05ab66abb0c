"""Scripts from Envoy's own Lua filter documentation, sandbox example and integration tests,
run unmodified (only the surrounding config is pier's). Each test names where its script comes
from; where Envoy's text itself is broken that is said next to it.

Sources: envoyproxy/envoy docs/root/configuration/http/http_filters/lua_filter.rst and its
_include/*.yaml, examples/lua/envoy.yaml, test/extensions/filters/http/lua/lua_integration_test.cc.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

import httpraw
from conftest import _LIVE_PIERS
from cfg import cluster, config, listener, lua_filter, lua_override
from pier_proc import eventually
from test_lua_api import Signer

SCRIPTS = Path(__file__).resolve().parent / "lua_scripts"
LUA_CLUSTER_FOO = "foo-from-lua-cluster"


def route(prefix: str, cluster_name: str = "app", **extra) -> dict:
    return {"match": {"prefix": prefix}, "cluster": cluster_name, **extra}


def start(res, filters, *, routes=None, lua_cluster: bool = False, files=None, **top) -> SimpleNamespace:
    """pier with `filters` on listener "web" in front of the echo origin "app".

    lua_cluster: also a cluster "lua_cluster" (the name Envoy's examples call) whose answers
    carry a `foo` response header, as those examples expect: a second listener of the same pier
    adds it in front of an echo origin "side".
    files: {relative path: source file} copied into pier's working directory before it starts
    (scripts that require() modules relative to it)."""
    echo = res.echo("app")
    port = httpraw.free_port()
    listeners = [listener("web", port, routes=routes or [route("/")], filters=filters)]
    clusters = [cluster("app", [echo])]
    side = None
    if lua_cluster:
        side = res.echo("side")
        side_port = httpraw.free_port()
        listeners.append(listener("lua-cluster-front", side_port, routes=[route(
            "/", "side", response_headers_to_add=[{"name": "foo", "value": LUA_CLUSTER_FOO}])]))
        clusters += [cluster("side", [side]), cluster("lua_cluster", [f"127.0.0.1:{side_port}"])]
    pier = res.pier(config(listeners, clusters, **top), start=False)
    for rel, src in (files or {}).items():
        dst = pier.workdir / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    _LIVE_PIERS.append(pier)  # started by hand: register it so a failure prints its log
    pier.start()
    return SimpleNamespace(port=port, pier=pier, echo=echo, side=side)


def values(seen: dict, name: str) -> list[str]:
    name = name.lower()
    return [v for n, v in seen["headers"] if n.lower() == name]


def count_in_log(pier, text: str) -> int:
    return pier.log_text().count(text)


def wait_logged(pier, text: str) -> None:
    assert pier.wait_log(re.escape(text), timeout=5), f"{text!r} not logged:\n{pier.log_tail()}"


# ---- sandbox example (examples/lua) --------------------------------------------------------------

def test_sandbox_example_adds_foo_bar(res):
    # The first Lua sandbox: "The output from the curl command below should include the headers foo."
    env = start(res, [lua_filter("""\
function envoy_on_request(request_handle)
  request_handle:headers():add("foo", "bar")
end
""")])
    r = httpraw.request(env.port, "GET", "/")
    assert values(r.json(), "foo") == ["bar"]


def test_sandbox_example_library_and_response_body_size(res):
    # examples/lua/envoy.yaml: a library loaded with require() and response-body-size.
    env = start(res, [lua_filter("""\
local mylibrary = require("lib.mylibrary")

function envoy_on_request(request_handle)
  request_handle:headers():add("foo", mylibrary.foobar())
end
function envoy_on_response(response_handle)
  body_size = response_handle:body():length()
  response_handle:headers():add("response-body-size", tostring(body_size))
end
""")], files={"lib/mylibrary.lua": SCRIPTS / "lib" / "mylibrary.lua"})
    r = httpraw.request(env.port, "GET", "/")
    assert r.status == 200
    assert values(r.json(), "foo") == ["bar"]
    assert r.header("response-body-size") == str(len(r.body))


def test_sandbox_example_multiple_lua_filters(res):
    # examples/lua/envoy.yaml (newer): a second filter without default code that one route fills in.
    env = start(res, [
        lua_filter("""\
local mylibrary = require("lib.mylibrary")

function envoy_on_request(request_handle)
  request_handle:headers():add("foo", mylibrary.foobar())
end
""", name="lua_filter_with_custom_name_0"),
        lua_filter(None, name="lua_filter_with_custom_name_1"),
    ], routes=[
        route("/multiple/lua/scripts", filters={"lua_filter_with_custom_name_1": lua_override(source_code="""\
function envoy_on_response(response_handle)
  response_handle:headers():add("header_key_1", "header_value_1")
end
""")}),
        route("/"),
    ], files={"lib/mylibrary.lua": SCRIPTS / "lib" / "mylibrary.lua"})
    r = httpraw.request(env.port, "GET", "/multiple/lua/scripts")
    assert r.status == 200
    assert r.header("header_key_1") == "header_value_1"
    assert values(r.json(), "foo") == ["bar"]
    r = httpraw.request(env.port, "GET", "/other")
    assert r.header("header_key_1") is None
    assert values(r.json(), "foo") == ["bar"]


# ---- lua_filter.rst "Script examples" ----------------------------------------------------------------

def test_doc_example_body_sizes_and_remove_foo(res):
    env = start(res, [lua_filter("""\
-- Called on the request path.
function envoy_on_request(request_handle)
  -- Wait for the entire request body and add a request header with the body size.
  request_handle:headers():add("request_body_size", request_handle:body():length())
end

-- Called on the response path.
function envoy_on_response(response_handle)
  -- Wait for the entire response body and add a response header with the body size.
  response_handle:headers():add("response_body_size", response_handle:body():length())
  -- Remove a response header named 'foo'
  response_handle:headers():remove("foo")
end
""")])
    r = httpraw.request(env.port, "POST", "/headers?foo=secret&bar=kept", body="hello world")
    assert r.status == 200
    assert values(r.json(), "request_body_size") == ["11"]
    assert r.header("response_body_size") == str(len(r.body))
    assert r.header("foo") is None
    assert r.header("bar") == "kept"


HTTP_CALL_EXAMPLE = """\
function envoy_on_request(request_handle)
  -- Make an HTTP call to an upstream host with the following headers, body, and timeout.
  local headers, body = request_handle:httpCall(
  "lua_cluster",
  {
    [":method"] = "POST",
    [":path"] = "/",
    [":authority"] = "lua_cluster"
  },
  "hello world",
  5000)

  -- Add information from the HTTP call into the headers that are about to be sent to the next
  -- filter in the filter chain.
  request_handle:headers():add("upstream_foo", headers["foo"])
  request_handle:headers():add("upstream_body_size", #body)
end
"""


def test_doc_example_http_call_adds_upstream_headers(res):
    env = start(res, [lua_filter(HTTP_CALL_EXAMPLE)], lua_cluster=True)
    r = httpraw.request(env.port, "GET", "/main")
    assert r.status == 200
    seen = r.json()
    assert values(seen, "upstream_foo") == [LUA_CLUSTER_FOO]
    assert env.side.request_count() == 1
    call = env.side.requests[0]
    assert (call["method"], call["path"], call["body"]) == ("POST", "/", "hello world")
    # The side origin answered with the JSON description of the call; the script measured it.
    assert values(seen, "upstream_body_size") == [str(len(_echo_json(call)))]
    assert httpraw.request(env.port, "GET", "/again").status == 200
    assert env.pier.alive()


def _echo_json(record: dict) -> bytes:
    """The body echo_backend answered `record` with."""
    return json.dumps(record).encode()


RESPOND_EXAMPLE = """\
function envoy_on_request(request_handle)
  -- Make an HTTP call.
  local headers, body = request_handle:httpCall(
  "lua_cluster",
  {
    [":method"] = "POST",
    [":path"] = "/",
    [":authority"] = "lua_cluster",
    ["set-cookie"] = { "lang=lua; Path=/", "type=binding; Path=/" }
  },
  "hello world",
  5000)

  -- Response directly and set a header from the HTTP call. No further filter iteration
  -- occurs.
  request_handle:respond(
    {[":status"] = "403",
     ["upstream_foo"] = headers["foo"]},
    "nope")
end
"""


def test_doc_example_http_call_then_respond_403_nope(res):
    env = start(res, [lua_filter(RESPOND_EXAMPLE)], lua_cluster=True)
    r = httpraw.request(env.port, "GET", "/main")
    assert r.status == 403
    assert r.body == b"nope"
    assert r.header("content-length") == "4"
    assert r.header("upstream_foo") == LUA_CLUSTER_FOO
    assert env.echo.request_count() == 0, "respond() must not let the request reach the route's cluster"
    assert env.side.request_count() == 1
    assert values(env.side.requests[0], "set-cookie") == ["lang=lua; Path=/", "type=binding; Path=/"]
    assert httpraw.request(env.port, "GET", "/again").status == 403
    assert env.pier.alive()


def test_doc_example_log_request_and_response(res):
    env = start(res, [lua_filter("""\
function envoy_on_request(request_handle)
  -- Log information about the request
  request_handle:logInfo("Authority: "..request_handle:headers():get(":authority"))
  request_handle:logInfo("Method: "..request_handle:headers():get(":method"))
  request_handle:logInfo("Path: "..request_handle:headers():get(":path"))
end

function envoy_on_response(response_handle)
  -- Log response status code
  response_handle:logInfo("Status: "..response_handle:headers():get(":status"))
end
""")])
    r = httpraw.request(env.port, "GET", "/status/418", host="example.test")
    assert r.status == 418
    for text in ("Authority: example.test", "Method: GET", "Path: /status/418", "Status: 418"):
        wait_logged(env.pier, text)


HTML = b"<html><b>Not Found<b></html>"


def test_doc_example_rewrite_response_body_with_body(res):
    env = start(res, [lua_filter("""\
function envoy_on_response(response_handle)
  response_handle:body():setBytes("<html><b>Not Found<b></html>")
  response_handle:headers():replace("content-type", "text/html")
end
""")])
    r = httpraw.request(env.port, "GET", "/status/404")
    assert r.status == 404
    assert r.body == HTML
    assert r.header_all("content-type") == ["text/html"]
    assert r.header_all("content-length") == [str(len(HTML))]


def test_doc_example_rewrite_response_body_with_body_chunks(res):
    env = start(res, [lua_filter("""\
function envoy_on_response(response_handle)

  -- Sets the content-type.
  response_handle:headers():replace("content-type", "text/html")

  local last
  for chunk in response_handle:bodyChunks() do
    -- Clears each received chunk.
    chunk:setBytes("")
    last = chunk
  end

  last:setBytes("<html><b>Not Found<b></html>")
end
""")])
    # A chunked origin answer: the new body's length is not known when the head goes out.
    r = httpraw.request(env.port, "GET", "/size/100000?chunked=1", timeout=10)
    assert r.status == 200
    assert r.body == HTML
    assert r.header_all("content-type") == ["text/html"]


def test_doc_example_body_chunks_snippet_fails_open(res):
    # lua_filter.rst's bodyChunks() snippet calls request_handle:log(0, ...), which Envoy does not
    # have: under Envoy it is a script error, the request goes on and its body is untouched.
    env = start(res, [lua_filter("""\
function envoy_on_request(request_handle)
  for chunk in request_handle:bodyChunks() do
    request_handle:log(0, chunk:length())
  end
end
""")])
    r = httpraw.request(env.port, "POST", "/chunks", body="hello world")
    assert r.status == 200
    assert r.json()["body"] == "hello world"
    eventually(lambda: env.pier.metrics().value("pier_lua_errors_total", listener="web") == 1, 5,
               message="one script error")


def test_doc_example_body_chunks_logging_lengths(res):
    # The same snippet with the log call it meant (logInfo).
    env = start(res, [lua_filter("""\
function envoy_on_request(request_handle)
  for chunk in request_handle:bodyChunks() do
    request_handle:logInfo("chunk " .. chunk:length())
  end
end
""")])
    with httpraw.Conn(env.port) as c:
        c.send(httpraw.build_request("POST", "/chunks", headers=[("Content-Length", "12")]) + b"first")
        wait_logged(env.pier, "chunk 5")
        c.send(b"-second")
        r = c.read_response()
    assert r.status == 200
    assert r.json()["body"] == "first-second"
    wait_logged(env.pier, "chunk 7")


def test_doc_example_dynamic_metadata_set_on_request_logged_on_response(res):
    env = start(res, [lua_filter("""\
function envoy_on_request(request_handle)
  local headers = request_handle:headers()
  request_handle:streamInfo():dynamicMetadata():set("envoy.filters.http.lua", "request.info", {
    auth = headers:get("authorization"),
    token = headers:get("x-request-token"),
  })
end

function envoy_on_response(response_handle)
  local meta = response_handle:streamInfo():dynamicMetadata():get("envoy.filters.http.lua")["request.info"]
  response_handle:logInfo("Auth: "..meta.auth..", token: "..meta.token)
end
""")])
    r = httpraw.request(env.port, "GET", "/dm", headers=[("Authorization", "Bearer e2e-secret"),
                                                          ("X-Request-Token", "tok-42")])
    assert r.status == 200
    wait_logged(env.pier, "Auth: Bearer e2e-secret, token: tok-42")


def test_doc_example_route_name(res):
    env = start(res, [lua_filter("""\
function envoy_on_request(request_handle)
  local route_name = request_handle:streamInfo():routeName()
  request_handle:logInfo("Matched route: " .. route_name)
end
""")], routes=[route("/", name="e2e-example-route")])
    assert httpraw.request(env.port, "GET", "/x").status == 200
    wait_logged(env.pier, "Matched route: e2e-example-route")


def test_doc_example_per_route_overrides(res):
    # _include/lua-filter-override.yaml, with "/" moved last (in the file it comes first and
    # would shadow the other routes).
    env = start(res, [lua_filter("""\
function envoy_on_request(request_handle)
  -- do something
end
""", source_codes={
        "hello.lua": {"inline_string": """\
function envoy_on_request(request_handle)
  request_handle:logInfo("Hello World.")
end
"""},
        "bye.lua": {"inline_string": """\
function envoy_on_response(response_handle)
  response_handle:logInfo("Bye Bye.")
end
"""},
    }, name="envoy.filters.http.lua")], routes=[
        route("/lua-disabled", filters={"envoy.filters.http.lua": lua_override(disabled=True)}),
        route("/lua-custom", filters={"envoy.filters.http.lua": lua_override(name="hello.lua")}),
        route("/lua-inline", filters={"envoy.filters.http.lua": lua_override(source_code="""\
function envoy_on_response(response_handle)
  response_handle:logInfo("Goodbye.")
end
""")}),
        route("/"),
    ])
    assert httpraw.request(env.port, "GET", "/lua-custom").status == 200
    wait_logged(env.pier, "Hello World.")
    assert httpraw.request(env.port, "GET", "/lua-inline").status == 200
    wait_logged(env.pier, "Goodbye.")
    for target in ("/lua-disabled", "/"):
        assert httpraw.request(env.port, "GET", target).status == 200
    assert count_in_log(env.pier, "Hello World.") == 1
    assert count_in_log(env.pier, "Goodbye.") == 1
    assert count_in_log(env.pier, "Bye Bye.") == 0


# ---- lua_integration_test.cc ------------------------------------------------------------------------

def test_integration_example_metadata_under_canonical_name(res):
    # MetadataFallbackToCanonicalName: a filter with a custom name reads route metadata kept
    # under envoy.filters.http.lua, and logs it at trace level.
    env = start(res, [lua_filter("""\
function envoy_on_request(request_handle)
  local foo_bar = request_handle:metadata():get("foo.bar")
  request_handle:logTrace(foo_bar["name"])
  request_handle:logTrace(foo_bar["prop"])
end
function envoy_on_response(response_handle)
  local baz_bat = response_handle:metadata():get("baz.bat")
  response_handle:logTrace(baz_bat["name"])
  response_handle:logTrace(baz_bat["prop"])
end
""", name="lua-filter-custom-name")], routes=[route("/", metadata={"filter_metadata": {"envoy.filters.http.lua": {
        "foo.bar": {"name": "e2e-meta-foo", "prop": "e2e-meta-bar"},
        "baz.bat": {"name": "e2e-meta-baz", "prop": "e2e-meta-bat"},
    }}})], log_level="trace")
    assert httpraw.request(env.port, "GET", "/test/long/url").status == 200
    for text in ("e2e-meta-foo", "e2e-meta-bar", "e2e-meta-baz", "e2e-meta-bat"):
        wait_logged(env.pier, text)
    assert env.pier.metrics().value("pier_lua_errors_total", listener="web") == 0


# RequestAndResponse, without its virtualHost():metadata() and route():metadata() lines (newer
# Envoy API that pier does not have); everything else as Envoy wrote it.
REQUEST_AND_RESPONSE = """\
function envoy_on_request(request_handle)
  request_handle:logTrace("log test")
  request_handle:logDebug("log test")
  request_handle:logInfo("log test")
  request_handle:logWarn("log test")
  request_handle:logErr("log test")
  request_handle:logCritical("log test")

  local metadata = request_handle:metadata():get("foo.bar")
  local body_length = request_handle:body():length()

  request_handle:streamInfo():dynamicMetadata():set("envoy.lb", "foo", "bar")
  local dynamic_metadata_value = request_handle:streamInfo():dynamicMetadata():get("envoy.lb")["foo"]

  local test_header_value_0 = request_handle:headers():getAtIndex("X-Test-Header", 0)
  request_handle:headers():add("test_header_value_0", test_header_value_0)
  local test_header_value_1 = request_handle:headers():getAtIndex("X-TEST-Header", 1)
  request_handle:headers():add("test_header_value_1", test_header_value_1)
  local test_header_value_2 = request_handle:headers():getAtIndex("x-test-header", 2)
  if test_header_value_2 == nil then
    request_handle:headers():add("test_header_value_2", "nil_value")
  end
  local test_header_value_size = request_handle:headers():getNumValues("x-test-header")
  request_handle:headers():add("test_header_value_size", test_header_value_size)
  request_handle:headers():add("cookie_0", request_handle:headers():getAtIndex("set-cookie", 0))
  request_handle:headers():add("cookie_1", request_handle:headers():getAtIndex("set-cookie", 1))
  request_handle:headers():add("cookie_size", request_handle:headers():getNumValues("set-cookie"))

  request_handle:headers():add("request_body_size", body_length)
  request_handle:headers():add("request_metadata_foo", metadata["foo"])
  request_handle:headers():add("request_metadata_baz", metadata["baz"])
  if request_handle:connection():ssl() == nil then
    request_handle:headers():add("request_secure", "false")
  else
    request_handle:headers():add("request_secure", "true")
  end
  request_handle:headers():add("request_protocol", request_handle:streamInfo():protocol())
  request_handle:headers():add("request_dynamic_metadata_value", dynamic_metadata_value)
  request_handle:headers():add("request_downstream_direct_local_address_value",
    request_handle:streamInfo():downstreamDirectLocalAddress())
  request_handle:headers():add("request_downstream_local_address_value",
    request_handle:streamInfo():downstreamLocalAddress())
  request_handle:headers():add("request_downstream_directremote_address_value",
    request_handle:streamInfo():downstreamDirectRemoteAddress())
  request_handle:headers():add("request_downstream_remote_address_value",
    request_handle:streamInfo():downstreamRemoteAddress())
  request_handle:headers():add("request_requested_server_name",
    request_handle:streamInfo():requestedServerName())
end

function envoy_on_response(response_handle)
  local metadata = response_handle:metadata():get("foo.bar")
  local body_length = response_handle:body():length()
  response_handle:headers():add("response_metadata_foo", metadata["foo"])
  response_handle:headers():add("response_metadata_baz", metadata["baz"])
  response_handle:headers():add("response_body_size", body_length)
  response_handle:headers():add("request_protocol", response_handle:streamInfo():protocol())
  response_handle:headers():remove("foo")
end
"""


def test_integration_example_request_and_response(res):
    env = start(res, [lua_filter(REQUEST_AND_RESPONSE, name="lua")], routes=[route("/", metadata={
        "filter_metadata": {"envoy.filters.http.lua": {"foo.bar": {"foo": "bar", "baz": "bat"}}}})])
    with httpraw.Conn(env.port) as c:
        client = "127.0.0.1:%d" % c.sock.getsockname()[1]
        c.send(httpraw.build_request("POST", "/headers?foo=bar", host="foo.lyft.com", headers=[
            ("x-test-header", "foo"), ("x-test-header", "bar"), ("set-cookie", "foo;bar;"),
            ("set-cookie", "1,3;2,5;"), ("Content-Length", "10")]) + b"hello")
        c.send(b"world")
        r = c.read_response()
    assert r.status == 200, r
    seen = r.json()
    want = {
        "test_header_value_0": "foo", "test_header_value_1": "bar", "test_header_value_2": "nil_value",
        "test_header_value_size": "2", "cookie_0": "foo;bar;", "cookie_1": "1,3;2,5;", "cookie_size": "2",
        "request_body_size": "10", "request_metadata_foo": "bar", "request_metadata_baz": "bat",
        "request_secure": "false", "request_protocol": "HTTP/1.1", "request_dynamic_metadata_value": "bar",
        "request_downstream_direct_local_address_value": f"127.0.0.1:{env.port}",
        "request_downstream_local_address_value": f"127.0.0.1:{env.port}",
        "request_downstream_directremote_address_value": client,
        "request_downstream_remote_address_value": client,
        "request_requested_server_name": "",
    }
    for name, value in want.items():
        assert values(seen, name) == [value], f"{name}: {values(seen, name)}"
    assert seen["body"] == "helloworld"
    assert r.header("response_body_size") == str(len(r.body))
    assert r.header("response_metadata_foo") == "bar"
    assert r.header("response_metadata_baz") == "bat"
    assert r.header("request_protocol") == "HTTP/1.1"
    assert r.header("foo") is None
    wait_logged(env.pier, "log test")


# SignatureVerification, unchanged: the key comes from route metadata (base64 DER), the
# signature as hex in a header, and the hash name in lower case.
SIGNATURE_VERIFICATION = """\
function string.fromhex(str)
  return (str:gsub('..', function (cc)
    return string.char(tonumber(cc, 16))
  end))
end

-- decoding
function dec(data)
  local b='ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  data = string.gsub(data, '[^'..b..'=]', '')
  return (data:gsub('.', function(x)
    if (x == '=') then return '' end
    local r,f='',(b:find(x)-1)
    for i=6,1,-1 do r=r..(f%2^i-f%2^(i-1)>0 and '1' or '0') end
    return r;
  end):gsub('%d%d%d?%d?%d?%d?%d?%d?', function(x)
    if (#x ~= 8) then return '' end
    local c=0
    for i=1,8 do c=c+(x:sub(i,i)=='1' and 2^(8-i) or 0) end
    return string.char(c)
  end))
end

function envoy_on_request(request_handle)
  local metadata = request_handle:metadata():get("keyset")
  local keyder = metadata[request_handle:headers():get("keyid")]

  local rawkeyder = dec(keyder)
  local pubkey = request_handle:importPublicKey(rawkeyder, string.len(rawkeyder)):get()

  if pubkey == nil then
    request_handle:logErr("log test")
    request_handle:headers():add("signature_verification", "rejected")
    return
  end

  local hash = request_handle:headers():get("hash")
  local sig = request_handle:headers():get("signature")
  local rawsig = sig:fromhex()
  local data = request_handle:headers():get("message")
  local ok, error = request_handle:verifySignature(hash, pubkey, rawsig, string.len(rawsig), data, string.len(data))

  if ok then
    request_handle:headers():add("signature_verification", "approved")
  else
    request_handle:logErr(error)
    request_handle:headers():add("signature_verification", "rejected")
  end

  request_handle:headers():add("verification", "done")
end
"""


@pytest.fixture(scope="module")
def signer(tmp_path_factory):
    return Signer(tmp_path_factory.mktemp("lua-example-rsa"))


def _signature_env(res, signer):
    keyset = {"foo": base64.b64encode(signer.public_der).decode()}
    return start(res, [lua_filter(SIGNATURE_VERIFICATION)], routes=[route("/", metadata={
        "filter_metadata": {"envoy.filters.http.lua": {"keyset": keyset}}})])


def _signed_request(env, message: str, signature: bytes) -> dict:
    r = httpraw.request(env.port, "POST", "/test/long/url", body="", headers=[
        ("message", message), ("keyid", "foo"), ("signature", signature.hex()), ("hash", "sha256")])
    assert r.status == 200, r
    return r.json()


def test_integration_example_signature_verification_approves(res, signer):
    env = _signature_env(res, signer)
    seen = _signed_request(env, "hello", signer.sign(b"hello", "SHA256"))
    assert values(seen, "signature_verification") == ["approved"]
    assert values(seen, "verification") == ["done"]


def test_integration_example_signature_verification_rejects(res, signer):
    env = _signature_env(res, signer)
    seen = _signed_request(env, "hello", signer.sign(b"goodbye", "SHA256"))
    assert values(seen, "signature_verification") == ["rejected"]
    assert values(seen, "verification") == ["done"]
    assert env.pier.metrics().value("pier_lua_errors_total", listener="web") == 0
