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


def _mslk_int4_row_quantize_zp(x, group_size):
    """mslk's int4_row_quantize_zp, torchao 0.18's quantizer for Int4WeightOnlyConfig's default
    "plain" packing (mslk installs only with CUDA): codes in [-8, 7], float scale and zero point
    [K/group, N], zero = min + 8 * scale, dequantized as q * scale + zero."""
    import torch

    g = x.float().reshape(-1, group_size)
    lo, hi = g.amin(1, keepdim=True), g.amax(1, keepdim=True)
    s = (hi - lo).clamp(min=1e-6) / 15
    q = (g.sub(lo).div(s).round().clamp_(0, 15) - 8).to(torch.int8).reshape(x.shape)
    return q, s.view(x.shape[0], -1).t().contiguous(), \
        (lo + 8 * s).view(x.shape[0], -1).t().contiguous()


def _int4_pow2_quantize_zp(x, group_size):
    """An int4 quantizer in the same contract whose zero points are integer multiples of
    power-of-two scales, so they are exact in bf16 and in qgemm's W4A16 (as a checkpoint made
    by another tool, e.g. symmetric or GPTQ-style, can be)."""
    import torch

    g = x.float().reshape(-1, group_size)
    lo, hi = g.amin(1, keepdim=True).clamp(max=0), g.amax(1, keepdim=True).clamp(min=0)
    s = torch.exp2(torch.ceil(torch.log2(((hi - lo) / 15).clamp(min=2.0 ** -20))))
    zq = torch.round(-lo / s).clamp(0, 15)
    q = (torch.clamp(torch.round(g / s) + zq, 0, 15) - 8).to(torch.int8).reshape(x.shape)
    return q, s.view(x.shape[0], -1).t().contiguous(), \
        ((8 - zq) * s).view(x.shape[0], -1).t().contiguous()


def int4_float_zp_reference(q, scale, zero, group_size, dtype):
    """What qgemm's W4A16 float zero points hold for torchao's Int4Tensor (docs/formats.md):
    w = q * scale + zero, the exact value rounded once to `dtype` (bf16/f16, nearest even), as
    float32 [N, K]. q: signed codes [N, K]; scale, zero: torchao's [K / group_size, N]. Computed
    here independently of qgemm: exact in float64 (asserted), then rounded with integers."""
    import torch

    s = scale.double().t().repeat_interleave(group_size, 1)
    z = zero.double().t().repeat_interleave(group_size, 1)
    prod = q.double() * s  # exact: a 4-bit integer times a 16-bit float
    x = prod + z
    err = (prod - (x - (x - prod))) + (z - (x - prod))  # TwoSum: the sum's rounding error
    assert bool((err == 0).all()), "float64 sum not exact: widen the reference"
    mant, emin = (8, -126) if dtype == torch.bfloat16 else (11, -14)
    _, e = torch.frexp(x)  # |x| in [2^(e-1), 2^e)
    quantum = torch.clamp(e - 1, min=emin) - (mant - 1)
    r = torch.ldexp(torch.round(torch.ldexp(x, -quantum)), quantum)  # round: half to even
    return torch.where(x == 0, torch.zeros_like(x), r).float()


def _pack_int4(q):
    """mslk's pack_int4: column k in byte k/2, low nibble for even k, two's complement."""
    import torch

    return ((q[:, 1::2] << 4) | (q[:, ::2] & 0xF)).to(torch.uint8)


