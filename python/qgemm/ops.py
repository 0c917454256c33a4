"""torch custom operators over libqgemm, registered with torch.library under the "qgemm"
namespace (torch.ops.qgemm.*). They are what an engine's custom-op backend calls
(docs/integration.md):

  gemm_<scheme>(a, a_scale, weight, scale, zero, meta, bias, n, group_size,
                weight_per_tensor, act_per_tensor, out_dtype, float_zero_point=False) -> c [M, n]
      one op per scheme: gemm_w4a16, gemm_w8a16, gemm_w8a8_int8, gemm_w8a8_fp8, gemm_w4a8_fp8,
      gemm_w4a8_int8, gemm_sp24_fp8, gemm_sp24_int8, gemm_sp24_bf16
  quantize_activations(x, qdtype, per_tensor) -> (q [M, K], scale [M] or [1])
  dequantize_weight(weight, scale, zero, meta, scheme, n, k, group_size, zero_point,
                    weight_per_tensor, out_dtype, float_zero_point=False) -> w [n, k]
  (float_zero_point: the zero buffer holds w4a16 float zero points, docs/formats.md)
  pack_weight(w, scheme, group_size, zero_point, weight_per_tensor) -> [weight, scale, zero, meta]

Every op has a fake (meta) implementation, so torch.compile(fullgraph=True) traces through it.
On CUDA tensors the ops launch on torch's current stream with outputs from torch.empty, and do
no host synchronization or allocation of their own once the problem was prepared (prepare(),
QuantLinear.prepare), so they can be captured in CUDA graphs. On CPU tensors they run the C
library's host reference (float64): slow, exact, meant for tests and for opcheck.
"""

import ctypes
import threading
from typing import List, Optional, Tuple

import numpy as np
import torch

from . import _lib, host
from .spec import BUFFERS, SCHEME_INFO, WeightSpec

_DTYPE_NAME = {torch.bfloat16: "bf16", torch.float16: "f16"}
_QDTYPE = {"fp8_e4m3": torch.float8_e4m3fn, "int8": torch.int8}
_QG_DTYPE = {torch.bfloat16: _lib.DTYPES["bf16"], torch.float16: _lib.DTYPES["f16"]}


def op_name(scheme):
    """torch op name of a scheme's GEMM: 'w8a8-fp8' -> 'gemm_w8a8_fp8'."""
    return "gemm_" + scheme.replace("-", "_")


def _dtype_name(dt, what):
    try:
        return _DTYPE_NAME[dt]
    except KeyError:
        raise ValueError(f"qgemm: {what} must be bfloat16 or float16, got {dt}") from None


def gemm_spec(scheme, n, k, group_size, zero_point, weight_per_tensor, act_per_tensor,
              act_dtype, out_dtype, float_zero_point=False):
    """The WeightSpec a GEMM op call describes. For dynamic schemes the activations arrive
    quantized, so act_dtype (the pre-quantization type) is taken to be out_dtype: QuantLinear
    and prepare() build their problems through this same function, so the keys agree."""
    out_name = _dtype_name(out_dtype, "out_dtype")
    if SCHEME_INFO[scheme]["dynamic"]:
        act_name = out_name
    else:
        act_name = _dtype_name(act_dtype, "the activation dtype")
    return _spec_cached(scheme, int(n), int(k), int(group_size),
                        _zero_point(zero_point, float_zero_point), bool(weight_per_tensor),
                        bool(act_per_tensor), act_name, out_name)


def _zero_point(present, float_zero_point):
    """WeightSpec.zero_point of an op call: the zero buffer's presence and its kind."""
    if float_zero_point and not present:
        raise ValueError("qgemm: float_zero_point is set but the zero buffer is empty")
    return "float" if float_zero_point else bool(present)


_spec_cache = {}


def _spec_cached(*key):
    s = _spec_cache.get(key)
    if s is None:
        scheme, n, k, g, zp, wpt, apt, act, out = key
        s = WeightSpec(scheme, n, k, group_size=g, zero_point=zp, act_dtype=act, out_dtype=out,
                       weight_scale="per_tensor" if wpt else "per_row",
                       act_scale="per_tensor" if apt else "per_row")
        _spec_cache[key] = s
    return s


