"""The C library's host packers, unpackers, activation quantizer and reference GEMM, each held
against an independent numpy implementation of docs/formats.md / dynact.h (src/) on random data."""
import numpy as np
import pytest

import qgemm
from qgemm import host
from qgemm.spec import SCHEME_INFO, WeightSpec

E4M3_MAX, INT8_MAX = np.float32(448.0), np.float32(127.0)


def f32(x):
    return np.float32(x)


# ---------------------------------------------------------------- scalar conversions


def test_bf16_rounding_matches_library(lib, rng):
    x = np.concatenate([
        rng.standard_normal(2000).astype(np.float32) * 10.0 ** rng.integers(-30, 30, 2000),
        # exact ties: low 16 bits 0x8000, with even and odd upper parts
        (np.arange(64, dtype=np.uint32) << 16 | 0x3F800000 | 0x8000).view(np.float32),
        np.array([0.0, -0.0, np.inf, -np.inf, 3.3895314e38], dtype=np.float32)])
    got = host.f32_to_bf16_bits(x)
    want = np.array([lib.qg_f32_to_bf16(float(v)) for v in x], dtype=np.uint16)
    assert np.array_equal(got, want)
    back = host.bf16_bits_to_f32(want)
    assert np.array_equal(back, np.array([lib.qg_bf16_to_f32(int(b)) for b in want],
                                         dtype=np.float32))
    nan = host.f32_to_bf16_bits(np.array([np.nan], dtype=np.float32))
    assert np.isnan(host.bf16_bits_to_f32(nan)[0])
    assert np.isnan(lib.qg_bf16_to_f32(lib.qg_f32_to_bf16(float("nan"))))


def test_f16_rounding_matches_library(lib, rng):
    x = (rng.standard_normal(2000) * 10.0 ** rng.integers(-6, 5, 2000)).astype(np.float32)
    got = host.f32_to_f16_bits(x)
    want = np.array([lib.qg_f32_to_f16(float(v)) for v in x], dtype=np.uint16)
    assert np.array_equal(got, want)


def test_e4m3_decode_table_matches_library(lib):
    for b in range(256):
        want = lib.qg_e4m3_to_f32(b)
        got = host.E4M3_VALUES[b]
        assert (np.isnan(want) and np.isnan(got)) or want == got, b
    assert host.E4M3_VALUES[0x7E] == 448.0 and host.E4M3_VALUES[0x01] == 2.0 ** -9


def test_e4m3_encode_matches_library(lib, rng):
    finite = host.E4M3_VALUES[:0x7F].astype(np.float64)
    mids = ((finite[:-1] + finite[1:]) / 2).astype(np.float32)  # exact ties
    x = np.concatenate([
        (rng.standard_normal(3000) * 10.0 ** rng.integers(-4, 3, 3000)).astype(np.float32),
        mids, -mids, np.array([0.0, -0.0, 448.0, 460.0, 464.0, 1e6, -1e6, 2.0 ** -10],
                              dtype=np.float32)])
    got = host.f32_to_e4m3(x)
    want = np.array([lib.qg_f32_to_e4m3(float(v)) for v in x], dtype=np.uint8)
    bad = np.nonzero(got != want)[0]
    assert bad.size == 0, [(float(x[i]), int(got[i]), int(want[i])) for i in bad[:5]]


# ---------------------------------------------------------------- numpy packers


def np_w8(w, fp8, per_tensor):
    """W8A8: codes [N, K] bytes and f32 scales, symmetric absmax (scheme_w8a8.c rule)."""
    qmax = E4M3_MAX if fp8 else INT8_MAX
    amax = np.abs(w).max(axis=1) if not per_tensor else np.full(w.shape[0], np.abs(w).max())
    s = np.where(amax > 0, amax.astype(np.float32) / qmax, f32(1)).astype(np.float32)
    v = (w / s[:, None]).astype(np.float32)
    codes = host.f32_to_e4m3(v) if fp8 else np.clip(np.rint(v), -127, 127).astype(np.int8)
    return codes.view(np.uint8).reshape(-1), (s[:1] if per_tensor else s)


def w4a8_int8_byte(k):
    """dynact.h: per 128-column block (64 bytes), byte 16*t + 4*s + j holds k = 32*s + 4*t + j
    (low nibble) and k = 32*s + 16 + 4*t + j (high nibble)."""
    blk, r = k >> 7, k & 127
    s, w = r >> 5, r & 31
    hi = w >> 4
    t, j = (w & 15) >> 2, w & 3
    return blk * 64 + 16 * t + 4 * s + j, hi


