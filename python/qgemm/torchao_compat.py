"""torchao 0.18 quantized weights -> qgemm packed weights, without re-quantizing.

A checkpoint that transformers saved with a torchao config holds each quantized weight as
flattened tensors "<module>._weight_<name>" (qdata, scale, zero_point, ...) plus safetensors
metadata "<module>.weight" = {"_type": "Int8Tensor", "_data": {...}}. `convert` maps one such
weight's tensors to the qgemm scheme of the config, moving torchao's codes and scales into the
packed layout (qgemm.layouts), so the dequantized weight is torchao's:

  torchao tensor (config)                         qgemm scheme  dequantized weight
  Int8Tensor (Int8DynamicActivationInt8Weight)    w8a8-int8     bit for bit (q * f32 scale)
  Float8Tensor (Float8DynamicActivationFloat8)    w8a8-fp8      bit for bit, per row or tensor
  Int4Tensor, fp8 activations, zero points 0      w4a8-fp8      bit for bit (v * scale)
    (Float8DynamicActivationInt4Weight, int4_packing_format="plain")
  Int4Tensor, bf16 activations (Int4WeightOnly,   w4a16         integer zero points where every
    default "plain")                                            zero point is an integer multiple
                                                                of its scale (bit for bit), else
                                                                float zero points: q * s + z
                                                                rounded once to the act dtype
  Float8Sparse2x4_2DData2DMetadataTensor          sp24-fp8      bit for bit (q * f32 row scale)
    (Float8DynamicActivationFloat8Weight, packing_format="sparse_2d_data_2d_metadata": CUTLASS's
    sm90 compressed values and metadata, decoded as cutlass_sm90_sp24_8bit_to_dense says)
  Int8Tensor (Int8WeightOnly)                     w8a16         scale rounded to the activation
                                                                dtype (the format stores bf16/f16
                                                                scales): relative 2^-9 at most

torchao's Int4Tensor (mslk's int4_row_quantize_zp) dequantizes as w = q * s + z with q the
signed nibble in [-8, 7] and a *float* zero point z = min(group) + 8 s; torchao's CPU twin is
`(q + 8) * s + (z - 8 s)` (torchao.prototype.gptq.api._int4_row_dequantize_zp). qgemm's W4A16
holds w = (u - zq) * s with u = q + 8 and an integer zq in [0, 15] exactly when every group has
z = (8 - zq) * s (z / s an integer in [-7, 8]: symmetric data, GPTQ-style tools); that layer
converts to integer zero points, bit for bit. mslk's zero points meet it only by chance, so any
other layer converts to W4A16 *float* zero points (docs/formats.md): torchao's z stored as is in
the activation dtype, w = (u - 8) * s + z = q * s + z rounded once to that dtype (torchao's
exact definition, one rounding; its CPU twin rounds three times in bf16). Refused, naming the
row and group: a scale or zero point that is not finite, or not exact in the activation dtype.

Refused with the reason (TorchaoFormatError, a ValueError): the types of _REFUSED (other int4
packings, ROCm's 2:4 fp8, preshuffled f8i4); static or pre-scaled activations (act_quant_scale,
act_pre_scale)."""

import json
import os

import torch

from . import layouts
from .config import (ConfigError, Float8DynamicActivationFloat8SemiSparseWeightConfig,
                     Float8DynamicActivationFloat8WeightConfig,
                     Float8DynamicActivationInt4WeightConfig,
                     Int8DynamicActivationInt8WeightConfig, Int8WeightOnlyConfig,
                     Int4WeightOnlyConfig, ModuleFqnToConfig)
from .spec import WeightSpec

_HALF = {torch.bfloat16: "bf16", torch.float16: "f16"}

# What each torchao tensor type stores, by torchao's names (the flattened key suffixes).
TENSOR_DATA = {
    "Int8Tensor": ("qdata", "scale"),
    "Float8Tensor": ("qdata", "scale"),
    "Int4Tensor": ("qdata", "scale", "zero_point"),
    "Float8Sparse2x4_2DData2DMetadataTensor": ("qdata", "sparse_metadata", "scale"),
}
_UNSUPPORTED_ACT = ("act_quant_scale", "act_quant_zero_point", "act_pre_scale")

