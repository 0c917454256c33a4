"""QuantLinear (a Linear whose weight is packed for a qgemm kernel) and the model API:
quantize_(model, config) in the style of torchao, and prepare(model, m_values) to plan the
kernels ahead of CUDA graph capture."""

import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from . import _lib, host, ops
from .config import ModuleFqnToConfig, QuantConfig
from .spec import BUFFERS, WeightSpec

_TORCH_DTYPE = {"bf16": torch.bfloat16, "f16": torch.float16}
_NAME = {torch.bfloat16: "bf16", torch.float16: "f16"}
_SUFFIX = {"weight": "qweight", "scale": "qscale", "zero": "qzero", "meta": "qmeta"}


class QuantLinear(torch.nn.Module):
    """y = x W^T + b with W packed by the C library (docs/formats.md) and computed by the qgemm
    custom ops (torch.ops.qgemm.*). Buffers: qweight, qscale, qzero, qmeta (1-D uint8, None
    where the scheme has no such buffer) and bias. `spec` says how to read them."""

    def __init__(self, spec, packed, bias=None, device=None):
        super().__init__()
        if not isinstance(spec, WeightSpec):
            raise TypeError("spec must be a qgemm WeightSpec")
        self.spec = spec
        self.in_features = spec.k
        self.out_features = spec.n
        sizes = spec.sizes()
        for buf in BUFFERS:
            t = packed.get(buf)
            if t is not None and not isinstance(t, torch.Tensor):
                t = torch.from_numpy(np.ascontiguousarray(t))
            have = 0 if t is None else t.numel() * t.element_size()
            if have != sizes[buf]:
                raise ValueError(f"QuantLinear {spec.scheme} N={spec.n} K={spec.k}: packed "
                                 f"'{buf}' has {have} bytes, needs {sizes[buf]}")
            if t is not None and have:
                t = t.contiguous().view(torch.uint8).reshape(-1)
                if device is not None:
                    t = t.to(device)
            else:
                t = None
            self.register_buffer(_SUFFIX[buf], t)
        if bias is not None:
            bias = bias.detach().to(_TORCH_DTYPE[spec.out_dtype]).reshape(spec.n)
            if device is not None:
                bias = bias.to(device)
        self.register_buffer("bias", bias)
        # Plain attributes for forward (cheap to read, constant under torch.compile).
        self._op_spec = ops.spec_for_layer(spec)
        self._gemm = getattr(torch.ops.qgemm, ops.op_name(spec.scheme))
        self._dynamic = spec.dynamic
        self._qdtype = {"fp8_e4m3": torch.float8_e4m3fn, "int8": torch.int8}.get(
            spec.act_qdtype)
        self._act_dtype = _TORCH_DTYPE[spec.act_dtype]
        self._out_dtype = _TORCH_DTYPE[spec.out_dtype]
        self._wpt = spec.weight_scale == "per_tensor"
        self._apt = spec.act_scale == "per_tensor"
        self._fzp = spec.float_zero_point

    @classmethod
    def from_linear(cls, linear, config_or_spec, device=None):
        """Quantize and pack a torch.nn.Linear with the C library's host packers."""
        w = linear.weight
        spec = _spec_for(linear, config_or_spec)
        if spec.float_zero_point:
            raise ValueError("QuantLinear.from_linear: float zero points come from torchao "
                             "checkpoints (qgemm.torchao_compat); the packers make integer ones")
        bufs = ops.pack_weight(w.detach(), spec.scheme, spec.group_size, spec.zero_point,
                               spec.weight_scale == "per_tensor")
        packed = {b: t for b, t in zip(BUFFERS, bufs) if t.numel()}
        return cls(spec, packed, bias=linear.bias, device=device or w.device)

    def forward(self, x):
        if x.dtype != self._act_dtype:
            x = x.to(self._act_dtype)
        lead = x.shape[:-1]
        x2 = x.reshape(-1, self.in_features)
        if self._dynamic:
            q, s = torch.ops.qgemm.quantize_activations(x2, self._qdtype, self._apt)
        else:
            q, s = x2, None
        y = self._gemm(q, s, self.qweight, self.qscale, self.qzero, self.qmeta, self.bias,
                       self.out_features, self.spec.group_size, self._wpt, self._apt,
                       self._out_dtype, self._fzp)
        return y.reshape(*lead, self.out_features)

    def packed(self):
        return {b: getattr(self, _SUFFIX[b]) for b in BUFFERS if getattr(self, _SUFFIX[b]) is
                not None}

    def packed_numpy(self):
        return {b: t.detach().cpu().numpy() for b, t in self.packed().items()}

    def prepare(self, m_values):
        """Plan this layer's kernels for these M (rows per call) on its device."""
        ops.prepare_gemm(self.spec, m_values, self.qweight.device, self.bias is not None)

    def dequantize(self, dtype=None):
        """The dense weight [N, K] (GPU kernel on CUDA, host reference on CPU)."""
        dtype = dtype or self._out_dtype
        s = self.spec
        return torch.ops.qgemm.dequantize_weight(
            self.qweight, self.qscale, self.qzero, self.qmeta, s.scheme, s.n, s.k, s.group_size,
            bool(s.zero_point), self._wpt, dtype, self._fzp)

    def dequantize_host(self):
        """The dense weight as float32 on the CPU, from the C host unpacker (ground truth)."""
        return torch.from_numpy(host.dequantize_weight(self.spec, self.packed_numpy()))

    def extra_repr(self):
        s = self.spec
        g = f", group_size={s.group_size}" if s.group_size else ""
        return (f"in_features={s.k}, out_features={s.n}, bias={self.bias is not None}, "
                f"scheme={s.scheme}{g}, weight_scale={s.weight_scale}"
                + (f", act_scale={s.act_scale}" if s.dynamic else ""))


