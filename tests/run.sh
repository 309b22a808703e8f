#!/bin/bash
# run.sh: runs every test: unit tests (normal and ASan+UBSan builds), then the
# root/BPF tests. Ends with the summary line "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0
failures=()
log_dir=${TEST_LOG_DIR:-build/test-logs}
mkdir -p "$log_dir"

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

for bin in build/tests/test_*; do
	[ -x "$bin" ] && run_unit "$bin" "$(basename "$bin")"
done
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for bin in build-san/tests/test_*; do
	[ -x "$bin" ] && run_unit "$bin" "san/$(basename "$bin")"
done

# End-to-end tests: each starts its real components on loopback; exit 77 is a
# skip (e.g. not root), said in its first output line.
skipped=0
for t in tests/e2e/test_*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	start=$(date +%s)
	rc=0
	timeout 180 bash "$t" >"$log_dir/$name.log" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1)); res=ok
	elif [ "$rc" -eq 77 ]; then
		skipped=$((skipped + 1)); res="skipped: $(head -1 "$log_dir/$name.log")"
	else
		failed=$((failed + 1)); res=FAIL; failures+=("$name")
		tail -15 "$log_dir/$name.log" | sed "s|^|  $name: |"
	fi
	printf 'e2e   %-40s %s (%ds)\n' "$name" "$res" $(( $(date +%s) - start ))
done

if [ "$(id -u)" -eq 0 ]; then
	for t in tests/bpf/test_*.sh; do
		[ -f "$t" ] || continue
		name=$(basename "$t" .sh)
		start=$(date +%s)
		if timeout 300 bash "$t" >"$log_dir/$name.log" 2>&1; then
			passed=$((passed + 1)); res=ok
		else
			failed=$((failed + 1)); res=FAIL; failures+=("$name")
			tail -15 "$log_dir/$name.log" | sed "s|^|  $name: |"
		fi
		printf 'bpf   %-40s %s (%ds)\n' "$name" "$res" $(( $(date +%s) - start ))
	done
else
	echo "bpf tests skipped: they need root"
fi

if [ ${#failures[@]} -gt 0 ]; then
	echo "failed: ${failures[*]}"
fi
if [ "$skipped" -gt 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"; else echo "$passed passed, $failed failed"; fi
[ "$failed" -eq 0 ]
