"""The vLLM plugin against the real vLLM: its own linear layers with the qgemm method, weights
loaded by their weight loaders from transformers-written checkpoints, at tensor-parallel 1 and
2 (one process per rank, gloo). Skipped where vllm is not installed
(python/tests/run_integrations.sh installs it)."""
import importlib.util
import json

import pytest

pytest.importorskip("vllm")
pytest.importorskip("transformers")

import engine_fixtures as fx  # noqa: E402

BF16_CONFIGS = {
    "int8dq": {"_type": "Int8DynamicActivationInt8WeightConfig", "_version": 2, "_data": {}},
    "int4wo-g64": {"_type": "Int4WeightOnlyConfig", "_version": 2, "_data": {"group_size": 64}},
    "fp8-row": {"_type": "Float8DynamicActivationFloat8WeightConfig", "_version": 2, "_data": {
        "granularity": {"_type": "PerRow", "_version": 1, "_data": {"dim": -1}}}},
    "w4a8-fp8": {"_type": "Float8DynamicActivationInt4WeightConfig", "_version": 1,
                 "_data": {}},
}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """[(case name, checkpoint dir, quantization_config block)]: the bf16 tiny Llama with each
    qgemm config, and the torchao checkpoints (made from it by transformers + torchao) served
    with --quantization qgemm."""
    bf16 = fx.write_bf16_llama(str(tmp_path_factory.mktemp("llama-bf16")))
    cases = [(name, bf16, {"quant_method": "qgemm", "quant_type": {"default": c}})
             for name, c in BF16_CONFIGS.items()]
    if importlib.util.find_spec("torchao") is not None:
        for name in fx.CPU_TORCHAO:
            d = fx.write_torchao_llama(bf16, str(tmp_path_factory.mktemp(f"llama-{name}")),
                                       name)
            cases.append(("torchao-" + name, d, fx.hf_block(d)))
    return cases


@pytest.fixture(scope="module", params=[1, 2], ids=["tp1", "tp2"])
def results(request, checkpoints):
    return fx.run_ranks("vllm", request.param, checkpoints)


@pytest.mark.parametrize("case", list(BF16_CONFIGS) + ["torchao-" + n for n in fx.CPU_TORCHAO])
def test_layers_load_and_match(results, case):
    if case.startswith("torchao-") and importlib.util.find_spec("torchao") is None:
        pytest.skip("torchao is not installed")
    assert results[case] is None, results[case]


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
    with pytest.raises(ValueError, match="float zero points"):
        from qgemm.integrations import linear as L
        L.loading_params(C.from_config({"quant_method": "torchao", "quant_type": {
            "default": BF16_CONFIGS["int4wo-g64"]}}).config, True, [64], 64, torch.bfloat16)
