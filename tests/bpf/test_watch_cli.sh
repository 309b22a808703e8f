#!/bin/bash
# test_watch_cli.sh: bad input to `stalltrap watch` gets one clear line and a non-zero exit, never a
# crash: invalid durations, bad config lines, a --pid that does not exist, an
# unknown metric, an unparseable exposition, a malformed PromQL response. An
# unreachable URL at startup is only warned about, and polling goes on (root:
# it needs the recorder). The flags of the command line win over --config.
source "$(dirname "$0")/watch_lib.sh"

start_svc --load 20
SRC=(--pid "$SVC_PID" --metrics-url "http://127.0.0.1:$SVC_PORT/metrics" --metric freezesvc_request_duration_seconds)

# usage errors: exit 2, naming the flag
expect_exit 2 "invalid --for '2x'" "$ST" watch "${SRC[@]}" --for 2x
expect_exit 2 "invalid --interval" "$ST" watch "${SRC[@]}" --interval 1ms
expect_exit 2 "invalid --threshold" "$ST" watch "${SRC[@]}" --threshold 2zz
expect_exit 2 "invalid --on-no-data" "$ST" watch "${SRC[@]}" --on-no-data maybe
expect_exit 2 "invalid --quantile" "$ST" watch "${SRC[@]}" --quantile 1.5
expect_exit 2 "needs its --metric" "$ST" watch --pid "$SVC_PID" --metrics-url "http://127.0.0.1:$SVC_PORT/metrics"
expect_exit 2 "must follow its --metrics-url" "$ST" watch --pid "$SVC_PID" --metric foo
expect_exit 2 "needs its --query" "$ST" watch --pid "$SVC_PID" --prometheus http://127.0.0.1:1
expect_exit 2 "invalid --alert-match 'service'" "$ST" watch "${SRC[@]}" --alert-match service
expect_exit 2 "--alert-match needs the webhook" "$ST" watch "${SRC[@]}" --alert-match service=feed
expect_exit 2 "invalid --metric" "$ST" watch --pid "$SVC_PID" --metrics-url "http://127.0.0.1:$SVC_PORT/metrics" --metric 'foo{a=b}'
expect_exit 2 "expected an http" "$ST" watch --pid "$SVC_PID" --metrics-url ftp://x --metric foo
expect_exit 2 "invalid --psi" "$ST" watch --pid "$SVC_PID" --psi disk
expect_exit 2 "at least one metric source" "$ST" watch --pid "$SVC_PID"
expect_exit 2 "exactly one of --pid" "$ST" watch --metrics-url "http://127.0.0.1:$SVC_PORT/metrics" --metric foo
expect_exit 2 "shorter than --window" "$ST" watch "${SRC[@]}" --window 30s --max-window 10s
expect_exit 2 "unknown option" "$ST" watch "${SRC[@]}" --bogus
expect_exit 2 "--tls-cert and --tls-key go together" "$ST" watch "${SRC[@]}" --listen 127.0.0.1:0 --tls-cert /x
expect_exit 2 "--tls-cert needs --listen" "$ST" watch "${SRC[@]}" --tls-cert /x --tls-key /y
ok "usage errors"

# config files: a bad line is one line naming the file and line
printf 'threshold 200ms\n' >"$TMP/bad1.conf"
expect_exit 2 "bad1.conf:1: expected 'key = value'" "$ST" watch "${SRC[@]}" --config "$TMP/bad1.conf"
printf '# comment\n\nthreshhold = 200ms\n' >"$TMP/bad2.conf"
expect_exit 2 "bad2.conf:3: unknown key 'threshhold'" "$ST" watch "${SRC[@]}" --config "$TMP/bad2.conf"
printf 'for = soon\n' >"$TMP/bad3.conf"
expect_exit 2 "bad3.conf:1: invalid --for 'soon'" "$ST" watch "${SRC[@]}" --config "$TMP/bad3.conf"
printf 'no-locks = maybe\n' >"$TMP/bad4.conf"
expect_exit 2 "bad4.conf:1: no-locks takes true or false" "$ST" watch "${SRC[@]}" --config "$TMP/bad4.conf"
expect_exit 1 "cannot read --config" "$ST" watch "${SRC[@]}" --config "$TMP/none.conf"
ok "config errors"

