#!/bin/bash
# test_demo.sh: the freeze demo, shortened (demo/run.sh --short), with the
# origin story's trigger (p99 above 200 ms for 2 s, polled every 500 ms).
# The feed store, built as distributions build services (no frame pointers),
# must really freeze when its table doubles; stalltrap watch must write exactly
# one incident whose verdict is mmap_lock with the resize function in the
# culprit's stack; and with --preallocate nothing may fire.
source "$(dirname "$0")/../lib.sh"
FS=$PWD/build/demo/feedstore

# The demo binary has no frame pointers: its resize function does not set one up.
objdump -d --no-show-raw-insn "$FS" | awk '/<table_grow>:$/ { f = 1; n = 0; next } f && n++ < 8' >"$TMP/grow.s"
[ -s "$TMP/grow.s" ] || fail "no table_grow in $FS: the resize function is not a real frame"
if grep -qE 'mov +%rsp,%rbp' "$TMP/grow.s"; then
	fail "table_grow sets up a frame pointer: the demo must be built without them"
fi
ok "feedstore is built without frame pointers (table_grow has no rbp frame)"

demo/run.sh --short --out "$TMP/demo" --alertmanager local >"$TMP/demo.log" 2>&1 || fail "demo/run.sh failed: $(tail -5 "$TMP/demo.log")"
s=$TMP/demo/summary.json
[ -s "$s" ] || fail "no summary.json"

# the freeze really happened, as the clients saw it
gap=$(jq -r .freeze.loadgen.longest_gap_s "$s")
pop=$(jq -r .freeze.populate_s "$s")
awk -v g="$gap" 'BEGIN { exit !(g >= 1.5) }' ||
	fail "the clients saw no freeze: longest gap without an answer ${gap}s (MAP_POPULATE took ${pop}s)"
ok "the service froze: ${gap}s without a single answer (MAP_POPULATE ${pop}s)"

# exactly one incident, read from the incident directories themselves
n=$(find "$TMP/demo/freeze/incidents" -mindepth 1 -maxdepth 1 -type d ! -name '.*' | wc -l)
[ "$n" -eq 1 ] || fail "want exactly one incident, got $n: $(grep -E 'trigger|incident' "$TMP/demo/freeze/watch.log" | head -5)"
dir=$(find "$TMP/demo/freeze/incidents" -mindepth 1 -maxdepth 1 -type d ! -name '.*')
r=$dir/report.json
kind=$(jq -r .verdict.kind "$r")
[ "$kind" = mmap_lock ] || fail "verdict is $kind, want mmap_lock: $(jq -r .verdict.summary "$r")"
jq -e '.verdict.culprit.stack | index("table_grow")' "$r" >/dev/null ||
	fail "the culprit's stack lacks table_grow: $(jq -c .verdict.culprit.stack "$r")"
[ "$(jq -r .verdict.culprit.comm "$r")" = feed-writer ] || fail "culprit is $(jq -c .verdict.culprit "$r" | head -c 200)"
jq -e '.verdict.culprit.stack_complete' "$r" >/dev/null || fail "the culprit's stack is not complete"
jq -e '.trigger.source == "metrics"' "$r" >/dev/null || fail "trigger.source is $(jq -r .trigger.source "$r")"
ok "one incident: $(jq -r .verdict.summary "$r")"
grep -q 'table_grow' "$TMP/demo.log" || fail "the demo's output does not show the culprit's stack"
grep -q "report: $dir/report.html" "$TMP/demo.log" || fail "the demo's output does not give the report's path"
# --alertmanager local: the demo's own Alertmanager holds the alert, and the demo shows it
grep -q "delivered to Alertmanager http://127.0.0.1:" "$TMP/demo.log" || fail "the demo does not say where the incident went"
grep -q "StalltrapFreeze {service=feedstore, host=$(hostname), kind=mmap_lock" "$TMP/demo.log" ||
	fail "the demo does not show the alert: $(grep -A3 'Alertmanager' "$TMP/demo.log" | head -5)"
ok "the demo's alert: $(grep -m1 'StalltrapFreeze {' "$TMP/demo.log" | sed 's/^ *//')"

# the fix: no incident, and the memory it holds from the start
n=$(jq -r .preallocate.incidents "$s")
[ "$n" = 0 ] || fail "--preallocate fired $n incident(s): $(grep -E 'trigger' "$TMP/demo/preallocate/watch.log" | head -3)"
[ -z "$(find "$TMP/demo/preallocate/incidents" -mindepth 1 -maxdepth 1 -type d 2>/dev/null)" ] ||
	fail "--preallocate left incident directories"
# and not for want of looking: the watcher polled it fine, and the writer went
# past the point where the unpreallocated table doubled
grep -q 'start -> ok' "$TMP/demo/preallocate/watch.log" || fail "the watcher never read the preallocated service's metrics"
ex=$(grep '"exit"' "$TMP/demo/preallocate/feedstore.log" | jq -r .entries)
fz=$(grep '"ready"' "$TMP/demo/freeze/feedstore.log" | jq -r .grows_at)
[ -n "$ex" ] && [ "$ex" -gt "$fz" ] || fail "the preallocated run stopped at $ex feeds, before the $fz at which the table doubled"
jq -e '.preallocate.ready.rss_kb > 1.8 * .freeze.ready.rss_kb' "$s" >/dev/null ||
	fail "--preallocate does not hold the doubled table from the start: $(jq -c '[.freeze.ready.rss_kb, .preallocate.ready.rss_kb]' "$s")"
jq -e '.preallocate.loadgen.requests > 1000 and .preallocate.loadgen.errors == 0' "$s" >/dev/null ||
	fail "the preallocated service did not serve its clients: $(jq -c .preallocate.loadgen "$s")"
grep -q "trade-off" "$TMP/demo.log" || fail "the demo does not print the fix's trade-off"
ok "--preallocate: no incident, p99 $(jq -r .preallocate.loadgen.p99_ms "$s") ms for $(jq -r '.preallocate.ready.rss_kb / 1048576 * 100 | floor / 100' "$s") GiB up front"
