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
    "qgemm_w4a8-fp8": ["qgemm_w8a8-fp8", "bf16_cublas"],
    "qgemm_w4a8-int8": ["qgemm_w8a8-int8", "bf16_cublas"],
    "qgemm_sp24-bf16": ["bf16_2:4_cusparselt", "bf16_cublas"],
    "qgemm_sp24-fp8": ["qgemm_w8a8-fp8", "fp8_rowwise_torch"],
    "qgemm_sp24-int8": ["qgemm_w8a8-int8", "int8_torch_int_mm"],
}


USAGE = """usage: report.py BENCH_JSON [PLOT_DIR]
  BENCH_JSON  bench/torch_compare.py --out file, or bench/bench_gemm's Google Benchmark JSON
  PLOT_DIR    where to write the plots (needs matplotlib): speedup_vs_bf16.png and
              speedup_vs_same_precision.png for torch_compare input, roofline.png for
              Google Benchmark input
The markdown report goes to standard output."""


def main():
    if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help"):
        print(USAGE)
        return
    if len(sys.argv) < 2 or len(sys.argv) > 3 or sys.argv[1].startswith("-"):
        print(USAGE, file=sys.stderr)
        sys.exit(2)
    if not os.path.isfile(sys.argv[1]):
        print(f"report.py: {sys.argv[1]}: no such file", file=sys.stderr)
        sys.exit(2)
    data = json.load(open(sys.argv[1]))
    gbench = "benchmarks" in data
    if gbench:  # Google Benchmark JSON from bench/bench_gemm
        data = from_gbench(data)
    t = defaultdict(dict)  # (shape, M) -> method -> row
    for r in data["rows"]:
        t[(r["shape"], r["M"])][r["method"]] = r
    print(f"# qgemm vs baselines on {data['device']} (torch {data['torch']})\n")
    print(data.get("method", "Times are medians per call (CUDA graph over weight copies rotated "
                                 "through > 4x L2).") + " ratio = baseline time / ours (> 1: ours faster).\n")
    headline(t)
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
    if len(sys.argv) > 2:  # speedup plots from torch_compare's JSON, the roofline from gbench's
        if gbench:
            roofline(data, sys.argv[2])
        else:
            plot(t, sys.argv[2])


