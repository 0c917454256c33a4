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
across tensor-parallel ranks: they are refused (serve the bf16 or torchao checkpoint)."""

import torch
from vllm.model_executor.layers.linear import (LinearBase, LinearMethodBase,
                                               UnquantizedLinearMethod)
from vllm.model_executor.layers.quantization import (QUANTIZATION_METHODS,
                                                     register_quantization_config)
from vllm.model_executor.layers.quantization.base_config import QuantizationConfig
from vllm.model_executor.utils import set_weight_attrs

from ..config import from_hf_quantization_config
from . import linear as L

NAME = "qgemm"
CONFIG_FILE = "qgemm_config.json"


def hf_block_config(block):
    """(qgemm config, is_torchao_checkpoint, modules_to_not_convert) of a quantization_config
    block; refuses qgemm-packed checkpoints, which an engine cannot shard."""
    if block.get("quant_method") == "qgemm" and "format_version" in block:
        raise ValueError(
            "qgemm: this checkpoint was written by qgemm.save_pretrained and holds packed "
            "buffers, which tensor-parallel loaders cannot slice or fuse. Serve the bf16 "
            "checkpoint with a qgemm quantization_config (or a torchao checkpoint) with "
            "--quantization qgemm; load packed checkpoints with qgemm.from_pretrained")
    config = from_hf_quantization_config(block)
    return config, block.get("quant_method") == "torchao", list(
        block.get("modules_to_not_convert") or [])


class QgemmConfig(QuantizationConfig):
    """vLLM QuantizationConfig of qgemm (name "qgemm")."""

    def __init__(self, config, torchao_checkpoint=False, skip_modules=()):
        super().__init__()
        self.config = config
        self.torchao_checkpoint = torchao_checkpoint
        self.skip_modules = list(skip_modules)

    def __repr__(self):
        return (f"QgemmConfig({self.config!r}, torchao_checkpoint={self.torchao_checkpoint}, "
                f"skip_modules={self.skip_modules})")

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
        qc, torchao, skip = hf_block_config(config)
        return cls(qc, torchao, skip)

    @classmethod
    def override_quantization_method(cls, hf_quant_cfg, user_quant, hf_config=None):
        # Serve torchao checkpoints through qgemm when the user asks for it.
        if user_quant == NAME and hf_quant_cfg.get("quant_method") in ("torchao", NAME):
            return NAME
        return None

    def get_quant_method(self, layer, prefix):
        if not isinstance(layer, LinearBase):
            return None
        cfg = L.resolve(self.config, prefix, self.packed_modules_mapping, self.skip_modules)
        if cfg is None:
            return UnquantizedLinearMethod()
        return QgemmLinearMethod(cfg, self.torchao_checkpoint, prefix)

    def get_scaled_act_names(self):
        return []


class QgemmLinearMethod(LinearMethodBase):
    """Loads the layer's weight in a sliceable form through vLLM's loaders, packs it for qgemm
    in process_weights_after_loading, and plans the kernels for vLLM's batch sizes."""

    def __init__(self, config, torchao_checkpoint=False, prefix=""):
        self.config = config
        self.torchao_checkpoint = torchao_checkpoint
        self.prefix = prefix

    def create_weights(self, layer, input_size_per_partition, output_partition_sizes,
                       input_size, output_size, params_dtype, **extra_weight_attrs):
        for name, t, dims in L.loading_params(self.config, self.torchao_checkpoint,
                                              output_partition_sizes,
                                              input_size_per_partition, params_dtype):
            p = torch.nn.Parameter(t, requires_grad=False)
            layer.register_parameter(name, p)
            set_weight_attrs(p, dims)
            set_weight_attrs(p, extra_weight_attrs)
        layer.params_dtype = params_dtype

    def process_weights_after_loading(self, layer):
        L.process(layer, self.config, self.torchao_checkpoint, self.prefix)
        L.prepare(layer, capture_sizes())

    def apply(self, layer, x, bias=None):
        return L.apply(layer, x, bias)


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


def register():
    """Register "qgemm" with vLLM (safe to call any number of times, in any process)."""
    from vllm.model_executor.layers import quantization as q

    if NAME in QUANTIZATION_METHODS and \
            getattr(q, "_CUSTOMIZED_METHOD_TO_QUANT_CONFIG", {}).get(NAME) is QgemmConfig:
        return
    register_quantization_config(NAME)(QgemmConfig)


__all__ = ["QgemmConfig", "QgemmLinearMethod", "register", "capture_sizes", "NAME"]
