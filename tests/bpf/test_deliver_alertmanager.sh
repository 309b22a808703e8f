#!/bin/bash
# test_deliver_alertmanager.sh: `stalltrap watch --alertmanager` against a real Alertmanager
# (Debian's prometheus-alertmanager) on loopback. freezesvc freezes; the
# incident becomes one StalltrapFreeze alert: amtool and GET /api/v2/alerts see
# it with the service, host, kind and severity labels and the verdict, culprit,
# incident id and report in its annotations, startsAt at the trigger. It stays
# firing while the service breaches and resolves (endsAt after the freeze's end)
# once it recovers: Alertmanager notifies its receiver (the test's) of both.
# The same watcher also delivers to a Pyroscope stand-in (the alert then links
# the profile: profile_url) and to a webhook whose Standard Webhooks signature
# the test's receiver verifies.
source "$(dirname "$0")/watch_lib.sh"
require_root
command -v prometheus-alertmanager >/dev/null || fail "prometheus-alertmanager is not installed (scripts/install-deps.sh)"
command -v amtool >/dev/null || fail "amtool is not installed (prometheus-alertmanager)"

python3 tests/e2e/deliver_recv.py --port-file "$TMP/recv.port" --log "$TMP/notify.log" --keep-body &
PIDS_TO_KILL+=($!)
wait_for_file "$TMP/recv.port" 10
python3 tests/e2e/deliver_recv.py --port-file "$TMP/py.port" --log "$TMP/py.log" &
PIDS_TO_KILL+=($!)
echo "whsec_$(head -c 24 /dev/urandom | base64)" >"$TMP/secret"
python3 tests/e2e/deliver_recv.py --port-file "$TMP/wh.port" --log "$TMP/wh.log" --secret-file "$TMP/secret" --keep-body &
PIDS_TO_KILL+=($!)
wait_for_file "$TMP/py.port" 10
wait_for_file "$TMP/wh.port" 10
PY=http://127.0.0.1:$(cat "$TMP/py.port")
AM_PORT=$(free_port)
cat >"$TMP/alertmanager.yml" <<YML
route:
  receiver: people
  group_by: ['alertname', 'service']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: people
    webhook_configs:
      - url: http://127.0.0.1:$(cat "$TMP/recv.port")/notify
        send_resolved: true
YML
prometheus-alertmanager --config.file="$TMP/alertmanager.yml" --storage.path="$TMP/am" \
	--web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= >"$TMP/am.log" 2>&1 &
PIDS_TO_KILL+=($!)
AM=http://127.0.0.1:$AM_PORT
wait_until 60 "Alertmanager ready" curl -sf "$AM/-/ready"

start_svc --load 50 --workers 4
start_watch --pid "$SVC_PID" \
	--metrics-url "http://127.0.0.1:$SVC_PORT/metrics" --metric 'freezesvc_request_duration_seconds{path="/work"}' \
	--quantile 0.99 --threshold 200ms --for 500ms --interval 250ms \
	--before 1s --window 2s --max-window 3s --cooldown 1m --baseline 5s \
	--alertmanager "$AM" --service feed --alert-resend 2s --retry-min-backoff 100ms \
	--pyroscope "$PY" --webhook "http://127.0.0.1:$(cat "$TMP/wh.port")/hook" --webhook-secret-file "$TMP/secret"
grep -q "delivering to alertmanager $AM" "$TMP/watch.log" || fail "the watcher does not say where it delivers"
wait_until 20 "history" metric_at_least stalltrap_watch_history_seconds 2

FREEZE=12
curl -s -m 2 "http://127.0.0.1:$SVC_PORT/freeze?seconds=$FREEZE" >/dev/null || true
wait_until 60 "an incident" incident_count_is 1
dir=$(incidents)
r=$dir/report.json
id="$(hostname)/$(basename "$dir")"
wait_until 30 "the alert delivered" grep -q "alertmanager: delivered $id" "$TMP/watch.log"

# the alert as Alertmanager holds it, while the service is still frozen
curl -sf "$AM/api/v2/alerts?filter=alertname=%22StalltrapFreeze%22" >"$TMP/alerts.json"
[ "$(jq length "$TMP/alerts.json")" = 1 ] || fail "GET /api/v2/alerts: $(head -c 600 "$TMP/alerts.json")"
jq -e --arg id "$id" --arg host "$(hostname)" --slurpfile rep "$r" '.[0] |
	.labels.alertname == "StalltrapFreeze" and .labels.service == "feed" and .labels.host == $host and
	.labels.kind == $rep[0].verdict.kind and .labels.severity == "critical" and (.labels | has("incident_id") | not) and
	.annotations.summary == $rep[0].verdict.summary and .annotations.incident_id == $id and
	(.annotations.report | endswith("/report.html")) and (.annotations.culprit | length > 0) and
	.status.state == "active"' "$TMP/alerts.json" >/dev/null || fail "the alert: $(jq -c '.[0] | {labels, annotations, status}' "$TMP/alerts.json")"
