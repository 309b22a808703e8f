#!/usr/bin/env bash
# bench/progcost.sh: what each BPF program of the recorder costs per run for a bystander, two builds side by side.
#
# usage: bench/progcost.sh [--rounds N] [--pingpong-rounds N] [--no-locks] [--target] [--other PATH] [--floor]
# The recorder targets an unrelated idle `sleep`; the ping-pong (pinned,
# SCHED_FIFO, as in bench/overhead.sh) is a bystander whose context switches
# and wakeups run the recorder's programs anyway. --target makes the
# ping-pong the recorder's target instead. With the kernel's BPF
# run-time stats on (record --bpf-stats), each program's run_time_ns and
# run_cnt are read from the recorder's fdinfo before and after the ping-pong,
# and per program the script prints the median ns per run over --rounds
# (default 5) rounds; and the programs' total ns per ping-pong round trip.
# --other PATH runs a second stalltrap binary in the same rounds, alternating
# which goes first, and prints its figures and the ratio other/this, e.g. to
# compare a change against main's build. The stats themselves add ~20-40 ns
# to every run, in both columns alike. Other processes of the machine are
# bystanders too: their events land in the same counters (ns per run stays
# a bystander's; runs per round trip grow). --floor runs `stalltrap floor`
# (empty programs on the hooks the recorder attaches) beside each recorder of this
# build, and prints its programs as floor:NAME: the cost of a run that does
# nothing, against which the recorder's programs' own work shows.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

ROUNDS=5
PP_ROUNDS=200000
NOLOCKS=()
OTHER=
FLOOR=0
TARGET=0
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) ROUNDS=$2; shift ;;
	--pingpong-rounds) PP_ROUNDS=$2; shift ;;
	--no-locks) NOLOCKS=(--no-locks) ;;
	--other) OTHER=$2; shift ;;
	--floor) FLOOR=1 ;;
	--target) TARGET=1 ;;
	-h|--help) sed -n '2,23p' "$0"; exit 0 ;;
	*) die "unknown argument $1" ;;
	esac
	shift
done
case $ROUNDS in ''|*[!0-9]*|0) die "--rounds takes a whole number > 0, not '$ROUNDS'" ;; esac
case $PP_ROUNDS in ''|*[!0-9]*|0) die "--pingpong-rounds takes a whole number > 0, not '$PP_ROUNDS'" ;; esac
need_root
need_cmd python3 jq bpftool taskset chrt
need_stalltrap
[ -z "$OTHER" ] || [ -x "$OTHER" ] || die "--other: no executable at $OTHER"
PP=$(wl pingpong)
PIN=(chrt -f 50 taskset -c 1)
RESULTS=$WORK/results.tsv
: >"$RESULTS"
HOOKS=
if [ $FLOOR = 1 ]; then
	HOOKS=$(record_hooks "${NOLOCKS[@]}")
	[ -n "$HOOKS" ] || die "could not read the hooks record attaches"
fi

# snap PID [PREFIX]: "id PREFIXname run_time_ns run_cnt" per program PID
# holds (a target that exits ends its recorder: the names are taken from
# the snapshot before the run, by id). With a PREFIX (the floor, whose
# programs share their names) the name is the hook's, from the links.
snap() {
	local id ns cnt name links=
	[ -z "${2:-}" ] || links=$(bpftool link show -j 2>/dev/null)
	bpf_prog_each "$1" | while read -r id ns cnt; do
		if [ -n "$links" ]; then
			name=$(jq -r --argjson p "$id" '[.[] | select(.prog_id == $p) | (.tp_name // .type)][0] // empty' <<<"$links")
		else
			name=$(bpftool prog show id "$id" -j 2>/dev/null | jq -r '.name // empty')
		fi
		echo "$id ${2:-}${name:-prog$id} $ns $cnt"
	done
}

