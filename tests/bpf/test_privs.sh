#!/bin/bash
# test_privs.sh: once running, record and watch keep only the capabilities
# src/cli/privs.c lists (their effective, permitted and bounding sets in
# /proc/PID/status), a capture still works after the drop, and an output
# directory that is a planted symbolic link is refused with nothing written
# through it.
source "$(dirname "$0")/../lib.sh"
require_root

# mask CAP_NUMBER...: the hex capability mask /proc/PID/status shows
mask() {
	local m=0 c
	for c in "$@"; do m=$((m | (1 << c))); done
	printf '%016x' "$m"
}
CAP_DAC_READ_SEARCH=2 CAP_SYS_PTRACE=19 CAP_SYSLOG=34 CAP_PERFMON=38 CAP_BPF=39
REC_WANT=$(mask $CAP_DAC_READ_SEARCH $CAP_SYS_PTRACE)
WATCH_WANT=$(mask $CAP_DAC_READ_SEARCH $CAP_SYS_PTRACE $CAP_SYSLOG $CAP_PERFMON $CAP_BPF)

# caps PID FIELD: CapEff, CapPrm or CapBnd of PID
caps() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# expect_caps WHAT PID WANT
expect_caps() {
	local f got
	for f in CapEff CapPrm CapBnd; do
		got=$(caps "$2" $f)
		[ "$got" = "$3" ] || fail "$1: $f is $got, want $3"
	done
	[ "$(awk '$1 == "NoNewPrivs:" { print $2 }' "/proc/$2/status")" = 1 ] || fail "$1: no_new_privs is not set"
}

# record: after attaching, only CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH; the capture still works
gate=$TMP/gate
"$WL/offcpu_truth" --duration 2 --start-after "$gate" --truth "$TMP/truth.json" >"$TMP/wl.out" &
wl=$!; PIDS_TO_KILL+=($wl)
"$ST" record --pid $wl --duration 10s --out "$TMP/rec" >"$TMP/rec.summary" 2>"$TMP/rec.err" &
st=$!; PIDS_TO_KILL+=($st)
wait_attached "$st" "$TMP/rec.err"
wait_until 5 "record to drop its capabilities" test "$(caps $st CapEff)" = "$REC_WANT"
expect_caps record $st "$REC_WANT"
touch "$gate"
wait $wl || fail "workload failed"
wait $st || fail "record failed after dropping its capabilities: $(cat "$TMP/rec.err")"
python3 tests/bpf/check_truth.py "$TMP/rec/report.json" "$TMP/truth.json" --tolerance-pct 2 --min-complete-pct 95 ||
	fail "the capture after the drop is not exact"
ok "record keeps CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH only ($REC_WANT), and its capture is exact"

# watch: the generations' needs (CAP_BPF, CAP_PERFMON, CAP_SYSLOG) too, nothing else;
# a manual trigger's incident (a second recorder generation) still works
source "$(dirname "$0")/watch_lib.sh"
start_svc --load 20
start_watch --pid "$SVC_PID" --metrics-url "http://127.0.0.1:$SVC_PORT/metrics" \
	--metric freezesvc_request_duration_seconds --threshold 5s --interval 250ms \
	--before 1s --window 1s --cooldown 0
expect_caps watch "$WATCH_PID" "$WATCH_WANT"
sleep 1
kill -USR1 "$WATCH_PID"
wait_until 30 "an incident" incident_count_is 1
wait_until 30 "the next recorder generation" grep -q 'recorder restarted' "$TMP/watch.log"
ok "watch keeps CAP_BPF, CAP_PERFMON, CAP_SYSLOG, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH only ($WATCH_WANT), and captures"

# a symbolic link planted at the output path is refused, nothing written through it
mkdir "$TMP/victim"
ln -s "$TMP/victim" "$TMP/planted"
sleep 30 & s=$!; PIDS_TO_KILL+=($s)
expect_exit 1 "symbolic link" "$ST" record --pid $s --duration 1s --out "$TMP/planted"
[ -z "$(ls -A "$TMP/victim")" ] || fail "record wrote through the planted link: $(ls "$TMP/victim")"
ok "record refuses a symlinked --out ($(head -1 "$TMP/err"))"
