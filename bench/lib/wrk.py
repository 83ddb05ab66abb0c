"""wrk command lines and parsing of `wrk --latency` output."""
import re

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_PCT = re.compile(r"^\s*(\d+(?:\.\d+)?)%\s+([\d.]+)(us|ms|s|m|h)\s*$")
_REQS = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)")
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)")
_SOCK = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_NON2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
# wrk prints bytes with binary prefixes: "130.50MB read", "512.00B read".
_READ = re.compile(r"requests in [\d.]+\w+, ([\d.]+)([KMGTP]?)B read")
_BINARY = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}


def parse_load(name):
    """'ka64' -> (64, False); 'close64' -> (64, True); None if malformed."""
    m = re.fullmatch(r"(ka|close)(\d+)", name)
    if not m or int(m.group(2)) < 1:
        return None
    return int(m.group(2)), m.group(1) == "close"


def argv(port, conns, close, duration, path="/"):
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--latency"]
    if close:
        cmd += ["-H", "Connection: close"]
    return cmd + [f"http://127.0.0.1:{port}{path}"]


def parse(text):
    """Dict with rps, requests, secs, p50_ms..p99_ms, errors, non2xx and
    bytes (response bytes read, headers included; wrk prints two decimals
    of a binary unit, so this is good to about 0.5 %).

    Raises ValueError if the summary lines are missing.
    """
    out = {"errors": 0, "non2xx": 0}
    in_dist = False
    for line in text.splitlines():
        if "Latency Distribution" in line:
            in_dist = True
            continue
        m = _PCT.match(line)
        if in_dist and m:
            key = "p" + m.group(1).replace(".", "_") + "_ms"
            out[key] = float(m.group(2)) * _UNIT_MS[m.group(3)]
            continue
        in_dist = in_dist and bool(m)
        m = _REQS.match(line)
        if m:
            out["requests"] = int(m.group(1))
            out["secs"] = float(m.group(2)) * _UNIT_MS[m.group(3)] / 1000.0
        m = _READ.search(line)
        if m:
            out["bytes"] = float(m.group(1)) * _BINARY[m.group(2)]
        m = _RPS.match(line)
        if m:
            out["rps"] = float(m.group(1))
        m = _SOCK.search(line)
        if m:
            out["errors"] = sum(int(g) for g in m.groups())
            out["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"),
                                            map(int, m.groups())))
        m = _NON2XX.search(line)
        if m:
            out["non2xx"] = int(m.group(1))
    for key in ("rps", "requests", "p50_ms", "p99_ms"):
        if key not in out:
            raise ValueError(f"wrk output has no {key}")
    return out
