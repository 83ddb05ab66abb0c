#!/usr/bin/env bash
# pier's demo: builds pier, starts two nginx backends on loopback, puts pier in
# front of them, sends requests through it and shows the answers and pier's
# metrics. Everything it starts is stopped (by PID) when it exits.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release

PIER=build/release/pier
LISTEN=127.0.0.1:18080
ADMIN=127.0.0.1:19901
work=$(mktemp -d /tmp/pier-demo.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

wait_for() {  # wait_for URL: polls until it answers 200, for at most 10 s
  local deadline=$((SECONDS + 10))
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    ((SECONDS < deadline)) || { echo "timed out waiting for $1" >&2; exit 1; }
    sleep 0.05
  done
}

for n in 1 2; do
  mkdir -p "$work/nginx$n/logs"
  cat >"$work/nginx$n/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
error_log $work/nginx$n/logs/error.log;
pid $work/nginx$n/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:1808$n;
    location / { return 200 "hello from backend $n\n"; }
  }
}
CONF
  nginx -p "$work/nginx$n" -c "$work/nginx$n/nginx.conf" &
  pids+=($!)
done

cat >"$work/pier.yaml" <<CONF
admin: { address: $ADMIN }
workers: 2
listeners:
  - name: web
    address: $LISTEN
    protocol: http
    routes:
      - match: { prefix: /healthz }
        direct_response: { status: 200, body: "pier is up\n" }
      - match: { prefix: / }
        cluster: app
clusters:
  - name: app
    lb: round_robin
    endpoints: [127.0.0.1:18081, 127.0.0.1:18082]
CONF

echo "== pier validate"
"$PIER" validate "$work/pier.yaml"
"$PIER" run --config "$work/pier.yaml" &
pids+=($!)
wait_for "http://127.0.0.1:18081/"
wait_for "http://127.0.0.1:18082/"
wait_for "http://$ADMIN/ready"

echo "== six requests to http://$LISTEN/ over new connections (2 workers, each balancing round robin over the two nginx backends)"
for i in 1 2 3 4 5 6; do
  curl -fsS "http://$LISTEN/hello/$i"
done
echo "== a route answered by pier itself"
curl -fsS "http://$LISTEN/healthz"
echo "== one response through pier (with the request id pier adds)"
curl -fsS -o /dev/null -D - "http://$LISTEN/" | tr -d '\r'
echo "== 2 seconds of load with wrk (16 keep-alive connections)"
wrk -t1 -c16 -d2s "http://$LISTEN/" | sed -n '1,8p'
echo "== pier's metrics (http://$ADMIN/stats/prometheus, excerpt)"
curl -fsS "http://$ADMIN/stats/prometheus" |
  grep -E '^pier_(listener_requests_total|endpoint_requests_total|listener_connections_total|cluster_upstream_connections_total)'
echo "== endpoints (http://$ADMIN/clusters)"
curl -fsS "http://$ADMIN/clusters"
