#!/bin/bash
# test_exact.sh: per blocking function, recorded off-CPU time matches what the
# workload measured itself (±2 %), with 0 drops, and >= 95 % of it has the
# complete user stack (start_thread -> worker_X -> block_X), for the -O2 build
# without frame pointers and for the frame-pointer build. The kernel stack
# cache serves most kernel stacks, and its checks find no difference. The
# switch-outs were stamped with the run queue's clock (switch_now()).
# Where sched_exit_tp exists, the -O2 build runs twice: with one switch hook
# (the default: docs/capture.md "One switch hook") and with two
# (STALLTRAP_SWITCH_HOOKS=2); the same goals hold for both.
source "$(dirname "$0")/../lib.sh"
for run in offcpu_truth offcpu_truth-fp offcpu_truth:2; do
	bin=${run%%:*} hooks=; build=$bin
	case $run in *:*) hooks=${run#*:} ;; esac
	if [ -n "$hooks" ]; then
		jq -e '.capture.path == "sched_exit_tp"' "$TMP/$build/report.json" >/dev/null || continue
		build=$build-hooks$hooks
	fi
	gate=$TMP/gate-$build
	"$WL/$bin" --duration 3 --start-after "$gate" --truth "$TMP/$build.truth.json" >"$TMP/$build.wl" &
	wl=$!; PIDS_TO_KILL+=($wl)
	STALLTRAP_SWITCH_HOOKS=$hooks "$ST" record --pid $wl --duration 10s --min-block 1ms --out "$TMP/$build" >"$TMP/$build.summary" 2>"$TMP/$build.err" &
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
	# one switch hook exactly where sched_exit_tp is, and not when asked for two
	want=$(jq -r --arg h "$hooks" '.capture.path == "sched_exit_tp" and $h != "2"' "$TMP/$build/report.json")
	jq -e --argjson w "$want" '.capture.features.one_switch_hook.on == $w' "$TMP/$build/report.json" >/dev/null ||
		fail "$build: one_switch_hook should be $want: $(jq -c '.capture.features.one_switch_hook' "$TMP/$build/report.json")"
	ok "$build ($(jq -r '.capture | "\(.kstack_cache_hits) kernel stacks from the cache, \(.kstack_cache_checks) checked; run queue clock offset measured \(.switch_clock_measured) times, \(.switch_clock_suspect) not kept; \(.switch_out_late // 0) switch-outs dated late"' "$TMP/$build/report.json"))"
done
