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
                      Int4WeightOnlyConfig, Int8DynamicActivationInt8WeightConfig,
                      Int8WeightOnlyConfig, PerTensor)
from ..spec import BUFFERS

_NAMES = {torch.bfloat16: "bf16", torch.float16: "f16"}


def torchao_tensor_type(config):
    """torchao's tensor class for a layer quantized with `config` (what its checkpoint holds)."""
    if isinstance(config, (Int8WeightOnlyConfig, Int8DynamicActivationInt8WeightConfig)):
        return "Int8Tensor"
    if isinstance(config, Float8DynamicActivationFloat8WeightConfig):
        return "Float8Tensor"
    if isinstance(config, (Float8DynamicActivationInt4WeightConfig, Int4WeightOnlyConfig)):
        return "Int4Tensor"
    raise torchao_compat.TorchaoFormatError(
        f"checkpoint: qgemm does not load torchao checkpoints of {type(config).__name__}; "
        "serve the bf16 checkpoint with a qgemm quantization_config")


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
    # One scale per row (sharded with the rows) or one for the tensor (copied whole).
    rows, row_dims = (1, {}) if per_tensor else (n, {"output_dim": 0})
    if kind == "Int8Tensor":
        return [("_weight_qdata", torch.empty(n, k, dtype=torch.int8),
                 {"output_dim": 0, "input_dim": 1}),
                ("_weight_scale", torch.empty(rows, 1, dtype=torch.float32), row_dims),
                ("_weight_zero_point", torch.empty(rows, 1, dtype=torch.int8), row_dims)]
    if kind == "Float8Tensor":
        return [("_weight_qdata", torch.empty(n, k, dtype=torch.float8_e4m3fn),
                 {"output_dim": 0, "input_dim": 1}),
                ("_weight_scale", torch.empty(rows, 1), row_dims)]
    # Int4Tensor: qdata [N, K/2], scale and zero point [K/group, N] (transposed).
    gs = 128 if isinstance(config, Float8DynamicActivationInt4WeightConfig) else config.group_size
    if not gs or k % gs:
        raise ValueError(f"{type(config).__name__}: torchao int4 needs K per rank to be a "
                         f"multiple of the group size {gs}, got {k}")
    return [("_weight_qdata", torch.empty(n, k // 2, dtype=torch.uint8),
             {"output_dim": 0, "input_dim": 1}),
            ("_weight_scale", torch.empty(k // gs, n, dtype=torch.bfloat16),
             {"output_dim": 1, "input_dim": 0}),
            ("_weight_zero_point", torch.empty(k // gs, n, dtype=torch.bfloat16),
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


def hf_block_config(block):
    """(qgemm config, is_torchao_checkpoint, modules_to_not_convert) of a quantization_config
    block; refuses qgemm-packed checkpoints, which an engine cannot shard."""
    from ..config import from_hf_quantization_config

    if block.get("quant_method") == "qgemm" and "format_version" in block:
        raise ValueError(
            "qgemm: this checkpoint was written by qgemm.save_pretrained and holds packed "
            "buffers, which tensor-parallel loaders cannot slice or fuse. Serve the bf16 "
            "checkpoint with a qgemm quantization_config (or a torchao checkpoint) with "
            "--quantization qgemm; load packed checkpoints with qgemm.from_pretrained")
    config = from_hf_quantization_config(block)
    return config, block.get("quant_method") == "torchao", list(
        block.get("modules_to_not_convert") or [])


NAME = "qgemm"
CONFIG_FILE = "qgemm_config.json"


class ConfigMixin:
    """The QuantizationConfig methods vLLM and SGLang share (their base classes have the same
    interface). Subclasses set _linear_base, _unquantized and _method."""

    def __init__(self, config, torchao_checkpoint=False, skip_modules=()):
        super().__init__()
        self.config = config
        self.torchao_checkpoint = torchao_checkpoint
        self.skip_modules = list(skip_modules)

    def __repr__(self):
        return (f"{type(self).__name__}({self.config!r}, torchao_checkpoint="
                f"{self.torchao_checkpoint}, skip_modules={self.skip_modules})")

    def get_name(self):
        return NAME

    def get_supported_act_dtypes(self):
        return [torch.bfloat16, torch.float16]

    @classmethod
    def get_min_capability(cls):
        return 80

    @staticmethod
    def get_config_filenames():
        return [CONFIG_FILE]

    @classmethod
    def from_config(cls, config):
        return cls(*hf_block_config(config))

    @classmethod
    def override_quantization_method(cls, hf_quant_cfg, user_quant, hf_config=None):
        # Serve torchao checkpoints through qgemm when the user asks for it.
        if user_quant == NAME and hf_quant_cfg.get("quant_method") in ("torchao", NAME):
            return NAME
        return None

    def get_quant_method(self, layer, prefix):
        if not isinstance(layer, self._linear_base()):
            return None
        cfg = resolve(self.config, prefix, self.packed_modules_mapping, self.skip_modules)
        if cfg is None:
            return self._unquantized()()
        return self._method(cfg, self.torchao_checkpoint, prefix)

    def get_scaled_act_names(self):
        return []


class MethodMixin:
    """The LinearMethodBase methods vLLM and SGLang share. Subclasses set _set_weight_attrs and
    _capture_sizes."""

    def __init__(self, config, torchao_checkpoint=False, prefix=""):
        self.config = config
        self.torchao_checkpoint = torchao_checkpoint
        self.prefix = prefix

    def create_weights(self, layer, input_size_per_partition, output_partition_sizes,
                       input_size, output_size, params_dtype, **extra_weight_attrs):
        for name, t, dims in loading_params(self.config, self.torchao_checkpoint,
                                            output_partition_sizes, input_size_per_partition,
                                            params_dtype):
            p = torch.nn.Parameter(t, requires_grad=False)
            layer.register_parameter(name, p)
            self._set_weight_attrs(p, dims)
            self._set_weight_attrs(p, extra_weight_attrs)
        layer.params_dtype = params_dtype

    def process_weights_after_loading(self, layer):
        process(layer, self.config, self.torchao_checkpoint, self.prefix)
        prepare(layer, self._capture_sizes())

    def apply(self, layer, x, bias=None):
        return apply(layer, x, bias)


def engine_classes(engine, linear_base, linear_method_base, quantization_config, unquantized,
                   set_weight_attrs, capture_sizes):
    """(QgemmConfig, QgemmLinearMethod) subclassing one engine's base classes."""
    method = type("QgemmLinearMethod", (MethodMixin, linear_method_base), {
        "__doc__": f"{engine} linear method of qgemm: the weight is loaded in a sliceable form "
                   "by the engine's loaders, packed after loading, planned for the engine's "
                   "batch sizes.",
        "__module__": f"qgemm.integrations.{engine.lower()}",
        "_set_weight_attrs": staticmethod(set_weight_attrs),
        "_capture_sizes": staticmethod(capture_sizes)})
    config = type("QgemmConfig", (ConfigMixin, quantization_config), {
        "__doc__": f"{engine} QuantizationConfig of qgemm (name \"{NAME}\").",
        "__module__": f"qgemm.integrations.{engine.lower()}",
        "_linear_base": staticmethod(lambda: linear_base),
        "_unquantized": staticmethod(lambda: unquantized), "_method": method})
    return config, method
