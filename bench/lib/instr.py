"""Instructions per request under callgrind (bench/lua_instr_bench.py).

A server runs under `valgrind --tool=callgrind` twice, serving R1 and then
R2 rounds of a fixed keep-alive load. Start-up, the checks and shutdown are
the same in both runs, so (Ir(R2) − Ir(R1)) / (requests(R2) − requests(R1))
is the user-space instructions of one request, without timing noise.
"""
import re
import signal
import socket
import statistics
import time

from . import lua_report

# Foreground and one process: the instructions of every request land in the
# process valgrind started (callgrind does not follow forks by default).
# pier and HAProxy already run that way (`pier run`, `haproxy -db`).
GRACEFUL_STOP = {"pier": signal.SIGINT, "nginx": signal.SIGQUIT, "haproxy": signal.SIGUSR1}

_TOTAL = re.compile(rb"^(?:summary|totals):\s+(\d+)", re.M)


def callgrind_argv(valgrind, out_file, argv):
    # Only the Ir count is wanted: no cache or branch simulation (callgrind's
    # defaults, stated so a changed default cannot slow every run down).
    return [valgrind, "--tool=callgrind", f"--callgrind-out-file={out_file}",
            "--cache-sim=no", "--branch-sim=no", "--"] + list(argv)


def read_total(path):
    """The Ir total of a callgrind output file (callgrind_annotate's PROGRAM TOTALS).

    The file states it on its `summary:` line (and again on `totals:`); for
    one event counted, both equal callgrind_annotate's figure. ValueError if
    neither is there, e.g. the process was killed before it could write them.
    """
    with open(path, "rb") as f:
        data = f.read()
    m = _TOTAL.search(data)
    if not m:
        raise ValueError(f"{path}: no summary/totals line (callgrind did not finish the file)")
    return int(m.group(1))


def nginx_single_process(text):
    """An nginx config with `master_process off`: the worker's requests run in the
    process valgrind started instead of a forked child it would not follow."""
    anchor = "master_process on;"
    if text.count(anchor) != 1:
        raise ValueError(f"nginx config: {anchor!r} found {text.count(anchor)} times, want 1")
    return text.replace(anchor, "master_process off;")


def per_request(run1, run2):
    """Figures of one pair of runs, each {"requests": n, "ir": total}.

    ir_per_req: the slope between the two runs; fixed_ir: what the first run
    spent besides its requests (start-up, checks, connection set-up, shutdown).
    ValueError unless run2 served more requests than run1.
    """
    dn = run2["requests"] - run1["requests"]
    if dn <= 0:
        raise ValueError("the second run must serve more requests than the first")
    slope = (run2["ir"] - run1["ir"]) / dn
    return {"ir_per_req": slope, "fixed_ir": run1["ir"] - slope * run1["requests"]}


def summarize(pairs):
    """One target from its repeats, a list of (run1, run2): medians and the range of Ir/request."""
    each = [per_request(a, b) for a, b in pairs]
    if not each:
        raise ValueError("no pair of runs")
    slopes = [e["ir_per_req"] for e in each]
    return {"ir_per_req": statistics.median(slopes), "lo": min(slopes), "hi": max(slopes),
            "n": len(each), "fixed_ir": statistics.median(e["fixed_ir"] for e in each),
            "each": slopes}


# ---- the load -------------------------------------------------------------


class LoadError(RuntimeError):
    pass


def _read_response(sock, buf, want_body, deadline):
    """(status line, rest of buf) of one response read from sock (Content-Length framing)."""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            lines = buf[:end].decode("latin-1").split("\r\n")
            length = None
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
                elif name.strip().lower() == "transfer-encoding":
                    raise LoadError(f"unexpected Transfer-Encoding: {value.strip()}")
            if length is None:
                raise LoadError(f"response without Content-Length: {lines[0]!r}")
            if want_body is not None and length != want_body:
                raise LoadError(f"{lines[0]!r} with a {length}-byte body (want {want_body})")
            total = end + 4 + length
            if len(buf) >= total:
                return lines[0], buf[total:]
        left = deadline - time.monotonic()
        if left <= 0:
            raise LoadError("time limit reached while waiting for a response")
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            raise LoadError("time limit reached while waiting for a response") from None
        except ConnectionResetError:
            # A request sent after the server closed is answered with a reset.
            raise LoadError("the server closed a keep-alive connection (reset)") from None
        if not chunk:
            raise LoadError("the server closed a keep-alive connection")
        buf += chunk


