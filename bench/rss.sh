#!/usr/bin/env bash
# bench/rss.sh: stalltrap's memory while recording 100 threads that block 200 times a second each.
#
# usage: bench/rss.sh [--duration S] [--threads N] [--rate PER_S] [--limit-mib N]
# Records tests/workloads/manythreads (default 100 threads x 200 blocks/s of
# ~5 ms, nanosleep and condvar waits, a few stack shapes) for --duration
# (default 15 s) with `stalltrap record --pid`. bench/rusage.py samples the
# recorder's /proc/PID/status every 20 ms: peak RSS (VmHWM, last seen before
# exit, so it includes writing the report) and the largest VmRSS.
# Goal: VmHWM < 64 MiB (--limit-mib).
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

DURATION=15
THREADS=100
RATE=200
LIMIT=64
while [ $# -gt 0 ]; do
	case $1 in
	--duration) DURATION=$2; shift ;;
	--threads) THREADS=$2; shift ;;
	--rate) RATE=$2; shift ;;
	--limit-mib) LIMIT=$2; shift ;;
	-h|--help) sed -n '2,11p' "$0"; exit 0 ;;
	*) die "unknown argument $1" ;;
	esac
	shift
done
need_root
need_cmd python3 jq gcc
need_stalltrap
MT=$(wl manythreads)

d=$WORK/run
mkdir -p "$d"
"$MT" --threads "$THREADS" --rate "$RATE" --duration "$DURATION" --start-after "$d/go" >"$d/manythreads.json" &
wpid=$!
BG_PIDS+=("$wpid")
python3 "$ROOT/bench/rusage.py" --out "$d/rusage.json" --pid-file "$d/st.pid" -- \
	"$ST" record --pid "$wpid" --duration "$((DURATION + 30))" --min-block 1ms \
	--out "$d/out" >"$d/record.out" 2>"$d/record.err" &
rpid=$!
BG_PIDS+=("$rpid")
wait_file "$d/st.pid" 10 || die "recorder did not start"
wait_attached "$(cat "$d/st.pid")" 30 || die "stalltrap record did not attach: $(tail -2 "$d/record.err")"
touch "$d/go"
wait "$wpid" || die "manythreads failed"
wait_exit "$rpid" 60
rc=$?
BG_PIDS=()
if [ $rc -ne 0 ] || [ ! -s "$d/out/report.json" ]; then
	die "stalltrap record failed (rc $rc): $(tail -3 "$d/record.err")"
fi

python3 - "$d" "$LIMIT" <<'EOF'
import json, sys

d, limit = sys.argv[1], float(sys.argv[2])
wl = json.load(open(f"{d}/manythreads.json"))
rep = json.load(open(f"{d}/out/report.json"))
ru = json.load(open(f"{d}/rusage.json"))
cap = rep.get("capture") or {}
hwm = ru["vmhwm_kb"] / 1024
drops = sum(v for v in (rep.get("drops") or {}).values() if isinstance(v, (int, float)))
print(f"# rss: recorder memory, manythreads {wl['threads']} threads, {wl['duration_s']:.0f} s\n")
print("| figure | value |")
print("|---|---:|")
print(f"| blocks measured by the workload | {wl['blocks']:,} ({wl['blocks'] / wl['duration_s']:,.0f}/s) |")
print(f"| blocks captured (capture.blocks) | {cap.get('blocks', '-')} |")
print(f"| distinct stacks in the report | {len(rep.get('stacks') or [])} |")
print(f"| threads in the report | {len(rep.get('threads') or [])} |")
print(f"| drops | {drops} |")
print(f"| recorder CPU (user + sys) | {ru['utime_s'] + ru['stime_s']:.2f} s |")
print(f"| recorder peak RSS (VmHWM) | {hwm:.1f} MiB |")
print(f"| recorder largest VmRSS sample | {ru['vmrss_max_kb'] / 1024:.1f} MiB ({ru['samples']} samples) |")
print()
ok = 0 < hwm < limit
print("| goal | value | result |")
print("|---|---|---|")
print(f"| VmHWM < {limit:g} MiB | {hwm:.1f} MiB | {'PASS' if ok else 'FAIL'} |")
sys.exit(0 if ok else 1)
EOF
