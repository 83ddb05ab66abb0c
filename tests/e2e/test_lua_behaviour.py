"""How the Lua filter behaves around the API: concurrency of yielding scripts, script errors
(fail-open, fail_closed, metrics, logs), config and reload errors, the sandbox, per-route
overrides, buffer limits, several filters in one chain and per-worker script state."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

import httpraw
from cfg import cluster, config, listener, lua_filter, lua_override
from pier_proc import eventually, run_cli

SCRIPTS = Path(__file__).resolve().parent / "lua_scripts"


def route(prefix: str, cluster_name: str = "app", **extra) -> dict:
    return {"match": {"prefix": prefix}, "cluster": cluster_name, **extra}


def serve(res, code: str | None, *, routes=None, clusters=(), filters=None, workers: int = 2, limits=None,
          **lua_opts) -> SimpleNamespace:
    """Starts pier with one Lua filter (entry name "lua") running `code` in front of the echo origin "app"."""
    echo = res.echo("app")
    port = httpraw.free_port()
    if filters is None:
        filters = [lua_filter(code, **lua_opts)]
    extra = {"filters": filters}
    if limits:
        extra["limits"] = limits
    cfgd = config([listener("web", port, routes=routes or [route("/")], **extra)],
                  [cluster("app", [echo]), *clusters], workers=workers)
    return SimpleNamespace(port=port, pier=res.pier(cfgd), echo=echo, config=cfgd)


def values(seen: dict, name: str) -> list[str]:
    name = name.lower()
    return [v for n, v in seen["headers"] if n.lower() == name]


def tokens(vs: list[str]) -> list[str]:
    """Repeated header lines and one comma-joined line are the same field (RFC 9110 5.3)."""
    return [t.strip() for v in vs for t in v.split(",")]


def upstream(env, target: str = "/", method: str = "GET", headers=None, body=None) -> dict:
    r = httpraw.request(env.port, method, target, headers=headers, body=body)
    assert r.status == 200, r
    return r.json()


def metric(pier, name: str, filter_name: str = "lua") -> float:
    return pier.metrics().value(name, listener="web", filter=filter_name)


def log_line_with(pier, needle: str) -> str | None:
    for line in pier.log_text().splitlines():
        if needle in line:
            return line
    return None


# ---- concurrency -----------------------------------------------------------------------------

CONCURRENT_SCRIPT = """
function envoy_on_request(request_handle)
  local id = string.match(request_handle:headers():get(":path"), "^/c/(%d+)$")
  local headers, body = request_handle:httpCall("side",
    {[":method"] = "GET", [":path"] = "/delay/150?id=" .. id, [":authority"] = "side"}, "", 5000)
  local side_id = string.match(body, '"query": "id=(%d+)"')
  local request_body = request_handle:body()
  local h = request_handle:headers()
  h:add("x-id", id)
  h:add("x-side-status", headers[":status"])
  h:add("x-side-id", side_id or "none")
  h:add("x-body", request_body:getBytes(0, request_body:length()))
  request_handle:streamInfo():dynamicMetadata():set("e2e", "id", id)
end
function envoy_on_response(response_handle)
  response_handle:headers():add("x-resp-id", response_handle:streamInfo():dynamicMetadata():get("e2e")["id"])
end
"""


def test_concurrent_yielding_scripts_keep_streams_apart(res):
    side = res.echo("side")
    env = serve(res, CONCURRENT_SCRIPT, clusters=[cluster("side", [side])], workers=2)
    n = 50
    results: dict[int, object] = {}
    start = threading.Barrier(n, timeout=10)

    def client(i: int) -> None:
        try:
            start.wait()
            results[i] = httpraw.request(env.port, "POST", f"/c/{i}", body=f"body-{i}", timeout=15)
        except Exception as e:  # reported below with the request it belongs to
            results[i] = e

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert len(results) == n, f"only {len(results)} of {n} requests finished"
    for i in range(n):
        r = results[i]
        assert isinstance(r, httpraw.Response), f"request {i}: {r!r}"
        assert r.status == 200, f"request {i}: {r!r}"
        seen = r.json()
        assert seen["path"] == f"/c/{i}"
        assert values(seen, "x-id") == [str(i)]
        assert values(seen, "x-side-status") == ["200"]
        assert values(seen, "x-side-id") == [str(i)], f"request {i} got another stream's httpCall answer"
        assert values(seen, "x-body") == [f"body-{i}"], f"request {i} got another stream's body"
        assert seen["body"] == f"body-{i}"
        assert r.header("x-resp-id") == str(i), f"request {i}: response hook saw another stream's metadata"
    assert side.request_count() == n
    assert upstream(env, "/c/999", "POST", body="body-999")["path"] == "/c/999"
    assert env.pier.alive()


# ---- script errors -------------------------------------------------------------------------------

def _runtime_error_env(res, **opts):
    return serve(res, {"filename": str(SCRIPTS / "runtime_error.lua")}, **opts)


def test_runtime_error_continues_with_edits_made_before_it(res):
    env = _runtime_error_env(res)
    seen = upstream(env, "/err")
    assert values(seen, "x-before-error") == ["yes"]
    assert values(seen, "x-after-error") == []


def test_runtime_error_is_counted(res):
    env = _runtime_error_env(res)
    for i in range(3):
        upstream(env, f"/err/{i}")
    eventually(lambda: metric(env.pier, "pier_lua_errors_total") == 3, 5, message="pier_lua_errors_total == 3")


def test_runtime_error_is_logged_at_error_level_with_script_and_line(res):
    env = _runtime_error_env(res)
    upstream(env, "/err")
    assert env.pier.wait_log(r"runtime_error\.lua:4: lua-e2e-boom", timeout=5), env.pier.log_tail()
    line = log_line_with(env.pier, "lua-e2e-boom")
    assert re.search(r"\berror\b", line, re.I), f"not logged at error level: {line}"


def test_executions_are_counted(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  request_handle:headers():add("x-ran", "yes")
end
""")
    for i in range(4):
        upstream(env, f"/run/{i}")
    eventually(lambda: metric(env.pier, "pier_lua_executions_total") >= 4, 5,
               message="pier_lua_executions_total >= 4")
    assert metric(env.pier, "pier_lua_errors_total") == 0


