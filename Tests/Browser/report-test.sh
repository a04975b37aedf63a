#!/usr/bin/env bash
# The three reports in a real browser, offline: builds each from fixture data with the built
# binary (`cluster --report map.html`, `probe eval --report report.html`, `predict --report
# sheet.html`), opens it from a file:// URL in headless Chromium (no network is used or needed),
# and checks the dumped DOM: the number of points drawn, the table rows, the thumbnails, the
# sheet's confidence filter, and that the page counted no script error (`data-errors`, set by
# every report's error counter) and Chromium logged none. Saves a screenshot of each into
# $REPORT_SCREENSHOTS (default: a temporary directory). Skips — saying why — only where no
# Chromium is installed (.ci/run installs Debian's chromium-headless-shell).
set -euo pipefail
cd "$(dirname "$0")/../.."
birder=${BIRDER:-.build/debug/birder}
model=Tests/Fixtures/cli/models/rdnet_t_tiny-test.pt

chrome=$(command -v chromium-headless-shell || command -v chromium || true)
if [ -z "$chrome" ]; then
  reason=$(cat .build/chromium-unavailable 2>/dev/null || echo "neither chromium-headless-shell nor chromium is on PATH")
  echo "browser report test: skipped: Chromium cannot be installed here ($reason)"
  exit 0
fi
[ -x "$birder" ] || { echo "browser report test: $birder is not built (swift build first)"; exit 1; }

work=$(mktemp -d)
trap '[ -n "${KEEP_WORK:-}" ] || rm -rf "$work"' EXIT
shots=${REPORT_SCREENSHOTS:-$work/screenshots}
mkdir -p "$shots"

# 360 samples of 12 classes in 8 dimensions: blobs around the corners of a cube, seeded; sample
# names carry a hostile class name too (it must stay text).
awk 'BEGIN {
  srand(7); print "sample,f0,f1,f2,f3,f4,f5,f6,f7";
  for (i = 0; i < 360; i++) {
    c = i % 12; name = (c == 11) ? "<img src=x onerror=alert(1)>" : sprintf("class%02d", c);
    line = name "/" i ".jpg";
    for (j = 0; j < 8; j++) line = line "," (((c + j) % 3 == 0) ? 4 : 0) + (c == j ? 3 : 0) + rand() - 0.5;
    print line
  }
}' >"$work/embeddings.csv"
"$birder" cluster --data "$work/embeddings.csv" --report "$work/map.html" >/dev/null
"$birder" probe train --train "$work/embeddings.csv" --epochs 3 --output "$work/probe.head.pt" >/dev/null
"$birder" probe eval --data "$work/embeddings.csv" --head "$work/probe.head.pt" --report "$work/report.html" >/dev/null
status=0
"$birder" predict Tests/Fixtures/cli/photos --model "$model" --head order --top-k 3 --output "$work/predictions.csv" \
  --report "$work/sheet.html" 2>/dev/null || status=$?
[ "$status" -eq 1 ] || { echo "browser report test: predict exited $status (expected 1: one truncated photo)"; exit 1; }
# A threshold just under the most confident card's top probability, and the cards the CSV puts
# below it: what the sheet's filter must leave.
below=$(awk -F, 'NR > 1 && $5 > m { m = $5 } END { print int(m * 100) }' "$work/predictions.csv")
low=$(awk -F, -v t="$below" 'NR > 1 && $5 * 100 < t { n++ } END { print n + 0 }' "$work/predictions.csv")

