"""The packed layouts of docs/formats.md written from already-quantized codes and scales with
torch ops (on the codes' device: CPU or GPU), and read back. The C host packers quantize and
pack in one step; these only place values, so weights that another tool quantized (torchao's
tensors) keep their exact codes and scales. Tested byte for byte against the host packers."""

import torch

from .spec import WeightSpec


def _roundup(a, b):
    return (a + b - 1) // b * b


def _fragment_coords(n, k, device):
    """Per-element (n, k) terms of the W4A16/W8A16 fragment order (docs/formats.md, "Common
    definitions"), as int64 tensors broadcast to [n, k]."""
    nn = torch.arange(n, device=device).view(-1, 1)
    kk = torch.arange(k, device=device).view(1, -1)
    b, j, h, g = nn // 64, (nn % 64) // 16, (nn % 16) // 8, nn % 8
    c, r = kk // 32, kk % 32
    t, s, e = r // 8, (r % 8) // 4, r % 4
    return b, j, h, g, 2 * c + s, 4 * g + t, e


def w8a16_weight_offsets(n, k, device="cpu"):
    """Byte offset of each element (n, k) of a W8A16 weight: [N, K] int64."""
    b, j, h, g, kstep, lane, e = _fragment_coords(n, k, device)
    ks = _roundup(k, 32) // 16
    return (((b * ks + kstep) * 2 + j // 2) * 32 + lane) * 16 + (j % 2) * 8 + h * 4 + e


def wo_scale_index(n, groups, device="cpu"):
    """16-bit index of the scale (and zero point) of each (row, group) of W4A16/W8A16:
    [N, G] int64."""
    nn = torch.arange(n, device=device).view(-1, 1)
    gg = torch.arange(groups, device=device).view(1, -1)
    b, j, h, g = nn // 64, (nn % 64) // 16, (nn % 16) // 8, nn % 8
    return ((b * groups + gg) * 8 + g) * 8 + j * 2 + h


def _half_bytes(values, dtype_name):
    dt = torch.bfloat16 if dtype_name == "bf16" else torch.float16
    return values.to(dt)


def pack_w8a16(spec, codes, scale):
    """codes int8 [N, K], scale [N] (any float dtype; stored in spec.act_dtype, the format's
    scale type) -> {'weight', 'scale'} uint8 tensors on codes' device."""
    n, k = spec.n, spec.k
    if spec.scheme != "w8a16" or tuple(codes.shape) != (n, k) or codes.dtype != torch.int8:
        raise ValueError(f"pack_w8a16: codes must be int8 [{n}, {k}] for a w8a16 spec")
    dev = codes.device
    npad, kpad = _roundup(n, 64), _roundup(k, 32)
    w = torch.zeros(npad * kpad, dtype=torch.uint8, device=dev)
    w[w8a16_weight_offsets(n, k, dev).reshape(-1)] = codes.reshape(-1).view(torch.uint8)
    s = torch.zeros(npad, dtype=torch.bfloat16 if spec.act_dtype == "bf16" else torch.float16,
                    device=dev)
    s[wo_scale_index(n, 1, dev).reshape(-1)] = _half_bytes(scale.reshape(n), spec.act_dtype)
    return {"weight": w, "scale": s.view(torch.uint8)}


def unpack_w8a16(spec, packed):
    """Inverse of pack_w8a16: (codes int8 [N, K], scale [N] in spec.act_dtype)."""
    n, k = spec.n, spec.k
    w = packed["weight"].reshape(-1)
    codes = w[w8a16_weight_offsets(n, k, w.device).reshape(-1)].view(torch.int8).view(n, k)
    dt = torch.bfloat16 if spec.act_dtype == "bf16" else torch.float16
    s = packed["scale"].reshape(-1).view(dt)[wo_scale_index(n, 1, w.device).reshape(-1)]
    return codes, s


def w4a16_nibble_index(n, k, device="cpu"):
    """Nibble index (byte offset * 2 + 1 for the high nibble) of each element (n, k) of a
    W4A16 weight: [N, K] int64 (docs/formats.md, "W4A16 weights")."""
    b, j, h, g, kstep, lane, e = _fragment_coords(n, k, device)
    ks = _roundup(k, 32) // 16
    word = ((b * ks + kstep) * 32 + lane) * 4 + j
    return word * 8 + (e % 2) * 4 + h * 2 + e // 2


def pack_w4a16(spec, u, scale, zero=None):
    """u: uint8 [N, K] nibble values (asymmetric codes, or q + 8 when symmetric), scale [N, G]
    and zero [N, G] (integer zero points, or any values of the activation dtype when
    spec.zero_point is "float"; none when symmetric) -> packed buffers."""
    n, k = spec.n, spec.k
    groups = k // spec.group_size if spec.group_size else 1
    if spec.scheme != "w4a16" or tuple(u.shape) != (n, k) or tuple(scale.shape) != (n, groups):
        raise ValueError(f"pack_w4a16: u must be [{n}, {k}], scale [{n}, {groups}]")
    if bool(spec.zero_point) != (zero is not None):
        raise ValueError("pack_w4a16: zero points are needed exactly when spec.zero_point")
    dev = u.device
    npad, kpad = _roundup(n, 64), _roundup(k, 32)
    nib = torch.zeros(npad * kpad, dtype=torch.uint8, device=dev)
    nib[w4a16_nibble_index(n, k, dev).reshape(-1)] = u.reshape(-1).to(torch.uint8)
    w = nib[0::2] | (nib[1::2] << 4)
    dt = torch.bfloat16 if spec.act_dtype == "bf16" else torch.float16
    idx = wo_scale_index(n, groups, dev).reshape(-1)
    out = {"weight": w}
    for name, v in (("scale", scale), ("zero", zero)):
        if v is None:
            continue
        buf = torch.zeros(npad * groups, dtype=dt, device=dev)
        buf[idx] = v.reshape(-1).to(dt)
        out[name] = buf.view(torch.uint8)
    return out


def pack_w8a8(spec, codes, scale):
    """W8A8 (fp8/int8): codes [N, K] (float8_e4m3fn or int8) row-major as they are, f32 scale
    [N] (per row) or [1] (per tensor)."""
    want = torch.float8_e4m3fn if spec.scheme == "w8a8-fp8" else torch.int8
    if spec.scheme not in ("w8a8-fp8", "w8a8-int8") or codes.dtype != want or \
            tuple(codes.shape) != (spec.n, spec.k):
        raise ValueError(f"pack_w8a8: codes must be {want} [{spec.n}, {spec.k}]")
    nscale = 1 if spec.weight_scale == "per_tensor" else spec.n
    scale = scale.reshape(-1).to(torch.float32)
    if scale.numel() != nscale:
        raise ValueError(f"pack_w8a8: {scale.numel()} scales, the spec needs {nscale}")
    return {"weight": codes.contiguous().view(torch.uint8).reshape(-1),
            "scale": scale.contiguous().view(torch.uint8)}


def pack_w4a8_fp8(spec, nibbles, scale):
    """W4A8_FP8 plain order: `nibbles` uint8 [N, K/2] holding two's complement int4 values,
    column k in byte k/2, low nibble for even k (torchao's pack_int4 order); f32 scale
    [N, K/128] (row-major)."""
    n, k = spec.n, spec.k
    if spec.scheme != "w4a8-fp8" or tuple(nibbles.shape) != (n, k // 2):
        raise ValueError(f"pack_w4a8_fp8: nibbles must be uint8 [{n}, {k // 2}]")
    scale = scale.to(torch.float32).contiguous()
    if tuple(scale.shape) != (n, k // 128):
        raise ValueError(f"pack_w4a8_fp8: scale must be [{n}, {k // 128}]")
    return {"weight": nibbles.contiguous().view(torch.uint8).reshape(-1),
            "scale": scale.view(torch.uint8).reshape(-1)}


def _sp24_nonzero(codes_u8, fp8):
    """The host packer's "non-zero" of an 8-bit code (e4m3 -0 counts as zero)."""
    return (codes_u8 & 0x7F) != 0 if fp8 else codes_u8 != 0


def sp24_8bit_meta_nibble_index(n, k, device="cpu"):
    """Nibble index (byte offset * 2 + 1 for bits 4-7) of the metadata of each (row, chunk of
    4 columns) of an 8-bit 2:4 weight: [N, K/4] int64 (docs/formats.md, "Metadata words")."""
    r = torch.arange(n, device=device).view(-1, 1)
    ch = torch.arange(k // 4, device=device).view(1, -1)
    group, rr = r // 64, r % 64
    rb, g, upper = rr // 16, (rr % 16) % 8, (rr % 16) // 8
    kb, cc = ch // 16, ch % 16
    lane = 4 * g + 2 * (cc // 8) + upper
    word = ((group * (k // 64) + kb) * 32 + lane) * 4 + rb
    return word * 8 + cc % 8


def pack_sp24_8bit(spec, codes, scale):
    """SP24_FP8 / SP24_INT8 from dense 2:4 codes [N, K] (float8_e4m3fn or int8, at most 2
    non-zero codes per 4 columns) and f32 per-row scales [N] -> {'weight', 'scale', 'meta'},
    the bytes the host packer writes for the same codes: kept positions are the non-zero
    codes, then the lowest free positions."""
    n, k = spec.n, spec.k
    fp8 = spec.scheme == "sp24-fp8"
    want = torch.float8_e4m3fn if fp8 else torch.int8
    if spec.scheme not in ("sp24-fp8", "sp24-int8") or codes.dtype != want or \
            tuple(codes.shape) != (n, k) or k % 64:
        raise ValueError(f"pack_sp24_8bit: codes must be {want} [{n}, {k}], K a multiple of 64")
    scale = scale.reshape(-1).to(torch.float32)
    if scale.numel() != n:
        raise ValueError(f"pack_sp24_8bit: {scale.numel()} scales, need one per row ({n})")
    dev = codes.device
    c = codes.contiguous().view(torch.uint8).view(n, k // 4, 4)
    nz = _sp24_nonzero(c, fp8)
    over = nz.sum(-1) > 2
    if bool(over.any()):
        r, ch = (int(i) for i in over.nonzero()[0])
        raise ValueError(f"pack_sp24_8bit: row {r}, columns {4 * ch}..{4 * ch + 3} have more "
                         "than 2 non-zeros: not 2:4 sparse")
    pos = torch.arange(4, device=dev)
    key = torch.where(nz, pos, pos + 4)  # non-zeros first, then the lowest free positions
    idx = torch.sort(torch.topk(key, 2, dim=-1, largest=False).values % 4, dim=-1).values
    n64 = _roundup(n, 64)
    vals = torch.zeros(n64, k // 2, dtype=torch.uint8, device=dev)
    vals[:n] = torch.gather(c, 2, idx).reshape(n, k // 2)
    nib = torch.full((n64, k // 4), 0x4, dtype=torch.uint8, device=dev)  # padding rows
    nib[:n] = (idx[..., 0] | (idx[..., 1] << 2)).to(torch.uint8)
    flat = torch.zeros(n64 * k // 4, dtype=torch.uint8, device=dev)
    flat[sp24_8bit_meta_nibble_index(n64, k, dev).reshape(-1)] = nib.reshape(-1)
    return {"weight": vals.reshape(-1), "scale": scale.contiguous().view(torch.uint8),
            "meta": flat[0::2] | (flat[1::2] << 4)}


def unpack_sp24_8bit(spec, packed):
    """Inverse of pack_sp24_8bit: dense codes [N, K] (uint8 bit patterns) and f32 scales [N]."""
    n, k = spec.n, spec.k
    meta = packed["meta"].reshape(-1)
    flat = torch.stack([meta & 0xF, meta >> 4], -1).reshape(-1)
    nib = flat[sp24_8bit_meta_nibble_index(n, k, meta.device).reshape(-1)].view(n, k // 4)
    idx = torch.stack([nib & 3, nib >> 2], -1).long()
    vals = packed["weight"].reshape(-1)[:n * k // 2].view(n, k // 4, 2)
    dense = torch.zeros(n, k // 4, 4, dtype=torch.uint8, device=meta.device)
    dense.scatter_(2, idx, vals)
    return dense.view(n, k), packed["scale"].view(torch.float32)


def check_sizes(spec: WeightSpec, packed):
    """Raise ValueError unless each buffer has the size the C library says."""
    sizes = spec.sizes()
    for name, want in sizes.items():
        t = packed.get(name)
        have = 0 if t is None else t.numel() * t.element_size()
        if have != want:
            raise ValueError(f"{spec.scheme} N={spec.n} K={spec.k}: '{name}' has {have} bytes, "
                             f"the format needs {want}")
    return packed
