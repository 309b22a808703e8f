#!/bin/bash
# test_watch_manual.sh: manual triggers: `stalltrap trigger --pid/--name` through the control socket
# under --state-dir, SIGUSR1 to the watcher; --max-per-hour refuses past the cap;
# SIGTERM during a capture finishes and writes it, then exits 0.
source "$(dirname "$0")/watch_lib.sh"
require_root

start_svc --load 20
start_watch --pid "$SVC_PID" --metrics-url "http://127.0.0.1:$SVC_PORT/metrics" \
	--metric freezesvc_request_duration_seconds --threshold 5s --interval 250ms \
	--before 1s --window 1s --cooldown 0 --max-per-hour 4 --baseline 2s
[ -S "$TMP/state/watch-$WATCH_PID.sock" ] || fail "no control socket in --state-dir"

trig() { "$ST" trigger --state-dir "$TMP/state" "$@"; }
out=$(trig --pid "$SVC_PID") || fail "stalltrap trigger --pid failed: $out"
echo "$out" | grep -q ": started$" || fail "stalltrap trigger --pid: $out"
wait_until 30 "incident 1" incident_count_is 1
out=$(trig --name freezesvc) || fail "stalltrap trigger --name failed: $out"
wait_until 30 "incident 2" incident_count_is 2
kill -USR1 "$WATCH_PID"
wait_until 30 "incident 3" incident_count_is 3
trig --pid "$SVC_PID" >/dev/null || fail "trigger 4"
wait_until 30 "incident 4" incident_count_is 4
rc=0; out=$(trig --pid "$SVC_PID" 2>&1) || rc=$?
[ "$rc" -eq 1 ] && echo "$out" | grep -q "suppressed" || fail "the 5th trigger in an hour was not refused (rc $rc): $out"
rc=0; out=$(trig --pid 1 2>&1) || rc=$?
[ "$rc" -eq 1 ] && echo "$out" | grep -q "no watcher of --pid 1" || fail "a trigger for another pid: rc $rc: $out"
sources=$(for d in $(incidents); do jq -r .trigger.source "$d/report.json"; done | sort | tr '\n' ' ')
[ "$sources" = "control control control signal " ] || fail "trigger sources: $sources"
ok "trigger --pid, --name, SIGUSR1; the hourly cap refuses the 5th"
stop_watch
[ ! -e "$TMP/state/watch-$WATCH_PID.sock" ] || fail "the control socket was left behind"

# SIGTERM in the middle of a capture: the capture is finished and written first
rm -rf "$TMP/incidents"
start_watch --pid "$SVC_PID" --metrics-url "http://127.0.0.1:$SVC_PORT/metrics" \
	--metric freezesvc_request_duration_seconds --threshold 5s --before 1s --window 3s
trig --pid "$SVC_PID" >/dev/null || fail "trigger"
t0=$(date +%s.%N)
stop_watch
took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
incident_count_is 1 || fail "SIGTERM during a capture did not write it"
d=$(jq -r '.window.duration_s - .window.pre_trigger_s' "$(incidents)/report.json")
awk -v d="$d" 'BEGIN { exit !(d >= 2.95) }' || fail "the capture was cut short by SIGTERM: $d s after the trigger"
ok "SIGTERM finished the capture in progress (${d}s after the trigger, exit 0 after ${took}s)"
