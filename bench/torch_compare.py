#!/usr/bin/env python3
"""Times qgemm's kernels (through the C API, ctypes) beside torch's baselines in ONE process:
cuBLASLt bf16 (torch.mm), tinygemm int4 (torch._weight_int4pack_mm), torch._scaled_mm row-wise
fp8, torch._int_mm, and cuSPARSELt 2:4 bf16 (to_sparse_semi_structured).
With --peers: qgemm through its public torch API beside every peer a user would pick instead
(torchao 0.18 with mslk, gemlite 0.6, raw torch kernels; bench/peer_catalog.py), written to
bench/results/<gpu>/peers.json and peers.md, with issue 13's targets (bench/peer_report.py).

Method (as ../shared/anchors): each case is a CUDA graph of calls over weight copies rotated
through more than 4x the L2 (so weights stream from HBM), replayed; the time is the median over
replays, per call. Random data everywhere. Prints a table and writes JSON (--out).
"""
import argparse
import ctypes
import json
import math
import os
import statistics
import sys
import time

try:
    import numpy as np
    import torch
except ImportError:  # --help and --peers --dry-run need neither
    np = torch = None

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from qgemm._lib import (PER_ROW, PER_TENSOR, Context, GemmArgs, PackedSizes, PackedWeight,  # noqa: E402
                        QGemmError, check, lib, make_problem)
import peer_catalog  # noqa: E402  (bench/ is on sys.path: this file's folder)
import peer_report  # noqa: E402

SHAPES = {"qkv": (6144, 4096), "o": (4096, 4096), "gate_up": (28672, 4096), "down": (4096, 14336)}
DEV = torch.device("cuda") if torch else None


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


# ---- --peers: qgemm's public torch API beside every peer a user would pick instead

def one_line(e):
    """An exception as one short line (the reason a peer is reported as failed)."""
    msg = str(e).strip().splitlines()
    return f"{type(e).__name__}: {msg[0] if msg else ''}"[:240]


def gpu_slug(name):
    """The device's folder name under bench/results (as scripts/gpu_build.sh makes it)."""
    out, prev = [], ""
    for ch in name.lower():
        ch = ch if ch.isascii() and ch.isalnum() else "-"
        if not (ch == "-" and prev == "-"):
            out.append(ch)
        prev = ch
    return "".join(out).rstrip("-")


def measure(binds, x, ref):
    """(median us per call, relative error vs the float64 product) of one implementation."""
    bound = [b(x) for b in binds]
    call, post = bound[0]
    y = call()
    y = (post(y) if post else y)[:x.shape[0]]
    err = float((y.double() - ref).norm() / ref.norm())
    return time_calls([c for c, _ in bound]), err


def cuda_alive():
    try:
        torch.cuda.synchronize()
        return True
    except Exception:  # noqa: BLE001
        return False


def bench_peers_case(scheme, shape, w, ms, peers, rows, bf16_cache):
    """Times qgemm's `scheme` and its selected peers on weight w at every M; one row per M."""
    import peer_impls
    n, k = w.shape
    impls, failed = {}, {}
    todo = [("qgemm", peer_catalog.QGEMM_WEIGHT_BYTES[scheme])]
    todo += [(p, peer_catalog.PEERS[p].weight_bytes) for p in peer_report.SCHEME_PEERS[scheme]
             if p in peers]
    for name, wbytes in todo:
        missing = peer_catalog.missing_modules(name) if name != "qgemm" else []
        if missing:
            failed[name] = f"module {', '.join(missing)} not found"
            continue
        if name == peer_report.BF16 and all((shape, m) in bf16_cache for m in ms):
            continue
        try:
            copies = copies_for(int(n * k * wbytes))
            impls[name] = (peer_impls.build_qgemm(scheme, w, copies) if name == "qgemm"
                           else peer_impls.build_peer(name, w, copies))
        except Exception as e:  # noqa: BLE001  (any failure of a peer is reported, not fatal)
            failed[name] = "build: " + one_line(e)
        if not cuda_alive():
            raise RuntimeError(f"CUDA context lost after building {name}: {failed.get(name)}")
    for name, why in failed.items():
        print(f"  [{scheme} {shape}] {name} skipped: {why}", flush=True)
    wd = w.double()
    for m in ms:
        x = torch.randn(m, k, dtype=torch.bfloat16, device=DEV)
        ref = x.double() @ wd.t()
        row = dict(scheme=scheme, shape=shape, n=n, k=k, m=m, qgemm_us=None, peers={}, err={},
                   failed=dict(failed))
        cells = []
        for name in [t[0] for t in todo]:
            if name == peer_report.BF16 and (shape, m) in bf16_cache:
                us, err = bf16_cache[(shape, m)]
            elif name in impls:
                try:
                    us, err = measure(impls[name], x, ref)
                except Exception as e:  # noqa: BLE001  (e.g. a peer that breaks graph capture)
                    row["failed"][name] = one_line(e)
                    cells.append(f"{name} FAILED ({one_line(e)})")
                    if not cuda_alive():
                        rows.append(row)
                        raise RuntimeError(f"CUDA context lost after {name}") from e
                    continue
                if name == peer_report.BF16:
                    bf16_cache[(shape, m)] = (us, err)
            else:
                continue
            if name == "qgemm":
                row["qgemm_us"] = round(us, 2)
            else:
                row["peers"][name] = round(us, 2)
            row["err"][name] = round(err, 4)
            cells.append(f"{name} {us:.1f}us e={err:.4f}")
        print(f"[{scheme} {shape} M={m}] " + " | ".join(cells), flush=True)
        rows.append(row)
        del x, ref
    del impls, wd
    torch.cuda.empty_cache()