# TLS files: unreadable, not PEM, or a pair GnuTLS refuses (a key given as the certificate)
printf 'not a certificate\n' >"$TMP/plain.txt"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$TMP/key.pem" 2>/dev/null || fail "openssl genpkey"
TLS=("${SRC[@]}" --listen 127.0.0.1:0)
expect_exit 1 "cannot read --tls-cert $TMP/none.pem" "$ST" watch "${TLS[@]}" --tls-cert "$TMP/none.pem" --tls-key "$TMP/key.pem"
expect_exit 1 "--tls-key $TMP/plain.txt: not a PEM file" "$ST" watch "${TLS[@]}" --tls-cert "$TMP/key.pem" --tls-key "$TMP/plain.txt"
expect_exit 1 "are not a certificate and its private key that GnuTLS accepts" "$ST" watch "${TLS[@]}" \
	--tls-cert "$TMP/key.pem" --tls-key "$TMP/key.pem"
ok "TLS file errors"

# runtime errors: exit 1, one line
expect_exit 1 "no such process: 4000000" "$ST" watch --pid 4000000 --metrics-url "http://127.0.0.1:$SVC_PORT/metrics" --metric foo
expect_exit 1 "unknown metric no_such_metric" "$ST" watch --pid "$SVC_PID" --metrics-url "http://127.0.0.1:$SVC_PORT/metrics" --metric no_such_metric
expect_exit 1 "summary freezesvc_request_latency_seconds has no quantile 0.9" "$ST" watch --pid "$SVC_PID" \
	--metrics-url "http://127.0.0.1:$SVC_PORT/metrics" --metric freezesvc_request_latency_seconds --quantile 0.9
# a static server for broken answers
mkdir -p "$TMP/www/api/v1"
printf '<html><body>hello</body></html>\n' >"$TMP/www/metrics"
printf '{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,' >"$TMP/www/api/v1/query"
WWW_PORT=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$TMP/www" "$WWW_PORT" >/dev/null 2>&1 &
PIDS_TO_KILL+=($!)
wait_until 10 "the static server" curl -sf "http://127.0.0.1:$WWW_PORT/metrics"
expect_exit 1 "unparseable exposition: line 1" "$ST" watch --pid "$SVC_PID" --metrics-url "http://127.0.0.1:$WWW_PORT/metrics" --metric foo
expect_exit 1 "malformed PromQL response" "$ST" watch --pid "$SVC_PID" --prometheus "http://127.0.0.1:$WWW_PORT" --query up
printf '{"status":"success","data":{"resultType":"matrix","result":[]}}' >"$TMP/www/api/v1/query"
expect_exit 1 "must give an instant vector or a scalar" "$ST" watch --pid "$SVC_PID" --prometheus "http://127.0.0.1:$WWW_PORT" --query 'up[1m]'
ok "bad answers refused with one line"

if [ "$(id -u)" -ne 0 ]; then
	echo "skip: the unreachable-URL and config-precedence checks need root (BPF)"
	exit 0
fi
# an unreachable URL at startup: warn, keep polling; the service comes up on that port later
DOWN_PORT=$(free_port)
printf 'threshold = 5s\nfor = 9s\ninterval = 200ms\ncooldown = 7s\n' >"$TMP/good.conf"
start_watch --config "$TMP/good.conf" --pid "$SVC_PID" --metrics-url "http://127.0.0.1:$DOWN_PORT/metrics" \
	--metric freezesvc_request_duration_seconds --for 1s
grep -q "warning: .*connection refused: target down; polling goes on" "$TMP/watch.log" || fail "no warning for the unreachable URL: $(cat "$TMP/watch.log")"
grep -q "threshold 5s for 1.0s, interval 0.2s.*cooldown 7s" "$TMP/watch.log" || fail "config + flags not applied: $(grep watching "$TMP/watch.log")"
"$SVC_BIN" --port "$DOWN_PORT" --load 20 >"$TMP/svc2.out" 2>&1 &
PIDS_TO_KILL+=($!)
wait_until 20 "the late service to be polled" grep -q "down -> ok\|start -> ok\|-> ok" "$TMP/watch.log"
kill -0 "$WATCH_PID" || fail "the watcher died"
stop_watch
ok "unreachable at startup: warned, polled on; command-line flags win over --config"
