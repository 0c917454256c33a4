"""SGLang plugin: `--quantization qgemm` runs SGLang's linear layers on qgemm's kernels.

Installed as the entry point `qgemm = qgemm.integrations.sglang:register` of the group
`sglang.srt.plugins`; register() adds "qgemm" to sglang.srt.layers.quantization's
QUANTIZATION_METHODS and to the server's --quantization choices (idempotent). Checkpoints
and configs: as for vLLM (qgemm.integrations.vllm); the shared logic is
qgemm.integrations.linear."""

from sglang.srt.layers.linear import LinearBase
from sglang.srt.layers.quantization.base_config import LinearMethodBase, QuantizationConfig
from sglang.srt.layers.quantization.unquant import UnquantizedLinearMethod
from sglang.srt.utils import set_weight_attrs

from . import linear as L
from .linear import NAME


def capture_sizes():
    """The token counts SGLang will run: its decode CUDA-graph batch sizes and the
    chunked-prefill size, from the running server's published configuration (empty outside a
    server; an M not planned here is planned by its first eager call)."""
    from sglang.srt import runtime_context as rc

    sizes = set()
    try:
        sizes.update(int(b) for b in rc.get_exec().graph.cuda_graph_config.decode.bs or [])
    except Exception:  # not published (no server in this process): nothing to plan
        pass
    try:
        chunk = rc.get_server_args().chunked_prefill_size
        if isinstance(chunk, int) and chunk > 0:
            sizes.add(chunk)
    except Exception:  # idem
        pass
    return sorted(sizes)


QgemmConfig, QgemmLinearMethod = L.engine_classes(
    "SGLang", LinearBase, LinearMethodBase, QuantizationConfig, UnquantizedLinearMethod,
    set_weight_attrs, capture_sizes)


def register():
    """Register "qgemm" with SGLang (safe to call any number of times)."""
    from sglang.srt.layers import quantization as q

    q.QUANTIZATION_METHODS[NAME] = QgemmConfig
    q.BASE_QUANTIZATION_METHODS[NAME] = QgemmConfig
    try:
        from sglang.srt.arg_groups.choices import QUANTIZATION_CHOICES
    except ImportError:  # older SGLang: choices not kept in one list
        return
    if NAME not in QUANTIZATION_CHOICES:
        QUANTIZATION_CHOICES.append(NAME)


__all__ = ["QgemmConfig", "QgemmLinearMethod", "register", "capture_sizes", "NAME"]
