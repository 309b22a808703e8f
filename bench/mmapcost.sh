#!/usr/bin/env bash
# bench/mmapcost.sh: cost of the cause tracing on an mmap/munmap and page-fault heavy workload.
#
# usage: bench/mmapcost.sh [--rounds 6] [--duration 3] [--threads 2] [--kib 64]
# The mmap_lock tracepoints fire on every acquire (fast path included) and
# lock:contention_* on every contended lock, so a process that maps and unmaps
# all the time is where their price shows. mmapstorm's threads loop
# mmap(KiB) + touch every page + munmap; each round runs it under:
#   none       no tracing
#   nolocks    stalltrap record --no-locks --pid (off-CPU profile only)
#   locks      stalltrap record --pid (cause tracing on: mmap_lock holders, lock waits, wakers, samples)
# and reports operations per second, median over rounds, and the ratio to none.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

ROUNDS=6
DURATION=3
THREADS=2
KIB=64
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) ROUNDS=$2; shift ;;
	--duration) DURATION=$2; shift ;;
	--threads) THREADS=$2; shift ;;
	--kib) KIB=$2; shift ;;
	-h|--help) sed -n '2,13p' "$0"; exit 0 ;;
	*) die "unknown argument $1" ;;
	esac
	shift
done
need_root
need_stalltrap
need_cmd jq python3
trap bench_cleanup EXIT
STORM=$(wl mmapstorm)
RESULTS=$WORK/results.tsv
: >"$RESULTS"

run() { # NAME ROUND
	local name=$1 round=$2 d=$WORK/$1-$2 spid wpid extra=()
	mkdir -p "$d"
	"$STORM" --threads "$THREADS" --duration "$DURATION" --kib "$KIB" --start-after "$d/go" >"$d/wl.json" &
	wpid=$!
	case $name in
	none) touch "$d/go" ;;
	nolocks|locks)
		[ "$name" = nolocks ] && extra=(--no-locks)
		"$ST" record --pid "$wpid" --duration 600 "${extra[@]}" --out "$d/out" >"$d/rec.out" 2>"$d/rec.err" &
		spid=$!
		wait_attached "$spid" 30 || die "record did not attach: $(tail -1 "$d/rec.err")"
		touch "$d/go"
		;;
	esac
	wait "$wpid" || die "mmapstorm failed"
	[ -n "${spid:-}" ] && wait_exit "$spid" 60 >/dev/null 2>&1
	echo "$round $name $(jq .ops_per_s "$d/wl.json")" >>"$RESULTS"
}

CONFIGS=(none nolocks locks)
echo "mmapcost: $ROUNDS rounds x ${CONFIGS[*]}, $THREADS threads, $KIB KiB maps, ${DURATION}s each" >&2
for r in $(seq 1 "$ROUNDS"); do
	for i in 0 1 2; do
		run "${CONFIGS[$(((i + r) % 3))]}" "$r"
	done
	echo "  round $r/$ROUNDS done" >&2
done

python3 - "$RESULTS" "$THREADS" "$KIB" <<'PY'
import statistics, sys
from collections import defaultdict
path, threads, kib = sys.argv[1:4]
by = defaultdict(dict)
for line in open(path):
    r, cfg, v = line.split()
    by[cfg][int(r)] = float(v)
base = by["none"]
label = {"none": "no tracing", "nolocks": "stalltrap --no-locks", "locks": "stalltrap (cause tracing on)"}
print(f"# mmapcost: mmap({kib} KiB) + touch + munmap loops, {threads} threads\n")
print("| config | runs | median ops/s | min | max | median paired slowdown |")
print("|---|---:|---:|---:|---:|---:|")
for cfg in ("none", "nolocks", "locks"):
    v = sorted(by[cfg].values())
    slow = [base[r] / x for r, x in by[cfg].items() if r in base and x]
    print(f"| {label[cfg]} | {len(v)} | {statistics.median(v):,.0f} | {v[0]:,.0f} | {v[-1]:,.0f} | "
          f"{statistics.median(slow):.3f}x |")
PY
