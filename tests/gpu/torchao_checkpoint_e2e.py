#!/usr/bin/env python3
"""qgemm beside torchao on one GPU, from the same torchao checkpoint (issue 14 items 5, 6).

For each torchao config, in one process:
  1. a Llama-3-8B-shaped bf16 model (random weights, nothing downloaded) is saved once, then
     loaded by transformers with TorchAoConfig(config) on the GPU (torchao quantizes it) and
     saved: a real torchao 0.18 checkpoint made on the device;
  2. torchao: that quantized model decodes (static KV cache, one step per CUDA-graph replay
     where torchao's tensors can be captured, else eager: the table says which);
  3. qgemm: qgemm.from_pretrained(checkpoint) converts torchao's tensors to qgemm's packed
     layouts on the GPU (codes kept), qgemm.prepare plans the batch sizes, same decode;
  4. checks: every quantized layer's qgemm weight (host dequantization) equals torchao's
     dequantized weight (bit for bit; int8 weight-only: scale rounded to bf16), and the
     first-token logits of the two models agree (rel L2 bound).
Then load time: qgemm.quantize_ of the bf16 model on the GPU (qgemm.device_quant) against
torchao's quantize_ of the same model, for int4 weight-only and int8 dynamic.
Prints tokens/s and peak memory per batch size, then "N passed, N failed".

  QGEMM_LIBRARY=build-gpu/libqgemm.so PYTHONPATH=python python3 tests/gpu/torchao_checkpoint_e2e.py \\
      [--configs int8dq,fp8dq,int8wo] [--batches 1,16] [--workdir /tmp/qgemm-ao] [--json out.json]
--tiny --device cpu runs the same flow on small dims (tests the script, no timing meaning).
Disk: the bf16 checkpoint (16 GB for 8B) plus one quantized checkpoint at a time."""
import argparse
import gc
import json
import os
import shutil
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
sys.path.insert(0, HERE)

import torch  # noqa: E402

import qgemm  # noqa: E402
from e2e_llama import build_model, compare, decode_bench, model_config  # noqa: E402
from qgemm.nn import quant_linears  # noqa: E402

AO_CONFIGS = {  # name -> (torchao config factory, qgemm-side tolerance note)
    "int8dq": lambda ao: ao.Int8DynamicActivationInt8WeightConfig(),
    "fp8dq": lambda ao: ao.Float8DynamicActivationFloat8WeightConfig(granularity=ao.PerRow()),
    "int8wo": lambda ao: ao.Int8WeightOnlyConfig(),
}


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def reset_peak(device):
    if device.type == "cuda":
        gc.collect()
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_gib(device):
    return torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None


def bench(model, prompts, args, device, row, tag):
    for B in args.batches:
        reset_peak(device)
        try:
            r = decode_bench(model, prompts[:B], args.steps, device, not args.no_graph)
            row[f"{tag}_graph_b{B}"] = not args.no_graph and device.type == "cuda"
        except Exception as e:  # noqa: BLE001 - torchao tensors may not capture: eager then
            if args.no_graph or device.type != "cuda":
                raise
            print(f"  {tag} B={B}: CUDA graph capture failed ({type(e).__name__}: {e}); eager")
            reset_peak(device)
            r = decode_bench(model, prompts[:B], args.steps, device, False)
            row[f"{tag}_graph_b{B}"] = False
        row[f"{tag}_tok_s_b{B}"] = round(r["tokens_per_s"], 1)
        row[f"{tag}_peak_GiB_b{B}"] = None if device.type != "cuda" else round(peak_gib(device), 2)


