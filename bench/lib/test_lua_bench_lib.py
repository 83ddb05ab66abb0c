"""Unit tests for the Lua bench helpers (lua_configs, lua_report, lua_bench's checks).

python3 -m unittest discover -s bench/lib -t bench
"""
import contextlib
import io
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import lua_bench  # noqa: E402
from lib import configs, lua_configs, lua_report  # noqa: E402

try:
    import yaml
except ImportError:  # pragma: no cover - python3-yaml is in install-deps.sh
    yaml = None


class PlainVariantTest(unittest.TestCase):
    """The plain targets are exactly http_bench's, so lua − plain is the filter alone."""

    def test_nginx_plain_is_the_http_bench_proxy(self):
        self.assertEqual(lua_configs.nginx_proxy("/tmp/x", 1, 2, [3, 4]),
                         configs.nginx_proxy("/tmp/x", 1, 2, [3, 4]))

    def test_haproxy_plain_is_the_http_bench_proxy(self):
        self.assertEqual(lua_configs.haproxy(1, 2, [3, 4]), configs.haproxy(1, 2, [3, 4]))

    def test_pier_plain_is_the_http_bench_proxy(self):
        self.assertEqual(lua_configs.pier(1, 2, [3, 4]), configs.pier(1, 2, [3, 4]))


def _removed(longer, shorter):
    """The lines of longer that shorter lacks (shorter must be longer minus lines)."""
    rest = list(shorter.splitlines())
    extra = []
    for line in longer.splitlines():
        if rest and line == rest[0]:
            rest.pop(0)
        else:
            extra.append(line)
    assert not rest, f"not a superset: {rest[:3]}"
    return extra


class NginxLuaTest(unittest.TestCase):
    def setUp(self):
        self.plain = lua_configs.nginx_proxy("/tmp/x", 1, 1, [2, 3])
        self.lua = lua_configs.nginx_proxy("/tmp/x", 1, 1, [2, 3], lua=True)

    def test_loads_ndk_before_the_lua_module(self):
        lines = self.lua.splitlines()
        self.assertEqual(lines[0], f"load_module {lua_configs.NDK_MODULE};")
        self.assertEqual(lines[1], f"load_module {lua_configs.LUA_MODULE};")

    def test_adds_only_the_modules_and_the_two_lua_directives(self):
        extra = [x.strip() for x in _removed(self.lua, self.plain)]
        self.assertEqual(len(extra), 4)
        self.assertTrue(extra[2].startswith("access_by_lua_block"))
        self.assertIn(f'ngx.req.set_header("{lua_configs.REQ_HEADER}"', extra[2])
        self.assertTrue(extra[3].startswith("header_filter_by_lua_block"))
        self.assertIn(f'ngx.header["{lua_configs.RESP_HEADER}"]', extra[3])

    def test_lua_runs_in_the_proxied_location(self):
        loc = self.lua[self.lua.index("location / {"):]
        self.assertLess(loc.index("proxy_pass"), loc.index("access_by_lua_block"))
        # The location's own closing brace, not the Lua blocks' ones.
        self.assertLess(loc.index("header_filter_by_lua_block"), loc.index("\n        }"))


class HaproxyLuaTest(unittest.TestCase):
    def setUp(self):
        self.plain = lua_configs.haproxy(1, 2, [3, 4])
        self.lua = lua_configs.haproxy(1, 2, [3, 4], lua_path="/t/s.lua")

    def test_adds_the_script_and_both_actions_only(self):
        extra = [x.strip() for x in _removed(self.lua, self.plain)]
        self.assertEqual(extra, ["lua-load-per-thread /t/s.lua",
                                 f"http-request lua.{lua_configs.HAPROXY_REQ_ACTION}",
                                 f"http-response lua.{lua_configs.HAPROXY_RES_ACTION}"])

    def test_script_load_is_global_and_actions_in_the_frontend(self):
        fe = self.lua.index("frontend fe")
        self.assertLess(self.lua.index("lua-load-per-thread"), self.lua.index("defaults"))
        self.assertGreater(self.lua.index("http-request lua."), fe)
        self.assertLess(self.lua.index("http-response lua."), self.lua.index("backend be"))

    def test_script_registers_the_actions_the_config_uses(self):
        s = lua_configs.HAPROXY_SCRIPT
        self.assertIn(f'core.register_action("{lua_configs.HAPROXY_REQ_ACTION}", {{ "http-req" }}',
                      s)
        self.assertIn(f'core.register_action("{lua_configs.HAPROXY_RES_ACTION}", {{ "http-res" }}',
                      s)
        self.assertIn(f'req_add_header("{lua_configs.REQ_HEADER}"', s)
        self.assertIn(f'res_add_header("{lua_configs.RESP_HEADER}"', s)

    def test_script_file_is_written(self):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            path = lua_configs.write_haproxy_script(d)
            with open(path) as f:
                self.assertEqual(f.read(), lua_configs.HAPROXY_SCRIPT)


