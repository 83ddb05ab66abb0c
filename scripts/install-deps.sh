#!/usr/bin/env bash
# Installs everything pier needs to build, test and benchmark, from Debian 12
# packages. Safe to run again: it only calls apt-get when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev libre2-dev libssl-dev libluajit2-5.1-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-pytest python3-yaml curl wrk nginx-light libnginx-mod-stream libnginx-mod-http-lua haproxy iproute2 procps strace linux-perf
  arping ndisc6 keepalived tcpdump
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian starts nginx, haproxy and keepalived as services when installed;
# pier's tests and benchmarks run their own instances, so the system ones must
# not hold ports or virtual IPs.
for svc in nginx haproxy keepalived; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  fi
done
