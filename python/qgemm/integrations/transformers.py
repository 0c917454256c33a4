"""transformers integration: `AutoModelForCausalLM.from_pretrained(dir)` of a checkpoint
written by qgemm.save_pretrained builds qgemm QuantLinear modules and loads the packed buffers
into them, instead of skipping the unknown "qgemm" quantization and leaving random weights.

register() adds the quantization method "qgemm" to transformers' registries (idempotent);
`import qgemm` calls it when torch and transformers are installed. The config.json block that
qgemm.save_pretrained writes lists each quantized module's WeightSpec ("qgemm_modules"), so
the model skeleton gets the right QuantLinear modules before transformers loads the file."""

from transformers.quantizers.auto import (AUTO_QUANTIZATION_CONFIG_MAPPING,
                                          AUTO_QUANTIZER_MAPPING)
from transformers.quantizers.base import HfQuantizer
from transformers.utils.quantization_config import QuantizationConfigMixin

from ..config import from_hf_quantization_config
from ..spec import WeightSpec

NAME = "qgemm"


class QgemmHfConfig(QuantizationConfigMixin):
    """The "quantization_config" block of a qgemm checkpoint, as transformers holds it."""

    def __init__(self, quant_type=None, format_version=None, modules_to_not_convert=None,
                 qgemm_modules=None, **kwargs):
        self.quant_method = NAME
        self.quant_type = quant_type
        self.format_version = format_version
        self.modules_to_not_convert = modules_to_not_convert
        self.qgemm_modules = qgemm_modules
        block = self.to_dict()
        self.config = from_hf_quantization_config(block)  # ConfigError on anything wrong
        if not isinstance(qgemm_modules, dict) or not qgemm_modules:
            raise ValueError(
                "qgemm quantization_config has no 'qgemm_modules': it was written by an older "
                "qgemm.save_pretrained; load it with qgemm.from_pretrained")

    def to_dict(self):
        d = {"quant_method": NAME, "quant_type": self.quant_type,
             "format_version": self.format_version}
        if self.modules_to_not_convert:
            d["modules_to_not_convert"] = self.modules_to_not_convert
        if self.qgemm_modules is not None:
            d["qgemm_modules"] = self.qgemm_modules
        return d

    def to_diff_dict(self):
        return self.to_dict()


class QgemmHfQuantizer(HfQuantizer):
    """Loads qgemm-packed checkpoints (pre-quantized only: quantize with qgemm.quantize_)."""

    requires_calibration = True

    def validate_environment(self, *args, **kwargs):
        if not self.pre_quantized:
            raise ValueError("qgemm quantizes with qgemm.quantize_(model, config); "
                             "from_pretrained loads checkpoints it saved")

    def _process_model_before_weight_loading(self, model, **kwargs):
        import torch

        from ..nn import QuantLinear, _set_submodule

        for fqn, entry in self.quantization_config.qgemm_modules.items():
            spec = WeightSpec.from_dict(entry["spec"])
            lin = model.get_submodule(fqn)
            if not isinstance(lin, torch.nn.Linear) or \
                    (lin.out_features, lin.in_features) != (spec.n, spec.k):
                raise ValueError(f"qgemm checkpoint: module {fqn} is {lin} in the model, the "
                                 f"checkpoint has a [{spec.n}, {spec.k}] weight")
            packed = {b: torch.empty(n, dtype=torch.uint8, device="meta")
                      for b, n in spec.sizes().items() if n}
            bias = torch.empty(spec.n, device="meta") if entry.get("bias") else None
            _set_submodule(model, fqn, QuantLinear(spec, packed, bias=bias, device="meta"))
        return model

    def _process_model_after_weight_loading(self, model, **kwargs):
        model._qgemm_config = self.quantization_config.config
        return model

    @property
    def is_trainable(self):
        return False

    def is_serializable(self):
        return False  # save with qgemm.save_pretrained


def register():
    """Make transformers load quant_method "qgemm" checkpoints (idempotent)."""
    if AUTO_QUANTIZER_MAPPING.get(NAME) is QgemmHfQuantizer:
        return
    AUTO_QUANTIZATION_CONFIG_MAPPING[NAME] = QgemmHfConfig
    AUTO_QUANTIZER_MAPPING[NAME] = QgemmHfQuantizer


__all__ = ["QgemmHfConfig", "QgemmHfQuantizer", "register"]
