#!/bin/bash
# test_faults_watch.sh: the metric endpoint misbehaves (a python3 loopback
# server, tests/bpf/faulty_metrics.py): it hangs, answers garbage, answers
# 500, sends a body that never ends. The watcher names each in one log line
# (the source's state change), neither crashes nor stops answering its own
# /metrics, its memory stays bounded (the endless body is cut at
# SOURCE_MAX_BODY), and it is back to "ok" when the endpoint is.
source "$(dirname "$0")/watch_lib.sh"
require_root

echo ok >"$TMP/mode"
python3 "$(dirname "$0")/faulty_metrics.py" "$TMP/port" "$TMP/mode" & srv=$!; PIDS_TO_KILL+=($srv)
wait_for_file "$TMP/port" 10
sleep 300 & tgt=$!; PIDS_TO_KILL+=($tgt)
start_watch --pid $tgt --metrics-url "http://127.0.0.1:$(cat "$TMP/port")/metrics" \
	--metric app_request_duration_seconds --threshold 5s --interval 200ms --poll-timeout 500ms \
	--on-no-data skip --max-per-hour 1
wait_until 10 "the source to be ok" grep -q -- "start -> ok" "$TMP/watch.log"
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$WATCH_PID/status"; }
rss0=$(rss_kb)

# mode EXPECTED_STATE PATTERN: switches the endpoint to mode, waits for the
# watcher's log line naming the state, checks the watcher is alive and answers
fault() {
	local mode=$1 state=$2 pat=$3 seen
	seen=$(grep -c -- "-> $state: .*$pat" "$TMP/watch.log" || true)
	echo "$mode" >"$TMP/mode"
	more_lines() { [ "$(grep -c -- "-> $state: .*$pat" "$TMP/watch.log" || true)" -gt "$seen" ]; }
	wait_until 15 "a log line for '$mode' (-> $state: $pat)" more_lines
	sleep 1 # a few more polls of the same fault
	kill -0 "$WATCH_PID" 2>/dev/null || fail "the watcher died of an endpoint that went '$mode'"
	[ -n "$(watch_metric stalltrap_watch_cpu_seconds_total)" ] || fail "the watcher's /metrics stopped answering ('$mode')"
	echo ok >"$TMP/mode"
	seen=$(grep -c -- "-> ok" "$TMP/watch.log")
	back() { [ "$(grep -c -- "-> ok" "$TMP/watch.log")" -gt "$seen" ]; }
	wait_until 15 "the source to be ok again after '$mode'" back
	ok "endpoint '$mode': $(grep -- "-> $state" "$TMP/watch.log" | tail -1 | sed 's/.*stalltrap watch: //')"
}
fault hang timeout "no answer within 500 ms"
fault garbage error "unparseable exposition"
fault 500 error "HTTP status 500"
fault endless error "answer larger than"
rss1=$(rss_kb)
# the endless body: one capped buffer (16 MiB) at most, not what was sent
[ $((rss1 - rss0)) -lt 40000 ] || fail "the watcher grew from $rss0 to $rss1 KiB"
grep -q "trigger (" "$TMP/watch.log" && fail "an endpoint fault made an incident with --on-no-data skip"
stop_watch
ok "the watcher's RSS: $rss0 -> $rss1 KiB over the four faults"
