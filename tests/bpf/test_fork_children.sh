#!/bin/bash
# test_fork_children.sh: the short-lived children of a fork-per-connection
# server (PostgreSQL's backends, a preforking daemon's workers) get
# symbolized user stacks even when they are gone before record's user space
# reads their /proc/PID/maps: a child forked without exec has its parent's
# address space, so it takes the parent's mappings (seen in
# test_server_postgres: a backend that lived 100 ms while the capture was
# starting had every stack "[user stack unsymbolized: maps unavailable]").
# forkserve forks 60 children one after another, each sleeps 3 ms in
# child_wait_for_client() and exits; record --pid of the parent follows them.
source "$(dirname "$0")/../lib.sh"
require_root
need_bins "$ST" "$WL/forkserve"

"$WL/forkserve" --children 60 --wait-ms 3 --gap-ms 10 --start-after "$TMP/go" >"$TMP/fs.json" &
fs=$!; PIDS_TO_KILL+=($fs)
"$ST" record --pid "$fs" --duration 3s --out "$TMP/out" >"$TMP/summary" 2>"$TMP/err" &
st=$!; PIDS_TO_KILL+=($st)
wait_attached "$st" "$TMP/err"
touch "$TMP/go"
wait "$fs" || fail "forkserve failed"
wait "$st" || fail "record failed: $(cat "$TMP/err")"

python3 - "$TMP/out/capture.jsonl.gz" "$TMP/out/report.json" "$fs" <<'PY' || fail "the children's stacks (above)"
import gzip, json, sys
path, report, parent = sys.argv[1], sys.argv[2], int(sys.argv[3])
frames, stacks, threads, blocks = [], [], [], []
for o in map(json.loads, gzip.open(path, "rt")):
    {"frame": frames, "stack": stacks, "thread": threads, "block": blocks}.get(o["t"], []).append(o)
children = {i for i, t in enumerate(threads) if t["pid"] != parent}
# sleeps: a child waiting for a CPU (runnable: preempted, or just forked on
# a loaded machine) can be anywhere, its nanosleep only sleeping
waits = [b for b in blocks if b["thread"] in children and b["dur_ns"] >= 2_000_000 and b["state"] != "runnable"]
named = [b for b in waits if any(frames[f].get("name") == "child_wait_for_client"
                                 for f in stacks[b["ustack"]]["frames"])]
r = json.load(open(report))
unavail = r["drops"]["maps_unavailable"]
print(f"{len(children)} children recorded, {len(waits)} sleeps of theirs >= 2 ms, "
      f"{len(named)} with child_wait_for_client in the user stack; maps_unavailable {unavail}, "
      f"maps_inherited {r['capture'].get('maps_inherited')}")
sys.exit(0 if len(children) >= 30 and len(waits) >= 30 and len(named) == len(waits) and unavail == 0 else 1)
PY
ok "every recorded wait of the forked children has its user stack symbolized"
