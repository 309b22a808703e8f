#!/bin/bash
# run.sh: the one test runner. usage: tests/run.sh [unit|e2e|bpf|kernels|fuzz|includes|all]...
#   unit      cmocka unit tests, normal and ASan+UBSan builds (build/tests, build-san/tests)
#   e2e       end-to-end tests without root (tests/e2e/test_*.sh)
#   bpf       root tests: workloads and the watch tests that attach BPF (tests/bpf/test_*.sh)
#   kernels   root: boots Debian 12's 6.1 in qemu and runs a lean subset of bpf inside
#             (tests/kernels/run.sh; make test-kernels runs all of tests/bpf/ there)
#   fuzz      replays every committed corpus file through each fuzz target (build-san/fuzz)
#   includes  the include-graph check of src/ and its self-test (tests/check_includes*.sh)
#   all       (the default) all of these, in that order
# T=name runs only the tests whose name contains name (test_capdata, test_watch_freeze).
# Runs what is built (make builds it: make test, make test-unit, ...). Each
# script's output goes to build/test-logs/NAME.log ($TEST_LOG_DIR). Ends with
# the summary line "N passed, N failed[, N skipped]"; exits non-zero on a failure.
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0
skipped=0
failures=()
log_dir=${TEST_LOG_DIR:-build/test-logs}
filter=${T:-}
mkdir -p "$log_dir"

# selected NAME: whether T= lets this test run (T="a b": names containing a or b)
selected() {
	local w
	[ -z "$filter" ] && return 0
	for w in $filter; do [[ $1 == *"$w"* ]] && return 0; done
	return 1
}
# TEST_TIMEOUT_SCALE=N multiplies every test's time limit (emulated kernels: tests/kernels/run.sh)
scale=${TEST_TIMEOUT_SCALE:-1}

run_unit() { # binary label
	local bin=$1 label=$2 out rc p f
	out=$("$bin" 2>&1); rc=$?
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	p=${p:-0}; f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # crashed before its summary
	passed=$((passed + p)); failed=$((failed + f))
	if [ "$f" -ne 0 ]; then
		failures+=("$label")
		printf '%s\n' "$out" | grep -E 'FAILED|ERROR|Sanitizer|runtime error|Assert|assert' | head -20 | sed "s|^|  $label: |"
	fi
	printf 'unit  %-40s %3d passed %d failed\n' "$label" "$p" "$f"
}

# run_script KIND TIMEOUT_S NAME CMD...: one test, its output in the log; exit
# 77 is a skip (e.g. not root), said in its first output line.
run_script() {
	local kind=$1 limit=$2 name=$3 start rc=0 res; shift 3
	start=$(date +%s)
	timeout $((limit * scale)) "$@" >"$log_dir/$name.log" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1)); res=ok
	elif [ "$rc" -eq 77 ]; then
		skipped=$((skipped + 1)); res="skipped: $(head -1 "$log_dir/$name.log")"
	else
		failed=$((failed + 1)); res=FAIL; failures+=("$name")
		tail -15 "$log_dir/$name.log" | sed "s|^|  $name: |"
	fi
	printf '%-5s %-40s %s (%ds)\n' "$kind" "$name" "$res" $(( $(date +%s) - start ))
}

suite_unit() {
	local bin
	for bin in build/tests/test_*; do
		[ -x "$bin" ] && selected "$(basename "$bin")" && run_unit "$bin" "$(basename "$bin")"
	done
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	for bin in build-san/tests/test_*; do
		[ -x "$bin" ] && selected "$(basename "$bin")" && run_unit "$bin" "san/$(basename "$bin")"
	done
	return 0
}

# End-to-end tests: each starts its real components on loopback, without root.
suite_e2e() {
	local t name
	for t in tests/e2e/test_*.sh; do
		name=$(basename "$t" .sh)
		[ -f "$t" ] && selected "$name" && run_script e2e 180 "$name" bash "$t"
	done
	return 0
}

suite_bpf() {
	local t name
	if [ "$(id -u)" -ne 0 ]; then
		echo "bpf tests skipped: they need root"
		return 0
	fi
	for t in tests/bpf/test_*.sh; do
		name=$(basename "$t" .sh)
		[ -f "$t" ] && selected "$name" && run_script bpf 300 "$name" bash "$t"
	done
	return 0
}

# Other kernels, booted in qemu (tests/kernels/run.sh): a lean subset, to keep
# make test under ~15 min: exactness, drop accounting, and record with default
# flags naming a culprit (the mutex scenario). One test per kernel.
suite_kernels() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "kernel tests skipped: they need root"
		return 0
	fi
	selected kernels_6.1 || return 0
	run_script boot 900 kernels_6.1 env SCENARIOS=mutex \
		tests/kernels/run.sh --tests "test_exact test_drops test_scenarios"
}

# Each fuzz target's replay binary (gcc, ASan+UBSan) runs its whole committed
# corpus: one test per target.
suite_fuzz() {
	local src name corpus
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	for src in tests/fuzz/fuzz_*.c; do
		name=$(basename "$src" .c)
		corpus=tests/fuzz/corpus_${name#fuzz_}
		selected "$name" || continue
		if [ ! -x "build-san/fuzz/$name" ] || [ ! -d "$corpus" ]; then
			failed=$((failed + 1)); failures+=("$name")
			printf 'fuzz  %-40s FAIL (no build-san/fuzz/%s or no %s/: make SAN=1 all)\n' "$name" "$name" "$corpus"
			continue
		fi
		run_script fuzz 300 "$name" "build-san/fuzz/$name" "$corpus"
	done
	return 0
}

suite_includes() {
	local t name
	for t in tests/check_includes*.sh; do
		name=$(basename "$t" .sh)
		[ -f "$t" ] && selected "$name" && run_script incl 60 "$name" bash "$t"
	done
	return 0
}

[ $# -gt 0 ] || set -- all
for suite in "$@"; do
	case $suite in
	unit | e2e | bpf | kernels | fuzz | includes) "suite_$suite" ;;
	all) suite_unit; suite_e2e; suite_bpf; suite_kernels; suite_fuzz; suite_includes ;;
	*) echo "usage: tests/run.sh [unit|e2e|bpf|kernels|fuzz|includes|all]... (T=name filters)" >&2; exit 2 ;;
	esac
done

if [ ${#failures[@]} -gt 0 ]; then
	echo "failed: ${failures[*]}"
fi
if [ "$skipped" -gt 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"; else echo "$passed passed, $failed failed"; fi
[ "$failed" -eq 0 ]
