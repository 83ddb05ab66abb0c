"""Configs for bench/lua_bench.py: each proxy plain and with a Lua filter
that adds one request header and one response header.

Fairness rule: the Lua variant of a proxy is its plain config plus the Lua
lines and nothing else (the plain variants are exactly http_bench's ngxN,
hapN and pierN), so lua minus plain is the cost of running the script.
"""
import os

from . import configs

REQ_HEADER = "x-lua-req"
RESP_HEADER = "x-lua-resp"
HEADER_VALUE = "1"

# Debian's libnginx-mod-http-lua and its dependency libnginx-mod-http-ndk
# (paths from `dpkg -L`). Configs passed with -c do not read modules-enabled.
NDK_MODULE = "/usr/lib/nginx/modules/ndk_http_module.so"
LUA_MODULE = "/usr/lib/nginx/modules/ngx_http_lua_module.so"

# The backends echo on /__hdrs the forwarding headers a proxy added
# (configs.HDRS_BODY) and the Lua request header, so one request shows both
# that the plain variants add nothing and that the Lua ones add their header.
HDRS_BODY = configs.HDRS_BODY + " lua=[$http_x_lua_req]"

PIER_SCRIPT = f"""function envoy_on_request(request_handle)
  request_handle:headers():add("{REQ_HEADER}", "{HEADER_VALUE}")
end

function envoy_on_response(response_handle)
  response_handle:headers():add("{RESP_HEADER}", "{HEADER_VALUE}")
end
"""

# nginx: the request edit runs in the access phase (a Lua coroutine per
# request, like pier's envoy_on_request); the response edit in the header
# filter.
NGINX_LUA_LINES = (
    f'            access_by_lua_block {{ ngx.req.set_header("{REQ_HEADER}", "{HEADER_VALUE}") }}\n'
    f'            header_filter_by_lua_block '
    f'{{ ngx.header["{RESP_HEADER}"] = "{HEADER_VALUE}" }}\n')

HAPROXY_REQ_ACTION = "pier_bench_req"
HAPROXY_RES_ACTION = "pier_bench_res"
HAPROXY_SCRIPT = f"""core.register_action("{HAPROXY_REQ_ACTION}", {{ "http-req" }}, function(txn)
  txn.http:req_add_header("{REQ_HEADER}", "{HEADER_VALUE}")
end)

core.register_action("{HAPROXY_RES_ACTION}", {{ "http-res" }}, function(txn)
  txn.http:res_add_header("{RESP_HEADER}", "{HEADER_VALUE}")
end)
"""


def _replace_once(text, anchor, new):
    """text with its one occurrence of anchor replaced (ValueError if not exactly one)."""
    if text.count(anchor) != 1:
        raise ValueError(f"config anchor {anchor!r} found {text.count(anchor)} times, want 1")
    return text.replace(anchor, new)


def _insert(text, anchor, addition, before=True):
    """text with addition placed before (or after) the one occurrence of anchor."""
    return _replace_once(text, anchor, addition + anchor if before else anchor + addition)


def nginx_backend(prefix, port):
    """configs.nginx_backend with /__hdrs also echoing the Lua request header."""
    text = configs.nginx_backend(prefix, port)
    old = f'location = /__hdrs {{ return 200 "{configs.HDRS_BODY}"; }}'
    new = f'location = /__hdrs {{ return 200 "{HDRS_BODY}"; }}'
    return _replace_once(text, old, new)


def nginx_proxy(prefix, port, workers, backends, lua=False):
    text = configs.nginx_proxy(prefix, port, workers, backends)
    if not lua:
        return text
    # ndk first: the Lua module depends on it.
    text = f"load_module {NDK_MODULE};\nload_module {LUA_MODULE};\n" + text
    return _insert(text, '            proxy_set_header Connection "";\n', NGINX_LUA_LINES,
                   before=False)


def haproxy(port, threads, backends, lua_path=None):
    """configs.haproxy; with lua_path, also the two Lua actions of HAPROXY_SCRIPT.

    lua-load-per-thread gives each thread its own Lua state, as pier and
    nginx have one per worker; plain lua-load shares one state behind a
    global lock.
    """
    text = configs.haproxy(port, threads, backends)
    if lua_path is None:
        return text
    text = _insert(text, "global\n", f"    lua-load-per-thread {lua_path}\n", before=False)
    return _insert(text, "    default_backend be\n",
                   f"    http-request lua.{HAPROXY_REQ_ACTION}\n"
                   f"    http-response lua.{HAPROXY_RES_ACTION}\n")


def _yaml_block(text, indent):
    pad = " " * indent
    return "".join(pad + line + "\n" if line else "\n" for line in text.splitlines())


def pier(port, workers, backends, lua=False):
    text = configs.pier(port, workers, backends)
    if not lua:
        return text
    filters = ("    filters:\n"
               "      - lua:\n"
               "          default_source_code: |\n" + _yaml_block(PIER_SCRIPT, 12))
    return _insert(text, "    routes:\n", filters)


# ---- memory mode: many routes, each with its own script -------------------


def route_path(i):
    return f"/r/{i}"


def route_header(i):
    return f"x-route-{i}"


def route_script(i):
    """A one-line script distinct per route (so no two routes share a Lua state)."""
    return (f"function envoy_on_response(h) h:headers():add('{route_header(i)}', '1') end")


def pier_routes(port, backend, n_routes, scripts):
    """workers: 1, n_routes exact-path routes to one backend; with scripts,
    each route overrides the listener's Lua filter with its own inline code."""
    lines = [
        "admin: { enabled: false }",
        "workers: 1",
        "listeners:",
        "  - name: mem",
        f"    address: 127.0.0.1:{port}",
        "    protocol: http",
        '    forwarding: { x_forwarded_for: false, x_forwarded_proto: false, '
        'request_id_header: "" }',
    ]
    if scripts:
        # Every route overrides it; it exists because routes override an entry by name.
        lines += ["    filters:",
                  "      - lua:",
                  '          default_source_code: "-- unused: every route has its own code"']
    lines.append("    routes:")
    for i in range(n_routes):
        lines.append(f"      - match: {{ exact: {route_path(i)} }}")
        lines.append("        cluster: be")
        if scripts:
            lines.append(f'        filters: {{ lua: {{ source_code: {{ inline_string: '
                         f'"{route_script(i)}" }} }} }}')
    lines += ["clusters:",
              "  - name: be",
              f"    endpoints: [127.0.0.1:{backend}]",
              ""]
    return "\n".join(lines)


def rss_kib(pid):
    """VmRSS of a process in KiB (all its threads share it), or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def write_haproxy_script(directory):
    path = os.path.join(directory, "pier-bench.lua")
    with open(path, "w") as f:
        f.write(HAPROXY_SCRIPT)
    return path
