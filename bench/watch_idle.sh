#!/usr/bin/env bash
# bench/watch_idle.sh: what `stalltrap watch` costs while the service it watches is healthy.
#
# usage: bench/watch_idle.sh [--duration 600] [--interval 500ms] [--load 50] [--goal-pct 0.05]
#                            [--warmup 15] [--min-block 1ms] [--other STALLTRAP_BIN]
# Starts freezesvc (tests/workloads/) answering --load requests per second to
# its own load thread, and `stalltrap watch --pid` on it polling its /metrics
# histogram every --interval, the flight recorder attached. After --warmup
# seconds it measures for --duration seconds (the issue asks for >= 10 min):
#   watcher   on-CPU time of every thread of the watcher, /proc/PID/schedstat
#   bpf       run time of the recorder's BPF programs, from the kernel's BPF
#             stats (kernel.bpf_stats_enabled=1 during the run, restored
#             after); they run in the context of the tasks they trace, so this
#             is time charged to the service (and to the rest of the machine)
#   floor     on-CPU time of build/bench/poll_floor (bench/poll_floor.c, built
#             by make; by hand here if absent), a bare libcurl poller making
#             the watcher's libcurl calls on the same /metrics URL at the same
#             --interval, started at the end of the warmup; the span starts
#             when it sleeps after its first poll (its start-up is not polling)
# and reports each as a share of one core, the watcher's and BPF's sum against
# --goal-pct (default 0.05 % of one core), the floor beside them (watcher /
# floor, and goal minus floor: what the goal leaves for everything but
# polling), the service's own CPU for scale, the polls made, the incidents
# written (must be 0: the service is healthy), and each BPF program's runs/s,
# ns/run and share. Beside the watcher, a second one on the same service with
# every sink configured (--alertmanager, --webhook, --pyroscope, --parca, to
# loopback ports; delivery threads idle as long as nothing is queued) runs over
# the same span: its on-CPU time and the ratio to the first's show what the
# sinks cost while idle (delivery must not touch the capture path). The rest:
# ns/run and share (name from bpftool). Exits 1 when the goal is missed or an
# incident was written; the floor does not change the verdict.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

DURATION=600
INTERVAL=500ms
LOAD=50
GOAL=0.05
WARMUP=15
MIN_BLOCK=1ms
OTHER=
while [ $# -gt 0 ]; do
	case $1 in
	--duration) DURATION=$2; shift 2 ;;
	--interval) INTERVAL=$2; shift 2 ;;
	--load) LOAD=$2; shift 2 ;;
	--goal-pct) GOAL=$2; shift 2 ;;
	--warmup) WARMUP=$2; shift 2 ;;
	--min-block) MIN_BLOCK=$2; shift 2 ;;
	--other) OTHER=$2; shift 2 ;;
	*) die "unknown option $1 (see the header of $0)" ;;
	esac
done
need_root
need_cmd jq python3 curl awk bpftool gcc
need_stalltrap

# --interval (the watcher's syntax: a decimal with ns/us/ms/s/m/h, bare = s) in ms for poll_floor
IMS=$(awk -v d="$INTERVAL" 'BEGIN {
	u["ns"] = 1e-6; u["us"] = 1e-3; u["ms"] = 1; u["s"] = 1000; u["m"] = 60000; u["h"] = 3600000; u[""] = 1000
	if (!match(d, /^[0-9]+(\.[0-9]*)?/)) exit 1
	unit = substr(d, RLENGTH + 1)
	if (!(unit in u)) exit 1
	ms = substr(d, 1, RLENGTH) * u[unit]
	if (ms < 1 || ms != int(ms)) exit 1
	printf "%d\n", ms
}') || die "--interval $INTERVAL: poll_floor needs a whole number of milliseconds"

# poll_floor: make's build/bench/poll_floor, or built here with the Makefile's flags
floor_bin() {
	local bin=$ROOT/build/bench/poll_floor src=$ROOT/bench/poll_floor.c
	if [ -x "$bin" ] && [ "$bin" -nt "$src" ]; then
		echo "$bin"
		return
	fi
	bin=$WORK/poll_floor
	gcc -O2 -g -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror "$src" -o "$bin" -lcurl || return 1
	echo "$bin"
}
PF=$(floor_bin) || die "cannot build bench/poll_floor.c"

