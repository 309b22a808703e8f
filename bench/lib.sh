# bench/lib.sh: helpers shared by the benchmark scripts (sourced, not run).
#
# Sets ROOT (the repository), ST (the stalltrap binary: $STALLTRAP or
# build/stalltrap), WORK (a scratch directory removed at exit) and provides:
#   need_root, need_cmd CMD...   refuse to run without them
#   wl NAME [fp]                 path of a workload binary (build/workloads/NAME[-fp];
#                                compiled into $WORK with the Makefile's flags if absent)
#   wait_file PATH SECONDS       wait until PATH exists
#   wait_attached PID SECONDS    wait until process PID holds a BPF link (its programs are attached)
#   bpf_prog_stats PID           "run_time_ns run_cnt nprogs" summed over the BPF programs PID holds
#   bpf_prog_each PID            "prog_id run_time_ns run_cnt", a line per BPF program PID holds
#   cpu_ns PID                   on-CPU ns of a process so far (all threads, /proc/PID/schedstat)
#   wait_exit PID SECONDS        wait for a child to end; SIGINT it after SECONDS; returns its status
#   bg_pids / kill_bg            background processes started by the script, ended at exit
#   record_hooks [ARGS]          the hooks `record ARGS` attaches, as a `floor --hooks` list
#   wait_quiet SECONDS           wait until no other BPF link is on sched_switch (sets QUIET_OTHERS)
#   run_rounds ROUNDS CONFIG...  the paired rounds: run_config CONFIG ROUND, the order rotated each round
# Every wait is bounded; a script never hangs on a component that died.

set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# poll_until, shared with the tests (only its functions: the tests' setup is not ours)
TESTS_LIB_FUNCTIONS_ONLY=1 source "$ROOT/tests/lib.sh"
ST=${STALLTRAP:-build/stalltrap}
case $ST in /*) ;; *) ST=$ROOT/$ST ;; esac
WORK=$(mktemp -d /tmp/stalltrap-bench.XXXXXX)
BG_PIDS=()

kill_bg() {
	local p
	for p in "${BG_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${BG_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	BG_PIDS=()
}

bench_cleanup() {
	kill_bg
	if [ -n "${KEEP_WORK:-}" ]; then
		echo "scratch kept in $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

die() {
	echo "$(basename "$0"): $*" >&2
	exit 1
}

need_root() {
	[ "$(id -u)" -eq 0 ] || die "run as root (BPF needs CAP_BPF and CAP_PERFMON)"
}

need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || die "needs '$c' (see scripts/install-deps.sh)"
	done
}

need_stalltrap() {
	[ -x "$ST" ] || die "no stalltrap binary at $ST (run make, or set STALLTRAP)"
}

# wl NAME [fp]: the workload binary, built by hand with the Makefile's flags when absent.
wl() {
	local name=$1 fp=${2:-} bin src
	bin=$ROOT/build/workloads/$name${fp:+-fp}
	src=$ROOT/tests/workloads/$name.c
	if [ -x "$bin" ] && [ "$bin" -nt "$src" ]; then
		echo "$bin"
		return
	fi
	bin=$WORK/$name${fp:+-fp}
	if [ ! -x "$bin" ]; then
		if [ -n "$fp" ]; then
			gcc -O2 -g -pthread -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer "$src" -o "$bin" -lm
		else
			gcc -O2 -g -pthread -fomit-frame-pointer "$src" -o "$bin" -lm
		fi || die "cannot build $src"
	fi
	echo "$bin"
}

# wait_file PATH SECONDS
wait_file() {
	poll_until 0.05 "$2" test -e "$1"
}

# wait_attached PID SECONDS: the process holds a BPF link fd (libbpf attaches
# raw_tp programs through links), so its programs run from now on.
wait_attached() {
	local pid=$1 n=$(($2 * 20)) f
	while :; do
		kill -0 "$pid" 2>/dev/null || return 1
		for f in /proc/"$pid"/fdinfo/*; do
			if grep -qs '^link_type:' "$f"; then
				return 0
			fi
		done
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.05
	done
}

# bpf_prog_stats PID: sums run_time_ns and run_cnt over the distinct BPF
# programs whose fds PID holds (needs kernel.bpf_stats_enabled=1 to count).
bpf_prog_stats() {
	local pid=$1
	# shellcheck disable=SC2016
	awk '
		function flush() {
			if (id != "" && ns != "" && !(id in seen)) { seen[id] = 1; tns += ns; tcnt += cnt; n++ }
			id = ""; ns = ""; cnt = ""
		}
		FNR == 1 { flush() }
		/^prog_id:/ { id = $2 }
		/^run_time_ns:/ { ns = $2 }
		/^run_cnt:/ { cnt = $2 }
		END { flush(); printf "%.0f %.0f %d\n", tns, tcnt, n }
	' /proc/"$pid"/fdinfo/* 2>/dev/null
}

# bpf_prog_each PID: "prog_id run_time_ns run_cnt", one line per distinct BPF
# program whose fd PID holds (the same fdinfo as bpf_prog_stats, not summed).
bpf_prog_each() {
	local pid=$1
	# shellcheck disable=SC2016
	awk '
		function flush() {
			if (id != "" && ns != "" && !(id in seen)) { seen[id] = 1; print id, ns, cnt }
			id = ""; ns = ""; cnt = ""
		}
		FNR == 1 { flush() }
		/^prog_id:/ { id = $2 }
		/^run_time_ns:/ { ns = $2 }
		/^run_cnt:/ { cnt = $2 }
		END { flush() }
	' /proc/"$pid"/fdinfo/* 2>/dev/null
}

# cpu_ns PID: on-CPU time of all threads of PID so far.
cpu_ns() {
	local pid=$1 t s=0
	for t in /proc/"$pid"/task/*/schedstat; do
		read -r a _ <"$t" 2>/dev/null && s=$((s + a))
	done
	echo "$s"
}

