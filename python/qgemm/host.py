"""Host-side (CPU) packing, unpacking and reference GEMM over numpy arrays: the library's
qg_quantize_weight, qg_dequantize_weight_host, qg_quantize_activations_host and
qg_reference_gemm. No GPU and no torch needed. Packed weights are dicts of the four buffers of
qg_packed_weight ('weight', 'scale', 'zero', 'meta'), each a 1-D uint8 array (empty when the
scheme has no such buffer), byte for byte as docs/formats.md defines them.

Also numpy versions of the scalar conversions (bf16, f16, e4m3), written independently of the
library so tests can hold one against the other."""

import ctypes

import numpy as np

from . import _lib
from .spec import BUFFERS, WeightSpec


def _ptr(a):
    return a.ctypes.data if a is not None and a.size else None


def empty_packed(spec):
    """Zero-filled buffers of the right sizes for a spec."""
    return {name: np.zeros(nbytes, dtype=np.uint8) for name, nbytes in spec.sizes().items()}


def check_packed(spec, packed):
    """Raise ValueError unless `packed` holds exactly the buffers the spec needs, as contiguous
    uint8 arrays of the exact sizes (the C calls read that many bytes)."""
    sizes = spec.sizes()
    if set(packed) - set(BUFFERS):
        raise ValueError(f"unknown packed buffers {sorted(set(packed) - set(BUFFERS))}")
    for name in BUFFERS:
        want = sizes[name]
        a = packed.get(name)
        have = 0 if a is None else a.nbytes
        if have != want:
            raise ValueError(f"{spec.scheme} N={spec.n} K={spec.k}: packed '{name}' has {have} "
                             f"bytes, the format needs {want}")
        if a is not None and a.size and (a.dtype != np.uint8 or not a.flags.c_contiguous):
            raise ValueError(f"packed '{name}' must be a contiguous uint8 array")


def _packed_struct(packed):
    return _lib.PackedWeight(*[_ptr(packed.get(n)) for n in BUFFERS])


def quantize_weight(spec, w):
    """Quantize and pack a float weight [N, K] (float32/float64/float16 array) on the host."""
    w = np.asarray(w)
    if w.shape != (spec.n, spec.k):
        raise ValueError(f"weight is {w.shape}, spec says ({spec.n}, {spec.k})")
    if w.dtype == np.uint16:
        return quantize_weight_bf16(spec, w)
    w = np.ascontiguousarray(w, dtype=np.float32)
    packed = empty_packed(spec)
    pw = _packed_struct(packed)
    p = spec.problem()
    _lib.check(_lib.lib().qg_quantize_weight(ctypes.byref(p), w.ctypes.data, spec.k,
                                             ctypes.byref(pw)))
    return packed


def quantize_weight_bf16(spec, w_bits):
    """Same, from bf16 weights given as their uint16 bit patterns [N, K]."""
    w_bits = np.ascontiguousarray(w_bits, dtype=np.uint16)
    if w_bits.shape != (spec.n, spec.k):
        raise ValueError(f"weight is {w_bits.shape}, spec says ({spec.n}, {spec.k})")
    packed = empty_packed(spec)
    pw = _packed_struct(packed)
    p = spec.problem()
    _lib.check(_lib.lib().qg_quantize_weight_bf16(ctypes.byref(p), w_bits.ctypes.data, spec.k,
                                                  ctypes.byref(pw)))
    return packed


def dequantize_weight(spec, packed):
    """Unpack and dequantize to float32 [N, K] (qg_dequantize_weight_host)."""
    check_packed(spec, packed)
    out = np.empty((spec.n, spec.k), dtype=np.float32)
    pw = _packed_struct(packed)
    p = spec.problem()
    _lib.check(_lib.lib().qg_dequantize_weight_host(ctypes.byref(p), ctypes.byref(pw),
                                                    out.ctypes.data, spec.k))
    return out


def quantize_activations(spec, a_bits):
    """Per-token (or per-tensor, spec.act_scale) activation quantization on the host, the CPU
    twin of the GPU kernel: a [M, K] as uint16 bits of spec.act_dtype -> (q uint8 [M, K] of
    e4m3 bits or int8 bytes, scale float32 [M] or [1])."""
    a_bits = np.ascontiguousarray(a_bits, dtype=np.uint16)
    if a_bits.ndim != 2 or a_bits.shape[1] != spec.k:
        raise ValueError(f"activations are {a_bits.shape}, expected [M, {spec.k}]")
    m = a_bits.shape[0]
    q = np.empty((m, spec.k), dtype=np.uint8)
    scale = np.empty(1 if spec.act_scale == "per_tensor" else m, dtype=np.float32)
    p = spec.problem(m)
    _lib.check(_lib.lib().qg_quantize_activations_host(ctypes.byref(p), a_bits.ctypes.data,
                                                       q.ctypes.data, scale.ctypes.data))
    return q, scale


