"""Config files for the backends and every proxy target.

Fairness rule: no proxy adds request headers (no X-Forwarded-For/-Proto,
no request id, no Via). All balance round-robin over the same two backends
and keep idle upstream connections pooled.
"""
import os

BODY_BYTES = 1024
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


def nginx_backend(prefix, port):
    os.makedirs(prefix, exist_ok=True)
    return _nginx_head(prefix, 1) + f"""http {{{_nginx_common(prefix)}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location = /nginx_status {{ stub_status; }}
        location = /__hdrs {{ return 200 "{HDRS_BODY}"; }}
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
