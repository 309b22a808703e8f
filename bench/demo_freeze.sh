#!/usr/bin/env bash
# bench/demo_freeze.sh: does the freeze demo's service really freeze, for how long, at what peak?
#
# usage: bench/demo_freeze.sh [--rounds 3] [--grow-after 8] [--settle 15] [--goal-freeze 2.3] [--goal-peak-gib G] [--log2-slots K]
# Runs the demo's feed store (demo/feedstore, no frame pointers) under the
# demo's load (demo/loadgen, 200 requests/s over 8 connections), without
# stalltrap, in pairs side by side:
#   doubling     the table crosses 7/8 --grow-after s after start and doubles
#                (2^K slots of 352 bytes, K as demo/run.sh picks it: 24 on these
#                VMs, 5.5 -> 11 GiB; MAP_POPULATE under the mmap_lock)
#   preallocate  the same with --preallocate: the doubled table from the start
# For each it reports what the clients saw (p99, the longest request, the
# longest span without a single answer), how long MAP_POPULATE took, and the
# peak RSS (VmHWM). Between runs it waits --settle s: this VM hands freed
# memory back to its host (virtio-balloon free page reporting), so a doubling
# touches memory for the first time, as a long-running service's would.
# Goals: every doubling freezes the clients for >= --goal-freeze s (the
# origin's trigger, 200 ms for 2 s polled every 500 ms with polls timing out
# at 200 ms, fires for sure on a freeze longer than 2.2 s: docs/watch.md), no
# preallocated run freezes, the peak stays under --goal-peak-gib (default: the
# old table plus the doubled one, 3 x 352 x 2^K bytes, plus 5 %). Exits 1
# when one is missed.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=../demo/feedstore.sh
source "$ROOT/demo/feedstore.sh"

ROUNDS=3
GROW_AFTER=8
SETTLE=15
GOAL_FREEZE=2.3
GOAL_PEAK=
LOG2=
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) ROUNDS=$2; shift 2 ;;
	--grow-after) GROW_AFTER=$2; shift 2 ;;
	--settle) SETTLE=$2; shift 2 ;;
	--goal-freeze) GOAL_FREEZE=$2; shift 2 ;;
	--goal-peak-gib) GOAL_PEAK=$2; shift 2 ;;
	--log2-slots) LOG2=$2; shift 2 ;;
	*) die "unknown option $1 (see the header of $0)" ;;
	esac
done
need_cmd jq awk
[ -z "$LOG2" ] || [[ $LOG2 =~ ^[0-9]+$ && $LOG2 -ge 16 && $LOG2 -le 26 ]] ||
	die "invalid --log2-slots '$LOG2': an integer from 16 to 26"
[ -n "$LOG2" ] || LOG2=$(feedstore_log2_slots)
[ -n "$GOAL_PEAK" ] || GOAL_PEAK=$(awk -v g="$(feedstore_gib "$LOG2" 3)" 'BEGIN { printf "%.2f", g * 1.05 }')
echo "table: 2^$LOG2 slots, $(feedstore_gib "$LOG2") GiB doubling to $(feedstore_gib "$LOG2" 2) GiB" >&2
FS=$ROOT/build/demo/feedstore
LG=$ROOT/build/demo/loadgen
[ -x "$FS" ] && [ -x "$LG" ] || die "build/demo/feedstore and build/demo/loadgen are missing: run make"

# one_run NAME [feedstore flags]: prints one JSON object
one_run() {
	local name=$1 log=$WORK/$1.log; shift
	feedstore_start "$log" 60 BG_PIDS "$FS" --log2-slots "$LOG2" --grow-after "$GROW_AFTER" "$@" ||
		die "feedstore did not start: $(tail -2 "$log")"
	local fs=$FEEDSTORE_PID port=$FEEDSTORE_PORT
	"$LG" --url "http://127.0.0.1:$port/feed" --rate 200 --conns 8 --duration $((GROW_AFTER + 10)) >"$WORK/$name.lg"
	local hwm
	hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$fs/status")
	kill -TERM "$fs"
	wait "$fs" 2>/dev/null || true
	local pop
	pop=$(grep '"grow_populated"' "$log" | jq -r .populate_s)
	jq -c --arg name "$name" --argjson hwm "$hwm" --argjson pop "${pop:-null}" \
		'{run: $name, populate_s: $pop, peak_gib: ($hwm / 1048576), p99_ms, max_ms, longest_gap_s, requests, errors}' "$WORK/$name.lg"
}

echo "| round | run | MAP_POPULATE s | clients' longest gap s | longest request ms | p99 ms | peak RSS GiB |"
echo "|---:|---|---:|---:|---:|---:|---:|"
: >"$WORK/all.jsonl"
for r in $(seq 1 "$ROUNDS"); do
	for run in doubling preallocate; do
		echo "round $r: $run (settling ${SETTLE}s first)" >&2
		sleep "$SETTLE"
		if [ $run = doubling ]; then one_run "$run"; else one_run "$run" --preallocate; fi | tee -a "$WORK/all.jsonl" |
			jq -r --arg r "$r" '"| \($r) | \(.run) | \(.populate_s // "-") | \(.longest_gap_s) | \(.max_ms | round) | \(.p99_ms) | \(.peak_gib * 100 | round / 100) |"'
	done
done

jq -s -r --argjson gf "$GOAL_FREEZE" --argjson gp "$GOAL_PEAK" '
	(map(select(.run == "doubling"))) as $d | (map(select(.run == "preallocate"))) as $p |
	"",
	"doubling: clients frozen \($d | map(.longest_gap_s) | min)-\($d | map(.longest_gap_s) | max) s (goal >= \($gf) s: \(if ($d | map(.longest_gap_s) | min) >= $gf then "met" else "MISSED" end)); " +
	"preallocate: \($p | map(.longest_gap_s) | max) s at most (goal < 1 s: \(if ($p | map(.longest_gap_s) | max) < 1 then "met" else "MISSED" end))",
	"longest request, doubling / preallocate: \(($d | map(.max_ms) | add) / ($p | map(.max_ms) | add) | . * 10 | round / 10)x; " +
	"peak RSS \(map(.peak_gib) | max * 100 | round / 100) GiB (goal < \($gp) GiB: \(if (map(.peak_gib) | max) < $gp then "met" else "MISSED" end))"
' "$WORK/all.jsonl"
jq -s -e --argjson gf "$GOAL_FREEZE" --argjson gp "$GOAL_PEAK" '
	(map(select(.run == "doubling") | .longest_gap_s) | min) >= $gf and
	(map(select(.run == "preallocate") | .longest_gap_s) | max) < 1 and (map(.peak_gib) | max) < $gp' "$WORK/all.jsonl" >/dev/null
