#!/usr/bin/env python3
"""Turns bench/torch_compare.py's JSON into a markdown report (and PNG plots when matplotlib is
there): per scheme and shape, ours vs the baselines of the same run, with ratios."""
import json
import os
import sys
from collections import defaultdict

# Our scheme -> the baselines it is compared with (same precision first, then bf16).
BASELINES = {
    "qgemm_w4a16": ["int4_tinygemm", "bf16_cublas"],
    "qgemm_w8a16": ["bf16_cublas"],
    "qgemm_w8a8-fp8": ["fp8_rowwise_torch", "bf16_cublas"],
    "qgemm_w8a8-int8": ["int8_torch_int_mm", "bf16_cublas"],
    "qgemm_sp24-bf16": ["bf16_2:4_cusparselt", "bf16_cublas"],
    "qgemm_sp24-fp8": ["qgemm_w8a8-fp8", "fp8_rowwise_torch"],
    "qgemm_sp24-int8": ["qgemm_w8a8-int8", "int8_torch_int_mm"],
}


def main():
    if len(sys.argv) < 2:
        print("usage: report.py bench.json [plot_dir]", file=sys.stderr)
        sys.exit(2)
    data = json.load(open(sys.argv[1]))
    if "benchmarks" in data:  # Google Benchmark JSON from bench/bench_gemm
        data = from_gbench(data)
    t = defaultdict(dict)  # (shape, M) -> method -> row
    for r in data["rows"]:
        t[(r["shape"], r["M"])][r["method"]] = r
    print(f"# qgemm vs baselines on {data['device']} (torch {data['torch']})\n")
    print(data.get("method", "Times are medians per call (CUDA graph over weight copies rotated "
                                 "through > 4x L2).") + " ratio = baseline time / ours (> 1: ours faster).\n")
    for ours, bases in BASELINES.items():
        lines = []
        for (shape, m), row in sorted(t.items(), key=lambda kv: (kv[0][0], kv[0][1])):
            if ours not in row:
                continue
            o = row[ours]
            cells = [shape, str(m), f"{o['us']:.2f}", f"{o['weight_GBps']:.0f}", f"{o['TFLOPs']:.1f}"]
            for b in bases:
                if b in row:
                    cells += [f"{row[b]['us']:.2f}", f"{row[b]['us'] / o['us']:.2f}x"]
                else:
                    cells += ["-", "-"]
            lines.append("| " + " | ".join(cells) + " |")
        if not lines:
            continue
        print(f"## {ours[6:]}\n")
        hdr = ["shape", "M", "ours us", "ours GB/s (weights)", "ours TFLOP/s"]
        for b in bases:
            hdr += [f"{b} us", "ratio"]
        print("| " + " | ".join(hdr) + " |")
        print("|" + "---|" * len(hdr))
        print("\n".join(lines) + "\n")
    aq = [r for r in data["rows"] if r["method"].startswith("qgemm_act_quant")]
    if aq:
        print("## activation quantize (bf16 -> 8-bit per token, 4096x4096)\n")
        print("| kernel | us | GB/s read+write |\n|---|---|---|")
        for r in aq:
            print(f"| {r['method']} | {r['us']:.2f} | {r['GBps']:.0f} |")
        print()
    if len(sys.argv) > 2:
        plot(t, sys.argv[2])


SHAPE_NK = {"qkv": (6144, 4096), "o": (4096, 4096), "gate_up": (28672, 4096), "down": (4096, 14336)}


def from_gbench(g):
    """bench_gemm's benchmarks (gemm/<scheme>/<shape>/M:<m>, counters us, bf16_us, GBps...) as
    rows of the torch_compare format."""
    rows = []
    for b in g["benchmarks"]:
        parts = b["name"].split("/")
        if len(parts) < 4 or parts[0] != "gemm" or "us" not in b:
            continue
        scheme, shape, m = parts[1], parts[2], int(parts[3].split(":")[1])
        n, k = SHAPE_NK.get(shape, (0, 0))
        flop = 2.0 * m * n * k
        rows.append(dict(shape=shape, M=m, N=n, K=k, method="qgemm_" + scheme, us=b["us"],
                         TFLOPs=flop / b["us"] / 1e6 if b["us"] else 0.0,
                         weight_GBps=b.get("GBps", 0.0)))
        if "bf16_us" in b:
            rows.append(dict(shape=shape, M=m, N=n, K=k, method="bf16_cublas", us=b["bf16_us"],
                             TFLOPs=flop / b["bf16_us"] / 1e6, weight_GBps=2.0 * n * k / b["bf16_us"] / 1e3))
    ctx = g.get("context", {})
    return dict(device=ctx.get("gpu", ctx.get("host_name", "?")), torch="n/a (Google Benchmark)",
                rows=rows, method="Times are medians per call (CUDA events around batches cycling "
                "weight copies through > 4x L2), cuBLASLt bf16 in the same process.")


def plot(t, out_dir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not available: no plots)", file=sys.stderr)
        return
    os.makedirs(out_dir, exist_ok=True)
    shapes = sorted({s for s, _ in t})
    fig, axes = plt.subplots(1, len(shapes), figsize=(4.5 * len(shapes), 4), squeeze=False)
    for ax, shape in zip(axes[0], shapes):
        for ours, bases in BASELINES.items():
            pts = [(m, row[bases[-1]]["us"] / row[ours]["us"]) for (s, m), row in sorted(t.items())
                   if s == shape and ours in row and bases[-1] in row]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=ours[6:])
        ax.axhline(1.0, color="gray", lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_title(shape)
        ax.set_xlabel("M")
        ax.set_ylabel("speedup vs cuBLASLt bf16")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "speedup_vs_bf16.png"), dpi=110)


if __name__ == "__main__":
    main()
