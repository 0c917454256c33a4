#!/usr/bin/env python3
"""GPU tests of the Python/torch package: every custom op against the C library's host
reference on random data, CUDA graph capture, torch.compile(fullgraph=True), opcheck, streams,
host-sync freedom, save/load of a quantized model.

  QGEMM_LIBRARY=build-gpu/libqgemm.so PYTHONPATH=python python3 tests/gpu/python_gpu_test.py
      [--quick] [--only SUBSTRING]

Prints one line per check and "N passed, N failed, N skipped"; a check whose scheme has no GPU
kernel yet (QG_ERR_UNSUPPORTED) is skipped with the library's message. Exits 1 on any failure;
without a GPU it says so and exits 0.
"""
import argparse
import os
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import qgemm  # noqa: E402
from qgemm import host, ops  # noqa: E402
from qgemm.spec import WeightSpec  # noqa: E402

DEV = torch.device("cuda")
RESULTS = []


class Skip(Exception):
    pass


def case(name):
    def deco(fn):
        fn.case_name = name
        return fn
    return deco


def sync():
    if DEV.type == "cuda":
        torch.cuda.synchronize()


def run(name, fn, *a):
    t0 = time.time()
    try:
        fn(*a)
        status, msg = "PASS", ""
    except (Skip, qgemm.UnsupportedError) as e:
        status, msg = "SKIP", str(e)
    except Exception as e:  # noqa: BLE001
        status, msg = "FAIL", f"{type(e).__name__}: {e}"
        traceback.print_exc()
    RESULTS.append((status, name))
    print(f"{status:4s} {name:60s} {time.time() - t0:6.2f}s {msg[:160]}", flush=True)


def assert_close(got, ref, what, rel=1e-2, rel_l2=5e-3):
    got = got.double().cpu()
    ref = torch.as_tensor(ref).double()
    scale = ref.abs().max().clamp_min(1e-30)
    err = (got - ref).abs().max() / scale
    l2 = (got - ref).norm() / ref.norm().clamp_min(1e-30)
    if not (err <= rel and l2 <= rel_l2) or not torch.isfinite(got).all():
        raise AssertionError(f"{what}: max err {err:.3g} of max|ref| (tol {rel}), rel L2 "
                             f"{l2:.3g} (tol {rel_l2})")


def to_dev(packed):
    return {b: torch.from_numpy(a).to(DEV) for b, a in packed.items() if a.size}


def bf16_bits(t):
    return t.detach().cpu().contiguous().view(torch.int16).numpy().view(np.uint16)


# Schemes and variants covered: (scheme, WeightSpec kwargs)
VARIANTS = [
    ("w4a16", dict(group_size=128, zero_point=True)),
    ("w4a16", dict(group_size=32, zero_point=False)),
    ("w4a16", dict(group_size=0, zero_point=False)),
    ("w8a16", dict()),
    ("w8a8-int8", dict()),
    ("w8a8-int8", dict(weight_scale="per_tensor", act_scale="per_tensor")),
    ("w8a8-fp8", dict()),
    ("w8a8-fp8", dict(weight_scale="per_tensor", act_scale="per_tensor")),
    ("w4a8-fp8", dict(group_size=128)),
    ("w4a8-int8", dict(group_size=32)),
    ("w4a8-int8", dict(group_size=0)),
    ("sp24-fp8", dict()),
    ("sp24-int8", dict()),
    ("sp24-bf16", dict()),
]


def variant_name(scheme, kw):
    extra = ",".join(f"{k}={v}" for k, v in kw.items())
    return f"{scheme}({extra})" if extra else scheme


