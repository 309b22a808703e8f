#!/usr/bin/env python3
"""check_truth.py: compares a stalltrap report.json with the truth written by the offcpu_truth workload.

usage: check_truth.py REPORT_JSON TRUTH_JSON [--tolerance-pct 2] [--min-complete-pct 95]
                      [--min-block-ms MS] [--allow-drops] [--markdown] [--json FILE]

Per blocking function of the truth (block_nanosleep, block_pipe_read, ...):
  recorded  sum of offcpu_ms of the report's stacks whose user frames contain
            the function;
  truth     the workload's own measurement of the same blocks, counting only
            blocks >= --min-block-ms (default: the report's own min-block if
            it states one, else 1 ms), since shorter ones are not stacks;
  error     (recorded - truth) / truth; it must be within --tolerance-pct,
            plus the total of the blocks within 5 % of the threshold, which
            may honestly fall on either side of it;
  complete  share of the truth whose stack holds the whole expected chain
            (start_thread -> worker_X -> block_X) as consecutive user frames,
            root first; it must reach --min-complete-pct.
Drops (the report's "drops" counters) must all be 0 unless --allow-drops;
counters named outside_* count stacks lost of threads outside the target
(a short-lived waker's process gone before its maps could be read), and
waker_missing counts sleeps whose waker was not seen (a cause lost, not
off-CPU time): they are printed but do not touch the target's profile, so
they do not fail it.
Also shown, not judged: thread_ms, the report's per-thread off-CPU time of the
function's worker threads (truth tids), and what it holds beyond the truth and
the workers' start-gate wait (the truth's gate_wait_ms; for older truth files,
window.start to gate_open_unix_s): about 0 whatever the unwinder does, so it
separates timing errors from attribution errors.

Prints the per-function figures on stdout. Exit 0 when every goal holds;
1 with one line "check_truth: FAIL: ..." on stderr when one does not;
2 when the input cannot be read.
"""
import argparse
import datetime
import json
import re
import sys

KERNEL_SUFFIX = "_[k]"
# Annotations a renderer may add to a user frame: "mod`fn", "fn+0x1a",
# "fn (inlined)", "fn [mod]", "fn_[u]"/"fn_[i]".
_ANNOT_SUFFIX = re.compile(r"_\[[a-z]\]$")
_CUT = re.compile(r"[ +(\[]")


def user_frame_name(frame):
    """The bare function name of a user frame, or None for a kernel frame."""
    if not isinstance(frame, str):
        return None
    s = frame.strip()
    if s.endswith(KERNEL_SUFFIX):
        return None
    s = _ANNOT_SUFFIX.sub("", s)
    if "`" in s:
        s = s.rsplit("`", 1)[1]
    return _CUT.split(s, 1)[0]


def has_chain(frames, chain):
    """True when chain appears as consecutive entries of frames."""
    n = len(chain)
    return any(frames[i:i + n] == chain for i in range(len(frames) - n + 1))


def report_min_block_ms(report):
    for holder in (report, report.get("window") or {}, report.get("capture") or {}):
        if not isinstance(holder, dict):
            continue
        if isinstance(holder.get("min_block_ms"), (int, float)):
            return float(holder["min_block_ms"])
        if isinstance(holder.get("min_block_ns"), (int, float)):
            return holder["min_block_ns"] / 1e6
    return None


def gate_wait_ms(report, truth):
    """ms from the start of the capture window to the workload's start gate,
    which every worker spends off-CPU in wait_start(); None if unknown."""
    start = (report.get("window") or {}).get("start")
    gate = truth.get("gate_open_unix_s")
    if not isinstance(start, str) or not isinstance(gate, (int, float)):
        return None
    try:
        t = datetime.datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, (gate - t.timestamp()) * 1000.0)


def load(path, what):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        print(f"check_truth: cannot read {what} {path}: {e}", file=sys.stderr)
        sys.exit(2)