# wait_sleeping PID SECONDS: PID is blocked in clock_nanosleep (poll_floor
# between two polls), read from /proc/PID/syscall.
wait_sleeping() {
	local pid=$1 n=$(($2 * 20)) nr sc
	case $(uname -m) in
	x86_64) nr=230 ;;
	aarch64) nr=115 ;;
	*) sleep 1; return 0 ;;
	esac
	while :; do
		read -r sc _ </proc/"$pid"/syscall 2>/dev/null || return 1
		[ "$sc" = "$nr" ] && return 0
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.05
	done
}

OLD_STATS=$(sysctl -n kernel.bpf_stats_enabled)
restore_stats() { sysctl -qw kernel.bpf_stats_enabled="$OLD_STATS"; bench_cleanup; }
trap restore_stats EXIT
sysctl -qw kernel.bpf_stats_enabled=1

svc=$(wl freezesvc)
# each poller's kept-alive connection holds one of freezesvc's workers (4 by
# default): the watcher, the one with sinks and the floor leave one for the
# load; --other's watcher needs one more, or the load starves and every
# watcher fires ("no request completed since the last poll")
workers=4
[ -z "$OTHER" ] || workers=6
"$svc" --load "$LOAD" --workers "$workers" >"$WORK/svc.out" 2>&1 &
SVC=$!
BG_PIDS+=("$SVC")
wait_file "$WORK/svc.out" 10 || die "freezesvc did not start"
for _ in $(seq 1 100); do grep -q listening "$WORK/svc.out" && break; sleep 0.05; done
PORT=$(grep listening "$WORK/svc.out" | jq -r .port)
[ -n "$PORT" ] || die "freezesvc did not listen"

# start_watcher BIN NAME WHAT [ARGS...]: `BIN watch` on the service, its
# incidents in $WORK/incidents$NAME, its log in $WORK/watch$NAME.log, once
# attached; sets WPID
start_watcher() {
	local bin=$1 name=$2 what=$3
	shift 3
	"$bin" watch --pid "$SVC" --metrics-url "http://127.0.0.1:$PORT/metrics" \
		--metric freezesvc_request_duration_seconds --interval "$INTERVAL" --min-block "$MIN_BLOCK" \
		--listen 127.0.0.1:0 --out "$WORK/incidents$name" --state-dir "$WORK/state$name" "$@" \
		2>"$WORK/watch$name.log" &
	WPID=$!
	BG_PIDS+=("$WPID")
	wait_attached "$WPID" 30 || die "$what did not attach: $(tail -3 "$WORK/watch$name.log")"
}

start_watcher "$ST" "" "the watcher"
W=$WPID
for _ in $(seq 1 100); do grep -q 'listening on' "$WORK/watch.log" && break; sleep 0.05; done
WPORT=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/watch.log" | head -1)
metric() { curl -s -m 2 "http://127.0.0.1:$WPORT/metrics" | awk -v n="$1" '$1 == n { print $2; exit }'; }
# the same watcher with every sink configured
SINK_PORT=$(free_port)
start_watcher "$ST" -sinks "the watcher with sinks" \
	--alertmanager "http://127.0.0.1:$SINK_PORT" --webhook "http://127.0.0.1:$SINK_PORT/hook" \
	--pyroscope "http://127.0.0.1:$SINK_PORT" --parca "http://127.0.0.1:$SINK_PORT"
W2=$WPID
grep -q 'delivering to parca' "$WORK/watch-sinks.log" || die "the watcher with sinks has no delivery: $(tail -3 "$WORK/watch-sinks.log")"

# --other: the same watcher, another build
W3=
if [ -n "$OTHER" ]; then
	[ -x "$OTHER" ] || die "--other $OTHER is not an executable"
	start_watcher "$OTHER" -other "the other build's watcher"
	W3=$WPID
fi

