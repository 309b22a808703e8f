#!/bin/bash
# test_watch_freeze.sh: the freeze test of `stalltrap watch`. freezesvc serves a latency histogram;
# the test freezes it (the freezer thread holds the lock every request and the
# metrics endpoint need), so the watcher's polls time out; the trigger must fire
# once, the incident must hold the waits that began before the trigger with their
# full durations, pre_trigger_s must be within 0.5 s of --before, and a single
# freeze must make exactly one incident.
source "$(dirname "$0")/watch_lib.sh"
require_root
BEFORE=3
FREEZE=4

start_svc --load 50 --workers 4
start_watch --pid "$SVC_PID" \
	--metrics-url "http://127.0.0.1:$SVC_PORT/metrics" --metric 'freezesvc_request_duration_seconds{path="/work"}' \
	--quantile 0.99 --threshold 200ms --for 1s --interval 250ms \
	--before ${BEFORE}s --window 4s --max-window 20s --cooldown 1s --baseline 30s
# the flight recorder must hold --before of history before the freeze starts
wait_until 30 "history >= --before" metric_at_least stalltrap_watch_history_seconds $((BEFORE + 1))
metric_at_least stalltrap_watch_polls_total 4 || fail "the watcher has not polled"
[ "$(watch_metric stalltrap_watch_triggers_total)" = 0 ] || fail "triggered before the freeze"

culprit=$(curl -s -m 2 "http://127.0.0.1:$SVC_PORT/freeze?seconds=$FREEZE" | jq -r .culprit_tid)
[ -n "$culprit" ] && [ "$culprit" != null ] || fail "freezesvc did not freeze"
wait_until 60 "an incident" incident_count_is 1
ok "incident written: $(incidents)"
# exactly one: after the incident, 3 s of healthy polls (12) and still one trigger, one incident
polls=$(watch_metric stalltrap_watch_polls_total)
wait_until 30 "12 more polls" metric_at_least stalltrap_watch_polls_total $((polls + 12))
wait_until 10 "state ok" metric_at_least 'stalltrap_watch_state{state="ok"}' 1
[ "$(watch_metric stalltrap_watch_triggers_total)" = 1 ] || fail "more than one trigger: $(grep trigger "$TMP/watch.log")"
incident_count_is 1 || fail "more than one incident: $(incidents)"
grep -q '"freeze_end"' "$TMP/svc.out" || fail "the freeze did not end"
stop_watch

dir=$(incidents)
r=$dir/report.json
for f in report.json profile.folded capture.jsonl.gz; do [ -s "$dir/$f" ] || fail "incident lacks $f"; done
pre=$(jq -r .window.pre_trigger_s "$r")
awk -v p="$pre" -v b=$BEFORE 'BEGIN { exit !(p >= b - 0.5 && p <= b + 0.5) }' || fail "pre_trigger_s $pre is not within 0.5 s of $BEFORE"
ok "pre_trigger_s $pre"
# the incident says how it was captured, as record's report does: the path and every feature
jq -e '(.capture.path | type == "string") and (.capture.features | has("wakers") and has("kernel_locks")
	and .wakers.on)' "$r" >/dev/null || fail "the incident lacks the capture's path or features: $(jq -c .capture "$r" | head -c 400)"
[ "$(jq -r .trigger.source "$r")" = metrics ] || fail "trigger.source is $(jq -r .trigger.source "$r")"
jq -e '.trigger.samples | length >= 2 and any(.obs == "timeout")' "$r" >/dev/null ||
	fail "trigger.samples lack the timed-out polls: $(jq -c .trigger.samples "$r")"
jq -e '.trigger.reason | test("no answer within 250 ms")' "$r" >/dev/null || fail "trigger.reason: $(jq -r .trigger.reason "$r")"
jq -e '.baseline.window.duration_s > 0' "$r" >/dev/null || fail "no baseline: $(jq -c .baseline "$r" | head -c 200)"

fs=$(grep '"freeze_start"' "$TMP/svc.out" | jq -r .t)
fe=$(grep '"freeze_end"' "$TMP/svc.out" | jq -r .t)
python3 tests/bpf/watch_check.py "$dir" take_state_lock >"$TMP/waits.json"
python3 tests/bpf/watch_check.py "$dir" freezer_hold >"$TMP/hold.json"
# the workers that blocked on the lock when the freeze began: their waits began
# before the trigger and run to the freeze's end, whole
n=$(jq --argjson fs "$fs" --argjson fe "$fe" '[.blocks[] | select(.start_s < 0 and .start_mono_s < $fs + 1.0
	and (.start_mono_s + .dur_s) > $fe - 0.3 and .dur_s > ($fe - $fs) - 1.3 and (.in_progress | not))] | length' "$TMP/waits.json")
[ "$n" -ge 2 ] || fail "want >= 2 whole lock waits begun before the trigger, got $n: $(head -c 600 "$TMP/waits.json")"
longest=$(jq '[.blocks[].dur_s] | max' "$TMP/waits.json")
ok "$n lock waits began before the trigger, longest ${longest}s (freeze $(awk -v a="$fs" -v b="$fe" 'BEGIN{printf "%.2f", b-a}')s)"
jq -e --argjson fs "$fs" --argjson fe "$fe" 'any(.blocks[]; .dur_s > ($fe - $fs) - 0.2 and .start_s < 0)' "$TMP/hold.json" >/dev/null ||
	fail "the freezer's hold is not in the incident whole: $(head -c 300 "$TMP/hold.json")"
[ "$(jq -r '.verdict.culprit.tid // empty' "$r")" = "$culprit" ] ||
	fail "verdict culprit $(jq -c '.verdict.culprit.tid' "$r"), want the freezer $culprit"
ok "verdict names the freezer (tid $culprit)"