def run_load(port, conns, rounds, time_limit, want_body=None, path="/"):
    """conns keep-alive connections; each round sends one GET on every
    connection, then reads every response. Returns the responses read (all 200).

    The same requests arrive in the same order in every run, so the server's
    work differs between runs only by the number of rounds. LoadError on any
    failure, or once time_limit seconds have passed.
    """
    deadline = time.monotonic() + time_limit
    req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    socks = []
    try:
        for _ in range(conns):
            left = deadline - time.monotonic()
            if left <= 0:
                raise LoadError("time limit reached while connecting")
            try:
                socks.append(socket.create_connection(("127.0.0.1", port), timeout=left))
            except OSError as e:
                raise LoadError(f"connect to 127.0.0.1:{port}: {e}") from None
        bufs = [b""] * conns
        done = 0
        for _ in range(rounds):
            for s in socks:
                s.settimeout(max(0.001, deadline - time.monotonic()))
                try:
                    s.sendall(req)
                except (BrokenPipeError, ConnectionResetError) as e:
                    raise LoadError(f"the server closed a keep-alive connection (send: {e})") from None
                except OSError as e:
                    raise LoadError(f"send: {e}") from None
            for i, s in enumerate(socks):
                try:
                    status, bufs[i] = _read_response(s, bufs[i], want_body, deadline)
                except OSError as e:
                    raise LoadError(f"receive: {e}") from None
                if status.split(" ")[1:2] != ["200"]:
                    raise LoadError(f"got {status!r} (want 200)")
                done += 1
        return done
    finally:
        for s in socks:
            s.close()


# ---- report ---------------------------------------------------------------


def _f(value, spec):
    return "-" if value is None else spec.format(value)


def target_table(results):
    """results: {target: summarize(...)} in display order."""
    rows = ["| target | Ir/request (median) | range over repeats | repeats | "
            "fixed Ir (start, checks, stop), M |",
            "|---|---|---|---|---|"]
    for name, r in results.items():
        rows.append(f"| {name} | {r['ir_per_req']:,.0f} | {r['lo']:,.0f} … {r['hi']:,.0f} | "
                    f"{r['n']} | {r['fixed_ir'] / 1e6:,.1f} |")
    return "\n".join(rows)


def overheads(results):
    """Per server with both variants measured: plain, +lua and the overhead (Ir/request).

    The overhead is the difference of the medians; its range pairs the
    extremes (lowest lua − highest plain … highest lua − lowest plain).
    """
    out = []
    for s in lua_report.SERVERS:
        plain, lua = results.get(s), results.get(lua_report.lua_name(s))
        if plain is None or lua is None:
            continue
        p, l = plain["ir_per_req"], lua["ir_per_req"]
        out.append({"server": s, "plain": p, "lua": l, "over": l - p,
                    "over_pct": (l - p) / p * 100 if p else None,
                    "lo": lua["lo"] - plain["hi"], "hi": lua["hi"] - plain["lo"]})
    return out


def overhead_table(summaries):
    rows = ["| server | plain Ir/request | +lua Ir/request | Lua overhead Ir/request | "
            "range | % of plain |",
            "|---|---|---|---|---|---|"]
    for s in summaries:
        rows.append(f"| {s['server']} | {s['plain']:,.0f} | {s['lua']:,.0f} | "
                    f"{s['over']:+,.0f} | {s['lo']:+,.0f} … {s['hi']:+,.0f} | "
                    f"{_f(s['over_pct'], '{:+.1f}')} % |")
    return "\n".join(rows)


def ratio_lines(results, summaries):
    """pier ÷ nginx and pier ÷ HAProxy: plain, +lua and the Lua overhead; then the goal."""
    by = {s["server"]: s for s in summaries}
    lines = []
    for peer in ("nginx", "haproxy"):
        parts = []
        for suffix in ("", "+lua"):
            mine, other = results.get("pier" + suffix), results.get(peer + suffix)
            if mine and other and other["ir_per_req"] > 0:
                parts.append(f"{'+lua' if suffix else 'plain'} "
                             f"{mine['ir_per_req'] / other['ir_per_req']:.2f}")
        r = None
        if "pier" in by and peer in by:
            r = lua_report.overhead_ratio(by["pier"]["over"], by[peer]["over"])
            parts.append("Lua overhead " + (f"**{r:.2f}**" if r is not None else
                                            f"undefined ({peer}'s overhead is not above zero)"))
        lines.append(f"- pier ÷ {peer}: " + ("; ".join(parts) if parts else "not measured"))
    goal = (f"goal in instructions: pier's Lua overhead ≤ {lua_report.GOAL_VS_NGINX}× "
            "nginx+Lua's")
    if "pier" not in by or "nginx" not in by:
        lines.append(f"- {goal}: NOT EVALUATED (needs all four pier and nginx targets)")
    else:
        r = lua_report.overhead_ratio(by["pier"]["over"], by["nginx"]["over"])
        if r is None:
            lines.append(f"- {goal}: NOT EVALUATED (nginx's overhead is not above zero)")
        else:
            verdict = "MET" if r <= lua_report.GOAL_VS_NGINX else "NOT MET"
            lines.append(f"- {goal}: **{verdict}** (ratio {r:.2f})")
    return lines
