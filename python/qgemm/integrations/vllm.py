"""vLLM plugin: `--quantization qgemm` runs vLLM's linear layers on qgemm's kernels.

Installed as the entry point `qgemm = qgemm.integrations.vllm:register` of the group
`vllm.general_plugins`, which vLLM loads in every process (register() is idempotent). The
quantization config comes from the checkpoint's config.json "quantization_config":
  - {"quant_method": "torchao", "quant_type": {"default": <torchao JSON>}}: a checkpoint
    saved by transformers with torchao; with --quantization qgemm its quantized tensors are
    converted to qgemm's layouts (codes kept, see qgemm.torchao_compat);
  - {"quant_method": "qgemm", "quant_type": {"default": <config JSON>}} on a bf16 checkpoint
    (given with --hf-overrides, or a qgemm_config.json file beside config.json holding that
    block): the bf16 weights are quantized and packed after loading.
Checkpoints written by qgemm.save_pretrained hold packed buffers that vLLM cannot shard
across tensor-parallel ranks: they are refused (serve the bf16 or torchao checkpoint).
The shared logic is qgemm.integrations.linear."""

from vllm.model_executor.layers.linear import (LinearBase, LinearMethodBase,
                                               UnquantizedLinearMethod)
from vllm.model_executor.layers.quantization import (QUANTIZATION_METHODS,
                                                     register_quantization_config)
from vllm.model_executor.layers.quantization.base_config import QuantizationConfig
from vllm.model_executor.utils import set_weight_attrs

from . import linear as L
from .linear import CONFIG_FILE, NAME  # noqa: F401


def capture_sizes():
    """The token counts vLLM will run: its CUDA-graph capture sizes and max_num_batched_tokens
    (of the current vLLM config; empty outside one)."""
    from vllm.config import get_current_vllm_config_or_none

    vc = get_current_vllm_config_or_none()
    if vc is None:
        return []
    sizes = set(getattr(vc.compilation_config, "cudagraph_capture_sizes", None) or [])
    mbt = getattr(vc.scheduler_config, "max_num_batched_tokens", None)
    if mbt:
        sizes.add(int(mbt))
    return sorted(sizes)


QgemmConfig, QgemmLinearMethod = L.engine_classes(
    "vLLM", LinearBase, LinearMethodBase, QuantizationConfig, UnquantizedLinearMethod,
    set_weight_attrs, capture_sizes)


def register():
    """Register "qgemm" with vLLM (safe to call any number of times, in any process)."""
    from vllm.model_executor.layers import quantization as q

    if NAME in QUANTIZATION_METHODS and \
            getattr(q, "_CUSTOMIZED_METHOD_TO_QUANT_CONFIG", {}).get(NAME) is QgemmConfig:
        return
    register_quantization_config(NAME)(QgemmConfig)


__all__ = ["QgemmConfig", "QgemmLinearMethod", "register", "capture_sizes", "NAME"]
