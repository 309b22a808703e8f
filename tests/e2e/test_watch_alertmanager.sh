#!/bin/bash
# test_watch_alertmanager.sh: the Alertmanager webhook receiver on --listen. A real Alertmanager
# (Debian's prometheus-alertmanager 0.25), started by the test on loopback,
# routes an alert the test posts to its API to the watcher's /webhook with the
# bearer token from a credentials_file; the incident must name the alert.
# Requests without the token, or with a wrong one, are refused and start nothing;
# with --alert-match, an alert about another service starts nothing either.
source "$(dirname "$0")/watch_lib.sh"
require_root
command -v prometheus-alertmanager >/dev/null || fail "prometheus-alertmanager is not installed (scripts/install-deps.sh)"

start_svc --load 20
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TMP/token"
chmod 600 "$TMP/token"
start_watch --pid "$SVC_PID" --token-file "$TMP/token" --alert-match service=freezesvc \
	--before 1s --window 2s --cooldown 1m --baseline 5s
W=http://127.0.0.1:$WATCH_PORT

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code "$W/metrics")" = 200 ] || fail "GET /metrics"
[ "$(code -X POST -d '{"alerts":[]}' "$W/webhook")" = 401 ] || fail "a webhook without a token was not refused"
[ "$(code -X POST -H 'Authorization: Bearer nope' -d '{"alerts":[{"status":"firing"}]}' "$W/webhook")" = 401 ] ||
	fail "a webhook with a wrong token was not refused"
[ "$(code -X POST -H "Authorization: Bearer $(cat "$TMP/token")" -d 'not json' "$W/webhook")" = 400 ] ||
	fail "a malformed webhook body was not refused"
[ "$(code -X POST -H "Authorization: Bearer $(cat "$TMP/token")" \
	-d '{"alerts":[{"status":"resolved","labels":{"alertname":"Old"}}]}' "$W/webhook")" = 200 ] || fail "resolved alerts"
wait_until 5 "the rejections counted" metric_at_least 'stalltrap_watch_drops_total{what="webhook_rejected"}' 2
[ "$(watch_metric stalltrap_watch_triggers_total)" = 0 ] || fail "a refused or resolved webhook triggered"
ok "webhook refuses missing/wrong tokens and bad bodies; resolved alerts start nothing"

AM_PORT=$(free_port)
cat >"$TMP/alertmanager.yml" <<YML
route:
  receiver: stalltrap
  group_by: ['alertname']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: stalltrap
    webhook_configs:
      - url: $W/webhook
        send_resolved: false
        http_config:
          authorization:
            credentials_file: $TMP/token
YML
prometheus-alertmanager --config.file="$TMP/alertmanager.yml" --storage.path="$TMP/am" \
	--web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= >"$TMP/am.log" 2>&1 &
PIDS_TO_KILL+=($!)
AM=http://127.0.0.1:$AM_PORT
wait_until 60 "Alertmanager ready" curl -sf "$AM/-/ready"
ok "Alertmanager ready on $AM_PORT"
# an alert about another service reaches the watcher and is ignored
curl -sf -X POST -H 'Content-Type: application/json' "$AM/api/v2/alerts" \
	-d '[{"labels":{"alertname":"CartStalled","service":"cart"}}]' >/dev/null || fail "Alertmanager refused the alert"
wait_until 60 "the other service's alert delivered" metric_at_least stalltrap_watch_webhook_ignored_total 1
[ "$(watch_metric stalltrap_watch_triggers_total)" = 0 ] || fail "an alert for another service triggered"
ok "an alert with service=cart is ignored (--alert-match service=freezesvc)"
curl -sf -X POST -H 'Content-Type: application/json' "$AM/api/v2/alerts" \
	-d '[{"labels":{"alertname":"FreezesvcStalled","service":"freezesvc"},"annotations":{"summary":"p99 over 1s"}}]' >/dev/null ||
	fail "Alertmanager refused the alert"
wait_until 60 "an incident" incident_count_is 1
stop_watch
r=$(incidents)/report.json
[ "$(jq -r .trigger.source "$r")" = webhook ] || fail "trigger.source $(jq -r .trigger.source "$r")"
jq -e '.trigger.reason | contains("FreezesvcStalled")' "$r" >/dev/null || fail "trigger.reason $(jq -r .trigger.reason "$r")"
ok "Alertmanager's webhook fired the incident: $(jq -r .trigger.reason "$r")"
