"""Unit tests for the VIP failover bench's pure parts (no root, no lab)."""
import os
import re
import unittest

from lib import vip_lab, vip_trials

MS = 1_000_000
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def ok(end_ms, label):
    return ((end_ms - 1) * MS, end_ms * MS, True, label)


def fail(end_ms, kind="refused"):
    return ((end_ms - 1) * MS, end_ms * MS, False, kind)


class PlanMirrorTest(unittest.TestCase):
    def test_names_and_macs_match_the_cpp_plan(self):
        with open(os.path.join(REPO, "src/lab/plan.cc")) as f:
            plan = f.read()
        self.assertIn('"02:77:00:00:00:1{}"', plan)
        self.assertIn('"10.77.0.100"', open(os.path.join(REPO, "src/lab/plan.h")).read())
        self.assertEqual(vip_lab.node_mac(2), "02:77:00:00:00:12")
        self.assertEqual(vip_lab.node_ns(3), "pier-lab-node3")

    def test_mac_and_label_map_to_nodes(self):
        self.assertEqual(vip_lab.node_of_mac("02:77:00:00:00:13"), 3)
        self.assertEqual(vip_lab.node_of_mac("02-77-00-00-00-11"), 1)
        self.assertIsNone(vip_lab.node_of_mac("02:77:00:00:00:01"))
        self.assertIsNone(vip_lab.node_of_mac(None))
        self.assertEqual(vip_lab.node_of_label("pod node2-pod1"), 2)
        self.assertIsNone(vip_lab.node_of_label("node12-pod1"))
        self.assertIsNone(vip_lab.node_of_label(""))


class KeepalivedConfTest(unittest.TestCase):
    def test_vrrp3_backup_nopreempt_with_the_vip(self):
        c = vip_lab.keepalived_conf(2, 0.1)
        self.assertIn("vrrp_version 3", c)
        self.assertIn("state BACKUP", c)
        self.assertIn("nopreempt", c)
        self.assertIn("advert_int 0.1\n", c)
        self.assertIn("10.77.0.100/24 dev eth0", c)
        self.assertIn("router_id node2", c)

    def test_advert_is_written_without_trailing_zeros(self):
        self.assertIn("advert_int 1\n", vip_lab.keepalived_conf(1, 1.0))
        self.assertIn("advert_int 0.01\n", vip_lab.keepalived_conf(1, 0.01))

    def test_equal_priority_everywhere(self):
        self.assertEqual(re.findall(r"priority \d+", vip_lab.keepalived_conf(1, 1)),
                         re.findall(r"priority \d+", vip_lab.keepalived_conf(3, 1)))


class ScaleConfigTest(unittest.TestCase):
    def test_range_end(self):
        self.assertEqual(vip_lab.ipv4_range("10.80.0.1", 10000), ("10.80.0.1", "10.80.39.16"))
        self.assertEqual(vip_lab.ipv4_range("10.80.0.255", 2), ("10.80.0.255", "10.80.1.0"))

    def test_one_announce_only_service_per_ip(self):
        c = vip_lab.scale_config(3)
        self.assertIn('addresses: ["10.80.0.1-10.80.0.3"]', c)
        self.assertEqual(c.count("pool: big"), 3)
        self.assertNotIn("listener", c)
        self.assertIn("node_name: node1", c)


class ProbeParseTest(unittest.TestCase):
    def test_lines_comments_and_a_cut_last_line(self):
        text = "# probe\n10 20 ok node1-pod1\n30 40 fail timeout\n50 6"
        self.assertEqual(vip_trials.parse_probe(text),
                         [(10, 20, True, "node1-pod1"), (30, 40, False, "timeout")])