def spec_for_layer(spec, out_dtype=None):
    """Normalize a layer's WeightSpec to the one its GEMM op calls build (see gemm_spec)."""
    if spec.dynamic:
        return spec.with_(act_dtype=spec.out_dtype)
    return spec


# ---------------------------------------------------------------- per-device GPU state


class _DeviceState:
    """The shared qgemm Context of one device, the problems known to be planned (safe to launch
    inside CUDA graph capture), cached problem structs, and a workspace tensor from torch's
    allocator (zeroed once: kernels that use it as split-K locks leave it zeroed, like the
    library's own context workspace). One workspace per device: do not run qgemm GEMMs on two
    streams of one device concurrently."""

    def __init__(self, index):
        self.index = index
        self.ctx = _lib.get_context(index)
        self.ready = set()          # keys of problems planned (prepared or run once)
        self.problems = {}          # key -> Problem struct
        self.ws_need = {}           # key -> workspace bytes
        self.workspace = None       # torch uint8 tensor
        self.retired = []           # smaller workspaces that captured graphs may still use
        self.lock = threading.Lock()

    def problem(self, key, spec, m, has_bias):
        p = self.problems.get(key)
        if p is None:
            p = spec.problem(m, bias=has_bias)
            self.problems[key] = p
        return p

    def ensure_ready(self, key, p, gemm):
        """Plan `p` now unless known planned; refuses (with the fix) inside CUDA graph capture,
        where compiling or growing the workspace would break the capture."""
        if key in self.ready:
            return
        if torch.cuda.is_current_stream_capturing():
            raise RuntimeError(
                f"qgemm: {_lib.SCHEME_NAMES.get(p.scheme, p.scheme)} M={p.m} N={p.n} K={p.k} was "
                "not prepared and cannot be compiled inside CUDA graph capture: call "
                "qgemm.prepare(model, batch_sizes) (or QuantLinear.prepare) for every M the "
                "engine captures, or run one eager call first")
        with self.lock:
            if gemm:
                self.ctx.prepare([p])
                need = self.ctx.workspace_size(p)
                self.ws_need[key] = need
                if need and (self.workspace is None or self.workspace.numel() < need):
                    # The old buffer is kept alive: graphs captured earlier still point at it.
                    if self.workspace is not None:
                        self.retired.append(self.workspace)
                    self.workspace = torch.zeros(need, dtype=torch.uint8,
                                                 device=torch.device("cuda", self.index))
            self.ready.add(key)


_states = {}


def _state(device):
    idx = device.index if device.index is not None else torch.cuda.current_device()
    st = _states.get(idx)
    if st is None:
        st = _states[idx] = _DeviceState(idx)
    return st


def _ptr(t):
    return None if t is None or t.numel() == 0 else t.data_ptr()


def _stream(device):
    return ctypes.c_void_p(torch.cuda.current_stream(device).cuda_stream)


def _same_device(a, *ts):
    for t in ts:
        if t is not None and t.numel() and t.device != a.device:
            raise ValueError(f"qgemm: all tensors must be on {a.device}, one is on {t.device}")


# ---------------------------------------------------------------- implementations


def _check_gemm_inputs(scheme, a, a_scale, weight, bias, n, out_dtype, act_per_tensor):
    info = SCHEME_INFO[scheme]
    if a.dim() != 2:
        raise ValueError(f"qgemm.{op_name(scheme)}: a must be 2-D [M, K], got {tuple(a.shape)}")
    if info["dynamic"]:
        want = _QDTYPE[info["act_qdtype"]]
        if a.dtype != want:
            raise ValueError(f"qgemm.{op_name(scheme)}: a must be {want} (quantized "
                             f"activations), got {a.dtype}")
        if a_scale is None or a_scale.dtype != torch.float32:
            raise ValueError(f"qgemm.{op_name(scheme)}: a_scale (float32) is required")
        want_n = 1 if act_per_tensor else a.shape[0]
        if a_scale.numel() != want_n:
            raise ValueError(f"qgemm.{op_name(scheme)}: a_scale has {a_scale.numel()} values, "
                             f"expected {want_n}")
    elif a.dtype not in _DTYPE_NAME:
        raise ValueError(f"qgemm.{op_name(scheme)}: a must be bfloat16 or float16, got {a.dtype}")
    if weight.dtype != torch.uint8:
        raise ValueError(f"qgemm.{op_name(scheme)}: packed weight must be uint8, got "
                         f"{weight.dtype}")
    if bias is not None and (bias.dtype != out_dtype or bias.numel() != n):
        raise ValueError(f"qgemm.{op_name(scheme)}: bias must be [{n}] {out_dtype}, got "
                         f"{tuple(bias.shape)} {bias.dtype}")


