"""Builds qgemm and each peer of bench/peer_catalog.py on one weight, the way a user would: the
library's public quantize API on an nn.Linear (qgemm.quantize_, torchao's quantize_ and
sparsify_, gemlite.helper), or the raw torch kernel for the _scaled_mm / _int_mm / F.linear
baselines. Every builder returns one `bind` per weight copy: bind(x) readies the inputs for
activations x (eagerly: planning, padding, pre-quantizing) and returns (call, post), where call()
is what gets timed and post(call()) is the [M, N] float result for the error check."""
import torch
import torch.nn.functional as F

from peer_catalog import QGEMM_CONFIGS
from peer_report import BF16

FP8_MAX = 448.0


def _module(w):
    """An nn.Sequential holding one bias-free nn.Linear with weight w (quantize_ replaces
    children, so the Linear is not the root)."""
    lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=False, device="meta")
    lin.weight = torch.nn.Parameter(w.clone(), requires_grad=False)
    return torch.nn.Sequential(lin)


def _module_bind(mod, prepare=None):
    def bind(x):
        if prepare:
            prepare(mod, x.shape[0])
        return (lambda: mod(x)), None
    return bind


def _check_quantized(mod, what):
    # torchao's quantize_ leaves a weight alone when its shape does not suit the config: that
    # would time bf16 under the peer's name.
    if type(mod[0].weight) in (torch.nn.Parameter, torch.Tensor):
        raise RuntimeError(f"{what} left the weight unquantized")