# torchao 0.18 tensor types qgemm cannot convert exactly, and why (the refusal message).
_REFUSED = {
    "Int4TilePackedTo4dTensor": (
        "tile-packed int4 (Int4WeightOnlyConfig(int4_packing_format=\"tile_packed_to_4d\")): "
        "the tinygemm layout interleaves scales and float zero points that qgemm's W4A16 "
        "integer zero points cannot hold; save with the default \"plain\" packing"),
    "Int4PlainInt32Tensor": (
        "int4 packed in int32 words for XPU/NPU kernels (\"plain_int32\"); save with the "
        "default \"plain\" packing"),
    "Int4PreshuffledTensor": (
        "preshuffled int4 (mslk's preshuffle_i4: a CUDA-only shuffle of the nibbles, and for "
        "fp8 activations fp8 group scales times an f32 row scale); torchao has no unshuffle "
        "and its layout is undocumented. Save Float8DynamicActivationInt4WeightConfig with "
        "int4_packing_format=\"plain\" (or Int4WeightOnlyConfig with the default \"plain\")"),
    "Float8Sparse2x4_1DData1DMetadataTensor": (
        "2:4 fp8 compressed by hipSPARSELt (ROCm only, \"sparse_1d_data_1d_metadata\"); "
        "load the bf16 checkpoint and quantize with qgemm's 2:4 config"),
}


class TorchaoFormatError(ValueError):
    """A torchao weight qgemm cannot hold exactly; the message says why and what to do."""


def _dtype_name(dt):
    try:
        return _HALF[dt]
    except KeyError:
        raise TorchaoFormatError(f"activations must be bfloat16 or float16, got {dt}") from None


