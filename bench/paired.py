"""bench/paired.py: the paired-rounds statistics that overhead.sh and busyhost.sh report (imported by their inline python)."""
import statistics
from collections import defaultdict


def load(path):
    """Reads "round config value" lines into {config: {round: value}}."""
    by_cfg = defaultdict(dict)
    with open(path) as f:
        for line in f:
            r, cfg, v = line.split()
            by_cfg[cfg][int(r)] = float(v)
    return by_cfg


def quartiles(v):
    """First and third quartiles (both the value itself for a single run)."""
    if len(v) < 2:
        return v[0], v[0]
    qs = statistics.quantiles(v, n=4, method="inclusive")
    return qs[0], qs[2]


def paired_ratios(by_cfg, cfg, base="none"):
    """Each round's value under cfg over the same round's under base: interference shared by a round cancels."""
    b = by_cfg.get(base, {})
    return [v / b[r] for r, v in by_cfg.get(cfg, {}).items() if r in b]
