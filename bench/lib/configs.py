"""Config files for the backends and every proxy target.

Fairness rule: no proxy adds request headers (no X-Forwarded-For/-Proto,
no request id, no Via). All balance round-robin over the same two backends
and keep idle upstream connections pooled.
"""
import os

BODY_BYTES = 1024
# The bulk-transfer body of l4_bench: a static file, served with sendfile.
BULK_PATH = "/bulk.bin"
BULK_BYTES = 1 << 20
# Debian's libnginx-mod-stream; configs passed with -c do not read modules-enabled.
STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"
# 1023 printable bytes plus a newline (nginx's "\n" escape in the config):
# exactly BODY_BYTES on the wire.
_BODY_TEXT = ("pier-bench-" * 100)[:BODY_BYTES - 1]

# Returned by the backends on /__hdrs: the forwarding headers a proxy added.
HDRS_BODY = ("xff=[$http_x_forwarded_for] xfp=[$http_x_forwarded_proto] "
             "rid=[$http_x_request_id] via=[$http_via] fwd=[$http_forwarded]")


def _nginx_common(prefix):
    # Debian compiles absolute temp paths under /var/lib/nginx; keep each
    # instance inside its own prefix instead.
    return f"""
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    default_type text/plain;"""


def _nginx_head(prefix, workers):
    return f"""daemon off;
master_process on;
worker_processes {workers};
worker_rlimit_nofile 65536;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 16384; }}
"""


def nginx_backend(prefix, port, bulk_bytes=0):
    """The 1 KiB backend; with bulk_bytes, it also serves a file of that size at BULK_PATH."""
    os.makedirs(prefix, exist_ok=True)
    bulk = ""
    if bulk_bytes:
        _write_bulk_file(prefix, bulk_bytes)
        # sendfile: the backend's own cost for bulk bodies stays small, so
        # the proxy gets as much of the machine as possible.
        bulk = f"""
        location = {BULK_PATH} {{ root {prefix}/www; sendfile on; tcp_nopush on; }}"""
    return _nginx_head(prefix, 1) + f"""http {{{_nginx_common(prefix)}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location = /nginx_status {{ stub_status; }}
        location = /__hdrs {{ return 200 "{HDRS_BODY}"; }}{bulk}
        location / {{ return 200 "{_BODY_TEXT}\\n"; }}
    }}
}}
"""


def nginx_proxy(prefix, port, workers, backends):
    os.makedirs(prefix, exist_ok=True)
    servers = "\n".join(f"        server 127.0.0.1:{b};" for b in backends)
    return _nginx_head(prefix, workers) + f"""http {{{_nginx_common(prefix)}
    upstream be {{
{servers}
        keepalive 1024;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            proxy_pass http://be;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


def nginx_argv(prefix, conf_path):
    # -e: nginx otherwise opens its compiled-in error log before reading -c.
    return ["nginx", "-p", prefix + "/", "-e", prefix + "/error.log", "-c", conf_path]


def haproxy(port, threads, backends):
    servers = "\n".join(f"    server b{i + 1} 127.0.0.1:{b}"
                        for i, b in enumerate(backends))
    return f"""global
    nbthread {threads}
    maxconn 8000

defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 30s

frontend fe
    bind 127.0.0.1:{port}
    default_backend be

backend be
    balance roundrobin
{servers}
"""


def haproxy_argv(conf_path):
    # -db: foreground, no master-worker: one process whose threads we measure.
    return ["haproxy", "-db", "-f", conf_path]


def pier(port, workers, backends):
    eps = ", ".join(f"127.0.0.1:{b}" for b in backends)
    return f"""admin: {{ enabled: false }}
workers: {workers}
listeners:
  - name: bench
    address: 127.0.0.1:{port}
    protocol: http
    forwarding: {{ x_forwarded_for: false, x_forwarded_proto: false, request_id_header: "" }}
    routes:
      - match: {{ prefix: / }}
        cluster: be
clusters:
  - name: be
    lb: round_robin
    endpoints: [{eps}]
"""


# ---- L4 (bench/l4_bench.py) ---------------------------------------------


def _write_bulk_file(prefix, size):
    os.makedirs(os.path.join(prefix, "www"), exist_ok=True)
    path = os.path.join(prefix, "www", BULK_PATH.lstrip("/"))
    chunk = (b"pier-bulk-" * 6554)[:65536]
    with open(path, "wb") as f:
        left = size
        while left > 0:
            f.write(chunk[:left])
            left -= len(chunk)
    # nginx workers may run as nobody.
    os.chmod(os.path.join(prefix, "www"), 0o755)
    os.chmod(path, 0o644)


def nginx_stream(prefix, port, workers, backends):
    """nginx `stream {}` TCP proxy, round-robin, everything else at defaults."""
    os.makedirs(prefix, exist_ok=True)
    servers = "\n".join(f"        server 127.0.0.1:{b};" for b in backends)
    return f"load_module {STREAM_MODULE};\n" + _nginx_head(prefix, workers) + f"""stream {{
    upstream be {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        proxy_pass be;
    }}
}}
"""


def haproxy_tcp(port, threads, backends, splice=False):
    """HAProxy `mode tcp`, round-robin, everything else at defaults.

    splice: `option splice-auto`, HAProxy's kernel splicing (pier splices by default).
    """
    splice_line = "    option splice-auto\n" if splice else ""
    # Pipes cost two FDs each; the default (maxconn / 4) would need more
    # FDs than the usual 20000 hard limit allows.
    pipes = "    maxpipes 1000\n" if splice else ""
    servers = "\n".join(f"    server b{i + 1} 127.0.0.1:{b}"
                        for i, b in enumerate(backends))
    return f"""global
    nbthread {threads}
    maxconn 8000
{pipes}
defaults
    mode tcp
{splice_line}    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend fe
    bind 127.0.0.1:{port}
    default_backend be

backend be
    balance roundrobin
{servers}
"""


def pier_tcp(port, workers, backends):
    eps = ", ".join(f"127.0.0.1:{b}" for b in backends)
    return f"""admin: {{ enabled: false }}
workers: {workers}
listeners:
  - name: tcp
    address: 127.0.0.1:{port}
    protocol: tcp
    cluster: be
clusters:
  - name: be
    lb: round_robin
    endpoints: [{eps}]
"""