# one BUILD_LABEL BINARY ROUND: a ping-pong run beside a recorder of that
# binary; appends "round label prog dns dcnt rt" lines to RESULTS.
one() {
	local label=$1 bin=$2 round=$3 d=$WORK/$1-$3 tpid spid fpid=
	mkdir -p "$d"
	if [ $FLOOR = 1 ] && [ "$label" = this ]; then
		"$bin" floor --hooks "$HOOKS" --duration 3600 >"$d/floor.out" 2>"$d/floor.err" &
		fpid=$!
		BG_PIDS+=("$fpid")
		wait_attached "$fpid" 30 || echo "floor did not attach: $(tail -1 "$d/floor.err")" >&2
	fi
	if [ $TARGET = 1 ]; then
		# it stays until told: a target's exit would end its recorder
		# before the second snapshot
		"${PIN[@]}" "$PP" --rounds "$PP_ROUNDS" --repeat 1 --start-after "$d/go" --exit-after "$d/done" \
			>"$d/pp.json" &
	else
		sleep 1000 &
	fi
	tpid=$!
	BG_PIDS+=("$tpid")
	"$bin" record --pid "$tpid" --duration 3600 --bpf-stats "${NOLOCKS[@]}" --out "$d/out" \
		>"$d/record.out" 2>"$d/record.err" &
	spid=$!
	BG_PIDS+=("$spid")
	if wait_attached "$spid" 30; then
		sleep 0.5	# every program attached, not only the first link
		{ snap "$spid"; [ -z "$fpid" ] || snap "$fpid" floor:; } >"$d/before"
		if [ $TARGET = 1 ]; then
			touch "$d/go"
			until [ -s "$d/pp.json" ] || ! kill -0 "$tpid" 2>/dev/null; do
				sleep 0.05
			done
		else
			"${PIN[@]}" "$PP" --rounds "$PP_ROUNDS" --repeat 1 >"$d/pp.json"
		fi
		{ snap "$spid"; [ -z "$fpid" ] || snap "$fpid" floor:; } >"$d/after"
		touch "$d/done"
		python3 - "$d/before" "$d/after" "$round" "$label" "$PP_ROUNDS" >>"$RESULTS" <<'EOF'
import sys
before, after, rnd, label, rt = sys.argv[1:6]
b = {}
for line in open(before):
    i, n, ns, cnt = line.split()
    b[i] = (n, int(ns), int(cnt))
for line in open(after):
    i, n, ns, cnt = line.split()
    n, ns0, cnt0 = b.get(i, (n, 0, 0))
    print(rnd, label, n, int(ns) - ns0, int(cnt) - cnt0, rt)
EOF
	else
		echo "$label: record did not attach: $(tail -1 "$d/record.err")" >&2
	fi
	kill -9 "$spid" 2>/dev/null	# its report is not wanted here
	wait "$spid" 2>/dev/null
	kill "$tpid" $fpid 2>/dev/null
	wait "$tpid" $fpid 2>/dev/null
	BG_PIDS=()
	rm -rf "$d/out"
}

echo "progcost: $ROUNDS rounds, pingpong $PP_ROUNDS round trips, ${PIN[*]}, recorder on $([ $TARGET = 1 ] && echo the ping-pong || echo an idle sleep)${NOLOCKS:+ (--no-locks)}" >&2
for r in $(seq 1 "$ROUNDS"); do
	if [ -n "$OTHER" ] && [ $((r % 2)) = 0 ]; then
		one other "$OTHER" "$r"
		one this "$ST" "$r"
	else
		one this "$ST" "$r"
		[ -z "$OTHER" ] || one other "$OTHER" "$r"
	fi
	echo "  round $r/$ROUNDS done" >&2
done

python3 - "$RESULTS" "$ST" "$OTHER" <<'EOF'
import statistics, sys
from collections import defaultdict
path, this, other = sys.argv[1:4]
per = defaultdict(lambda: defaultdict(list))   # label -> prog -> [ns/run]
runs = defaultdict(lambda: defaultdict(list))  # label -> prog -> [runs/round trip]
tot = defaultdict(lambda: defaultdict(float))  # label -> round -> ns per round trip
for line in open(path):
    rnd, label, prog, dns, dcnt, rt = line.split()
    dns, dcnt, rt = int(dns), int(dcnt), int(rt)
    if not prog.startswith("floor:"):
        tot[label][rnd] += dns / rt
    if dcnt > 0:
        per[label][prog].append(dns / dcnt)
        runs[label][prog].append(dcnt / rt)
if not tot:
    sys.exit("progcost: no round gave figures")
labels = ["this"] + (["other"] if other else [])
print("binaries: this = %s%s" % (this, ", other = %s" % other if other else ""))
hdr = "%-34s" % "program (ns per run)" + "".join("%12s %9s" % (l, "runs/rt") for l in labels)
if other:
    hdr += "%14s" % "other/this"
print(hdr)
progs = sorted(set(p for l in labels for p in per[l]))
med = lambda xs: statistics.median(xs) if xs else float("nan")
for p in progs:
    row = "%-34s" % p
    for l in labels:
        row += "%12.1f %9.2f" % (med(per[l][p]), med(runs[l][p]))
    if other and per["this"][p] and per["other"][p]:
        row += "%13.2fx" % (med(per["other"][p]) / med(per["this"][p]))
    print(row)
row = "%-34s" % "total ns per round trip"
for l in labels:
    row += "%12.1f %9s" % (med(list(tot[l].values())), "")
if other:
    row += "%13.2fx" % (med(list(tot["other"].values())) / med(list(tot["this"].values())))
print(row)
print("(medians of %d rounds)" % max(len(v) for v in tot.values()))
EOF
