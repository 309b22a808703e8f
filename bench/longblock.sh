#!/usr/bin/env bash
# bench/longblock.sh: stalltrap's cost per captured block, BPF side and user side, on thousands of 1-3 ms blocks a second.
#
# usage: bench/longblock.sh [--duration S] [--threads N] [--depth N] [--stack-kib "0 16 32"] [--fp] [--max-ustack BYTES]
# Records tests/workloads/longblock (8 threads, ~4,000 blocks/s of 1.1-3 ms,
# each --depth frames deep, plus --stack-kib KiB of 1 KiB frames above them)
# with `stalltrap record --pid` and full stacks, with kernel.bpf_stats_enabled=1,
# once per --stack-kib value, one after the other in the same run, and prints
# them side by side (the ratio is against the first, the shallow stack).
# Reports, per run:
#   BPF ns per captured block: the report's capture.bpf_run_ns / capture.blocks,
#     and, independently, the run_time_ns growth of the programs the recorder
#     holds (from /proc/PID/fdinfo) over the steady middle of the run divided
#     by the blocks the workload measured in that time;
#   user ns per captured block: capture.unwind_ns / capture.ustacks, the
#     recorder's CPU (/proc/PID/task/*/schedstat) over the steady middle divided
#     by the blocks in it, and its total CPU (rusage, including start-up and the
#     final report) divided by all blocks;
#   user stack bytes copied per block, and the share of off-CPU time whose
#     user stack unwound to the thread's entry.
# Goals: BPF <= 6 µs per block, at every depth; user (steady CPU) <= 2 µs per block.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

DURATION=10
THREADS=8
DEPTH=8
STACK_KIB="0 16 32"
FP=
MAX_USTACK=
while [ $# -gt 0 ]; do
	case $1 in
	--duration) DURATION=$2; shift ;;
	--threads) THREADS=$2; shift ;;
	--depth) DEPTH=$2; shift ;;
	--stack-kib) STACK_KIB=$2; shift ;;
	--fp) FP=fp ;;
	--max-ustack) MAX_USTACK=$2; shift ;;
	-h|--help) sed -n '2,22p' "$0"; exit 0 ;;
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

# sample DIR PID LABEL: one line "label t_ns bpf_ns bpf_cnt nprogs cpu_ns" of the recorder's counters.
sample() {
	echo "$3 $(date +%s%N) $(bpf_prog_stats "$2") $(cpu_ns "$2")" >>"$1/samples"
}

run_one() {
local kib=$1 d=$WORK/run$1
mkdir -p "$d"
"$LB" --threads "$THREADS" --depth "$DEPTH" --stack-kib "$kib" --duration "$DURATION" --start-after "$d/go" >"$d/longblock.json" &
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
touch "$d/go"
sleep 1
sample "$d" "$spid" steady_begin
sleep $((DURATION - 2))
sample "$d" "$spid" steady_end
wait "$wpid" || die "longblock failed"
wait_exit "$rpid" 60
rc=$?
BG_PIDS=()
if [ $rc -ne 0 ] || [ ! -s "$d/out/report.json" ]; then
	die "stalltrap record failed (rc $rc): $(tail -3 "$d/record.err")"
fi
}

dirs=()
for kib in $STACK_KIB; do
	[ "$kib" -ge 0 ] 2>/dev/null || die "--stack-kib: whole KiB, e.g. \"0 16 32\""
	echo "longblock: recording with ${kib} KiB deeper stacks ..." >&2
	run_one "$kib"
	dirs+=("$WORK/run$kib")
done
python3 - "$THREADS" "$DEPTH" "${FP:-nofp}" "${dirs[@]}" <<'EOF'
import json, sys

threads, depth, build = sys.argv[1:4]
dirs = sys.argv[4:]


