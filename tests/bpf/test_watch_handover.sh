#!/bin/bash
# test_watch_handover.sh: the recorder's restart at an incident's end leaves no gap
# in capture and no wait twice. The next generation attaches before the old one
# stops; a second incident whose window spans that handover must show the load
# thread's waits (one every 20 ms) without a hole and without duplicates.
source "$(dirname "$0")/watch_lib.sh"
require_root

start_svc --load 50
start_watch --pid "$SVC_PID" --metrics-url "http://127.0.0.1:$SVC_PORT/metrics" \
	--metric freezesvc_request_duration_seconds --threshold 5s --interval 250ms \
	--before 6s --window 1s --cooldown 0 --baseline 2s
sleep 2
kill -USR1 "$WATCH_PID"
wait_until 30 "incident 1" incident_count_is 1
grep -q 'recorder restarted in .*no gap' "$TMP/watch.log" || fail "no handover logged at the incident's end"
sleep 1
kill -USR1 "$WATCH_PID"
wait_until 30 "incident 2" incident_count_is 2

mapfile -t dirs < <(incidents)
first=${dirs[0]} second=${dirs[1]}
python3 tests/bpf/watch_check.py "$first" load_main >"$TMP/i1.json" || fail "cannot read incident 1"
python3 tests/bpf/watch_check.py "$second" load_main >"$TMP/i2.json" || fail "cannot read incident 2"
python3 - "$TMP/i1.json" "$TMP/i2.json" <<'PY' || fail "see above"
import json, sys
i1, i2 = (json.load(open(p)) for p in sys.argv[1:3])
handover = (i1["start_mono_ns"] + i1["duration_ns"]) / 1e9          # incident 1 ended, the recorder restarted
ws = i2["start_mono_ns"] / 1e9
we = ws + i2["duration_ns"] / 1e9
if not ws + 0.5 < handover < we - 0.5:
    sys.exit(f"incident 2 [{ws:.2f}, {we:.2f}] does not span the handover at {handover:.2f}")
bl = sorted(i2["blocks"], key=lambda b: b["start_mono_s"])
if len(bl) < 100:
    sys.exit(f"only {len(bl)} waits of the load thread in incident 2")
seen = set()
for b in bl:
    key = (b["tid"], round(b["start_mono_s"], 4))
    if key in seen:
        sys.exit(f"a wait appears twice: tid {b['tid']} at {b['start_mono_s']:.4f}")
    seen.add(key)
worst, at = 0.0, 0.0
for a, b in zip(bl, bl[1:]):
    if b["start_mono_s"] < a["start_mono_s"] + a["dur_s"] - 1e-4:
        sys.exit(f"two waits of one thread overlap: {a} and {b}, handover {handover:.4f}")
    gap = b["start_mono_s"] - (a["start_mono_s"] + a["dur_s"])
    if gap > worst:
        worst, at = gap, b["start_mono_s"]
print(f"largest hole between the load thread's waits: {worst * 1000:.1f} ms at {at - handover:+.3f} s from the handover")
if worst > 0.1:
    sys.exit(f"a {worst * 1000:.0f} ms hole in capture at {at - handover:+.3f} s from the handover")
PY
ok "no hole and no duplicate across the recorder's handover ($(grep -o 'recorder restarted in [0-9]* ms' "$TMP/watch.log" | head -1))"
stop_watch
