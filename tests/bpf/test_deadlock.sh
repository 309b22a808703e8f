#!/bin/bash
# test_deadlock.sh: two threads deadlocked on two pthread mutexes, two request
# threads queued behind them (tests/workloads/deadlock.c): record names the
# deadlock from the mutexes' own owner words, read at the end of the window.
#   in the window:  the deadlock forms after record attached: verdict
#                   app_lock, primitive mutex, the summary says "a deadlock"
#                   and names both threads, the culprit is one of the two.
#   before it:      a second record, the process deadlocked since before
#                   it began (every wait began before the window and is
#                   still going at its end: the look of a parked thread,
#                   which read none before): the same verdict.
#   alone:          another process, deadlocked with no request thread
#                   queued, recorded after it deadlocked: each mutex has one
#                   waiter, parked-looking, which read none before.
source "$(dirname "$0")/../lib.sh"
require_root
need_bins "$ST" "$WL/deadlock"

"$WL/deadlock" --ready "$TMP/ready" --start-after "$TMP/gate" >"$TMP/wl.json" 2>"$TMP/wl.err" &
wl=$!; PIDS_TO_KILL+=($wl)
wait_for_file "$TMP/ready" 10

# check_deadlock NAME [WL_JSON]: the verdict of $TMP/NAME names the deadlock
check_deadlock() {
	local r=$TMP/$1/report.json ab ba
	ab=$(jq -r .tid_ab "${2:-$TMP/wl.json}")
	ba=$(jq -r .tid_ba "${2:-$TMP/wl.json}")
	echo "     $1: $(head -1 "$TMP/$1.summary" | cut -c1-400)"
	jq -e '.verdict.kind == "app_lock" and .verdict.primitive == "mutex"' "$r" >/dev/null ||
		fail "$1: verdict $(jq -c '.verdict | {kind, primitive, summary}' "$r"), want app_lock, mutex"
	jq -e --arg ab "$ab" --arg ba "$ba" '.verdict.summary | test("a deadlock: tid (\($ab)|\($ba)) .* held by tid (\($ab)|\($ba)) .*: neither can go on")' "$r" >/dev/null ||
		fail "$1: the summary does not name the deadlock of tids $ab and $ba: $(jq -r .verdict.summary "$r")"
	jq -e --argjson ab "$ab" --argjson ba "$ba" '.verdict.culprit.tid == $ab or .verdict.culprit.tid == $ba' "$r" >/dev/null ||
		fail "$1: culprit $(jq -c '.verdict.culprit | {tid, comm}' "$r"), want tid $ab or $ba"
	jq -e '.capture.lock_owners >= 2' "$r" >/dev/null ||
		fail "$1: $(jq -r .capture.lock_owners "$r") mutex owners read, want 2 or more"
	ok "$1: $(jq -r '.verdict.kind + ", culprit tid \(.verdict.culprit.tid) (\(.verdict.culprit.comm))"' "$r")"
}

"$ST" record --pid "$wl" --duration 3s --out "$TMP/within" >"$TMP/within.summary" 2>"$TMP/st.err" &
st=$!; PIDS_TO_KILL+=($st)
wait_attached "$st"
touch "$TMP/gate"
wait "$st" || fail "record failed: $(cat "$TMP/st.err")"
grep -q '"deadlock":true' "$TMP/wl.json" || fail "the workload did not deadlock: $(cat "$TMP/wl.json" "$TMP/wl.err")"
check_deadlock within

"$ST" record --pid "$wl" --duration 2s --out "$TMP/before" >"$TMP/before.summary" 2>"$TMP/st.err" ||
	fail "record failed: $(cat "$TMP/st.err")"
check_deadlock before
kill -9 "$wl"
wait "$wl" 2>/dev/null || true

"$WL/deadlock" --alone >"$TMP/alone.json" 2>"$TMP/alone.err" &
wl=$!; PIDS_TO_KILL+=($wl)
wait_until 10 "the second workload to deadlock" grep -q '"deadlock":true' "$TMP/alone.json"
"$ST" record --pid "$wl" --duration 2s --out "$TMP/alone" >"$TMP/alone.summary" 2>"$TMP/st.err" ||
	fail "record failed: $(cat "$TMP/st.err")"
check_deadlock alone "$TMP/alone.json"
kill -9 "$wl"
wait "$wl" 2>/dev/null || true
