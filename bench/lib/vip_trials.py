"""What one VIP failover trial's probe output says, and the report's tables.

Pure functions (unit-tested in test_vip_bench_lib.py). The definitions match
src/lab/failover.cc, which the demo uses:

- to new owner: from the fault to the end of the first request that
  succeeded through a node other than the old owner;
- failed: requests that ended in failure between the fault and the window end;
- longest gap: the longest time without a successful request ending, from the
  last success before the fault on (it includes ordinary scheduling jitter);
- handover gap: the gap that ends with the first success through the new owner.
"""
import math
import re
import statistics

from .vip_lab import node_of_label

_LINE = re.compile(r"^(\d+) (\d+) (ok|fail) (\S+)$")


def parse_probe(text):
    """`pier lab probe` raw lines -> [(start_ns, end_ns, ok, detail)], comments skipped.

    A last line cut short (the probe was stopped mid-write) is dropped."""
    out = []
    for line in text.splitlines():
        m = _LINE.match(line)
        if m:
            out.append((int(m.group(1)), int(m.group(2)), m.group(3) == "ok", m.group(4)))
    return out


def analyze_fault(results, fault_ns, window_end_ns, old_node):
    res = sorted(results, key=lambda r: r[1])
    out = {"to_new_owner_ms": None, "new_node": None, "failed": 0, "ok": 0, "longest_gap_ms": 0.0,
           "handover_gap_ms": None, "fail_kinds": {}}
    last_ok = None
    for start, end, ok, detail in res:
        if end > window_end_ns:
            break
        if end < fault_ns:
            if ok:
                last_ok = end
            continue
        if not ok:
            out["failed"] += 1
            out["fail_kinds"][detail] = out["fail_kinds"].get(detail, 0) + 1
            continue
        out["ok"] += 1
        gap = (end - (last_ok if last_ok is not None else fault_ns)) / 1e6
        out["longest_gap_ms"] = max(out["longest_gap_ms"], gap)
        last_ok = end
        node = node_of_label(detail)
        if out["to_new_owner_ms"] is None and node is not None and node != old_node:
            out["to_new_owner_ms"] = (end - fault_ns) / 1e6
            out["new_node"] = node
            # The interruption the switch itself caused: from the success
            # before it to the first one through the new owner.
            out["handover_gap_ms"] = gap
    if out["ok"] == 0:
        out["longest_gap_ms"] = (window_end_ns - (last_ok if last_ok is not None else fault_ns)) / 1e6
    return out


def settled_after(results, fault_ns, old_node, settle_ns):
    """True once a success through a new node is followed by `settle_ns` of
    results (the trial can end early)."""
    a = analyze_fault(results, fault_ns, 1 << 62, old_node)
    if a["to_new_owner_ms"] is None or not results:
        return False
    return max(r[1] for r in results) - fault_ns >= a["to_new_owner_ms"] * 1e6 + settle_ns


