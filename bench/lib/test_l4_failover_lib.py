"""Unit tests for the L4 and failover bench helpers.

python3 -m unittest discover -s bench/lib -t bench
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import l4_bench  # noqa: E402
from lib import configs, failover, harness, report, wrk  # noqa: E402

WRK_BULK = """Running 2s test @ http://127.0.0.1:41827/bulk.bin
  1 threads and 4 connections
  Latency Distribution
     50%    5.87ms
     75%    7.00ms
     90%    9.00ms
     99%   18.25ms
  1250 requests in 2.00s, 1.22GB read
Requests/sec:    625.00
Transfer/sec:    625.50MB
"""


class WrkBytesTest(unittest.TestCase):
    def test_bytes_read_use_binary_units(self):
        self.assertAlmostEqual(wrk.parse(WRK_BULK)["bytes"], 1.22 * (1 << 30))

    def test_plain_bytes_without_prefix(self):
        text = WRK_BULK.replace("1.22GB read", "512.00B read")
        self.assertEqual(wrk.parse(text)["bytes"], 512.0)


class L4ConfigTest(unittest.TestCase):
    def test_stream_config_loads_the_module_first_and_lists_both_backends(self):
        text = configs.nginx_stream("/tmp/x", 80, 2, [1, 2])
        self.assertTrue(text.startswith(f"load_module {configs.STREAM_MODULE};"))
        self.assertIn("server 127.0.0.1:1;", text)
        self.assertIn("server 127.0.0.1:2;", text)
        self.assertIn("worker_processes 2;", text)
        self.assertNotIn("http {", text)

    def test_haproxy_tcp_has_no_http_options(self):
        text = configs.haproxy_tcp(80, 2, [1, 2])
        self.assertIn("mode tcp", text)
        self.assertNotIn("http", text)
        self.assertIn("nbthread 2", text)

    def test_haproxy_splices_only_when_asked(self):
        self.assertNotIn("splice", configs.haproxy_tcp(80, 1, [1]))
        self.assertIn("option splice-auto", configs.haproxy_tcp(80, 1, [1], splice=True))

    def test_pier_tcp_listener_names_the_cluster(self):
        y = configs.pier_tcp(80, 1, [1, 2])
        self.assertIn("protocol: tcp\n    cluster: be", y)
        self.assertIn("endpoints: [127.0.0.1:1, 127.0.0.1:2]", y)
        self.assertIn("admin: { enabled: false }", y)

    def test_backend_without_bulk_serves_no_file(self):
        self.assertNotIn(configs.BULK_PATH, configs.nginx_backend("/tmp/x", 1))

    def test_bulk_backend_writes_a_file_of_the_exact_size(self):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            text = configs.nginx_backend(d, 1, bulk_bytes=100_000)
            self.assertIn(f"location = {configs.BULK_PATH}", text)
            self.assertEqual(os.path.getsize(os.path.join(d, "www", "bulk.bin")), 100_000)


class L4LoadTest(unittest.TestCase):
    def test_load_names(self):
        self.assertEqual(l4_bench.parse_load("bulk4"), ("bulk", 4))
        self.assertEqual(l4_bench.parse_load("close64"), ("close", 64))
        self.assertIsNone(l4_bench.parse_load("bulk0"))
        self.assertIsNone(l4_bench.parse_load("big4"))

    def test_bulk_load_fetches_the_bulk_file_with_keep_alive(self):
        argv = l4_bench.load_wrk_argv(80, "bulk4", 5)
        self.assertEqual(argv[-1], f"http://127.0.0.1:80{configs.BULK_PATH}")
        self.assertIn("-c4", argv)
        self.assertNotIn("-H", argv)


def derive(w, proxy_s=1.0, machine=(1.5, 0.1), wall=2.0):
    return harness.derive(w, wall=wall, idle=(True, 0.0, 0.5), wrk_s=0.4, be_s=0.2,
                          proxy_s=proxy_s, machine=machine, accepts=([10, 20], [11, 23]))


class DeriveTest(unittest.TestCase):
    W = {"requests": 200_000, "secs": 2.0, "bytes": 4e9, "rps": 1e5, "p50_ms": 1, "p99_ms": 2}

    def test_cpu_per_request_and_per_gigabyte(self):
        c = derive(self.W)
        self.assertAlmostEqual(c["cpu100k"], 0.5)
        self.assertAlmostEqual(c["cpu_gb"], 0.25)
        self.assertAlmostEqual(c["mb_s"], 2000.0)

    def test_foreign_load_is_machine_minus_ours(self):
        # machine 1.6 cores; ours: wrk 0.2 + backends 0.1 + proxy 0.5.
        self.assertAlmostEqual(derive(self.W)["bg_cores"], 0.8)

    def test_direct_has_no_proxy_figures(self):
        c = derive(self.W, proxy_s=None)
        self.assertIsNone(c["cpu100k"])
        self.assertIsNone(c["cpu_gb"])

    def test_new_backend_connections_exclude_the_status_requests(self):
        # deltas 1 and 3, minus one status connection each: 2 per 200k requests.
        self.assertAlmostEqual(derive(self.W)["be_conn_1k"], 0.01)


class BestOfTest(unittest.TestCase):
    def test_keeps_the_quietest_attempt(self):
        cells = iter([{"ok": True, "bg_cores": 0.5}, {"ok": True, "bg_cores": 0.3}])
        best = harness.best_of(lambda: next(cells), retries=1, max_bg=0.1)
        self.assertEqual(best["bg_cores"], 0.3)
        self.assertEqual(best["attempts"], 2)

    def test_quiet_first_attempt_is_not_repeated(self):
        calls = []
        harness.best_of(lambda: calls.append(1) or {"ok": True, "bg_cores": 0.0}, 3, 0.1)
        self.assertEqual(len(calls), 1)


def cell(target, rnd, load="bulk4", **kw):
    c = {"load": load, "target": target, "round": rnd, "ok": True}
    c.update(kw)
    return c


class ReportExtensionTest(unittest.TestCase):
    def test_custom_columns(self):
        cells = [cell("hap1", 0, mb_s=600.0)]
        table = report.load_table(cells, "bulk4", ["hap1"], columns=[("MB/s", "mb_s", "{:.0f}")])
        self.assertIn("| target | MB/s | n |", table)
        self.assertIn("| hap1 | 600 | 1 |", table)

    def test_rate_per_peer_divides_by_each_same_worker_peer(self):
        cells = [cell("pier1", 0, mb_s=600.0), cell("hap1", 0, mb_s=300.0)]
        sec = report.ratio_section(cells, "bulk4", ["pier1", "hap1"], metrics=(),
                                   rate=("MB/s", "mb_s"), rate_per_peer=True)
        self.assertIn("| MB/s: pier1 ÷ hap1 | 2.00 |", sec)

    def test_default_title_is_unchanged(self):
        self.assertTrue(report.render([], [], [], [], []).startswith("# pier L7 HTTP benchmark"))


class FailoverConfigTest(unittest.TestCase):
    def test_passive_pier_has_no_health_check_and_an_admin_port(self):
        y = failover.pier_failover(80, 2, [1, 2, 3], "http", 9, active=False)
        self.assertNotIn("health_check", y)
        self.assertIn("admin: { address: 127.0.0.1:9 }", y)

    def test_active_pier_checks_every_100ms_with_the_protocol_of_the_listener(self):
        http = failover.pier_failover(80, 2, [1, 2, 3], "http", 9, active=True)
        tcp = failover.pier_failover(80, 2, [1, 2, 3], "tcp", 9, active=True)
        self.assertIn(f"type: http, path: {failover.CHECK_PATH}, interval: 100ms", http)
        self.assertIn("type: tcp, interval: 100ms", tcp)
        self.assertIn("protocol: tcp\n    cluster: be", tcp)

    def test_haproxy_redispatches_and_checks_like_the_brief(self):
        text = failover.haproxy_failover(80, 2, [1, 2, 3], "http", "/s", check=True)
        for want in ("option redispatch", "retries 3", "check inter 100ms fall 3",
                     f"option httpchk GET {failover.CHECK_PATH}", "stats socket /s"):
            self.assertIn(want, text)

    def test_haproxy_without_checks(self):
        text = failover.haproxy_failover(80, 2, [1, 2, 3], "tcp", "/s", check=False)
        self.assertNotIn("check inter", text)
        self.assertNotIn("httpchk", text)
        self.assertIn("mode tcp", text)


METRICS = """# TYPE pier_endpoint_connect_failures_total counter
pier_endpoint_connect_failures_total{cluster="be",endpoint="127.0.0.1:2"} 7
pier_endpoint_connect_failures_total{cluster="be",endpoint="127.0.0.1:22"} 1
pier_endpoint_ejected{cluster="be",endpoint="127.0.0.1:2"} 1
pier_endpoint_requests_total{cluster="be",endpoint="127.0.0.1:2"} 40
"""

HAP_CSV = ("# pxname,svname,stot,econ,status,connect,\n"
           "be,b1,10,0,UP,10,\n"
           "be,b2,12,3,DOWN,12,\n"
           "be,BACKEND,22,3,UP,22,\n")


class CounterParsingTest(unittest.TestCase):
    def test_prometheus_values_match_the_endpoint_label_exactly(self):
        v = failover.prometheus_values(METRICS, "127.0.0.1:2")
        self.assertEqual(v["pier_endpoint_connect_failures_total"], 7)
        self.assertEqual(v["pier_endpoint_requests_total"], 40)

    def test_pier_endpoint_is_out_only_when_every_worker_ejects_it(self):
        v = failover.prometheus_values(METRICS, "127.0.0.1:2")
        self.assertTrue(failover.pier_state(v, 1)[2])
        self.assertFalse(failover.pier_state(v, 2)[2])

    def test_haproxy_row_and_state_use_connection_attempts(self):
        row = failover.haproxy_server_row(HAP_CSV, "be", "b2")
        self.assertEqual(failover.haproxy_state(row), (12.0, 12.0, True, "DOWN"))

    def test_haproxy_without_connect_column_falls_back_to_econ(self):
        row = failover.haproxy_server_row(HAP_CSV.replace("connect", "other"), "be", "b2")
        self.assertEqual(failover.haproxy_state(row)[0], 3.0)

    def test_response_head(self):
        head = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 11\r\nConnection: close"
        self.assertEqual(failover.parse_response_head(head), (502, 11, True))


def s(t, fails, down=False, healthy=None, routed=10):
    return {"t": t, "fails": fails, "down": down, "healthy": healthy, "routed": routed}


class AnalyzeTest(unittest.TestCase):
    def test_detection_last_try_and_tries_relative_to_the_kill(self):
        samples = [s(0.9, 0), s(1.02, 2), s(1.04, 5, down=True), s(1.06, 6), s(1.08, 6), s(2.0, 6)]
        r = failover.analyze(1.0, 2.0, samples, [], 0.02)
        self.assertEqual(r["detect_ms"], 40.0)
        self.assertEqual(r["last_try_ms"], 60.0)
        self.assertEqual(r["tries"], 6)
        self.assertFalse(r["still_trying"])

    def test_health_gauge_drop_counts_as_detection_only_after_it_was_healthy(self):
        never = [s(0.9, 0, healthy=0), s(1.1, 0, healthy=0)]
        self.assertIsNone(failover.analyze(1.0, 2.0, never, [], 0.02)["detect_ms"])
        dropped = [s(0.9, 0, healthy=1), s(1.1, 0, healthy=0)]
        self.assertEqual(failover.analyze(1.0, 2.0, dropped, [], 0.02)["detect_ms"], 100.0)

    def test_counter_growing_at_the_end_means_still_trying(self):
        samples = [s(0.9, 0), s(1.5, 3), s(1.99, 9)]
        self.assertTrue(failover.analyze(1.0, 2.0, samples, [], 0.02)["still_trying"])

    def test_no_attempt_after_the_kill(self):
        r = failover.analyze(1.0, 2.0, [s(0.9, 0), s(1.5, 0)], [], 0.02)
        self.assertEqual(r["tries"], 0)
        self.assertIsNone(r["last_try_ms"])

    def test_client_errors_are_counted_after_the_kill_by_kind(self):
        records = [(0.5, 0.6, 200), (0.7, 0.8, "reset"), (0.99, 1.01, "eof"),
                   (1.1, 1.2, 502), (1.3, 1.4, 200)]
        r = failover.analyze(1.0, 2.0, [], records, 0.02)
        self.assertEqual(r["errors"], 2)
        self.assertEqual(r["errors_before"], 1)
        self.assertEqual(r["error_kinds"], {"eof": 1, "502": 1})
        self.assertEqual(r["last_error_ms"], 200.0)


class SmallHelpersTest(unittest.TestCase):
    def test_last_logged_request_relative_to_the_kill(self):
        log = "100.000 200 /\n100.250 200 /\ngarbage\n"
        self.assertEqual(failover.last_logged_before(log, 100.3), -50.0)
        self.assertIsNone(failover.last_logged_before("", 1.0))

    def test_p50_max_skips_missing_values(self):
        self.assertEqual(failover.p50_max([10, None, 30, 20]), "20 / 30")
        self.assertEqual(failover.p50_max([None]), "-")


if __name__ == "__main__":
    unittest.main()
