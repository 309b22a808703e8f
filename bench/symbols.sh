#!/usr/bin/env bash
# bench/symbols.sh: what naming a stripped binary's frames through debuginfod costs after the window.
#
# usage: bench/symbols.sh [--runs N] [--functions N]
# Builds tests/bpf/symbols_app.c with N extra generated functions (default
# 20000, so that its debug file is megabytes, not kilobytes), strips it, splits
# its debug info off and serves that from a real debuginfod on loopback. Then,
# --runs times (default 3), three `stalltrap record --duration 1s` of it side
# by side: without DEBUGINFOD_URLS (the baseline: frames stay [app+0x...]),
# cold (an empty DEBUGINFOD_CACHE_PATH: the file comes over HTTP) and warm
# (the cache the cold run filled: no network). Prints, as medians, the
# lookup's own time (report.json capture.symbols_lookup_ns) and what record
# takes after its window (wall time minus the window: the delay of the
# verdict), with the ratios to the baseline.
# Goal: a warm lookup (lookup and renaming) < 100 ms. The time after the
# window is shown for scale: on these shared VMs it varies by a few hundred
# ms from run to run, more than the lookups cost.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

RUNS=3
FUNCS=20000
while [ $# -gt 0 ]; do
	case $1 in
	--runs) RUNS=$2; shift ;;
	--functions) FUNCS=$2; shift ;;
	-h|--help) sed -n '2,15p' "$0"; exit 0 ;;
	*) die "unknown argument $1" ;;
	esac
	shift
done
need_root
need_cmd python3 jq gcc objcopy strip debuginfod curl bc
need_stalltrap

# ---- the binary and its server ----
mkdir -p "$WORK/bin" "$WORK/srv"
python3 - "$FUNCS" >"$WORK/extra.c" <<'EOF'
import sys
n = int(sys.argv[1])
print("volatile unsigned long bench_sink;")
for i in range(n):
    print(f"static __attribute__((noinline, used)) void bench_fn_{i}(unsigned long x) {{ bench_sink += x * {i + 1}; }}")
print("void (*const bench_table[])(unsigned long) = {")
print(",".join(f"bench_fn_{i}" for i in range(n)) if n else "0")
print("};")
EOF
echo "building the binary ($FUNCS extra functions)..." >&2
gcc -O2 -g -Wl,--build-id -o "$WORK/app.full" "$ROOT/tests/bpf/symbols_app.c" "$WORK/extra.c" ||
	die "cannot build the test binary"
objcopy --only-keep-debug "$WORK/app.full" "$WORK/srv/app.debug"
strip --strip-all -o "$WORK/bin/app" "$WORK/app.full"
objcopy --add-gnu-debuglink="$WORK/srv/app.debug" "$WORK/bin/app"
bid=$(readelf -n "$WORK/bin/app" | awk '/Build ID/ { print $3 }')
debug_kib=$(( $(stat -c %s "$WORK/srv/app.debug") / 1024 ))
port=$(free_port)
debuginfod -p "$port" -d "$WORK/db.sqlite" -F "$WORK/srv" >"$WORK/debuginfod.log" 2>&1 </dev/null &
BG_PIDS+=("$!")
url=http://127.0.0.1:$port
poll_until 0.1 60 curl -sf -o /dev/null "$url/buildid/$bid/debuginfo" || die "debuginfod did not serve $bid"
"$WORK/bin/app" >"$WORK/app.pid" 2>/dev/null &
app=$!
BG_PIDS+=("$app")
wait_file "$WORK/app.pid" 5

# run NAME CACHE [URL]: one record; prints "lookup_ms after_ms found"
run() {
	local name=$1 cache=$2 u=${3:-} s e win
	s=$(date +%s.%N)
	env -u DEBUGINFOD_URLS DEBUGINFOD_CACHE_PATH="$cache" ${u:+DEBUGINFOD_URLS=$u} \
		"$ST" record --pid "$app" --duration 1s --out "$WORK/$name" >/dev/null 2>"$WORK/$name.err" ||
		die "record $name failed: $(cat "$WORK/$name.err")"
	e=$(date +%s.%N)
	win=$(jq -r '.window.duration_s' "$WORK/$name/report.json")
	echo "$(jq -r '(.capture.symbols_lookup_ns // 0) / 1e6' "$WORK/$name/report.json")" \
		"$(echo "($e - $s - $win) * 1000" | bc -l)" \
		"$(jq -r '.capture.symbols_found // 0' "$WORK/$name/report.json")"
}

declare -A LOOKUP AFTER
for ((r = 1; r <= RUNS; r++)); do
	echo "run $r/$RUNS..." >&2
	rm -rf "$WORK/cache"
	for kind in baseline cold warm; do
		case $kind in
		baseline) read -r l a f < <(run "base$r" "$WORK/cache-none") ;;
		cold) read -r l a f < <(run "cold$r" "$WORK/cache" "$url") ;;
		warm) read -r l a f < <(run "warm$r" "$WORK/cache" "$url") ;;
		esac
		[ "$kind" = baseline ] || [ "$f" = 1 ] || die "$kind run $r did not get the symbols: $(cat "$WORK/$kind$r.err")"
		LOOKUP[$kind]+="$l "
		AFTER[$kind]+="$a "
	done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { printf "%.1f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
bl=$(echo "${AFTER[baseline]}" | median)
echo "## symbols.sh: debuginfod lookups after the window ($RUNS runs, medians; debug file $debug_kib KiB, $FUNCS extra functions)"
echo
echo "| | lookup (ms) | record after its window (ms) | ratio to baseline |"
echo "|---|---|---|---|"
for kind in baseline cold warm; do
	lk=$(echo "${LOOKUP[$kind]}" | median)
	af=$(echo "${AFTER[$kind]}" | median)
	echo "| $kind | $lk | $af | $(echo "scale=2; $af / $bl" | bc -l)x |"
done
warm=$(echo "${LOOKUP[warm]}" | median)
echo
echo "warm lookup $warm ms (goal < 100 ms)"
echo "$warm < 100" | bc | grep -q 1 || exit 1
