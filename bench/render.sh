#!/bin/bash
# render.sh: do large profiles stay usable? 100k unique call sites through
# every renderer, the SVG's size, and the flame graph in headless Chromium.
#
# usage: bench/render.sh [--stacks 100000] [--runs 3] [--no-browser]
#
# Two made-up captures (tests/e2e/gen_capture, no root needed):
#   big   100k call sites of 8-31 frames sharing prefixes, random weights;
#   wide  the same with 600 deep stacks distinct from the root, each about
#         1.6 px wide: the flame graph's worst case for size (every pixel
#         column filled 30 levels deep).
# Goals: each picture (flamegraph.svg, timeline.svg, profile.pb.gz,
# report.html) renders in under 2 s (median of --runs); flamegraph.svg stays
# under 5 MB. Shown, not judged: profile.folded and report.json (other
# stages' files), the whole `stalltrap report`, and Chromium's load, search
# and zoom times.
set -u
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
stacks=100000
runs=3
browser=1
while [ $# -gt 0 ]; do
	case $1 in
	--stacks) stacks=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--no-browser) browser=0; shift ;;
	*) echo "render.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
GEN=$ROOT/build/e2e/gen_capture
RB=$ROOT/build/e2e/render_bench
for b in "$ST" "$GEN" "$RB"; do
	[ -x "$b" ] || { echo "render.sh: $b is missing: run make" >&2; exit 1; }
done
if [ "$browser" = 1 ] && { [ ! -x /usr/bin/chromium ] || ! command -v node > /dev/null; }; then
	echo "render.sh: no chromium or node: skipping the browser figures" >&2
	browser=0
fi
if [ "$browser" = 1 ] && [ ! -d tests/browser/node_modules/playwright-core ]; then
	(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error >&2) || browser=0
fi

fail=0
echo "## render: $stacks unique call sites (median of $runs runs)"
echo
for kind in big wide; do
	dir=$WORK/$kind
	echo "generating $kind ($stacks call sites)..." >&2
	"$GEN" --out "$dir" --kind "$kind" --stacks "$stacks" || exit 1
	"$RB" "$dir" "$runs" > "$WORK/$kind.txt" || exit 1
	# The whole command, reading the capture included.
	t=()
	for _ in $(seq "$runs"); do
		s=$(date +%s%N)
		"$ST" report "$dir" > /dev/null || exit 1
		t+=($(( ($(date +%s%N) - s) / 1000000 )))
	done
	report_ms=$(printf '%s\n' "${t[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
	frames=$(grep -o 'data-frames="[0-9]*"' "$dir/flamegraph.svg" | tr -dc 0-9)
	minw=$(grep -o 'data-min-width="[0-9.]*"' "$dir/flamegraph.svg" | sed 's/.*="\(.*\)"/\1/')
	echo "### $kind: $(awk '$1=="call_sites"{print $2}' "$WORK/$kind.txt") call sites; flame graph: $frames frames drawn, merged under $minw px"
	echo
	echo "| file | render ms | size | goal |"
	echo "|---|---:|---:|---|"
	while read -r name ms bytes; do
		case $name in call_sites) continue ;; esac
		goal="shown"
		case $name in
		flamegraph.svg|timeline.svg|profile.pb.gz|report.html)
			goal="< 2000 ms"
			if awk -v m="$ms" 'BEGIN{exit !(m >= 2000)}'; then goal="**FAIL** < 2000 ms"; fail=1; fi ;;
		esac
		if [ "$name" = flamegraph.svg ]; then
			if [ "$bytes" -ge 5000000 ]; then goal="$goal, **FAIL** < 5 MB"; fail=1; else goal="$goal, < 5 MB"; fi
		fi
		size=$(awk -v b="$bytes" 'BEGIN{ if (b == 0) print "-"; else if (b >= 1048576) printf "%.2f MiB", b/1048576; else printf "%.0f KiB", b/1024 }')
		echo "| $name | $ms | $size | $goal |"
	done < "$WORK/$kind.txt"
	echo "| \`stalltrap report\` (all of it) | $report_ms | | shown |"
	echo
	if [ "$browser" = 1 ]; then
		out=$(node tests/browser/check_report.js --dir "$dir" --artifacts "$WORK/shots-$kind" \
			--search 'Service00|hot00[0-4]' --bench 2>&1)
		timings=$(printf '%s\n' "$out" | sed -n 's/^timings //p')
		verdict=$(printf '%s\n' "$out" | tail -1)
		echo "Chromium, flamegraph.svg: $(printf '%s' "$timings" | python3 -c '
import json,sys
t=json.load(sys.stdin)
print("load %s ms, search %s ms, zoom %s ms; report.html load %s ms" % (t["flame_load_ms"], t["searchMs"], t["zoomMs"], t["html_load_ms"]))'); checks: $verdict"
		echo
	fi
done
[ "$fail" = 0 ] && echo "all goals met" || echo "some goals failed"
exit "$fail"
