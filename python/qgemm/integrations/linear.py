"""The engine-independent part of a qgemm linear method for vLLM and SGLang (whose linear
layers share one weight-loading contract: parameters carry `output_dim` / `input_dim`, and the
layer's weight_loader narrows each checkpoint tensor to the rank's shard and places q/k/v or
gate/up shards in the fused parameter along `output_dim`).

qgemm's packed buffers are flat bytes in fragment order that such loaders cannot slice, so the
layer first holds its weight in a sliceable form, loaded by the engine's own loaders:
  - a bf16/f16 checkpoint: "weight" [N, K] (quantized and packed after loading);
  - a torchao checkpoint: torchao's flattened tensors "_weight_qdata", "_weight_scale",
    "_weight_zero_point" with their torchao shapes (converted after loading, codes kept).
process() then packs the shard into qgemm's layout and drops the loading parameters."""

import torch

from .. import ops, torchao_compat
from ..config import (Float8DynamicActivationFloat8WeightConfig,
                      Float8DynamicActivationInt4WeightConfig,
                      Int8DynamicActivationInt8WeightConfig, Int8WeightOnlyConfig, PerTensor)
from ..spec import BUFFERS

_NAMES = {torch.bfloat16: "bf16", torch.float16: "f16"}


def torchao_tensor_type(config):
    """torchao's tensor class for a layer quantized with `config` (what its checkpoint holds)."""
    if isinstance(config, (Int8WeightOnlyConfig, Int8DynamicActivationInt8WeightConfig)):
        return "Int8Tensor"
    if isinstance(config, Float8DynamicActivationFloat8WeightConfig):
        return "Float8Tensor"
    if isinstance(config, Float8DynamicActivationInt4WeightConfig):
        return "Int4Tensor"
    raise torchao_compat.TorchaoFormatError(torchao_compat._refusal(
        "checkpoint", f"{type(config).__name__} weights"))


def loading_params(config, torchao, out_sizes, k, params_dtype):
    """[(name, empty tensor, {"output_dim", "input_dim"})] the layer loads before packing."""
    n = sum(out_sizes)
    if not torchao:
        return [("weight", torch.empty(n, k, dtype=params_dtype),
                 {"output_dim": 0, "input_dim": 1})]
    kind = torchao_tensor_type(config)
    per_tensor = isinstance(getattr(config, "_w_gran", None), PerTensor)
    if per_tensor and len(out_sizes) > 1:
        raise NotImplementedError(
            f"{type(config).__name__} with per-tensor weight scales on a fused layer "
            f"({len(out_sizes)} shards, each with its own scale): not supported; use "
            "granularity=PerRow()")
    if kind == "Int8Tensor":
        return [("_weight_qdata", torch.empty(n, k, dtype=torch.int8),
                 {"output_dim": 0, "input_dim": 1}),
                ("_weight_scale", torch.empty(n, 1, dtype=torch.float32), {"output_dim": 0}),
                ("_weight_zero_point", torch.empty(n, 1, dtype=torch.int8), {"output_dim": 0})]
    if kind == "Float8Tensor":
        scale = torch.empty(1, 1) if per_tensor else torch.empty(n, 1)
        return [("_weight_qdata", torch.empty(n, k, dtype=torch.float8_e4m3fn),
                 {"output_dim": 0, "input_dim": 1}),
                ("_weight_scale", scale, {} if per_tensor else {"output_dim": 0})]
    if k % 128:
        raise ValueError(f"w4a8-fp8 needs K per rank to be a multiple of 128, got {k}")
    return [("_weight_qdata", torch.empty(n, k // 2, dtype=torch.uint8),
             {"output_dim": 0, "input_dim": 1}),
            ("_weight_scale", torch.empty(k // 128, n, dtype=torch.bfloat16),
             {"output_dim": 1, "input_dim": 0}),
            ("_weight_zero_point", torch.empty(k // 128, n, dtype=torch.bfloat16),
             {"output_dim": 1, "input_dim": 0})]


def process(layer, config, torchao, prefix=""):
    """Pack the loaded shard into qgemm's layout; sets layer.qgemm_spec and layer.qgemm_packed
    (dict of uint8 buffers, registered as non-persistent buffers so .to() moves them) and
    removes the loading parameters."""
    dtype = getattr(layer, "params_dtype", torch.bfloat16)
    act = _NAMES.get(dtype, "bf16")
    if not torchao:
        w = layer.weight.data
        spec = config.weight_spec(w.shape[0], w.shape[1], act_dtype=act, out_dtype=act)
        bufs = ops.pack_weight(w, spec.scheme, spec.group_size, spec.zero_point,
                               spec.weight_scale == "per_tensor")
        packed = {b: t for b, t in zip(BUFFERS, bufs) if t.numel()}
        names = ["weight"]
    else:
        names = [n for n in ("_weight_qdata", "_weight_scale", "_weight_zero_point")
                 if hasattr(layer, n)]
        data = {n[len("_weight_"):]: getattr(layer, n).data for n in names}
        spec, packed = torchao_compat.convert(config, torchao_tensor_type(config), data,
                                              act_dtype=dtype if dtype in _NAMES else
                                              torch.bfloat16, where=prefix or "layer")
    for n in names:
        delattr(layer, n)
    layer.qgemm_spec = spec
    layer.qgemm_packed = {}
    for b, t in packed.items():
        layer.register_buffer(f"qgemm_{b}", t.contiguous(), persistent=False)
        layer.qgemm_packed[b] = getattr(layer, f"qgemm_{b}")
    return spec


def apply(layer, x, bias=None):
    """y = x W^T (+ bias) through the qgemm ops (activation quantization for dynamic schemes)."""
    packed = {b: getattr(layer, f"qgemm_{b}") for b in layer.qgemm_packed}
    spec = layer.qgemm_spec
    if bias is not None and bias.dtype != x.dtype:
        bias = bias.to(x.dtype)
    return ops.linear(x, spec, packed, bias)


def prepare(layer, m_values):
    """Plan the layer's kernels for these token counts (no-op off CUDA)."""
    dev = layer.qgemm_weight.device
    if dev.type == "cuda" and m_values:
        ops.prepare_gemm(layer.qgemm_spec, m_values, dev,
                         has_bias=getattr(layer, "bias", None) is not None)


def resolve(config, prefix, packed_modules_mapping, skip_modules=()):
    """The qgemm config of the layer called `prefix` (None: leave it unquantized). A fused
    layer (qkv_proj, gate_up_proj) takes the config of its checkpoint shards, which must
    agree."""
    from ..config import ModuleFqnToConfig

    parent, _, leaf = prefix.rpartition(".")
    shards = packed_modules_mapping.get(leaf)
    names = [f"{parent}.{s}" if parent else s for s in shards] if shards else [prefix]
    found = []
    for name in names:
        if any(name == m or name.startswith(m + ".") or m in name.split(".")
               for m in skip_modules):
            found.append(None)
        elif isinstance(config, ModuleFqnToConfig):
            found.append(config.config_for(name))
        else:
            found.append(config)
    if any(c != found[0] for c in found):
        raise ValueError(f"qgemm: the shards {names} of the fused layer {prefix} have different "
                         f"configs {found}; vLLM/SGLang fuse them into one weight")
    return found[0]
