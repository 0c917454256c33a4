#!/usr/bin/env python3
"""Small torchao 0.18 checkpoints of the configs torchao can only quantize on a GPU, for the
CPU tests (python/tests/test_transformers_checkpoints.py loads every directory under
python/tests/fixtures/torchao/ with qgemm.from_pretrained and compares each weight with
torchao's own dequantization of the same file).

A tiny random Llama (engine_fixtures.TINY, ~1.5 M parameters) is quantized by transformers with
TorchAoConfig on the GPU and saved, one directory per config:
  fp8dq-row     Float8DynamicActivationFloat8WeightConfig(granularity=PerRow())
  fp8dq-tensor  Float8DynamicActivationFloat8WeightConfig()   (per tensor)
  fp8-int4      Float8DynamicActivationInt4WeightConfig(int4_packing_format="plain")  (mslk)
  int4wo        Int4WeightOnlyConfig(group_size=128)   (mslk; qgemm must refuse it)
Configs whose quantizer is missing (mslk) are reported and skipped.

  PYTHONPATH=python python3 tests/gpu/make_torchao_fixtures.py OUT_DIR
then copy OUT_DIR/* to python/tests/fixtures/torchao/ and commit (about 2 MB each)."""
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
    shutil.rmtree(bf16)
    print(f"{made} of {len(CONFIGS)} fixtures in {out}")
    return 0 if made else 1


if __name__ == "__main__":
    sys.exit(main())
