"""Route selection and route actions: matches, virtual hosts, redirects, direct
responses, rewrites, header manipulation, weighted clusters, per-route timeouts."""

from __future__ import annotations

import time
import urllib.parse

import pytest

import httpraw
from cfg import cluster, config, listener


def direct(body: str, status: int = 200, **extra) -> dict:
    return {"direct_response": {"status": status, "body": body}, **extra}


def route(match: dict, **action) -> dict:
    return {"match": match, **action}


@pytest.fixture(scope="module")
def env(mres):
    echo = mres.echo("echo")
    wa = mres.echo("wa")
    wb = mres.echo("wb")
    port = httpraw.free_port()
    main_routes = [
        route({"exact": "/exact"}, **direct("exact")),
        route({"prefix": "/pre/"}, **direct("prefix")),
        route({"regex": "^/re/[0-9]+$"}, **direct("regex")),
        route({"prefix": "/case", "case_sensitive": False}, **direct("case-insensitive")),
        route({"prefix": "/methods", "methods": ["POST", "PUT"]}, **direct("methods")),
        route({"prefix": "/methods"}, **direct("methods-fallback")),
        route({"prefix": "/hdr", "headers": [{"name": "x-exact", "exact": "yes"}]}, **direct("hdr-exact")),
        route({"prefix": "/hdr", "headers": [{"name": "x-prefix", "prefix": "ab"}]}, **direct("hdr-prefix")),
        route({"prefix": "/hdr", "headers": [{"name": "x-suffix", "suffix": "yz"}]}, **direct("hdr-suffix")),
        route({"prefix": "/hdr", "headers": [{"name": "x-regex", "regex": "^[0-9]{3}$"}]}, **direct("hdr-regex")),
        route({"prefix": "/hdr", "headers": [{"name": "x-present", "present": True}]}, **direct("hdr-present")),
        route({"prefix": "/hdr"}, **direct("hdr-none")),
        route({"prefix": "/inv", "headers": [{"name": "x-block", "exact": "1", "invert": True}]},
              **direct("inv-allowed")),
        route({"prefix": "/inv"}, **direct("inv-fallback")),
        route({"prefix": "/qp", "query_params": [{"name": "debug", "exact": "1"}]}, **direct("qp-exact")),
        route({"prefix": "/qp", "query_params": [{"name": "flag", "present": True}]}, **direct("qp-present")),
        route({"prefix": "/qp"}, **direct("qp-none")),
        route({"prefix": "/both", "headers": [{"name": "x-a", "exact": "1"}],
               "query_params": [{"name": "b", "exact": "2"}]}, **direct("both")),
        route({"prefix": "/direct/teapot"},
              direct_response={"status": 418, "body": "short and stout", "content_type": "text/x-teapot"}),
        route({"prefix": "/direct/created"}, direct_response={"status": 201, "body": "made"}),
        route({"prefix": "/redir/full"}, redirect={"scheme": "https", "host": "example.org", "port": 8443,
                                                  "path": "/new", "status": 308}),
        route({"prefix": "/redir/prefix/"}, redirect={"prefix_rewrite": "/moved/"}),
        route({"prefix": "/redir/strip"}, redirect={"path": "/stripped", "strip_query": True, "status": 302}),
        route({"prefix": "/redir/host"}, redirect={"host": "other.test", "status": 307}),
        route({"prefix": "/rewrite/"}, cluster="echo", prefix_rewrite="/v2/"),
        route({"prefix": "/hostrw"}, cluster="echo", host_rewrite="backend.internal"),
        route({"prefix": "/headers"}, cluster="echo",
              request_headers_to_add=[{"name": "x-added", "value": "one"},
                                      {"name": "x-replaced", "value": "new", "append": False},
                                      {"name": "x-appended", "value": "second", "append": True}],
              request_headers_to_remove=["x-remove-me"],
              response_headers_to_add=[{"name": "x-resp-added", "value": "r1"},
                                       {"name": "x-backend", "value": "overridden", "append": False}],
              response_headers_to_remove=["x-secret"]),
        route({"prefix": "/delay/"}, cluster="echo", timeout="300ms"),
        route({"prefix": "/slowok/"}, cluster="echo", timeout="5s", prefix_rewrite="/delay/"),
        route({"prefix": "/weighted"}, weighted_clusters=[{"cluster": "wa", "weight": 3},
                                                         {"cluster": "wb", "weight": 1}]),
        route({"prefix": "/app"}, cluster="echo"),
    ]
    vhosts = [
        {"name": "exact", "domains": ["exact.test"], "routes": [route({"prefix": "/"}, **direct("vhost-exact"))]},
        {"name": "multi", "domains": ["one.test", "two.test"],
         "routes": [route({"prefix": "/"}, **direct("vhost-multi"))]},
        {"name": "suffix", "domains": ["*.wild.test"], "routes": [route({"prefix": "/"}, **direct("vhost-suffix"))]},
        {"name": "longer-suffix", "domains": ["*.a.wild.test"],
         "routes": [route({"prefix": "/"}, **direct("vhost-longer-suffix"))]},
        {"name": "prefix", "domains": ["api.*"], "routes": [route({"prefix": "/"}, **direct("vhost-prefix"))]},
        {"name": "narrow", "domains": ["narrow.test"], "routes": [route({"exact": "/only"}, **direct("narrow"))]},
        {"name": "default", "domains": ["*"], "routes": main_routes},
    ]
    cfg = config([listener("r", port, virtual_hosts=vhosts)],
                 [cluster("echo", [echo]), cluster("wa", [wa]), cluster("wb", [wb])])
    pier = mres.pier(cfg)
    return {"port": port, "pier": pier, "echo": echo, "wa": wa, "wb": wb}


