# server_lib.sh: helpers for the real-server tests (test_server_*.sh; sourced).
# Each test runs its own instance of a real Debian server (MariaDB, PostgreSQL,
# Redis) on loopback, on a free port, with its data in $TMP, as the server's
# own user; freezes it with the server's own commands while `stalltrap record`
# watches, and checks the verdict in report.json. Never the packaged service.
#
# At exit (also on failure): the helper process groups (clients, writers) are
# killed, each server is stopped by its pid (its own shutdown signal, SIGKILL
# after 10 s, then any child left), cgroups made here are removed, then
# lib.sh's cleanup (PIDS_TO_KILL, $TMP).
#
# SERVER_CAPTURES=DIR keeps each freeze's output directory (report.json,
# capture.jsonl.gz, ...), record's printed summary and harness.json (the
# truth the harness measured) in DIR/NAME/; default $ARTIFACTS/servers.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
require_root
chmod 0711 "$TMP"   # the servers' users reach their directories inside it
SERVER_CAPTURES=${SERVER_CAPTURES:-$ROOT/$ARTIFACTS/servers}
PGIDS_TO_KILL=()     # process groups (helpers started by setsid_bg)
SERVERS_TO_STOP=()   # "PID SIGNAL": servers, stopped gracefully, then killed
CGROUPS_TO_REMOVE=()
ASSERT_FAILS=0

server_cleanup() {
	local pg s pid sig c
	for pg in "${PGIDS_TO_KILL[@]:-}"; do [ -n "$pg" ] && kill -9 -- "-$pg" 2>/dev/null || true; done
	for s in "${SERVERS_TO_STOP[@]:-}"; do
		[ -n "$s" ] || continue
		read -r pid sig <<<"$s"
		kill "-$sig" "$pid" 2>/dev/null || continue
		poll_until 0.1 10 proc_gone "$pid" || kill -9 "$pid" 2>/dev/null || true
	done
	for s in "${SERVERS_TO_STOP[@]:-}"; do
		[ -n "$s" ] || continue
		read -r pid sig <<<"$s"
		# children left by a killed server (a redis save child, postgres backends)
		for c in $(ps --ppid "$pid" -o pid= 2>/dev/null); do kill -9 "$c" 2>/dev/null || true; done
	done
	cleanup
	for c in "${CGROUPS_TO_REMOVE[@]:-}"; do
		[ -n "$c" ] && [ -d "$c" ] && { poll_until 0.1 5 rmdir "$c" || echo "warning: could not remove cgroup $c" >&2; }
	done
	return 0
}
trap server_cleanup EXIT

# skip REASON: exit 77 with a one-line reason (tests/run.sh counts a skip)
skip() {
	echo "skip: $(basename "$0"): $*"
	exit 77
}

# need_server_bins BIN...: skips when a server's binary is not installed
need_server_bins() {
	local b
	for b in "$@"; do [ -x "$b" ] || command -v "$b" >/dev/null 2>&1 || skip "$b is not installed (scripts/install-deps.sh)"; done
}

# proc_gone PID: PID has exited (a zombie counts as gone)
proc_gone() {
	local st
	[ -e "/proc/$1" ] || return 0
	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 0
	[ "$st" = Z ] || [ -z "$st" ]
}

# start_server USER SIGNAL LOG CMD...: starts the server CMD as USER (root:
# as root) in the background, output to LOG; sets SERVER_PID (CMD's own pid:
# setpriv execs it); at exit it is stopped with SIGNAL (then SIGKILL)
start_server() {
	local u=$1 sig=$2 log=$3; shift 3
	if [ "$u" = root ]; then
		"$@" >"$log" 2>&1 </dev/null &
	else
		setpriv --reuid="$u" --regid="$u" --init-groups -- "$@" >"$log" 2>&1 </dev/null &
	fi
	SERVER_PID=$!
	SERVERS_TO_STOP+=("$SERVER_PID $sig")
}

# as_user USER CMD...: runs CMD as USER, in the foreground
as_user() {
	local u=$1; shift
	setpriv --reuid="$u" --regid="$u" --init-groups -- "$@"
}

# check_comm PID COMM: PID is alive and is COMM (not a wrapper)
check_comm() {
	local c
	c=$(cat "/proc/$1/comm" 2>/dev/null) || fail "pid $1 is gone"
	[ "$c" = "$2" ] || fail "pid $1 is $c, want $2"
}

# setsid_bg OUT CMD...: runs CMD in its own process group, in the
# background, stdout to OUT; sets BG_PID (= its pgid). The group is killed at exit.
setsid_bg() {
	local out=$1; shift
	setsid "$@" >"$out" 2>&1 </dev/null &
	BG_PID=$!
	PGIDS_TO_KILL+=("$BG_PID")
}

