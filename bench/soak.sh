#!/usr/bin/env bash
# bench/soak.sh: the watcher's memory and descriptors over a long soak against a flapping service.
#
# usage: bench/soak.sh [--minutes 30] [--flap-s 60] [--freeze-s 6]
# tests/workloads/freezesvc (--load 50 req/s) is frozen for --freeze-s every
# --flap-s seconds (GET /freeze), healthy in between; `stalltrap watch` polls
# its p99 every 500 ms with the origin's trigger (> 200 ms for 2 s) and writes
# an incident per freeze (--cooldown 0, --max-per-hour 1000). Every 10 s the
# watcher's VmRSS and open descriptors are sampled. Reports: incidents written,
# RSS at the start, over the first 10 minutes and over the last 20 minutes
# (min, max, slope per 10 min by least squares), fd count min/max.
# Goal (issue 16): no RSS growth over the last 20 minutes beyond noise, and a
# constant fd count.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

MINUTES=30
FLAP=60
FREEZE=6
while [ $# -gt 0 ]; do
	case $1 in
	--minutes) MINUTES=$2; shift ;;
	--flap-s) FLAP=$2; shift ;;
	--freeze-s) FREEZE=$2; shift ;;
	-h|--help) sed -n '2,13p' "$0"; exit 0 ;;
	*) die "unknown argument $1" ;;
	esac
	shift
done
need_root
need_cmd python3 curl jq
need_stalltrap
SVC=$(wl freezesvc)

"$SVC" --load 50 >"$WORK/svc.out" 2>&1 &
svc=$!
BG_PIDS+=("$svc")
for _ in $(seq 1 100); do grep -q '"listening"' "$WORK/svc.out" && break; sleep 0.1; done
port=$(grep '"listening"' "$WORK/svc.out" | jq -r .port)
[ -n "$port" ] || die "freezesvc did not listen"
"$ST" watch --pid "$svc" --metrics-url "http://127.0.0.1:$port/metrics" \
	--metric freezesvc_request_duration_seconds --threshold 200ms --for 2s --interval 500ms \
	--before 3s --window 2s --cooldown 0 --max-per-hour 1000 \
	--out "$WORK/incidents" --state-dir "$WORK/state" >"$WORK/watch.out" 2>"$WORK/watch.log" &
wpid=$!
BG_PIDS+=("$wpid")
wait_attached "$wpid" 30 || die "watch did not attach: $(tail -3 "$WORK/watch.log")"

end=$(( $(date +%s) + MINUTES * 60 ))
next_freeze=$(( $(date +%s) + FLAP / 2 ))
t0=$(date +%s)
: >"$WORK/samples"
while [ "$(date +%s)" -lt "$end" ]; do
	kill -0 "$wpid" 2>/dev/null || die "the watcher died: $(tail -3 "$WORK/watch.log")"
	now=$(date +%s)
	if [ "$now" -ge "$next_freeze" ]; then
		curl -s -m 2 "http://127.0.0.1:$port/freeze?seconds=$FREEZE" >/dev/null || true
		next_freeze=$((now + FLAP))
	fi
	rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$wpid/status")
	fds=$(ls "/proc/$wpid/fd" | wc -l)
	echo "$((now - t0)) $rss $fds" >>"$WORK/samples"
	sleep 10
done
n=$(find "$WORK/incidents" -mindepth 1 -maxdepth 1 -type d ! -name '.*' | wc -l)
kill -TERM "$wpid"
wait_exit "$wpid" 90 >/dev/null || true
BG_PIDS=("$svc")
python3 - "$WORK/samples" "$n" "$MINUTES" <<'PY'
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1])]
n, minutes = int(sys.argv[2]), int(sys.argv[3])
late = [r for r in rows if r[0] >= (minutes - 20) * 60] or rows
early = [r for r in rows if r[0] < 600] or rows


def slope(rs):
    if len(rs) < 2:
        return 0.0
    mx = sum(r[0] for r in rs) / len(rs)
    my = sum(r[1] for r in rs) / len(rs)
    den = sum((r[0] - mx) ** 2 for r in rs)
    return sum((r[0] - mx) * (r[1] - my) for r in rs) / den * 600 if den else 0.0


print(f"# soak: {minutes} min, {n} incidents written\n")
print("| figure | value |")
print("|---|---:|")
print(f"| watcher RSS at the first sample | {rows[0][1] / 1024:.1f} MiB |")
print(f"| RSS, first 10 min: min-max | {min(r[1] for r in early) / 1024:.1f}-{max(r[1] for r in early) / 1024:.1f} MiB |")
print(f"| RSS, last 20 min: min-max | {min(r[1] for r in late) / 1024:.1f}-{max(r[1] for r in late) / 1024:.1f} MiB |")
print(f"| RSS slope over the last 20 min (least squares) | {slope(late) / 1024:+.2f} MiB per 10 min |")
print(f"| open descriptors: min-max over the run | {min(r[2] for r in rows)}-{max(r[2] for r in rows)} |")
PY
