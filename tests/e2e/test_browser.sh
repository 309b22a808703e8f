#!/bin/bash
# test_browser.sh: report.html, flamegraph.svg and timeline.svg in headless
# Chromium (Debian's), driven by tests/browser/check_report.js (playwright-core
# from npm): search highlights the matches and shows their share (checked
# against report.json), a clicked frame spans the full width, Reset Zoom
# restores, tooltips show ms and %, no console error, no request, no dialog
# (a hostile symbol that escaped would raise one). Screenshots go to
# build/test-artifacts/ (incident: rendered with all its evidence) and
# build/test-artifacts/report-cli/ (the same capture re-rendered by
# `stalltrap report` from capture.jsonl.gz).
source "$(dirname "$0")/../lib.sh"
need_bins "$ST" "$GEN"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export CHROMIUM
[ -x "$CHROMIUM" ] || fail "$CHROMIUM is missing: run scripts/install-deps.sh (chromium)"
command -v node > /dev/null && command -v npm > /dev/null || fail "node/npm are missing: run scripts/install-deps.sh"
if [ ! -d tests/browser/node_modules/playwright-core ]; then
	(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error > "$TMP/npm.log" 2>&1) \
		|| fail "npm ci in tests/browser failed: $(tail -5 "$TMP/npm.log")"
fi
mkdir -p "$ARTIFACTS/report-cli"

# In-process render: holds, samples and memory reach the pictures, with the
# diagnosis' verdict and the trigger's metric samples.
"$GEN" --out "$TMP/inc" --kind incident --render
node tests/browser/check_report.js --dir "$TMP/inc" --artifacts "$ARTIFACTS" \
	--search 'futex|fsync' --expect-lanes-text "worker ×8" --expect-lanes-text "trigger" \
	--expect-lanes-text "mmap 3.0 GiB" || fail "browser checks of the incident report"
# The CLI path: what `stalltrap report` makes of the saved capture.
"$GEN" --out "$TMP/cli" --kind incident
"$ST" report "$TMP/cli" > /dev/null || fail "stalltrap report failed"
node tests/browser/check_report.js --dir "$TMP/cli" --artifacts "$ARTIFACTS/report-cli" \
	--search '^(do_)?epoll' --zoom worker_main || fail "browser checks of the re-rendered report"
echo "screenshots: $(ls "$ARTIFACTS"/*.png "$ARTIFACTS"/report-cli/*.png | wc -l) in $ARTIFACTS"
echo "test_browser: all passed"
