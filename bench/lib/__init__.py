"""Helpers for bench/http_bench.py (stdlib only; Debian's python3)."""
