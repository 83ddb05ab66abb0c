"""Unit tests for the bench helpers: python3 -m unittest discover -s bench/lib"""
import contextlib
import io
import os
import shutil
import signal
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib import configs, harness, report, wrk  # noqa: E402

WRK_OUT = """Running 2s test @ http://127.0.0.1:41827/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.02ms  412.00us  12.50ms   80.00%
    Req/Sec    55.95k     3.10k   60.12k    70.00%
  Latency Distribution
     50%  970.00us
     75%    1.36ms
     90%    1.63ms
     99%    2.31ms
  112007 requests in 2.00s, 130.50MB read
  Socket errors: connect 0, read 3, write 0, timeout 1
  Non-2xx or 3xx responses: 2
Requests/sec:  55950.43
Transfer/sec:     65.20MB
"""


class WrkParseTest(unittest.TestCase):
    def test_percentiles_are_converted_to_ms(self):
        w = wrk.parse(WRK_OUT)
        self.assertAlmostEqual(w["p50_ms"], 0.97)
        self.assertAlmostEqual(w["p99_ms"], 2.31)

    def test_avg_latency_line_is_not_a_percentile(self):
        self.assertNotIn("p80_00_ms", wrk.parse(WRK_OUT))

    def test_requests_rps_and_errors(self):
        w = wrk.parse(WRK_OUT)
        self.assertEqual(w["requests"], 112007)
        self.assertAlmostEqual(w["rps"], 55950.43)
        self.assertEqual(w["errors"], 4)
        self.assertEqual(w["non2xx"], 2)

    def test_seconds_unit(self):
        w = wrk.parse(WRK_OUT.replace("99%    2.31ms", "99%    1.50s"))
        self.assertAlmostEqual(w["p99_ms"], 1500.0)

    def test_missing_summary_raises(self):
        with self.assertRaises(ValueError):
            wrk.parse("unable to connect to 127.0.0.1:1 Connection refused")

    def test_load_names(self):
        self.assertEqual(wrk.parse_load("ka256"), (256, False))
        self.assertEqual(wrk.parse_load("close64"), (64, True))
        self.assertIsNone(wrk.parse_load("ka"))
        self.assertIsNone(wrk.parse_load("close0"))

    def test_close_load_sends_connection_close(self):
        self.assertIn("Connection: close", wrk.argv(80, 64, True, 5))
        self.assertNotIn("-H", wrk.argv(80, 64, False, 5))


class ConfigTest(unittest.TestCase):
    def test_backend_body_is_1024_bytes_on_the_wire(self):
        # The config holds 1023 characters plus nginx's two-character "\n" escape.
        self.assertEqual(len(configs._BODY_TEXT) + 1, configs.BODY_BYTES)
        self.assertIn(configs._BODY_TEXT + "\\n", configs.nginx_backend("/tmp/x", 1))

    def test_pier_config_lists_both_backends_and_no_forwarding_headers(self):
        y = configs.pier(8080, 2, [1, 2])
        self.assertIn("endpoints: [127.0.0.1:1, 127.0.0.1:2]", y)
        self.assertIn("workers: 2", y)
        self.assertIn('x_forwarded_for: false, x_forwarded_proto: false, request_id_header: ""', y)

    def test_peers_add_no_forwarding_headers(self):
        self.assertNotIn("forwardfor", configs.haproxy(1, 1, [2, 3]))
        self.assertNotIn("X-Forwarded", configs.nginx_proxy("/tmp/x", 1, 1, [2, 3]))


def cell(target, rnd, **kw):
    c = {"load": "ka64", "target": target, "round": rnd, "ok": True}
    c.update(kw)
    return c


class ReportTest(unittest.TestCase):
    def test_table_uses_median_over_rounds(self):
        cells = [cell("hap1", r, rps=v) for r, v in enumerate((10.0, 30.0, 20.0))]
        table = report.load_table(cells, "ka64", ["hap1"])
        self.assertIn("| hap1 | 20 |", table)

    def test_failed_cells_are_ignored(self):
        cells = [cell("hap1", 0, rps=10.0), dict(cell("hap1", 1, rps=99.0), ok=False)]
        self.assertIn("| hap1 | 10 |", report.load_table(cells, "ka64", ["hap1"]))

    def test_cpu_ratio_of_medians_and_paired(self):
        cells = [cell("pier1", 0, cpu100k=2.0), cell("pier1", 1, cpu100k=1.0),
                 cell("hap1", 0, cpu100k=4.0), cell("hap1", 1, cpu100k=1.0)]
        sec = report.ratio_section(cells, "ka64", ["pier1", "hap1"])
        # medians 1.5 / 2.5 = 0.60; paired geo-mean sqrt(0.5 * 1.0) = 0.71
        self.assertIn("| cpu-s/100k: pier1 ÷ hap1 | 0.60 | 0.71 (0.50–1.00, n=2) |", sec)

    def test_rps_ratio_against_best_two_worker_peer(self):
        cells = [cell("pier2", 0, rps=30.0), cell("hap2", 0, rps=20.0),
                 cell("ngx2", 0, rps=25.0)]
        sec = report.ratio_section(cells, "ka64", ["pier2", "ngx2", "hap2"])
        self.assertIn("(ngx2 by median) | 1.20 |", sec)

    def test_no_ratios_without_pier(self):
        cells = [cell("hap1", 0, cpu100k=1.0)]
        self.assertEqual(report.ratio_section(cells, "ka64", ["hap1"]), "")


if __name__ == "__main__":
    unittest.main()


class RunGuardedTest(unittest.TestCase):
    """harness.run_guarded: the exit code, and cleanup whatever the body does."""

    class FakeBench:
        def __init__(self):
            self.tmp = tempfile.mkdtemp(prefix="run-guarded-test.")
            self.stopped = 0

        def stop_all(self):
            self.stopped += 1

    def setUp(self):
        handlers = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
        self.addCleanup(signal.signal, signal.SIGINT, handlers[0])
        self.addCleanup(signal.signal, signal.SIGTERM, handlers[1])
        self.bench = self.FakeBench()
        self.addCleanup(shutil.rmtree, self.bench.tmp, True)

    def run_body(self, body, keep_tmp=False):
        with contextlib.redirect_stderr(io.StringIO()):
            return harness.run_guarded(self.bench, body, keep_tmp)

    def test_returns_the_bodys_code_and_cleans_up(self):
        self.assertEqual(self.run_body(lambda: 3), 3)
        self.assertEqual(self.bench.stopped, 1)
        self.assertFalse(os.path.exists(self.bench.tmp))

    def test_runtime_error_gives_1_and_cleans_up(self):
        def body():
            raise RuntimeError("backend did not start")
        self.assertEqual(self.run_body(body), 1)
        self.assertEqual(self.bench.stopped, 1)
        self.assertFalse(os.path.exists(self.bench.tmp))

    def test_interrupt_gives_130_and_cleans_up(self):
        def body():
            raise KeyboardInterrupt
        self.assertEqual(self.run_body(body), 130)
        self.assertEqual(self.bench.stopped, 1)

    def test_keep_tmp_keeps_the_directory(self):
        self.assertEqual(self.run_body(lambda: 0, keep_tmp=True), 0)
        self.assertTrue(os.path.isdir(self.bench.tmp))