def _spec_for(linear, config_or_spec):
    if isinstance(config_or_spec, WeightSpec):
        spec = config_or_spec
        if (spec.n, spec.k) != (linear.out_features, linear.in_features):
            raise ValueError(f"spec is [{spec.n}, {spec.k}], the Linear is "
                             f"[{linear.out_features}, {linear.in_features}]")
        return spec
    dt = linear.weight.dtype
    name = _NAME.get(dt, "bf16")  # float32 models compute in bf16 through qgemm
    return config_or_spec.weight_spec(linear.out_features, linear.in_features, act_dtype=name,
                                      out_dtype=name)


def _default_filter(module, fqn):
    return isinstance(module, torch.nn.Linear) and not isinstance(module, QuantLinear)


def quantize_(model, config, filter_fn=None, device=None, skip_incompatible=True, workers=None):
    """Replace the model's Linear layers by QuantLinear modules, in place (torchao's quantize_).

    config: a qgemm config (Int4WeightOnlyConfig(group_size=128), ...) for every Linear that
    filter_fn(module, fqn) accepts, or a ModuleFqnToConfig mapping names (and "_default") to
    configs or None. By default every torch.nn.Linear is quantized except the output
    projection (lm_head, or the model's get_output_embeddings()), as transformers' torchao
    integration does; it is quantized when a filter_fn accepts it or a ModuleFqnToConfig names
    it (exactly or by a "re:" pattern, not through "_default").
    A Linear whose shape the scheme cannot pack (e.g. K not a multiple of 128 for int4 x 8-bit)
    is left unquantized when skip_incompatible (listed in model._qgemm_skipped), else raises.
    CUDA weights are quantized and packed on the GPU (qgemm.device_quant, one layer at a time);
    others on the CPU by the C library, layers in parallel (`workers` threads).
    Returns the model; model._qgemm_config records the config for saving."""
    if not isinstance(config, QuantConfig):
        raise TypeError(f"config must be a qgemm config, got {type(config).__name__}")
    filter_fn = filter_fn or _default_filter
    jobs, skipped = [], []
    for fqn, mod in model.named_modules():
        if not isinstance(mod, torch.nn.Linear) or isinstance(mod, QuantLinear):
            continue
        if filter_fn is _default_filter and _is_output_projection(model, mod, fqn) and \
                not (isinstance(config, ModuleFqnToConfig) and config.names(fqn)):
            continue
        if isinstance(config, ModuleFqnToConfig):
            cfg = config.config_for(fqn)
            if cfg is None or not filter_fn(mod, fqn):
                continue
        else:
            if not filter_fn(mod, fqn):
                continue
            cfg = config
        spec = _spec_for(mod, cfg)
        try:
            spec.sizes()
        except _lib.InvalidArgumentError as e:
            if not skip_incompatible:
                raise
            skipped.append((fqn, e.message))
            continue
        jobs.append((fqn, mod, spec))
    for fqn, why in skipped:
        warnings.warn(f"qgemm.quantize_: {fqn} left unquantized: {why}", stacklevel=2)

    def work(job):
        fqn, mod, spec = job
        return fqn, QuantLinear.from_linear(mod, spec, device=device or mod.weight.device)

    if workers is None and any(mod.weight.is_cuda for _, mod, _ in jobs):
        workers = 1  # packed on the GPU (device_quant): threads would only multiply its memory
    workers = workers or min(16, os.cpu_count() or 1)
    if workers > 1 and len(jobs) > 1:
        with ThreadPoolExecutor(workers) as ex:  # ctypes releases the GIL in the C packers
            results = list(ex.map(work, jobs))
    else:
        results = [work(j) for j in jobs]
    for fqn, q in results:
        _set_submodule(model, fqn, q)
    model._qgemm_config = config
    model._qgemm_skipped = skipped
    return model


def _is_output_projection(model, mod, fqn):
    get = getattr(model, "get_output_embeddings", None)
    try:
        out = get() if callable(get) else None
    except (AttributeError, NotImplementedError):
        out = None
    return mod is out or fqn == "lm_head" or fqn.endswith(".lm_head")


def _set_submodule(model, fqn, new):
    parent_name, _, child = fqn.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


def quant_linears(model):
    return [(fqn, m) for fqn, m in model.named_modules() if isinstance(m, QuantLinear)]


def prepare(model, m_values):
    """Plan every QuantLinear's kernels for these M values (tokens per forward call: the decode
    batch sizes an engine captures, and the prefill sizes), so calls with them do no compilation
    or allocation and can be captured in CUDA graphs. Returns the number of layers prepared."""
    n = 0
    for _, m in quant_linears(model):
        m.prepare(m_values)
        n += 1
    return n


def dequantized_copy_(model, dtype=torch.bfloat16):
    """Replace each QuantLinear by a torch.nn.Linear holding its host-dequantized weight (the
    C unpacker's float32 result, rounded to `dtype`), in place: the reference model whose
    weights are exactly the quantized ones."""
    for fqn, q in quant_linears(model):
        w = q.dequantize_host()
        lin = torch.nn.Linear(q.in_features, q.out_features, bias=q.bias is not None,
                              device="meta")
        lin.weight = torch.nn.Parameter(w.to(dtype=dtype, device=q.qweight.device),
                                        requires_grad=False)
        if q.bias is not None:
            lin.bias = torch.nn.Parameter(q.bias.to(dtype), requires_grad=False)
        _set_submodule(model, fqn, lin)
    return model