# wait_exit PID SECONDS: waits for child PID to exit (a zombie counts as
# exited), interrupts it with SIGINT after SECONDS, and returns its status.
wait_exit() {
	local pid=$1 n=$(($2 * 20)) st
	while [ -e /proc/"$pid" ]; do
		read -r _ _ st _ </proc/"$pid"/stat 2>/dev/null || break
		[ "$st" = Z ] && break
		n=$((n - 1))
		if [ $n -le 0 ]; then
			echo "$(basename "$0"): pid $pid still running after $2 s, interrupting it" >&2
			kill -INT "$pid" 2>/dev/null
			break
		fi
		sleep 0.05
	done
	wait "$pid"
}

ensure_tracefs() {
	[ -d /sys/kernel/tracing/events ] || mount -t tracefs nodev /sys/kernel/tracing ||
		die "cannot mount tracefs on /sys/kernel/tracing"
}

# stats: reads numbers (one per line) and prints "median min max q1 q3 n".
stats() {
	python3 -c '
import statistics, sys
v = sorted(float(x) for x in sys.stdin.read().split())
if not v:
    print("nan nan nan nan nan 0"); sys.exit()
q = statistics.quantiles(v, n=4, method="inclusive") if len(v) > 1 else [v[0], v[0], v[0]]
print(f"{statistics.median(v):.4f} {v[0]:.4f} {v[-1]:.4f} {q[0]:.4f} {q[2]:.4f} {len(v)}")
'
}

# stop_wait PID [SECONDS]: SIGINT, wait up to SECONDS (default 15) for it to
# finish writing, then SIGKILL: a tracer stuck mid-attach must not hang a run.
stop_wait() {
	local pid=$1 t=${2:-15} i
	kill -INT "$pid" 2>/dev/null || return 0
	for i in $(seq 1 $((t * 10))); do
		kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# record_hooks [RECORD ARGS...]: the hooks `stalltrap record ARGS` attaches, read
# from its links (bpf_hooks) while it records an idle sleep: a `floor --hooks` list.
record_hooks() {
	local d spid tpid h=''
	d=$(mktemp -d "$WORK/hooks.XXXXXX")
	sleep 1000 &
	tpid=$!
	"$ST" record --pid "$tpid" --duration 3600 "$@" --out "$d/out" >/dev/null 2>"$d/record.err" &
	spid=$!
	# every link is there once the "capture: PATH path" line is printed
	if poll_until 0.05 30 grep -qE '^capture: [a-z_]+ path' "$d/record.err"; then
		h=$(bpf_hooks "$spid")
	fi
	kill "$spid" "$tpid" 2>/dev/null
	wait "$spid" "$tpid" 2>/dev/null
	[ -n "$h" ] || die "cannot read the hooks of record $*: $(tail -1 "$d/record.err")"
	echo "$h"
}

# wait_quiet SECONDS: waits until no BPF link is on sched_switch (other
# people's recorders would be measured with ours), at most SECONDS, then warns
# and goes on. Sets QUIET_OTHERS to the links still there (0 when quiet).
wait_quiet() {
	local waited=0
	QUIET_OTHERS=0
	while QUIET_OTHERS=$(bpftool -j link show 2>/dev/null | jq '[.[] | select(.tp_name? == "sched_switch")] | length') &&
		[ "${QUIET_OTHERS:-0}" -gt 0 ]; do
		if [ $waited -ge "$1" ]; then
			echo "WARNING: $QUIET_OTHERS other BPF links on sched_switch after ${1}s; measuring anyway (every config pays them)" >&2
			return
		fi
		[ $waited = 0 ] && echo "waiting up to ${1}s for $QUIET_OTHERS other BPF links on sched_switch to go" >&2
		sleep 5
		waited=$((waited + 5))
	done
	QUIET_OTHERS=${QUIET_OTHERS:-0}
}

# run_rounds ROUNDS CONFIG...: calls the script's run_config CONFIG ROUND for
# every config in each round, the order rotated every round, so that no config
# always runs right after the same other one (paired rounds: each round holds one run of each).
run_rounds() {
	local rounds=$1 r i n
	shift
	n=$#
	local cfgs=("$@")
	for r in $(seq 1 "$rounds"); do
		for i in $(seq 0 $((n - 1))); do
			run_config "${cfgs[$(((i + r) % n))]}" "$r"
		done
		echo "  round $r/$rounds done" >&2
	done
}
