#!/usr/bin/env bash
# End-to-end throughput, CPU per line and peak RSS of the real binary: LINES real Winston
# lines (cycled from the shared fixture) shipped with `run --once` to the file sink, with
# the disk buffer and every fsync. Usage: scripts/bench-e2e.sh [LINES] (default 1000000).
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-1000000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
make -s build
mkdir -p "$work/logs"
awk -v n="$lines" 'NF { l[c++] = $0 } END { for (i = 0; i < n; i++) print l[i % c] }' \
  agent/testdata/combined.log > "$work/logs/combined.log"
cp config.example.yaml "$work/winship.yaml"
bytes=$(stat -c %s "$work/logs/combined.log")
/usr/bin/time -f '%e %U %S %M' -o "$work/time" bin/winship run --once -c "$work/winship.yaml" 2>/dev/null
read -r wall user sys rss < "$work/time"
awk -v n="$lines" -v b="$bytes" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" 'BEGIN {
  printf "%d lines (%.0f MB) in %.2f s: %.0f lines/s, %.2f µs CPU per line (user %.2f s + sys %.2f s), peak RSS %.1f MB\n",
    n, b / 1e6, w, n / w, (u + s) * 1e6 / n, u, s, r / 1024 }'
