#!/usr/bin/env python3
"""The peer comparison's report: reads peers.json (bench/torch_compare.py --peers) and prints the
markdown table and issue 13's targets as ratios, met or missed per point. Standard library only,
so it runs (and is tested) where there is no torch and no GPU.

peers.json is a list of rows {"scheme", "shape", "n", "k", "m", "qgemm_us", "peers": {name: us}}
(a peer that failed is absent from "peers"; its reason is under "failed", and relative errors
against the float64 product under "err", where the bench measured them).
A ratio is peer time / qgemm time: > 1 means qgemm is faster."""
import argparse
import json
import math
import sys
from dataclasses import dataclass
from typing import Callable, Optional

BF16 = "cublas-bf16"
# Peers that are qgemm itself (our dense kernels beside the 2:4 ones): never a "best peer".
OURS = ("qgemm-dense-fp8", "qgemm-dense-int8")

# The peers that compete for each scheme, in table column order: the same format first, bf16
# last. Names are those of bench/peer_catalog.py.
SCHEME_PEERS = {
    "w4a16": ["torchao-int4", "torchao-int4-tinygemm", "gemlite-a16w4", BF16],
    "w8a16": ["torchao-int8-wo", BF16],
    "w8a8-fp8": ["torchao-fp8-rowwise", "torch-scaled-mm", "gemlite-a8w8-fp8", BF16],
    "w8a8-int8": ["torchao-int8-dyn", "torch-int-mm", "gemlite-a8w8-int8", BF16],
    "w4a8-fp8": ["torchao-fp8-int4", BF16],
    "w4a8-int8": [BF16],
    "sp24-bf16": ["torchao-cusparselt", BF16],
    "sp24-fp8": ["torchao-sparse-fp8", "qgemm-dense-fp8", BF16],
    "sp24-int8": ["qgemm-dense-int8", BF16],
}


@dataclass
class Target:
    """One of issue 13's targets: at every point of `scheme` where need(m, shape) gives a
    threshold, qgemm must be at least that many times as fast as the best of `peers`."""
    title: str
    scheme: str
    peers: list
    need: Callable[[int, str], Optional[float]]
    geomean: Optional[float] = None  # and the geometric mean of the ratios at least this


def _from(m0, x):
    return lambda m, shape: x if m >= m0 else None


def _bf16_rule(m, shape):
    # ">= 1.0x up to M=256, >= 0.95x above" (the issue says "from M=1024" for W4A16: M=512 is
    # held to 0.95 too).
    if m < 64:
        return None
    return 1.0 if m <= 256 else 0.95


def _small_decode(m, shape):
    return 1.0 if m == 1 and shape.rsplit("_", 1)[-1] in ("qkv", "o") else None


TARGETS = [
    Target("W4A16 g128 >= 1.0x the best int4 peer at M >= 64, geomean >= 1.15x", "w4a16",
           ["torchao-int4", "torchao-int4-tinygemm", "gemlite-a16w4"], _from(64, 1.0), 1.15),
    Target("W4A16 g128 vs cuBLAS bf16: >= 1.0x to M=256, >= 0.95x above", "w4a16", [BF16],
           _bf16_rule),
    Target("W8A16 vs cuBLAS bf16: >= 1.0x to M=256, >= 0.95x above", "w8a16", [BF16],
           _bf16_rule),
    Target("W4A8-fp8 >= 1.0x mslk f8i4 (torchao Float8DynamicActivationInt4Weight) at M >= 64",
           "w4a8-fp8", ["torchao-fp8-int4"], _from(64, 1.0)),
    Target("2:4 fp8 >= 1.0x torchao's CUTLASS sparse fp8 at M >= 64", "sp24-fp8",
           ["torchao-sparse-fp8"], _from(64, 1.0)),
    Target("2:4 fp8 >= 1.3x our dense fp8 at M >= 1024", "sp24-fp8", ["qgemm-dense-fp8"],
           _from(1024, 1.3)),
    Target("2:4 bf16 >= 1.1x cuSPARSELt at M >= 256", "sp24-bf16", ["torchao-cusparselt"],
           _from(256, 1.1)),
    Target("2:4 int8 >= 1.3x our dense int8 at M >= 1024", "sp24-int8", ["qgemm-dense-int8"],
           _from(1024, 1.3)),
    Target("W8A8 fp8 >= 1.05x the best of torchao/_scaled_mm/gemlite at M >= 64", "w8a8-fp8",
           ["torchao-fp8-rowwise", "torch-scaled-mm", "gemlite-a8w8-fp8"], _from(64, 1.05)),
    Target("W8A8 int8 >= 1.05x the best of torchao/_int_mm/gemlite at M >= 64", "w8a8-int8",
           ["torchao-int8-dyn", "torch-int-mm", "gemlite-a8w8-int8"], _from(64, 1.05)),
    Target("decode: W4A16 M=1 on qkv and o >= 1.0x gemlite", "w4a16", ["gemlite-a16w4"],
           _small_decode),
]
DECODE_MAX_M = 32
DECODE_SLACK = 0.97  # "every M <= 32 point within 3% of today or faster"