@unittest.skipIf(yaml is None, "python3-yaml missing")
class PierLuaTest(unittest.TestCase):
    def test_listener_has_one_lua_filter_with_both_hooks(self):
        doc = yaml.safe_load(lua_configs.pier(1, 1, [2, 3], lua=True))
        filters = doc["listeners"][0]["filters"]
        self.assertEqual(len(filters), 1)
        self.assertEqual(filters[0]["lua"]["default_source_code"], lua_configs.PIER_SCRIPT)

    def test_script_adds_the_request_and_response_headers(self):
        s = lua_configs.PIER_SCRIPT
        self.assertIn(f'request_handle:headers():add("{lua_configs.REQ_HEADER}"', s)
        self.assertIn(f'response_handle:headers():add("{lua_configs.RESP_HEADER}"', s)

    def test_lua_variant_differs_from_plain_only_by_filters(self):
        plain = yaml.safe_load(lua_configs.pier(1, 1, [2, 3]))
        lua = yaml.safe_load(lua_configs.pier(1, 1, [2, 3], lua=True))
        del lua["listeners"][0]["filters"]
        self.assertEqual(lua, plain)


@unittest.skipIf(yaml is None, "python3-yaml missing")
class PierRoutesTest(unittest.TestCase):
    def test_one_worker_and_one_exact_route_per_count(self):
        doc = yaml.safe_load(lua_configs.pier_routes(1, 2, 5, scripts=False))
        self.assertEqual(doc["workers"], 1)
        routes = doc["listeners"][0]["routes"]
        self.assertEqual([r["match"]["exact"] for r in routes],
                         [lua_configs.route_path(i) for i in range(5)])

    def test_without_scripts_there_are_no_filters(self):
        doc = yaml.safe_load(lua_configs.pier_routes(1, 2, 3, scripts=False))
        self.assertNotIn("filters", doc["listeners"][0])
        self.assertTrue(all("filters" not in r for r in doc["listeners"][0]["routes"]))

    def test_each_route_has_its_own_inline_code(self):
        doc = yaml.safe_load(lua_configs.pier_routes(1, 2, 4, scripts=True))
        codes = [r["filters"]["lua"]["source_code"]["inline_string"]
                 for r in doc["listeners"][0]["routes"]]
        self.assertEqual(len(set(codes)), 4)
        self.assertIn(lua_configs.route_header(3), codes[3])

    def test_routes_override_an_existing_listener_entry(self):
        doc = yaml.safe_load(lua_configs.pier_routes(1, 2, 1, scripts=True))
        self.assertIn("lua", doc["listeners"][0]["filters"][0])


class BackendTest(unittest.TestCase):
    def test_hdrs_echoes_forwarding_and_lua_request_headers(self):
        text = lua_configs.nginx_backend("/tmp/x", 1)
        self.assertIn(f'location = /__hdrs {{ return 200 "{lua_configs.HDRS_BODY}"; }}', text)
        self.assertIn("lua=[$http_x_lua_req]", lua_configs.HDRS_BODY)
        self.assertEqual(text.count("location = /__hdrs"), 1)

    def test_missing_anchor_is_an_error(self):
        with self.assertRaises(ValueError):
            lua_configs._insert("abc", "x", "y")