def _bits(t):
    """numpy view of a CPU tensor's bytes: uint16 for 16-bit types, uint8 for 8-bit ones."""
    t = t.detach().contiguous()
    if t.element_size() == 2:
        return t.view(torch.int16).numpy().view(np.uint16)
    return t.view(torch.uint8).numpy()


def _packed_np(weight, scale, zero, meta):
    out = {}
    for name, t in zip(BUFFERS, (weight, scale, zero, meta)):
        if t is not None and t.numel():
            out[name] = t.detach().contiguous().view(torch.uint8).reshape(-1).numpy()
    return out


def _gemm_impl(scheme, a, a_scale, weight, scale, zero, meta, bias, n, group_size,
               weight_per_tensor, act_per_tensor, out_dtype, float_zero_point=False):
    _check_gemm_inputs(scheme, a, a_scale, weight, bias, n, out_dtype, act_per_tensor)
    m, k = a.shape
    spec = gemm_spec(scheme, n, k, group_size, zero is not None and zero.numel() > 0,
                     weight_per_tensor, act_per_tensor, a.dtype, out_dtype, float_zero_point)
    _check_sizes(spec, weight, scale, zero, meta)  # a short buffer would be read past its end
    if m == 0:
        return torch.empty((0, n), dtype=out_dtype, device=a.device)
    if a.device.type == "cpu":
        c = host.reference_gemm(spec, _bits(a), _packed_np(weight, scale, zero, meta),
                                a_scale=None if a_scale is None else a_scale.numpy(),
                                bias=None if bias is None else _bits(bias))
        return torch.from_numpy(c).to(out_dtype)
    if a.device.type != "cuda":
        raise ValueError(f"qgemm: unsupported device {a.device}")
    _same_device(a, a_scale, weight, scale, zero, meta, bias)
    if a.stride(1) != 1 or a.stride(0) < k:
        a = a.contiguous()
    st = _state(a.device)
    key = ("gemm", spec.key(), m, bias is not None)
    p = st.problem(key, spec, m, bias is not None)
    st.ensure_ready(key, p, gemm=True)
    c = torch.empty((m, n), dtype=out_dtype, device=a.device)
    args = _lib.GemmArgs()
    args.struct_size = ctypes.sizeof(_lib.GemmArgs)
    args.a = a.data_ptr()
    args.a_scale = _ptr(a_scale)
    args.w = _lib.PackedWeight(_ptr(weight), _ptr(scale), _ptr(zero), _ptr(meta))
    args.bias = _ptr(bias)
    args.c = c.data_ptr()
    args.lda = a.stride(0)
    args.ldc = n
    need = st.ws_need.get(key, 0)
    if need:
        args.workspace = st.workspace.data_ptr()
        args.workspace_bytes = st.workspace.numel()
    L = _lib.lib()
    _lib.check(L.qg_gemm(st.ctx.handle, ctypes.byref(p), ctypes.byref(args),
                         _stream(a.device)), st.ctx.handle)
    return c


def _gemm_fake(scheme, a, a_scale, weight, scale, zero, meta, bias, n, group_size,
               weight_per_tensor, act_per_tensor, out_dtype, float_zero_point=False):
    _check_gemm_inputs(scheme, a, a_scale, weight, bias, n, out_dtype, act_per_tensor)
    k = a.shape[1]
    if isinstance(k, int):  # with a concrete K the packed sizes can be checked while tracing
        spec = gemm_spec(scheme, n, k, group_size, zero is not None and zero.numel() > 0,
                         weight_per_tensor, act_per_tensor, a.dtype, out_dtype, float_zero_point)
        _check_sizes(spec, weight, scale, zero, meta)
    return a.new_empty((a.shape[0], n), dtype=out_dtype)