def get(env, target, method="GET", headers=None, host="localhost", body=None) -> httpraw.Response:
    return httpraw.request(env["port"], method, target, headers=headers, host=host, body=body)


def body_of(env, target, **kw) -> str:
    r = get(env, target, **kw)
    return r.text() if r.status == 200 else f"<{r.status}>"


# ---- path matching ---------------------------------------------------------------------

def test_exact_path_matches_only_exactly(env):
    assert body_of(env, "/exact") == "exact"
    assert body_of(env, "/exact?x=1") == "exact"  # the query is not part of the path
    assert get(env, "/exact/more").status == 404
    assert get(env, "/exac").status == 404


def test_prefix_path_matches(env):
    assert body_of(env, "/pre/") == "prefix"
    assert body_of(env, "/pre/a/b") == "prefix"
    assert get(env, "/pre").status == 404


def test_regex_path_must_match_whole_path(env):
    assert body_of(env, "/re/123") == "regex"
    assert get(env, "/re/12a").status == 404
    assert get(env, "/re/").status == 404


def test_case_sensitive_by_default(env):
    assert get(env, "/PRE/x").status == 404
    assert get(env, "/Exact").status == 404


def test_case_insensitive_prefix(env):
    assert body_of(env, "/CASE/x") == "case-insensitive"
    assert body_of(env, "/cAsE") == "case-insensitive"


def test_no_route_is_404(env):
    r = get(env, "/nothing/here")
    assert r.status == 404


def test_method_match(env):
    assert get(env, "/methods", "POST", body="").text() == "methods"
    assert get(env, "/methods", "PUT", body="x").text() == "methods"
    assert get(env, "/methods", "GET").text() == "methods-fallback"
    assert get(env, "/methods", "DELETE").text() == "methods-fallback"


# ---- header and query matching ----------------------------------------------------------

@pytest.mark.parametrize("headers,want", [
    ([("X-Exact", "yes")], "hdr-exact"),
    ([("X-Exact", "yess")], "hdr-none"),
    ([("X-Prefix", "abcdef")], "hdr-prefix"),
    ([("X-Prefix", "xab")], "hdr-none"),
    ([("X-Suffix", "wxyz")], "hdr-suffix"),
    ([("X-Suffix", "yzw")], "hdr-none"),
    ([("X-Regex", "123")], "hdr-regex"),
    ([("X-Regex", "1234")], "hdr-none"),
    ([("X-Present", "")], "hdr-present"),
    ([("X-Present", "anything")], "hdr-present"),
    ([], "hdr-none"),
])
def test_header_matchers(env, headers, want):
    assert body_of(env, "/hdr", headers=headers) == want


def test_inverted_header_match(env):
    assert body_of(env, "/inv") == "inv-allowed"  # absent header does not equal "1"
    assert body_of(env, "/inv", headers=[("X-Block", "0")]) == "inv-allowed"
    assert body_of(env, "/inv", headers=[("X-Block", "1")]) == "inv-fallback"


