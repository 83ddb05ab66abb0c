"""Lua filter overhead from paired rounds, and the memory-mode table (bench/lua_bench.py).

A target is a server name ("pier", "nginx", "haproxy") or the same name
with "+lua". The overhead of a server in one round is its Lua variant's
cpu-s/100k minus its plain variant's in that same round; rounds are
interleaved, so drift between rounds cancels out of the difference.
"""
import math
import statistics

SERVERS = ("pier", "nginx", "haproxy")
# 1 CPU-second per 100,000 requests = 10 µs of CPU per request.
US_PER_CPU100K = 10.0
GOAL_VS_NGINX = 0.5


def lua_name(server):
    return server + "+lua"


def _per_round(cells, target, key):
    return {c["round"]: c[key] for c in cells
            if c["target"] == target and c.get("ok") and c.get(key) is not None}


def paired_overheads(cells, server, key="cpu100k"):
    """{round: lua − plain} for the rounds in which both variants produced a result."""
    plain = _per_round(cells, server, key)
    lua = _per_round(cells, lua_name(server), key)
    return {r: lua[r] - plain[r] for r in sorted(plain) if r in lua}


def overhead_summary(cells, server):
    """Medians and the paired overhead of one server, or None without a paired round."""
    diffs = paired_overheads(cells, server)
    if not diffs:
        return None
    plain = statistics.median(_per_round(cells, server, "cpu100k").values())
    lua = statistics.median(_per_round(cells, lua_name(server), "cpu100k").values())
    over = statistics.median(diffs.values())
    plain_rps = _per_round(cells, server, "rps")
    lua_rps = _per_round(cells, lua_name(server), "rps")
    rps = [lua_rps[r] / plain_rps[r] for r in plain_rps
           if r in lua_rps and plain_rps[r] > 0 and lua_rps[r] > 0]
    return {
        "server": server,
        "plain": plain,
        "lua": lua,
        "over": over,
        "over_us": over * US_PER_CPU100K,
        "over_pct": over / plain * 100 if plain else None,
        "lo": min(diffs.values()),
        "hi": max(diffs.values()),
        "positive": sum(1 for d in diffs.values() if d > 0),
        "n": len(diffs),
        "rps_ratio": math.exp(sum(math.log(x) for x in rps) / len(rps)) if rps else None,
    }


def overhead_ratio(num, den):
    """num ÷ den of two overheads; None when den is not a positive overhead."""
    if num is None or den is None or den <= 0:
        return None
    return num / den


def _f(value, spec="{:.2f}"):
    return "-" if value is None else spec.format(value)


def overhead_table(summaries):
    rows = ["| server | plain cpu-s/100k | +lua cpu-s/100k | Lua overhead cpu-s/100k "
            "(median of paired rounds) | µs/request | % of plain | per-round range | "
            "rounds lua > plain | rps lua ÷ plain (paired geo-mean) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for s in summaries:
        rows.append(
            f"| {s['server']} | {_f(s['plain'])} | {_f(s['lua'])} | {_f(s['over'], '{:+.3f}')} | "
            f"{_f(s['over_us'], '{:+.2f}')} | {_f(s['over_pct'], '{:+.1f}')} % | "
            f"{s['lo']:+.3f} … {s['hi']:+.3f} | {s['positive']}/{s['n']} | "
            f"{_f(s['rps_ratio'], '{:.3f}')} |")
    return "\n".join(rows)


def ratio_lines(summaries):
    """pier's overhead ÷ each peer's, and the verdict on the goal against nginx."""
    by = {s["server"]: s for s in summaries}
    pier = by.get("pier")
    lines = []
    if pier is None:
        return ["- pier overhead: not measured (pier or pier+lua has no paired round), "
                "so no ratio and no verdict"]
    for peer in ("nginx", "haproxy"):
        other = by.get(peer)
        if other is None:
            lines.append(f"- pier overhead ÷ {peer} overhead: {peer} not measured")
            continue
        r = overhead_ratio(pier["over"], other["over"])
        if r is None:
            lines.append(f"- pier overhead ÷ {peer} overhead: undefined ({peer}'s overhead "
                         f"{other['over']:+.3f} cpu-s/100k is not above zero: below the noise)")
        else:
            lines.append(f"- pier overhead ÷ {peer} overhead: **{r:.2f}** "
                         f"({pier['over']:+.3f} ÷ {other['over']:+.3f} cpu-s/100k)")
    lines.append("- " + goal_verdict(pier, by.get("nginx")))
    return lines


def goal_verdict(pier, nginx):
    goal = f"goal: pier's Lua overhead ≤ {GOAL_VS_NGINX}× nginx+Lua's"
    if pier is None or nginx is None:
        return f"{goal}: NOT EVALUATED (pier and nginx both need paired rounds)"
    r = overhead_ratio(pier["over"], nginx["over"])
    if r is None:
        return (f"{goal}: NOT EVALUATED (nginx's overhead {nginx['over']:+.3f} is not above "
                f"zero; use more rounds)")
    verdict = "MET" if r <= GOAL_VS_NGINX else "NOT MET"
    return f"{goal}: **{verdict}** (ratio {r:.2f})"


# ---- memory mode ----------------------------------------------------------


def mem_row(routes, plain_after, lua_before, lua_after):
    """Figures of one route count (KiB in, KiB out); None where a side is missing."""
    delta = None
    if plain_after is not None and lua_after is not None:
        delta = lua_after - plain_after
    return {
        "routes": routes,
        "plain_kib": plain_after,
        "lua_before_kib": lua_before,
        "lua_kib": lua_after,
        "delta_kib": delta,
        "per_route_kib": delta / routes if delta is not None and routes else None,
    }


def mem_table(rows):
    out = ["| routes | RSS without scripts, KiB | RSS with scripts before any request, KiB | "
           "RSS with scripts after one request per route, KiB | delta, KiB | per route, KiB |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['routes']} | {_f(r['plain_kib'], '{:d}')} | "
                   f"{_f(r['lua_before_kib'], '{:d}')} | {_f(r['lua_kib'], '{:d}')} | "
                   f"{_f(r['delta_kib'], '{:+d}')} | {_f(r['per_route_kib'], '{:.1f}')} |")
    return "\n".join(out)
