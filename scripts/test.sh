#!/usr/bin/env bash
# Installs what is missing, builds pier three ways and runs every test:
#   unit tests (debug with ASan+UBSan), the fuzz targets over their corpora
#   plus a short fuzzing run each, and the end-to-end suite that drives the real
#   binary (ASan build, then release) against real peers (curl, nginx, wrk, raw
#   sockets, network namespaces). The release build is only the binary: the
#   unit tests run once, under the sanitizers, to keep the whole run short.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

echo "== build: release (the pier binary)"
scripts/build.sh release pier
echo "== build: debug (ASan + UBSan), unit tests only"
# tests/<module>/*_test.cc -> <module>_tests; tests/fuzz/<name>_fuzz.cc -> fuzz_<name> (see CMakeLists.txt)
debug_tests=$(for d in tests/*/; do m=$(basename "$d"); ls "$d"*_test.cc >/dev/null 2>&1 && echo "${m}_tests"; done)
scripts/build.sh debug pier $debug_tests
echo "== build: fuzz targets (clang libFuzzer)"
fuzzers=$(for f in tests/fuzz/*_fuzz.cc; do n=$(basename "$f" _fuzz.cc); echo "fuzz_$n"; done)
scripts/build.sh fuzz $fuzzers

echo "== unit tests: debug (ASan + UBSan)"
ctest --preset debug -j "$(nproc)"

echo "== fuzz targets: corpus replay, then ${PIER_FUZZ_SECONDS:=10}s of fuzzing each"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for fuzzer in build/fuzz/fuzz_*; do
  name=${fuzzer##*/fuzz_}
  corpus=tests/fuzz/corpus/$name
  mkdir -p "$scratch/$name"
  # New inputs go to the scratch folder; the committed corpus is only read.
  "$fuzzer" -max_total_time="$PIER_FUZZ_SECONDS" -timeout=5 -rss_limit_mb=2048 -print_final_stats=0 \
    "$scratch/$name" "$corpus" >"$scratch/$name.log" 2>&1 ||
    { tail -50 "$scratch/$name.log"; echo "fuzz_$name failed"; exit 1; }
  echo "fuzz_$name: ok ($(grep -c . <(ls "$corpus")) seeds)"
done

echo "== benchmark helpers (bench/lib): their parsing and statistics"
/usr/bin/python3 -m unittest discover -q -s bench/lib -t bench

echo "== end-to-end tests with the ASan+UBSan binary (build/debug/pier): memory errors and leaks fail"
PIER_BIN="$PWD/build/debug/pier" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/e2e
echo "== end-to-end tests (build/release/pier)"
PIER_BIN="$PWD/build/release/pier" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/e2e
