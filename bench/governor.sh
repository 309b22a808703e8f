#!/usr/bin/env bash
# bench/governor.sh: the overhead governor against a storm of blocks, side by side.
#
# usage: bench/governor.sh [--duration S] [--threads N] [--max-overhead PCT]
# A storm: tests/workloads/longblock with --threads threads (default 4 per
# CPU) blocking 1.1-3 ms each time, recorded twice in the same run, with
# kernel.bpf_stats_enabled=1 (restored at exit): once with
# --max-overhead off, once with the governor (default 1%). Reports for each
# the BPF side's cost as a share of one core over the window
# (capture.bpf_run_ns / window), the blocks captured, what the governor did,
# and its reaction time (its first raise after the storm began: the start
# gate opens right after attaching). Goal: with the governor, the cost stays
# within about its budget (it acts once a second: the first second of a
# storm is over it) while the storm's blocks are still counted in the totals.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

DURATION=10
THREADS=$((4 * $(nproc)))
BUDGET=1%
while [ $# -gt 0 ]; do
	case $1 in
	--duration) DURATION=$2; shift ;;
	--threads) THREADS=$2; shift ;;
	--max-overhead) BUDGET=$2; shift ;;
	-h|--help) sed -n '2,15p' "$0"; exit 0 ;;
	*) die "unknown argument $1" ;;
	esac
	shift
done
[ "$DURATION" -ge 4 ] 2>/dev/null || die "--duration: whole seconds, at least 4"
need_root
need_cmd python3 jq
need_stalltrap
LB=$(wl longblock)

OLD_STATS=$(cat /proc/sys/kernel/bpf_stats_enabled)
trap 'echo "$OLD_STATS" >/proc/sys/kernel/bpf_stats_enabled; bench_cleanup' EXIT
echo 1 >/proc/sys/kernel/bpf_stats_enabled

# run NAME MAX_OVERHEAD: one recording of the storm
run() {
	local d=$WORK/$1 wpid rpid
	mkdir -p "$d"
	"$LB" --threads "$THREADS" --duration "$DURATION" --start-after "$d/go" >"$d/longblock.json" &
	wpid=$!
	BG_PIDS+=("$wpid")
	"$ST" record --pid "$wpid" --duration "$((DURATION + 30))" --max-overhead "$2" \
		--out "$d/out" >"$d/record.out" 2>"$d/record.err" &
	rpid=$!
	BG_PIDS+=("$rpid")
	wait_attached "$rpid" 30 || die "stalltrap record did not attach: $(tail -2 "$d/record.err")"
	date +%s.%N >"$d/gate"
	touch "$d/go"
	wait "$wpid" || die "longblock failed"
	wait_exit "$rpid" 60 || die "stalltrap record failed: $(tail -3 "$d/record.err")"
	BG_PIDS=()
}

echo "governor: the storm without the governor ..." >&2
run off off
echo "governor: the storm with --max-overhead $BUDGET ..." >&2
run on "$BUDGET"

python3 - "$WORK" "$THREADS" "$BUDGET" <<'PY'
import datetime, json, sys

work, threads, budget = sys.argv[1:4]


def fig(name):
    d = f"{work}/{name}"
    rep = json.load(open(f"{d}/out/report.json"))
    wl = json.load(open(f"{d}/longblock.json"))
    cap = rep["capture"]
    start = datetime.datetime.fromisoformat(rep["window"]["start"].replace("Z", "+00:00")).timestamp()
    gate = float(open(f"{d}/gate").read())
    dur = rep["window"]["duration_s"]
    first = cap.get("governor_first_raise_ns", 0)
    return {
        "load": cap["bpf_run_ns"] / 1e9 / dur * 100,
        "blocks": cap["blocks"], "wl": wl["blocks_ge_1ms"],
        "offcpu": rep.get("offcpu_total_ms"),
        "raises": cap.get("governor_raises", 0), "max_thr": cap.get("governor_max_min_block_ns", 0) / 1e6,
        "engaged": cap.get("governor_engaged_ns", 0) / 1e9,
        "reaction": (first / 1e9 - (gate - start)) if first else None,
        "dur": dur,
    }


off, on = fig("off"), fig("on")
print(f"# governor: a storm of 1.1-3 ms blocks, {threads} threads, {off['dur']:.0f} s windows\n")
print("| figure | --max-overhead off | --max-overhead " + budget + " |")
print("|---|---:|---:|")
print(f"| BPF cost, share of one core (bpf_run_ns / window) | {off['load']:.2f} % | {on['load']:.2f} % |")
print(f"| blocks >= 1 ms the workload counted | {off['wl']:,} | {on['wl']:,} |")
print(f"| blocks captured with stacks | {off['blocks']:,} | {on['blocks']:,} |")
print(f"| governor: raises, highest threshold, time engaged | - | {on['raises']}, {on['max_thr']:.0f} ms, {on['engaged']:.1f} s |")
r = on["reaction"]
print(f"| governor: first raise after the storm began | - | {'-' if r is None else f'{r:.2f} s'} |")
print(f"| cost ratio, governor / off | | {on['load'] / off['load']:.2f}x |")
PY
