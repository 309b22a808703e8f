#!/bin/bash
# test_lifecycle.sh: how a capture ends and what it follows: targets that exit,
# SIGTERM, --name over several processes, --cgroup with a process joining,
# children forked during the capture.
source "$(dirname "$0")/../lib.sh"

# targets exit: the profile of their lives so far is written, early
# (the target forks its child once record has attached)
bash -c 'while [ ! -e "$1" ]; do sleep 0.05; done; /bin/sleep 0.5; exit 0' _ "$TMP/exit.gate" & t=$!
"$ST" record --pid $t --duration 20s --out "$TMP/exit" >/dev/null 2>"$TMP/exit.err" & rec=$!
wait_attached $rec "$TMP/exit.err"
start=$(date +%s)
touch "$TMP/exit.gate"
wait $rec || fail "record of an exiting target failed"
[ $(( $(date +%s) - start )) -lt 10 ] || fail "record did not end when its target exited"
grep -q "targets exited" "$TMP/exit.err" || fail "no note that the targets exited: $(cat "$TMP/exit.err")"
jq -e --argjson t $t '[.threads[] | select(.pid != $t and .comm == "sleep" and .offcpu_ms > 400)] | length > 0' "$TMP/exit/report.json" >/dev/null \
	|| fail "forked child 'sleep' of the target not followed: $(jq -c '[.threads[] | {pid, comm, offcpu_ms}]' "$TMP/exit/report.json")"
ok "exit + fork follow"

# the target execs mid-capture: the new image (same pid) is followed and
# symbolized, and its exit ends the capture with the profile written
cp /bin/sleep "$TMP/stexeced"
bash -c 'sleep 1.5; exec "$0" 1.2' "$TMP/stexeced" & t=$!
"$ST" record --pid $t --duration 20s --out "$TMP/exec" >/dev/null 2>"$TMP/exec.err" || fail "record of a target that execs failed: $(cat "$TMP/exec.err")"
grep -q "targets exited" "$TMP/exec.err" || fail "no note that the exec'd target exited: $(cat "$TMP/exec.err")"
jq -e --argjson t $t '[.threads[] | select(.pid == $t and .comm == "stexeced" and .offcpu_ms > 1000)] | length == 1' "$TMP/exec/report.json" >/dev/null \
	|| fail "the exec'd image of pid $t not profiled: $(jq -c '[.threads[] | {pid, comm, offcpu_ms}]' "$TMP/exec/report.json")"
jq -e '[.stacks[] | select(.frames | any(test("nanosleep")))] | length > 0' "$TMP/exec/report.json" >/dev/null \
	|| fail "no nanosleep stack after the exec"
ok "exec mid-capture"

# SIGTERM, SIGINT: the profile so far is written, exit 0
for sig in TERM INT; do
	sleep 60 & s=$!; PIDS_TO_KILL+=($s)
	"$ST" record --pid $s --duration 60s --out "$TMP/$sig" >/dev/null 2>"$TMP/$sig.err" & rec=$!
	wait_attached $rec "$TMP/$sig.err"
	sleep 1.2; kill -$sig $rec
	wait $rec || fail "record exited $? on SIG$sig"
	jq -e '.window.duration_s < 10 and .offcpu_total_ms > 1000' "$TMP/$sig/report.json" >/dev/null || fail "SIG$sig profile: $(jq -c '{window, offcpu_total_ms}' "$TMP/$sig/report.json")"
	ok "SIG$sig"
done

# --name: every process with that comm is one target
cp /bin/sleep "$TMP/stnamed"
"$TMP/stnamed" 30 & a=$!; PIDS_TO_KILL+=($a)
"$TMP/stnamed" 30 & b=$!; PIDS_TO_KILL+=($b)
"$ST" record --name stnamed --duration 1s --out "$TMP/name" >/dev/null 2>"$TMP/name.err" || fail "--name failed: $(cat "$TMP/name.err")"
jq -e '.target.pids | sort == ([$a, $b] | sort)' --argjson a $a --argjson b $b "$TMP/name/report.json" >/dev/null || fail "--name pids: $(jq -c .target "$TMP/name/report.json")"
[ "$(jq '[.threads[].pid] | unique | length' "$TMP/name/report.json")" -eq 2 ] || fail "--name: not both processes profiled"
ok "--name"

# --cgroup: processes that join during the capture are traced too
cg=/sys/fs/cgroup/pids/stalltrap-test-$$
[ -d /sys/fs/cgroup/pids ] || cg=/sys/fs/cgroup/unified/stalltrap-test-$$
mkdir -p "$cg"
trap 'for p in "${PIDS_TO_KILL[@]}"; do kill -9 $p 2>/dev/null; done; sleep 0.2; rmdir '"$cg"' 2>/dev/null; rm -rf "$TMP"' EXIT
sleep 30 & c1=$!; PIDS_TO_KILL+=($c1); echo $c1 > "$cg/cgroup.procs"
"$ST" record --cgroup "$cg" --duration 2s --out "$TMP/cg" >/dev/null 2>"$TMP/cg.err" & rec=$!
wait_attached $rec "$TMP/cg.err"
sleep 30 & c2=$!; PIDS_TO_KILL+=($c2); echo $c2 > "$cg/cgroup.procs"
wait $rec || fail "--cgroup failed: $(cat "$TMP/cg.err")"
jq -e '[.threads[].pid] | index('$c2')' "$TMP/cg/report.json" >/dev/null || fail "--cgroup: process $c2 that joined was not traced: $(jq -c '[.threads[].pid]' "$TMP/cg/report.json")"
ok "--cgroup with a joining process"
