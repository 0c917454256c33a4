"""The SGLang plugin against the real SGLang: its own linear layers with the qgemm method,
loaded by their weight loaders from transformers-written checkpoints at tensor-parallel 1 and
2 (engine_tp_worker.py, one process per rank, gloo). Skipped where sglang does not import."""

import pytest

pytest.importorskip("transformers")
try:
    import sglang.srt.layers.linear  # noqa: F401
except Exception as e:  # sglang is optional: it does not install everywhere
    pytest.skip(f"sglang is not usable here: {e}", allow_module_level=True)

import engine_fixtures as fx  # noqa: E402


checkpoints, results, test_layers_load_and_match = fx.engine_tests("sglang")


def test_registration_and_config_hooks():
    from sglang.srt.arg_groups.choices import QUANTIZATION_CHOICES
    from sglang.srt.layers.quantization import QUANTIZATION_METHODS

    from qgemm.integrations import sglang as plugin

    plugin.register()
    plugin.register()
    assert QUANTIZATION_METHODS["qgemm"] is plugin.QgemmConfig
    assert QUANTIZATION_CHOICES.count("qgemm") == 1
    block = {"quant_method": "torchao", "quant_type": {"default": fx.BF16_CONFIGS["int8dq"]}}
    assert plugin.QgemmConfig.override_quantization_method(block, "qgemm") == "qgemm"
    c = plugin.QgemmConfig.from_config(block)
    assert c.torchao_checkpoint and c.get_scaled_act_names() == []
