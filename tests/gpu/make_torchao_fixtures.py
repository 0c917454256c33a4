#!/usr/bin/env python3
"""Small torchao 0.18 fixtures of the configs torchao can only quantize on a GPU, for the CPU
tests (python/tests/test_transformers_checkpoints.py::test_gpu_made_torchao_fixture loads every
directory under python/tests/fixtures/torchao/ and compares each weight qgemm converts with
torchao's own dequantization, or checks that qgemm refuses it by name).

A tiny random Llama (engine_fixtures.TINY, ~1.5 M parameters) is quantized by torchao on the
GPU, one directory per config. Checkpoints that transformers can save (safetensors):
  fp8dq-row     Float8DynamicActivationFloat8WeightConfig(granularity=PerRow())
  fp8dq-tensor  Float8DynamicActivationFloat8WeightConfig()   (per tensor)
  fp8-int4      Float8DynamicActivationInt4WeightConfig(int4_packing_format="plain")  (mslk)
  int4wo        Int4WeightOnlyConfig(group_size=128)   (mslk; float zero points: W4A16 float kind)
Tensor types torchao 0.18 cannot save to safetensors (flatten_tensor_state_dict refuses them),
written as tensors.safetensors: per Linear `<fqn>.<torchao tensor name>`, torchao's own
`<fqn>.dequantized` (bf16, its CUDA dequantize) where it has one, and metadata `kind` and
`config` (torchao's JSON):
  sp24-fp8          Float8DynamicActivationFloat8WeightConfig(PerRow(),
                    packing_format="sparse_2d_data_2d_metadata"), on a 2:4-pruned model (sm90)
  f8i4-preshuffled  Float8DynamicActivationInt4WeightConfig() ("preshuffled", mslk): the
                    model's preshuffled tensors, `<fqn>.plain.*` (the plain Int4Tensor of the
                    same weight) and `<fqn>.shuffled_plain.*` (its from_int4_tensor shuffle):
                    qgemm refuses preshuffled; the pair documents the shuffle for an unshuffle
Each tensor fixture is also checked here, on the GPU, against qgemm's conversion (printed).
Configs whose quantizer or kernel is missing (mslk, sm90) are reported and skipped.

  QGEMM_LIBRARY=build-gpu/libqgemm.so PYTHONPATH=python python3 \
      tests/gpu/make_torchao_fixtures.py OUT_DIR
then copy OUT_DIR/* to python/tests/fixtures/torchao/ and commit (2 MB or less each)."""
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python", "tests"))

CONFIGS = {
    "fp8dq-row": lambda ao: ao.Float8DynamicActivationFloat8WeightConfig(granularity=ao.PerRow()),
    "fp8dq-tensor": lambda ao: ao.Float8DynamicActivationFloat8WeightConfig(),
    "fp8-int4": lambda ao: ao.Float8DynamicActivationInt4WeightConfig(int4_packing_format="plain"),
    "int4wo": lambda ao: ao.Int4WeightOnlyConfig(group_size=128),
}


def main():
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(sys.argv) == 2 else 2
    import torch
    import torchao.quantization as ao
    from transformers import AutoModelForCausalLM, TorchAoConfig

    import engine_fixtures as fx

    if not torch.cuda.is_available():
        print("no CUDA device: torchao quantizes these configs on a GPU only")
        return 1
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    bf16 = fx.write_bf16_llama(os.path.join(out, "_bf16"))
    made = 0
    for name, make in CONFIGS.items():
        try:
            m = AutoModelForCausalLM.from_pretrained(bf16, dtype=torch.bfloat16,
                                                     device_map={"": 0},
                                                     quantization_config=TorchAoConfig(make(ao)))
            m.save_pretrained(os.path.join(out, name))
            made += 1
            print(f"{name}: written")
        except Exception as e:  # noqa: BLE001 - e.g. mslk missing: say so, go on
            print(f"{name}: skipped: {type(e).__name__}: {str(e)[:200]}")
    for name, make in TENSOR_FIXTURES.items():
        try:
            make(torch, ao, bf16, os.path.join(out, name))
            made += 1
            print(f"{name}: written")
        except Exception as e:  # noqa: BLE001 - e.g. no sm90 / mslk: say so, go on
            print(f"{name}: skipped: {type(e).__name__}: {str(e)[:300]}")
    shutil.rmtree(bf16)
    total = len(CONFIGS) + len(TENSOR_FIXTURES)
    print(f"{made} of {total} fixtures in {out}")
    return 0 if made else 1