def gemm_case(scheme, kw, n, k, ms, bias=False, out="bf16"):
    spec = WeightSpec(scheme, n, k, out_dtype=out, act_dtype=out, **kw)
    w = host.random_weight(n, k, seed=n + k)
    packed_np = host.quantize_weight(spec, w)
    packed = to_dev(packed_np)
    tdt = torch.bfloat16 if out == "bf16" else torch.float16
    bias_t = (torch.randn(n, dtype=tdt, device=DEV) * 0.1) if bias else None
    for m in ms:
        x = torch.randn(m, k, dtype=tdt, device=DEV)
        bits = x.cpu().view(torch.int16).numpy().view(np.uint16)
        if spec.dynamic:
            qd = torch.float8_e4m3fn if spec.act_qdtype == "fp8_e4m3" else torch.int8
            q, s = torch.ops.qgemm.quantize_activations(x, qd, spec.act_scale == "per_tensor")
            hq, hs = host.quantize_activations(spec, bits)
            gq = q.cpu().view(torch.uint8).numpy()
            if not np.array_equal(gq, hq) or not np.array_equal(s.cpu().numpy(), hs):
                bad = int((gq != hq).sum())
                raise AssertionError(f"M={m}: GPU activation quantization differs from the host "
                                     f"twin ({bad} codes, scales equal: "
                                     f"{np.array_equal(s.cpu().numpy(), hs)})")
            c = ops.gemm(spec, q, packed, a_scale=s, bias=bias_t)
            ref = host.reference_gemm(spec, hq, packed_np, a_scale=hs,
                                      bias=None if bias_t is None else bf16_bits(bias_t))
        else:
            c = ops.gemm(spec, x, packed, bias=bias_t)
            ref = host.reference_gemm(spec, bits, packed_np,
                                      bias=None if bias_t is None else bf16_bits(bias_t))
        sync()
        if c.dtype != tdt or tuple(c.shape) != (m, n):
            raise AssertionError(f"output {c.dtype} {tuple(c.shape)}")
        assert_close(c, ref, f"{variant_name(scheme, kw)} M={m} N={n} K={k}")


def dequant_case(scheme, kw, n, k):
    spec = WeightSpec(scheme, n, k, **kw)
    w = host.random_weight(n, k, seed=3)
    packed_np = host.quantize_weight(spec, w)
    p = to_dev(packed_np)
    d = torch.ops.qgemm.dequantize_weight(p["weight"], p.get("scale"), p.get("zero"),
                                          p.get("meta"), scheme, n, k, spec.group_size,
                                          spec.zero_point, spec.weight_scale == "per_tensor",
                                          torch.bfloat16)
    h = torch.from_numpy(host.dequantize_weight(spec, packed_np))
    diff = (d.cpu().float() - h).abs()
    # One bf16 ulp of the value (the kernel may round the scale or the product to bf16), plus a
    # little of the largest weight for values that cancel (q*s - z*s); a layout error is O(1).
    tol = h.abs() * 2.0 ** -7 + h.abs().max() * 2.0 ** -10
    if not bool((diff <= tol).all()):
        raise AssertionError(f"GPU dequantize differs from the host unpacker by up to "
                             f"{float((diff / h.abs().clamp_min(1e-30)).max()):.3g} relative")


def float_zero_point_case(n, k, group, ms, out="bf16"):
    """torchao int4 weight-only tensors as mslk makes them (zero = min + 8 * scale) converted to
    W4A16 float zero points: the fzp kernels (GEMV, dequantize + cuBLASLt; RS on sm_90a through
    the tuner only) against the host reference, and the GPU dequantization bit-exact with the
    host rule (q * s + z rounded once to the activation dtype)."""
    from qgemm import torchao_compat

    tdt = torch.bfloat16 if out == "bf16" else torch.float16
    torch.manual_seed(n + k)
    g = (torch.randn(n, k) * 0.05).reshape(-1, group)
    lo, hi = g.amin(1, keepdim=True), g.amax(1, keepdim=True)
    s = (hi - lo).clamp(min=1e-6) / 15
    q = (g.sub(lo).div(s).round().clamp(0, 15) - 8).to(torch.int8).reshape(n, k)
    scale = s.view(n, -1).t().contiguous().to(tdt)
    zero = (lo + 8 * s).view(n, -1).t().contiguous().to(tdt)
    qdata = ((q[:, 1::2] << 4) | (q[:, ::2] & 0xF)).to(torch.uint8)
    spec, packed = torchao_compat.convert(qgemm.Int4WeightOnlyConfig(group_size=group),
                                          "Int4Tensor", {"qdata": qdata, "scale": scale,
                                                         "zero_point": zero}, act_dtype=tdt)
    if spec.zero_point != "float":
        raise AssertionError(f"converted to zero_point={spec.zero_point!r}, not float")
    packed_np = {b: t.contiguous().view(torch.uint8).numpy() for b, t in packed.items()}
    p = {b: t.to(DEV) for b, t in packed.items()}
    for m in ms:
        x = torch.randn(m, k, dtype=tdt, device=DEV)
        c = ops.linear(x, spec, p)
        ref = host.reference_gemm(spec, x.cpu().view(torch.int16).numpy().view(np.uint16),
                                  packed_np)
        sync()
        assert_close(c, ref, f"w4a16 float zero points M={m} N={n} K={k} g{group} {out}")
    d = torch.ops.qgemm.dequantize_weight(p["weight"], p["scale"], p["zero"], None, "w4a16", n,
                                          k, group, True, False, tdt, True)
    h = torch.from_numpy(host.dequantize_weight(spec, packed_np))
    if not torch.equal(d.cpu().float(), h):
        bad = int((d.cpu().float() != h).sum())
        raise AssertionError(f"GPU dequantize differs from the host rule in {bad} values")