def _check_sizes(spec, weight, scale, zero, meta):
    sizes = spec.sizes()
    for name, t in zip(BUFFERS, (weight, scale, zero, meta)):
        have = 0 if t is None else t.numel() * t.element_size()
        if isinstance(have, int) and have != sizes[name]:
            raise ValueError(f"qgemm: packed '{name}' has {have} bytes, {spec.scheme} "
                             f"N={spec.n} K={spec.k} needs {sizes[name]}")


def _make_gemm_op(scheme):
    name = op_name(scheme)

    def gemm(a: torch.Tensor, a_scale: Optional[torch.Tensor], weight: torch.Tensor,
             scale: Optional[torch.Tensor], zero: Optional[torch.Tensor],
             meta: Optional[torch.Tensor], bias: Optional[torch.Tensor], n: int,
             group_size: int, weight_per_tensor: bool, act_per_tensor: bool,
             out_dtype: torch.dtype, float_zero_point: bool = False) -> torch.Tensor:
        return _gemm_impl(scheme, a, a_scale, weight, scale, zero, meta, bias, n, group_size,
                          weight_per_tensor, act_per_tensor, out_dtype, float_zero_point)

    gemm.__name__ = name
    gemm.__doc__ = (f"C[M, n] = A * W^T (+ bias) for scheme {scheme} (see qgemm.ops)")
    op = torch.library.custom_op(f"qgemm::{name}", mutates_args=())(gemm)

    @op.register_fake
    def _(a, a_scale, weight, scale, zero, meta, bias, n, group_size, weight_per_tensor,
          act_per_tensor, out_dtype, float_zero_point=False):
        return _gemm_fake(scheme, a, a_scale, weight, scale, zero, meta, bias, n, group_size,
                          weight_per_tensor, act_per_tensor, out_dtype, float_zero_point)

    return op


GEMM_OPS = {s: _make_gemm_op(s) for s in SCHEME_INFO}


# ---- activation quantization

def _actq_scheme(qdtype):
    if qdtype == torch.float8_e4m3fn:
        return "w8a8-fp8"
    if qdtype == torch.int8:
        return "w8a8-int8"
    raise ValueError(f"qgemm.quantize_activations: qdtype must be float8_e4m3fn or int8, got "
                     f"{qdtype}")


def _actq_check(x, qdtype):
    scheme = _actq_scheme(qdtype)
    if x.dim() != 2:
        raise ValueError(f"qgemm.quantize_activations: x must be 2-D [M, K], got "
                         f"{tuple(x.shape)}")
    _dtype_name(x.dtype, "x")
    return scheme


@torch.library.custom_op("qgemm::quantize_activations", mutates_args=())
def quantize_activations(x: torch.Tensor, qdtype: torch.dtype,
                         per_tensor: bool) -> Tuple[torch.Tensor, torch.Tensor]:
    """Dynamic activation quantization, per token (or per tensor): x [M, K] bf16/f16 ->
    (q [M, K] float8_e4m3fn or int8, scale float32 [M] or [1]) with
    scale = max(absmax / QMAX, 1e-12), q = round(x / scale) (QMAX 448 or 127)."""
    scheme = _actq_check(x, qdtype)
    m, k = x.shape
    q = torch.empty((m, k), dtype=qdtype, device=x.device)
    s = torch.empty((1 if per_tensor else m,), dtype=torch.float32, device=x.device)
    if m == 0:
        return q, s
    spec = _spec_cached(scheme, 16, int(k), 0, False, False, bool(per_tensor),
                        _DTYPE_NAME[x.dtype], _DTYPE_NAME[x.dtype])
    if x.device.type == "cpu":
        qn, sn = host.quantize_activations(spec, _bits(x))
        q.view(torch.uint8).copy_(torch.from_numpy(qn))
        s.copy_(torch.from_numpy(sn))
        return q, s
    if x.stride(1) != 1 or x.stride(0) != k:
        x = x.contiguous()
    st = _state(x.device)
    key = ("actq", spec.key(), m)
    p = st.problem(key, spec, m, False)
    st.ensure_ready(key, p, gemm=False)  # first eager call plans it (outside capture)
    _lib.check(_lib.lib().qg_quantize_activations(
        st.ctx.handle, ctypes.byref(p), x.data_ptr(), q.data_ptr(), s.data_ptr(),
        _stream(x.device)), st.ctx.handle)
    return q, s


