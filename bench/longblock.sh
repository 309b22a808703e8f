#!/usr/bin/env bash
# bench/longblock.sh: stalltrap's cost per captured block, BPF side and user side, on thousands of 1-3 ms blocks a second.
#
# usage: bench/longblock.sh [--duration S] [--threads N] [--depth N] [--fp] [--max-ustack BYTES]
# Records tests/workloads/longblock (8 threads, ~4,000 blocks/s of 1.1-3 ms,
# each --depth frames deep) with `stalltrap record --pid` and full stacks, with
# kernel.bpf_stats_enabled=1. Reports:
#   BPF ns per captured block: the report's capture.bpf_run_ns / capture.blocks,
#     and, independently, the run_time_ns growth of the programs the recorder
#     holds (from /proc/PID/fdinfo) over the steady middle of the run divided
#     by the blocks the workload measured in that time;
#   user ns per captured block: capture.unwind_ns / capture.ustacks, the
#     recorder's CPU (/proc/PID/task/*/schedstat) over the steady middle divided
#     by the blocks in it, and its total CPU (rusage, including start-up and the
#     final report) divided by all blocks.
# Goals: BPF <= 6 µs per block; user (steady CPU) <= 2 µs per block.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

DURATION=10
THREADS=8
DEPTH=8
FP=
MAX_USTACK=
while [ $# -gt 0 ]; do
	case $1 in
	--duration) DURATION=$2; shift ;;
	--threads) THREADS=$2; shift ;;
	--depth) DEPTH=$2; shift ;;
	--fp) FP=fp ;;
	--max-ustack) MAX_USTACK=$2; shift ;;
	-h|--help) sed -n '2,17p' "$0"; exit 0 ;;
	*) die "unknown argument $1" ;;
	esac
	shift
done
[ "$DURATION" -ge 4 ] 2>/dev/null || die "--duration: whole seconds, at least 4"
need_root
need_cmd python3 jq gcc
need_stalltrap
LB=$(wl longblock $FP)

OLD_STATS=$(cat /proc/sys/kernel/bpf_stats_enabled)
trap 'echo "$OLD_STATS" >/proc/sys/kernel/bpf_stats_enabled; bench_cleanup' EXIT
echo 1 >/proc/sys/kernel/bpf_stats_enabled

d=$WORK/run
mkdir -p "$d"
"$LB" --threads "$THREADS" --depth "$DEPTH" --duration "$DURATION" --start-after "$d/go" >"$d/longblock.json" &
wpid=$!
BG_PIDS+=("$wpid")
python3 "$ROOT/bench/rusage.py" --out "$d/rusage.json" --pid-file "$d/st.pid" -- \
	"$ST" record --pid "$wpid" --duration "$((DURATION + 30))" --min-block 1ms \
	${MAX_USTACK:+--max-ustack "$MAX_USTACK"} --out "$d/out" >"$d/record.out" 2>"$d/record.err" &
rpid=$!
BG_PIDS+=("$rpid")
wait_file "$d/st.pid" 10 || die "recorder did not start"
spid=$(cat "$d/st.pid")
wait_attached "$spid" 30 || die "stalltrap record did not attach: $(tail -2 "$d/record.err")"

# sample LABEL: one line "label t_ns bpf_ns bpf_cnt nprogs cpu_ns" of the recorder's counters.
sample() {
	echo "$1 $(date +%s%N) $(bpf_prog_stats "$spid") $(cpu_ns "$spid")" >>"$d/samples"
}
touch "$d/go"
sleep 1
sample steady_begin
sleep $((DURATION - 2))
sample steady_end
wait "$wpid" || die "longblock failed"
wait_exit "$rpid" 60
rc=$?
BG_PIDS=()
if [ $rc -ne 0 ] || [ ! -s "$d/out/report.json" ]; then
	die "stalltrap record failed (rc $rc): $(tail -3 "$d/record.err")"
fi

python3 - "$d" "$THREADS" "$DEPTH" "${FP:-nofp}" <<'EOF'
import json, sys

d, threads, depth, build = sys.argv[1:5]
wl = json.load(open(f"{d}/longblock.json"))
rep = json.load(open(f"{d}/out/report.json"))
ru = json.load(open(f"{d}/rusage.json"))
cap = rep.get("capture") or {}
samples = {}
for line in open(f"{d}/samples"):
    f = line.split()
    samples[f[0]] = [int(x) for x in f[1:]]
(t1, ns1, cnt1, np1, cpu1), (t2, ns2, cnt2, np2, cpu2) = samples["steady_begin"], samples["steady_end"]
rate = wl["blocks_ge_1ms"] / wl["duration_s"]            # blocks/s the workload measured
steady_blocks = rate * (t2 - t1) / 1e9


def num(k):
    v = cap.get(k)
    return v if isinstance(v, (int, float)) else None


blocks = num("blocks")
rows = []
bpf_report = num("bpf_run_ns") / blocks if num("bpf_run_ns") is not None and blocks else None
bpf_steady = (ns2 - ns1) / steady_blocks if steady_blocks else None
bpf_per_run = (ns2 - ns1) / (cnt2 - cnt1) if cnt2 > cnt1 else None
unwind = num("unwind_ns") / num("ustacks") if num("unwind_ns") is not None and num("ustacks") else None
cpu_steady = (cpu2 - cpu1) / steady_blocks if steady_blocks else None
cpu_total = (ru["utime_s"] + ru["stime_s"]) * 1e9 / blocks if blocks else None


def fmt(v, unit="ns"):
    return "-" if v is None else f"{v:,.0f} {unit}"


print(f"# longblock: cost per captured block ({threads} threads, depth {depth}, {build} build, "
      f"{wl['duration_s']:.0f} s)\n")
print("| figure | value |")
print("|---|---:|")
print(f"| blocks >= 1 ms measured by the workload | {wl['blocks_ge_1ms']:,} ({rate:,.0f}/s) |")
print(f"| blocks captured (capture.blocks) | {blocks if blocks is not None else '-'} |")
print(f"| user stacks unwound (capture.ustacks) | {num('ustacks') if num('ustacks') is not None else '-'} |")
print(f"| drops | {sum(v for v in (rep.get('drops') or {}).values() if isinstance(v, (int, float)))} |")
print(f"| BPF per block, report (bpf_run_ns / blocks) | {fmt(bpf_report)} |")
print(f"| BPF per block, steady (fdinfo run_time_ns / workload blocks) | {fmt(bpf_steady)} |")
print(f"| BPF per program run, steady ({np2} programs) | {fmt(bpf_per_run)} |")
print(f"| user: unwind per stack (unwind_ns / ustacks) | {fmt(unwind)} |")
print(f"| user: recorder CPU per block, steady (schedstat) | {fmt(cpu_steady)} |")
print(f"| user: recorder CPU per block, total incl. start-up and report (rusage) | {fmt(cpu_total)} |")
print(f"| recorder peak RSS (VmHWM) | {ru['vmhwm_kb'] / 1024:.1f} MiB |")
print()
bpf = bpf_report if bpf_report is not None else bpf_steady
ok_bpf = bpf is not None and bpf <= 6000
ok_user = cpu_steady is not None and cpu_steady <= 2000
print("| goal | value | result |")
print("|---|---|---|")
print(f"| BPF <= 6 µs per captured block | {fmt(bpf)} | {'PASS' if ok_bpf else 'FAIL'} |")
print(f"| user <= 2 µs per captured block (steady recorder CPU) | {fmt(cpu_steady)} | {'PASS' if ok_user else 'FAIL'} |")
sys.exit(0 if ok_bpf and ok_user else 1)
EOF