def small_model(cfg, k=512, hidden=1024, n=256):
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(k, hidden), torch.nn.SiLU(),
                            torch.nn.Linear(hidden, n, bias=False)).to(DEV, torch.bfloat16)
    return qgemm.quantize_(m, cfg)


GRAPH_CFGS = {
    "fp8dq": lambda: qgemm.Float8DynamicActivationFloat8WeightConfig(granularity=qgemm.PerRow()),
    "int8dq": lambda: qgemm.Int8DynamicActivationInt8WeightConfig(),
    "int4wo": lambda: qgemm.Int4WeightOnlyConfig(group_size=128),
    "w4a8": lambda: qgemm.Int8DynamicActivationInt4WeightConfig(group_size=128),
}


def graph_case(cname):
    m = small_model(GRAPH_CFGS[cname]())
    qgemm.prepare(m, [4])
    x = torch.randn(4, 512, dtype=torch.bfloat16, device=DEV)
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s), torch.no_grad():
        m(x)
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.no_grad(), torch.cuda.graph(g):
        y = m(x)
    for i in range(3):
        x.copy_(torch.randn(4, 512, dtype=torch.bfloat16, device=DEV))
        g.replay()
        with torch.no_grad():
            ye = m(x)
        torch.cuda.synchronize()
        if not torch.equal(y, ye):
            raise AssertionError(f"replay {i}: graph output differs from eager "
                                 f"(max {float((y.float() - ye.float()).abs().max()):.3g})")


def unprepared_capture_case():
    m = small_model(GRAPH_CFGS["fp8dq"]())
    x = torch.randn(3, 512, dtype=torch.bfloat16, device=DEV)  # M=3 never prepared
    g = torch.cuda.CUDAGraph()
    try:
        with torch.no_grad(), torch.cuda.graph(g):
            m(x)
    except RuntimeError as e:
        if "prepare" not in str(e):
            raise AssertionError(f"unexpected error: {e}") from e
    else:
        raise AssertionError("capturing an unprepared M did not raise")
    with torch.no_grad():  # the device is still usable, and eager use plans it
        y = m(x)
    torch.cuda.synchronize()
    if not torch.isfinite(y.float()).all():
        raise AssertionError("eager call after the refused capture gave non-finite output")


def compile_case(cname, mode):
    m = small_model(GRAPH_CFGS[cname]())
    qgemm.prepare(m, [1, 8, 16])
    torch._dynamo.reset()
    cm = torch.compile(m, fullgraph=True, mode=mode)
    with torch.no_grad():
        for mm in (8, 16, 1, 8):
            x = torch.randn(mm, 512, dtype=torch.bfloat16, device=DEV)
            yc = cm(x)
            ye = m(x)
            sync()
            if not torch.equal(yc, ye):
                raise AssertionError(f"M={mm}: compiled ({mode}) differs from eager by "
                                     f"{float((yc.float() - ye.float()).abs().max()):.3g}")


def opcheck_case(scheme, kw):
    spec = WeightSpec(scheme, 128, 256, **kw)
    packed_np = host.quantize_weight(spec, host.random_weight(128, 256))
    p = to_dev(packed_np)
    x = torch.randn(8, 256, dtype=torch.bfloat16, device=DEV)
    tests = ("test_schema", "test_autograd_registration", "test_faketensor",
             "test_aot_dispatch_dynamic")
    if spec.dynamic:
        qd = torch.float8_e4m3fn if spec.act_qdtype == "fp8_e4m3" else torch.int8
        torch.library.opcheck(torch.ops.qgemm.quantize_activations.default, (x, qd, False))
        a, s = torch.ops.qgemm.quantize_activations(x, qd, False)
        if qd == torch.float8_e4m3fn:  # test_schema compares inputs with allclose: no fp8 math
            tests = tests[1:]
    else:
        a, s = x, None
    bias = torch.randn(128, dtype=torch.bfloat16, device=DEV)
    op = getattr(torch.ops.qgemm, ops.op_name(scheme)).default
    gemm_args = (a, s, p["weight"], p.get("scale"), p.get("zero"), p.get("meta"), bias, 128,
                 spec.group_size, False, False, torch.bfloat16)
    deq_args = (p["weight"], p.get("scale"), p.get("zero"), p.get("meta"), scheme, 128, 256,
                spec.group_size, spec.zero_point, False, torch.bfloat16)
    op(*gemm_args)  # a missing kernel surfaces here as UnsupportedError (skip), not in opcheck
    torch.library.opcheck(op, gemm_args, test_utils=tests)
    try:
        torch.ops.qgemm.dequantize_weight(*deq_args)
    except qgemm.UnsupportedError as e:
        print(f"     (dequantize_weight not checked: {e})")
    else:
        torch.library.opcheck(torch.ops.qgemm.dequantize_weight.default, deq_args)