failed=0
passed=0
browse() {  # URL DOM-FILE SCREENSHOT-FILE
  timeout 60 "$chrome" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run --hide-scrollbars \
    --user-data-dir="$work/profile" --enable-logging=stderr --v=0 --window-size=1280,860 --virtual-time-budget=5000 \
    --dump-dom "$1" >"$2" 2>"$2.log" || { tail -20 "$2.log"; echo "  FAILED: Chromium could not open $1"; failed=1; return; }
  if [ -n "$3" ]; then
    timeout 60 "$chrome" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run --hide-scrollbars \
      --user-data-dir="$work/profile" --window-size=1280,860 --virtual-time-budget=5000 --screenshot="$3" "$1" \
      >/dev/null 2>&1 || { echo "  FAILED: no screenshot of $1"; failed=1; }
  fi
}
check() {  # FILE PATTERN WHAT
  if grep -qE -- "$2" "$1"; then echo "  ok: $3"; else echo "  FAILED: $3 (no /$2/ in the DOM)"; failed=1; fi
}
count() {  # FILE PATTERN EXPECTED WHAT
  local n
  n=$( (grep -oE -- "$2" "$1" || true) | wc -l)
  if [ "$n" -eq "$3" ]; then echo "  ok: $4 ($n)"; else echo "  FAILED: $4: $n, expected $3"; failed=1; fi
}
clean() {  # FILE WHAT
  if grep -q 'data-errors=' "$1"; then
    echo "  FAILED: $2: the page counted script errors: $(grep -oE 'data-last-error="[^"]*"' "$1" | head -1)"; failed=1
  elif grep -qE ':CONSOLE|Uncaught ' "$1.log"; then
    echo "  FAILED: $2: Chromium logged: $(grep -iE 'CONSOLE|Uncaught' "$1.log" | head -3)"; failed=1
  else
    echo "  ok: $2: no script error"
  fi
}

echo "cluster map:"
browse "file://$work/map.html" "$work/map.dom" "$shots/cluster-map.png"
check "$work/map.dom" 'id="map"[^>]*data-state="ready"' "the map was drawn"
check "$work/map.dom" 'data-points="360"' "360 points drawn"
count "$work/map.dom" '<li data-rank=' 12 "legend entries (12 classes)"
check "$work/map.dom" '>&lt;img src=x onerror=alert\(1\)&gt;<' "the hostile class name is text in the legend"
count "$work/map.dom" '<img' 0 "no element made from a class name"
clean "$work/map.dom" "map"
browse "file://$work/map.html#stamp" "$work/map-stamped.dom" ""
check "$work/map-stamped.dom" 'data-points="360"' "360 points stamped (the drawing used above 5,000 points)"
clean "$work/map-stamped.dom" "stamped map"

echo "probe report:"
browse "file://$work/report.html" "$work/report.dom" "$shots/probe-report.png"
count "$work/report.dom" '<tr><td>[^<]*</td><td data-value=' 12 "per-class rows (12 classes)"
check "$work/report.dom" 'class="heat"' "the confusion heat map"
clean "$work/report.dom" "probe report"

echo "contact sheet:"
browse "file://$work/sheet.html" "$work/sheet.dom" "$shots/contact-sheet.png"
check "$work/sheet.dom" 'data-state="ready"' "the sheet's script ran"
check "$work/sheet.dom" 'data-cards="3"' "3 cards"
count "$work/sheet.dom" '<img src="data:image/jpeg;base64,' 3 "embedded thumbnails"
clean "$work/sheet.dom" "sheet"
browse "file://$work/sheet.html#below=$below&sort=asc" "$work/sheet-low.dom" ""
check "$work/sheet-low.dom" "data-shown=\"$low\"" "the filter 'confidence below $below %' leaves the $low card(s) the CSV puts below it"
first=$( (grep -oE '<figure class="card[^"]*"[^>]*data-conf-0="[0-9.]*"' "$work/sheet-low.dom" || true) | head -1 | sed 's/.*data-conf-0="//; s/"$//')
least=$(awk -F, 'NR > 1 && (m == "" || $5 < m) { m = $5 } END { print m }' "$work/predictions.csv")
if awk -v a="$first" -v b="$least" 'BEGIN { exit !(a != "" && (a - b) ^ 2 < 1e-10) }'; then
  echo "  ok: sorted least confident first ($first)"
else
  echo "  FAILED: the first card's confidence is '$first', the least in the CSV $least"; failed=1
fi
clean "$work/sheet-low.dom" "filtered sheet"

for shot in cluster-map probe-report contact-sheet; do
  [ -s "$shots/$shot.png" ] || { echo "  FAILED: no screenshot $shot.png"; failed=1; }
done
if [ "$failed" -ne 0 ]; then
  echo "browser report test: 0 passed, 1 failed"
  exit 1
fi
echo "browser report test: 1 passed, 0 failed (screenshots in $shots)"