def np_w4a8(w, fp8, group):
    n, k = w.shape
    gl = group or k
    g = w.reshape(n, k // gl, gl)
    amax = np.abs(g).max(axis=2)
    s = np.where(amax > 0, amax / f32(7.5), f32(1)).astype(np.float32)
    v = np.clip(np.rint((g / s[:, :, None]).astype(np.float32)), -8, 7).astype(np.int64)
    v = v.reshape(n, k)
    kk = np.arange(k)
    if fp8:
        byte, hi = kk >> 1, kk & 1
    else:
        byte, hi = w4a8_int8_byte(kk)
    out = np.zeros((n, k // 2), dtype=np.uint8)
    nib = (v & 0xF).astype(np.uint8) << (4 * hi).astype(np.uint8)
    for j in range(k):
        out[:, byte[j]] |= nib[:, j]
    return out.reshape(-1), s.reshape(-1)


@pytest.mark.parametrize("fp8", [True, False])
@pytest.mark.parametrize("per_tensor", [False, True])
@pytest.mark.parametrize("n,k", [(7, 16), (65, 96), (128, 256)])
def test_w8a8_packer_matches_numpy(lib, rng, fp8, per_tensor, n, k):
    w = (rng.standard_normal((n, k)) * 0.05).astype(np.float32)
    w[0, :3] = [0.3, -0.31, 0.0]  # a row whose absmax is an outlier
    spec = WeightSpec("w8a8-fp8" if fp8 else "w8a8-int8", n, k,
                      weight_scale="per_tensor" if per_tensor else "per_row")
    packed = host.quantize_weight(spec, w)
    codes, scales = np_w8(w, fp8, per_tensor)
    assert np.array_equal(packed["weight"], codes)
    assert np.array_equal(packed["scale"].view(np.float32), scales)
    # unpack: code * scale
    dq = host.dequantize_weight(spec, packed)
    dec = host.e4m3_to_f32(codes) if fp8 else codes.view(np.int8).astype(np.float32)
    s_full = np.repeat(scales, n) if per_tensor else scales
    assert np.array_equal(dq, (dec.reshape(n, k) * s_full[:, None]).astype(np.float32))


def test_w8a8_all_zero_row_gets_scale_one(lib):
    w = np.zeros((4, 32), dtype=np.float32)
    w[1] = np.linspace(-1, 1, 32)
    p = host.quantize_weight(WeightSpec("w8a8-int8", 4, 32), w)
    s = p["scale"].view(np.float32)
    assert s[0] == 1.0 and s[1] == np.float32(1.0) / INT8_MAX
    assert not p["weight"].reshape(4, 32)[0].any()


@pytest.mark.parametrize("scheme,group", [("w4a8-fp8", 128), ("w4a8-int8", 32),
                                          ("w4a8-int8", 64), ("w4a8-int8", 128),
                                          ("w4a8-int8", 0)])
@pytest.mark.parametrize("n,k", [(3, 128), (33, 384)])
def test_w4a8_packer_matches_numpy(lib, rng, scheme, group, n, k):
    w = (rng.standard_normal((n, k)) * 0.02).astype(np.float32)
    spec = WeightSpec(scheme, n, k, group_size=group)
    packed = host.quantize_weight(spec, w)
    codes, scales = np_w4a8(w, scheme == "w4a8-fp8", group)
    assert np.array_equal(packed["scale"].view(np.float32), scales)
    assert np.array_equal(packed["weight"], codes)


def np_prune24(w):
    """Keep the 2 largest |w| of every 4 consecutive K elements (ties to the lower index)."""
    n, k = w.shape
    c = w.reshape(n, k // 4, 4)
    order = np.argsort(-np.abs(c), axis=2, kind="stable")[:, :, :2]
    mask = np.zeros_like(c, dtype=bool)
    np.put_along_axis(mask, order, True, axis=2)
    return np.where(mask, c, 0).reshape(n, k), mask.reshape(n, k)


@pytest.mark.parametrize("scheme", ["sp24-bf16", "sp24-int8", "sp24-fp8"])
@pytest.mark.parametrize("n,k", [(5, 64), (70, 192)])
def test_sp24_unpacks_to_numpy_pruned_quantized_weight(lib, rng, scheme, n, k):
    w = (rng.standard_normal((n, k)) * 0.05).astype(np.float32)
    w[0, 4:8] = [0.01, -0.02, 0.02, 0.005]  # a tie in magnitude: the lower index is kept
    spec = WeightSpec(scheme, n, k)
    packed = host.quantize_weight(spec, w)
    pruned, mask = np_prune24(w)
    assert mask[0, 4:8].tolist() == [False, True, True, False]
    dq = host.dequantize_weight(spec, packed)
    if scheme == "sp24-bf16":
        want = host.bf16_bits_to_f32(host.f32_to_bf16_bits(pruned))
    else:
        codes, s = np_w8(pruned, scheme == "sp24-fp8", False)
        dec = host.e4m3_to_f32(codes) if scheme == "sp24-fp8" else \
            codes.view(np.int8).astype(np.float32)
        want = (dec.reshape(n, k) * s[:, None]).astype(np.float32)
        assert np.array_equal(packed["scale"].view(np.float32), s)
    assert np.array_equal(dq, want)
    assert (dq.reshape(n, k // 4, 4) != 0).sum(axis=2).max() <= 2


# ---------------------------------------------------------------- every scheme, generically

SPECS = [
    ("w4a16", dict(group_size=128, zero_point=True)),
    ("w4a16", dict(group_size=32)),
    ("w8a16", dict()),
    ("w8a8-int8", dict()),
    ("w8a8-fp8", dict(weight_scale="per_tensor", act_scale="per_tensor")),
    ("w4a8-fp8", dict(group_size=128)),
    ("w4a8-int8", dict(group_size=32)),
    ("sp24-fp8", dict()),
    ("sp24-int8", dict()),
    ("sp24-bf16", dict()),
]
# Largest error of one dequantized weight, relative to its row's absmax (4-bit: half a step of
# 1/7.5 of the group absmax (w4a8), 1/7 with w4a16's symmetric scale max(max/7, -min/8) rounded
# up to bf16, or 1/15 of the range with zero points; 8-bit: half of 1/127; e4m3: 2^-4 relative;
# 16-bit: bf16 rounding). Pruned 2:4 weights are compared after pruning.
ERR = {"w4a16": 0.0725, "w8a16": 0.0041, "w8a8-int8": 0.0041, "w8a8-fp8": 0.0626,
       "w4a8-fp8": 0.0701, "w4a8-int8": 0.0701, "sp24-fp8": 0.0626, "sp24-int8": 0.0041,
       "sp24-bf16": 0.004}


def make_spec(scheme, kw, n, k):
    spec = WeightSpec(scheme, n, k, **kw)
    try:
        spec.sizes()
    except qgemm.UnsupportedError as e:
        pytest.skip(f"{scheme}: {e}")
    return spec


@pytest.mark.parametrize("scheme,kw", SPECS)
def test_dequantization_error_is_bounded(lib, rng, scheme, kw):
    n, k = 33, 256
    spec = make_spec(scheme, kw, n, k)
    w = (rng.standard_normal((n, k)) * 0.03).astype(np.float32)
    dq = host.dequantize_weight(spec, host.quantize_weight(spec, w))
    ref = np_prune24(w)[0] if SCHEME_INFO[scheme]["sparse24"] else w
    rowmax = np.abs(ref).max(axis=1, keepdims=True)
    if spec.weight_scale == "per_tensor":
        rowmax[:] = np.abs(ref).max()
    err = np.abs(dq - ref) / rowmax
    assert err.max() <= ERR[scheme], err.max()
    assert np.abs(dq).max() > 0


@pytest.mark.parametrize("scheme,kw", SPECS)
def test_bf16_input_packs_like_float(lib, rng, scheme, kw):
    n, k = 16, 128
    spec = make_spec(scheme, kw, n, k)
    bits = host.f32_to_bf16_bits((rng.standard_normal((n, k)) * 0.03).astype(np.float32))
    a = host.quantize_weight_bf16(spec, bits)
    b = host.quantize_weight(spec, host.bf16_bits_to_f32(bits))
    for name in a:
        assert np.array_equal(a[name], b[name]), name


def np_act_quant(a32, qdtype, per_tensor):
    """dynact.h (src/catalog/schemes/): scale = max(absmax / QMAX, 1e-12) in float32; q = rn(x / scale)."""
    qmax = E4M3_MAX if qdtype == "fp8_e4m3" else INT8_MAX
    amax = np.abs(a32).max(axis=1) if not per_tensor else np.array([np.abs(a32).max()])
    s = np.maximum((amax.astype(np.float32) / qmax).astype(np.float32), f32(1e-12))
    v = (a32 / (s[0] if per_tensor else s[:, None])).astype(np.float32)
    if qdtype == "fp8_e4m3":
        q = host.f32_to_e4m3(v)
    else:
        q = np.clip(np.rint(v), -128, 127).astype(np.int8).view(np.uint8)
    return q, s.astype(np.float32)


@pytest.mark.parametrize("scheme", ["w8a8-fp8", "w8a8-int8", "w4a8-int8"])
@pytest.mark.parametrize("per_tensor", [False, True])
@pytest.mark.parametrize("act", ["bf16", "f16"])
def test_activation_quantizer_matches_numpy(lib, rng, scheme, per_tensor, act):
    m, k = 9, 128
    spec = WeightSpec(scheme, 16, k, group_size=32 if "w4" in scheme else 0, act_dtype=act,
                      act_scale="per_tensor" if per_tensor else "per_row")
    x = (rng.standard_normal((m, k)) * 3).astype(np.float32)
    x[2] = 0  # an all-zero token: scale floor, codes zero
    bits = host.f32_to_bf16_bits(x) if act == "bf16" else host.f32_to_f16_bits(x)
    x32 = host.bf16_bits_to_f32(bits) if act == "bf16" else host.f16_bits_to_f32(bits)
    q, s = host.quantize_activations(spec, bits)
    wq, ws = np_act_quant(x32, spec.act_qdtype, per_tensor)
    assert np.array_equal(s, ws)
    assert np.array_equal(q, wq)
    if not per_tensor:
        assert s[2] == np.float32(1e-12) and not q[2].any()


def decode_act(codes, qdtype):
    return host.e4m3_to_f32(codes).astype(np.float64) if qdtype == "fp8_e4m3" else \
        codes.view(np.int8).astype(np.float64)


@pytest.mark.parametrize("scheme,kw", SPECS)
@pytest.mark.parametrize("m", [1, 6])
@pytest.mark.parametrize("bias", [False, True])
def test_reference_gemm_matches_numpy(lib, rng, scheme, kw, m, bias):
    n, k = 65, 256
    spec = make_spec(scheme, kw, n, k)
    w = (rng.standard_normal((n, k)) * 0.03).astype(np.float32)
    packed = host.quantize_weight(spec, w)
    wd = host.dequantize_weight(spec, packed).astype(np.float64)
    a_bits = host.f32_to_bf16_bits(rng.standard_normal((m, k)).astype(np.float32))
    b_bits = host.f32_to_bf16_bits(rng.standard_normal(n).astype(np.float32)) if bias else None
    if spec.dynamic:
        q, s = host.quantize_activations(spec, a_bits)
        c = host.reference_gemm(spec, q, packed, a_scale=s, bias=b_bits)
        a = decode_act(q, spec.act_qdtype) * (s[0] if len(s) == 1 else s[:, None])
    else:
        c = host.reference_gemm(spec, a_bits, packed, bias=b_bits)
        a = host.bf16_bits_to_f32(a_bits).astype(np.float64)
    want = a @ wd.T
    if bias:
        want += host.bf16_bits_to_f32(b_bits)
    assert c.shape == (m, n)
    np.testing.assert_allclose(c, want, rtol=1e-6, atol=1e-6 * np.abs(want).max())


# ---------------------------------------------------------------- argument checking


def test_packed_size_mismatch_is_refused(lib, rng):
    spec = WeightSpec("w8a8-int8", 16, 64)
    p = host.quantize_weight(spec, (rng.standard_normal((16, 64))).astype(np.float32))
    p["weight"] = p["weight"][:-1].copy()
    with pytest.raises(ValueError, match="bytes"):
        host.dequantize_weight(spec, p)
    with pytest.raises(ValueError, match="spec says"):
        host.quantize_weight(spec, np.zeros((16, 32), dtype=np.float32))


def test_reference_gemm_checks_inputs(lib, rng):
    spec = WeightSpec("w8a8-fp8", 16, 64)
    p = host.quantize_weight(spec, (rng.standard_normal((16, 64))).astype(np.float32))
    q = np.zeros((2, 64), dtype=np.uint8)
    with pytest.raises(ValueError, match="a_scale"):
        host.reference_gemm(spec, q, p)
    with pytest.raises(ValueError, match="quantized activations"):
        host.reference_gemm(spec, np.zeros((2, 64), dtype=np.uint16), p,
                            a_scale=np.ones(2, np.float32))
    with pytest.raises(ValueError, match="a_scale has"):
        host.reference_gemm(spec, q, p, a_scale=np.ones(3, np.float32))


def test_weight_spec_validation():
    with pytest.raises(ValueError, match="unknown scheme"):
        WeightSpec("w2a2", 4, 4)
    with pytest.raises(ValueError, match="bf16 or f16"):
        WeightSpec("w4a16", 4, 128, act_dtype="f32")
    with pytest.raises(ValueError, match="per_row or per_tensor"):
        WeightSpec("w8a8-fp8", 4, 16, weight_scale="per_group")
    with pytest.raises(ValueError, match="N, K > 0"):
        WeightSpec("w8a8-fp8", 0, 16)
    assert WeightSpec("w8a8-fp8", 4, 16, group_size=128).group_size == 0  # no groups: 0
    s = WeightSpec("w4a8-int8", 4, 128, group_size=32)
    assert WeightSpec.from_dict(s.to_dict()) == s
    with pytest.raises(ValueError, match="unknown fields"):
        WeightSpec.from_dict(dict(s.to_dict(), bits=3))