# stop_group PGID TIMEOUT_S: waits for a helper group to end by itself, then kills it
stop_group() {
	poll_until 0.1 "$2" proc_gone "$1" || kill -9 -- "-$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# sql_writers NAME STATEMENT STAMP_SQL CLIENT...: 4 sessions of CLIENT (a SQL
# client reading statements on stdin), writer k sending STATEMENT ("{k}"
# replaced by k) then STAMP_SQL (which prints the epoch) in a loop until
# $TMP/NAME.stop exists; writer k's answers, one epoch per statement, go to
# $TMP/NAME.wK. Sets WRITERS (their process groups).
sql_writers() {
	local name=$1 stmt=$2 stamp=$3 k; shift 3
	WRITERS=()
	for k in 1 2 3 4; do
		setsid_bg "$TMP/$name.w$k.err" bash -c '
			while [ ! -e "$1" ]; do printf "%s\n%s\n" "$2" "$3"; done | "${@:5}" >>"$4"
		' _ "$TMP/$name.stop" "${stmt//\{k\}/$k}" "$stamp" "$TMP/$name.w$k" "$@"
		WRITERS+=("$BG_PID")
	done
	wait_until 10 "the writers' first answers" test -s "$TMP/$name.w1"
}

# stop_writers NAME TIMEOUT_S: tells NAME's writers to stop, waits for them
stop_writers() {
	local g
	touch "$TMP/$1.stop"
	for g in "${WRITERS[@]}"; do stop_group "$g" "$2"; done
}

# wrate NAME FROM TO: statements answered per second by NAME's writers in [FROM, TO)
wrate() { cat "$TMP/$1".w[1-4] | rate /dev/stdin "$2" "$3"; }

# now: seconds since the epoch, microseconds
now() { date +%s.%6N; }

# start_record NAME TARGET_ARGS... : starts `stalltrap record TARGET_ARGS
# --duration $RECORD_S --out $TMP/NAME` in the background and waits until it
# has attached; sets REC_PID and REC_OUT
start_record() {
	local name=$1; shift
	REC_OUT=$TMP/$name
	"$ST" record "$@" --duration "${RECORD_S}s" --out "$REC_OUT" >"$TMP/$name.summary" 2>"$TMP/$name.err" &
	REC_PID=$!
	PIDS_TO_KILL+=("$REC_PID")
	wait_attached "$REC_PID" "$TMP/$name.err"
}

# finish_record NAME HARNESS_JSON: waits for record, then keeps its output
# (SERVER_CAPTURES/NAME/: the output directory, summary.txt, harness.json)
finish_record() {
	local name=$1 harness=$2 keep
	wait "$REC_PID" || fail "$name: stalltrap record failed: $(cat "$TMP/$name.err")"
	[ -s "$REC_OUT/report.json" ] || fail "$name: no report.json"
	keep=$SERVER_CAPTURES/$name
	rm -rf "$keep"
	mkdir -p "$keep"
	cp -r "$REC_OUT/." "$keep/"
	cp "$TMP/$name.summary" "$keep/summary.txt"
	printf '%s\n' "$harness" | jq . >"$keep/harness.json"
	echo "     capture kept in $keep"
}

# expect NAME DESCRIPTION JQ_FILTER [JQ_ARGS...]: one assert on NAME's
# report.json; a failure prints the verdict and the waits and is counted
# (the test fails at the end, after every freeze ran: see asserts_done)
expect() {
	local name=$1 what=$2 filter=$3 r=$TMP/$1/report.json; shift 3
	if jq -e "$@" "$filter" "$r" >/dev/null 2>&1; then
		echo "ok   $name: $what"
	else
		ASSERT_FAILS=$((ASSERT_FAILS + 1))
		{
			echo "FAIL: $name: $what"
			echo "  verdict: $(jq -c .verdict "$r" | head -c 1500)"
			echo "  waits: $(jq -c .waits "$r" | head -c 1500)"
		} >&2
	fi
}

# expect_complete NAME: the user stacks of NAME's capture unwound to the
# threads' entries for >= 95 % of its off-CPU time (deep server stacks: issue 13)
expect_complete() {
	expect "$1" "complete user stacks for >= 95 % of off-CPU time ($(jq -r .user_stack_complete_pct "$TMP/$1/report.json") %)" \
		'.user_stack_complete_pct >= 95'
}

# verdict_line NAME: the verdict's kind and summary, for ok lines
verdict_line() {
	jq -r '"\(.verdict.kind): \(.verdict.summary)"' "$TMP/$1/report.json" | head -c 400
}

asserts_done() {
	[ "$ASSERT_FAILS" -eq 0 ] || fail "$ASSERT_FAILS assert(s) failed"
	return 0
}

# rate FILE FROM TO: lines of FILE (one epoch timestamp first on each line)
# within [FROM, TO), per second
rate() {
	awk -v a="$2" -v b="$3" '$1 >= a && $1 < b { n++ } END { printf "%.1f", n / (b - a) }' "$1"
}

# lat_stats FILE FROM TO: the requests of FILE (lines "START_EPOCH LATENCY_MS")
# that started within [FROM, TO): count, p50, p99 and max latency
lat_stats() {
	awk -v a="$2" -v b="$3" '$1 >= a && $1 < b { print $2 }' "$1" | sort -g |
		awk '{ v[NR] = $1 } END {
			if (NR == 0) { print "0 requests"; exit }
			printf "%d requests, p50 %.2f ms, p99 %.2f ms, max %.1f ms", NR, v[int(NR * 0.5) + (NR * 0.5 > int(NR * 0.5))], v[int(NR * 0.99) + (NR * 0.99 > int(NR * 0.99))], v[NR] }'
}

# redis_probe PORT OUT STOPFILE: a client that sends PING, then GET, in turn,
# one request every 10 ms, on one connection, until STOPFILE exists; each
# answer appends "START_EPOCH LATENCY_MS" to OUT. Sets BG_PID.
redis_probe() {
	setsid_bg "$2.err" python3 -c '
import socket, sys, time, os
port, out, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port))
f = open(out, "a", buffering=1)
cmds = [b"PING\r\n", b"GET key:1\r\n"]
i = 0
while not os.path.exists(stop):
    t0 = time.time()
    s.sendall(cmds[i % 2])
    buf = b""
    while not buf.endswith(b"\r\n") or (buf.startswith(b"$") and buf.count(b"\r\n") < 2 and not buf.startswith(b"$-1")):
        d = s.recv(65536)
        if not d:
            sys.exit("connection closed")
        buf += d
    f.write("%.6f %.3f\n" % (t0, (time.time() - t0) * 1000))
    i += 1
    time.sleep(0.01)
' "$1" "$2" "$3"
}