def figures(d):
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
    return {
        "wl_blocks": wl["blocks_ge_1ms"], "rate": rate, "blocks": blocks,
        "ustacks": num("ustacks"),
        "drops": sum(v for v in (rep.get("drops") or {}).values() if isinstance(v, (int, float))),
        "bpf_report": num("bpf_run_ns") / blocks if num("bpf_run_ns") is not None and blocks else None,
        "bpf_steady": (ns2 - ns1) / steady_blocks if steady_blocks else None,
        "bpf_per_run": (ns2 - ns1) / (cnt2 - cnt1) if cnt2 > cnt1 else None,
        "nprogs": np2,
        "unwind": num("unwind_ns") / num("ustacks") if num("unwind_ns") is not None and num("ustacks") else None,
        "cpu_steady": (cpu2 - cpu1) / steady_blocks if steady_blocks else None,
        "cpu_total": (ru["utime_s"] + ru["stime_s"]) * 1e9 / blocks if blocks else None,
        "rss": ru["vmhwm_kb"] / 1024,
        "bounded": num("ustack_copy_bounded"), "unbounded": num("ustack_copy_unbounded"),
        "complete_pct": rep.get("user_stack_complete_pct"),
        "bytes": num("ustack_bytes") / num("ustack_copies") if num("ustack_bytes") and num("ustack_copies") else None,
        "duration": wl["duration_s"],
    }


def fmt(v, unit="ns"):
    return "-" if v is None else f"{v:,.0f} {unit}"


runs = [(d.rsplit("run", 1)[1], figures(d)) for d in dirs]
print(f"# longblock: cost per captured block ({threads} threads, depth {depth} + N KiB of frames, "
      f"{build} build, {runs[0][1]['duration']:.0f} s each)\n")
print("| figure | " + " | ".join(f"{k} KiB deeper" for k, _ in runs) + " |")
print("|---|" + "---:|" * len(runs))


def row(label, key, f=fmt, **kw):
    print(f"| {label} | " + " | ".join(f(r[key], **kw) if r[key] is not None else "-" for _, r in runs) + " |")


row("blocks >= 1 ms measured by the workload", "wl_blocks", lambda v: f"{v:,}")
row("blocks captured (capture.blocks)", "blocks", lambda v: f"{v:,}")
row("user stacks unwound (capture.ustacks)", "ustacks", lambda v: f"{v:,}")
row("drops", "drops", lambda v: f"{v:,}")
row("off-CPU time with complete user stacks", "complete_pct", lambda v: f"{v:.1f} %")
row("user stack bytes copied per block (mean)", "bytes", lambda v: f"{v:,.0f}")
row("copies bounded by the thread's stack end", "bounded", lambda v: f"{v:,}")
row("copies page by page (stack end not known)", "unbounded", lambda v: f"{v:,}")
row("BPF per block, report (bpf_run_ns / blocks)", "bpf_report")
row("BPF per block, steady (fdinfo run_time_ns / workload blocks)", "bpf_steady")
row("BPF per program run, steady", "bpf_per_run")
row("user: unwind per stack (unwind_ns / ustacks)", "unwind")
row("user: recorder CPU per block, steady (schedstat)", "cpu_steady")
row("user: recorder CPU per block, total incl. start-up and report (rusage)", "cpu_total")
row("recorder peak RSS (VmHWM)", "rss", lambda v: f"{v:.1f} MiB")
base = runs[0][1]["bpf_report"] or runs[0][1]["bpf_steady"]
print("| BPF per block, ratio to the first column | " + " | ".join(
    f"{((r['bpf_report'] or r['bpf_steady']) / base):.2f}x" if base and (r['bpf_report'] or r['bpf_steady']) else "-"
    for _, r in runs) + " |")
print()
ok = True
print("| goal | value | result |")
print("|---|---|---|")
for k, r in runs:
    bpf = r["bpf_report"] if r["bpf_report"] is not None else r["bpf_steady"]
    ok_bpf = bpf is not None and bpf <= 6000
    ok_user = r["cpu_steady"] is not None and r["cpu_steady"] <= 2000
    ok_full = r["complete_pct"] is not None and r["complete_pct"] >= 95.0
    ok = ok and ok_bpf and ok_user and ok_full
    print(f"| {k} KiB: BPF <= 6 µs per captured block | {fmt(bpf)} | {'PASS' if ok_bpf else 'FAIL'} |")
    print(f"| {k} KiB: user <= 2 µs per captured block (steady recorder CPU) | {fmt(r['cpu_steady'])} | "
          f"{'PASS' if ok_user else 'FAIL'} |")
    print(f"| {k} KiB: >= 95 % of off-CPU time with complete user stacks | {r['complete_pct'] if r['complete_pct'] is not None else -1:.1f} % | "
          f"{'PASS' if ok_full else 'FAIL'} |")
sys.exit(0 if ok else 1)
EOF
