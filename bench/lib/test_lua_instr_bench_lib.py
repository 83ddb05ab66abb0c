"""Unit tests for lua_instr_bench.py's helpers (lib/instr.py and its argument rules).

python3 -m unittest discover -s bench/lib -t bench
"""
import contextlib
import io
import os
import socket
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import lua_instr_bench  # noqa: E402
from lib import instr, lua_configs  # noqa: E402


class ReadTotalTest(unittest.TestCase):
    def _file(self, text):
        f = tempfile.NamedTemporaryFile("w", suffix=".callgrind", delete=False)
        f.write(text)
        f.close()
        self.addCleanup(os.unlink, f.name)
        return f.name

    def test_reads_the_summary_line(self):
        path = self._file("version: 1\ncmd: pier\nevents: Ir\nsummary: 88246511\n\nfn=(1) main\n"
                          "1 5\n\ntotals: 88246511\n")
        self.assertEqual(instr.read_total(path), 88246511)

    def test_a_file_without_totals_is_an_error(self):
        path = self._file("version: 1\nevents: Ir\nfn=(1) main\n1 5\n")
        with self.assertRaises(ValueError):
            instr.read_total(path)


class ServerArgvTest(unittest.TestCase):
    def test_nginx_runs_its_worker_in_the_started_process(self):
        text = instr.nginx_single_process(lua_configs.nginx_proxy("/tmp/x", 1, 1, [2, 3],
                                                                  lua=True))
        self.assertIn("master_process off;", text)
        self.assertNotIn("master_process on;", text)
        self.assertIn("daemon off;", text)

    def test_nginx_config_without_the_directive_is_an_error(self):
        with self.assertRaises(ValueError):
            instr.nginx_single_process("worker_processes 1;")

    def test_server_argv_follows_the_callgrind_options(self):
        argv = instr.callgrind_argv("valgrind", "/t/out", ["haproxy", "-db", "-f", "c"])
        self.assertEqual(argv[:2], ["valgrind", "--tool=callgrind"])
        self.assertIn("--callgrind-out-file=/t/out", argv)
        self.assertEqual(argv[argv.index("--") + 1:], ["haproxy", "-db", "-f", "c"])

    def test_every_server_has_a_graceful_stop_signal(self):
        self.assertEqual(set(instr.GRACEFUL_STOP), {"pier", "nginx", "haproxy"})


def run(requests, ir):
    return {"requests": requests, "ir": ir}


class PerRequestTest(unittest.TestCase):
    def test_slope_removes_the_fixed_cost(self):
        r = instr.per_request(run(100, 5_000 + 100 * 30), run(300, 5_000 + 300 * 30))
        self.assertEqual(r["ir_per_req"], 30)
        self.assertEqual(r["fixed_ir"], 5_000)

    def test_second_run_must_serve_more_requests(self):
        with self.assertRaises(ValueError):
            instr.per_request(run(300, 10), run(300, 20))

    def test_summary_is_the_median_of_the_pairs_with_their_range(self):
        pairs = [(run(10, 0), run(20, 100)), (run(10, 0), run(20, 130)),
                 (run(10, 0), run(20, 110))]
        s = instr.summarize(pairs)
        self.assertEqual((s["ir_per_req"], s["lo"], s["hi"], s["n"]), (11, 10, 13, 3))


def result(ir, lo=None, hi=None):
    return {"ir_per_req": ir, "lo": ir if lo is None else lo, "hi": ir if hi is None else hi,
            "n": 1, "fixed_ir": 0}