@quantize_activations.register_fake
def _(x, qdtype, per_tensor):
    _actq_check(x, qdtype)
    m, k = x.shape
    return (x.new_empty((m, k), dtype=qdtype),
            x.new_empty((1 if per_tensor else m,), dtype=torch.float32))


# ---- dequantize

@torch.library.custom_op("qgemm::dequantize_weight", mutates_args=())
def dequantize_weight(weight: torch.Tensor, scale: Optional[torch.Tensor],
                      zero: Optional[torch.Tensor], meta: Optional[torch.Tensor], scheme: str,
                      n: int, k: int, group_size: int, zero_point: bool,
                      weight_per_tensor: bool, out_dtype: torch.dtype,
                      float_zero_point: bool = False) -> torch.Tensor:
    """Unpack a packed weight to a dense [n, k] tensor of out_dtype (bf16/f16)."""
    spec = _dequant_spec(scheme, n, k, group_size, zero_point, weight_per_tensor, out_dtype,
                         float_zero_point)
    _check_sizes(spec, weight, scale, zero, meta)
    if weight.device.type == "cpu":
        w = host.dequantize_weight(spec, _packed_np(weight, scale, zero, meta))
        return torch.from_numpy(w).to(out_dtype)
    _same_device(weight, scale, zero, meta)
    st = _state(weight.device)
    out = torch.empty((n, k), dtype=out_dtype, device=weight.device)
    p = spec.problem(1)
    pw = _lib.PackedWeight(_ptr(weight), _ptr(scale), _ptr(zero), _ptr(meta))
    key = ("dequant", spec.key())
    st.ensure_ready(key, p, gemm=False)
    _lib.check(_lib.lib().qg_dequantize_weight(st.ctx.handle, ctypes.byref(p), ctypes.byref(pw),
                                               out.data_ptr(), _QG_DTYPE[out_dtype],
                                               _stream(weight.device)), st.ctx.handle)
    return out


def _dequant_spec(scheme, n, k, group_size, zero_point, weight_per_tensor, out_dtype,
                  float_zero_point=False):
    if scheme not in SCHEME_INFO:
        raise ValueError(f"qgemm: unknown scheme {scheme!r}")
    name = _dtype_name(out_dtype, "out_dtype")
    return _spec_cached(scheme, int(n), int(k), int(group_size),
                        _zero_point(zero_point, float_zero_point), bool(weight_per_tensor),
                        False, name, name)


@dequantize_weight.register_fake
def _(weight, scale, zero, meta, scheme, n, k, group_size, zero_point, weight_per_tensor,
      out_dtype, float_zero_point=False):
    spec = _dequant_spec(scheme, n, k, group_size, zero_point, weight_per_tensor, out_dtype,
                         float_zero_point)
    _check_sizes(spec, weight, scale, zero, meta)
    return weight.new_empty((n, k), dtype=out_dtype)


# ---- pack (host packers; not for the hot path)

@torch.library.custom_op("qgemm::pack_weight", mutates_args=())
def pack_weight(w: torch.Tensor, scheme: str, group_size: int, zero_point: bool,
                weight_per_tensor: bool) -> List[torch.Tensor]:
    """Quantize and pack a dense weight [N, K] (bf16/f16/f32); returns [weight, scale, zero,
    meta] uint8 tensors on w's device (empty where the scheme has no such buffer). A CUDA
    weight of w8a8-int8/fp8, w8a16 or w4a16 is packed on the GPU by torch ops that compute
    the host packers' bytes exactly (qgemm.device_quant); otherwise the C library's host
    packers run on the CPU (w is copied there). Call it at load time."""
    spec = _pack_spec(w, scheme, group_size, zero_point, weight_per_tensor)
    if w.device.type == "cuda":
        from . import device_quant

        spec.sizes()  # the library's shape checks first, as on the host path
        packed = device_quant.quantize_weight(spec, w)
        if packed is not None:
            return [packed[b].contiguous() if b in packed else
                    torch.empty(0, dtype=torch.uint8, device=w.device) for b in BUFFERS]
    wc = w.detach().to("cpu").contiguous()
    if wc.dtype == torch.bfloat16:
        packed = host.quantize_weight_bf16(spec, _bits(wc))
    else:
        packed = host.quantize_weight(spec, wc.float().numpy())
    return [torch.from_numpy(packed[b]).to(w.device) if packed[b].size else
            torch.empty(0, dtype=torch.uint8, device=w.device) for b in BUFFERS]