def run_config(name, args, device, bf16_dir, prompts, failures):
    import torchao.quantization as ao
    from transformers import AutoModelForCausalLM, TorchAoConfig

    row = {"config": name}
    ao_dir = os.path.join(args.workdir, name)
    dev_map = {"": device.index or 0} if device.type == "cuda" else None
    t0 = time.time()
    ao_model = AutoModelForCausalLM.from_pretrained(
        bf16_dir, dtype=torch.bfloat16, device_map=dev_map,
        quantization_config=TorchAoConfig(AO_CONFIGS[name](ao))).eval()
    sync(device)
    row["torchao_load_s"] = round(time.time() - t0, 1)
    ao_model.save_pretrained(ao_dir)
    bench(ao_model, prompts, args, device, row, "torchao")
    with torch.no_grad():
        ao_logits = ao_model(input_ids=prompts[:2, :16]).logits.float()
    ao_weights = {fqn: m.weight for fqn, m in ao_model.named_modules()
                  if hasattr(m, "weight") and hasattr(m.weight, "tensor_data_names")}
    del ao_model
    gc.collect()

    reset_peak(device)
    t0 = time.time()
    qm = qgemm.from_pretrained(ao_dir, device=device)
    ms = sorted(set(args.batches) | {b * args.prompt_len for b in args.batches} | {32})
    if device.type == "cuda":
        qgemm.prepare(qm, ms)
    sync(device)
    row["qgemm_load_s"] = round(time.time() - t0, 1)
    bench(qm, prompts, args, device, row, "qgemm")
    with torch.no_grad():
        q_logits = qm(input_ids=prompts[:2, :16]).logits.float()
    layers = dict(quant_linears(qm))
    row["layers"] = len(layers)
    worst = 0.0
    for fqn, q in list(layers.items())[:: max(1, len(layers) // args.check_layers)]:
        ref = ao_weights[fqn].dequantize(torch.float32).cpu()
        got = q.dequantize_host()
        if name == "int8wo":
            worst = max(worst, float(((got - ref).abs() / ref.abs().clamp_min(1e-30)).max()))
        elif not torch.equal(got, ref):
            failures.append(f"{name}: {fqn}: qgemm's weight differs from torchao's")
    if name == "int8wo" and worst > 2.0 ** -9:
        failures.append(f"{name}: weight relative difference {worst:.3g} > 2^-9")
    row["logits_rel_l2_vs_torchao"] = compare(q_logits, ao_logits)["rel_l2"]
    if not row["logits_rel_l2_vs_torchao"] < args.logit_tol:
        failures.append(f"{name}: logits differ from torchao's: rel L2 "
                        f"{row['logits_rel_l2_vs_torchao']:.3g} (bound {args.logit_tol})")
    del qm, ao_weights
    gc.collect()
    shutil.rmtree(ao_dir, ignore_errors=True)
    return row


def same_bytes_as_host(model, probe, name, failures):
    """The GPU-packed buffers of a few layers against the C host packers on their weights."""
    import numpy as np

    from qgemm import host

    for fqn, w in probe.items():
        q = model.get_submodule(fqn)
        want = host.quantize_weight_bf16(q.spec, w.view(torch.int16).numpy().view(np.uint16))
        for b, t in q.packed().items():
            if not np.array_equal(t.cpu().numpy(), want[b]):
                failures.append(f"load-{name}: {fqn}.{b}: GPU pack differs from the host packer")


def load_time(args, device, bf16_dir, failures=None):
    """Seconds to quantize the bf16 model on the device: qgemm.quantize_ vs torchao's; the
    GPU-packed bytes of a few layers are checked against the host packers."""
    import torchao.quantization as ao
    from transformers import AutoModelForCausalLM

    out = {}
    pairs = {"int4wo": (lambda: qgemm.Int4WeightOnlyConfig(group_size=128),
                        lambda: ao.Int4WeightOnlyConfig(group_size=128)),
             "int8dq": (qgemm.Int8DynamicActivationInt8WeightConfig,
                        ao.Int8DynamicActivationInt8WeightConfig)}
    dev_map = {"": device.index or 0} if device.type == "cuda" else None
    for name, (ours, theirs) in pairs.items():
        for tag, fn in (("qgemm", lambda m: qgemm.quantize_(m, ours())),
                        ("torchao", lambda m: ao.quantize_(
                            m, theirs(), filter_fn=lambda mod, fqn: isinstance(
                                mod, torch.nn.Linear) and not fqn.endswith("lm_head")))):
            m = AutoModelForCausalLM.from_pretrained(bf16_dir, dtype=torch.bfloat16,
                                                     device_map=dev_map)
            probe = {f: lin.weight.detach().cpu() for f, lin in list(
                (f, x) for f, x in m.named_modules() if isinstance(x, torch.nn.Linear))[:4]}
            sync(device)
            t0 = time.time()
            try:
                fn(m)
                sync(device)
                out[f"{name}_{tag}_s"] = round(time.time() - t0, 2)
            except Exception as e:  # noqa: BLE001 - e.g. torchao int4 needs mslk
                out[f"{name}_{tag}_s"] = f"{type(e).__name__}: {str(e)[:80]}"
            if tag == "qgemm" and failures is not None:
                same_bytes_as_host(m, probe, name, failures)
            del m
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--configs", default="int8dq,fp8dq,int8wo")
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--prompt-len", type=int, default=64)
    ap.add_argument("--steps", type=int, default=128)
    ap.add_argument("--check-layers", type=int, default=16, help="layers whose weights are "
                    "compared with torchao's (spread over the model)")
    ap.add_argument("--logit-tol", type=float, default=0.05)
    ap.add_argument("--no-graph", action="store_true")
    ap.add_argument("--no-load-time", action="store_true")
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--workdir", default="/tmp/qgemm-torchao-e2e")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    args.batches = [int(b) for b in args.batches.split(",")]
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: skipping\n0 passed, 0 failed")
        return 0
    try:
        import torchao
        import transformers
    except ImportError as e:
        print(f"{e}: skipping\n0 passed, 0 failed")
        return 0
    print(f"{torch.cuda.get_device_name(device) + ', ' if device.type == 'cuda' else ''}"
          f"torch {torch.__version__}, transformers {transformers.__version__}, torchao "
          f"{torchao.__version__}, qgemm {qgemm.version()}", flush=True)
    os.makedirs(args.workdir, exist_ok=True)
    bf16_dir = os.path.join(args.workdir, "bf16")
    base = build_model(model_config("llama3-8b", args.tiny), device)
    base.save_pretrained(bf16_dir)
    vocab = base.config.vocab_size
    del base
    gc.collect()
    g = torch.Generator().manual_seed(1)
    prompts = torch.randint(3, vocab, (max(args.batches), args.prompt_len), generator=g).to(device)
    rows, failures = [], []
    for name in args.configs.split(","):
        try:
            rows.append(run_config(name, args, device, bf16_dir, prompts, failures))
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            failures.append(f"{name}: {type(e).__name__}: {e}")
            rows.append({"config": name, "error": str(e)})
        print(json.dumps(rows[-1]), flush=True)
    lt = {} if args.no_load_time else load_time(args, device, bf16_dir, failures)
    print("\n==== tokens/s (peak GiB), torchao vs qgemm, same checkpoint")
    for r in rows:
        cells = []
        for B in args.batches:
            for tag in ("torchao", "qgemm"):
                t, pk = r.get(f"{tag}_tok_s_b{B}"), r.get(f"{tag}_peak_GiB_b{B}")
                gr = "graph" if r.get(f"{tag}_graph_b{B}") else "eager"
                cells.append(f"{tag} B={B}: {t} tok/s ({pk} GiB, {gr})")
        print(f"{r['config']:7s} " + " | ".join(cells) +
              f" | load s torchao {r.get('torchao_load_s')} qgemm {r.get('qgemm_load_s')}"
              f" | logits vs torchao {r.get('logits_rel_l2_vs_torchao')}")
    if lt:
        print("quantize_ seconds on the device:", json.dumps(lt))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "load_time": lt, "failures": failures,
                       "args": vars(args)}, f, indent=1, default=str)
    shutil.rmtree(bf16_dir, ignore_errors=True)
    for f in failures:
        print("  problem: " + f)
    names = [r["config"] for r in rows] + (["load-int4wo", "load-int8dq"] if lt else [])
    bad = {f.split(":")[0] for f in failures} & set(names)
    print(f"{len(names) - len(bad)} passed, {len(bad)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
