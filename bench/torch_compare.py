#!/usr/bin/env python3
"""Times qgemm's kernels (through the C API, ctypes) beside torch's baselines in ONE process:
cuBLASLt bf16 (torch.mm), tinygemm int4 (torch._weight_int4pack_mm), torch._scaled_mm row-wise
fp8, torch._int_mm, and cuSPARSELt 2:4 bf16 (to_sparse_semi_structured).

Method (as ../shared/anchors): each case is a CUDA graph of calls over weight copies rotated
through more than 4x the L2 (so weights stream from HBM), replayed; the time is the median over
replays, per call. Random data everywhere. Prints a table and writes JSON (--out).
"""
import argparse
import ctypes
import json
import math
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, __import__("os").path.join(__import__("os").path.dirname(__file__), "..", "python"))
from qgemm._lib import (PER_ROW, PER_TENSOR, Context, GemmArgs, PackedSizes, PackedWeight,  # noqa: E402
                        QGemmError, check, lib, make_problem)

SHAPES = {"qkv": (6144, 4096), "o": (4096, 4096), "gate_up": (28672, 4096), "down": (4096, 14336)}
DEV = torch.device("cuda")


def l2_bytes():
    p = torch.cuda.get_device_properties(0)
    return getattr(p, "L2_cache_size", 50 * 2**20)


def copies_for(nbytes):
    return max(2, min(16, math.ceil(4 * l2_bytes() / max(nbytes, 1)) + 1))


def time_calls(calls, replays=9):
    """calls: list of zero-arg callables (one per weight copy). Median us per call."""
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(2):
            for c in calls:
                c()
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g, stream=s):
        for c in calls:
            c()
    torch.cuda.synchronize()
    g.replay()
    torch.cuda.synchronize()
    ts = []
    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(replays):
        e0.record()
        g.replay()
        e1.record()
        torch.cuda.synchronize()
        ts.append(e0.elapsed_time(e1) * 1000.0 / len(calls))
    return statistics.median(ts)


class Ours:
    """Packed weights of one scheme/shape on the GPU (several copies) and a qg_gemm call."""

    def __init__(self, ctx, scheme, n, k, **kw):
        self.ctx = ctx
        self.scheme = scheme
        self.kw = kw
        L = lib()
        self.p = make_problem(scheme, 1, n, k, **kw)
        sz = PackedSizes()
        check(L.qg_packed_sizes_get(ctypes.byref(self.p), ctypes.byref(sz)))
        self.sz = sz
        w = (torch.randn(n, k, dtype=torch.float32) * 0.02).numpy()
        host = {f: np.empty(getattr(sz, f + "_bytes"), dtype=np.uint8)
                for f in ("weight", "scale", "zero", "meta")}
        pw = PackedWeight(*[host[f].ctypes.data if host[f].size else None
                            for f in ("weight", "scale", "zero", "meta")])
        check(L.qg_quantize_weight(ctypes.byref(self.p), w.ctypes.data, k, ctypes.byref(pw)))
        self.bytes = sum(h.size for h in host.values())
        self.copies = []
        for _ in range(copies_for(self.bytes)):
            self.copies.append({f: torch.from_numpy(h).to(DEV) if h.size else None
                                for f, h in host.items()})

    def prepare(self, m):
        self.p.m = m
        check(lib().qg_prepare(self.ctx.handle, ctypes.byref(self.p), 1), self.ctx.handle)

    def call(self, a, a_scale, c, i):
        L = lib()
        cp = self.copies[i]
        args = GemmArgs()
        L.qg_gemm_args_init(ctypes.byref(args))
        args.a = a.data_ptr()
        args.a_scale = a_scale.data_ptr() if a_scale is not None else None
        args.w = PackedWeight(*[cp[f].data_ptr() if cp[f] is not None else None
                                for f in ("weight", "scale", "zero", "meta")])
        args.c = c.data_ptr()
        stream = torch.cuda.current_stream().cuda_stream
        check(L.qg_gemm(self.ctx.handle, ctypes.byref(self.p), ctypes.byref(args),
                        ctypes.c_void_p(stream)), self.ctx.handle)

    def explain(self):
        buf = ctypes.create_string_buffer(512)
        if lib().qg_explain(self.ctx.handle, ctypes.byref(self.p), buf, 512) == 0:
            return buf.value.decode()
        return "?"


