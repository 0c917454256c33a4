"""qgemm: quantized GEMM kernels for LLM inference, from Python.

Pure Python over the C library (ctypes; no compiled extension). Importing qgemm needs neither
torch nor a GPU; the torch parts (custom ops, QuantLinear, quantize_, save/load of models) load
on first use of one of their names.

    import qgemm
    qgemm.quantize_(model, qgemm.Int4WeightOnlyConfig(group_size=128))
    qgemm.prepare(model, [1, 16])            # plan kernels before CUDA graph capture
    qgemm.save_pretrained(model, "out/")     # safetensors + config.json quantization_config

The library is found through $QGEMM_LIBRARY, package data (qgemm/lib/libqgemm.so: the wheel
built by scripts/build_wheel.sh holds it), or the system's dynamic linker paths.
"""

from ._lib import (Context, CorruptError, InvalidArgumentError, LibraryNotFoundError,  # noqa: F401
                   NoDeviceError, QGemmError, UnsupportedError, get_context, library_path,
                   version)
from .config import (ConfigError, Float8DynamicActivationFloat8SemiSparseWeightConfig,  # noqa: F401
                     Float8DynamicActivationFloat8WeightConfig,
                     Float8DynamicActivationInt4WeightConfig, FqnToConfig,
                     Int4WeightOnlyConfig, Int8DynamicActivationInt4WeightConfig,
                     Int8DynamicActivationInt8SemiSparseWeightConfig,
                     Int8DynamicActivationInt8WeightConfig, Int8WeightOnlyConfig,
                     ModuleFqnToConfig, PerRow, PerTensor, QuantConfig, SemiSparseWeightConfig,
                     config_from_dict, config_to_dict, from_hf_quantization_config,
                     to_hf_quantization_config)
from .spec import SCHEME_INFO, WeightSpec  # noqa: F401

__version__ = "0.1.0"

__all__ = [
    "Context", "CorruptError", "InvalidArgumentError", "LibraryNotFoundError", "NoDeviceError",
    "QGemmError", "UnsupportedError", "get_context", "library_path", "version", "ConfigError",
    "Float8DynamicActivationFloat8SemiSparseWeightConfig",
    "Float8DynamicActivationFloat8WeightConfig", "Float8DynamicActivationInt4WeightConfig",
    "FqnToConfig", "Int4WeightOnlyConfig", "Int8DynamicActivationInt4WeightConfig",
    "Int8DynamicActivationInt8SemiSparseWeightConfig", "Int8DynamicActivationInt8WeightConfig",
    "Int8WeightOnlyConfig", "ModuleFqnToConfig", "PerRow", "PerTensor", "QuantConfig",
    "SemiSparseWeightConfig", "config_from_dict", "config_to_dict",
    "from_hf_quantization_config", "to_hf_quantization_config", "SCHEME_INFO", "WeightSpec",
    "SerializationError", "save_packed", "load_packed",
]  # plus, with torch: QuantLinear, quantize_, prepare, save/load_quantized, save/from_pretrained

# Names that need torch, loaded lazily (PEP 562) so CPU-only / torch-free users can import qgemm.
_LAZY = {
    "QuantLinear": "nn", "quantize_": "nn", "prepare": "nn", "quant_linears": "nn",
    "dequantized_copy_": "nn", "ops": None,
    "save_quantized": "serialization", "load_quantized": "serialization",
    "save_pretrained": "serialization", "from_pretrained": "serialization",
    "SerializationError": "serialization", "save_packed": "serialization",
    "load_packed": "serialization", "host": None,
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        mod = _LAZY[name]
        if mod is None:
            return importlib.import_module(f".{name}", __name__)
        return getattr(importlib.import_module(f".{mod}", __name__), name)
    raise AttributeError(f"module 'qgemm' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


def _register_with_transformers():
    """Let transformers' from_pretrained load qgemm checkpoints (instead of skipping the
    unknown quantization and leaving random weights); only where torch and transformers are
    installed. QGEMM_NO_TRANSFORMERS=1 skips it (and the import of transformers it costs)."""
    import importlib.util
    import os

    if os.environ.get("QGEMM_NO_TRANSFORMERS") == "1" or \
            importlib.util.find_spec("torch") is None or \
            importlib.util.find_spec("transformers") is None:
        return
    try:
        from .integrations.transformers import register
    except Exception as e:  # a transformers without the registries we use
        import warnings

        warnings.warn(f"qgemm: not registered with transformers ({e}); load qgemm checkpoints "
                      "with qgemm.from_pretrained", stacklevel=2)
        return
    register()


_register_with_transformers()