class OverheadTest(unittest.TestCase):
    def setUp(self):
        self.results = {"pier": result(10_000, 9_900, 10_100), "pier+lua": result(13_000),
                        "nginx": result(20_000), "nginx+lua": result(26_000),
                        "haproxy": result(30_000)}

    def test_overhead_is_lua_minus_plain_with_a_paired_extremes_range(self):
        s = instr.overheads(self.results)
        self.assertEqual([x["server"] for x in s], ["pier", "nginx"])  # haproxy+lua missing
        self.assertEqual(s[0]["over"], 3_000)
        self.assertEqual((s[0]["lo"], s[0]["hi"]), (2_900, 3_100))
        self.assertAlmostEqual(s[1]["over_pct"], 30.0)

    def test_ratios_and_goal(self):
        lines = instr.ratio_lines(self.results, instr.overheads(self.results))
        self.assertIn("pier ÷ nginx: plain 0.50; +lua 0.50; Lua overhead **0.50**", lines[0])
        self.assertIn("pier ÷ haproxy: plain 0.33", lines[1])
        self.assertIn("**MET** (ratio 0.50)", lines[2])

    def test_goal_not_met_above_half(self):
        self.results["pier+lua"] = result(14_000)
        lines = instr.ratio_lines(self.results, instr.overheads(self.results))
        self.assertIn("**NOT MET** (ratio 0.67)", lines[2])

    def test_no_ratio_when_nginx_has_no_overhead(self):
        self.results["nginx+lua"] = result(20_000)
        lines = instr.ratio_lines(self.results, instr.overheads(self.results))
        self.assertIn("undefined", lines[0])
        self.assertIn("NOT EVALUATED", lines[2])

    def test_tables_have_one_row_per_entry(self):
        self.assertEqual(len(instr.target_table(self.results).splitlines()), 2 + 5)
        self.assertEqual(len(instr.overhead_table(instr.overheads(self.results)).splitlines()),
                         2 + 2)


class FakeServer:
    """Accepts `conns` connections, then answers each request with `response`, in order."""

    def __init__(self, conns, rounds, response):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.requests = []
        self.thread = threading.Thread(target=self._serve, args=(conns, rounds, response),
                                       daemon=True)
        self.thread.start()

    def _serve(self, conns, rounds, response):
        socks = [self.listener.accept()[0] for _ in range(conns)]
        try:
            for _ in range(rounds):
                for s in socks:
                    data = b""
                    while not data.endswith(b"\r\n\r\n"):
                        chunk = s.recv(4096)
                        if not chunk:
                            return
                        data += chunk
                    self.requests.append(data)
                    s.sendall(response)
        finally:
            for s in socks:
                s.close()
            self.listener.close()

    def join(self):
        self.thread.join(timeout=10)


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


class RunLoadTest(unittest.TestCase):
    def test_counts_one_response_per_connection_and_round(self):
        srv = FakeServer(3, 4, OK)
        self.assertEqual(instr.run_load(srv.port, 3, 4, 10, want_body=5), 12)
        srv.join()
        self.assertEqual(len(srv.requests), 12)
        self.assertTrue(srv.requests[0].startswith(b"GET / HTTP/1.1\r\n"))

    def test_non_200_is_an_error(self):
        srv = FakeServer(1, 1, b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
        with self.assertRaisesRegex(instr.LoadError, "502"):
            instr.run_load(srv.port, 1, 1, 10)
        srv.join()

    def test_wrong_body_size_is_an_error(self):
        srv = FakeServer(1, 1, OK)
        with self.assertRaisesRegex(instr.LoadError, "5-byte body"):
            instr.run_load(srv.port, 1, 1, 10, want_body=1024)
        srv.join()

    def test_closed_connection_is_an_error(self):
        srv = FakeServer(1, 1, OK)  # serves one round only, then closes
        with self.assertRaisesRegex(instr.LoadError, "closed"):
            instr.run_load(srv.port, 1, 2, 10)
        srv.join()

    def test_a_silent_server_hits_the_time_limit(self):
        listener = socket.create_server(("127.0.0.1", 0))  # the backlog accepts; nobody answers
        self.addCleanup(listener.close)
        with self.assertRaisesRegex(instr.LoadError, "time limit"):
            instr.run_load(listener.getsockname()[1], 1, 1, 0.2)


class ArgsTest(unittest.TestCase):
    def _error(self, argv):
        with contextlib.redirect_stderr(io.StringIO()), self.assertRaises(SystemExit):
            lua_instr_bench.parse_args(argv)

    def test_defaults_are_all_six_targets_and_two_round_counts(self):
        a = lua_instr_bench.parse_args([])
        self.assertEqual([t.name for t in a.targets], list(lua_instr_bench.lua_bench.ALL_TARGETS))
        self.assertEqual(a.rounds, [50, 150])
        self.assertEqual(a.workers, 1)

    def test_rounds_must_be_two_increasing_counts(self):
        self._error(["--rounds", "150,50"])
        self._error(["--rounds", "50"])
        self._error(["--rounds", "0,10"])

    def test_unknown_target_is_rejected(self):
        self._error(["--targets", "pier,envoy"])


if __name__ == "__main__":
    unittest.main()
