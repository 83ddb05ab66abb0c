#!/usr/bin/env bash
# Builds one CMake preset (default: release), optionally only some targets:
#   scripts/build.sh [release|debug|fuzz] [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
shift || true
cmake --preset "$preset" >/dev/null
if (($#)); then
  cmake --build --preset "$preset" -j "$(nproc)" --target "$@"
else
  cmake --build --preset "$preset" -j "$(nproc)"
fi
