#!/bin/bash
# test_watch_disk.sh: --max-disk: a watcher with a cap of two to three incidents, triggered five times,
# removes the oldest incidents first, keeps the newest, says so in one log line each, counts them
# on /metrics, and writes the cap into report.json; a bad --max-disk is refused in one line.
source "$(dirname "$0")/watch_lib.sh"
require_root

expect_exit 2 "invalid --max-disk '12Q'" "$ST" watch --pid 1 --probe tcp://127.0.0.1:1 --max-disk 12Q

start_svc --load 20
# incidents here are 124-168 KiB: at 300K, two of them were sometimes over
# the cap with the second one still being sent (which may not go), 304 KiB
CAP=${DISK_CAP:-400K}
cap_bytes=$(numfmt --from=iec "$CAP")
# a webhook nobody answers: every incident also leaves a queue item behind
start_watch --pid "$SVC_PID" --metrics-url "http://127.0.0.1:$SVC_PORT/metrics" \
	--metric freezesvc_request_duration_seconds --threshold 5s --interval 250ms \
	--before 1s --window 1s --cooldown 0 --max-per-hour 0 --baseline 2s \
	--webhook "http://127.0.0.1:$(free_port)/hook" --max-disk "$CAP"
grep -q "max-disk: .*($cap_bytes bytes)" "$TMP/watch.log" || fail "the cap is not logged at start"
[ "$(watch_metric stalltrap_watch_disk_max_bytes)" = "$cap_bytes" ] || fail "stalltrap_watch_disk_max_bytes"

names=()
for i in 1 2 3 4 5; do
	before=$(watch_metric stalltrap_watch_captures_total)
	kill -USR1 "$WATCH_PID"
	wait_until 30 "incident $i" metric_at_least stalltrap_watch_captures_total $((before + 1))
	names+=("$(grep -o 'incident written: [^ ]*' "$TMP/watch.log" | tail -1 | cut -d' ' -f3)")
done
newest=${names[4]}
[ -d "$newest" ] || fail "the newest incident $newest was removed"
[ "$(jq -r .max_disk "$newest/report.json")" = "$cap_bytes" ] || fail "report.json max_disk: $(jq .max_disk "$newest/report.json")"
size=$(du -sk "$newest" | cut -f1)
ok "5 incidents written, the newest ${size} KiB, --max-disk $CAP"

# the oldest went first: whatever is left is a suffix of the five
left=$(incidents | wc -l)
[ "$left" -lt 5 ] || fail "nothing removed: $(incidents | tr '\n' ' ') (du $(du -sk "$TMP/incidents" | cut -f1) KiB)"
for ((i = 0; i < 5; i++)); do
	if ((i < 5 - left)); then
		[ ! -e "${names[$i]}" ] || fail "incident $((i + 1)) kept while a newer one went: $(incidents | tr '\n' ' ')"
		grep -q "max-disk: removed the oldest incident ${names[$i]} (.*bytes): over --max-disk" "$TMP/watch.log" ||
			fail "no log line for the removal of ${names[$i]}"
	else
		[ -d "${names[$i]}" ] || fail "incident $((i + 1)) removed, an older one kept"
	fi
done
ok "the oldest $((5 - left)) incidents removed, the newest $left kept, one log line each"

# the counters agree with the log
n_inc=$(grep -c "max-disk: removed the oldest incident" "$TMP/watch.log")
n_q=$(grep -c "max-disk: removed the oldest queue" "$TMP/watch.log" || true)
[ "$(watch_metric 'stalltrap_watch_disk_removed_total{what="incident"}')" = "$n_inc" ] ||
	fail "removed_total{incident} $(watch_metric 'stalltrap_watch_disk_removed_total{what="incident"}'), log $n_inc"
[ "$(watch_metric 'stalltrap_watch_disk_removed_total{what="queue"}')" = "$n_q" ] || fail "removed_total{queue}"
[ "$(watch_metric 'stalltrap_deliver_dropped_total{sink="webhook"}')" = "$n_q" ] || fail "deliver_dropped_total{webhook}"
removed_b=$(watch_metric stalltrap_watch_disk_removed_bytes_total)
[ "$removed_b" -gt 0 ] || fail "removed_bytes_total $removed_b"
wait_until 10 "disk_bytes measured" metric_at_least stalltrap_watch_disk_bytes 1
inuse=$(watch_metric stalltrap_watch_disk_bytes)
# within the cap, unless only the newest incident is left (a single incident over the cap is kept)
[ "$inuse" -le "$cap_bytes" ] || [ "$left" -eq 1 ] || fail "stalltrap_watch_disk_bytes $inuse over the cap $cap_bytes with $left incidents"
ok "metrics: $n_inc incidents and $n_q queue items removed, $removed_b bytes; $inuse bytes in use"
stop_watch