def _pack_spec(w, scheme, group_size, zero_point, weight_per_tensor):
    if scheme not in SCHEME_INFO:
        raise ValueError(f"qgemm.pack_weight: unknown scheme {scheme!r}")
    if w.dim() != 2:
        raise ValueError(f"qgemm.pack_weight: w must be 2-D [N, K], got {tuple(w.shape)}")
    if w.dtype not in (torch.bfloat16, torch.float16, torch.float32):
        raise ValueError(f"qgemm.pack_weight: w must be bf16/f16/f32, got {w.dtype}")
    n, k = w.shape
    if not (isinstance(n, int) and isinstance(k, int)):
        return None
    return WeightSpec(scheme, n, k, group_size=group_size, zero_point=zero_point,
                      weight_scale="per_tensor" if weight_per_tensor else "per_row")


@pack_weight.register_fake
def _(w, scheme, group_size, zero_point, weight_per_tensor):
    spec = _pack_spec(w, scheme, group_size, zero_point, weight_per_tensor)
    if spec is None:  # symbolic shapes: sizes are only known at run time
        ctx = torch.library.get_ctx()
        return [w.new_empty((ctx.new_dynamic_size(),), dtype=torch.uint8) for _ in BUFFERS]
    sizes = spec.sizes()
    return [w.new_empty((sizes[b],), dtype=torch.uint8) for b in BUFFERS]


# ---------------------------------------------------------------- Python conveniences


def gemm(spec, a, packed, a_scale=None, bias=None):
    """Call the GEMM op of spec.scheme with a dict of packed tensors {'weight', 'scale',
    'zero', 'meta'}."""
    op = GEMM_OPS[spec.scheme]
    return op(a, a_scale, packed["weight"], packed.get("scale"), packed.get("zero"),
              packed.get("meta"), bias, spec.n, spec.group_size,
              spec.weight_scale == "per_tensor", spec.act_scale == "per_tensor",
              torch.bfloat16 if spec.out_dtype == "bf16" else torch.float16,
              spec.float_zero_point)


def linear(x, spec, packed, bias=None):
    """y = x W^T + b for x [..., K] (bf16/f16): quantizes activations first for dynamic
    schemes. What QuantLinear.forward does."""
    lead = x.shape[:-1]
    x2 = x.reshape(-1, x.shape[-1])
    if spec.dynamic:
        q, s = quantize_activations(x2, _QDTYPE[spec.act_qdtype], spec.act_scale == "per_tensor")
        y = gemm(spec, q, packed, a_scale=s, bias=bias)
    else:
        y = gemm(spec, x2, packed, bias=bias)
    return y.reshape(*lead, spec.n)


def prepare_gemm(spec, m_values, device, has_bias=False):
    """Plan (compile/load) the GEMM kernels of a layer for each M, and the activation quantizer
    for dynamic schemes, so that later calls for these M can be captured in a CUDA graph."""
    device = torch.device(device)
    if device.type != "cuda":
        return
    st = _state(device)
    s = spec_for_layer(spec)
    for m in sorted(set(int(v) for v in m_values)):
        if m <= 0:
            continue
        key = ("gemm", s.key(), m, bool(has_bias))
        st.ensure_ready(key, st.problem(key, s, m, bool(has_bias)), gemm=True)
        if s.dynamic:
            qdt = _QDTYPE[s.act_qdtype]
            x = torch.zeros((m, s.k), dtype=torch.bfloat16 if s.act_dtype == "bf16"
                            else torch.float16, device=device)
            quantize_activations(x, qdt, s.act_scale == "per_tensor")


def is_prepared(spec, m, device, has_bias=False):
    st = _states.get(torch.device(device).index or 0)
    return st is not None and ("gemm", spec_for_layer(spec).key(), m, bool(has_bias)) in st.ready


__all__ = ["GEMM_OPS", "op_name", "quantize_activations", "dequantize_weight", "pack_weight",
           "gemm", "linear", "prepare_gemm", "gemm_spec"]
