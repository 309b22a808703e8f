#!/bin/bash
# test_nohang.sh: the target's mmap_lock is held for seconds (a /proc/self/mem
# read stuck behind throttled I/O, with a writer queued behind it). record must
# finish on time, whether it starts before the hold or during it, and say that
# the user stack of the blocked thread could not be read.
source "$(dirname "$0")/../lib.sh"
hold=$((10 * ${TEST_TIMEOUT_SCALE:-1}))  # outlasts both captures (longer under emulation, where attaching takes seconds)
"$WL/mmap_hold" --mode io --hold-seconds $hold --no-outside --start-after "$TMP/gate" >"$TMP/wl.out" 2>"$TMP/wl.err" &
wl=$!; PIDS_TO_KILL+=($wl)
# Times are taken from the moment record says it is attached (attaching takes
# 0.3 s natively, 4-6 s under emulation: tests/kernels/run.sh).
# 1. attached before the hold begins; the capture ends while the lock is held
"$ST" record --pid $wl --duration 3s --out "$TMP/before" >"$TMP/before.summary" 2>"$TMP/before.err" &
st=$!; PIDS_TO_KILL+=($st)
wait_attached "$st" "$TMP/before.err"
start=$(date +%s.%N)
touch "$TMP/gate"
wait $st || fail "record failed: $(cat "$TMP/before.err")"
took=$(echo "$(date +%s.%N) - $start" | bc)
grep -q '"hold_start"' "$TMP/wl.out" || fail "the workload never held its mmap_lock: $(cat "$TMP/wl.out" "$TMP/wl.err" | head -5)"
grep -q '"hold_end"' "$TMP/wl.out" && fail "the hold ended before the capture did; the test proves nothing"
echo "$took < 6" | bc | grep -q 1 || fail "record took ${took}s for a 3 s window while the target's mmap_lock was held"
jq -e '[.stacks[] | select(.in_progress and (.frames | any(test("mmap_lock busy|not read"))))] | length > 0' "$TMP/before/report.json" >/dev/null \
	|| fail "no in-progress block says its user stack was unreadable: $(jq -c '[.stacks[] | select(.in_progress) | .frames[-4:]]' "$TMP/before/report.json")"
jq -e '[.stacks[] | select(.frames | any(test("tick_sleep")))] | length > 0' "$TMP/before/report.json" >/dev/null \
	|| fail "the ticker thread's blocks are missing"
ok "capture over a held mmap_lock finished in ${took}s"
# 2. started during the hold: reading the target's maps/cmdline would block
# (before attaching: bounded by 2 s, times TEST_TIMEOUT_SCALE under emulation)
start=$(date +%s.%N)
"$ST" record --pid $wl --duration 1s --out "$TMP/during" >"$TMP/during.summary" 2>"$TMP/during.err" & st=$!
wait_attached "$st" "$TMP/during.err"
attached=$(date +%s.%N)
wait $st || fail "record during the hold failed: $(cat "$TMP/during.err")"
took=$(echo "$(date +%s.%N) - $attached" | bc)
pre=$(echo "$attached - $start" | bc)
grep -q '"hold_end"' "$TMP/wl.out" && fail "the hold ended before the second capture did"
echo "$pre < 2 * ${TEST_TIMEOUT_SCALE:-1}" | bc | grep -q 1 || fail "record started during the hold took ${pre}s to attach"
echo "$took < 4" | bc | grep -q 1 || fail "record started during the hold took ${took}s after attaching for a 1 s window"
ok "capture started during the hold attached in ${pre}s, finished ${took}s later"
