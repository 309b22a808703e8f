#!/bin/bash
# test_faults_load.sh: loads that could break a capture. Two stalltrap
# instances record the same target at once: both exact (±2 %). A target with
# 10,000 threads, and one that creates and exits 1,000 threads a second: the
# capture ends soon after the target does, in bounded memory, with every
# thread's exit flushed (blocks match the workload's own count, ±2 %, every
# thread seen).
source "$(dirname "$0")/../lib.sh"
require_root
need_bins "$WL/offcpu_truth" "$WL/threadstorm" /usr/bin/time

# 1. two instances on one target
"$WL/offcpu_truth" --duration 2 --start-after "$TMP/gate2" --truth "$TMP/truth.json" >"$TMP/wl2" &
wl=$!; PIDS_TO_KILL+=($wl)
for i in a b; do
	"$ST" record --pid $wl --duration 10s --out "$TMP/two-$i" >"$TMP/two-$i.out" 2>"$TMP/two-$i.err" &
	eval "st_$i=\$!"; PIDS_TO_KILL+=($!)
done
wait_attached "$st_a" "$TMP/two-a.err"
wait_attached "$st_b" "$TMP/two-b.err"
touch "$TMP/gate2"
wait $wl || fail "offcpu_truth failed"
for i in a b; do
	eval "wait \$st_$i" || fail "instance $i failed: $(cat "$TMP/two-$i.err")"
	python3 tests/bpf/check_truth.py "$TMP/two-$i/report.json" "$TMP/truth.json" --tolerance-pct 2 \
		>"$TMP/two-$i.check" || fail "instance $i is not exact with another one running: $(tail -5 "$TMP/two-$i.check")"
done
ok "two instances at once: both exact within 2 % ($(jq '.capture.blocks' "$TMP/two-a/report.json") and $(jq '.capture.blocks' "$TMP/two-b/report.json") blocks)"

# storm NAME MAX_RSS_MB ARGS...: records threadstorm ARGS; checks the end, the memory, the counts
storm() {
	local name=$1 max_mb=$2 t0 late rss blocks truth threads want; shift 2
	rm -f "$TMP/gate"
	"$WL/threadstorm" "$@" --start-after "$TMP/gate" >"$TMP/$name.wl" & local wl=$!
	PIDS_TO_KILL+=($wl)
	/usr/bin/time -f "%M" -o "$TMP/$name.rss" "$ST" record --pid $wl --duration 30s --out "$TMP/$name" \
		>"$TMP/$name.out" 2>"$TMP/$name.err" & local tm=$!
	wait_until 10 "record to start" pgrep -P $tm
	wait_attached "$(pgrep -P $tm)" "$TMP/$name.err"
	touch "$TMP/gate"
	wait $wl || fail "$name: threadstorm failed: $(cat "$TMP/$name.wl")"
	t0=$(date +%s.%N)
	wait $tm || fail "$name: record failed: $(cat "$TMP/$name.err")"
	late=$(echo "$(date +%s.%N) - $t0" | bc)
	rss=$(( $(tail -1 "$TMP/$name.rss") / 1024 ))
	blocks=$(jq '[.stacks[] | select(.frames | any(test("block_storm_sleep"))) | .count] | add // 0' "$TMP/$name/report.json")
	truth=$(jq .blocks_ge_1ms "$TMP/$name.wl")
	want=$(jq .threads "$TMP/$name.wl")
	threads=$(zcat "$TMP/$name/capture.jsonl.gz" | jq -s --argjson p $wl '[.[] | select(.t == "thread" and .pid == $p)] | length')
	echo "  $name: $want threads, $truth blocks >= 1 ms; recorded $blocks blocks of $threads threads; record ended ${late}s after the target, max RSS $rss MiB"
	[ "$(echo "$late < 3" | bc)" = 1 ] || fail "$name: record ended ${late}s after its target"
	[ "$rss" -lt "$max_mb" ] || fail "$name: record's RSS reached $rss MiB"
	d=$(( blocks > truth ? blocks - truth : truth - blocks ))
	[ "$d" -le $(( truth / 50 + 5 )) ] || fail "$name: recorded $blocks blocks, the workload did $truth"
	[ "$threads" -ge "$want" ] || fail "$name: $threads threads recorded of $want"
	grep -q "targets exited" "$TMP/$name.err" || fail "$name: record did not see the target exit"
}

# 2. 10,000 threads, each blocking 2 ms once a second
storm many 160 --mode many --threads 10000 --duration 3
ok "a target with 10,000 threads"

# 3. 1,000 threads created and exited a second, each blocking once
storm churn 160 --mode churn --rate 1000 --duration 3
ok "a target creating and exiting 1,000 threads a second"
