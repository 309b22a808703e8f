#!/bin/bash
# test_scenarios.sh: `stalltrap record` names the cause of each scenario's stall
# (tests/workloads/scen_*.c), for the -O2 build without frame pointers and for
# the frame-pointer build: report.json's verdict.kind is the scenario's
# expect_kind, and in the lock and busy cases verdict.culprit.tid is the
# scenario's culprit_tid and the culprit's stack holds its culprit_function;
# the busy loop's on-CPU samples carry its voluntary switch count.
# SCENARIOS="mutex busy" runs a subset.
# The kernel stack cache (offcpu.bpf.c) runs in check mode here: every hit is
# also walked and compared; over these varied kernel paths no hit may differ.
source "$(dirname "$0")/../lib.sh"
export STALLTRAP_KSTACK_CHECK=1
kc_checks=0

subset=${SCENARIOS:-}
SCENARIOS=${SCENARIOS:-"mmap_populate mprotect fork mutex fsync cpuquota reclaim kernel_lock busy pool_stall idle"}

run_one() { # name build
	local name=$1 bin=$2 dir=$TMP/$2 wl st kind want tid fn r
	mkdir -p "$dir"
	"$WL/$bin" --ready "$dir/ready" --start-after "$dir/gate" >"$dir/wl.json" 2>"$dir/wl.err" &
	wl=$!; PIDS_TO_KILL+=($wl)
	wait_for_file "$dir/ready" 10
	"$ST" record --pid "$wl" --duration 20s --out "$dir/out" >"$dir/summary" 2>"$TMP/st.err" &
	st=$!; PIDS_TO_KILL+=($st)
	wait_attached "$st"
	touch "$dir/gate"
	wait "$wl" || fail "$bin: workload failed: $(cat "$dir/wl.err")"
	wait "$st" || fail "$bin: record failed: $(cat "$TMP/st.err")"
	r=$dir/out/report.json
	want=$(jq -r .expect_kind "$dir/wl.json")
	kind=$(jq -r .verdict.kind "$r")
	[ "$kind" = "$want" ] || fail "$bin: verdict.kind $kind, want $want: $(jq -c .verdict "$r" | head -c 600); waits: $(jq -c .waits "$r")"
	head -1 "$dir/summary" | grep -q "^verdict: $want: " || fail "$bin: summary does not start with the verdict: $(head -1 "$dir/summary")"
	tid=$(jq -r .culprit_tid "$dir/wl.json")
	if [ "$tid" != null ]; then
		fn=$(jq -r .culprit_function "$dir/wl.json")
		jq -e --argjson tid "$tid" '.verdict.culprit.tid == $tid' "$r" >/dev/null ||
			fail "$bin: culprit tid $(jq -c .verdict.culprit.tid "$r"), want $tid: $(jq -r .verdict.summary "$r")"
		jq -e --arg fn "$fn" '.verdict.culprit.stack | index($fn)' "$r" >/dev/null ||
			fail "$bin: culprit stack lacks $fn: $(jq -c .verdict.culprit.stack "$r")"
	fi
	[ "$want" != none ] || jq -e '.verdict.culprit == null' "$r" >/dev/null || fail "$bin: none with a culprit"
	jq -e '.capture.kstack_cache_mismatches == 0' "$r" >/dev/null ||
		fail "$bin: the kernel stack cache differed from the walk: $(jq -c '.capture | with_entries(select(.key | startswith("kstack_cache")))' "$r")"
	kc_checks=$((kc_checks + $(jq -r '.capture.kstack_cache_checks' "$r")))
	# on-CPU samples carry the thread's voluntary switch count (busy runs
	# end at a change): the busy loop polled before it computed, so its
	# samples' count is not 0 (a thread that never slept yet has 0: other
	# scenarios may sample only such threads), and it does not change
	# while it computes
	[ "$name" != busy ] || python3 - "$dir/out/capture.jsonl.gz" <<'PY' ||
import gzip, json, sys
s = [o for o in map(json.loads, gzip.open(sys.argv[1], "rt")) if o.get("t") == "sample"]
nv = [o.get("nvcsw", 0) for o in s]
print(f"{len(s)} samples, switch counts {sorted(set(nv))[:8]}")
sys.exit(0 if len(s) >= 20 and min(nv) > 0 and len(set(nv)) <= 3 else 1)
PY
		fail "$bin: the busy loop's samples do not carry its switch count (above)"
	ok "$bin: $kind, stall $(jq -r .stall_ms "$dir/wl.json") ms measured; $(jq -r .verdict.summary "$r" | head -c 300)"
}

for name in $SCENARIOS; do
	for bin in "scen_$name" "scen_$name-fp"; do
		[ -x "$WL/$bin" ] || fail "missing $WL/$bin (make)"
		run_one "$name" "$bin"
	done
done
# (over the whole set: a subset, SCENARIOS=..., may check fewer)
[ "$kc_checks" -ge 200 ] || [ -n "$subset" ] || fail "only $kc_checks kernel stack cache hits were checked against a walk"
ok "kernel stack cache: $kc_checks hits, each checked against a walk, none differed"