@pytest.mark.parametrize("target,want", [
    ("/qp?debug=1", "qp-exact"),
    ("/qp?a=b&debug=1", "qp-exact"),
    ("/qp?debug=2", "qp-none"),
    ("/qp?flag", "qp-present"),
    ("/qp?flag=", "qp-present"),
    ("/qp?flags=1", "qp-none"),
    ("/qp", "qp-none"),
])
def test_query_param_matchers(env, target, want):
    assert body_of(env, target) == want


def test_header_and_query_must_both_match(env):
    assert body_of(env, "/both?b=2", headers=[("X-A", "1")]) == "both"
    assert get(env, "/both?b=2").status == 404
    assert get(env, "/both", headers=[("X-A", "1")]).status == 404


# ---- virtual hosts ------------------------------------------------------------------------

@pytest.mark.parametrize("host,want", [
    ("exact.test", "vhost-exact"),
    ("exact.test:8080", "vhost-exact"),
    ("EXACT.test", "vhost-exact"),
    ("one.test", "vhost-multi"),
    ("two.test", "vhost-multi"),
    ("b.wild.test", "vhost-suffix"),
    ("x.y.wild.test", "vhost-suffix"),
    ("x.a.wild.test", "vhost-longer-suffix"),
    ("api.wild.test", "vhost-suffix"),  # suffix wildcards win over prefix wildcards
    ("api.example.com", "vhost-prefix"),
    ("api.example.com:81", "vhost-prefix"),
    ("wild.test", "<404>"),  # "*.wild.test" needs a label before the suffix; falls to "*" with no route
])
def test_virtual_host_selection(env, host, want):
    assert body_of(env, "/", host=host) == want


def test_default_virtual_host_serves_unknown_hosts(env):
    assert body_of(env, "/exact", host="unknown.test") == "exact"


def test_vhost_without_matching_route_is_404_not_fallthrough(env):
    assert body_of(env, "/only", host="narrow.test") == "narrow"
    assert get(env, "/exact", host="narrow.test").status == 404


# ---- direct responses -----------------------------------------------------------------------

def test_direct_response_status_body_content_type(env):
    r = get(env, "/direct/teapot")
    assert r.status == 418
    assert r.body == b"short and stout"
    assert r.header("content-type") == "text/x-teapot"
    assert r.header("content-length") == str(len(b"short and stout"))


def test_direct_response_default_content_type(env):
    r = get(env, "/direct/created")
    assert r.status == 201
    assert r.body == b"made"
    assert r.header("content-type").startswith("text/plain")


def test_direct_response_to_head_has_no_body(env):
    with httpraw.Conn(env["port"]) as c:
        r = c.request("HEAD", "/direct/teapot")
        assert r.status == 418
        assert r.body == b""
        # The connection must still be in sync: no body bytes were sent after the head.
        r2 = c.request("GET", "/exact")
        assert r2.status == 200 and r2.body == b"exact"


# ---- redirects ---------------------------------------------------------------------------------

def test_redirect_all_parts(env):
    r = get(env, "/redir/full/x?q=1")
    assert r.status == 308
    assert r.header("location") == "https://example.org:8443/new?q=1"


def test_redirect_prefix_rewrite_keeps_host_and_rest(env):
    r = get(env, "/redir/prefix/a/b?z=9", host="shop.test")
    assert r.status == 301  # default
    loc = urllib.parse.urlsplit(r.header("location"))
    assert (loc.scheme, loc.hostname, loc.path, loc.query) == ("http", "shop.test", "/moved/a/b", "z=9")


def test_redirect_strip_query(env):
    r = get(env, "/redir/strip?secret=1", host="shop.test")
    assert r.status == 302
    loc = urllib.parse.urlsplit(r.header("location"))
    assert (loc.hostname, loc.path, loc.query) == ("shop.test", "/stripped", "")
    assert "secret" not in r.header("location")


def test_redirect_host_only_keeps_path_and_query(env):
    r = get(env, "/redir/host/p?x=1", host="shop.test")
    assert r.status == 307
    assert r.header("location") == "http://other.test/redir/host/p?x=1"


# ---- rewrites and header manipulation ----------------------------------------------------------

