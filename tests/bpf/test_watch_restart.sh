#!/bin/bash
# test_watch_restart.sh: a --name target is followed across a restart: the service is killed and
# started again (a new pid, the same comm); the watcher says so in its log,
# keeps polling, and the next incident captures the new process.
source "$(dirname "$0")/watch_lib.sh"
require_root

# a name of its own: other freezesvc processes (other tests, benches) must
# not be taken for this one by --name
NAME=fsvc$$
cp "$SVC_BIN" "$TMP/$NAME"
SVC_BIN=$TMP/$NAME
PORT=$(free_port)
start_svc --port "$PORT" --load 20
old=$SVC_PID
start_watch --name "$NAME" --metrics-url "http://127.0.0.1:$PORT/metrics" \
	--metric freezesvc_request_duration_seconds --threshold 5s --interval 250ms \
	--before 1s --window 1s --cooldown 0 --baseline 2s
kill -9 "$old"
wait_until 20 "the watcher to see the target gone" grep -q "no process now" "$TMP/watch.log"
wait_until 10 "the source to see it down" grep -q -e "-> down" "$TMP/watch.log"
start_svc --port "$PORT" --load 20
[ "$SVC_PID" != "$old" ] || fail "same pid"
wait_until 20 "the watcher to see it back" grep -q "the target is back" "$TMP/watch.log"
"$ST" trigger --state-dir "$TMP/state" --name "$NAME" >/dev/null || fail "stalltrap trigger --name"
wait_until 30 "an incident" incident_count_is 1
d=$(incidents)
case $d in *-"$NAME"-"$SVC_PID") ;; *) fail "incident $d is not named after the new pid $SVC_PID" ;; esac
n=$(zcat "$d/capture.jsonl.gz" | jq -s --argjson p "$SVC_PID" '[.[] | select(.t == "thread" and .pid == $p)] | length')
[ "$n" -ge 2 ] || fail "the incident has $n threads of the new process $SVC_PID"
stop_watch
ok "followed freezesvc from pid $old to $SVC_PID ($n threads captured)"
