#!/usr/bin/env bash
# The embedding map's HTML with 100,000 points in headless Chromium: the page is written by the
# library's renderer (BirderReportsTests' aHundredThousandPointMap: 30 synthetic classes), then
# opened ROUNDS times from file:// in a fresh browser; the page itself records how long its script
# took (data-load-ms: parse the data, lay out, index, draw), the draw alone (data-render-ms) and
# the time from navigation start to the first complete picture (data-ready-ms). Prints one row
# per round and the medians. Timings are never part of the tests.
#
#   tools/bench/bench_report_map.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}
chrome=$(command -v chromium-headless-shell || command -v chromium)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
BIRDER_MAP_BENCHMARK_OUTPUT="$work/map.html" swift test --filter aHundredThousandPointMap >"$work/test.log" 2>&1 \
  || { tail -20 "$work/test.log"; exit 1; }
echo "page: $(stat -c %s "$work/map.html") bytes"
echo "round  points  load-ms  render-ms  ready-ms  browser-wall-s"
for round in $(seq 1 "$rounds"); do
  start=$(date +%s.%N)
  dom=$(timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
    --user-data-dir="$work/profile-$round" --window-size=1280,860 --dump-dom "file://$work/map.html" 2>/dev/null)
  wall=$(echo "$(date +%s.%N) - $start" | bc)
  value() { echo "$dom" | grep -oE "$1=\"[^\"]*\"" | head -1 | sed 's/.*="//; s/"//'; }
  [ -z "$(value data-errors)" ] || { echo "the page counted script errors"; exit 1; }
  printf "%5d  %6s  %7s  %9s  %8s  %14.2f\n" "$round" "$(value data-points)" "$(value data-load-ms)" \
    "$(value data-render-ms)" "$(value data-ready-ms)" "$wall"
done | tee "$work/rows"
median() { awk -v c="$1" '{ print $c }' "$work/rows" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
echo "median: load $(median 3) ms, render $(median 4) ms, ready $(median 5) ms, browser wall $(median 6) s"
