#!/bin/bash
# test_deep_stacks.sh: user stacks 16 and 32 KiB deep (longblock --stack-kib,
# the -O2 build without frame pointers) unwind to the thread's entry for
# >= 99 % of off-CPU time, for threads that ran before the capture started
# (stack end from their stack mapping) and threads created after it (stack end
# from clone), each copy bounded by that end; and --max-ustack copies exactly
# what it says, whole pages or not.
source "$(dirname "$0")/../lib.sh"

# rec NAME ARGS...: longblock ARGS recorded for ~2 s, gate opened once attached
rec() {
	local name=$1 gate=$TMP/gate-$1 wl st; shift
	local flags=()
	if [ "$1" = "--max-ustack" ]; then flags=(--max-ustack "$2"); shift 2; fi
	"$WL/longblock" --threads 2 --duration 2 --start-after "$gate" "$@" >"$TMP/$name.wl" &
	wl=$!; PIDS_TO_KILL+=($wl)
	"$ST" record --pid $wl --duration 10s "${flags[@]}" --out "$TMP/$name" >"$TMP/$name.summary" 2>"$TMP/$name.err" &
	st=$!; PIDS_TO_KILL+=($st)
	wait_attached "$st" "$TMP/$name.err"
	touch "$gate"
	wait $wl || fail "$name: workload failed"
	wait $st || fail "$name: record failed: $(cat "$TMP/$name.err")"
}

for kib in 16 32; do
	for when in early late; do
		name=deep$kib-$when
		rec $name --stack-kib $kib $([ $when = late ] && echo --late)
		r=$TMP/$name/report.json
		jq -e '.user_stack_complete_pct >= 99' "$r" >/dev/null ||
			fail "$name: user stacks complete for $(jq .user_stack_complete_pct "$r") % of off-CPU time ($(jq .capture.ustack_ring_lean "$r") copies cut while the ring filled): $(grep 'user stacks' "$TMP/$name.summary")"
		# the blocks' copies reached past the padding: each is at least kib KiB
		jq -e --argjson k $kib '.capture.ustack_bytes / .capture.ustack_copies >= $k * 1024' "$r" >/dev/null ||
			fail "$name: $(jq -c '.capture | {ustack_bytes, ustack_copies}' "$r")"
		# the copies of the workload's threads knew where the stack ends
		jq -e '.capture.ustack_copy_bounded >= 0.99 * .capture.blocks and .capture.ustack_top_learnt >= 2' "$r" >/dev/null ||
			fail "$name: copies not bounded by the stack end: $(jq -c '.capture | with_entries(select(.key | startswith("ustack")))' "$r")"
		grep -q "pad_kib" "$TMP/$name/profile.folded" || fail "$name: no pad_kib frame in the profile"
		ok "$name: $(jq -r '"\(.user_stack_complete_pct) % complete, \(.capture.ustack_bytes / .capture.ustack_copies | floor) bytes per copy"' "$r")"
	done
done

# --max-ustack 6000: every copy of these 16 KiB stacks is exactly 6000 bytes
# (not rounded to pages), and the stacks are then truncated, and said to be.
# Only the main thread's few waits (wait_start, wait_deadline) are shallower.
rec cap6000 --max-ustack 6000 --stack-kib 16
r=$TMP/cap6000/report.json
jq -e '(6000 * .capture.ustack_copies - .capture.ustack_bytes) as $short
       | $short >= 0 and $short < 6000 * 5 and .capture.ustack_copy_capped > 0' "$r" >/dev/null ||
	fail "--max-ustack 6000: $(jq -c '.capture | with_entries(select(.key | startswith("ustack")))' "$r")"
# every stack through the 16 KiB of padding stops short of the thread's entry
# (the share of time that is says little: the main thread's shallow, complete
# waits weigh more under emulation)
grep -q pad_kib "$TMP/cap6000/profile.folded" || fail "--max-ustack 6000: no pad_kib stack"
! grep pad_kib "$TMP/cap6000/profile.folded" | grep -q start_thread ||
	fail "--max-ustack 6000 on 16 KiB stacks: a padded stack reached start_thread: $(grep pad_kib "$TMP/cap6000/profile.folded" | grep start_thread | head -1 | cut -c1-200)"
jq -e '.user_stack_complete_pct < 100' "$r" >/dev/null ||
	fail "--max-ustack 6000 on 16 KiB stacks: $(jq .user_stack_complete_pct "$r") % complete"
ok "--max-ustack 6000 copies exactly 6000 bytes"