def test_prefix_rewrite_changes_upstream_path_only(env):
    r = get(env, "/rewrite/rest/of?q=1")
    assert r.status == 200
    seen = r.json()
    assert seen["target"] == "/v2/rest/of?q=1"


def test_host_rewrite(env):
    r = get(env, "/hostrw/x", host="public.test")
    seen = r.json()
    hosts = [v for n, v in seen["headers"] if n.lower() == "host"]
    assert hosts == ["backend.internal"]


def test_host_passed_through_without_rewrite(env):
    seen = get(env, "/app/x", host="public.test:8080").json()
    assert [v for n, v in seen["headers"] if n.lower() == "host"] == ["public.test:8080"]


def _values(seen: dict, name: str) -> list[str]:
    return [v for n, v in seen["headers"] if n.lower() == name]


def test_request_headers_added_replaced_appended_removed(env):
    r = get(env, "/headers", headers=[("X-Replaced", "old"), ("X-Appended", "first"), ("X-Remove-Me", "1"),
                                       ("X-Keep", "k")])
    seen = r.json()
    assert _values(seen, "x-added") == ["one"]
    assert _values(seen, "x-replaced") == ["new"]
    appended = _values(seen, "x-appended")
    assert appended in (["first", "second"], ["first, second"]), appended
    assert _values(seen, "x-remove-me") == []
    assert _values(seen, "x-keep") == ["k"]


def test_response_headers_added_replaced_removed(env):
    r = get(env, "/headers?X-Secret=hunter2&X-Other=kept")
    assert r.status == 200
    assert r.header("x-resp-added") == "r1"
    assert r.header_all("x-backend") == ["overridden"]
    assert r.header("x-secret") is None
    assert r.header("x-other") == "kept"


# ---- per-route timeout -------------------------------------------------------------------------

def test_route_timeout_gives_504(env):
    start = time.monotonic()
    r = get(env, "/delay/3000")
    elapsed = time.monotonic() - start
    assert r.status == 504
    assert elapsed < 2.0, f"took {elapsed:.2f}s; route timeout is 300ms"


def test_route_timeout_longer_than_response_is_fine(env):
    r = get(env, "/slowok/400")
    assert r.status == 200
    assert r.json()["target"] == "/delay/400"


# ---- weighted clusters -------------------------------------------------------------------------

def test_weighted_clusters_split_roughly_by_weight(env):
    n = 400
    counts = {"wa": 0, "wb": 0}
    with httpraw.Conn(env["port"]) as c:
        for i in range(n):
            r = c.request("GET", f"/weighted/{i}")
            assert r.status == 200
            counts[r.json()["backend"]] += 1
    share = counts["wa"] / n
    assert 0.65 <= share <= 0.85, f"weights 3:1 gave {counts}"


# ---- locally answered requests with bodies ------------------------------------------------------

@pytest.mark.parametrize("target,status", [("/direct/teapot", 418), ("/nothing", 404), ("/redir/full", 308)])
def test_body_of_locally_answered_request_is_consumed(env, target, status):
    smuggled = httpraw.build_request("GET", "/app/smuggled-in-body")
    with httpraw.Conn(env["port"]) as c:
        r = c.request("POST", target, body=smuggled)
        assert r.status == status
        try:
            r2 = c.request("GET", "/app/next", timeout=3)
        except ConnectionError:
            r2 = None  # closing instead of reading the body is also safe
        if r2 is not None:
            assert r2.status == 200 and r2.json()["target"] == "/app/next"
    assert "/app/smuggled-in-body" not in env["echo"].targets()


def test_chunked_body_of_locally_answered_request_is_consumed(env):
    smuggled = httpraw.build_request("GET", "/app/smuggled-in-chunk")
    with httpraw.Conn(env["port"]) as c:
        c.send(httpraw.build_request("POST", "/direct/teapot", headers=[("Transfer-Encoding", "chunked")],
                                     body=httpraw.chunked_body([smuggled])))
        assert c.read_response().status == 418
        try:
            r2 = c.request("GET", "/app/next-chunk", timeout=3)
        except ConnectionError:
            r2 = None
        if r2 is not None:
            assert r2.json()["target"] == "/app/next-chunk"
    assert "/app/smuggled-in-chunk" not in env["echo"].targets()