def headline(t):
    """One decoder layer's linears: per scheme and M, the times summed over the shapes measured
    (qkv + o + gate_up + down for a Llama model), ours against each baseline of the same run."""
    ms = sorted({m for (_, m) in t})
    print("## Headline: one decoder layer (all shapes summed)\n")
    print("| scheme | M | ours us | same-precision baseline | its us | ratio | cuBLASLt bf16 us | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for ours, bases in BASELINES.items():
        for m in ms:
            rows = [row for (s, mm), row in t.items() if mm == m and ours in row]
            if not rows:
                continue
            mine = sum(r[ours]["us"] for r in rows)
            cells = [ours[6:], str(m), f"{mine:.1f}"]
            same = bases[0] if len(bases) > 1 else None
            for b in ([same] if same else ["-"]) + ["bf16_cublas"]:
                if b == "-":
                    cells += ["-", "-", "-"] if len(cells) == 3 else ["-", "-"]
                    continue
                if not all(b in r for r in rows):
                    cells += ([b] if b == same else []) + ["-", "-"]
                    continue
                theirs = sum(r[b]["us"] for r in rows)
                cells += ([b] if b == same else []) + [f"{theirs:.1f}", f"{theirs / mine:.2f}x"]
            print("| " + " | ".join(cells) + " |")
    print()


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
    return dict(device=ctx.get("device", ctx.get("host_name", "?")), torch="n/a (Google Benchmark)",
                hbm_GBps=float(ctx.get("hbm_copy_GBps", 0) or 0),
                peak_TFLOPs=float(ctx.get("cublaslt_bf16_peak_TFLOPs", 0) or 0), rows=rows, method="Times are medians per call (CUDA events around batches cycling "
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
    shapes = sorted({s for (s, _), row in t.items() if any(k in row for k in BASELINES)})
    # Against cuBLASLt bf16 (every scheme's last baseline), then against each scheme's
    # same-precision baseline (tinygemm, _scaled_mm, _int_mm, cuSPARSELt, our dense kernels).
    speedup_plot(plt, t, shapes, -1, "speedup vs cuBLASLt bf16",
                 os.path.join(out_dir, "speedup_vs_bf16.png"))
    speedup_plot(plt, t, shapes, 0, "speedup vs same-precision baseline",
                 os.path.join(out_dir, "speedup_vs_same_precision.png"))


def speedup_plot(plt, t, shapes, which, ylabel, path):
    """One panel per shape: baseline time / ours against M, one line per scheme, the baseline
    being BASELINES[scheme][which] (schemes whose only baseline is bf16 are left out for 0)."""
    fig, axes = plt.subplots(1, len(shapes), figsize=(4.5 * len(shapes), 4), squeeze=False)
    for ax, shape in zip(axes[0], shapes):
        for ours, bases in BASELINES.items():
            if which == 0 and len(bases) < 2:
                continue
            base = bases[which]
            pts = [(m, row[base]["us"] / row[ours]["us"]) for (s, m), row in sorted(t.items())
                   if s == shape and ours in row and base in row]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o",
                        label=ours[6:] if which else f"{ours[6:]} vs {base}")
        ax.axhline(1.0, color="gray", lw=0.8)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ax.set_title(shape)
        ax.set_xlabel("M")
        ax.set_ylabel(ylabel)
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# Bytes of one weight element as packed (2:4 keeps half the values plus 2-bit metadata per kept
# value; int4 adds a bf16 scale and zero point per group of 128) and of one activation element.
WEIGHT_BYTES = {"w4a16": 0.5 + 4 / 128, "w8a16": 1.0, "w8a8-fp8": 1.0, "w8a8-int8": 1.0,
                "w4a8-fp8": 0.5 + 2 / 128, "w4a8-int8": 0.5 + 2 / 128, "sp24-bf16": 1.0 + 1 / 16,
                "sp24-fp8": 0.5 + 1 / 16, "sp24-int8": 0.5 + 1 / 16}
ACT_BYTES = {"w4a16": 2, "w8a16": 2, "sp24-bf16": 2}


def roofline(data, out_dir):
    """Achieved TFLOP/s against arithmetic intensity (FLOP per byte of weights, activations and
    output moved once), under the roofs measured in the same run (Google Benchmark JSON only:
    a large device copy and a large cuBLASLt bf16 GEMM)."""
    bw, peak = data.get("hbm_GBps", 0), data.get("peak_TFLOPs", 0)
    if not bw or not peak:
        return
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(7, 5))
    by_scheme = defaultdict(list)
    for r in data["rows"]:
        scheme = r["method"][6:] if r["method"].startswith("qgemm_") else None
        if scheme not in WEIGHT_BYTES:
            continue
        m, n, k = r["M"], r["N"], r["K"]
        nbytes = n * k * WEIGHT_BYTES[scheme] + m * k * ACT_BYTES.get(scheme, 1) + 2 * m * n
        by_scheme[scheme].append((2.0 * m * n * k / nbytes, r["TFLOPs"]))
    for scheme, pts in sorted(by_scheme.items()):
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=14, label=scheme)
    xs = [2 ** (i / 4) for i in range(-4, 60)]
    ax.plot(xs, [min(peak, bw * x / 1e3) for x in xs], color="black", lw=1,
            label=f"measured roofs: {bw:.0f} GB/s copy, {peak:.0f} TFLOP/s cuBLASLt bf16")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("FLOP per byte moved (weights + activations + output, once)")
    ax.set_ylabel("TFLOP/s")
    ax.set_title(f"qgemm on {data['device']}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "roofline.png"), dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
