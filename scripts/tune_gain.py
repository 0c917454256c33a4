#!/usr/bin/env python3
"""From a `qgemm tune --verbose` log: how much the tuned choice gains over the best single fixed
kernel configuration of each scheme (geometric mean of fixed/tuned time over the problems that
configuration can run). Usage: tune_gain.py tune.log"""
import math
import re
import sys
from collections import defaultdict

cand = re.compile(r"^\s+(\S+)\s+([0-9.]+) us( \(dropped\))?")
done = re.compile(r"\] (\S+) N=(\d+) K=(\d+) M=(\d+): (\S+) ([0-9.]+) us")


def main():
    pending = {}
    problems = defaultdict(dict)  # scheme -> problem -> {variant: us}
    best = defaultdict(dict)
    for line in open(sys.argv[1], errors="replace"):
        m = cand.match(line)
        if m:
            pending[m.group(1)] = float(m.group(2))
            continue
        m = done.search(line)
        if m:
            scheme, key = m.group(1), (m.group(2), m.group(3), m.group(4))
            problems[scheme][key] = dict(pending)
            best[scheme][key] = float(m.group(6))
            pending = {}
    print("| scheme | problems | best fixed config | covers | geomean speedup of tuned |")
    print("|---|---|---|---|---|")
    for scheme, probs in problems.items():
        variants = defaultdict(dict)
        for key, times in probs.items():
            for v, t in times.items():
                variants[v][key] = t
        ranked = []
        for v, ts in variants.items():
            g = math.exp(sum(math.log(t / best[scheme][k]) for k, t in ts.items()) / len(ts))
            ranked.append((-len(ts), g, v))
        ranked.sort()
        cov, g, v = ranked[0]
        print(f"| {scheme} | {len(probs)} | {v} | {-cov} | {g:.3f}x |")


if __name__ == "__main__":
    main()