def prune_2_4(w):
    """Keeps the 2 largest magnitudes of every 4 along K (the weight every 2:4 case uses)."""
    n, k = w.shape
    g = w.reshape(n, k // 4, 4)
    keep = torch.zeros_like(g, dtype=torch.bool).scatter_(-1, g.abs().topk(2, dim=-1).indices,
                                                          True)
    return (g * keep).reshape(n, k)


def rowwise_quant(t, dtype):
    """Symmetric per-row quantization: (q, float32 scales [rows, 1])."""
    qmax = FP8_MAX if dtype == torch.float8_e4m3fn else 127.0
    s = t.abs().amax(dim=1, keepdim=True).float().clamp_min(1e-12) / qmax
    q = (t.float() / s).clamp(-qmax, qmax)
    return (q if dtype == torch.float8_e4m3fn else q.round()).to(dtype), s


def _pad_rows(x, multiple, minimum):
    m = x.shape[0]
    mp = max(minimum, -(-m // multiple) * multiple)
    return F.pad(x, (0, 0, 0, mp - m)) if mp != m else x


# ---- qgemm (its public torch API: qgemm.quantize_ + qgemm.prepare before graph capture)

def _qgemm_config(scheme):
    import qgemm
    name, kw = QGEMM_CONFIGS[scheme]
    kw = {k: (getattr(qgemm, v)() if k == "granularity" else v) for k, v in kw.items()}
    return getattr(qgemm, name)(**kw)


def build_qgemm(scheme, w, copies):
    import qgemm
    from qgemm.nn import QuantLinear
    mod = _module(w)
    qgemm.quantize_(mod, _qgemm_config(scheme), skip_incompatible=False)
    first = mod[0]
    mods = [mod] + [torch.nn.Sequential(QuantLinear(first.spec, {b: t.clone() for b, t in
                                                                  first.packed().items()}))
                    for _ in range(copies - 1)]
    return [_module_bind(m, lambda mod, rows: qgemm.prepare(mod, [rows])) for m in mods]


# ---- torchao

def _torchao_config(name):
    from torchao.quantization import (Float8DynamicActivationFloat8WeightConfig,
                                      Float8DynamicActivationInt4WeightConfig,
                                      Int4WeightOnlyConfig,
                                      Int8DynamicActivationInt8WeightConfig,
                                      Int8WeightOnlyConfig, PerRow)
    return {
        "torchao-int4": lambda: Int4WeightOnlyConfig(group_size=128),
        "torchao-int4-tinygemm": lambda: Int4WeightOnlyConfig(
            group_size=128, int4_packing_format="tile_packed_to_4d"),
        "torchao-int8-wo": lambda: Int8WeightOnlyConfig(),
        "torchao-fp8-rowwise": lambda: Float8DynamicActivationFloat8WeightConfig(
            granularity=PerRow()),
        "torchao-sparse-fp8": lambda: Float8DynamicActivationFloat8WeightConfig(
            granularity=PerRow(), packing_format="sparse_2d_data_2d_metadata"),
        "torchao-fp8-int4": lambda: Float8DynamicActivationInt4WeightConfig(),
        "torchao-int8-dyn": lambda: Int8DynamicActivationInt8WeightConfig(),
    }[name]()


def build_torchao(name, w, copies):
    from torchao.quantization import quantize_
    binds = []
    for _ in range(copies):
        mod = _module(w)
        quantize_(mod, _torchao_config(name))
        _check_quantized(mod, name)
        binds.append(_module_bind(mod))
    return binds


def build_cusparselt(w, copies):
    from torchao.sparsity import sparsify_
    # torchao.sparsity exports the config only as `semi_sparse_weight`; the class is here.
    from torchao.sparsity.sparse_api import SemiSparseWeightConfig
    binds = []
    for _ in range(copies):
        mod = _module(w)
        sparsify_(mod, SemiSparseWeightConfig())
        _check_quantized(mod, "sparsify_")
        binds.append(_module_bind(mod))
    return binds


# ---- gemlite (Triton)

def gemlite_a16w4_layer(w, group=128):
    """gemlite.helper.A16Wn with asymmetric 4-bit groups: W ~ (Wq - zero) * scale."""
    from gemlite.helper import A16Wn
    n, k = w.shape
    wg = w.float().reshape(n, k // group, group)
    lo, hi = wg.amin(-1, keepdim=True), wg.amax(-1, keepdim=True)
    scale = ((hi - lo) / 15).clamp_min(1e-8)
    zero = -lo / scale
    wq = (wg / scale + zero).round().clamp(0, 15).to(torch.uint8).reshape(n, k)
    return A16Wn(device=str(w.device), dtype=torch.bfloat16).from_weights(
        wq, scale.reshape(n, -1).to(torch.bfloat16), zero.reshape(n, -1).to(torch.bfloat16),
        W_nbits=4, group_size=group)


def build_gemlite(name, w, copies):
    from gemlite import helper
    binds = []
    for _ in range(copies):
        if name == "gemlite-a16w4":
            layer = gemlite_a16w4_layer(w)
        else:
            cls = helper.A8W8_fp8_dynamic if name == "gemlite-a8w8-fp8" else helper.A8W8_int8_dynamic
            layer = cls(device=str(w.device), dtype=torch.bfloat16).from_linear(_module(w)[0])
        binds.append(_module_bind(layer))
    return binds


# ---- raw torch kernels

def build_bf16(w, copies):
    binds = []
    for _ in range(copies):
        wc = w.clone()
        binds.append(lambda x, wc=wc: ((lambda: F.linear(x, wc)), None))
    return binds


def build_rowwise_8bit(name, w, copies):
    """torch._scaled_mm (e4m3, M padded to 16) or torch._int_mm (int8, M padded to 32, rows a
    multiple of 8) on per-row quantized weights; activations are quantized in bind, outside the
    timed call. _int_mm's int32 product is scaled back in post (for the error only)."""
    fp8 = name == "torch-scaled-mm"
    dtype, multiple, minimum = (torch.float8_e4m3fn, 16, 16) if fp8 else (torch.int8, 8, 32)
    binds = []
    for _ in range(copies):
        wq, sw = rowwise_quant(w, dtype)
        sw = sw.t().contiguous()

        def bind(x, wq=wq, sw=sw):
            xq, sx = rowwise_quant(_pad_rows(x, multiple, minimum), dtype)
            if fp8:
                return (lambda: torch._scaled_mm(xq, wq.t(), scale_a=sx, scale_b=sw,
                                                 out_dtype=torch.bfloat16)), None
            return (lambda: torch._int_mm(xq, wq.t())), (lambda y: y.float() * sx * sw)
        binds.append(bind)
    return binds


def build_peer(name, w, copies):
    """One bind per copy of weight w for peer `name` (peer_catalog.PEERS)."""
    if name == BF16:
        return build_bf16(w, copies)
    if name == "torchao-cusparselt":
        return build_cusparselt(w, copies)
    if name.startswith("torchao-"):
        return build_torchao(name, w, copies)
    if name.startswith("gemlite-"):
        return build_gemlite(name, w, copies)
    if name in ("torch-scaled-mm", "torch-int-mm"):
        return build_rowwise_8bit(name, w, copies)
    if name in ("qgemm-dense-fp8", "qgemm-dense-int8"):
        return build_qgemm("w8a8-" + name.rsplit("-", 1)[1], w, copies)
    raise ValueError(f"no builder for peer {name}")