def best_peer(row, names):
    """(name, us) of the fastest of `names` that ran on this row, or None."""
    have = [(row["peers"][p], p) for p in names if p in row.get("peers", {})]
    if not have:
        return None
    us, name = min(have)
    return name, us


def geomean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def evaluate(rows, targets=TARGETS):
    """Per target: a list of point results and the summary. A point is
    {shape, m, need, ratio, peer, peer_us, qgemm_us, met} (ratio None when no peer ran)."""
    out = []
    for t in targets:
        points = []
        for r in rows:
            if r["scheme"] != t.scheme:
                continue
            need = t.need(r["m"], r["shape"])
            if need is None:
                continue
            bp = best_peer(r, t.peers)
            p = dict(shape=r["shape"], m=r["m"], need=need, qgemm_us=r.get("qgemm_us"),
                     peer=None, peer_us=None, ratio=None, met=None)
            if bp and r.get("qgemm_us"):
                p["peer"], p["peer_us"] = bp
                p["ratio"] = bp[1] / r["qgemm_us"]
                p["met"] = p["ratio"] >= need
            points.append(p)
        ratios = [p["ratio"] for p in points if p["ratio"] is not None]
        gm = geomean(ratios) if ratios else None
        gm_met = None if t.geomean is None or gm is None else gm >= t.geomean
        out.append(dict(target=t, points=points, geomean=gm, geomean_met=gm_met))
    return out


def decode_regressions(rows, baseline_rows):
    """Points at M <= 32 present in both runs: (scheme, shape, m, old_us, new_us, ratio, met),
    ratio = old / new (qgemm's time before / now)."""
    old = {(r["scheme"], r["shape"], r["m"]): r.get("qgemm_us") for r in baseline_rows}
    res = []
    for r in rows:
        key = (r["scheme"], r["shape"], r["m"])
        if r["m"] > DECODE_MAX_M or not old.get(key) or not r.get("qgemm_us"):
            continue
        ratio = old[key] / r["qgemm_us"]
        res.append((*key, old[key], r["qgemm_us"], ratio, ratio >= DECODE_SLACK))
    return res


def _state(met):
    return {True: "met", False: "MISSED", None: "n/a"}[met]


def targets_text(rows, baseline_rows=None):
    """The targets as text lines, and (met, missed, n/a) point counts over all of them."""
    lines, met, missed, na = [], 0, 0, 0
    for res in evaluate(rows):
        t = res["target"]
        if not res["points"]:
            continue
        lines.append(f"[target] {t.title}")
        for p in res["points"]:
            if p["ratio"] is None:
                why = "no peer ran" if p["qgemm_us"] else "qgemm did not run"
                lines.append(f"  {p['shape']:12s} M={p['m']:<5d} n/a ({why})")
                na += 1
                continue
            lines.append(f"  {p['shape']:12s} M={p['m']:<5d} {p['ratio']:5.2f}x vs {p['peer']} "
                         f"({p['peer_us']:.1f} / {p['qgemm_us']:.1f} us) need >= {p['need']:.2f}x "
                         f"{_state(p['met'])}")
            met, missed = met + bool(p["met"]), missed + (not p["met"])
        if t.geomean is not None and res["geomean"] is not None:
            lines.append(f"  geomean {res['geomean']:.2f}x over "
                         f"{sum(p['ratio'] is not None for p in res['points'])} points, need >= "
                         f"{t.geomean:.2f}x {_state(res['geomean_met'])}")
            met, missed = met + bool(res["geomean_met"]), missed + (not res["geomean_met"])
    if baseline_rows is not None:
        reg = decode_regressions(rows, baseline_rows)
        lines.append(f"[target] decode does not regress: qgemm at M <= {DECODE_MAX_M} within "
                     f"{100 * (1 - DECODE_SLACK):.0f}% of the baseline run")
        for scheme, shape, m, old, new, ratio, ok in reg:
            lines.append(f"  {scheme:9s} {shape:12s} M={m:<5d} {ratio:5.2f}x ({old:.1f} -> "
                         f"{new:.1f} us) {_state(ok)}")
            met, missed = met + ok, missed + (not ok)
        if not reg:
            lines.append("  n/a (no M <= 32 point in both runs)")
    lines.append(f"targets: {met} met, {missed} missed, {na} n/a")
    return lines, (met, missed, na)