def quant_act(ctx, p, x):
    """Our GPU activation quantizer: bf16 [M,K] -> 8-bit [M,K] + f32 scales [M]."""
    m, k = x.shape
    dt = torch.float8_e4m3fn if p.scheme in (3, 4, 6) else torch.int8
    q = torch.empty(m, k, dtype=dt, device=DEV)
    s = torch.empty(m, dtype=torch.float32, device=DEV)
    p.m = m
    check(lib().qg_quantize_activations(ctx.handle, ctypes.byref(p), x.data_ptr(), q.data_ptr(),
                                        s.data_ptr(), ctypes.c_void_p(
                                            torch.cuda.current_stream().cuda_stream)),
          ctx.handle)
    return q, s


def bench_shape(ctx, name, n, k, ms, schemes, rows):
    flop = lambda m: 2.0 * m * n * k  # noqa: E731
    # Baseline weights (several copies each).
    wb = [torch.randn(n, k, dtype=torch.bfloat16, device=DEV) * 0.02 for _ in range(copies_for(n * k * 2))]
    ours = {}
    for sch in schemes:
        try:
            kw = dict(group_size=128, zero_point=True) if sch == "w4a16" else dict(group_size=0)
            if sch in ("w8a8-fp8", "w8a8-int8", "sp24-fp8", "sp24-int8"):
                kw.update(weight_scale=PER_ROW, act_scale=PER_ROW)
            ours[sch] = Ours(ctx, sch, n, k, **kw)
        except QGemmError as e:
            print(f"  {sch}: not available: {e}", flush=True)
    for m in ms:
        x = torch.randn(m, k, dtype=torch.bfloat16, device=DEV)
        c = torch.empty(m, n, dtype=torch.bfloat16, device=DEV)

        def add(method, us, wbytes, note=""):
            rows.append(dict(shape=name, M=m, N=n, K=k, method=method, us=round(us, 3),
                             TFLOPs=round(flop(m) / us / 1e6, 1),
                             weight_GBps=round(wbytes / us / 1e3, 1), note=note))
            print(f"  {name:8s} M={m:5d} {method:22s} {us:9.2f} us {flop(m) / us / 1e6:8.1f} TF "
                  f"{wbytes / us / 1e3:7.0f} GB/s {note}", flush=True)

        add("bf16_cublas", time_calls([lambda w=w: torch.mm(x, w.t(), out=c) for w in wb]), n * k * 2)
        # tinygemm int4 (torchao Int4WeightOnlyConfig on CUDA)
        try:
            wq = [torch.randint(0, 256, (n, k // 2), dtype=torch.uint8, device=DEV) for _ in range(copies_for(n * k // 2))]
            packed = [torch.ops.aten._convert_weight_to_int4pack(w, 8) for w in wq]
            sz = torch.randn(k // 128, n, 2, dtype=torch.bfloat16, device=DEV) * 0.01
            add("int4_tinygemm", time_calls([lambda p=p: torch.ops.aten._weight_int4pack_mm(x, p, 128, sz) for p in packed]),
                n * k // 2)
        except Exception as e:  # noqa: BLE001
            print(f"  tinygemm failed: {e}")
        # fp8 row-wise / int8 baselines on 8-bit weights
        mp = max(16, (m + 15) // 16 * 16)
        try:
            xf = torch.randn(mp, k, device=DEV).to(torch.float8_e4m3fn)
            wf = [torch.randn(n, k, device=DEV).to(torch.float8_e4m3fn) for _ in range(copies_for(n * k))]
            sa = torch.rand(mp, 1, device=DEV) + 0.5
            sb = torch.rand(1, n, device=DEV) + 0.5
            add("fp8_rowwise_torch", time_calls([lambda w=w: torch._scaled_mm(xf, w.t(), scale_a=sa, scale_b=sb, out_dtype=torch.bfloat16) for w in wf]), n * k)
        except Exception as e:  # noqa: BLE001
            print(f"  _scaled_mm failed: {e}")
        try:
            mi = max(32, (m + 7) // 8 * 8)
            xi = torch.randint(-127, 128, (mi, k), dtype=torch.int8, device=DEV)
            wi = [torch.randint(-127, 128, (n, k), dtype=torch.int8, device=DEV) for _ in range(copies_for(n * k))]
            add("int8_torch_int_mm", time_calls([lambda w=w: torch._int_mm(xi, w.t()) for w in wi]), n * k)
        except Exception as e:  # noqa: BLE001
            print(f"  _int_mm failed: {e}")
        if "sp24-bf16" in schemes:
            try:
                from torch.sparse import to_sparse_semi_structured
                mask = torch.tensor([1, 1, 0, 0], dtype=torch.bool, device=DEV).repeat(n, k // 4)
                ws = [to_sparse_semi_structured((w * mask).contiguous()) for w in wb[:copies_for(n * k)]]
                xs = torch.randn(max(m, 32), k, dtype=torch.bfloat16, device=DEV)
                add("bf16_2:4_cusparselt", time_calls([lambda w=w: torch.nn.functional.linear(xs, w) for w in ws]), n * k)
            except Exception as e:  # noqa: BLE001
                print(f"  cuSPARSELt failed: {e}")
        for sch, o in ours.items():
            try:
                o.prepare(m)
                if sch in ("w8a8-fp8", "w8a8-int8", "w4a8-fp8", "w4a8-int8", "sp24-fp8", "sp24-int8"):
                    a, s = quant_act(ctx, make_problem(sch, m, n, k, **o.kw), x)
                else:
                    a, s = x, None
                us = time_calls([lambda i=i: o.call(a, s, c, i) for i in range(len(o.copies))])
                add("qgemm_" + sch, us, o.bytes, o.explain())
            except QGemmError as e:
                print(f"  qgemm {sch} M={m}: {e}", flush=True)
        del x, c
    del wb, ours
    torch.cuda.empty_cache()


def bench_act_quant(ctx, rows):
    for sch, dt in (("w8a8-fp8", "fp8"), ("w8a8-int8", "int8")):
        try:
            m, k = 4096, 4096
            p = make_problem(sch, m, 4096, k, group_size=0)
            xs = [torch.randn(m, k, dtype=torch.bfloat16, device=DEV) for _ in range(8)]
            outs = [quant_act(ctx, p, x) for x in xs]
            stream = lambda: ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)  # noqa: E731

            def call(i):
                check(lib().qg_quantize_activations(ctx.handle, ctypes.byref(p), xs[i].data_ptr(),
                                                    outs[i][0].data_ptr(), outs[i][1].data_ptr(), stream()))
            us = time_calls([lambda i=i: call(i) for i in range(len(xs))])
            nbytes = m * k * 2 + m * k + m * 4
            rows.append(dict(shape="4096x4096", M=m, N=0, K=k, method=f"qgemm_act_quant_{dt}",
                             us=round(us, 3), GBps=round(nbytes / us / 1e3, 1)))
            print(f"  act quant bf16->{dt} per-token 4096x4096: {us:.2f} us, {nbytes / us / 1e3:.0f} GB/s read+write")
        except QGemmError as e:
            print(f"  act quant {sch}: {e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--m", default="1,16,32,64,128,1024,4096")
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--schemes", default="w4a16,w8a16,w8a8-fp8,w8a8-int8,sp24-bf16,sp24-fp8,sp24-int8")
    ap.add_argument("--out", default="bench.json")
    ap.add_argument("--tuning-db", default=None)
    args = ap.parse_args()
    torch.manual_seed(0)
    ctx = Context(tuning_db=args.tuning_db)
    info = ctx.info()
    print(f"device {info.name.decode()} ({info.arch.decode()}), torch {torch.__version__}, "
          f"qgemm {lib().qg_version_string().decode()}, L2 {l2_bytes() >> 20} MiB", flush=True)
    rows = []
    t0 = time.time()
    ms = [int(v) for v in args.m.split(",")]
    schemes = args.schemes.split(",")
    for name in args.shapes.split(","):
        n, k = SHAPES[name]
        bench_shape(ctx, name, n, k, ms, schemes, rows)
    bench_act_quant(ctx, rows)
    with open(args.out, "w") as f:
        json.dump(dict(device=info.name.decode(), torch=torch.__version__, rows=rows), f, indent=1)
    print(f"done in {time.time() - t0:.0f} s -> {args.out}")


if __name__ == "__main__":
    main()