echo "warming up ${WARMUP}s, then measuring ${DURATION}s (freezesvc at $LOAD req/s, polls every $INTERVAL)" >&2
sleep "$WARMUP"
# the floor: same URL, same interval; measured from its first sleep on, so
# that its exec, libcurl's initialization and its first connect are left out
# (the watcher's were in the warmup)
"$PF" "http://127.0.0.1:$PORT/metrics" "$IMS" >"$WORK/floor.out" 2>"$WORK/floor.err" &
F=$!
BG_PIDS+=("$F")
wait_sleeping "$F" 10 || die "poll_floor did not make its first poll: $(tail -3 "$WORK/floor.err")"
o0=0; [ -z "$W3" ] || o0=$(cpu_ns "$W3")
c0=$(cpu_ns "$W"); d0=$(cpu_ns "$W2"); f0=$(cpu_ns "$F"); s0=$(cpu_ns "$SVC"); read -r b0 n0 progs < <(bpf_prog_stats "$W")
bpf_prog_each "$W" >"$WORK/bpf0"; p0=$(metric stalltrap_watch_polls_total)
t0=$(date +%s.%N)
sleep "$DURATION"
f1=
kill -0 "$F" 2>/dev/null && f1=$(cpu_ns "$F")
o1=0; [ -z "$W3" ] || o1=$(cpu_ns "$W3")
c1=$(cpu_ns "$W"); d1=$(cpu_ns "$W2"); s1=$(cpu_ns "$SVC"); read -r b1 n1 _ < <(bpf_prog_stats "$W")
bpf_prog_each "$W" >"$WORK/bpf1"; p1=$(metric stalltrap_watch_polls_total)
t1=$(date +%s.%N)
kill -0 "$W" 2>/dev/null || die "the watcher died: $(tail -3 "$WORK/watch.log")"
kill -0 "$W2" 2>/dev/null || die "the watcher with sinks died: $(tail -3 "$WORK/watch-sinks.log")"
[ -z "$W3" ] || kill -0 "$W3" 2>/dev/null || die "the other build's watcher died: $(tail -3 "$WORK/watch-other.log")"
incidents=$(find "$WORK/incidents" "$WORK/incidents-sinks" ${W3:+"$WORK/incidents-other"} -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l)
# poll_floor prints {"polls":N,"errors":N} at SIGTERM; N counts its first poll, made before the span
kill -TERM "$F" 2>/dev/null
wait "$F" 2>/dev/null
fpolls=$(jq -r '.polls - 1' "$WORK/floor.out" 2>/dev/null)
ferrors=$(jq -r .errors "$WORK/floor.out" 2>/dev/null)
if [ -z "$f1" ] || [ -z "$fpolls" ]; then
	echo "$(basename "$0"): poll_floor ended early, no floor: $(tail -3 "$WORK/floor.err")" >&2
	f1=
fi
while read -r id _; do
	echo "$id $(bpftool prog show id "$id" --json 2>/dev/null | jq -r '.name // "?"')"
done <"$WORK/bpf1" >"$WORK/bpf_names"

python3 - "$t0" "$t1" "$c0" "$c1" "$b0" "$b1" "$n0" "$n1" "$s0" "$s1" "$p0" "$p1" "$progs" "$GOAL" "$incidents" \
	"$INTERVAL" "$LOAD" "$f0" "$f1" "${fpolls:-0}" "${ferrors:-0}" "$WORK" "$d0" "$d1" "$o0" "$o1" "$OTHER" <<'PY'
