#!/usr/bin/env python3
"""Compares two tuning databases of the same problems, e.g. a `qgemm tune --devices 0,1,...` run
against a one-GPU run (issue 18): every entry of each file exactly once, the same problems in
both, and winners that agree within noise (the same kernel, or medians within --tolerance).
Exit status 0 when they agree, 1 when not, 2 on bad input. Standard library only.
  tune_agree.py A.json B.json [--tolerance 0.05]"""
import argparse
import json
import sys
from collections import Counter

# An entry's value fields; every other field is part of the problem's key.
VALUE_FIELDS = {"kernel", "median_us", "p20_us", "p80_us", "rel_error", "tuned_at", "catalog_hash"}


def key_of(e):
    return tuple(sorted((k, json.dumps(v)) for k, v in e.items() if k not in VALUE_FIELDS))


def label(key):
    d = {k: json.loads(v) for k, v in key}
    return f"{d.get('scheme')} N={d.get('n')} K={d.get('k')} M={d.get('m_bucket')}"


def load_entries(path):
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise ValueError(f"{path}: not a qgemm tuning database (no 'entries' list)")
    return data["entries"]


def compare(a, b, tolerance=0.05):
    """Lines of findings and whether the two entry lists agree."""
    lines, ok = [], True
    for name, entries in (("A", a), ("B", b)):
        dup = [k for k, c in Counter(key_of(e) for e in entries).items() if c > 1]
        for k in dup:
            lines.append(f"{name} has {label(k)} more than once")
        ok &= not dup
    ka = {key_of(e): e for e in a}
    kb = {key_of(e): e for e in b}
    for name, mine, other in (("A", ka, kb), ("B", kb, ka)):
        for k in sorted(set(mine) - set(other)):
            lines.append(f"only in {name}: {label(k)}")
            ok = False
    same = differ_ok = 0
    for k in sorted(set(ka) & set(kb)):
        ea, eb = ka[k], kb[k]
        if ea["kernel"] == eb["kernel"]:
            same += 1
            continue
        ratio = ea["median_us"] / eb["median_us"]
        if abs(ratio - 1) <= tolerance:
            differ_ok += 1
            continue
        ok = False
        lines.append(f"disagree: {label(k)}: A {ea['kernel']} {ea['median_us']:.2f} us, "
                     f"B {eb['kernel']} {eb['median_us']:.2f} us ({ratio:.2f}x)")
    lines.append(f"{len(ka)} and {len(kb)} problems; {same} same kernel, {differ_ok} other kernel "
                 f"within {100 * tolerance:.0f}%: {'agree' if ok else 'DO NOT AGREE'}")
    return lines, ok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--tolerance", type=float, default=0.05,
                    help="relative median difference that still agrees (default 0.05)")
    args = ap.parse_args(argv)
    try:
        a, b = load_entries(args.a), load_entries(args.b)
    except (OSError, ValueError) as e:
        print(f"tune_agree.py: {e}", file=sys.stderr)
        return 2
    lines, ok = compare(a, b, args.tolerance)
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
