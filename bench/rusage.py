#!/usr/bin/env python3
"""rusage.py: runs a command and records its CPU time and peak memory, including what happens just before it exits.

usage: rusage.py --out JSON [--pid-file FILE] [--sample-ms 20] -- COMMAND [ARGS...]

Writes the child's pid to --pid-file as soon as it runs, forwards SIGINT and
SIGTERM to it, samples its /proc/PID/status every --sample-ms, and when it
exits writes
  {"rc": N, "utime_s": X, "stime_s": X, "wall_s": X,
   "vmhwm_kb": N, "vmrss_max_kb": N, "samples": N}
to --out: CPU from getrusage(RUSAGE_CHILDREN); vmhwm_kb is the last VmHWM
seen (the peak RSS since exec, short of growth in the last sample period).
ru_maxrss is not used: it keeps the pre-exec size of the forking parent
(this Python process, ~14 MB). Exits with the child's status.
"""
import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time


def sample(pid, period_s, acc, stop):
    """Keeps the last VmHWM and the largest VmRSS of pid until stop is set."""
    path = f"/proc/{pid}/status"
    while not stop.is_set():
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        acc["vmhwm_kb"] = int(line.split()[1])
                    elif line.startswith("VmRSS:"):
                        acc["vmrss_max_kb"] = max(acc["vmrss_max_kb"], int(line.split()[1]))
            acc["samples"] += 1
        except (OSError, ValueError, IndexError):
            pass
        stop.wait(period_s)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--pid-file")
    ap.add_argument("--sample-ms", type=float, default=20.0)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        ap.error("no command")

    t0 = time.monotonic()
    child = subprocess.Popen(cmd)
    if a.pid_file:
        with open(a.pid_file + ".tmp", "w") as f:
            f.write(f"{child.pid}\n")
        # Renamed into place so a reader never sees a half-written pid.
        os.rename(a.pid_file + ".tmp", a.pid_file)

    def forward(sig, _frame):
        child.send_signal(sig)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    acc = {"vmhwm_kb": 0, "vmrss_max_kb": 0, "samples": 0}
    stop = threading.Event()
    th = threading.Thread(target=sample, args=(child.pid, a.sample_ms / 1000.0, acc, stop), daemon=True)
    th.start()
    rc = child.wait()
    stop.set()
    th.join()
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(a.out, "w") as f:
        json.dump({"rc": rc, "utime_s": ru.ru_utime, "stime_s": ru.ru_stime,
                   "wall_s": round(time.monotonic() - t0, 3), **acc}, f)
        f.write("\n")
    sys.exit(rc if rc >= 0 else 128 - rc)


if __name__ == "__main__":
    main()
