"""Tiny checkpoints for the engine and transformers tests, written by the real transformers
(and torchao for the torchao-quantized ones), and the runner of engine_tp_worker.py ranks."""
import importlib.util
import json
import os
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

# Dimensions that every scheme can pack at tensor-parallel 1 and 2 (K per rank a multiple of
# 128 for the int4 x 8-bit schemes, of 64 for 2:4).
TINY = dict(vocab_size=256, hidden_size=256, intermediate_size=512, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
            tie_word_embeddings=False)

# torchao configs that quantize on the CPU with torchao 0.18 (the others need a GPU:
# tests/gpu/make_torchao_fixtures.py).
CPU_TORCHAO = {
    "int8dq": lambda ao: ao.Int8DynamicActivationInt8WeightConfig(),
    "int8wo": lambda ao: ao.Int8WeightOnlyConfig(),
}


BF16_CONFIGS = {
    "int8dq": {"_type": "Int8DynamicActivationInt8WeightConfig", "_version": 2, "_data": {}},
    "int4wo-g64": {"_type": "Int4WeightOnlyConfig", "_version": 2, "_data": {"group_size": 64}},
    "fp8-row": {"_type": "Float8DynamicActivationFloat8WeightConfig", "_version": 2, "_data": {
        "granularity": {"_type": "PerRow", "_version": 1, "_data": {"dim": -1}}}},
    "w4a8-fp8": {"_type": "Float8DynamicActivationInt4WeightConfig", "_version": 1,
                 "_data": {}},
}


def make_cases(tmp_path_factory):
    """[(case name, checkpoint dir, quantization_config block)]: the bf16 tiny Llama with each
    qgemm config, and the torchao checkpoints (made from it by transformers + torchao) served
    with --quantization qgemm."""
    bf16 = write_bf16_llama(str(tmp_path_factory.mktemp("llama-bf16")))
    cases = [(name, bf16, {"quant_method": "qgemm", "quant_type": {"default": c}})
             for name, c in BF16_CONFIGS.items()]
    if importlib.util.find_spec("torchao") is not None:
        for name in CPU_TORCHAO:
            d = write_torchao_llama(bf16, str(tmp_path_factory.mktemp(f"llama-{name}")),
                                       name)
            cases.append(("torchao-" + name, d, hf_block(d)))
    return cases


CASE_NAMES = list(BF16_CONFIGS) + ["torchao-" + n for n in CPU_TORCHAO]


def write_bf16_llama(directory, seed=0):
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(LlamaConfig(**TINY), dtype=torch.bfloat16)
    for p in model.parameters():  # larger than the default init: errors are then visible
        p.data.normal_(0, 0.05)
    model.save_pretrained(directory)
    return directory


def write_torchao_llama(bf16_dir, directory, name):
    import torch
    import torchao.quantization as ao
    from transformers import AutoModelForCausalLM, TorchAoConfig

    model = AutoModelForCausalLM.from_pretrained(
        bf16_dir, dtype=torch.bfloat16, quantization_config=TorchAoConfig(CPU_TORCHAO[name](ao)))
    model.save_pretrained(directory)
    return directory


def hf_block(directory):
    with open(os.path.join(directory, "config.json")) as f:
        return json.load(f)["quantization_config"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_ranks(engine, world, cases, timeout=600):
    """Run engine_tp_worker.py for every rank on cases [(name, checkpoint, block)]; returns
    {name: None if every rank passed it, else the failing ranks' logs}."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python") + os.pathsep +
               os.environ.get("PYTHONPATH", ""), CUDA_VISIBLE_DEVICES="", VLLM_TARGET_DEVICE="cpu",
               VLLM_LOGGING_LEVEL="WARNING", OMP_NUM_THREADS="1")
    procs = [subprocess.Popen([sys.executable, os.path.join(HERE, "engine_tp_worker.py"), engine,
                               str(r), str(world), str(port), json.dumps(cases)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env) for r in range(world)]
    outs = []
    for p in procs:
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        outs.append((p.returncode, out))
    result = {}
    for name, _, _ in cases:
        bad = [f"rank {r} (exit {rc}):\n{out[-6000:]}" for r, (rc, out) in enumerate(outs)
               if f"case {name} ok 5" not in out]
        result[name] = "\n".join(bad) or None
    return result


def engine_tests(engine):
    """The fixtures and the per-case test an engine's test module binds at module level:
    checkpoints (built once), results per tensor-parallel size (1, 2), and the test."""
    import pytest

    @pytest.fixture(scope="module")
    def checkpoints(tmp_path_factory):
        return make_cases(tmp_path_factory)

    @pytest.fixture(scope="module", params=[1, 2], ids=["tp1", "tp2"])
    def results(request, checkpoints):
        return run_ranks(engine, request.param, checkpoints)

    @pytest.mark.parametrize("case", CASE_NAMES)
    def test_layers_load_and_match(results, case):
        if case.startswith("torchao-") and importlib.util.find_spec("torchao") is None:
            pytest.skip("torchao is not installed")
        assert results[case] is None, results[case]

    return checkpoints, results, test_layers_load_and_match