import sys
t0, t1, c0, c1, b0, b1, n0, n1, s0, s1, p0, p1 = (float(x) for x in sys.argv[1:13])
progs, goal, incidents, interval, load = int(sys.argv[13]), float(sys.argv[14]), int(sys.argv[15]), sys.argv[16], sys.argv[17]
f0, f1, fpolls, ferrors, work = sys.argv[18], sys.argv[19], int(sys.argv[20]), int(sys.argv[21]), sys.argv[22]
wall = (t1 - t0) * 1e9
watcher = (c1 - c0) / wall * 100
bpf = (b1 - b0) / wall * 100
svc = (s1 - s0) / wall * 100
total = watcher + bpf
ok = total <= goal and incidents == 0
polls = p1 - p0
print(f"## watch idle cost ({wall / 1e9:.0f} s, polls every {interval}, freezesvc at {load} req/s)\n")
print("| what | share of one core | detail |")
print("|---|---|---|")
print(f"| watcher (schedstat, all threads) | {watcher:.4f} % | {(c1 - c0) / 1e6:.1f} ms on-CPU, {(c1 - c0) / max(polls, 1) / 1e3:.0f} µs per poll |")
print(f"| recorder's BPF programs (kernel BPF stats) | {bpf:.4f} % | {(b1 - b0) / 1e6:.1f} ms in {n1 - n0:.0f} runs of {progs} programs, {((b1 - b0) / max(n1 - n0, 1)):.0f} ns/run |")
print(f"| **total** | **{total:.4f} %** | goal <= {goal} % |")
d0, d1 = float(sys.argv[23]), float(sys.argv[24])
sinks = (d1 - d0) / wall * 100
print(f"| watcher with 4 sinks configured, idle (same span, same service) | {sinks:.4f} % | {(d1 - d0) / 1e6:.1f} ms on-CPU; "
      f"with / without sinks: {sinks / watcher if watcher else float('nan'):.2f}x |")
o0, o1, other = float(sys.argv[25]), float(sys.argv[26]), sys.argv[27]
if other:
    ow = (o1 - o0) / wall * 100
    print(f"| watcher, another build ({other}), same options, same span | {ow:.4f} % | {(o1 - o0) / 1e6:.1f} ms on-CPU; "
          f"this build / other: {watcher / ow if ow else float('nan'):.3f}x |")
floor = None
if f1:
    floor = (float(f1) - float(f0)) / wall * 100
    err = f", {ferrors} errors" if ferrors else ""
    print(f"| bare libcurl poller at the same interval (the floor of polling) | {floor:.4f} % | {(float(f1) - float(f0)) / 1e6:.1f} ms on-CPU in {fpolls} polls{err}, {(float(f1) - float(f0)) / max(fpolls, 1) / 1e3:.0f} µs per poll |")
else:
    print("| bare libcurl poller at the same interval (the floor of polling) | n/a | poll_floor ended early |")
print(f"| service itself (for scale) | {svc:.3f} % | |")
if floor:
    left = goal - floor
    print(f"\nwatcher / floor: {watcher / floor:.2f}x; goal {goal} % minus floor {floor:.4f} % leaves "
          + (f"{left:.4f} % of one core for everything but polling (spent now: {total - floor:.4f} %, the watcher beyond the floor plus BPF)"
             if left > 0 else f"nothing: the floor alone is {-left:.4f} % over the goal"))

def load_stats(path):
    d = {}
    with open(path) as f:
        for line in f:
            i, ns, cnt = line.split()
            d[i] = (float(ns), float(cnt))
    return d
before, after = load_stats(f"{work}/bpf0"), load_stats(f"{work}/bpf1")
names = {}
with open(f"{work}/bpf_names") as f:
    for line in f:
        i, _, name = line.rstrip("\n").partition(" ")
        names[i] = name
rows = []
for i, (ns, cnt) in after.items():
    ns0, cnt0 = before.get(i, (0.0, 0.0))
    rows.append((names.get(i, "?"), i, (cnt - cnt0) / (wall / 1e9), (ns - ns0) / max(cnt - cnt0, 1), (ns - ns0) / wall * 100))
gone = len(set(before) - set(after))
print("\n| BPF program (id) | runs/s | ns/run | share of one core |")
print("|---|---|---|---|")
for name, i, rate, per, share in sorted(rows, key=lambda r: -r[4]):
    print(f"| {name} ({i}) | {rate:.1f} | {per:.0f} | {share:.4f} % |")
if gone:
    print(f"\n{gone} program(s) held at the start were gone at the end: not in this breakdown")
print(f"\npolls: {polls:.0f}; incidents written: {incidents} (want 0); goal {'met' if ok else 'MISSED'}")
sys.exit(0 if ok else 1)
PY