# startsAt is the trigger
st=$(jq -r '.[0].startsAt' "$TMP/alerts.json")
tr=$(jq -r .window.trigger "$r")
python3 -c 'import sys, datetime as d
p = lambda s: d.datetime.fromisoformat(s.replace("Z", "+00:00"))
sys.exit(abs((p(sys.argv[1]) - p(sys.argv[2])).total_seconds()) > 0.01)' "$st" "$tr" || fail "startsAt $st is not the trigger $tr"
ok "GET /api/v2/alerts: $(jq -c '.[0].labels' "$TMP/alerts.json"), startsAt = the trigger"
amtool --alertmanager.url="$AM" alert query alertname=StalltrapFreeze service=feed -o extended >"$TMP/amtool.out" ||
	fail "amtool alert query failed"
grep -qF "incident_id=\"$id\"" "$TMP/amtool.out" || grep -qF "$id" "$TMP/amtool.out" || fail "amtool: $(cat "$TMP/amtool.out")"
ok "amtool alert query sees it: $(grep -c StalltrapFreeze "$TMP/amtool.out") alert"
# notified STATE: Alertmanager told its receiver about a group in STATE
notified() { jq -r .body "$TMP/notify.log" 2>/dev/null | jq -e --arg s "$1" 'select(.status == $s)' >/dev/null; }
wait_until 30 "the firing notification" notified firing

# the delivery metrics on the watcher's /metrics
wait_until 5 "the delivery counted" metric_at_least 'stalltrap_deliver_deliveries_total{sink="alertmanager"}' 1
[ "$(watch_metric 'stalltrap_deliver_queue_depth{sink="alertmanager"}')" = 0 ] || fail "queue depth not 0 after delivery"
[ "$(watch_metric 'stalltrap_deliver_parked_total{sink="alertmanager"}')" = 0 ] || fail "something parked"
[ "$(watch_metric 'stalltrap_incidents_total{service="feed",kind="'"$(jq -r .verdict.kind "$r")"'"}')" = 1 ] ||
	fail "stalltrap_incidents_total: $(curl -s "http://127.0.0.1:$WATCH_PORT/metrics" | grep incidents_total)"
ok "/metrics: 1 delivery, queue depth 0, stalltrap_incidents_total{service=\"feed\"} 1"

# recovery: the freeze ends, the polls are fast again, the alert resolves
wait_until 30 "the freeze's end" grep -q '"freeze_end"' "$TMP/svc.out"
wait_until 30 "the alert resolved" grep -q "alertmanager: resolved $id" "$TMP/watch.log"
resends=$(watch_metric 'stalltrap_deliver_alert_resends_total{sink="alertmanager"}')
[ "${resends:-0}" -ge 1 ] || fail "the alert was not re-sent while the service breached (resends: $resends)"
ok "re-sent $resends times while breaching (--alert-resend 2s)"
wait_until 30 "the resolved notification" notified resolved
curl -sf "$AM/api/v2/alerts?filter=alertname=%22StalltrapFreeze%22&active=true" >"$TMP/after.json"
[ "$(jq length "$TMP/after.json")" = 0 ] || fail "still active after recovery: $(head -c 300 "$TMP/after.json")"
resolved=$(jq -r .body "$TMP/notify.log" | jq -r 'select(.status == "resolved") | .alerts[0].endsAt' | tail -1)
pu=$(jq -r .body "$TMP/notify.log" | jq -r 'select(.status == "resolved") | .alerts[0].annotations.profile_url' | tail -1)
case $pu in "$PY/explore?query="*service_name*feed*) ;; *) fail "the resolved alert's profile_url: $pu" ;; esac
ok "the alert links the profile Pyroscope took: $pu"
starts=$(jq -r '.[0].startsAt' "$TMP/alerts.json")
python3 -c 'import sys, datetime as d, time
p = lambda s: d.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
e, s = p(sys.argv[1]), p(sys.argv[2])
# after the trigger, and not the 4 resend periods a dead agent leaves (an explicit resolve)
sys.exit(not (s < e <= time.time() + 1))' "$resolved" "$starts" || fail "endsAt $resolved (startsAt $starts)"
ok "resolved after recovery: endsAt $resolved; Alertmanager notified firing, then resolved"
# the webhook: one POST, signed, with the verdict
jq -s -e --arg id "$id" --slurpfile rep "$r" 'length == 1 and .[0].status == 200 and .[0].signature == "ok" and
	.[0].webhook_id == $id and (.[0].body | fromjson | .type == "stalltrap.incident" and
	.data.verdict.summary == $rep[0].verdict.summary and .data.service == "feed" and .data.kind == $rep[0].verdict.kind)' \
	"$TMP/wh.log" >/dev/null || fail "the webhook: $(head -c 600 "$TMP/wh.log")"
ok "webhook: one signed POST (Standard Webhooks) with the verdict, webhook-id $id"
stop_watch
m=$(grep -c 'alertmanager: delivered' "$TMP/watch.log")
[ "$m" = 1 ] || fail "delivered $m times"