def reference_gemm(spec, a, packed, a_scale=None, bias=None):
    """float64 reference C = A * W^T (+ bias) reading the packed format (qg_reference_gemm).
    `a` is [M, K]: uint16 bits of spec.act_dtype for weight-only schemes, or uint8 codes (e4m3
    bits / int8 bytes) with `a_scale` float32 [M] or [1] for dynamic-activation schemes.
    `bias` is uint16 bits [N] of spec.out_dtype, or None. Returns float64 [M, N]."""
    check_packed(spec, packed)
    a = np.ascontiguousarray(a)
    if a.ndim != 2 or a.shape[1] != spec.k:
        raise ValueError(f"activations are {a.shape}, expected [M, {spec.k}]")
    m = a.shape[0]
    if spec.dynamic:
        if a.dtype not in (np.uint8, np.int8):
            raise ValueError(f"{spec.scheme} takes quantized activations (uint8/int8 codes)")
        if a_scale is None:
            raise ValueError(f"{spec.scheme} needs a_scale")
        a_scale = np.ascontiguousarray(a_scale, dtype=np.float32)
        want = 1 if spec.act_scale == "per_tensor" else m
        if a_scale.size != want:
            raise ValueError(f"a_scale has {a_scale.size} values, expected {want}")
    elif a.dtype != np.uint16:
        raise ValueError(f"{spec.scheme} takes 16-bit activations as uint16 bit patterns")
    if bias is not None:
        bias = np.ascontiguousarray(bias, dtype=np.uint16)
        if bias.shape != (spec.n,):
            raise ValueError(f"bias is {bias.shape}, expected ({spec.n},)")
    c = np.empty((m, spec.n), dtype=np.float64)
    pw = _packed_struct(packed)
    p = spec.problem(m, bias=bias is not None)
    _lib.check(_lib.lib().qg_reference_gemm(ctypes.byref(p), a.ctypes.data,
                                            _ptr(a_scale), ctypes.byref(pw), _ptr(bias),
                                            c.ctypes.data))
    return c


# ---------------------------------------------------------------- numpy scalar conversions

def f32_to_bf16_bits(x):
    """Round float32 to bf16 (nearest even, NaN kept quiet) -> uint16 bits."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    u = x.view(np.uint32).astype(np.uint64)
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(x)
    if nan.any():
        rounded = np.where(nan, ((u >> 16) | 0x40).astype(np.uint16), rounded)
    return rounded


def bf16_bits_to_f32(b):
    return (np.asarray(b, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def f32_to_f16_bits(x):
    return np.asarray(x, dtype=np.float32).astype(np.float16).view(np.uint16)


def f16_bits_to_f32(b):
    return np.asarray(b, dtype=np.uint16).view(np.float16).astype(np.float32)


def _e4m3_table():
    """All 256 e4m3fn values (1 sign, 4 exponent bits with bias 7, 3 mantissa bits; no
    infinities; 0x7f/0xff are NaN)."""
    t = np.empty(256, dtype=np.float32)
    for b in range(256):
        s = -1.0 if b & 0x80 else 1.0
        e = (b >> 3) & 0xF
        m = b & 0x7
        if e == 0xF and m == 0x7:
            t[b] = np.nan
        elif e == 0:
            t[b] = s * (m / 8.0) * 2.0 ** -6
        else:
            t[b] = s * (1 + m / 8.0) * 2.0 ** (e - 7)
    return t


E4M3_VALUES = _e4m3_table()


def e4m3_to_f32(b):
    return E4M3_VALUES[np.asarray(b, dtype=np.uint8)]


def f32_to_e4m3(x):
    """Round float32 to the nearest e4m3fn value (ties to even mantissa), saturating to +-448.
    Vectorised nearest search over the 126 finite non-negative codes."""
    x = np.asarray(x, dtype=np.float32)
    codes = np.arange(0x7F, dtype=np.uint8)  # non-negative finite codes 0..126, increasing
    vals = E4M3_VALUES[:0x7F].astype(np.float64)
    ax = np.minimum(np.abs(x.astype(np.float64)), 448.0)
    hi = np.searchsorted(vals, ax, side="left").clip(0, len(vals) - 1)
    lo = (hi - 1).clip(0, None)
    d_lo = np.abs(ax - vals[lo])
    d_hi = np.abs(vals[hi] - ax)
    pick_hi = (d_hi < d_lo) | ((d_hi == d_lo) & (codes[hi] % 2 == 0))
    c = np.where(pick_hi, codes[hi], codes[lo]).astype(np.uint8)
    neg = np.signbit(x)
    return np.where(neg, c | 0x80, c).astype(np.uint8)


def random_weight(n, k, seed=0, scale=0.02):
    """Random Gaussian float32 weight for tests/examples (never zeros)."""
    return (np.random.default_rng(seed).standard_normal((n, k)) * scale).astype(np.float32)


__all__ = ["WeightSpec", "quantize_weight", "quantize_weight_bf16", "dequantize_weight",
           "quantize_activations", "reference_gemm", "empty_packed", "check_packed",
           "f32_to_bf16_bits", "bf16_bits_to_f32", "f32_to_f16_bits", "f16_bits_to_f32",
           "e4m3_to_f32", "f32_to_e4m3"]
