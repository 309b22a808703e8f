#!/bin/bash
# test_watch_unit.sh: the systemd side of `stalltrap watch`: the unit file verifies; the watcher
# speaks the notify protocol (READY=1, STATUS=, WATCHDOG=1, STOPPING=1) to a
# NOTIFY_SOCKET the test listens on; and it runs, captures and writes an
# incident with only the capabilities of the unit's CapabilityBoundingSet.
source "$(dirname "$0")/watch_lib.sh"
require_root
UNIT=systemd/stalltrap-watch.service

if command -v systemd-analyze >/dev/null; then
	sed "s|/usr/local/bin/stalltrap|$ST|" "$UNIT" >"$TMP/stalltrap-watch.service"
	SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "$TMP/stalltrap-watch.service" >"$TMP/verify" 2>&1 ||
		fail "systemd-analyze verify: $(cat "$TMP/verify")"
	[ ! -s "$TMP/verify" ] || fail "systemd-analyze verify warns: $(cat "$TMP/verify")"
	ok "the unit verifies"
fi
grep -q '^Type=notify$' "$UNIT" || fail "the unit is not Type=notify"

# the notify protocol, to a socket of ours
python3 - "$TMP/notify.sock" "$TMP/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
with open(sys.argv[2], "a") as out:
    while True:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            break
        out.write(msg.replace("\n", " ") + "\n")
        out.flush()
        if "STOPPING=1" in msg:
            break
PY
PIDS_TO_KILL+=($!)
wait_until 10 "the notify socket" test -S "$TMP/notify.sock"

# only the unit's capabilities: the bounding set caps what root keeps across exec
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT" | tr ' ' '\n' | sed 's/^CAP_//' | tr 'A-Z' 'a-z' | sed 's/^/+/' | paste -sd,)
start_svc --load 20
NOTIFY_SOCKET=$TMP/notify.sock WATCHDOG_USEC=1000000 \
	setpriv --bounding-set="-all,$caps" --inh-caps=-all -- \
	"$ST" watch --listen 127.0.0.1:0 --out "$TMP/incidents" --state-dir "$TMP/state" --pid "$SVC_PID" \
	--metrics-url "http://127.0.0.1:$SVC_PORT/metrics" --metric freezesvc_request_duration_seconds \
	--threshold 200ms --for 1s --interval 250ms --before 1s --window 2s --baseline 2s \
	>"$TMP/watch.out" 2>"$TMP/watch.log" &
WATCH_PID=$!
PIDS_TO_KILL+=("$WATCH_PID")
wait_until 30 "READY=1" grep -q "READY=1" "$TMP/notify.log"
WATCH_PORT=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/watch.log" | head -1)
grep -q "CapBnd:.*" "/proc/$WATCH_PID/status" || fail "watcher gone: $(cat "$TMP/watch.log")"
bnd=$(awk '/^CapBnd/ { print $2 }' "/proc/$WATCH_PID/status")
[ "$bnd" != "000001ffffffffff" ] || fail "the bounding set was not applied"
wait_until 10 "WATCHDOG=1" grep -q "WATCHDOG=1" "$TMP/notify.log"
wait_until 30 "history >= before + baseline" metric_at_least stalltrap_watch_history_seconds 3.5
curl -s -m 2 "http://127.0.0.1:$SVC_PORT/freeze?seconds=2" >/dev/null
wait_until 60 "an incident" incident_count_is 1
grep -q "STATUS=capturing" "$TMP/notify.log" || fail "no STATUS=capturing: $(cat "$TMP/notify.log")"
jq -e '.verdict.kind == "app_lock"' "$(incidents)/report.json" >/dev/null ||
	fail "with the unit's capabilities the incident lacks its diagnosis: $(jq -c .verdict "$(incidents)/report.json" | head -c 300)"
stop_watch
wait_until 10 "STOPPING=1" grep -q "STOPPING=1" "$TMP/notify.log"
ok "notify protocol: $(tr '\n' '|' <"$TMP/notify.log" | head -c 200)"
ok "captured with only: $caps"
