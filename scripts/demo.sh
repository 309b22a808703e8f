#!/bin/bash
# demo.sh: the main job until the freeze demo lands: record a bundled workload
# whose threads block in known places, and print its top call sites.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (BPF needs it)" >&2
	exit 1
fi
out=${DEMO_OUT:-/tmp/stalltrap-demo}
rm -rf "$out"
gate=$(mktemp -u /tmp/stalltrap-demo-gate.XXXXXX)
./build/workloads/offcpu_truth --duration 6 --start-after "$gate" --truth "$out.truth.json" &
wl=$!
trap 'kill $wl 2>/dev/null || true; rm -f "$gate"' EXIT
echo "demo: recording pid $wl (offcpu_truth: threads blocking in nanosleep, a pipe, a condition variable and a mutex)"
( sleep 0.5; touch "$gate" ) &
./build/stalltrap record --pid "$wl" --duration 5s --out "$out"
echo
echo "demo: the profile is in $out: report.html (open it in a browser), flamegraph.svg, timeline.svg, profile.pb.gz (go tool pprof), profile.folded, report.json"