def test_fail_closed_request_error_answers_500_without_upstream(res):
    env = _runtime_error_env(res, fail_closed=True)
    r = httpraw.request(env.port, "GET", "/err")
    assert r.status == 500
    assert env.echo.request_count() == 0
    eventually(lambda: metric(env.pier, "pier_lua_errors_total") == 1, 5, message="error counted")


def test_fail_closed_response_error_answers_500(res):
    env = serve(res, """
function envoy_on_response(response_handle)
  error("lua-e2e-response-boom")
end
""", fail_closed=True)
    r = httpraw.request(env.port, "GET", "/resp-err")
    assert r.status == 500
    assert env.echo.request_count() == 1


def test_fail_open_is_the_default_on_the_response_path(res):
    env = serve(res, """
function envoy_on_response(response_handle)
  response_handle:headers():add("x-resp-before", "yes")
  error("lua-e2e-response-boom")
end
""")
    r = httpraw.request(env.port, "GET", "/resp-err")
    assert r.status == 200
    assert r.json()["path"] == "/resp-err"
    assert r.header("x-resp-before") == "yes"


def test_headers_not_modifiable_once_body_chunks_started(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  for chunk in request_handle:bodyChunks() do
  end
  local ok, err = pcall(function() request_handle:headers():add("x-late", "1") end)
  request_handle:streamInfo():dynamicMetadata():set("e2e", "late", tostring(ok) .. ":" .. tostring(err))
end
function envoy_on_response(response_handle)
  response_handle:headers():add("x-late-add", response_handle:streamInfo():dynamicMetadata():get("e2e")["late"])
end
""")
    r = httpraw.request(env.port, "POST", "/late", body="abc")
    assert r.status == 200
    assert values(r.json(), "x-late") == []
    result = r.header("x-late-add")
    assert result.startswith("false:") and "no longer modifiable" in result, result


def test_script_without_hooks_passes_traffic(res):
    env = serve(res, "local unused = 1\n")
    seen = upstream(env, "/plain", "POST", body="kept")
    assert seen["body"] == "kept"


def test_script_with_only_response_hook(res):
    env = serve(res, """
function envoy_on_response(response_handle)
  response_handle:headers():add("x-only-response", "yes")
end
""")
    r = httpraw.request(env.port, "GET", "/resp-only")
    assert r.status == 200 and r.header("x-only-response") == "yes"


# ---- config errors (pier validate) -----------------------------------------------------------------

VALID_LUA = """\
admin:
  address: 127.0.0.1:19921
workers: 1
listeners:
  - name: web
    address: 127.0.0.1:18095
    protocol: http
    filters:
      - lua:
          default_source_code: |
            function envoy_on_request(request_handle)
              request_handle:headers():add("x", "y")
            end
          source_codes:
            other.lua:
              inline_string: "function envoy_on_request(h) end"
    routes:
      - match:
          prefix: /other
        cluster: app
        filters:
          lua:
            name: other.lua
      - match:
          prefix: /
        cluster: app
clusters:
  - name: app
    endpoints:
      - 127.0.0.1:18096
"""


def _sub(old: str, new: str):
    def f(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)
    return f


_ERROR_LINE = r"^(?:{path}|{name}):(\d+):(\d+): (\S+): (.+)$"


def _validate(tmp_path, text: str):
    path = tmp_path / "pier.yaml"
    path.write_text(text)
    r = run_cli(["validate", str(path)])
    rx = re.compile(_ERROR_LINE.format(path=re.escape(str(path)), name=re.escape(path.name)))
    errors = [m for m in (rx.match(line.strip()) for line in r.stderr.splitlines()) if m]
    return r, errors


def _lines_with(text: str, markers) -> set[int]:
    return {i for i, line in enumerate(text.splitlines(), 1) if any(m in line for m in markers)}


def test_validate_accepts_lua_filter_config(tmp_path):
    r, errors = _validate(tmp_path, VALID_LUA)
    assert r.returncode == 0, r.stderr


# (id, mutation, markers: substrings of the lines an error may point at, field path prefix)
LUA_CONFIG_ERRORS = [
    ("unknown_filter_type",
     _sub("    routes:\n", "      - nosuchfilter: {}  # bad-type\n    routes:\n"),
     ["# bad-type"], "listeners[0].filters[1]"),
    ("duplicate_entry_name",
     _sub("    routes:\n", "      - lua:  # dup-entry\n"
                          "          default_source_code: \"function envoy_on_request(h) end\"\n"
                          "    routes:\n"),
     ["# dup-entry", 'default_source_code: "function'], "listeners[0].filters[1]"),
    ("override_names_missing_entry",
     _sub("          lua:\n            name: other.lua\n",
          "          nosuch:  # missing-entry\n            disabled: true\n"),
     ["# missing-entry", "disabled: true"], "listeners[0].routes[0].filters"),
    ("override_names_missing_source_code", _sub("name: other.lua", "name: absent.lua"),
     ["absent.lua"], "listeners[0].routes[0].filters"),
    ("unreadable_filename",
     _sub("          default_source_code: |\n            function envoy_on_request(request_handle)\n"
          "              request_handle:headers():add(\"x\", \"y\")\n            end\n",
          "          default_source_code:\n            filename: /nonexistent/pier-e2e.lua\n"),
     ["default_source_code:", "/nonexistent/pier-e2e.lua"], "listeners[0].filters[0].lua.default_source_code"),
    ("override_with_two_actions",
     _sub("            name: other.lua\n",
          "            name: other.lua  # two-of\n            disabled: true  # two-of\n"),
     ["# two-of", "          lua:"], "listeners[0].routes[0].filters"),
    ("inline_syntax_error",
     _sub("              request_handle:headers():add(\"x\", \"y\")\n", "              local = 1\n"),
     ["default_source_code: |", "local = 1"], "listeners[0].filters[0].lua.default_source_code"),
    ("load_time_runtime_error",
     _sub("            function envoy_on_request(request_handle)\n",
          "            error(\"lua-e2e-load-time-boom\")\n            function envoy_on_request(request_handle)\n"),
     ["default_source_code: |", "lua-e2e-load-time-boom"], "listeners[0].filters[0].lua.default_source_code"),
]


_CASES = {c[0]: c for c in LUA_CONFIG_ERRORS}


@pytest.mark.parametrize("case", LUA_CONFIG_ERRORS, ids=[c[0] for c in LUA_CONFIG_ERRORS])
def test_validate_rejects_lua_config_error_naming_file_and_line(tmp_path, case):
    _, mutate, markers, field = case
    text = mutate(VALID_LUA)
    r, errors = _validate(tmp_path, text)
    assert r.returncode == 1, f"accepted broken config:\n{text}\nstdout={r.stdout!r}"
    assert errors, f"no '<file>:<line>:<col>: <field>: <message>' line in stderr:\n{r.stderr}"
    allowed = _lines_with(text, markers)
    ok = [m for m in errors if m.group(3).startswith(field) and int(m.group(1)) in allowed]
    assert ok, f"no error for {field} on lines {sorted(allowed)}; got {[m.group(0) for m in errors]}"


def test_validate_inline_syntax_error_names_lua_line(tmp_path):
    text = _CASES["inline_syntax_error"][1](VALID_LUA)
    r, errors = _validate(tmp_path, text)
    assert r.returncode == 1
    msgs = [m.group(4) for m in errors if m.group(3) == "listeners[0].filters[0].lua.default_source_code"]
    assert any(re.search(r":2: ", msg) for msg in msgs), \
        f"the message does not name line 2 of the script: {msgs or r.stderr}"


def test_validate_load_time_error_names_its_message(tmp_path):
    text = _CASES["load_time_runtime_error"][1](VALID_LUA)
    r, _ = _validate(tmp_path, text)
    assert r.returncode == 1
    assert "lua-e2e-load-time-boom" in r.stderr, r.stderr


def test_validate_syntax_error_in_script_file_names_script_and_line(tmp_path):
    text = _sub("          default_source_code: |\n            function envoy_on_request(request_handle)\n"
                "              request_handle:headers():add(\"x\", \"y\")\n            end\n",
                f"          default_source_code:\n            filename: {SCRIPTS / 'syntax_error.lua'}\n")(VALID_LUA)
    r, errors = _validate(tmp_path, text)
    assert r.returncode == 1, r.stdout
    assert errors, r.stderr
    assert re.search(r"syntax_error\.lua:3: ", r.stderr), f"script name and line 3 not in:\n{r.stderr}"
    assert any(m.group(3) == "listeners[0].filters[0].lua.default_source_code" for m in errors), r.stderr


# ---- reload -----------------------------------------------------------------------------------------

def _version_script(version: str) -> str:
    return """
function envoy_on_request(request_handle)
  request_handle:headers():add("x-script-version", "%s")
end
""" % version


def test_reload_runs_the_new_script(res):
    env = serve(res, _version_script("v1"))
    assert values(upstream(env, "/v"), "x-script-version") == ["v1"]
    env.config["listeners"][0]["filters"] = [lua_filter(_version_script("v2"))]
    env.pier.write_config(env.config)
    env.pier.reload()
    eventually(lambda: values(upstream(env, "/v"), "x-script-version") == ["v2"], 5, message="v2 script")


def test_reload_with_lua_syntax_error_keeps_old_config(res):
    env = serve(res, _version_script("v1"))
    assert values(upstream(env, "/v"), "x-script-version") == ["v1"]
    env.config["listeners"][0]["filters"] = [lua_filter("function envoy_on_request(h)\n  local = 1\nend\n")]
    env.pier.write_config(env.config)
    log_start = len(env.pier.log_text())
    env.pier.reload()
    m = env.pier.wait_log(r"pier\.yaml:\d+:\d+: listeners\[0\]\.filters\[0\]\.lua\.default_source_code: ",
                          timeout=5, start=log_start)
    assert m, f"no error naming the script's field:\n{env.pier.log_tail()}"
    assert env.pier.alive()
    for i in range(3):
        assert values(upstream(env, f"/v/{i}"), "x-script-version") == ["v1"]


# ---- sandbox ----------------------------------------------------------------------------------------

SANDBOX_PROBE = """
function envoy_on_request(request_handle)
  local h = request_handle:headers()
  h:add("x-io", type(io))
  h:add("x-os-execute", type(os) == "table" and type(os.execute) or "no-os")
  h:add("x-os-exit", type(os) == "table" and type(os.exit) or "no-os")
  h:add("x-os-getenv", type(os) == "table" and type(os.getenv) or "no-os")
  h:add("x-require", type(require))
  h:add("x-package", type(package))
  h:add("x-loadfile", type(loadfile))
  h:add("x-dofile", type(dofile))
  h:add("x-ffi", type(ffi))
  h:add("x-string", type(string))
  h:add("x-table", type(table))
  h:add("x-math", type(math))
  local opened = pcall(function() return io.open("/etc/hostname", "r") end)
  h:add("x-io-open-ok", tostring(opened))
end
"""


def test_sandbox_withholds_io_os_and_loading(res):
    env = serve(res, SANDBOX_PROBE, sandbox=True)
    seen = upstream(env, "/sandbox")
    for name in ("x-io", "x-require", "x-package", "x-loadfile", "x-dofile", "x-ffi"):
        assert values(seen, name) == ["nil"], f"{name}: {values(seen, name)}"
    for name in ("x-os-execute", "x-os-exit", "x-os-getenv"):
        assert values(seen, name)[0] in ("nil", "no-os"), f"{name}: {values(seen, name)}"
    assert values(seen, "x-io-open-ok") == ["false"]
    for name in ("x-string", "x-table", "x-math"):
        assert values(seen, name) == ["table"], "the safe libraries stay"


def test_without_sandbox_io_and_require_are_available(res):
    env = serve(res, SANDBOX_PROBE, sandbox=False)
    seen = upstream(env, "/nosandbox")
    assert values(seen, "x-io") == ["table"]
    assert values(seen, "x-require") == ["function"]
    assert values(seen, "x-os-execute") == ["function"]
    assert values(seen, "x-io-open-ok") == ["true"]


def test_without_sandbox_luajit_extensions_work(res):
    env = serve(res, """
local ffi = require("ffi")
ffi.cdef("int getpid(void);")
function envoy_on_request(request_handle)
  local h = request_handle:headers()
  h:add("x-ffi-getpid", tostring(ffi.C.getpid() > 0))
  h:add("x-bit-band", tostring(bit.band(12, 10)))
  local proxy = setmetatable({}, {__pairs = function(t)
    return function(_, k) if k == nil then return "only", "value" end end, t, nil
  end})
  local seen = {}
  for k, v in pairs(proxy) do
    seen[#seen + 1] = k .. "=" .. v
  end
  h:add("x-custom-pairs", table.concat(seen, ","))
  local odd = {}
  for i = 1, 5 do
    if i % 2 == 0 then goto continue end
    odd[#odd + 1] = tostring(i)
    ::continue::
  end
  h:add("x-goto", table.concat(odd, ","))
end
""", sandbox=False)
    seen = upstream(env, "/luajit")
    assert values(seen, "x-ffi-getpid") == ["true"]
    assert values(seen, "x-bit-band") == ["8"]
    assert values(seen, "x-custom-pairs") == ["only=value"], "5.2-style __pairs is honoured"
    assert values(seen, "x-goto") == ["1,3,5"]


# ---- per-route overrides ---------------------------------------------------------------------------

@pytest.mark.parametrize("target,want", [
    ("/disabled/x", []),
    ("/named/x", ["named.lua"]),
    ("/inline/x", ["inline"]),
    ("/x", ["default"]),
], ids=["disabled", "name_from_file", "inline_source_code", "default"])
def test_per_route_override(res, target, want):
    env = serve(res, """
function envoy_on_request(request_handle)
  request_handle:headers():add("x-script", "default")
end
""", source_codes={"named.lua": {"filename": str(SCRIPTS / "named.lua")}}, routes=[
        route("/disabled", filters={"lua": lua_override(disabled=True)}),
        route("/named", filters={"lua": lua_override(name="named.lua")}),
        route("/inline", filters={"lua": lua_override(
            source_code="function envoy_on_request(h) h:headers():add('x-script', 'inline') end")}),
        route("/"),
    ])
    assert values(upstream(env, target), "x-script") == want


# A script that names itself in x-ran (several filters or routes: which ran).
RAN_TAG = """
function envoy_on_request(request_handle)
  request_handle:headers():add("x-ran", "%s")
end
"""


def test_per_route_override_is_keyed_by_entry_name(res):
    env = serve(res, None, filters=[lua_filter(RAN_TAG % "auth", name="auth"), lua_filter(RAN_TAG % "lua")], routes=[
        route("/no-auth", filters={"auth": lua_override(disabled=True)}),
        route("/"),
    ])
    assert tokens(values(upstream(env, "/x"), "x-ran")) == ["auth", "lua"]
    assert tokens(values(upstream(env, "/no-auth/x"), "x-ran")) == ["lua"]


def test_one_connection_across_routes_runs_each_routes_own_script(res):
    # A connection's next stream reuses the last one's filters where they
    # stand when its route runs the same ones, and takes others (or none)
    # when it does not: every request still gets exactly its route's script.
    env = serve(res, None, filters=[lua_filter(RAN_TAG % "auth", name="auth"), lua_filter(RAN_TAG % "lua")], routes=[
        route("/no-auth", filters={"auth": lua_override(disabled=True)}),
        route("/none", filters={"auth": lua_override(disabled=True), "lua": lua_override(disabled=True)}),
        route("/inline", filters={"lua": lua_override(
            source_code="function envoy_on_request(h) h:headers():add('x-ran', 'inline') end")}),
        route("/"),
    ], workers=1)
    visits = ["/x", "/x", "/no-auth/x", "/x", "/none/x", "/none/x", "/x", "/inline/x", "/inline/x", "/x"]
    want = {"/x": ["auth", "lua"], "/no-auth/x": ["lua"], "/none/x": [], "/inline/x": ["auth", "inline"]}
    with httpraw.Conn(env.port) as c:
        for i, target in enumerate(visits):
            r = c.request("GET", target)
            assert r.status == 200, f"request {i} ({target})"
            assert tokens(values(r.json(), "x-ran")) == want[target], f"request {i} ({target})"


# ---- buffer limits -----------------------------------------------------------------------------------

LIMITS = {"filter_buffer_bytes": 1024}

REQUEST_BODY_SCRIPT = """
function envoy_on_request(request_handle)
  request_handle:headers():add("x-body-length", tostring(request_handle:body():length()))
end
"""

RESPONSE_BODY_SCRIPT = """
function envoy_on_response(response_handle)
  response_handle:headers():add("x-body-length", tostring(response_handle:body():length()))
end
"""


def test_response_headers_held_for_a_large_body_survive_the_reads_that_follow(res):
    # The response head is read in place from the upstream's buffer; a hook
    # that waits for the body holds the headers while that buffer is read
    # into again and again. What the script then reads must be the head.
    env = serve(res, """
function envoy_on_response(response_handle)
  local length = response_handle:body():length()
  local h = response_handle:headers()
  h:add("x-body-length", tostring(length))
  h:add("x-seen-type", h:get("content-type") or "none")
  h:add("x-seen-status", h:get(":status"))
end
""")
    for size in (300_000, 1_000_000):
        r = httpraw.request(env.port, "GET", f"/size/{size}")
        assert r.status == 200, r
        assert len(r.body) == size
        assert r.header("x-body-length") == str(size)
        assert r.header("x-seen-type") == r.header("content-type") != "none"
        assert r.header("x-seen-status") == "200"


def test_request_headers_held_for_a_large_body_survive_the_reads_that_follow(res):
    # The request head is read in place from the connection's input buffer;
    # a hook that waits for the body holds the headers while that buffer is
    # read into again and again. What the script reads (and what the upstream
    # and the response hook get) must be the head that came.
    env = serve(res, """
function envoy_on_request(request_handle)
  local length = request_handle:body():length()
  local h = request_handle:headers()
  h:add("x-body-length", tostring(length))
  h:add("x-seen-path", h:get(":path"))
  h:add("x-seen-custom", h:get("x-custom") or "none")
end
function envoy_on_response(response_handle)
  response_handle:headers():add("x-response-saw-body", tostring(response_handle:body():length() > 0))
end
""")
    for size in (300_000, 1_000_000):
        r = httpraw.request(env.port, "POST", f"/upload/{size}", headers=[("X-Custom", f"custom-{size}")],
                            body=b"u" * size)
        assert r.status == 200, r
        seen = r.json()
        assert values(seen, "x-body-length") == [str(size)]
        assert values(seen, "x-seen-path") == [f"/upload/{size}"]
        assert values(seen, "x-seen-custom") == [f"custom-{size}"]
        assert seen["target"] == f"/upload/{size}"
        assert r.header("x-response-saw-body") == "true"


def test_request_body_over_filter_buffer_limit_is_413(res):
    env = serve(res, REQUEST_BODY_SCRIPT, limits=LIMITS)
    r = httpraw.request(env.port, "POST", "/big", body=b"a" * 4096)
    assert r.status == 413
    assert env.echo.request_count() == 0


def test_chunked_request_body_over_filter_buffer_limit_is_413(res):
    env = serve(res, REQUEST_BODY_SCRIPT, limits=LIMITS)
    r = httpraw.request(env.port, "POST", "/big", headers=[("Transfer-Encoding", "chunked")],
                        body=httpraw.chunked_body([b"a" * 1000] * 4))
    assert r.status == 413
    assert env.echo.request_count() == 0


def test_request_body_within_filter_buffer_limit_passes(res):
    env = serve(res, REQUEST_BODY_SCRIPT, limits=LIMITS)
    seen = upstream(env, "/small", "POST", body=b"a" * 1000)
    assert values(seen, "x-body-length") == ["1000"]


def test_response_body_over_filter_buffer_limit_is_500(res):
    env = serve(res, RESPONSE_BODY_SCRIPT, limits=LIMITS)
    r = httpraw.request(env.port, "GET", "/size/4096")
    assert r.status == 500


def test_response_body_within_filter_buffer_limit_passes(res):
    env = serve(res, RESPONSE_BODY_SCRIPT, limits=LIMITS)
    r = httpraw.request(env.port, "GET", "/size/1000")
    assert r.status == 200
    assert len(r.body) == 1000
    assert r.header("x-body-length") == "1000"


def test_body_chunks_are_not_held_against_the_buffer_limit(res):
    env = serve(res, """
function envoy_on_request(request_handle)
  local total = 0
  for chunk in request_handle:bodyChunks() do
    total = total + chunk:length()
  end
end
""", limits=LIMITS)
    seen = upstream(env, "/stream", "POST", body=b"a" * 8192)
    assert seen["body_length"] == 8192


# ---- several filters ---------------------------------------------------------------------------------

APPEND_SCRIPT = """
function envoy_on_request(request_handle)
  local h = request_handle:headers()
  local v = h:get("x-order")
  h:replace("x-order", v and (v .. ",TAG") or "TAG")
end
function envoy_on_response(response_handle)
  local h = response_handle:headers()
  local v = h:get("x-resp-order")
  h:replace("x-resp-order", v and (v .. ",TAG") or "TAG")
end
"""


def _two_filters(res):
    return serve(res, None, filters=[lua_filter(APPEND_SCRIPT.replace("TAG", "first"), name="first"),
                                     lua_filter(APPEND_SCRIPT.replace("TAG", "second"), name="second")])


def test_two_filters_see_the_request_first_to_last(res):
    env = _two_filters(res)
    seen = upstream(env, "/order")
    assert values(seen, "x-order") == ["first,second"]


def test_two_filters_see_the_response_last_to_first(res):
    env = _two_filters(res)
    r = httpraw.request(env.port, "GET", "/order")
    assert r.status == 200
    assert r.header_all("x-resp-order") == ["second,first"]


def test_errors_are_counted_per_filter_entry(res):
    broken = 'function envoy_on_request(h) error("lua-e2e-second-boom") end'
    env = serve(res, None, filters=[lua_filter(APPEND_SCRIPT.replace("TAG", "first"), name="first"),
                                    lua_filter(broken, name="second")])
    upstream(env, "/x")
    eventually(lambda: metric(env.pier, "pier_lua_errors_total", "second") == 1, 5, message="error of 'second'")
    assert metric(env.pier, "pier_lua_errors_total", "first") == 0


# ---- script state -------------------------------------------------------------------------------------

STATE_SCRIPT = """
loads = (loads or 0) + 1
counter = 0
function envoy_on_request(request_handle)
  counter = counter + 1
  request_handle:headers():add("x-counter", tostring(counter))
  request_handle:headers():add("x-loads", tostring(loads))
end
"""


def test_script_globals_persist_across_requests_on_a_worker(res):
    env = serve(res, STATE_SCRIPT, workers=1)
    counts = []
    with httpraw.Conn(env.port) as c:
        for i in range(5):
            r = c.request("GET", f"/state/{i}")
            assert r.status == 200
            counts.append(int(values(r.json(), "x-counter")[0]))
    assert all(b > a for a, b in zip(counts, counts[1:])), f"counter not increasing: {counts}"


def test_script_top_level_runs_once_per_worker_state(res):
    env = serve(res, STATE_SCRIPT, workers=1)
    with httpraw.Conn(env.port) as c:
        loads = [values(c.request("GET", f"/state/{i}").json(), "x-loads") for i in range(3)]
    assert loads == [["1"]] * 3


# ---- local replies pier makes go through the response filters ---------------------------------

SEEN_SCRIPT = """
function envoy_on_response(response_handle)
  local h = response_handle:headers()
  h:add("x-seen-status", h:get(":status"))
end
"""


def test_no_route_404_runs_envoy_on_response(res):
    env = serve(res, SEEN_SCRIPT, routes=[route("/app")])
    r = httpraw.request(env.port, "GET", "/elsewhere")
    assert r.status == 404
    assert r.header("x-seen-status") == "404"
    assert r.text() == "no route\n"


def test_direct_response_runs_envoy_on_response(res):
    made = {"match": {"prefix": "/made"}, "direct_response": {"status": 201, "body": "made here"}}
    env = serve(res, SEEN_SCRIPT, routes=[made, route("/")])
    r = httpraw.request(env.port, "GET", "/made")
    assert r.status == 201
    assert r.header("x-seen-status") == "201"
    assert r.text() == "made here"


def test_upstream_failure_reply_runs_envoy_on_response(res):
    dead = cluster("dead", [f"127.0.0.1:{httpraw.free_port()}"])
    env = serve(res, SEEN_SCRIPT, routes=[route("/dead", "dead"), route("/")], clusters=[dead])
    r = httpraw.request(env.port, "GET", "/dead")
    assert r.status in (502, 503), r
    assert r.header("x-seen-status") == str(r.status)


def test_envoy_on_response_rewrites_a_local_reply_body(res):
    code = """
function envoy_on_response(response_handle)
  if response_handle:headers():get(":status") == "404" then
    response_handle:body():setBytes('{"error": "not here"}')
    response_handle:headers():replace("content-type", "application/json")
  end
end
"""
    env = serve(res, code, routes=[route("/app")])
    r = httpraw.request(env.port, "GET", "/missing")
    assert r.status == 404
    assert r.header("content-type") == "application/json"
    assert r.json() == {"error": "not here"}
    assert r.header("content-length") == str(len('{"error": "not here"}'))
    # The connection stays usable after a filtered local reply.
    with httpraw.Conn(env.port) as c:
        for _ in range(2):
            assert c.request("GET", "/missing").status == 404


def test_respond_from_a_script_does_not_rerun_the_response_filters(res):
    code = """
function envoy_on_request(request_handle)
  request_handle:respond({[":status"] = "403"}, "denied")
end
function envoy_on_response(response_handle)
  response_handle:headers():add("x-seen-status", "should not run")
end
"""
    env = serve(res, code)
    r = httpraw.request(env.port, "GET", "/")
    assert r.status == 403
    assert not r.has_header("x-seen-status")
    assert r.text() == "denied"


# ---- back-pressure: a script waiting in httpCall() holds the body without a 413/500 ------------

AUTH_CALL_SCRIPT = """
function envoy_on_request(request_handle)
  local headers = request_handle:httpCall("side",
    {[":method"] = "GET", [":path"] = "/delay/300", [":authority"] = "side"}, "", 5000)
  request_handle:headers():add("x-side-status", headers[":status"])
end
"""

RESPONSE_CALL_SCRIPT = """
function envoy_on_response(response_handle)
  local headers = response_handle:httpCall("side",
    {[":method"] = "GET", [":path"] = "/delay/300", [":authority"] = "side"}, "", 5000)
  response_handle:headers():add("x-side-status", headers[":status"])
end
"""


def test_upload_larger_than_the_buffer_limit_waits_for_the_call_instead_of_413(res):
    import hashlib

    side = res.echo("side")
    env = serve(res, AUTH_CALL_SCRIPT, clusters=[cluster("side", [side])], limits={"filter_buffer_bytes": 64 * 1024})
    body = bytes(range(256)) * (4 * 1024 * 1024 // 256)  # 4 MiB: 64 times the limit
    r = httpraw.request(env.port, "POST", "/upload", body=body, timeout=20)
    assert r.status == 200, r
    seen = r.json()
    assert seen["body_length"] == len(body)
    assert seen["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert values(seen, "x-side-status") == ["200"]


def test_download_larger_than_the_buffer_limit_waits_for_the_call_instead_of_500(res):
    from echo_backend import pattern_bytes

    side = res.echo("side")
    env = serve(res, RESPONSE_CALL_SCRIPT, clusters=[cluster("side", [side])],
                limits={"filter_buffer_bytes": 64 * 1024})
    n = 4 * 1024 * 1024
    r = httpraw.request(env.port, "GET", f"/size/{n}", timeout=20)
    assert r.status == 200, r
    assert r.header("x-side-status") == "200"
    assert len(r.body) == n
    assert r.body == pattern_bytes(n)


def test_whole_body_script_still_gets_413_over_the_limit_after_a_call(res):
    code = """
function envoy_on_request(request_handle)
  request_handle:httpCall("side", {[":method"] = "GET", [":path"] = "/delay/50", [":authority"] = "side"}, "", 5000)
  request_handle:headers():add("x-body-length", tostring(request_handle:body():length()))
end
"""
    side = res.echo("side")
    env = serve(res, code, clusters=[cluster("side", [side])], limits={"filter_buffer_bytes": 64 * 1024})
    r = httpraw.request(env.port, "POST", "/upload", body=b"a" * (1024 * 1024), timeout=20)
    assert r.status == 413
    assert env.echo.request_count() == 0


# ---- Expect: 100-continue: the 100 goes out only when the body is wanted -------------------------

GATE_SCRIPT = """
function envoy_on_request(request_handle)
  local headers = request_handle:httpCall("side",
    {[":method"] = "GET", [":path"] = "/delay/100", [":authority"] = "side"}, "", 5000)
  if request_handle:headers():get("x-deny") then
    request_handle:respond({[":status"] = "403"}, "denied")
  end
end
"""


def expect_continue_request(port: int, deny: bool) -> bytes:
    head = ["POST /upload HTTP/1.1", "Host: localhost", "Content-Length: 5", "Expect: 100-continue"]
    if deny:
        head.append("X-Deny: 1")
    return ("\r\n".join(head) + "\r\n\r\n").encode()


def test_rejected_request_gets_its_answer_without_a_100_continue(res):
    side = res.echo("side")
    env = serve(res, GATE_SCRIPT, clusters=[cluster("side", [side])])
    with httpraw.Conn(env.port) as c:
        c.send(expect_continue_request(env.port, deny=True))
        first = c.read_response(stop_at_interim=True)
        assert first.status == 403, "a rejected upload must not be invited with 100 Continue"
        assert first.interim == []
    assert env.echo.request_count() == 0


def test_accepted_request_gets_100_continue_then_its_answer(res):
    side = res.echo("side")
    env = serve(res, GATE_SCRIPT, clusters=[cluster("side", [side])])
    with httpraw.Conn(env.port) as c:
        c.send(expect_continue_request(env.port, deny=False))
        interim = c.read_response(stop_at_interim=True)
        assert interim.status == 100
        c.send(b"hello")
        r = c.read_response()
        assert r.status == 200
        assert r.json()["body"] == "hello"


def test_script_reading_the_body_gets_100_continue_at_once(res):
    code = """
function envoy_on_request(request_handle)
  request_handle:headers():add("x-body", request_handle:body():getBytes(0, 5))
end
"""
    env = serve(res, code)
    with httpraw.Conn(env.port) as c:
        c.send(expect_continue_request(env.port, deny=False))
        assert c.read_response(stop_at_interim=True).status == 100
        c.send(b"hello")
        r = c.read_response()
        assert r.status == 200
        assert values(r.json(), "x-body") == ["hello"]


# ---- content-lengths a script leaves on a response -------------------------------------------------

def test_two_equal_content_lengths_from_a_script_are_sent_once(res):
    code = """
function envoy_on_response(response_handle)
  local h = response_handle:headers()
  h:add("content-length", h:get("content-length"))
end
"""
    env = serve(res, code)
    r = httpraw.request(env.port, "GET", "/size/100")
    assert r.status == 200
    assert r.header_all("content-length") == ["100"]
    assert len(r.body) == 100


def test_conflicting_content_lengths_from_a_script_are_a_502(res):
    code = """
function envoy_on_response(response_handle)
  response_handle:headers():add("content-length", "7")
end
"""
    env = serve(res, code)
    r = httpraw.request(env.port, "GET", "/size/100")
    assert r.status == 502
    assert r.text() == "conflicting content-length\n"


# ---- a head a script only adds to goes out as received, plus the additions --------------------------

ADD_ONLY_SCRIPT = """
function envoy_on_request(request_handle)
  request_handle:headers():add("X-Added", "req")
end
function envoy_on_response(response_handle)
  response_handle:headers():add("x-added", "resp")
end
"""


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_head_a_script_only_adds_to_keeps_its_framing_and_headers(res, chunked):
    from echo_backend import pattern_bytes
    env = serve(res, ADD_ONLY_SCRIPT)
    body = b"b" * 3000
    framing = [("Transfer-Encoding", "chunked")] if chunked else []
    with httpraw.Conn(env.port) as c:
        for _ in range(2):  # the connection's next stream too
            c.send(httpraw.build_request("POST", "/echo", [("X-Mixed-Case", "Kept"), *framing],
                                         httpraw.chunked_body([body[:1000], body[1000:]]) if chunked else body))
            r = c.read_response(method="POST")
            assert r.status == 200, r
            seen = r.json()
            assert values(seen, "x-added") == ["req"]
            assert values(seen, "x-mixed-case") == ["Kept"]
            assert values(seen, "host") == ["localhost"]
            assert seen["body_length"] == len(body) and seen["chunked"] == chunked
            assert r.header_all("x-added") == ["resp"]
            r = c.request("GET", "/size/5000?chunked=1" if chunked else "/size/5000")
            assert r.status == 200
            assert r.header_all("x-added") == ["resp"]
            assert r.header_all("content-length") == ([] if chunked else ["5000"])
            assert r.body == pattern_bytes(5000)


# ---- the response body skips the chain once no script wants it ------------------------------------

RESPONSE_HEADER_SCRIPT = """
function envoy_on_response(response_handle)
  response_handle:headers():add("x-seen", "1")
end
"""


@pytest.mark.parametrize("query", ["", "?chunked=1"])
def test_body_after_a_finished_response_hook_arrives_whole(res, query):
    from echo_backend import pattern_bytes
    env = serve(res, RESPONSE_HEADER_SCRIPT)
    with httpraw.Conn(env.port) as c:
        for _ in range(2):  # and the connection carries the next request
            r = c.request("GET", f"/size/3000000{query}")
            assert r.status == 200
            assert r.header("x-seen") == "1"
            assert r.body == pattern_bytes(3000000)


def test_a_content_length_a_script_changed_still_bounds_the_body(res):
    code = """
function envoy_on_response(response_handle)
  response_handle:headers():replace("content-length", "7")
end
"""
    env = serve(res, code)
    with httpraw.Conn(env.port) as c:
        c.send(httpraw.build_request("GET", "/size/100", None, None, "HTTP/1.1", "localhost"))
        raw = c.read_until_close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"content-length: 7" in head.lower()
    assert len(body) <= 7, "never more body than the content-length the client was told"


# ---- a connection's next request may reuse its filter: nothing carries over ------------------------

ROUTE_CODE = """
function envoy_on_request(h)
  h:headers():add("x-code", "default")
  h:headers():add("x-ctx", tostring(h:filterContext()["k"]))
end
"""
OTHER_CODE = """
function envoy_on_request(h)
  h:headers():add("x-code", "other")
end
"""


def test_alternating_routes_on_one_connection_run_each_routes_code_and_context(res):
    env = serve(res, ROUTE_CODE, source_codes={"other.lua": {"inline_string": OTHER_CODE}},
                routes=[route("/other", filters={"lua": lua_override(name="other.lua")}),
                        route("/ctx", filters={"lua": lua_override(source_code=ROUTE_CODE, filter_context={"k": "v"})}),
                        route("/off", filters={"lua": lua_override(disabled=True)}),
                        route("/")])
    expected = {"/": (["default"], ["nil"]), "/other": (["other"], []), "/ctx": (["default"], ["v"]),
                "/off": ([], [])}
    with httpraw.Conn(env.port) as c:
        for target in ["/", "/other", "/ctx", "/", "/off", "/", "/ctx", "/other", "/other", "/"]:
            seen = c.request("GET", target).json()
            code, ctx = expected[target]
            assert values(seen, "x-code") == code, target
            assert values(seen, "x-ctx") == ctx, target


def test_a_scripts_local_reply_does_not_carry_into_the_next_request(res):
    code = """
function envoy_on_request(h)
  if h:headers():get(":path") == "/deny" then
    h:respond({[":status"] = "403", ["x-denied"] = "1"}, "no")
  end
  h:headers():add("x-passed", "1")
end
"""
    env = serve(res, code)
    with httpraw.Conn(env.port) as c:
        for _ in range(3):
            r = c.request("GET", "/deny")
            assert r.status == 403 and r.header("x-denied") == "1" and r.body == b"no"
            r = c.request("GET", "/ok")
            assert r.status == 200 and r.header("x-denied") is None
            assert values(r.json(), "x-passed") == ["1"]


def test_a_busy_script_keeps_its_behaviour_on_the_fast_header_calls(res):
    # From its 100th hook run a state calls headers through the FFI (docs/filters.md).
    code = """
function envoy_on_request(h)
  local hs = h:headers()
  hs:add("x-n", hs:get("x-i"))
  hs:replace("x-i", "replaced")
  hs:remove("x-drop")
  if hs:get("x-i") ~= "replaced" then error("replace lost") end
end
function envoy_on_response(h)
  h:headers():add("x-resp", "1")
  local ok = pcall(function() h:headers():add("bad name", "v") end)
  h:headers():add("x-bad-name-rejected", tostring(not ok))
end
"""
    env = serve(res, code, workers=1)
    with httpraw.Conn(env.port) as c:
        for i in range(250):
            r = c.request("GET", "/", headers=[("x-i", str(i)), ("x-drop", "1")])
            assert r.status == 200
            assert r.header("x-resp") == "1"
            assert r.header("x-bad-name-rejected") == "true"
            seen = r.json()
            assert values(seen, "x-n") == [str(i)]
            assert values(seen, "x-i") == ["replaced"]
            assert values(seen, "x-drop") == []