def cell(target, rnd, cpu, rps=1000.0):
    return {"target": target, "round": rnd, "ok": True, "cpu100k": cpu, "rps": rps,
            "load": "ka64"}


class OverheadTest(unittest.TestCase):
    def test_overhead_pairs_rounds(self):
        cells = [cell("nginx", 0, 2.0), cell("nginx+lua", 0, 2.5),
                 cell("nginx", 1, 3.0), cell("nginx+lua", 1, 3.1),
                 cell("nginx", 2, 2.0)]  # round 2 has no lua cell: unpaired
        self.assertEqual(lua_report.paired_overheads(cells, "nginx"),
                         {0: 0.5, 1: 3.1 - 3.0})

    def test_failed_cells_do_not_pair(self):
        cells = [cell("nginx", 0, 2.0), dict(cell("nginx+lua", 0, 9.0), ok=False)]
        self.assertIsNone(lua_report.overhead_summary(cells, "nginx"))

    def test_summary_is_the_median_of_paired_differences(self):
        # Per-round differences 0.1, 0.3, 0.8: median 0.3, not median(lua) − median(plain).
        cells = [cell("pier", 0, 1.0), cell("pier+lua", 0, 1.1),
                 cell("pier", 1, 3.0), cell("pier+lua", 1, 3.3),
                 cell("pier", 2, 2.0), cell("pier+lua", 2, 2.8)]
        s = lua_report.overhead_summary(cells, "pier")
        self.assertAlmostEqual(s["over"], 0.3)
        self.assertAlmostEqual(s["over_us"], 3.0)
        self.assertAlmostEqual(s["over_pct"], 15.0)
        self.assertEqual((s["positive"], s["n"]), (3, 3))
        self.assertAlmostEqual(s["lo"], 0.1)
        self.assertAlmostEqual(s["hi"], 0.8)

    def test_rps_ratio_is_a_paired_geometric_mean(self):
        cells = [cell("pier", 0, 1.0, rps=100.0), cell("pier+lua", 0, 1.1, rps=50.0),
                 cell("pier", 1, 1.0, rps=100.0), cell("pier+lua", 1, 1.1, rps=200.0)]
        self.assertAlmostEqual(lua_report.overhead_summary(cells, "pier")["rps_ratio"], 1.0)

    def test_ratio_needs_a_positive_denominator(self):
        self.assertAlmostEqual(lua_report.overhead_ratio(0.1, 0.4), 0.25)
        self.assertIsNone(lua_report.overhead_ratio(0.1, 0.0))
        self.assertIsNone(lua_report.overhead_ratio(0.1, -0.2))
        self.assertIsNone(lua_report.overhead_ratio(None, 0.2))


def summary(server, over):
    return {"server": server, "over": over}


class VerdictTest(unittest.TestCase):
    def test_met_at_half_of_nginx(self):
        v = lua_report.goal_verdict(summary("pier", 0.15), summary("nginx", 0.3))
        self.assertIn("**MET** (ratio 0.50)", v)

    def test_not_met_above_half(self):
        v = lua_report.goal_verdict(summary("pier", 0.2), summary("nginx", 0.3))
        self.assertIn("**NOT MET** (ratio 0.67)", v)

    def test_not_evaluated_when_nginx_overhead_is_noise(self):
        v = lua_report.goal_verdict(summary("pier", 0.2), summary("nginx", -0.01))
        self.assertIn("NOT EVALUATED", v)

    def test_not_evaluated_without_pier(self):
        self.assertIn("NOT EVALUATED", lua_report.goal_verdict(None, summary("nginx", 0.3)))

    def test_ratio_lines_name_both_peers(self):
        lines = lua_report.ratio_lines([summary("pier", 0.1), summary("nginx", 0.4),
                                        summary("haproxy", 0.5)])
        self.assertIn("pier overhead ÷ nginx overhead: **0.25**", lines[0])
        self.assertIn("pier overhead ÷ haproxy overhead: **0.20**", lines[1])
        self.assertIn("**MET**", lines[2])