def cutlass_sm90_sp24_compress(codes):
    """What torchao's to_sparse_semi_structured_cutlass_sm9x_f8 (CUTLASS's sm90 structured
    sparse compressor, CUDA only) returns for 2:4 e4m3 codes [N, K]: (compressed [N, K/2],
    metadata [roundup(N, 64), roundup(K, 128) / 8] uint8). Written from the compressor's
    source chunk by chunk (non-zeros in order, -0 counting as zero, the one-non-zero corner
    cases, 2-bit positions, its E layout), independently of qgemm.torchao_compat."""
    import torch

    n, k = codes.shape
    n_al, k_al = (n + 63) // 64 * 64, (k + 127) // 128 * 128
    raw = codes.view(torch.uint8).tolist()
    comp = [[0] * (k // 2) for _ in range(n)]
    meta = bytearray(n_al * k_al // 8)
    for m in range(n):
        for c in range(k // 4):
            chunk = raw[m][4 * c:4 * c + 4]
            pos = [i for i in range(4) if chunk[i] & 0x7F]
            vals = [chunk[i] for i in pos]
            assert len(pos) <= 2, "not 2:4"
            if len(pos) == 1 and pos[0] == 3:
                pos, vals = [0, 3], [0, vals[0]]
            elif len(pos) == 1:
                pos, vals = [pos[0], 3], [vals[0], 0]
            elif not pos:
                pos, vals = [0, 0], [0, 0]
            comp[m][2 * c:2 * c + 2] = vals
            # Sm90GemmSparseConfig::fill_layoutE, 8-bit atom (64, 128) K-major, in bytes.
            kk = 4 * c
            byte = (kk // 128) * n_al * 16 + (m % 64) * 16 + (m // 64) * 1024 + (kk % 128) // 8
            meta[byte] |= (pos[0] | pos[1] << 2) << (4 * (c % 2))
    return (torch.tensor(comp, dtype=torch.uint8).view(torch.float8_e4m3fn),
            torch.frombuffer(meta, dtype=torch.uint8).view(n_al, k_al // 8).clone())


def prune_2_4(w):
    """Magnitude 2:4 pruning along K (keep the 2 largest of every 4)."""
    import torch

    g = w.reshape(w.shape[0], -1, 4)
    keep = torch.zeros_like(g, dtype=torch.bool).scatter_(
        -1, g.abs().float().topk(2, dim=-1).indices, True)
    return (g * keep).reshape(w.shape)


# Int4WeightOnlyConfig checkpoints made on the CPU by the real torchao and transformers, with
# the quantizer inside torchao's Int4Tensor.from_hp stood in for (name -> quantizer).
CPU_TORCHAO_INT4 = {
    "int4wo-mslk": _mslk_int4_row_quantize_zp,
    "int4wo-pow2": _int4_pow2_quantize_zp,
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
        for name in TORCHAO_CASES:
            d = write_torchao_llama(bf16, str(tmp_path_factory.mktemp(f"llama-{name}")),
                                       name)
            cases.append(("torchao-" + name, d, hf_block(d)))
    return cases


# int4wo-mslk: float zero points (W4A16 float kind); int4wo-pow2: integer ones
TORCHAO_CASES = list(CPU_TORCHAO) + ["int4wo-pow2", "int4wo-mslk"]
CASE_NAMES = list(BF16_CONFIGS) + ["torchao-" + n for n in TORCHAO_CASES]


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
    """The tiny Llama quantized by transformers with torchao config `name` (CPU_TORCHAO or
    CPU_TORCHAO_INT4, group size 64) and saved by transformers."""
    import torch
    import torchao.quantization as ao
    from transformers import AutoModelForCausalLM, TorchAoConfig

    if name in CPU_TORCHAO:
        config, patch = CPU_TORCHAO[name](ao), {}
    else:
        config = ao.Int4WeightOnlyConfig(group_size=64)
        patch = {"int4_row_quantize_zp": CPU_TORCHAO_INT4[name], "pack_int4": _pack_int4}
    mod = importlib.import_module("torchao.quantization.quantize_.workflows.int4.int4_tensor")
    saved = {k: getattr(mod, k) for k in patch}
    try:
        for k, v in patch.items():
            setattr(mod, k, v)
        model = AutoModelForCausalLM.from_pretrained(bf16_dir, dtype=torch.bfloat16,
                                                     quantization_config=TorchAoConfig(config))
    finally:
        for k, v in saved.items():
            setattr(mod, k, v)
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
