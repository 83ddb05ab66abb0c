"""Access logs written to files: default text and JSON formats, custom templates and field lists."""

from __future__ import annotations

import json
import re

import pytest

import httpraw
from cfg import cluster, config, listener
from pier_proc import eventually


@pytest.fixture(scope="module")
def env(mres):
    echo = mres.echo("echo")
    logdir = mres.subdir("logs")
    ports = {k: httpraw.free_port() for k in ("text", "json", "custom_text", "custom_json")}
    paths = {k: logdir / f"{k}.log" for k in ports}
    routes = [
        {"name": "logged", "match": {"prefix": "/logged"}, "cluster": "app"},
        {"name": "made", "match": {"prefix": "/custom"}, "direct_response": {"status": 201, "body": "ok"}},
    ]
    listeners = [
        listener("text", ports["text"], routes=routes, access_log={"path": str(paths["text"]), "format": "text"}),
        listener("json", ports["json"], routes=routes, access_log={"path": str(paths["json"]), "format": "json"}),
        listener("custom_text", ports["custom_text"], routes=routes,
                 access_log={"path": str(paths["custom_text"]), "format": "text",
                             "text_format": "%METHOD% %PATH% %STATUS% %REQUEST_ID%"}),
        listener("custom_json", ports["custom_json"], routes=routes,
                 access_log={"path": str(paths["custom_json"]), "format": "json",
                             "json_fields": ["method", "path", "status"]}),
    ]
    pier = mres.pier(config(listeners, [cluster("app", [echo])]))
    return {"ports": ports, "paths": paths, "pier": pier, "echo": echo}


def wait_line(path, needle: str, timeout: float = 5.0) -> str:
    def find():
        try:
            text = path.read_text()
        except FileNotFoundError:
            return None
        return next((l for l in text.splitlines() if needle in l), None)
    return eventually(find, timeout, message=f"a line containing {needle!r} in {path}")


def test_default_text_format(env):
    port = env["ports"]["text"]
    r = httpraw.request(port, "GET", "/logged/text", headers=[("X-Request-Id", "rid-text-1")])
    assert r.status == 200
    line = wait_line(env["paths"]["text"], "rid-text-1")
    m = re.search(r'"GET /logged/text HTTP/1\.1" 200 (\d+) (\d+) (\d+(?:\.\d+)?) "([^"]*)" "rid-text-1"$', line)
    assert m, line
    received, sent, _duration, upstream = m.groups()
    request_len = len(httpraw.build_request("GET", "/logged/text", headers=[("X-Request-Id", "rid-text-1")]))
    assert int(received) <= request_len
    assert len(r.body) <= int(sent) <= len(r.raw_head) + len(r.body)
    assert upstream == env["echo"].address


def test_text_log_records_status_of_errors(env):
    port = env["ports"]["text"]
    assert httpraw.request(port, "GET", "/not-routed", headers=[("X-Request-Id", "rid-404")]).status == 404
    line = wait_line(env["paths"]["text"], "rid-404")
    assert '"GET /not-routed HTTP/1.1" 404 ' in line


def test_default_json_format(env):
    port = env["ports"]["json"]
    body = b"0123456789"
    r = httpraw.request(port, "POST", "/logged/json", headers=[("X-Request-Id", "rid-json-1")], body=body)
    assert r.status == 200
    entry = json.loads(wait_line(env["paths"]["json"], "rid-json-1"))
    assert set(entry) >= {"start_time", "method", "path", "protocol", "status", "bytes_received", "bytes_sent",
                          "duration_ms", "upstream_host", "request_id", "route", "downstream_remote"}
    assert entry["method"] == "POST"
    assert entry["path"] == "/logged/json"
    assert entry["protocol"] == "HTTP/1.1"
    assert str(entry["status"]) == "200"
    assert int(entry["bytes_received"]) >= len(body)
    assert int(entry["bytes_sent"]) >= len(r.body)
    assert float(entry["duration_ms"]) >= 0
    assert entry["upstream_host"] == env["echo"].address
    assert entry["request_id"] == "rid-json-1"
    assert entry["route"] == "logged"
    assert entry["downstream_remote"].startswith("127.0.0.1")


def test_json_lines_are_one_object_per_line(env):
    port = env["ports"]["json"]
    for i in range(3):
        httpraw.request(port, "GET", f"/logged/many/{i}", headers=[("X-Request-Id", f"rid-many-{i}")])
    wait_line(env["paths"]["json"], "rid-many-2")
    for line in env["paths"]["json"].read_text().splitlines():
        assert isinstance(json.loads(line), dict), line


def test_generated_request_id_is_logged(env):
    port = env["ports"]["json"]
    httpraw.request(port, "GET", "/logged/generated-id")
    entry = json.loads(wait_line(env["paths"]["json"], "/logged/generated-id"))
    seen_ids = [v for r in env["echo"].requests if r["path"] == "/logged/generated-id"
                for n, v in r["headers"] if n.lower() == "x-request-id"]
    assert seen_ids and entry["request_id"] == seen_ids[-1]


def test_custom_text_format(env):
    port = env["ports"]["custom_text"]
    assert httpraw.request(port, "POST", "/custom", body=b"", headers=[("X-Request-Id", "rid-c")]).status == 201
    line = wait_line(env["paths"]["custom_text"], "rid-c")
    assert line == "POST /custom 201 rid-c"


def test_custom_json_fields(env):
    port = env["ports"]["custom_json"]
    assert httpraw.request(port, "GET", "/custom/fields").status == 201
    entry = json.loads(wait_line(env["paths"]["custom_json"], "/custom/fields"))
    assert set(entry) == {"method", "path", "status"}
    assert entry["method"] == "GET" and str(entry["status"]) == "201"