class MemoryTest(unittest.TestCase):
    def test_delta_and_per_route_cost(self):
        row = lua_report.mem_row(100, plain_after=10_000, lua_before=10_100, lua_after=15_000)
        self.assertEqual(row["delta_kib"], 5_000)
        self.assertAlmostEqual(row["per_route_kib"], 50.0)

    def test_missing_side_gives_no_delta(self):
        row = lua_report.mem_row(10, plain_after=None, lua_before=1, lua_after=2)
        self.assertIsNone(row["delta_kib"])
        self.assertIn("| 10 | - | 1 | 2 | - | - |", lua_report.mem_table([row]))

    def test_rss_of_this_process_is_positive(self):
        self.assertGreater(lua_configs.rss_kib(os.getpid()), 0)

    def test_rss_of_a_missing_process_is_none(self):
        self.assertIsNone(lua_configs.rss_kib(2 ** 22 + 12345))


CURL_OUT = ("HTTP/1.1 200 OK\r\nServer: nginx\r\nX-Lua-Resp: 1\r\n\r\n"
            "xff=[] xfp=[] rid=[] via=[] fwd=[] lua=[1]")


class HeaderCheckTest(unittest.TestCase):
    def test_parse_curl_output(self):
        status, headers, body = lua_bench.parse_curl_output(CURL_OUT)
        self.assertEqual(status, 200)
        self.assertEqual(headers["x-lua-resp"], "1")
        self.assertTrue(body.endswith("lua=[1]"))

    def test_lua_target_with_both_headers_passes(self):
        self.assertEqual(lua_bench.header_problems(True, *lua_bench.parse_curl_output(CURL_OUT)),
                         (None, None))

    def test_lua_target_without_response_header_is_fatal(self):
        out = CURL_OUT.replace("X-Lua-Resp: 1\r\n", "")
        fatal, _ = lua_bench.header_problems(True, *lua_bench.parse_curl_output(out))
        self.assertIn("must add", fatal)

    def test_lua_target_without_request_header_is_fatal(self):
        out = CURL_OUT.replace("lua=[1]", "lua=[]")
        fatal, _ = lua_bench.header_problems(True, *lua_bench.parse_curl_output(out))
        self.assertIn("must add", fatal)

    def test_plain_target_with_a_lua_header_is_fatal(self):
        fatal, _ = lua_bench.header_problems(False, *lua_bench.parse_curl_output(CURL_OUT))
        self.assertIn("must not add", fatal)

    def test_forwarding_header_is_unfair_not_fatal(self):
        out = CURL_OUT.replace("X-Lua-Resp: 1\r\n", "").replace("lua=[1]", "lua=[]")
        out = out.replace("xff=[]", "xff=[127.0.0.1]")
        fatal, unfair = lua_bench.header_problems(False, *lua_bench.parse_curl_output(out))
        self.assertIsNone(fatal)
        self.assertIn("xff=127.0.0.1", unfair)

    def test_non_200_is_fatal(self):
        out = CURL_OUT.replace("200 OK", "502 Bad Gateway")
        fatal, _ = lua_bench.header_problems(True, *lua_bench.parse_curl_output(out))
        self.assertIn("502", fatal)


class ArgsTest(unittest.TestCase):
    def test_default_targets_pair_each_server_back_to_back(self):
        names = [t.name for t in lua_bench.parse_args([]).targets]
        self.assertEqual(names, ["pier", "pier+lua", "nginx", "nginx+lua", "haproxy",
                                 "haproxy+lua"])

    def test_target_knows_server_and_variant(self):
        t = lua_bench.Target("haproxy+lua")
        self.assertEqual((t.server, t.lua), ("haproxy", True))

    def _rejected(self, argv):
        with contextlib.redirect_stderr(io.StringIO()), self.assertRaises(SystemExit):
            lua_bench.parse_args(argv)

    def test_unknown_target_is_rejected(self):
        self._rejected(["--targets", "ngx1"])

    def test_unknown_mode_is_rejected(self):
        self._rejected(["--modes", "cpu,disk"])


if __name__ == "__main__":
    unittest.main()
