# tests/lib.sh: the shell helpers every test script shares (sourced, not run).
#
# Sourcing it (from tests/e2e/, tests/bpf/ or tests/): set -euo pipefail; the
# working directory becomes the repository; $TMP is a scratch directory and
# the processes listed in PIDS_TO_KILL are killed (SIGKILL) at exit. Paths:
# ST (the stalltrap binary: $STALLTRAP or build/stalltrap), GEN (the capture
# generator of the end-to-end tests), WL (the workloads), ARTIFACTS (what a
# test keeps for a human: screenshots).
# With TESTS_LIB_FUNCTIONS_ONLY=1 (bench/lib.sh) it only defines poll_until,
# free_port and bpf_hooks, and changes nothing else.
# Every wait is bounded: a test never hangs on a component that died.

# poll_until STEP_S TIMEOUT_S CMD...: runs CMD (output discarded) every STEP_S
# seconds until it succeeds (status 0) or TIMEOUT_S have passed (status 1).
poll_until() {
	local step=$1 t=$2 i n; shift 2
	n=$(awk -v t="$t" -v s="$step" 'BEGIN { printf "%d", t / s + 0.5 }')
	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep "$step"
	done
	return 1
}

# free_port: a free TCP port on 127.0.0.1 (bound by the kernel, then released)
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# bpf_hooks PID: the hooks process PID has BPF links on, named as `stalltrap floor
# --hooks` takes them (raw_tp:NAME, tp_btf:NAME, perf_event for CPU-clock
# events, once however many CPUs), sorted and comma-separated. A raw_tracepoint
# link is tp_btf when its program is BPF_PROG_TYPE_TRACING (the process's own
# program fd tells, else bpftool). Iterators are not hooks: left out.
bpf_hooks() {
	python3 - "$1" <<'PYEOF'
import json, os, subprocess, sys
d = f"/proc/{sys.argv[1]}/fdinfo"
links, prog_type = [], {}
for fd in os.listdir(d):
    try:
        kv = {}
        for line in open(f"{d}/{fd}"):
            k, _, v = line.partition(":")
            kv[k.strip()] = v.strip()
    except OSError:
        continue
    if "link_type" in kv:
        links.append(kv)
    elif "prog_type" in kv and "prog_id" in kv:
        prog_type[kv["prog_id"]] = int(kv["prog_type"])
hooks = set()
for l in links:
    t = l["link_type"]
    if t == "raw_tracepoint":
        pt = prog_type.get(l.get("prog_id"))
        if pt is None:
            out = subprocess.run(["bpftool", "-j", "prog", "show", "id", l["prog_id"]], capture_output=True, text=True)
            pt = 26 if out.returncode == 0 and json.loads(out.stdout).get("type") == "tracing" else 17
        hooks.add(("tp_btf:" if pt == 26 else "raw_tp:") + l["tp_name"])  # 26: BPF_PROG_TYPE_TRACING
    elif t == "perf" and l.get("type") == "6" and l.get("config") == "0":
        hooks.add("perf_event")  # BPF_PERF_EVENT_EVENT, PERF_COUNT_SW_CPU_CLOCK
    elif t in ("perf", "tracing", "kprobe_multi", "uprobe_multi"):
        hooks.add(f"{t}:{l.get('type', l.get('attach_type', '?'))}")  # named so that floor refuses it
print(",".join(sorted(hooks)))
PYEOF
}

[ -n "${TESTS_LIB_FUNCTIONS_ONLY:-}" ] && return 0

set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ST=${STALLTRAP:-$ROOT/build/stalltrap}
case $ST in /*) ;; *) ST=$ROOT/$ST ;; esac
GEN=${GEN:-$ROOT/build/e2e/gen_capture}
WL=$ROOT/build/workloads
ARTIFACTS=${ARTIFACTS:-build/test-artifacts}
TMP=$(mktemp -d /tmp/stalltrap-test.XXXXXX)
PIDS_TO_KILL=()
cleanup() {
	for p in "${PIDS_TO_KILL[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok   $*"; }

# need_bins BIN...: these must be built
need_bins() {
	local bin
	for bin in "$@"; do [ -x "$bin" ] || fail "$bin is missing: run make"; done
}

# Tests that need root skip with exit 77 (tests/run.sh counts them as skipped).
require_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "skip: $(basename "$0") needs root (BPF)"
		exit 77
	fi
}

# jq_val FILE FILTER: one value from a JSON file
jq_val() { jq -r "$2" "$1"; }

# expect_exit CODE PATTERN CMD...: runs CMD, checks exit status and one stderr line matching PATTERN
expect_exit() {
	local want=$1 pat=$2 rc=0; shift 2
	"$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
	[ "$rc" -eq "$want" ] || fail "'$*' exited $rc, want $want (stderr: $(head -c 300 "$TMP/err"))"
	grep -qE -e "$pat" "$TMP/err" || fail "'$*' stderr does not match /$pat/: $(head -c 300 "$TMP/err")"
	[ "$(wc -l <"$TMP/err")" -le 2 ] || fail "'$*' printed more than a line or two on stderr"
}

# wait_for_file FILE TIMEOUT_S
wait_for_file() {
	poll_until 0.05 "$2" test -e "$1" || fail "timed out waiting for $1"
}

# wait_until TIMEOUT_S DESCRIPTION CMD...: polls CMD every 0.1 s until it succeeds
wait_until() {
	local t=$1 what=$2; shift 2
	poll_until 0.1 "$t" "$@" || fail "timed out after ${t}s waiting for $what"
}

# wait_attached PID [ERRFILE]: waits until stalltrap (pid PID) reports on stderr
# (ERRFILE, default $TMP/st.err) that it has attached its BPF programs and
# seeded the blocks already in progress: its "capture: PATH path..." line,
# printed once every program is attached. Bounded by 10 s (times
# TEST_TIMEOUT_SCALE: attaching takes 4-6 s under emulation, 0.3 s natively).
wait_attached() {
	local st=$1 err=${2:-$TMP/st.err} i n
	n=$((200 * ${TEST_TIMEOUT_SCALE:-1}))
	for ((i = 0; i < n; i++)); do
		grep -qE '^capture: [a-z_]+ path' "$err" 2>/dev/null && return 0
		kill -0 "$st" 2>/dev/null || fail "stalltrap exited before attaching: $(cat "$err" 2>/dev/null)"
		sleep 0.05
	done
	fail "stalltrap did not attach within $((n / 20)) s: $(cat "$err" 2>/dev/null)"
}
