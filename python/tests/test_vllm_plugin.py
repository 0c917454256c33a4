"""The vLLM plugin against the real vLLM: its own linear layers with the qgemm method, weights
loaded by their weight loaders from transformers-written checkpoints, at tensor-parallel 1 and
2 (one process per rank, gloo). Skipped where vllm is not installed
(python/tests/run_integrations.sh installs it)."""
import json

import pytest

pytest.importorskip("vllm")
pytest.importorskip("transformers")

import engine_fixtures as fx  # noqa: E402

BF16_CONFIGS = fx.BF16_CONFIGS


checkpoints, results, test_layers_load_and_match = fx.engine_tests("vllm")


def test_config_hooks_and_refusals():
    import torch

    from qgemm.integrations import vllm as plugin

    plugin.register()
    plugin.register()
    from vllm.model_executor.layers.quantization import QUANTIZATION_METHODS
    assert QUANTIZATION_METHODS.count("qgemm") == 1
    torchao_block = {"quant_method": "torchao", "quant_type": {"default": json.loads(
        json.dumps(BF16_CONFIGS["int8dq"]))}}
    C = plugin.QgemmConfig
    assert C.override_quantization_method(torchao_block, "qgemm") == "qgemm"
    assert C.override_quantization_method(torchao_block, None) is None
    c = C.from_config(torchao_block)
    assert c.torchao_checkpoint and c.get_name() == "qgemm"
    assert torch.bfloat16 in c.get_supported_act_dtypes()
    assert C.get_min_capability() == 80 and C.get_config_filenames() == ["qgemm_config.json"]
    with pytest.raises(ValueError, match="packed buffers"):
        C.from_config({"quant_method": "qgemm", "format_version": 1,
                       "quant_type": {"default": BF16_CONFIGS["int8dq"]}})
    from qgemm.integrations import linear as L
    got = L.loading_params(C.from_config({"quant_method": "torchao", "quant_type": {
        "default": BF16_CONFIGS["int4wo-g64"]}}).config, True, [64], 128, torch.bfloat16)
    assert [(n, tuple(t.shape)) for n, t, _ in got] == [
        ("_weight_qdata", (64, 64)), ("_weight_scale", (2, 64)), ("_weight_zero_point", (2, 64))]
