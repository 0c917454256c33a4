"""Quantize and pack weights with torch ops where they are (a CUDA weight stays on the GPU),
computing exactly what the C host packers compute (scheme_w8a8.c, scheme_w8a16.c, scheme_w4a16.c
of src/catalog/schemes/; docs/formats.md "Host side"): the same float32/float64 operations in the
same order, round-half-even or half-away-from-zero where C uses nearbyint or round, scales rounded
up to the activation dtype bit for bit. Tested byte for byte against the host packers.

Schemes: w8a8-int8, w8a8-fp8, w8a16, w4a16. Others (2:4 pruning, w4a8) return None and the
caller uses the host packers."""

import torch

from . import layouts

SCHEMES = ("w8a8-int8", "w8a8-fp8", "w8a16", "w4a16")
_HALF = {"bf16": torch.bfloat16, "f16": torch.float16}


def _round_away(v):
    """C round(): half away from zero (float64)."""
    r = torch.trunc(v)
    return r + torch.where((v - r).abs() >= 0.5, torch.sign(v), torch.zeros_like(v))


def _scale_round_up(x, act):
    """qg_wo_scale_round_up: the smallest act-dtype value >= x (float64 > 0 or 0), as float64."""
    dt = _HALF[act]
    x = x + 0.0  # -0.0 (from -min of an all-zero group) is stored as +0, as C's fmax gives
    h = x.to(torch.float32).to(dt)
    up = h.to(torch.float64) < x
    bits = h.view(torch.int16) + up.to(torch.int16)  # positive: next bit pattern is next up
    s = bits.view(dt).to(torch.float64)
    if not bool(torch.isfinite(s).all()):
        raise ValueError(f"a weight scale does not fit in {act} (weights too large)")
    return s


def _absmax(w, per_tensor, dims):
    a = w.abs().amax(dim=dims, keepdim=True)
    return a.amax().expand_as(a) if per_tensor else a


def quantize_weight(spec, w):
    """Packed buffers {'weight', 'scale', ('zero')} on w's device for the schemes above, or
    None for a scheme this module does not implement. w: [N, K] bf16/f16/f32."""
    if spec.scheme not in SCHEMES:
        return None
    if tuple(w.shape) != (spec.n, spec.k):
        raise ValueError(f"weight is {tuple(w.shape)}, spec says ({spec.n}, {spec.k})")
    w32 = w.detach().to(torch.float32)
    if not bool(torch.isfinite(w32).all()):
        raise ValueError("the weight has non-finite values")
    per_tensor = spec.weight_scale == "per_tensor"
    if spec.scheme in ("w8a8-int8", "w8a8-fp8"):
        fp8 = spec.scheme == "w8a8-fp8"
        amax = _absmax(w32, per_tensor, 1)  # float32, as the C loop (fmaxf)
        s = torch.where(amax > 0, amax / (448.0 if fp8 else 127.0), torch.ones_like(amax))
        x = w32 / s
        if fp8:
            codes = x.clamp(-448.0, 448.0).to(torch.float8_e4m3fn)
        else:
            codes = torch.round(x).clamp(-127, 127).to(torch.int8)
        return layouts.pack_w8a8(spec, codes, s[:1] if per_tensor else s)
    w64 = w32.to(torch.float64)
    if spec.scheme == "w8a16":
        amax = _absmax(w64, per_tensor, 1)
        s = _scale_round_up(amax / 127.0, spec.act_dtype)
        q = torch.where(s > 0, _round_away(w64 / torch.where(s > 0, s, 1.0)), 0.0)
        codes = q.clamp(-127, 127).to(torch.int8)
        return layouts.pack_w8a16(spec, codes, s.view(-1))
    gs = spec.group_size or spec.k
    n, k = w.shape
    wg = w64.view(n, k // gs, gs)
    mn = wg.amin(-1).clamp(max=0.0)
    mx = wg.amax(-1).clamp(min=0.0)
    asym = spec.zero_point
    s = _scale_round_up((mx - mn) / 15.0 if asym else torch.maximum(mx / 7.0, -mn / 8.0),
                        spec.act_dtype)
    safe = torch.where(s > 0, s, 1.0)
    z = torch.where(s > 0, _round_away(-mn / safe).clamp(0, 15) + 0.0, 0.0) if asym else None
    q = torch.where(s.unsqueeze(-1) > 0, _round_away(wg / safe.unsqueeze(-1)), 0.0)
    u = (q + z.unsqueeze(-1)).clamp(0, 15) if asym else q.clamp(-8, 7) + 8
    return layouts.pack_w4a16(spec, u.view(n, k).to(torch.uint8), s, z)