def _linears(model):
    import torch

    return [(n, m) for n, m in model.named_modules()
            if isinstance(m, torch.nn.Linear) and n != "lm_head"]


def _quantized_in_memory(torch, ao, bf16, config, prune):
    import engine_fixtures as fx
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(bf16, dtype=torch.bfloat16).cuda()
    if prune:
        for _, m in _linears(model):
            m.weight.data = fx.prune_2_4(m.weight.data)
    ao.quantize_(model, config, filter_fn=lambda m, fqn: isinstance(m, torch.nn.Linear) and
                 fqn != "lm_head")
    return model


def _save_tensors(path, kind, config, tensors):
    import json

    from safetensors.torch import save_file
    from torchao.core.config import config_to_dict

    os.makedirs(path, exist_ok=True)
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()},
              os.path.join(path, "tensors.safetensors"),
              metadata={"kind": kind, "config": json.dumps(config_to_dict(config))})


def make_sp24_fp8(torch, ao, bf16, path):
    from torchao.quantization.quantize_.workflows.float8.float8_packing_format import \
        Float8PackingFormat

    import qgemm
    from qgemm import host, torchao_compat

    cfg = ao.Float8DynamicActivationFloat8WeightConfig(
        granularity=ao.PerRow(), packing_format=Float8PackingFormat.SPARSE_2D_DATA_2D_METADATA)
    model = _quantized_in_memory(torch, ao, bf16, cfg, prune=True)
    tensors, ok = {}, 0
    for fqn, m in _linears(model):
        t = m.weight
        for n, v in torchao_compat.tensor_data(t).items():
            tensors[f"{fqn}.{n}"] = v
        ref = t.dequantize(torch.bfloat16)
        tensors[f"{fqn}.dequantized"] = ref
        spec, packed = torchao_compat.convert(
            qgemm.Float8DynamicActivationFloat8SemiSparseWeightConfig(), type(t).__name__,
            {n: v.cpu() for n, v in torchao_compat.tensor_data(t).items()}, where=fqn)
        got = torch.from_numpy(host.dequantize_weight(
            spec, {b: p.view(torch.uint8).numpy() for b, p in packed.items()}))
        same = torch.equal(got.to(torch.bfloat16), ref.cpu())
        ok += same
        if not same:
            print(f"sp24-fp8: {fqn}: qgemm's conversion differs from torchao's dequantize in "
                  f"{int((got.to(torch.bfloat16) != ref.cpu()).sum())} elements")
    print(f"sp24-fp8: qgemm's conversion equals torchao's dequantize for {ok} of "
          f"{len(_linears(model))} weights")
    _save_tensors(path, "Float8Sparse2x4_2DData2DMetadataTensor", cfg, tensors)


def make_f8i4_preshuffled(torch, ao, bf16, path):
    from torchao.quantization import Int4PreshuffledTensor, Int4Tensor

    from qgemm import torchao_compat

    cfg = ao.Float8DynamicActivationInt4WeightConfig()
    model = _quantized_in_memory(torch, ao, bf16, cfg, prune=False)
    from transformers import AutoModelForCausalLM

    dense = dict(_linears(AutoModelForCausalLM.from_pretrained(bf16, dtype=torch.bfloat16)))
    tensors, same = {}, 0
    for fqn, m in _linears(model):
        assert type(m.weight).__name__ == "Int4PreshuffledTensor"
        # quantize_ quantizes with mslk's quantize_int4_preshuffle; the pair (plain, its
        # from_int4_tensor shuffle) is the documented correspondence of the two layouts.
        plain = Int4Tensor.from_hp(dense[fqn].weight.data.cuda(), [1, 128],
                                   activation_dtype=torch.float8_e4m3fn)
        shuffled = Int4PreshuffledTensor.from_int4_tensor(plain)
        same += torch.equal(shuffled.qdata, m.weight.qdata)
        for prefix, t in (("", m.weight), ("plain.", plain), ("shuffled_plain.", shuffled)):
            for n, v in torchao_compat.tensor_data(t).items():
                tensors[f"{fqn}.{prefix}{n}"] = v
    print(f"f8i4-preshuffled: quantize_'s qdata equals the shuffle of the plain Int4Tensor for "
          f"{same} of {len(_linears(model))} weights")
    _save_tensors(path, "Int4PreshuffledTensor", cfg, tensors)


TENSOR_FIXTURES = {"sp24-fp8": make_sp24_fp8, "f8i4-preshuffled": make_f8i4_preshuffled}


if __name__ == "__main__":
    sys.exit(main())
