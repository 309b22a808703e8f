# watch_lib.sh: helpers for the `stalltrap watch` tests (sourced): the test service,
# the watcher, its metrics and incidents. The shared helpers are tests/lib.sh's.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
SVC_BIN=$WL/freezesvc
# a failure shows the watcher's last log lines: they say what it saw
fail() {
	echo "FAIL: $*" >&2
	[ -s "$TMP/watch.log" ] && tail -25 "$TMP/watch.log" | sed 's/^/  watch.log: /' >&2
	exit 1
}

# start_svc ARGS...: starts freezesvc on a random loopback port; sets SVC_PID, SVC_PORT
start_svc() {
	"$SVC_BIN" "$@" >"$TMP/svc.out" 2>&1 &
	SVC_PID=$!
	PIDS_TO_KILL+=("$SVC_PID")
	wait_until 10 "freezesvc to listen" grep -q '"listening"' "$TMP/svc.out"
	SVC_PORT=$(grep '"listening"' "$TMP/svc.out" | jq -r .port)
}

# start_watch ARGS...: starts the watcher with --listen on a random port; sets WATCH_PID, WATCH_PORT
start_watch() {
	"$ST" watch --listen 127.0.0.1:0 --out "$TMP/incidents" --state-dir "$TMP/state" "$@" \
		>"$TMP/watch.out" 2>"$TMP/watch.log" &
	WATCH_PID=$!
	PIDS_TO_KILL+=("$WATCH_PID")
	wait_until 30 "the watcher to listen" grep -q 'listening on' "$TMP/watch.log"
	WATCH_PORT=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/watch.log" | head -1)
	wait_until 30 "the watcher to start watching" grep -q 'watching' "$TMP/watch.log"
}

# watch_metric NAME: the watcher's own metric (first sample of that name)
# (the page is read whole first: awk's early exit would close the pipe on
# curl, whose exit 23 fails the pipeline under pipefail)
watch_metric() {
	local page
	page=$(curl -s -m 2 "http://127.0.0.1:$WATCH_PORT/metrics") || return 1
	awk -v n="$1" '$1 == n { print $2; exit }' <<<"$page"
}

# metric_at_least NAME VALUE: succeeds once the watcher's metric is >= VALUE
metric_at_least() {
	local v
	v=$(watch_metric "$1")
	[ -n "$v" ] && awk -v a="$v" -v b="$2" 'BEGIN { exit !(a >= b) }'
}

# incidents: the finished incident directories (hidden .tmp ones are being written)
incidents() {
	find "$TMP/incidents" -mindepth 1 -maxdepth 1 -type d ! -name '.*' 2>/dev/null | sort
}

# incident_count_is N
incident_count_is() { [ "$(incidents | wc -l)" -eq "$1" ]; }

# stop_watch: SIGTERM, which must end with exit status 0
stop_watch() {
	local rc=0
	kill -TERM "$WATCH_PID"
	wait "$WATCH_PID" || rc=$?
	[ "$rc" -eq 0 ] || fail "the watcher exited $rc on SIGTERM (log: $(tail -3 "$TMP/watch.log"))"
}
