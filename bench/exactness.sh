#!/usr/bin/env bash
# bench/exactness.sh: recorded off-CPU time per function vs the offcpu_truth workload's own measurement.
#
# usage: bench/exactness.sh [--duration S] [--threads N] [--runs N] [--tolerance-pct P]
#                           [--min-complete-pct P] [--min-block 1ms]
# For each build of tests/workloads/offcpu_truth.c (no frame pointers, -fp)
# and each run: start the workload gated, attach `stalltrap record --pid`,
# open the gate, let the workload finish (the recorder stops when its target
# exits), then tests/bpf/check_truth.py compares per function: recorded ms vs
# truth (goal ±2 %), drops (goal 0), share of time whose stack holds the full
# expected chain (goal ≥ 95 %). Prints a markdown table per build and run and
# an overall PASS/FAIL per goal; exits 1 if any goal fails.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

DURATION=10
THREADS=1
RUNS=1
TOL=2
COMPLETE=95
MIN_BLOCK=1ms
while [ $# -gt 0 ]; do
	case $1 in
	--duration) DURATION=$2; shift ;;
	--threads) THREADS=$2; shift ;;
	--runs) RUNS=$2; shift ;;
	--tolerance-pct) TOL=$2; shift ;;
	--min-complete-pct) COMPLETE=$2; shift ;;
	--min-block) MIN_BLOCK=$2; shift ;;
	-h|--help) sed -n '2,12p' "$0"; exit 0 ;;
	*) die "unknown argument $1" ;;
	esac
	shift
done
need_root
need_cmd python3 jq gcc
need_stalltrap

min_block_ms=$(python3 -c '
import sys
s = sys.argv[1]
for suf, k in (("ms", 1.0), ("us", 1e-3), ("s", 1000.0)):
    if s.endswith(suf):
        print(float(s[:-len(suf)]) * k); break
else:
    print(float(s) * 1000.0)' "$MIN_BLOCK")

exact_ok=1 complete_ok=1 drops_ok=1 ran_ok=1
echo "# exactness: stalltrap record vs offcpu_truth (${DURATION} s, ${THREADS} thread(s) per kind, min-block $MIN_BLOCK)"
echo
for build in nofp fp; do
	bin=$(wl offcpu_truth "$([ $build = fp ] && echo fp)")
	for run in $(seq 1 "$RUNS"); do
		d=$WORK/$build-$run
		mkdir -p "$d"
		"$bin" --duration "$DURATION" --threads "$THREADS" --seed "$run" \
			--truth "$d/truth.json" --ready "$d/ready" --start-after "$d/go" >"$d/workload.out" 2>&1 &
		wpid=$!
		BG_PIDS+=("$wpid")
		wait_file "$d/ready" 20 || die "offcpu_truth did not start (see $d/workload.out)"
		"$ST" record --pid "$wpid" --duration "$((DURATION + 30))" --min-block "$MIN_BLOCK" \
			--out "$d/out" >"$d/record.out" 2>"$d/record.err" &
		spid=$!
		BG_PIDS+=("$spid")
		if ! wait_attached "$spid" 30; then
			cat "$d/record.err" >&2
			die "stalltrap record did not attach"
		fi
		touch "$d/go"
		wait "$wpid" || die "offcpu_truth failed (see $d/workload.out)"
		wait_exit "$spid" 60
		rc=$?
		BG_PIDS=()
		echo "## $build build, run $run"
		echo
		if [ $rc -ne 0 ] || [ ! -s "$d/out/report.json" ]; then
			echo "stalltrap record failed (rc $rc): $(tail -3 "$d/record.err")"
			echo
			ran_ok=0
			continue
		fi
		python3 "$ROOT/tests/bpf/check_truth.py" "$d/out/report.json" "$d/truth.json" \
			--tolerance-pct "$TOL" --min-complete-pct "$COMPLETE" --min-block-ms "$min_block_ms" \
			--markdown --json "$d/check.json" 2>"$d/check.err"
		grep -h FAIL "$d/check.err" | sed 's/^/> /'
		echo
		[ -s "$d/check.json" ] || { ran_ok=0; continue; }
		[ "$(jq .exact_ok "$d/check.json")" = true ] || exact_ok=0
		[ "$(jq .complete_ok "$d/check.json")" = true ] || complete_ok=0
		[ "$(jq .drops_ok "$d/check.json")" = true ] || drops_ok=0
	done
done

verdict() { [ "$1" = 1 ] && echo PASS || echo FAIL; }
echo "## overall"
echo
echo "| goal | result |"
echo "|---|---|"
echo "| off-CPU ms per function within ±${TOL} % of truth | $(verdict $exact_ok) |"
echo "| drops = 0 | $(verdict $drops_ok) |"
echo "| complete chain for ≥ ${COMPLETE} % of each function's time | $(verdict $complete_ok) |"
echo "| every recording ran | $(verdict $ran_ok) |"
[ $exact_ok$complete_ok$drops_ok$ran_ok = 1111 ]
