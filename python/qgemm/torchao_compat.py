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
  Int4Tensor, bf16 activations (Int4WeightOnly,   w4a16         bit for bit where every zero
    default "plain")                                            point is an integer multiple of
                                                                its scale; refused otherwise
  Int8Tensor (Int8WeightOnly)                     w8a16         scale rounded to the activation
                                                                dtype (the format stores bf16/f16
                                                                scales): relative 2^-9 at most

torchao's Int4Tensor (mslk's int4_row_quantize_zp) dequantizes as w = q * s + z with q the
signed nibble in [-8, 7] and a *float* zero point z = min(group) + 8 s; torchao's CPU twin is
`(q + 8) * s + (z - 8 s)` (torchao.prototype.gptq.api._int4_row_dequantize_zp). qgemm's W4A16
holds w = (u - zq) * s with u = q + 8 and an integer zq in [0, 15], so a group converts exactly
iff z = (8 - zq) * s: z / s an integer in [-7, 8]. mslk's quantizer gives that only by chance
(e.g. symmetric data); any other group is refused with its row, group and values, never rounded.

Refused with the reason (TorchaoFormatError, a ValueError): the types of _REFUSED (other int4
packings, 2:4 fp8, preshuffled f8i4); static or pre-scaled activations (act_quant_scale,
act_pre_scale)."""

import json
import os

import torch

from . import layouts
from .config import (ConfigError, Float8DynamicActivationFloat8WeightConfig,
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
    "Float8Sparse2x4_2DData2DMetadataTensor": (
        "2:4 fp8 in CUTLASS's sm90 compressed layout (packing_format "
        "\"sparse_2d_data_2d_metadata\"): its metadata is CUTLASS's reordered sm90 layout, "
        "which only torchao's CUDA kernels read; qgemm does not decode it. Load the bf16 "
        "checkpoint and quantize with qgemm.Float8DynamicActivationFloat8SemiSparseWeightConfig"),
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
    # w = q*s + z equals (u - zq)*s for every code u = q + 8 iff z = (8 - zq)*s (exact in f64:
    # a small integer times a 16-bit float).
    zq = torch.where(s != 0, 8 - torch.round(z / torch.where(s != 0, s, 1)), 8)
    bad = ~((zq >= 0) & (zq <= 15) & ((8 - zq) * s == z)) | ~torch.isfinite(s)
    if bool(bad.any()):
        g, row = (int(i) for i in bad.nonzero()[0])
        raise TorchaoFormatError(
            f"{where}: torchao Int4Tensor (int4 weight-only) has float zero points that qgemm "
            f"cannot hold: {int(bad.sum())} of {bad.numel()} groups have a zero point that is "
            f"not an integer multiple (-7..8) of the scale; first: row {row}, group {g}: scale "
            f"{float(s[g, row])!r}, zero_point {float(z[g, row])!r}. torchao dequantizes "
            "w = q * scale + zero_point with a float zero_point (mslk's int4_row_quantize_zp: "
            "min + 8 * scale); qgemm's W4A16 stores integer zero points, w = (u - zq) * scale, "
            "and never rounds torchao's values. Load the bf16 checkpoint and quantize with "
            "qgemm.Int4WeightOnlyConfig instead")
    dt = torch.bfloat16 if act == "bf16" else torch.float16
    s_act = scale.to(dt)
    if not torch.equal(s_act.to(torch.float64), s):
        raise TorchaoFormatError(f"{where}: torchao Int4Tensor scales ({scale.dtype}) are not "
                                 f"exact in the activation dtype {act_dtype}, where qgemm's "
                                 "W4A16 stores them; load the model in the scales' dtype")
    u = (_signed_nibbles(q, n, k) + 8).to(torch.uint8)
    symmetric = bool((zq == 8).all())  # zero points 0: qgemm's symmetric form, no zero buffer
    spec = WeightSpec("w4a16", n, k, group_size=gs, zero_point=not symmetric, act_dtype=act,
                      out_dtype=act)
    zero_arg = None if symmetric else zq.t().to(dt)
    return spec, layouts.check_sizes(spec, layouts.pack_w4a16(spec, u, s_act.t(), zero_arg))


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


__all__ = ["convert", "load_torchao_checkpoint", "weight_entries", "flat_key", "TorchaoFormatError", "TENSOR_DATA",
           "config_for_module", "ConfigError"]