def no_sync_case():
    m = small_model(GRAPH_CFGS["fp8dq"]())
    qgemm.prepare(m, [4])
    x = torch.randn(4, 512, dtype=torch.bfloat16, device=DEV)
    with torch.no_grad():
        m(x)
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            m(x)
        finally:
            torch.cuda.set_sync_debug_mode("default")


def stream_case():
    m = small_model(GRAPH_CFGS["int8dq"]())
    x = torch.randn(16, 512, dtype=torch.bfloat16, device=DEV)
    with torch.no_grad():
        ref = m(x)
        s = torch.cuda.Stream()
        with torch.cuda.stream(s):
            xs = torch.randn(16, 512, dtype=torch.bfloat16, device=DEV)  # made on s
            xs.copy_(x)
            torch.cuda._sleep(20_000_000)  # keep s busy: a kernel on another stream would race
            ys = m(xs)
        torch.cuda.current_stream().wait_stream(s)
        torch.cuda.synchronize()
    if not torch.equal(ys, ref):
        raise AssertionError("output computed on a side stream differs (kernel not on the "
                             "current stream?)")


def save_load_case():
    from transformers import LlamaConfig, AutoModelForCausalLM

    cfg = LlamaConfig(vocab_size=1024, hidden_size=256, intermediate_size=512,
                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
    torch.manual_seed(0)
    with torch.device(DEV):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16).eval()
    qc = qgemm.ModuleFqnToConfig({
        "_default": GRAPH_CFGS["int8dq"](),
        "model.layers.0.mlp.down_proj": GRAPH_CFGS["fp8dq"](),
        "lm_head": None})
    qgemm.quantize_(model, qc)
    ids = torch.randint(0, 1024, (2, 12), device=DEV)
    with torch.no_grad():
        y = model(input_ids=ids).logits
    with tempfile.TemporaryDirectory() as d:
        qgemm.save_pretrained(model, d)
        m2 = qgemm.from_pretrained(d, device=DEV)
        with torch.no_grad():
            y2 = m2(input_ids=ids).logits
        if not torch.equal(y, y2):
            raise AssertionError("reloaded model's logits differ")
        import json
        with open(os.path.join(d, "config.json")) as f:
            qcfg = json.load(f)["quantization_config"]
        if qgemm.from_hf_quantization_config(qcfg) != qc:
            raise AssertionError("config.json quantization_config does not round-trip")
        # A flipped byte in a packed buffer is caught.
        path = os.path.join(d, "model.safetensors")
        flip_byte(path, "model.layers.0.mlp.down_proj.qweight")
        try:
            qgemm.from_pretrained(d, device=DEV)
        except qgemm.SerializationError as e:
            if "corrupt" not in str(e) and "CRC" not in str(e):
                raise AssertionError(f"unclear error: {e}") from e
        else:
            raise AssertionError("a corrupted file loaded")


