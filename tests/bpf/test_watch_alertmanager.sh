#!/bin/bash
# test_watch_alertmanager.sh: the Alertmanager webhook receiver on --listen. A real Alertmanager
# (Debian's prometheus-alertmanager 0.25), started by the test on loopback,
# routes an alert the test posts to its API to the watcher's /webhook with the
# bearer token from a credentials_file; the incident must name the alert.
# Requests without the token, or with a wrong one, are refused and start nothing;
# with --alert-match, an alert about another service starts nothing either.
# Then the same over HTTPS (--tls-cert, --tls-key).
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
AM_PID=$!
PIDS_TO_KILL+=($AM_PID)
AM=http://127.0.0.1:$AM_PORT
wait_until 60 "Alertmanager ready" curl -sf "$AM/-/ready"
ok "Alertmanager ready on $AM_PORT"
# an alert about another service reaches the watcher and is ignored
curl -sf -X POST -H 'Content-Type: application/json' "$AM/api/v2/alerts" \
	-d '[{"labels":{"alertname":"CartStalled","service":"cart"}}]' >/dev/null || fail "Alertmanager refused the alert"
wait_until 60 "the other service's alert delivered" metric_at_least stalltrap_watch_webhook_ignored_total 1
[ "$(watch_metric stalltrap_watch_triggers_total)" = 0 ] || fail "an alert for another service triggered"
ok "an alert with service=cart is ignored (--alert-match service=freezesvc)"
# alert_fires NAME: an alert NAME about freezesvc, posted to Alertmanager, makes
# the watcher write one incident from the webhook, naming it; stops the watcher
alert_fires() {
	curl -sf -X POST -H 'Content-Type: application/json' "$AM/api/v2/alerts" \
		-d '[{"labels":{"alertname":"'"$1"'","service":"freezesvc"},"annotations":{"summary":"p99 over 1s"}}]' \
		>/dev/null || fail "Alertmanager refused the alert $1"
	wait_until 60 "an incident from $1" incident_count_is 1
	stop_watch
	r=$(incidents)/report.json
	jq -e --arg a "$1" '.trigger.source == "webhook" and (.trigger.reason | contains($a))' "$r" >/dev/null ||
		fail "the incident's trigger: $(jq -c .trigger "$r")"
}
alert_fires FreezesvcStalled
ok "Alertmanager's webhook fired the incident: $(jq -r .trigger.reason "$r")"

# The same webhook over HTTPS (--tls-cert, --tls-key): Alertmanager, told to
# trust the test's self-signed certificate, delivers to it; plain HTTP to the
# TLS port gets nothing.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-keyout "$TMP/key.pem" -out "$TMP/cert.pem" -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	2>"$TMP/openssl.err" || fail "openssl: $(tail -1 "$TMP/openssl.err")"
rm -rf "$TMP/incidents"
start_watch --pid "$SVC_PID" --token-file "$TMP/token" --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem" \
	--before 1s --window 2s --cooldown 1m --baseline 5s
grep -q "listening on 127.0.0.1:$WATCH_PORT (HTTPS: " "$TMP/watch.log" || fail "the watcher does not say it serves HTTPS"
W=https://127.0.0.1:$WATCH_PORT
[ "$(code --cacert "$TMP/cert.pem" "$W/metrics")" = 200 ] || fail "GET /metrics over HTTPS"
[ "$(code -m 3 "http://127.0.0.1:$WATCH_PORT/metrics")" = 000 ] || fail "plain HTTP to the TLS port got an answer"
[ "$(code -m 3 "$W/metrics")" = 000 ] || fail "curl trusted the self-signed certificate without --cacert"
sed -i "s|url: .*|url: $W/webhook|; s|          authorization:|          tls_config:\n            ca_file: $TMP/cert.pem\n          authorization:|" \
	"$TMP/alertmanager.yml"
kill -HUP "$AM_PID"
am_has_tls() { curl -sf "$AM/api/v2/status" | grep -q ca_file; }
wait_until 30 "Alertmanager to reload its configuration" am_has_tls
alert_fires FreezesvcStalledTLS
ok "Alertmanager delivered over HTTPS (tls_config.ca_file): $(jq -r .trigger.reason "$r")"