def count_moves(results):
    """Changes of the node that served successful requests, in order of completion."""
    moves, last = 0, None
    for _, _, ok, detail in sorted(results, key=lambda r: r[1]):
        if not ok:
            continue
        node = node_of_label(detail)
        if node is None:
            continue
        if last is not None and node != last:
            moves += 1
        last = node
    return moves


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of the non-None values; None if empty."""
    v = sorted(x for x in values if x is not None)
    if not v:
        return None
    k = max(1, math.ceil(p / 100 * len(v)))
    return v[k - 1]


def fmt(value, spec="{:.1f}"):
    return "-" if value is None else spec.format(value)


def hard_table(trials, impls, intervals):
    rows = ["| implementation | interval | trials | p50 ms | p90 ms | p99 ms | max ms | no failover "
            "| failed requests p50 |", "|---|---|---|---|---|---|---|---|---|"]
    for impl in impls:
        for iv in intervals:
            ts = [t for t in trials if t["impl"] == impl and t["interval_ms"] == iv and t["kind"] == "hard"]
            if not ts:
                continue
            vals = [t["to_new_owner_ms"] for t in ts]
            rows.append(f"| {impl} | {iv} ms | {len(ts)} | {fmt(percentile(vals, 50))} "
                        f"| {fmt(percentile(vals, 90))} | {fmt(percentile(vals, 99))} "
                        f"| {fmt(max((x for x in vals if x is not None), default=None))} "
                        f"| {sum(1 for x in vals if x is None)} "
                        f"| {fmt(percentile([t['failed'] for t in ts], 50), '{:.0f}')} |")
    return "\n".join(rows)


def graceful_table(trials, impls, intervals):
    rows = ["| implementation | interval | trials | to new owner p50 ms | p99 ms | handover gap p50 ms "
            "| p99 ms | longest gap p99 ms | failed requests p50 / max | trials with 0 failed |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for impl in impls:
        for iv in intervals:
            ts = [t for t in trials if t["impl"] == impl and t["interval_ms"] == iv
                  and t["kind"] == "graceful"]
            if not ts:
                continue
            to_new = [t["to_new_owner_ms"] for t in ts]
            handover = [t.get("handover_gap_ms") for t in ts]
            failed = [t["failed"] for t in ts]
            rows.append(f"| {impl} | {iv} ms | {len(ts)} | {fmt(percentile(to_new, 50))} "
                        f"| {fmt(percentile(to_new, 99))} | {fmt(percentile(handover, 50))} "
                        f"| {fmt(percentile(handover, 99))} "
                        f"| {fmt(percentile([t['longest_gap_ms'] for t in ts], 99))} "
                        f"| {fmt(percentile(failed, 50), '{:.0f}')} / {max(failed)} "
                        f"| {sum(1 for f in failed if f == 0)}/{len(ts)} |")
    return "\n".join(rows)


def ratio_rows(trials, intervals, kind, key="to_new_owner_ms"):
    """pier ÷ keepalived for p50 and p99 at each interval (below 1 favours pier)."""
    rows = []
    for iv in intervals:
        def vals(impl):
            return [t[key] for t in trials
                    if t["impl"] == impl and t["interval_ms"] == iv and t["kind"] == kind]
        p, k = vals("pier"), vals("keepalived")
        cells = []
        for q in (50, 99):
            a, b = percentile(p, q), percentile(k, q)
            cells.append(fmt(a / b, "{:.3g}") if a is not None and b else "-")
        rows.append(f"| {kind} | {iv} ms | {cells[0]} | {cells[1]} |")
    return rows


def goals(trials, starve, intervals):
    """The issue's goals, each MET, NOT MET or NOT EVALUATED, with the figures."""
    out = []

    def sel(impl, iv, kind):
        return [t for t in trials if t["impl"] == impl and t["interval_ms"] == iv and t["kind"] == kind]

    for iv in intervals:
        p, k = sel("pier", iv, "hard"), sel("keepalived", iv, "hard")
        if not p or not k:
            out.append(f"- hard failover at {iv} ms no slower than keepalived (p99): NOT EVALUATED")
            continue
        pp = percentile([t["to_new_owner_ms"] for t in p], 99)
        kp = percentile([t["to_new_owner_ms"] for t in k], 99)
        missing = sum(1 for t in p if t["to_new_owner_ms"] is None)
        met = pp is not None and kp is not None and pp <= kp and missing == 0
        out.append(f"- hard failover at {iv} ms no slower than keepalived: pier p99 {fmt(pp)} ms vs "
                   f"{fmt(kp)} ms: {'MET' if met else 'NOT MET'}")
    for iv in intervals:
        g = sel("pier", iv, "graceful")
        if not g:
            out.append(f"- graceful handover at {iv} ms ≤ 10 ms with no failed request: NOT EVALUATED")
            continue
        worst = percentile([t["to_new_owner_ms"] for t in g], 99)
        missing = sum(1 for t in g if t["to_new_owner_ms"] is None)
        failed = sum(t["failed"] for t in g)
        met = worst is not None and worst <= 10 and failed == 0 and missing == 0
        out.append(f"- graceful handover at {iv} ms ≤ 10 ms with no failed request: p99 {fmt(worst)} ms "
                   f"to the new owner, {failed} failed in {len(g)} trials: {'MET' if met else 'NOT MET'}")
    ps = [s for s in starve if s["impl"] == "pier"]
    if ps:
        moves = sum(max(s["moves"], s.get("owner_changes") or 0) for s in ps)
        out.append(f"- no false failover under CPU starvation: {moves} spurious moves in "
                   f"{len(ps)} run(s): {'MET' if moves == 0 else 'NOT MET'}")
    else:
        out.append("- no false failover under CPU starvation: NOT EVALUATED")
    return out


def starve_table(runs):
    rows = ["| implementation | interval | window s | hogs | VIP moves seen by the client "
            "| ownership changes | failed requests | requests |",
            "|---|---|---|---|---|---|---|---|"]
    for s in runs:
        rows.append(f"| {s['impl']} | {s['interval_ms']} ms | {s['window_s']:.0f} | {s['hogs']} "
                    f"| {s['moves']} | {fmt(s.get('owner_changes'), '{:.0f}')} | {s['failed']} "
                    f"| {s['requests']} |")
    return "\n".join(rows)


def scale_table(runs):
    rows = ["| IPs | RSS MiB | CPU s (takeover, first 10 s) | CPU % (steady) | ARP frames sent "
            "| peak ARP frames/s | sampled IPs answering |", "|---|---|---|---|---|---|---|"]
    for s in runs:
        rows.append(f"| {s['ips']} | {fmt(s.get('rss_mib'))} | {fmt(s.get('cpu_takeover_s'), '{:.2f}')} "
                    f"| {fmt(s.get('cpu_steady_pct'), '{:.2f}')} | {fmt(s.get('arp_frames'), '{:.0f}')} "
                    f"| {fmt(s.get('arp_peak_per_s'), '{:.0f}')} | {s.get('answering', '-')} |")
    return "\n".join(rows)


def per_second_peak(timestamps):
    """Most events in any one-second bucket (timestamps in seconds)."""
    buckets = {}
    for t in timestamps:
        buckets[int(t)] = buckets.get(int(t), 0) + 1
    return max(buckets.values()) if buckets else 0


def median(values):
    v = [x for x in values if x is not None]
    return statistics.median(v) if v else None