def flip_byte(path, tensor):
    """Flip one byte in the middle of a tensor's data in a safetensors file."""
    import json
    import struct

    raw = bytearray(open(path, "rb").read())
    (n,) = struct.unpack("<Q", raw[:8])
    begin, end = json.loads(raw[8:8 + n])[tensor]["data_offsets"]
    raw[8 + n + (begin + end) // 2] ^= 0x5A
    open(path, "wb").write(bytes(raw))


def error_case():
    spec = WeightSpec("w8a8-int8", 128, 256)
    p = to_dev(host.quantize_weight(spec, host.random_weight(128, 256)))
    q = torch.zeros(4, 256, dtype=torch.int8, device=DEV)
    s = torch.ones(4, device=DEV)
    try:  # packed buffer of the wrong size
        torch.ops.qgemm.gemm_w8a8_int8(q, s, p["weight"][:-1], p["scale"], None, None, None,
                                       128, 0, False, False, torch.bfloat16)
    except ValueError as e:
        if "bytes" not in str(e):
            raise
    else:
        raise AssertionError("wrong packed size accepted")
    try:  # bf16 activations to a dynamic scheme
        torch.ops.qgemm.gemm_w8a8_int8(q.bfloat16(), s, p["weight"], p["scale"], None, None,
                                       None, 128, 0, False, False, torch.bfloat16)
    except ValueError:
        pass
    else:
        raise AssertionError("bf16 activations accepted by w8a8-int8")
    ctx = qgemm.get_context(0)
    info = ctx.info()
    if not info.name:
        raise AssertionError("device info has no name")
    expl = ctx.explain(spec.problem(16))
    if not expl:
        raise AssertionError("qg_explain returned nothing")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer shapes")
    ap.add_argument("--only", default="", help="run checks whose name contains this")
    ap.add_argument("--device", default="cuda", help="cpu: check the script on the host ops")
    args = ap.parse_args()
    global DEV
    DEV = torch.device(args.device)
    cuda = DEV.type == "cuda"
    if cuda and not torch.cuda.is_available():
        print("no CUDA device: skipping the Python GPU tests")
        print("0 passed, 0 failed")
        return 0
    if cuda:
        ctx = qgemm.get_context(0)
        info = ctx.info()
        cache = qgemm._lib.lib().qg_context_cache_dir(ctx.handle).decode()
        print(f"{info.name.decode()} ({info.arch.decode()}), torch {torch.__version__}, qgemm "
              f"{qgemm.version()} ({qgemm.library_path()}), JIT cache {cache or 'off'}",
              flush=True)
    else:
        print(f"device {DEV} (tests the script; CUDA-only checks skipped)", flush=True)
    shapes = [(256, 512)] if args.quick else [(256, 512), (1000, 1024)]
    ms = [1, 16] if args.quick else [1, 5, 16, 64, 300]
    checks = []
    for scheme, kw in VARIANTS:
        for n, k in shapes:
            checks.append((f"gemm {variant_name(scheme, kw)} N={n} K={k}", gemm_case,
                           scheme, kw, n, k, ms))
    checks.append(("gemm w8a8-fp8 +bias", gemm_case, "w8a8-fp8", {}, 256, 512, [1, 33], True))
    checks.append(("gemm w4a16 +bias", gemm_case, "w4a16", dict(group_size=128), 256, 512,
                   [1, 33], True))
    checks.append(("gemm w8a8-int8 fp16 out", gemm_case, "w8a8-int8", {}, 256, 512, [1, 33],
                   False, "f16"))
    checks.append(("gemm w4a16 fp16", gemm_case, "w4a16", dict(group_size=128), 256, 512,
                   [1, 33], False, "f16"))
    for n, k, group, out in ((256, 512, 128, "bf16"), (1000, 1024, 32, "f16"),
                             (4096, 4096, 128, "bf16")):
        checks.append((f"gemm w4a16 float zero points N={n} K={k} g{group} {out}",
                       float_zero_point_case, n, k, group, ms, out))
    for scheme, kw in VARIANTS[::2] + [VARIANTS[1]]:
        checks.append((f"dequantize {variant_name(scheme, kw)}", dequant_case, scheme, kw,
                       256, 512))
    for c in GRAPH_CFGS:
        checks.append((f"cuda graph capture {c}", graph_case, c))
    checks.append(("capture of an unprepared M is refused", unprepared_capture_case))
    for c in ("fp8dq", "int4wo"):
        checks.append((f"torch.compile fullgraph {c} (inductor)", compile_case, c, None))
        checks.append((f"torch.compile fullgraph {c} reduce-overhead", compile_case, c,
                       "reduce-overhead"))
    for scheme, kw in (("w8a8-fp8", {}), ("w8a8-int8", {}), ("w4a16", dict(group_size=128)),
                       ("w4a8-int8", dict(group_size=128)), ("sp24-bf16", {})):
        checks.append((f"opcheck {scheme} (cuda)", opcheck_case, scheme, kw))
    checks.append(("no host sync in forward (sync debug mode)", no_sync_case))
    checks.append(("kernels run on the current stream", stream_case))
    checks.append(("save_pretrained / from_pretrained / corrupt file", save_load_case))
    checks.append(("error mapping and context info", error_case))
    cuda_only = ("cuda graph", "unprepared", "reduce-overhead", "host sync", "current stream",
                 "error mapping")
    for name, fn, *a in checks:
        if args.only not in name:
            continue
        if not cuda and any(c in name for c in cuda_only):
            continue
        run(name, fn, *a)
    n_pass = sum(1 for s, _ in RESULTS if s == "PASS")
    n_fail = sum(1 for s, _ in RESULTS if s == "FAIL")
    n_skip = sum(1 for s, _ in RESULTS if s == "SKIP")
    if n_fail:
        print("failed:")
        for s, n in RESULTS:
            if s == "FAIL":
                print("  " + n)
    print(f"{n_pass} passed, {n_fail} failed, {n_skip} skipped")
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