def convert(config, tensor_type, data, act_dtype=torch.bfloat16, where="weight"):
    """(WeightSpec, packed {'weight', 'scale', ...} uint8 tensors on the data's device) for one
    torchao weight. `config`: the qgemm config of the layer (from the checkpoint's torchao
    JSON); `tensor_type`: torchao's class name; `data`: {name: tensor} of that weight (qdata,
    scale, zero_point, ...). `where` names the weight in errors."""
    act = _dtype_name(act_dtype)
    for name in _UNSUPPORTED_ACT:
        t = data.get(name)
        if t is not None and not (name == "act_pre_scale" and bool((t == 1).all())):
            raise TorchaoFormatError(f"{where}: torchao {tensor_type} has {name}; qgemm only "
                                     "quantizes activations dynamically, without pre-scaling")
    if tensor_type in _REFUSED:
        raise TorchaoFormatError(f"{where}: torchao {tensor_type} cannot be converted "
                                 f"exactly: {_REFUSED[tensor_type]}")
    want = TENSOR_DATA.get(tensor_type)
    if want is None:
        raise TorchaoFormatError(f"{where}: torchao {tensor_type} is not a tensor type qgemm "
                                 f"converts (it converts {', '.join(TENSOR_DATA)})")
    missing = [n for n in want if n not in data and not (n == "zero_point")]
    if missing:
        raise TorchaoFormatError(f"{where}: torchao {tensor_type} lacks {missing}")
    q = data["qdata"]
    if tensor_type == "Int4Tensor" and isinstance(config, Int4WeightOnlyConfig):
        return _int4_weight_only(config, data, act, act_dtype, where)
    if tensor_type == "Int8Tensor" and isinstance(
            config, (Int8WeightOnlyConfig, Int8DynamicActivationInt8WeightConfig)):
        n, k = q.shape
        scale = data["scale"].to(torch.float32).reshape(-1)
        if scale.numel() not in (1, n):
            raise TorchaoFormatError(f"{where}: Int8Tensor scale has {scale.numel()} values; "
                                     "qgemm takes per-row or per-tensor scales")
        _zero_points_are_zero(data, where, tensor_type)
        if isinstance(config, Int8WeightOnlyConfig):
            spec = WeightSpec("w8a16", n, k, act_dtype=act, out_dtype=act)
            return spec, layouts.check_sizes(spec, layouts.pack_w8a16(
                spec, q, scale.expand(n) if scale.numel() == 1 else scale))
        spec = config.weight_spec(n, k, act, act)
        spec = spec.with_(weight_scale="per_tensor" if scale.numel() == 1 else "per_row")
        return spec, layouts.check_sizes(spec, layouts.pack_w8a8(spec, q, scale))
    if tensor_type == "Float8Tensor" and isinstance(
            config, Float8DynamicActivationFloat8WeightConfig):
        n, k = q.shape
        if q.dtype != torch.float8_e4m3fn:
            raise TorchaoFormatError(f"{where}: Float8Tensor holds {q.dtype}; qgemm takes e4m3")
        scale = data["scale"].to(torch.float32)
        if scale.numel() not in (1, n):
            raise TorchaoFormatError(f"{where}: Float8Tensor scale {tuple(scale.shape)} is "
                                     "blockwise; qgemm takes per-row or per-tensor scales")
        spec = config.weight_spec(n, k, act, act)
        spec = spec.with_(weight_scale="per_tensor" if scale.numel() == 1 else "per_row")
        return spec, layouts.check_sizes(spec, layouts.pack_w8a8(spec, q, scale))
    if tensor_type == "Int4Tensor" and isinstance(config, Float8DynamicActivationInt4WeightConfig):
        n, k2 = q.shape
        k = 2 * k2
        _zero_points_are_zero(data, where, tensor_type)
        scale = data["scale"]
        if tuple(scale.shape) != (k // 128, n):
            raise TorchaoFormatError(f"{where}: Int4Tensor scale is {tuple(scale.shape)}; "
                                     f"w4a8-fp8 needs groups of 128: [{k // 128}, {n}]")
        spec = config.weight_spec(n, k, act, act)
        return spec, layouts.check_sizes(spec, layouts.pack_w4a8_fp8(spec, q, scale.t()))
    if tensor_type == "Float8Sparse2x4_2DData2DMetadataTensor" and isinstance(
            config, Float8DynamicActivationFloat8SemiSparseWeightConfig):
        return _sp24_fp8(config, data, act, where)
    raise TorchaoFormatError(f"{where}: torchao {tensor_type} does not match the config "
                             f"{type(config).__name__}")


def _zero_points_are_zero(data, where, tensor_type):
    z = data.get("zero_point")
    if z is not None and bool((z != 0).any()):
        raise TorchaoFormatError(f"{where}: torchao {tensor_type} has non-zero zero points; "
                                 "qgemm's scheme for this config is symmetric")


def _signed_nibbles(qdata, n, k):
    """torchao's pack_int4 bytes [N, K/2] (column k in byte k/2, low nibble for even k, two's
    complement) -> int16 [N, K] values in [-8, 7]."""
    b = qdata.view(torch.uint8).to(torch.int16)
    v = torch.stack([b & 0xF, b >> 4], -1).reshape(n, k)
    return torch.where(v >= 8, v - 16, v)


def _int4_weight_only(config, data, act, act_dtype, where):
    """torchao Int4Tensor with bf16 activations -> w4a16, exactly, or TorchaoFormatError."""
    q, scale, zero = data["qdata"], data["scale"], data.get("zero_point")
    if q.dim() != 2 or scale.dim() != 2 or q.dtype not in (torch.uint8, torch.int8):
        raise TorchaoFormatError(f"{where}: torchao Int4Tensor qdata {tuple(q.shape)} / scale "
                                 f"{tuple(scale.shape)}: qgemm takes 2-D Linear weights")
    n, k = q.shape[0], 2 * q.shape[1]
    groups = scale.shape[0]
    if scale.shape[1] != n or k % groups or (zero is not None and zero.shape != scale.shape):
        raise TorchaoFormatError(f"{where}: torchao Int4Tensor scale {tuple(scale.shape)} / "
                                 f"zero_point does not match qdata {tuple(q.shape)}")
    gs = k // groups
    if gs not in (32, 64, 128):
        raise TorchaoFormatError(f"{where}: torchao Int4Tensor has group size {gs}; qgemm's "
                                 "W4A16 takes 32, 64 or 128")
    if config.group_size and gs != config.group_size:
        raise TorchaoFormatError(f"{where}: torchao Int4Tensor has group size {gs}, the "
                                 f"config says {config.group_size}")
    s = scale.to(torch.float64)
    z = torch.zeros_like(s) if zero is None else zero.to(torch.float64)
    bad = ~torch.isfinite(s) | ~torch.isfinite(z)
    if bool(bad.any()):
        g, row = (int(i) for i in bad.nonzero()[0])
        raise TorchaoFormatError(
            f"{where}: torchao Int4Tensor: {int(bad.sum())} of {bad.numel()} groups have a scale "
            f"or zero point that is not finite; first: row {row}, group {g}: scale "
            f"{float(s[g, row])!r}, zero_point {float(z[g, row])!r}")
    dt = torch.bfloat16 if act == "bf16" else torch.float16
    for name, t, t64 in (("scales", scale, s), ("zero points", zero, z)):
        if t is not None and not torch.equal(t.to(dt).to(torch.float64), t64):
            raise TorchaoFormatError(f"{where}: torchao Int4Tensor {name} ({t.dtype}) are not "
                                     f"exact in the activation dtype {act_dtype}, where qgemm's "
                                     "W4A16 stores them; load the model in their dtype")
    s_act = scale.to(dt)
    u = (_signed_nibbles(q, n, k) + 8).to(torch.uint8)
    # w = q*s + z equals (u - zq)*s for every code u = q + 8 iff z = (8 - zq)*s (exact in f64:
    # a small integer times a 16-bit float): then integer zero points hold it bit for bit.
    zq = torch.where(s != 0, 8 - torch.round(z / torch.where(s != 0, s, 1)), 8)
    if bool(((zq >= 0) & (zq <= 15) & ((8 - zq) * s == z)).all()):
        symmetric = bool((zq == 8).all())  # zero points 0: qgemm's symmetric form
        spec = WeightSpec("w4a16", n, k, group_size=gs, zero_point=not symmetric, act_dtype=act,
                          out_dtype=act)
        zero_arg = None if symmetric else zq.t().to(dt)
    else:  # torchao's float zero points as they are
        spec = WeightSpec("w4a16", n, k, group_size=gs, zero_point="float", act_dtype=act,
                          out_dtype=act)
        zero_arg = zero.to(dt).t()
    return spec, layouts.check_sizes(spec, layouts.pack_w4a16(spec, u, s_act.t(), zero_arg))


def cutlass_sm90_sp24_8bit_to_dense(qdata, meta, where="weight"):
    """Dense 2:4 codes (uint8 bit patterns [N, K]) of an 8-bit weight that CUTLASS's sm90
    structured-sparse compressor packed (torchao's to_sparse_semi_structured_cutlass_sm9x_f8,
    packing "sparse_2d_data_2d_metadata"), read as that compressor writes them
    (cutlass/transform/kernel/sm90_sparse_gemm_compressor.hpp, Sm90GemmSparseConfig with
    TensorEAtom_8bit = ordered (64, 128) K-major, MinTileShapeK 128):
      qdata [N, K/2]: row-major, chunk c (columns 4c..4c+3) keeps its two values at 2c, 2c+1;
      meta [roundup(N, 64), roundup(K, 128) / 8] bytes, used flat: the nibble of (row m,
        chunk c) is at byte (4c / 128) * roundup(N, 64) * 16 + m * 16 + (4c % 128) / 8, bits
        4 * (c % 2); its bits 0-1 / 2-3 are the positions of the first / second kept value.
    The compressor writes positions (i, 3) (values (x, 0)) or (0, 3) ((0, x)) for a chunk with
    one non-zero and 0b0000 for an all-zero one; anything else that is not increasing
    positions is refused as corrupt."""
    n, kc = qdata.shape
    k = 2 * kc
    n_al, k_al = (n + 63) // 64 * 64, (k + 127) // 128 * 128
    meta = meta.reshape(-1).view(torch.uint8)
    if meta.numel() != n_al * k_al // 8:
        raise TorchaoFormatError(f"{where}: 2:4 metadata has {meta.numel()} bytes, CUTLASS's "
                                 f"sm90 layout for [{n}, {k}] has {n_al * k_al // 8}")
    dev = qdata.device
    m = torch.arange(n, device=dev).view(-1, 1)
    c = torch.arange(k // 4, device=dev).view(1, -1)
    byte = (4 * c // 128) * n_al * 16 + m * 16 + (4 * c % 128) // 8
    nib = (meta[byte].to(torch.int64) >> (4 * (c % 2))) & 0xF
    idx = torch.stack([nib & 3, nib >> 2], -1)
    vals = qdata.contiguous().view(torch.uint8).view(n, k // 4, 2)
    nonzero = (vals & 0x7F) != 0
    bad = (idx[..., 0] > idx[..., 1]) | ((idx[..., 0] == idx[..., 1]) & nonzero.any(-1))
    if bool(bad.any()):
        r, ch = (int(i) for i in bad.nonzero()[0])
        raise TorchaoFormatError(f"{where}: corrupt 2:4 metadata: row {r}, columns "
                                 f"{4 * ch}..{4 * ch + 3} have nibble {int(nib[r, ch]):#x}")
    dense = torch.zeros(n, k // 4, 4, dtype=torch.uint8, device=dev)
    dense.scatter_(2, idx[..., 1:], vals[..., 1:])  # then the first, so (0, 0) keeps a zero
    dense.scatter_(2, idx[..., :1], vals[..., :1])
    return dense.view(n, k)


def _sp24_fp8(config, data, act, where):
    """torchao Float8Sparse2x4_2DData2DMetadataTensor -> sp24-fp8 with the same codes and
    per-row scales: dequantized weight q * s bit for bit."""
    q = data["qdata"]
    if q.dtype != torch.float8_e4m3fn or q.dim() != 2:
        raise TorchaoFormatError(f"{where}: 2:4 fp8 qdata is {q.dtype} {tuple(q.shape)}; qgemm "
                                 "takes 2-D e4m3")
    codes = cutlass_sm90_sp24_8bit_to_dense(q, data["sparse_metadata"], where)
    n, k = codes.shape
    scale = data["scale"].to(torch.float32).reshape(-1)
    if scale.numel() != n:
        raise TorchaoFormatError(f"{where}: 2:4 fp8 scale has {scale.numel()} values; qgemm's "
                                 f"sp24-fp8 takes one per row ({n})")
    if k % 64:
        raise TorchaoFormatError(f"{where}: 2:4 fp8 weight has K = {k}; qgemm's sp24 formats "
                                 "need a multiple of 64")
    spec = config.weight_spec(n, k, act, act)
    packed = layouts.pack_sp24_8bit(spec, codes.view(torch.float8_e4m3fn), scale)
    return spec, layouts.check_sizes(spec, packed)


def tensor_data(t):
    """{name: tensor} of a torchao quantized tensor object (its tensor_data_names and the
    optional ones it has), the `data` that convert takes."""
    names = list(t.tensor_data_names) + list(getattr(t, "optional_tensor_data_names", []))
    return {n: getattr(t, n) for n in names if getattr(t, n, None) is not None}


def from_torchao_model(model, config, device=None):
    """Replace, in place, every nn.Linear of `model` whose weight is a torchao 0.18 quantized
    tensor (a model torchao's quantize_ just quantized, possibly on a GPU, or one whose
    state dict was torch.load-ed) by a QuantLinear holding the converted codes. This is the
    path for the types transformers cannot save to safetensors with torchao 0.18 (2:4 fp8
    "sparse_2d_data_2d_metadata"). `config`: the torchao config used (a torchao object, its
    JSON dict, or the qgemm config). Raises TorchaoFormatError naming the first module that
    cannot be converted exactly; nothing is replaced then. Returns the model."""
    from .config import config_from_dict
    from .nn import QuantLinear, _set_submodule

    if not hasattr(config, "weight_spec") and not isinstance(config, ModuleFqnToConfig):
        if not isinstance(config, dict):
            from torchao.core.config import config_to_dict

            config = config_to_dict(config)
        config = config_from_dict(config)
    new = {}
    for fqn, mod in model.named_modules():
        w = getattr(mod, "weight", None)
        if not isinstance(mod, torch.nn.Linear) or not hasattr(w, "tensor_data_names"):
            continue
        cfg = config_for_module(config, fqn)
        if cfg is None:
            raise TorchaoFormatError(f"{fqn}: holds a torchao {type(w).__name__} but the "
                                     "config leaves it unquantized")
        act = w.dtype if w.dtype in _HALF else torch.bfloat16
        spec, packed = convert(cfg, type(w).__name__, tensor_data(w), act_dtype=act,
                               where=fqn)
        new[fqn] = QuantLinear(spec, packed, bias=mod.bias, device=device)
    for fqn, q in new.items():
        _set_submodule(model, fqn, q)
    return model


def weight_entries(metadata):
    """{module fqn: (tensor type, attribute dict)} of the torchao tensors a safetensors file
    describes in its metadata (torchao's flatten_tensor_state_dict format)."""
    if not metadata or "tensor_names" not in metadata:
        return {}
    out = {}
    for name in json.loads(metadata["tensor_names"]):
        entry = json.loads(metadata.get(name, "{}"))
        t = entry.get("_type")
        if t in (None, "Tensor", "torch.Tensor"):
            continue
        fqn, attr = name.rsplit(".", 1)
        if attr != "weight":
            raise TorchaoFormatError(f"torchao tensor {name}: only Linear weights are supported")
        out[fqn] = (t, entry.get("_data", {}))
    return out


def flat_key(fqn, name):
    """The key torchao's flatten_tensor_state_dict gives a weight's tensor `name`."""
    return f"{fqn}._weight_{name}"


def config_for_module(config, fqn):
    if isinstance(config, ModuleFqnToConfig):
        return config.config_for(fqn)
    return config


def _checkpoint_files(directory):
    index = os.path.join(directory, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            names = sorted(set(json.load(f)["weight_map"].values()))
        return [os.path.join(directory, n) for n in names]
    return [os.path.join(directory, "model.safetensors")]


def load_torchao_checkpoint(model, directory, config, device="cpu"):
    """Load a checkpoint that transformers saved with torchao (safetensors, one file or
    sharded) into `model` (an unquantized instance, may be on the meta device): each torchao
    weight becomes a QuantLinear holding the converted packed buffers, every other tensor is
    loaded as it is. Raises TorchaoFormatError / ValueError naming what cannot be loaded."""
    from safetensors import safe_open

    from .nn import QuantLinear, _set_submodule

    tensors, entries = {}, {}
    # Read straight to the target device: the conversion then runs there (GPU at load time).
    where = str(device) if torch.device(device).type == "cuda" else "cpu"
    for path in _checkpoint_files(directory):
        with safe_open(path, framework="pt", device=where) as f:
            entries.update(weight_entries(f.metadata()))
            tensors.update({k: f.get_tensor(k) for k in f.keys()})
    act = next((p.dtype for p in model.parameters() if p.dtype in _HALF), torch.bfloat16)
    named = dict(model.named_modules())
    for fqn, (kind, _) in entries.items():
        cfg = config_for_module(config, fqn)
        lin = named.get(fqn)
        if cfg is None or not isinstance(lin, torch.nn.Linear):
            raise TorchaoFormatError(f"{directory}: {fqn} holds a torchao {kind} but is "
                                     f"{'unquantized in the config' if cfg is None else lin}")
        data = {n[len(flat_key(fqn, "")):]: tensors.pop(n) for n in list(tensors)
                if n.startswith(flat_key(fqn, ""))}
        spec, packed = convert(cfg, kind, data, act_dtype=act, where=f"{directory}: {fqn}")
        bias = tensors.pop(f"{fqn}.bias", None)
        _set_submodule(model, fqn, QuantLinear(spec, packed, bias=bias, device=device))
    from .nn import _is_output_projection

    plain = [fqn for fqn, m in model.named_modules() if type(m) is torch.nn.Linear and
             config_for_module(config, fqn) is not None and fqn not in entries and
             not _is_output_projection(model, m, fqn)]
    if plain:
        raise TorchaoFormatError(f"{directory}: the config quantizes {plain[:4]} but the "
                                 "checkpoint holds them unquantized (not a torchao-saved file)")
    state = model.state_dict()
    missing = [k for k in state if k not in tensors and not _is_quant_key(k, entries)]
    unexpected = [k for k in tensors if k not in state]
    if missing or unexpected:
        raise TorchaoFormatError(f"{directory}: does not match the model: missing "
                                 f"{missing[:8]}, unexpected {unexpected[:8]}")
    model.load_state_dict({k: v.to(device) for k, v in tensors.items()}, strict=False,
                          assign=True)
    model._qgemm_config = config
    return model


def _is_quant_key(key, entries):
    fqn, _, leaf = key.rpartition(".")
    return fqn in entries and leaf in ("qweight", "qscale", "qzero", "qmeta", "bias")


__all__ = ["convert", "load_torchao_checkpoint", "from_torchao_model", "tensor_data",
           "cutlass_sm90_sp24_8bit_to_dense", "weight_entries", "flat_key",
           "TorchaoFormatError", "TENSOR_DATA", "config_for_module", "ConfigError"]
