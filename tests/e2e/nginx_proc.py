"""Runs Debian's nginx as an unprivileged-port origin server in a private prefix."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import httpraw

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    default_type application/octet-stream;
    keepalive_requests 10000;
    keepalive_timeout 60s;
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        root {prefix}/www;
        location = /hello {{ default_type text/plain; return 200 "hello from nginx\\n"; }}
        location / {{ }}
    }}
}}
"""


class Nginx:
    """nginx serving `prefix`/www; files are added with put()."""

    def __init__(self, prefix: Path):
        self.prefix = Path(prefix)
        self.port = httpraw.free_port()
        self.www = self.prefix / "www"
        self.www.mkdir(parents=True, exist_ok=True)
        (self.prefix / "tmp").mkdir(exist_ok=True)
        (self.prefix / "logs").mkdir(exist_ok=True)
        self.conf = self.prefix / "nginx.conf"
        self.conf.write_text(_CONF.format(prefix=self.prefix, port=self.port))
        self.proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def put(self, name: str, data: bytes) -> Path:
        p = self.www / name
        p.write_bytes(data)
        return p

    def start(self) -> "Nginx":
        self._err = open(self.prefix / "stderr.log", "wb")
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(self.prefix), "-c", str(self.conf), "-e", str(self.prefix / "error.log")],
            stdin=subprocess.DEVNULL, stdout=self._err, stderr=self._err,
        )
        if not httpraw.wait_port_open(self.port, timeout=10):
            self.stop()
            raise RuntimeError(f"nginx did not start: {(self.prefix / 'error.log').read_text(errors='replace')}")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if getattr(self, "_err", None):
            self._err.close()
