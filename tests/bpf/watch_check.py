#!/usr/bin/env python3
"""watch_check.py: reads an incident's capture.jsonl.gz and prints facts the watch tests assert on.

Usage: watch_check.py INCIDENT_DIR FRAME
Prints one JSON object: the trigger instant, the window, and every block whose
user stack holds FRAME: its thread, start relative to the trigger, duration.
"""
import gzip
import json
import sys


def main():
    d, frame = sys.argv[1], sys.argv[2]
    frames, stacks, threads, blocks = [], [], [], []
    header = None
    with gzip.open(d + "/capture.jsonl.gz", "rt") as f:
        for line in f:
            r = json.loads(line)
            t = r["t"]
            if t == "header":
                header = r
            elif t == "frame":
                frames.append(r["name"])
            elif t == "stack":
                stacks.append(r["frames"])
            elif t == "thread":
                threads.append(r)
            elif t == "block":
                blocks.append(r)
    w = header["window"]
    trig = w["trigger_mono_ns"]
    out = {"trigger_mono_ns": trig, "start_mono_ns": w["start_mono_ns"],
           "duration_ns": w["duration_ns"], "blocks": []}
    for b in blocks:
        us = b.get("ustack")
        if us is None or not any(frames[i] == frame for i in stacks[us]):
            continue
        th = threads[b["thread"]]
        out["blocks"].append({"tid": th["tid"], "start_s": (b["start_ns"] - trig) / 1e9,
                              "start_mono_s": b["start_ns"] / 1e9, "dur_s": b["dur_ns"] / 1e9,
                              "in_progress": b.get("in_progress", False)})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