def merge_rows(old, new):
    """old rows with those of the same (scheme, shape, m) replaced by new ones."""
    key = lambda r: (r["scheme"], r["shape"], r["m"])  # noqa: E731
    fresh = {key(r) for r in new}
    return [r for r in old if key(r) not in fresh] + new


def write_peers(path, rows, title):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(rows, f, indent=1)
    os.replace(path + ".tmp", path)
    with open(os.path.splitext(path)[0] + ".md", "w") as f:
        f.write(peer_report.markdown(rows, title) + "\n")


def package_versions():
    from importlib import metadata
    out = []
    for pkg in ("torch", "torchao", "mslk-cuda", "gemlite", "triton"):
        try:
            out.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            out.append(f"{pkg} absent")
    return ", ".join(out)


def run_peers(args):
    schemes = peer_catalog.parse_names(args.schemes or ",".join(peer_catalog.QGEMM_CONFIGS),
                                       peer_catalog.QGEMM_CONFIGS, "scheme")
    shapes = peer_catalog.parse_names(args.shapes or "llama-3-8b,llama-3-70b-tp8",
                                      peer_catalog.SHAPES, "shape", peer_catalog.SHAPE_GROUPS)
    peers = peer_catalog.parse_names(args.peers, peer_catalog.PEERS, "peer")
    ms = peer_catalog.parse_ms(args.m or ",".join(map(str, peer_catalog.DEFAULT_M)))
    plan = "\n".join(peer_catalog.plan_text(peer_catalog.plan(schemes, shapes, ms, peers)))
    if args.dry_run:
        print(plan)
        return 0
    if torch is None:
        print("torch_compare.py --peers needs torch (only --dry-run runs without it)",
              file=sys.stderr)
        return 2
    if args.tuning_db:
        os.environ["QGEMM_TUNING_DB"] = os.path.abspath(args.tuning_db)
    import qgemm
    torch.manual_seed(0)
    info = qgemm.get_context().info()
    device = info.name.decode()
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                   gpu_slug(device), "peers.json")
    baseline = peer_report.load(args.baseline) if args.baseline else None
    old = peer_report.load(out) if args.append and os.path.exists(out) else []
    title = (f"qgemm vs peers on {device} ({package_versions()}, qgemm "
             f"{lib().qg_version_string().decode()})")
    print(title + f", L2 {l2_bytes() >> 20} MiB\n" + plan, flush=True)
    import peer_impls
    rows, t0 = [], time.time()
    bf16_times = {False: {}, True: {}}  # cuBLAS bf16 on the dense and on the 2:4-pruned weight
    try:
        for shape in shapes:
            n, k = peer_catalog.SHAPES[shape]
            dense = (torch.randn(n, k, dtype=torch.bfloat16, device=DEV) * 0.02)
            pruned = None
            for scheme in schemes:
                sparse = scheme in peer_catalog.SPARSE_SCHEMES
                if sparse and pruned is None:
                    pruned = peer_impls.prune_2_4(dense)
                s = time.time()
                bench_peers_case(scheme, shape, pruned if sparse else dense, ms, peers, rows,
                                 bf16_times[sparse])
                print(f"[{scheme} {shape}] {time.time() - s:.1f} s", flush=True)
                write_peers(out, merge_rows(old, rows), title)
            del dense, pruned
            torch.cuda.empty_cache()
    finally:
        write_peers(out, merge_rows(old, rows), title)
    all_rows = merge_rows(old, rows)
    print("\n".join(peer_report.targets_text(all_rows, baseline)[0]))
    print(f"done in {time.time() - t0:.0f} s -> {out} and {os.path.splitext(out)[0]}.md")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--m", help="M values (default 1,16,32,64,128,1024,4096; with --peers "
                    "1,16,64,128,256,512,1024,4096)")
    ap.add_argument("--shapes", help=f"default {','.join(SHAPES)}; with --peers names of "
                    "bench/peer_catalog.py or llama-3-8b, llama-3-70b-tp8 (the default: both)")
    ap.add_argument("--schemes", help="default w4a16,w8a16,w8a8-fp8,w8a8-int8,sp24-bf16,"
                    "sp24-fp8,sp24-int8; with --peers all nine schemes")
    ap.add_argument("--out", help="default bench.json; with --peers "
                    "bench/results/<gpu>/peers.json (and peers.md beside it)")
    ap.add_argument("--tuning-db", default=None)
    ap.add_argument("--peers", nargs="?", const="all", metavar="LIST",
                    help="compare with the peers instead (all, or names of "
                    "bench/peer_catalog.py, e.g. cublas-bf16,torchao-int4)")
    ap.add_argument("--dry-run", action="store_true",
                    help="with --peers: list the cases and which peers would run, then exit")
    ap.add_argument("--append", action="store_true",
                    help="with --peers: keep the rows of an existing --out (replacing those "
                    "measured again)")
    ap.add_argument("--baseline", help="with --peers: an earlier peers.json, to check that "
                    "qgemm's decode (M <= 32) did not regress")
    args = ap.parse_args()
    if args.peers is not None:
        try:
            return run_peers(args)
        except ValueError as e:
            print(f"torch_compare.py: {e}", file=sys.stderr)
            return 2
    if args.dry_run or args.append or args.baseline:
        print("torch_compare.py: --dry-run, --append and --baseline go with --peers",
              file=sys.stderr)
        return 2
    args.m = args.m or "1,16,32,64,128,1024,4096"
    args.shapes = args.shapes or ",".join(SHAPES)
    args.schemes = args.schemes or "w4a16,w8a16,w8a8-fp8,w8a8-int8,sp24-bf16,sp24-fp8,sp24-int8"
    args.out = args.out or "bench.json"
    if torch is None:
        print("torch_compare.py needs torch and numpy", file=sys.stderr)
        return 2
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
    sys.exit(main())
