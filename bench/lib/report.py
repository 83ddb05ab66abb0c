"""Markdown tables (medians over rounds) and pier-vs-peer ratios."""
import math
import statistics

COLUMNS = [
    # (header, cell key, format)
    ("rps", "rps", "{:.0f}"),
    ("p50 ms", "p50_ms", "{:.2f}"),
    ("p99 ms", "p99_ms", "{:.2f}"),
    ("cores", "cores", "{:.2f}"),
    ("cpu-s/100k", "cpu100k", "{:.2f}"),
    ("be conn/1k", "be_conn_1k", "{:.1f}"),
    ("bg cores", "bg_cores", "{:.2f}"),
]


def median_of(cells, key):
    vals = [c[key] for c in cells if c.get(key) is not None]
    return statistics.median(vals) if vals else None


def _fmt(value, spec):
    return "-" if value is None else spec.format(value)


def _by(cells, load, target):
    return [c for c in cells if c["load"] == load and c["target"] == target and c.get("ok")]


def load_table(cells, load, targets, columns=None):
    """One row per target: the median over rounds of each of `columns` (default COLUMNS)."""
    columns = COLUMNS if columns is None else columns
    head = "| target | " + " | ".join(h for h, _, _ in columns) + " | n |"
    rule = "|---" * (len(columns) + 2) + "|"
    rows = [head, rule]
    for t in targets:
        mine = _by(cells, load, t)
        vals = [_fmt(median_of(mine, key), spec) for _, key, spec in columns]
        rows.append(f"| {t} | " + " | ".join(vals) + f" | {len(mine)} |")
    return "\n".join(rows)


def _per_round(cells, load, target, key):
    return {c["round"]: c[key] for c in _by(cells, load, target) if c.get(key) is not None}


def _ratio_row(label, num, den):
    """num/den: dicts round -> value. Ratio of medians, then paired geo-mean."""
    if not num or not den:
        return None
    mn, md = statistics.median(num.values()), statistics.median(den.values())
    of_medians = mn / md if md else None
    paired = [num[r] / den[r] for r in num if r in den and den[r] and num[r] > 0]
    if paired:
        geo = math.exp(sum(math.log(x) for x in paired) / len(paired))
        paired_s = f"{geo:.2f} ({min(paired):.2f}–{max(paired):.2f}, n={len(paired)})"
    else:
        paired_s = "-"
    return f"| {label} | {_fmt(of_medians, '{:.2f}')} | {paired_s} |"


def _workers(target, kind):
    return int(target[len(kind):]) if target.startswith(kind) and target[len(kind):].isdigit() else None


DEFAULT_RATIO_METRICS = (("cpu-s/100k", "cpu100k"), ("p99", "p99_ms"))


def ratio_section(cells, load, targets, metrics=DEFAULT_RATIO_METRICS, rate=("rps", "rps"),
                  rate_per_peer=False):
    """pierN ÷ hapN and ÷ ngxN for each of `metrics` ((label, key) pairs), then the
    `rate` (label, key) of pierN (N >= 2) against the best N-worker peer.

    With rate_per_peer, the rate is also divided by each same-N peer, for every N.
    """
    rows = []
    piers = [t for t in targets if _workers(t, "pier") is not None]
    rate_label, rate_key = rate
    if rate_per_peer:
        metrics = tuple(metrics) + (rate,)
    for metric, key in metrics:
        for p in piers:
            n = _workers(p, "pier")
            for peer in (f"hap{n}", f"ngx{n}"):
                if peer in targets:
                    row = _ratio_row(f"{metric}: {p} ÷ {peer}",
                                     _per_round(cells, load, p, key),
                                     _per_round(cells, load, peer, key))
                    if row:
                        rows.append(row)
    for p in piers:
        n = _workers(p, "pier")
        if n < 2:
            continue
        peers = [t for t in (f"hap{n}", f"ngx{n}") if t in targets]
        per_peer = {t: _per_round(cells, load, t, rate_key) for t in peers}
        per_peer = {t: v for t, v in per_peer.items() if v}
        if not per_peer:
            continue
        best_med = max(per_peer, key=lambda t: statistics.median(per_peer[t].values()))
        rounds = set.union(*(set(v) for v in per_peer.values()))
        # Paired: pier against whichever peer was faster in that same round.
        best_each = {r: max(v[r] for v in per_peer.values() if r in v) for r in rounds}
        mine = _per_round(cells, load, p, rate_key)
        row = _ratio_row(f"{rate_label}: {p} ÷ best {n}-worker peer ({best_med} by median)",
                         mine, per_peer[best_med])
        paired_row = _ratio_row(f"{rate_label}: {p} ÷ faster {n}-worker peer of each round",
                                mine, best_each)
        rows += [r for r in (row, paired_row) if r]
    if not rows:
        return ""
    return "\n".join(["| ratio | of medians | paired geo-mean (range, n) |",
                      "|---|---|---|"] + rows)


def render(cells, loads, targets, header_lines, failures, title="pier L7 HTTP benchmark"):
    out = [f"# {title}", ""] + header_lines + [""]
    for load in loads:
        out += [f"## {load}", "", load_table(cells, load, targets), ""]
        ratios = ratio_section(cells, load, targets)
        if ratios:
            out += [f"### {load}: pier ÷ peers", "",
                    "cpu-s/100k and p99 below 1 and rps above 1 favour pier.", "",
                    ratios, ""]
    if failures:
        out += ["## Problems", ""] + [f"- {f}" for f in failures] + [""]
    return "\n".join(out)
