#!/bin/bash
# test_watch_prometheus.sh: `--prometheus URL --query EXPR` against a real Prometheus (Debian's
# prometheus 2.42) that the test starts on loopback, scraping freezesvc every
# second. A refused PromQL expression is one line and exit 1; a freeze makes
# the query (requests slower than 1 s in the last 20 s: a plain number) cross
# --threshold 0.5 and fire one incident whose trigger names Prometheus.
source "$(dirname "$0")/watch_lib.sh"
require_root
command -v prometheus >/dev/null || fail "prometheus is not installed (scripts/install-deps.sh)"

# workers to spare: Prometheus's scrapes during the freeze each pin one, and the
# load's request must still be read (and its wait timed) while the freeze lasts
start_svc --load 50 --workers 12
PROM_PORT=$(free_port)
cat >"$TMP/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: freezesvc
    static_configs:
      - targets: ['127.0.0.1:$SVC_PORT']
YML
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/prom" \
	--web.listen-address="127.0.0.1:$PROM_PORT" >"$TMP/prom.log" 2>&1 &
PIDS_TO_KILL+=($!)
PROM=http://127.0.0.1:$PROM_PORT
wait_until 60 "Prometheus ready" curl -sf "$PROM/-/ready"
scraped() { curl -sf "$PROM/api/v1/query?query=up" | jq -e '.data.result[0].value[1] == "1"'; }
wait_until 60 "a first scrape of freezesvc" scraped
ok "Prometheus ready on $PROM_PORT"

expect_exit 1 "Prometheus refused the query" "$ST" watch --pid "$SVC_PID" --prometheus "$PROM" --query 'rate((' \
	--out "$TMP/x" --state-dir "$TMP/xs"
ok "a bad PromQL expression is refused with one line"

Q='increase(freezesvc_request_duration_seconds_count[20s]) - ignoring(le) increase(freezesvc_request_duration_seconds_bucket{le="1"}[20s])'
start_watch --pid "$SVC_PID" --prometheus "$PROM/" --query "$Q" --threshold 0.5 --for 0s \
	--interval 500ms --poll-timeout 2s --before 2s --window 3s --cooldown 1m --baseline 10s
wait_until 30 "polls" metric_at_least stalltrap_watch_polls_total 4
[ "$(watch_metric stalltrap_watch_triggers_total)" = 0 ] || fail "triggered before the freeze: $(cat "$TMP/watch.log")"
curl -s -m 2 "http://127.0.0.1:$SVC_PORT/freeze?seconds=3" >/dev/null
# a client of our own waits through the freeze too: the load thread's
# requests alone once left no request slower than 1 s in a CI run (the
# thread starved, or between requests), and the query stayed 0
sleep 0.3
curl -s -m 10 "http://127.0.0.1:$SVC_PORT/work" >/dev/null &
PIDS_TO_KILL+=($!)
wait_until 10 "the freeze to end" grep -q '"freeze_end"' "$TMP/svc.out"
for i in $(seq 1 600); do incident_count_is 1 && break; sleep 0.1; done
incident_count_is 1 || fail "no incident after 60 s; the query over the last 75 s: $(curl -s "$PROM/api/v1/query_range" \
	--data-urlencode "query=$Q" --data-urlencode "start=$(($(date +%s) - 75))" --data-urlencode "end=$(date +%s)" \
	--data-urlencode "step=1" | jq -c '[.data.result[].values[][1]]'); watcher: $(watch_metric stalltrap_watch_polls_total) polls, \
$(watch_metric stalltrap_watch_breaches_total) breaches; slow requests: $(curl -s "http://127.0.0.1:$SVC_PORT/metrics" |
	grep -E '^freezesvc_request_duration_seconds_(count|bucket.*le=\"1\")' | tr '\n' ' ')"
stop_watch
r=$(incidents)/report.json
[ "$(jq -r .trigger.source "$r")" = prometheus ] || fail "trigger.source $(jq -r .trigger.source "$r")"
jq -e '.trigger.samples | length >= 1 and (.[-1].value >= 0.5)' "$r" >/dev/null ||
	fail "trigger.samples: $(jq -c .trigger.samples "$r")"
jq -e '.trigger.source_detail | contains("increase(")' "$r" >/dev/null || fail "source_detail: $(jq -r .trigger.source_detail "$r")"
ok "Prometheus-triggered incident: $(jq -r .trigger.reason "$r")"
