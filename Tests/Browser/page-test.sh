#!/usr/bin/env bash
# The web page in a real browser: starts `birder serve` on the fixture model (127.0.0.1, an
# ephemeral port), loads /?demo=1 in headless Chromium (which submits the bundled photo), and checks
# that the dumped DOM shows the prediction `birder predict` gives for the same photo. Skips — saying
# why — only where no Chromium is installed (.ci/run installs Debian's chromium-headless-shell).
set -euo pipefail
cd "$(dirname "$0")/../.."
birder=${BIRDER:-.build/debug/birder}
model=Tests/Fixtures/cli/models/rdnet_t_tiny-test.pt

chrome=$(command -v chromium-headless-shell || command -v chromium || true)
if [ -z "$chrome" ]; then
  reason=$(cat .build/chromium-unavailable 2>/dev/null || echo "neither chromium-headless-shell nor chromium is on PATH")
  echo "browser page test: skipped: Chromium cannot be installed here ($reason)"
  exit 0
fi
[ -x "$birder" ] || { echo "browser page test: $birder is not built (swift build first)"; exit 1; }

work=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then kill -KILL "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$birder" serve --model "$model:order" --port 0 --threads 2 2>"$work/serve.log" &
server=$!
port=""
for _ in $(seq 1 600); do
  port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$work/serve.log" | head -1)
  [ -n "$port" ] && curl -sf "http://127.0.0.1:$port/v2/health/ready" >/dev/null && break
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log"; echo "browser page test: birder serve exited"; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { cat "$work/serve.log"; echo "browser page test: birder serve never listened"; exit 1; }

# What the page must show: the top class of the bundled photo, by the CLI.
curl -sf "http://127.0.0.1:$port/demo.jpg" -o "$work/demo.jpg"
row=$("$birder" predict "$work/demo.jpg" --model "$model" --head order --top-k 1 --format csv 2>/dev/null | sed -n 2p)
top=$(echo "$row" | cut -d, -f3)
percent=$(echo "$row" | cut -d, -f5 | awk '{ printf "%.1f %%", $1 * 100 }')
[ -n "$top" ] || { echo "browser page test: birder predict gave no class"; exit 1; }

# --virtual-time-budget lets the page's fetches finish before the DOM is dumped.
timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
  --user-data-dir="$work/profile" --virtual-time-budget=30000 --dump-dom "http://127.0.0.1:$port/?demo=1" \
  >"$work/dom.html" 2>"$work/chrome.log" || { tail -20 "$work/chrome.log"; echo "browser page test: Chromium failed"; exit 1; }

failed=0
check() {
  if grep -qF -- "$1" "$work/dom.html"; then echo "  ok: $2"; else echo "  FAILED: $2 (no '$1' in the DOM)"; failed=1; fi
}
check 'data-demo="done"' "the demo ran to the end"
check "data-head=\"order\" data-class=\"$top\"" "the page shows the top class '$top' that birder predict gives"
check '<img src="blob:' "the photo's thumbnail is shown"
check "<span>$percent</span>" "the page shows its probability, $percent"
if grep -q 'class="error"' "$work/dom.html"; then echo "  FAILED: the page shows an error"; failed=1; fi

# SIGTERM: a graceful stop with status 0.
kill -TERM "$server"
status=0
wait "$server" || status=$?
server=""
if [ "$status" -ne 0 ]; then echo "  FAILED: birder serve exited $status after SIGTERM"; failed=1; else echo "  ok: birder serve exited 0 after SIGTERM"; fi

if [ "$failed" -ne 0 ]; then
  sed -n '1,200p' "$work/dom.html"
  echo "browser page test: 0 passed, 1 failed"
  exit 1
fi
echo "browser page test: 1 passed, 0 failed"
