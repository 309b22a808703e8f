#!/bin/bash
# test_watch_probe_psi.sh: the probe sources (--probe http://, --probe tcp://) and the PSI source.
# A freeze makes the HTTP probe time out and fire; the TCP probe still
# connects (the kernel accepts for a frozen service) and must not fire alone;
# a refused TCP probe is "down", not a freeze. CPU pressure made by busy loops
# (4 on 2 cores, for a stall of 700 ms per second that background noise does not
# reach) fires the PSI source (the kernel's trigger, or total= sampled where the
# kernel refuses triggers).
source "$(dirname "$0")/watch_lib.sh"
require_root

start_svc --load 20
start_watch --pid "$SVC_PID" --probe "http://127.0.0.1:$SVC_PORT/work" --probe "tcp://127.0.0.1:$SVC_PORT" \
	--threshold 200ms --for 1s --interval 250ms --before 1s --window 2s --cooldown 1m --baseline 2s
wait_until 30 "polls" metric_at_least stalltrap_watch_polls_total 8
[ "$(watch_metric stalltrap_watch_triggers_total)" = 0 ] || fail "triggered while healthy"
curl -s -m 2 "http://127.0.0.1:$SVC_PORT/freeze?seconds=3" >/dev/null
wait_until 60 "an incident" incident_count_is 1
r=$(incidents)/report.json
[ "$(jq -r .trigger.source "$r")" = probe ] || fail "trigger.source $(jq -r .trigger.source "$r")"
jq -e '.trigger.source_detail | startswith("probe http://")' "$r" >/dev/null || fail "source_detail $(jq -r .trigger.source_detail "$r")"
jq -e 'any(.trigger.samples[]; .obs == "timeout")' "$r" >/dev/null || fail "samples $(jq -c .trigger.samples "$r")"
grep -q "source 1 (probe tcp://.*-> breach" "$TMP/watch.log" && fail "the TCP probe breached on a frozen service"
stop_watch
ok "HTTP probe fired on the freeze; TCP probe stayed ok"

# a refused connection is down, not a freeze
rm -rf "$TMP/incidents"
DOWN=$(free_port)
start_watch --pid "$SVC_PID" --probe "tcp://127.0.0.1:$DOWN" --threshold 300ms --for 0s --interval 100ms --cooldown 1m
wait_until 20 "polls" metric_at_least stalltrap_watch_polls_total 10
grep -q -e "-> down: connection refused" "$TMP/watch.log" || fail "refused probe not reported as down"
[ "$(watch_metric stalltrap_watch_triggers_total)" = 0 ] || fail "a refused connection triggered"
stop_watch
ok "a refused connection is down, not a freeze"

# PSI: the machine's (or the target's cgroup's) CPU pressure
rm -rf "$TMP/incidents"
start_watch --pid "$SVC_PID" --psi cpu --threshold 700ms --for 1s --interval 250ms --before 1s --window 1s \
	--max-window 2s --cooldown 1m --baseline 2s
grep -q "source 0: psi cpu .*pressure" "$TMP/watch.log" || fail "no PSI source"
# busy loops that end by themselves after 30 s even if this script is killed, and are killed
# by their own pid (no wrapper that would leave them running) as soon as PSI fired
BUSY=()
for i in 1 2 3 4; do
	python3 -c 'import time
end = time.monotonic() + 30
while time.monotonic() < end: pass' &
	BUSY+=($!); PIDS_TO_KILL+=($!)
done
wait_until 30 "a PSI incident" incident_count_is 1
kill "${BUSY[@]}" 2>/dev/null || true
wait "${BUSY[@]}" 2>/dev/null || true
r=$(incidents)/report.json
[ "$(jq -r .trigger.source "$r")" = psi ] || fail "trigger.source $(jq -r .trigger.source "$r")"
jq -e '.trigger.reason | test("cpu some stall")' "$r" >/dev/null || fail "reason $(jq -r .trigger.reason "$r")"
stop_watch
ok "PSI fired: $(jq -r .trigger.reason "$r")"