def evaluate(report, truth, min_block_ms):
    """Returns {function: figures} for every function of the truth."""
    stacks = report.get("stacks") or []
    gate_ms = gate_wait_ms(report, truth)
    thread_ms = {}
    for t in report.get("threads") or []:
        if isinstance(t, dict) and isinstance(t.get("tid"), int):
            thread_ms[t["tid"]] = float(t.get("offcpu_ms") or 0.0)
    names = []
    for st in stacks:
        names.append([n for n in (user_frame_name(f) for f in st.get("frames") or []) if n])
    min_us = min_block_ms * 1000.0
    out = {}
    for fn, t in sorted((truth.get("functions") or {}).items()):
        blocks = t.get("blocks_us")
        if blocks is not None:
            kept = [b for b in blocks if b >= min_us]
            truth_ms = sum(kept) / 1000.0
            truth_count = len(kept)
            border_ms = sum(b for b in blocks if 0.95 * min_us <= b <= 1.05 * min_us) / 1000.0
        else:
            truth_ms, truth_count, border_ms = float(t.get("ms", 0.0)), int(t.get("count", 0)), 0.0
        chain = (truth.get("chains") or {}).get(fn) or [fn]
        rec_ms = complete_ms = 0.0
        rec_count = 0
        by_ustack = {}
        for st, fr in zip(stacks, names):
            if fn not in fr:
                continue
            ms = float(st.get("offcpu_ms") or 0.0)
            rec_ms += ms
            rec_count += int(st.get("count") or 0)
            kind = st.get("user_stack") or "?"
            by_ustack[kind] = by_ustack.get(kind, 0.0) + ms
            if has_chain(fr, chain):
                complete_ms += ms
        err_pct = (rec_ms - truth_ms) / truth_ms * 100.0 if truth_ms > 0 else (0.0 if rec_ms == 0 else float("inf"))
        complete_pct = min(100.0, complete_ms / truth_ms * 100.0) if truth_ms > 0 else 100.0
        tids = [x for x in t.get("tids") or [] if isinstance(x, int)]
        # The workers' whole off-CPU time as the report counts it per thread:
        # at least the truth, plus the start gate and (mutex) turn waits.
        # Below the truth means blocks were lost, not just misattributed.
        thr_ms = sum(thread_ms[x] for x in tids if x in thread_ms) if tids and thread_ms else None
        # What the per-thread totals hold beyond the truth and the gate wait:
        # ~0 for nanosleep, pipe and condvar workers (the mutex worker also
        # waits for its turn). Independent of unwinding and symbols.
        unexplained = None
        if thr_ms is not None and isinstance(t.get("gate_wait_ms"), (int, float)):
            unexplained = thr_ms - truth_ms - t["gate_wait_ms"]
        elif thr_ms is not None and gate_ms is not None:
            unexplained = thr_ms - truth_ms - gate_ms * len(tids)
        out[fn] = {
            "truth_ms": round(truth_ms, 3),
            "thread_ms": None if thr_ms is None else round(thr_ms, 3),
            "thread_unexplained_ms": None if unexplained is None else round(unexplained, 3),
            "truth_count": truth_count,
            "recorded_ms": round(rec_ms, 3),
            "recorded_count": rec_count,
            "error_pct": round(err_pct, 3),
            "borderline_ms": round(border_ms, 3),
            "complete_ms": round(complete_ms, 3),
            "complete_pct": round(complete_pct, 2),
            "ms_by_user_stack": {k: round(v, 3) for k, v in sorted(by_ustack.items())},
            "chain": chain,
        }
    return out, gate_ms


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report")
    ap.add_argument("truth")
    ap.add_argument("--tolerance-pct", type=float, default=2.0)
    ap.add_argument("--min-complete-pct", type=float, default=95.0)
    ap.add_argument("--min-block-ms", type=float, default=None,
                    help="threshold the report used (default: the report's own, else 1)")
    ap.add_argument("--allow-drops", action="store_true")
    ap.add_argument("--markdown", action="store_true", help="print the figures as a markdown table")
    ap.add_argument("--json", metavar="FILE", help="also write the figures and verdicts as JSON")
    a = ap.parse_args()

    report = load(a.report, "report")
    truth = load(a.truth, "truth")
    if not isinstance(report, dict) or not isinstance(report.get("stacks"), list):
        print(f"check_truth: {a.report} has no \"stacks\" list", file=sys.stderr)
        sys.exit(2)
    if not isinstance(truth, dict) or not isinstance(truth.get("functions"), dict):
        print(f"check_truth: {a.truth} has no \"functions\" object", file=sys.stderr)
        sys.exit(2)

    min_block_ms = a.min_block_ms
    if min_block_ms is None:
        min_block_ms = report_min_block_ms(report)
    if min_block_ms is None:
        min_block_ms = 1.0

    figs, gate_ms = evaluate(report, truth, min_block_ms)
    failures = []

    pids = ((report.get("target") or {}).get("pids")) or []
    if truth.get("pid") is not None and pids and truth["pid"] not in pids:
        failures.append(f"report targets pids {pids}, truth is pid {truth['pid']}")

    for fn, f in figs.items():
        allowed = a.tolerance_pct / 100.0 * f["truth_ms"] + f["borderline_ms"]
        f["exact_ok"] = abs(f["recorded_ms"] - f["truth_ms"]) <= allowed
        f["complete_ok"] = f["complete_pct"] >= a.min_complete_pct
        if not f["exact_ok"]:
            failures.append(f"{fn} off-CPU {f['recorded_ms']:.1f} ms vs truth {f['truth_ms']:.1f} ms "
                            f"({f['error_pct']:+.2f} %, limit ±{a.tolerance_pct:g} %)")
        if not f["complete_ok"]:
            failures.append(f"{fn} complete chain for {f['complete_pct']:.1f} % of its time "
                            f"(goal {a.min_complete_pct:g} %)")

    drops = report.get("drops") or {}
    nonzero = {k: v for k, v in drops.items() if isinstance(v, (int, float)) and v}
    drops_total = sum(nonzero.values())
    if any(not k.startswith("outside_") and k != "waker_missing" for k in nonzero) and not a.allow_drops:
        failures.append("drops: " + ", ".join(f"{k}={v}" for k, v in sorted(nonzero.items())))

    if a.markdown:
        print("| function | truth ms | recorded ms | error % | blocks truth/rec | complete % "
              "| user stacks (ms) | worker thread ms | thread ms - truth - gate |")
        print("|---|---:|---:|---:|---:|---:|---|---:|---:|")
        for fn, f in figs.items():
            us = ", ".join(f"{k} {v:.0f}" for k, v in f["ms_by_user_stack"].items()) or "-"
            th = "-" if f["thread_ms"] is None else f"{f['thread_ms']:.1f}"
            ux = "-" if f["thread_unexplained_ms"] is None else f"{f['thread_unexplained_ms']:+.1f}"
            print(f"| {fn} | {f['truth_ms']:.1f} | {f['recorded_ms']:.1f} | {f['error_pct']:+.2f} | "
                  f"{f['truth_count']}/{f['recorded_count']} | {f['complete_pct']:.1f} | {us} | {th} | {ux} |")
        print(f"\ndrops: {drops_total:g}" + (f" ({nonzero})" if nonzero else "") +
              f"; min-block {min_block_ms:g} ms" +
              ("" if gate_ms is None else f"; start gate opened {gate_ms:.1f} ms into the window"))
    else:
        print(f"{'function':<18} {'truth_ms':>10} {'rec_ms':>10} {'err%':>7} {'n_truth':>7} "
              f"{'n_rec':>6} {'complete%':>9} {'thread_ms':>10} {'unexpl_ms':>9}  user stacks")
        for fn, f in figs.items():
            us = ", ".join(f"{k}={v:.0f}ms" for k, v in f["ms_by_user_stack"].items()) or "-"
            th = "-" if f["thread_ms"] is None else f"{f['thread_ms']:.1f}"
            ux = "-" if f["thread_unexplained_ms"] is None else f"{f['thread_unexplained_ms']:+.1f}"
            print(f"{fn:<18} {f['truth_ms']:>10.1f} {f['recorded_ms']:>10.1f} {f['error_pct']:>+7.2f} "
                  f"{f['truth_count']:>7} {f['recorded_count']:>6} {f['complete_pct']:>9.1f} {th:>10} {ux:>9}  {us}")
        print(f"drops {drops_total:g}{' ' + str(nonzero) if nonzero else ''}; min-block {min_block_ms:g} ms"
              + ("" if gate_ms is None else f"; start gate opened {gate_ms:.1f} ms into the window"))

    if a.json:
        with open(a.json, "w") as f:
            json.dump({"min_block_ms": min_block_ms, "gate_wait_ms": gate_ms, "functions": figs, "drops": drops,
                       "drops_total": drops_total, "failures": failures,
                       "exact_ok": all(f["exact_ok"] for f in figs.values()),
                       "complete_ok": all(f["complete_ok"] for f in figs.values()),
                       "drops_ok": drops_total == 0}, f, indent=1)
            f.write("\n")

    if failures:
        print("check_truth: FAIL: " + "; ".join(failures), file=sys.stderr)
        sys.exit(1)
    print("check_truth: PASS")


if __name__ == "__main__":
    main()