def markdown(rows, title="qgemm vs peers"):
    """One table per scheme: qgemm and every peer's median us, the best peer (bf16 and our own
    dense kernels aside) and qgemm's speed relative to it."""
    out = [f"# {title}\n", "Median us per call (CUDA graphs over weight copies rotated through "
           "> 4x L2); ratio = best peer time / qgemm time (> 1: qgemm faster); '-' = the peer did "
           "not run (see 'failed'). qgemm runs through its torch API, like torchao and gemlite: the "
           "dynamic schemes' times include quantizing the activations; torch-scaled-mm and "
           "torch-int-mm time the kernel alone. The 2:4 rows use a 2:4-pruned weight for every "
           "column (cublas-bf16 included).\n"]
    schemes = [s for s in SCHEME_PEERS if any(r["scheme"] == s for r in rows)]
    schemes += sorted({r["scheme"] for r in rows} - set(schemes))
    for s in schemes:
        srows = [r for r in rows if r["scheme"] == s]
        cols = [p for p in SCHEME_PEERS.get(s, []) if any(p in r["peers"] for r in srows)]
        cols += sorted({p for r in srows for p in r["peers"]} - set(cols))
        comp = [p for p in cols if p != BF16 and p not in OURS]
        out.append(f"## {s}\n")
        out.append("| shape | M | qgemm | " + " | ".join(cols) + " | best peer | qgemm / best |")
        out.append("|---|---|---|" + "---|" * len(cols) + "---|---|")
        for r in sorted(srows, key=lambda r: (r["shape"], r["m"])):
            q = r.get("qgemm_us")
            cells = [r["shape"], str(r["m"]), f"{q:.1f}" if q else "-"]
            cells += [f"{r['peers'][p]:.1f}" if p in r["peers"] else "-" for p in cols]
            bp = best_peer(r, comp)
            if bp and q:
                cells += [bp[0], f"{bp[1] / q:.2f}x"]
            else:
                cells += ["-", "-"]
            out.append("| " + " | ".join(cells) + " |")
        failed = sorted({f"{p}: {why}" for r in srows for p, why in r.get("failed", {}).items()})
        if failed:
            out.append("\nfailed: " + "; ".join(failed))
        out.append("")
    return "\n".join(out)


def validate(rows):
    """Raises ValueError unless rows has the peers.json shape."""
    if not isinstance(rows, list):
        raise ValueError("peers.json must hold a list of rows")
    for i, r in enumerate(rows):
        missing = [k for k in ("scheme", "shape", "n", "k", "m", "qgemm_us", "peers") if k not in r]
        if missing:
            raise ValueError(f"row {i} lacks {', '.join(missing)}")
        if not isinstance(r["peers"], dict):
            raise ValueError(f"row {i}: 'peers' must be an object of name -> us")


def load(path):
    """A peers.json's rows, validated (OSError, ValueError)."""
    with open(path) as f:
        rows = json.load(f)
    validate(rows)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description="Markdown table and issue 13's targets from "
                                 "bench/torch_compare.py --peers' peers.json.")
    ap.add_argument("peers_json")
    ap.add_argument("--baseline", help="an earlier peers.json: checks that decode (M <= 32) "
                    "did not regress")
    ap.add_argument("--targets-only", action="store_true", help="print only the targets")
    a = ap.parse_args(argv)
    try:
        rows = load(a.peers_json)
        base = load(a.baseline) if a.baseline else None
    except (OSError, ValueError) as e:
        print(f"peer_report.py: {e}", file=sys.stderr)
        return 2
    if not a.targets_only:
        print(markdown(rows))
    print("\n".join(targets_text(rows, base)[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
