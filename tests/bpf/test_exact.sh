#!/bin/bash
# test_exact.sh: per blocking function, recorded off-CPU time matches what the
# workload measured itself (±2 %), with 0 drops, and >= 95 % of it has the
# complete user stack (start_thread -> worker_X -> block_X), for the -O2 build
# without frame pointers and for the frame-pointer build. The kernel stack
# cache serves most kernel stacks, and its checks find no difference. The
# switch-outs were stamped with the run queue's clock (switch_now()).
source "$(dirname "$0")/../lib.sh"
for build in offcpu_truth offcpu_truth-fp; do
	gate=$TMP/gate-$build
	"$WL/$build" --duration 3 --start-after "$gate" --truth "$TMP/$build.truth.json" >"$TMP/$build.wl" &
	wl=$!; PIDS_TO_KILL+=($wl)
	"$ST" record --pid $wl --duration 10s --min-block 1ms --out "$TMP/$build" >"$TMP/$build.summary" 2>"$TMP/$build.err" &
	st=$!; PIDS_TO_KILL+=($st)
	wait_attached "$st" "$TMP/$build.err"
	touch "$gate"
	wait $wl || fail "$build: workload failed"
	wait $st || fail "$build: record failed: $(cat "$TMP/$build.err")"
	python3 tests/bpf/check_truth.py "$TMP/$build/report.json" "$TMP/$build.truth.json" \
		--tolerance-pct 2 --min-complete-pct 95 || fail "$build: exactness or completeness goal missed"
	# the kernel stack cache was used, and its periodic checks found no difference
	jq -e '.capture.kstack_cache_hits > 0 and .capture.kstack_cache_mismatches == 0' "$TMP/$build/report.json" >/dev/null ||
		fail "$build: kernel stack cache: $(jq -c '.capture | with_entries(select(.key | startswith("kstack_cache")))' "$TMP/$build/report.json")"
	jq -e '.capture.switch_clock_measured > 0' "$TMP/$build/report.json" >/dev/null ||
		fail "$build: the switch-outs were not stamped from the run queue's clock: $(jq -c '.capture | with_entries(select(.key | startswith("switch_clock")))' "$TMP/$build/report.json")"
	ok "$build ($(jq -r '.capture | "\(.kstack_cache_hits) kernel stacks from the cache, \(.kstack_cache_checks) checked; run queue clock offset measured \(.switch_clock_measured) times, \(.switch_clock_suspect) not kept"' "$TMP/$build/report.json"))"
done