class AnalyzeTest(unittest.TestCase):
    def test_time_to_new_owner_failures_and_gap(self):
        rs = [ok(90, "node2-pod1"), ok(100, "node2-pod2"), fail(105), fail(110, "timeout"),
              ok(112, "node2-pod1"), ok(400, "node3-pod1"), ok(402, "node3-pod2")]
        a = vip_trials.analyze_fault(rs, 101 * MS, 500 * MS, 2)
        self.assertEqual(a["to_new_owner_ms"], 299)
        self.assertEqual(a["new_node"], 3)
        self.assertEqual(a["failed"], 2)
        self.assertEqual(a["fail_kinds"], {"refused": 1, "timeout": 1})
        self.assertEqual(a["longest_gap_ms"], 288)
        self.assertEqual(a["handover_gap_ms"], 288)

    def test_first_success_without_an_earlier_one_counts_from_the_fault(self):
        a = vip_trials.analyze_fault([ok(130, "node2-pod1")], 100 * MS, 200 * MS, 1)
        self.assertEqual(a["handover_gap_ms"], 30)
        self.assertEqual(a["longest_gap_ms"], 30)

    def test_no_success_gap_runs_to_window_end(self):
        a = vip_trials.analyze_fault([ok(100, "node1-pod1"), fail(150)], 120 * MS, 1000 * MS, 1)
        self.assertIsNone(a["to_new_owner_ms"])
        self.assertEqual(a["longest_gap_ms"], 900)

    def test_settled_needs_time_after_the_new_owner(self):
        rs = [ok(100, "node1-pod1"), ok(200, "node2-pod1"), ok(250, "node2-pod1")]
        self.assertFalse(vip_trials.settled_after(rs, 150 * MS, 1, 100 * MS))
        rs.append(ok(301, "node2-pod2"))
        self.assertTrue(vip_trials.settled_after(rs, 150 * MS, 1, 100 * MS))

    def test_moves_count_node_changes_not_pod_changes(self):
        rs = [ok(1, "node1-pod1"), ok(2, "node1-pod2"), fail(3), ok(4, "node2-pod1"),
              ok(5, "node1-pod1"), ok(6, "node1-pod2")]
        self.assertEqual(vip_trials.count_moves(rs), 2)
        self.assertEqual(vip_trials.count_moves([]), 0)


class StatsTest(unittest.TestCase):
    def test_nearest_rank_percentile(self):
        v = list(range(1, 21))
        self.assertEqual(vip_trials.percentile(v, 50), 10)
        self.assertEqual(vip_trials.percentile(v, 99), 20)
        self.assertEqual(vip_trials.percentile([None, 3], 50), 3)
        self.assertIsNone(vip_trials.percentile([], 50))

    def test_peak_per_second(self):
        self.assertEqual(vip_trials.per_second_peak([1.1, 1.9, 2.0, 2.5, 2.9]), 3)
        self.assertEqual(vip_trials.per_second_peak([]), 0)


def trial(impl, iv, kind, to_new, failed=0, gap=1.0):
    return {"impl": impl, "interval_ms": iv, "kind": kind, "to_new_owner_ms": to_new, "failed": failed,
            "longest_gap_ms": gap}


class ReportTest(unittest.TestCase):
    def test_hard_table_row(self):
        ts = [trial("keepalived", 100, "hard", x) for x in (300, 310, 350)]
        t = vip_trials.hard_table(ts, ["pier", "keepalived"], [100])
        self.assertIn("| keepalived | 100 ms | 3 | 310.0 | 350.0 | 350.0 | 350.0 | 0 | 0 |", t)
        self.assertNotIn("| pier |", t)

    def test_ratio_of_percentiles(self):
        ts = [trial("pier", 100, "hard", 150), trial("keepalived", 100, "hard", 300)]
        self.assertEqual(vip_trials.ratio_rows(ts, [100], "hard"), ["| hard | 100 ms | 0.5 | 0.5 |"])

    def test_goals_met_and_not_met(self):
        ts = [trial("pier", 100, "hard", 200), trial("keepalived", 100, "hard", 300),
              trial("pier", 100, "graceful", 3, failed=0, gap=40)]
        g = vip_trials.goals(ts, [{"impl": "pier", "moves": 0}], [100])
        self.assertTrue(any("hard" in x and x.endswith("MET") and "NOT" not in x for x in g), g)
        self.assertTrue(any("graceful" in x and x.endswith(": MET") for x in g), g)
        ts.append(trial("pier", 100, "graceful", 3, failed=2, gap=4))
        g = vip_trials.goals(ts, [], [100])
        self.assertTrue(any("graceful" in x and x.endswith("NOT MET") for x in g), g)
        self.assertTrue(any("starvation" in x and x.endswith("NOT EVALUATED") for x in g), g)

    def test_pier_missing_is_not_evaluated(self):
        g = vip_trials.goals([trial("keepalived", 10, "hard", 40)], [], [10])
        self.assertTrue(g[0].endswith("NOT EVALUATED"), g)


if __name__ == "__main__":
    unittest.main()
