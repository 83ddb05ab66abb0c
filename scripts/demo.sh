#!/usr/bin/env bash
# pier's demo: a small bare-metal network in network namespaces on this
# machine (a client, a switch, three nodes running pier, two pod-like backends
# behind each node). The client reaches a virtual IP that exactly one node
# answers ARP for; the demo kills that node and shows how fast the IP moves and
# that requests carry on, then hands it over gracefully. Needs root.
# Everything it creates is removed when it exits (`pier lab down`).
# The HTTP proxy on its own: scripts/proxy-demo.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release

PIER=$PWD/build/release/pier
trap '"$PIER" lab down >/dev/null 2>&1 || true' EXIT
"$PIER" lab demo --binary "$PIER"
