#!/bin/bash
# test_seed.sh: waits already in progress when a capture starts ("began_before",
# seeded by the task iterator) get their start right, on every CPU.
# The seed reads the scheduler's clocks; the per-CPU clock_task leaves out IRQ
# and steal time, so comparing one CPU's with another's was off by ~275 ms in
# these VMs. Eight threads, pinned to alternate CPUs, note CLOCK_MONOTONIC and
# sleep; record starts a second later; each seeded start must be within 10 ms
# (a scheduler tick is 4 ms here) of the noted one, plus the time the
# hypervisor stole from its CPU (and interrupts took) meanwhile, which the
# task clock leaves out (/proc/stat, read before and after: on a noisy host
# that was 10-160 ms; README "Not done yet" states the limit).
source "$(dirname "$0")/../lib.sh"

ncpu=$(nproc)
cat >"$TMP/sleeper.py" <<'PY'
import json, os, sys, threading, time
ncpu, starts, lock = int(sys.argv[1]), {}, threading.Lock()
def sleeper(i):
    os.sched_setaffinity(0, {i % ncpu})
    time.sleep(0.05 * i)
    with lock:
        starts[threading.get_native_id()] = time.monotonic()
    time.sleep(5)
threads = [threading.Thread(target=sleeper, args=(i,)) for i in range(8)]
for t in threads:
    t.start()
time.sleep(1)
with lock:
    print(json.dumps(starts), flush=True)
for t in threads:
    t.join()
PY
cp /proc/stat "$TMP/stat.before"
python3 "$TMP/sleeper.py" "$ncpu" >"$TMP/starts.json" & p=$!; PIDS_TO_KILL+=($p)
wait_for_file "$TMP/starts.json" 10
sleep 1.2
"$ST" record --pid $p --duration 1s --out "$TMP/rec" >/dev/null 2>"$TMP/rec.err" || fail "record failed: $(tail -2 "$TMP/rec.err")"
cp /proc/stat "$TMP/stat.after"
python3 - "$TMP/starts.json" "$TMP/rec/capture.jsonl.gz" "$TMP/stat.before" "$TMP/stat.after" "$ncpu" <<'PY' || fail "see above"
import gzip, json, os, sys
starts = {int(k): v for k, v in json.load(open(sys.argv[1])).items()}
def lost(path):  # per CPU: irq + softirq + steal, in ms
    hz, out = os.sysconf("SC_CLK_TCK"), {}
    for line in open(path):
        f = line.split()
        if f[0].startswith("cpu") and f[0] != "cpu":
            out[int(f[0][3:])] = sum(int(x) for x in f[6:9]) * 1000 / hz
    return out
before, after = lost(sys.argv[3]), lost(sys.argv[4])
stolen = {c: after[c] - before.get(c, 0) for c in after}
if len(starts) != 8:
    sys.exit(f"the sleepers did not all start: {starts}")
threads, err = [], {}
for line in gzip.open(sys.argv[2], "rt"):
    r = json.loads(line)
    if r["t"] == "thread":
        threads.append(r)
    elif r["t"] == "block" and r.get("began_before"):
        tid = threads[r["thread"]]["tid"]
        if tid in starts:
            err[tid] = (r["start_ns"] / 1e9 - starts[tid]) * 1000
if len(err) != 8:
    sys.exit(f"{len(err)} of the 8 sleeps were seeded: {sorted(err)}")
print("seeded start - noted start (ms):", " ".join(f"{e:+.2f}" for e in sorted(err.values())),
      "; irq + steal meanwhile per CPU (ms):", {c: round(v) for c, v in sorted(stolen.items())})
# the sleepers are pinned in order: the i-th to start (0.05 s apart) on CPU i % ncpu
order = sorted(starts, key=starts.get)
cpu_of = {t: i % int(sys.argv[5]) for i, t in enumerate(order)}
bad = {t: e for t, e in err.items() if e < -10 or e > 10 + stolen.get(cpu_of[t], 0)}
if bad:
    sys.exit(f"seeded starts off by more than 10 ms (late: 10 ms plus their CPU's irq + steal): "
             + ", ".join(f"tid {t}: {e:+.1f} ms (CPU {cpu_of[t]})" for t, e in bad.items()))
PY
ok "seeded starts within 10 ms, plus the time lost to interrupts and steal, on $ncpu CPUs"
