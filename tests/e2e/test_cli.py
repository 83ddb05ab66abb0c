"""The command line: version, help, validate (with file:line:col errors), run failing fast."""

from __future__ import annotations

import re
import subprocess

import pytest

from pier_proc import run_cli

VALID = """\
admin:
  address: 127.0.0.1:19901
workers: 2
listeners:
  - name: web
    address: 127.0.0.1:18080
    protocol: http
    routes:
      - match:
          prefix: /
        cluster: app
clusters:
  - name: app
    lb: round_robin
    endpoints:
      - 127.0.0.1:18081
      - 127.0.0.1:18082
"""


@pytest.fixture(autouse=True)
def _binary(pier_bin):
    """Every test here runs the binary; fail with the fixture's clear message when it is missing."""


def _sub(old: str, new: str):
    def f(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)
    return f


def _append(extra: str):
    return lambda text: text + extra


def _before(anchor: str, extra: str):
    def f(text: str) -> str:
        assert anchor in text
        return text.replace(anchor, extra + anchor, 1)
    return f


# (id, mutation, marker: a substring of the line the error must point at, field path)
BROKEN = [
    ("prefix_without_slash", _sub("prefix: /\n", "prefix: api\n"), "prefix: api",
     "listeners[0].routes[0].match.prefix"),
    ("unknown_cluster", _sub("cluster: app", "cluster: nope"), "cluster: nope",
     "listeners[0].routes[0].cluster"),
    ("port_out_of_range", _sub("address: 127.0.0.1:18080", "address: 127.0.0.1:99999"), "127.0.0.1:99999",
     "listeners[0].address"),
    ("hostname_not_ip", _sub("address: 127.0.0.1:18080", "address: localhost:18080"), "localhost:18080",
     "listeners[0].address"),
    ("unknown_lb", _sub("lb: round_robin", "lb: fastest"), "lb: fastest", "clusters[0].lb"),
    ("endpoint_without_port", _sub("- 127.0.0.1:18082", "- 127.0.0.1"), "      - 127.0.0.1\n",
     "clusters[0].endpoints[1]"),
    ("invalid_regex", _sub("prefix: /\n", 'regex: "(unclosed"\n'), "regex:", "listeners[0].routes[0].match.regex"),
    ("unknown_field", _sub("protocol: http", "protocl: http"), "protocl", "listeners[0].protocl"),
    ("unknown_protocol", _sub("protocol: http", "protocol: gopher"), "gopher", "listeners[0].protocol"),
    ("bad_duration", _sub("cluster: app\n", "cluster: app\n        timeout: soon\n"), "timeout: soon",
     "listeners[0].routes[0].timeout"),
    ("negative_duration", _sub("lb: round_robin\n", "lb: round_robin\n    connect_timeout: -1s\n"),
     "connect_timeout", "clusters[0].connect_timeout"),
    ("workers_not_a_number", _sub("workers: 2", "workers: many"), "workers: many", "workers"),
    ("duplicate_cluster_name", _append("  - name: app  # dup\n    endpoints: [127.0.0.1:18083]\n"), "# dup",
     "clusters[1].name"),
    ("duplicate_listener_address",
     _before("clusters:", "  - name: web2\n    address: 127.0.0.1:18080  # dup\n    routes:\n"
                          "      - match: {prefix: /}\n        cluster: app\n"),
     "# dup", "listeners[1].address"),
    ("redirect_bad_status", _sub("        cluster: app\n", "        redirect:\n          status: 200\n"),
     "status: 200", "listeners[0].routes[0].redirect.status"),
    ("weighted_unknown_cluster",
     _sub("        cluster: app\n", "        weighted_clusters:\n          - cluster: app\n            weight: 1\n"
                                  "          - cluster: ghost\n            weight: 1\n"),
     "cluster: ghost", "listeners[0].routes[0].weighted_clusters[1].cluster"),
    ("access_log_bad_format",
     _sub("    protocol: http\n", "    protocol: http\n    access_log:\n      path: /tmp/x.log\n      format: xml\n"),
     "format: xml", "listeners[0].access_log.format"),
]


def _columns(line: str) -> set[int]:
    """1-based columns an error about this line may reasonably point at: the key or the value."""
    stripped = line.lstrip(" -")
    key = len(line) - len(stripped) + 1
    cols = {key}
    if ": " in stripped:
        cols.add(line.index(": ", key - 1) + 3)
    return cols


