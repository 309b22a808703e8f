#!/bin/bash
# test_cgroup_join.sh: `record --cgroup` takes a process that joins the cgroup
# mid-capture as a target even when the recorder met it first as an outside
# waker (a backend forked between the first scan of the cgroup and the
# attach, waking a target before the next scan: seen in test_server_postgres,
# where the writer stayed "outside" and the lock chain broke). Here a process
# outside the cgroup wakes a target blocked opening a FIFO, then joins the
# cgroup and sleeps 1.5 s: that sleep must be recorded as a target's block,
# and its thread must not be outside.
source "$(dirname "$0")/../lib.sh"
require_root
cg_root=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$cg_root" ] || fail "no cgroup2 mount"
cg=$cg_root/stalltrap-test-join-$$
mkdir "$cg" || fail "cannot make $cg"
join_cleanup() {
	cleanup
	poll_until 0.1 5 rmdir "$cg" || echo "warning: could not remove cgroup $cg" >&2
	return 0
}
trap join_cleanup EXIT
fifo=$TMP/fifo
mkfifo "$fifo"

# the target: in the cgroup, blocked opening the FIFO for reading until a writer opens it
bash -c 'echo $$ >"$1/cgroup.procs" && exec cat "$2" >/dev/null' _ "$cg" "$fifo" &
reader=$!; PIDS_TO_KILL+=($reader)
poll_until 0.05 5 grep -qx "$reader" "$cg/cgroup.procs" || fail "the reader did not join $cg"
"$ST" record --cgroup "$cg" --duration 4s --out "$TMP/out" >"$TMP/summary" 2>"$TMP/err" &
st=$!; PIDS_TO_KILL+=($st)
wait_attached "$st" "$TMP/err"
sleep 0.3
# the joiner: wakes the reader while outside, then joins and sleeps
bash -c 'exec 3>"$2"; echo $$ >"$1/cgroup.procs" && exec sleep 1.5' _ "$cg" "$fifo" &
joiner=$!; PIDS_TO_KILL+=($joiner)
wait "$joiner" || fail "the joiner failed"
wait "$st" || fail "record failed: $(cat "$TMP/err")"

python3 - "$TMP/out/capture.jsonl.gz" "$joiner" "$reader" <<'PY' || fail "the joiner was not taken as a target (above)"
import gzip, json, sys
path, joiner, reader = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
threads, blocks = [], []
for o in map(json.loads, gzip.open(path, "rt")):
    if o["t"] == "thread":
        threads.append(o)
    elif o["t"] == "block":
        blocks.append(o)
j = [i for i, t in enumerate(threads) if t["pid"] == joiner]
r = [i for i, t in enumerate(threads) if t["pid"] == reader]
woken = [b for b in blocks if b["thread"] in r and b.get("waker") in j]
sleeps = [b for b in blocks if b["thread"] in j and b["dur_ns"] >= 1_000_000_000]
print(f"joiner threads {[threads[i] for i in j]}; the reader's waits woken by it: {len(woken)}; "
      f"its own sleeps >= 1 s: {[b['dur_ns'] // 1_000_000 for b in sleeps]} ms")
ok = bool(j) and not any(threads[i].get("outside") for i in j) and sleeps and woken
sys.exit(0 if ok else 1)
PY
ok "a process met first as an outside waker, then in the cgroup, is a target: its sleep is recorded"
