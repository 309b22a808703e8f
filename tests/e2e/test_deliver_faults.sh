#!/bin/bash
# test_deliver_faults.sh: nothing lost, nothing twice, in order, whatever the sinks do.
# Three incidents go to four sinks that are all down at first: Alertmanager
# (real, not started yet: connection refused), the webhook (hangs: timeouts),
# the Pyroscope stand-in (503 with Retry-After) and the Parca stand-in (400 for
# the second incident). The sender is SIGKILLed in the middle and started
# again on its queue. After recovery each incident arrived exactly once per
# sink, in order; the webhook's signature verifies and its id stays the same
# across retries; the 400 is parked with the server's answer and a later
# `stalltrap send` resends it. Then the disk-full case (a 1 MiB tmpfs as
# --state-dir, as root): a clear log line, and the item already queued is
# still delivered. Also: HTTPS with a CA file and a client certificate (and
# without the certificate: refused, retried, given up after --give-up-after),
# and the secrets never in a log or a queue file.
source "$(dirname "$0")/../lib.sh"
need_bins "$ST" "$GEN"
# a failure keeps the senders' and receivers' logs for a human
fail() {
	echo "FAIL: $*" >&2
	mkdir -p build/test-logs/deliver_faults && cp "$TMP"/*.log build/test-logs/deliver_faults/ 2>/dev/null
	exit 1
}
command -v prometheus-alertmanager >/dev/null || fail "prometheus-alertmanager is not installed (scripts/install-deps.sh)"
# bad sink flags: one line naming the flag, exit 2 (1 for a file that cannot be read)
expect_exit 2 "invalid --alertmanager 'ftp://x': expected an http" "$ST" send --alertmanager ftp://x
expect_exit 2 "credentials in a URL" "$ST" send --pyroscope http://user:pw@127.0.0.1:1
expect_exit 2 "webhook-secret-file needs --webhook" "$ST" send --parca http://127.0.0.1:1 --webhook-secret-file /x
expect_exit 2 "give at least one sink" "$ST" send
expect_exit 1 "cannot read --parca-tenant-file /nonexistent" "$ST" send --parca http://127.0.0.1:1 --parca-tenant-file /nonexistent
expect_exit 2 "invalid --give-up-after '0'" "$ST" send --parca http://127.0.0.1:1 --give-up-after 0
expect_exit 1 "no report.json" "$ST" send "$TMP" --parca http://127.0.0.1:1
printf 'pid = 1\nprobe = tcp://127.0.0.1:1\nalertmanager = notaurl\n' >"$TMP/bad.conf"
expect_exit 2 "bad.conf:3: invalid --alertmanager 'notaurl'" "$ST" watch --config "$TMP/bad.conf"
ok "bad sink flags (command line and --config) are refused with one line"
H=$(hostname)
IDS=()
mkdir -p "$TMP/inc"
for i in 1 2 3; do
	d=$TMP/inc/20240501-12000$i-feedsrv-4242
	"$GEN" --out "$d" --kind incident >/dev/null
	"$ST" report "$d" >/dev/null
	IDS+=("$H/$(basename "$d")")
done
printf '%s\n' "${IDS[@]}" >"$TMP/ids"
echo "whsec_$(head -c 24 /dev/urandom | base64)" >"$TMP/secret"
chmod 600 "$TMP/secret"
TOKEN=tok-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$TOKEN" >"$TMP/am.token"

# recv NAME ARGS...: a loopback receiver; sets PORT_NAME
recv() {
	local name=$1; shift
	python3 tests/e2e/deliver_recv.py --port-file "$TMP/$name.port" --log "$TMP/$name.log" --ids-file "$TMP/ids" "$@" >"$TMP/$name.out" 2>&1 &
	PIDS_TO_KILL+=($!)
	wait_for_file "$TMP/$name.port" 10
	printf -v "PORT_$name" '%s' "$(cat "$TMP/$name.port")"
}
recv wh --secret-file "$TMP/secret" --hang-first 2
recv py --status-first 3 --status 503 --retry-after 1
recv pa --reject-id "${IDS[1]}"
AM_PORT=$(free_port)
AM=http://127.0.0.1:$AM_PORT
S=$TMP/state
SINKS=(--state-dir "$S" --alertmanager "$AM" --alertmanager-token-file "$TMP/am.token" --webhook "http://127.0.0.1:$PORT_wh/hook" --webhook-secret-file "$TMP/secret"
	--pyroscope "http://127.0.0.1:$PORT_py" --parca "http://127.0.0.1:$PORT_pa"
	--retry-min-backoff 200ms --retry-max-backoff 1s --sink-timeout 1s)

"$ST" send "$TMP"/inc/* "${SINKS[@]}" 2>"$TMP/send1.log" &
SEND=$!
PIDS_TO_KILL+=($SEND)
# status_count NAME STATUS: requests a receiver answered with STATUS
status_count() { jq -r .status "$TMP/$1.log" 2>/dev/null | grep -cx "$2" || true; }
# answered NAME STATUS N: a receiver answered STATUS at least N times
answered() { [ "$(status_count "$1" "$2")" -ge "$3" ]; }
wait_until 20 "the three incidents queued" grep -q "queued 3 incidents: 12 items" "$TMP/send1.log"
wait_until 20 "the webhook to hang twice" answered wh hang 2
wait_until 20 "a 503 from the Pyroscope stand-in" answered py 503 1
wait_until 20 "Alertmanager refused" grep -q "alertmanager: .* not delivered (attempt 2)" "$TMP/send1.log"
kill -9 $SEND
wait $SEND 2>/dev/null || true
n=$(find "$S/deliver" -path '*/q/*.json' | wc -l)
[ "$n" -ge 3 ] || fail "after SIGKILL only $n queued items: $(find "$S/deliver" -type f | head)"
bad=$(find "$S/deliver" -type f -path '*/q/*' ! -perm 0600 | head -1)
[ -z "$bad" ] || fail "queue file $bad is not mode 0600"
ok "SIGKILLed with $n items queued (mode 0600)"

prometheus-alertmanager --config.file=<(printf 'route:\n  receiver: none\nreceivers:\n  - name: none\n') \
	--storage.path="$TMP/am" --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= >"$TMP/am.log" 2>&1 &
PIDS_TO_KILL+=($!)
wait_until 60 "Alertmanager ready" curl -sf "$AM/-/ready"
rc=0
timeout 60 "$ST" send "${SINKS[@]}" 2>"$TMP/send2.log" || rc=$?
[ "$rc" = 1 ] || fail "the second send exited $rc, want 1 (one item parked): $(tail -5 "$TMP/send2.log")"

# delivered NAME: the ids a receiver accepted (200), in arrival order
delivered() { jq -r 'select(.status == 200) | .ids[]' "$TMP/$1.log"; }
want=$(printf '%s\n' "${IDS[@]}")
[ "$(delivered wh)" = "$want" ] || fail "webhook got: $(delivered wh | tr '\n' ' ') want ${IDS[*]}"
jq -e -s 'map(select(.status == 200)) | all(.signature == "ok")' "$TMP/wh.log" >/dev/null || fail "webhook signatures"
jq -e -s 'all(.webhook_id == .ids[0])' "$TMP/wh.log" >/dev/null || fail "a webhook retry changed its webhook-id"
ok "webhook: ${IDS[*]} once each, in order, signed; retries after timeouts kept their webhook-id"
[ "$(delivered py)" = "$want" ] || fail "pyroscope got: $(delivered py | tr "\n" " ") (log: $(grep -h pyroscope "$TMP"/send*.log | tail -4))"
jq -s -e '[.[] | select(.path == "/push.v1.PusherService/Push")] | length == (. | length)' "$TMP/py.log" >/dev/null ||
	fail "pyroscope paths: $(jq -r .path "$TMP/py.log" | sort -u)"
# Retry-After: 1 was honoured: no attempt came sooner than 0.9 s after a 503
jq -s -e '[range(1; length) as $i | select(.[$i - 1].status == 503) | .[$i].t - .[$i - 1].t] | all(. >= 0.9)' \
	"$TMP/py.log" >/dev/null || fail "Retry-After not honoured: $(jq -c '[.n, .status, .t]' "$TMP/py.log")"
ok "pyroscope: once each, in order, after 503s with Retry-After honoured"
[ "$(delivered pa)" = "$(printf '%s\n' "${IDS[0]}" "${IDS[2]}")" ] || fail "parca got: $(delivered pa | tr '\n' ' ')"
grep -q "parca: parked ${IDS[1]}: the server refused it: HTTP 400: {\"error\":\"rejected by the test" "$TMP/send2.log" ||
	fail "the 400 is not reported: $(grep parca "$TMP/send2.log" | tail -3)"
p=$(find "$S/deliver/parca/parked" -name '*.json')
jq -e --arg id "${IDS[1]}" '.id == $id and (.last_error | startswith("HTTP 400"))' "$p" >/dev/null ||
	fail "parked item: $(cat "$p")"
ok "parca: the 400 parked with the server's answer, the others delivered in order"
got=$(grep -o 'alertmanager: delivered [^ ]*' "$TMP/send1.log" "$TMP/send2.log" | awk '{print $3}')
[ "$got" = "$want" ] || fail "alertmanager delivered: $got"
curl -sf "$AM/api/v2/alerts" | jq -e --arg id "${IDS[2]}" 'length == 1 and .[0].annotations.incident_id == $id' >/dev/null ||
	fail "Alertmanager's alert: $(curl -sf "$AM/api/v2/alerts" | head -c 400)"
ok "alertmanager: refused, then the three in order (one alert: same labels, the last incident's annotations)"
[ -z "$(find "$S/deliver" -path '*/q/*' -type f)" ] || fail "items left queued: $(find "$S/deliver" -path '*/q/*')"

# the parked item, resent once the server takes it
recv pa2
timeout 30 "$ST" send --state-dir "$S" --parca "http://127.0.0.1:$PORT_pa2" --retry-min-backoff 100ms 2>"$TMP/send3.log" ||
	fail "resending the parked item: $(tail -3 "$TMP/send3.log")"
[ "$(delivered pa2)" = "${IDS[1]}" ] || fail "the parked item was not resent: $(cat "$TMP/pa2.log")"
ok "stalltrap send resent the parked item"

# HTTPS: the server's certificate from --webhook-ca-file, ours from --webhook-cert/--webhook-key
for n in server client; do
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -keyout "$TMP/$n.key" \
		-out "$TMP/$n.pem" -subj "/CN=$n" -addext subjectAltName=IP:127.0.0.1 2>>"$TMP/openssl.err" ||
		fail "openssl: $(tail -1 "$TMP/openssl.err")"
done
recv tls --tls-cert "$TMP/server.pem" --tls-key "$TMP/server.key" --client-ca "$TMP/client.pem"
TLS=(--webhook "https://127.0.0.1:$PORT_tls/hook" --webhook-ca-file "$TMP/server.pem" --retry-min-backoff 100ms)
timeout 30 "$ST" send "$TMP/inc/20240501-120001-feedsrv-4242" --state-dir "$TMP/tls-state" "${TLS[@]}" \
	--webhook-cert "$TMP/client.pem" --webhook-key "$TMP/client.key" 2>"$TMP/tls1.log" || fail "HTTPS: $(tail -3 "$TMP/tls1.log")"
[ "$(delivered tls)" = "${IDS[0]}" ] || fail "HTTPS delivery: $(cat "$TMP/tls.log")"
rc=0
timeout 30 "$ST" send "$TMP/inc/20240501-120002-feedsrv-4242" --state-dir "$TMP/tls-state" "${TLS[@]}" \
	--give-up-after 2s --retry-max-backoff 500ms 2>"$TMP/tls2.log" || rc=$?
[ "$rc" = 1 ] || fail "without a client certificate: exit $rc"
grep -q "webhook: gave up on ${IDS[1]} after [0-9]* attempts" "$TMP/tls2.log" || fail "no give-up: $(tail -3 "$TMP/tls2.log")"
[ "$(delivered tls)" = "${IDS[0]}" ] || fail "delivered without a client certificate"
ok "HTTPS with a CA file and a client certificate; without the certificate: retried, given up ($(grep -o 'gave up.*attempts' "$TMP/tls2.log"))"
grep -rlF "$TOKEN" "$TMP"/*.log "$S" "$TMP/tls-state" && fail "the bearer token appears in a log or a queue file"
ok "the bearer token is in no log and no queue file"

if [ "$(id -u)" -ne 0 ]; then
	echo "disk-full case skipped: mounting a tmpfs needs root"
	exit 0
fi
F=$TMP/full
mkdir -p "$F"
mount -t tmpfs -o size=1m tmpfs "$F"
trap 'umount "$F" 2>/dev/null || true; cleanup' EXIT
WPORT=$(free_port)
"$ST" send "$TMP/inc/20240501-120001-feedsrv-4242" --state-dir "$F/s" --webhook "http://127.0.0.1:$WPORT/" \
	--retry-min-backoff 200ms --retry-max-backoff 500ms 2>"$TMP/full1.log" &
SEND=$!
PIDS_TO_KILL+=($SEND)
wait_until 10 "the first item queued and refused" grep -q "not delivered (attempt 2)" "$TMP/full1.log"
dd if=/dev/zero of="$F/filler" bs=64k 2>/dev/null || true
rc=0
"$ST" send "$TMP/inc/20240501-120002-feedsrv-4242" --state-dir "$F/s" --webhook "http://127.0.0.1:$WPORT/" \
	2>"$TMP/full2.log" || rc=$?
[ "$rc" = 1 ] || fail "queueing on a full disk exited $rc: $(cat "$TMP/full2.log")"
grep -q "webhook: cannot queue ${IDS[1]}: No space left on device.*deliver it later with 'stalltrap send" "$TMP/full2.log" ||
	fail "no clear line for the full disk: $(cat "$TMP/full2.log")"
wait_until 10 "the retry noticing the full disk" grep -q "cannot update the queue item of ${IDS[0]}: No space left" "$TMP/full1.log"
ok "disk full: $(grep -o 'webhook: cannot queue.*device' "$TMP/full2.log")"
rm -f "$F/filler"
python3 tests/e2e/deliver_recv.py --port "$WPORT" --port-file "$TMP/wf.port" --log "$TMP/wf.log" >"$TMP/wf.out" 2>&1 &
PIDS_TO_KILL+=($!)
wait $SEND || fail "the first send did not deliver after the disk and the sink came back: $(tail -3 "$TMP/full1.log")"
[ "$(delivered wf)" = "${IDS[0]}" ] || fail "after the full disk: $(cat "$TMP/wf.log")"
ok "the item queued before the disk filled was delivered once"
umount "$F"