def _error_lines(stderr: str, path) -> list[re.Match]:
    rx = re.compile(rf"^(?:{re.escape(str(path))}|{re.escape(path.name)}):(\d+):(\d+): (\S+): (.+)$")
    return [m for m in (rx.match(l.strip()) for l in stderr.splitlines()) if m]


def test_version_prints_name_and_version():
    r = run_cli(["version"])
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(r"pier \d+\.\d+\.\d+\S*", r.stdout.strip()), r.stdout


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["validate", "--help"], ["version", "--help"]])
def test_help_exits_zero(args):
    r = run_cli(args)
    assert r.returncode == 0, r.stderr
    assert "usage" in (r.stdout + r.stderr).lower() or args[0] in r.stdout


def test_unknown_subcommand_fails():
    r = run_cli(["frobnicate"])
    assert r.returncode != 0


def test_validate_accepts_valid_config(tmp_path):
    path = tmp_path / "pier.yaml"
    path.write_text(VALID)
    r = run_cli(["validate", str(path)])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{path}: OK"


def test_validate_missing_file_fails_naming_it(tmp_path):
    path = tmp_path / "absent.yaml"
    r = run_cli(["validate", str(path)])
    assert r.returncode == 1
    assert "absent.yaml" in r.stderr


@pytest.mark.parametrize("case", BROKEN, ids=[c[0] for c in BROKEN])
def test_validate_reports_file_line_col_and_field(tmp_path, case):
    _, mutate, marker, field = case
    text = mutate(VALID)
    path = tmp_path / "pier.yaml"
    path.write_text(text)
    lines = text.splitlines(keepends=True)
    want_line = next(i for i, l in enumerate(lines, 1) if marker in l)

    r = run_cli(["validate", str(path)])
    assert r.returncode == 1, f"accepted broken config:\n{text}\nstdout={r.stdout!r}"
    errors = _error_lines(r.stderr, path)
    assert errors, f"no '<file>:<line>:<col>: <field>: <message>' line in stderr:\n{r.stderr}"
    match = next((m for m in errors if m.group(3) == field), None)
    assert match, f"no error for field {field!r}; got {[m.group(0) for m in errors]}"
    assert int(match.group(1)) == want_line, f"wrong line: {match.group(0)} (want line {want_line})"
    assert int(match.group(2)) in _columns(lines[want_line - 1].rstrip("\n")), \
        f"column {match.group(2)} points at neither key nor value of {lines[want_line - 1]!r}"


def test_validate_two_actions_in_one_route(tmp_path):
    text = VALID.replace("        cluster: app\n",
                         "        cluster: app\n        direct_response:\n          status: 200\n", 1)
    path = tmp_path / "pier.yaml"
    path.write_text(text)
    r = run_cli(["validate", str(path)])
    assert r.returncode == 1
    errors = _error_lines(r.stderr, path)
    assert any(m.group(3).startswith("listeners[0].routes[0]") for m in errors), r.stderr
    assert all(9 <= int(m.group(1)) <= 13 for m in errors if m.group(3).startswith("listeners[0].routes[0]")), r.stderr


def test_validate_missing_required_field_names_it(tmp_path):
    text = VALID.replace("    address: 127.0.0.1:18080\n", "", 1)
    path = tmp_path / "pier.yaml"
    path.write_text(text)
    r = run_cli(["validate", str(path)])
    assert r.returncode == 1
    errors = _error_lines(r.stderr, path)
    assert any(m.group(3) == "listeners[0].address" or m.group(3) == "listeners[0]" and "address" in m.group(4)
               for m in errors), r.stderr


def test_validate_yaml_syntax_error_has_location(tmp_path):
    text = VALID.replace("    routes:\n", "    routes: [\n", 1)
    path = tmp_path / "pier.yaml"
    path.write_text(text)
    r = run_cli(["validate", str(path)])
    assert r.returncode == 1
    assert re.search(rf"^(?:{re.escape(str(path))}|pier\.yaml):\d+:\d+: ", r.stderr, re.M), r.stderr


def test_run_with_invalid_config_exits_nonzero_with_location(tmp_path):
    path = tmp_path / "pier.yaml"
    path.write_text(VALID.replace("cluster: app", "cluster: nope"))
    try:
        r = run_cli(["run", "--config", str(path)], timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("pier run kept running with an invalid config")
    assert r.returncode != 0
    assert re.search(r"pier\.yaml:11:\d+: ", r.stderr), r.stderr
