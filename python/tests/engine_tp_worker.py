"""One tensor-parallel rank of the engine plugin tests (test_vllm_plugin.py,
test_sglang_plugin.py run it as a subprocess per rank; gloo on the CPU).

It builds the engine's own QKVParallelLinear, MergedColumnParallelLinear, RowParallelLinear
and ReplicatedLinear with qgemm's quantization config, loads the attention and MLP weights of
layer 0 of a transformers-written tiny Llama through the layers' weight loaders (the stacked
q/k/v and gate/up mapping engines use), runs process_weights_after_loading and a forward
pass, and checks each output against the expected shard computed independently: the rank's
slice of the checkpoint's weight, quantized by qgemm.QuantLinear (bf16 checkpoints) or
converted from torchao's tensors (torchao checkpoints), applied with the same CPU reference.
One process runs several cases (vLLM takes ~20 s to import on 2 cores); each prints
"case NAME ok N" (N checks) or "case NAME FAILED" with its traceback.

  python engine_tp_worker.py ENGINE RANK WORLD PORT CASES_JSON
      CASES_JSON: [[name, checkpoint_dir, quantization_config block], ...]
"""
import json
import os
import sys
import traceback

import torch

ENGINE, RANK, WORLD, PORT, CASES = sys.argv[1:6]
RANK, WORLD = int(RANK), int(WORLD)
STACKED = [(".qkv_proj", ".q_proj", "q"), (".qkv_proj", ".k_proj", "k"),
           (".qkv_proj", ".v_proj", "v"), (".gate_up_proj", ".gate_proj", 0),
           (".gate_up_proj", ".up_proj", 1)]
PACKED = {"qkv_proj": ["q_proj", "k_proj", "v_proj"], "gate_up_proj": ["gate_proj", "up_proj"]}


def engine_modules():
    if ENGINE == "vllm":
        from vllm.config import VllmConfig, set_current_vllm_config
        from vllm.distributed import (init_distributed_environment,
                                      initialize_model_parallel)
        from vllm.model_executor.layers import linear

        from qgemm.integrations import vllm as plugin

        ctx = set_current_vllm_config(VllmConfig())
        ctx.__enter__()
        init_distributed_environment(world_size=WORLD, rank=RANK, local_rank=RANK,
                                     distributed_init_method=f"tcp://127.0.0.1:{PORT}",
                                     backend="gloo")
        initialize_model_parallel(tensor_model_parallel_size=WORLD)
        plugin.register()
        plugin.register()  # idempotent
        from vllm.model_executor.layers import quantization as q
        assert q.QUANTIZATION_METHODS.count("qgemm") == 1
        assert q._CUSTOMIZED_METHOD_TO_QUANT_CONFIG["qgemm"] is plugin.QgemmConfig
        return linear, plugin.QgemmConfig
    from sglang.srt.distributed import (init_distributed_environment,
                                        initialize_model_parallel)
    from sglang.srt.layers import linear

    from sglang.srt.runtime_context import get_context

    from qgemm.integrations import sglang as plugin

    # SGLang reads the parallel widths from its published server arguments; its CUDA build
    # would open NCCL communicators for TP > 1, which gloo on the CPU replaces here.
    get_context().override_server_args(tp_size=WORLD, device="cpu").install()
    from sglang.srt.distributed import parallel_state

    make_group = parallel_state.init_model_parallel_group
    parallel_state.init_model_parallel_group = \
        lambda *a, **k: make_group(*a, **dict(k, use_pynccl=False))
    init_distributed_environment(world_size=WORLD, rank=RANK, local_rank=RANK,
                                 distributed_init_method=f"tcp://127.0.0.1:{PORT}",
                                 backend="gloo")
    initialize_model_parallel(backend="gloo")
    plugin.register()
    plugin.register()
    from sglang.srt.layers.quantization import QUANTIZATION_METHODS
    assert QUANTIZATION_METHODS["qgemm"] is plugin.QgemmConfig
    return linear, plugin.QgemmConfig


def main():
    linear, QgemmConfig = engine_modules()
    for name, ckpt, block in json.loads(CASES):
        try:
            n = run_case(linear, QgemmConfig, ckpt, block)
            print(f"case {name} ok {n}", flush=True)
        except Exception:
            print(f"case {name} FAILED", flush=True)
            traceback.print_exc(file=sys.stdout)
            sys.stdout.flush()


def run_case(linear, QgemmConfig, CKPT, BLOCK):
    from safetensors import safe_open

    import qgemm
    from qgemm import torchao_compat
    from qgemm.nn import QuantLinear

    with open(os.path.join(CKPT, "config.json")) as f:
        hf = json.load(f)
    hidden, inter = hf["hidden_size"], hf["intermediate_size"]
    nh, nkv = hf["num_attention_heads"], hf["num_key_value_heads"]
    hd = hidden // nh
    cfg = QgemmConfig.from_config(BLOCK)
    cfg.packed_modules_mapping = dict(PACKED)
    dt = torch.bfloat16
    pre = "model.layers.0."
    layers = {
        "self_attn.qkv_proj": linear.QKVParallelLinear(
            hidden, hd, nh, nkv, bias=False, quant_config=cfg, params_dtype=dt,
            prefix=pre + "self_attn.qkv_proj"),
        "mlp.gate_up_proj": linear.MergedColumnParallelLinear(
            hidden, [inter, inter], bias=False, quant_config=cfg, params_dtype=dt,
            prefix=pre + "mlp.gate_up_proj"),
        "mlp.down_proj": linear.RowParallelLinear(
            inter, hidden, bias=False, reduce_results=False, quant_config=cfg, params_dtype=dt,
            prefix=pre + "mlp.down_proj"),
        "self_attn.o_proj": linear.RowParallelLinear(
            hidden, hidden, bias=False, reduce_results=False, quant_config=cfg,
            params_dtype=dt, prefix=pre + "self_attn.o_proj"),
    }
    replicated = linear.ReplicatedLinear(hidden, hidden, bias=False, quant_config=cfg,
                                         params_dtype=dt, prefix=pre + "self_attn.o_proj")
    params = {}
    for name, layer in layers.items():
        for pname, p in layer.named_parameters():
            params[f"{pre}{name}.{pname}"] = p
    rep_params = dict(replicated.named_parameters())

    # The engine's weight iterator over the transformers-written file, then the engines'
    # stacked-parameter mapping into the layers' own weight loaders.
    files = [os.path.join(CKPT, "model.safetensors")]
    if ENGINE == "vllm":
        from vllm.model_executor.model_loader.weight_utils import safetensors_weights_iterator
        weights = safetensors_weights_iterator(files, False)
    else:
        from sglang.srt.model_loader.weight_utils import safetensors_weights_iterator
        weights = safetensors_weights_iterator(files)
    loaded = set()
    for name, w in weights:
        if not name.startswith(pre):
            continue
        if name.startswith(pre + "self_attn.o_proj."):
            p = rep_params[name[len(pre + "self_attn.o_proj."):]]
            p.weight_loader(p, w)
        for fused, shard, sid in STACKED:
            if shard in name:
                key = name.replace(shard, fused)
                p = params[key]
                p.weight_loader(p, w, sid)
                loaded.add(key)
                break
        else:
            if name in params:
                p = params[name]
                p.weight_loader(p, w)
                loaded.add(name)
    missing = set(params) - loaded
    assert not missing, f"not loaded: {missing}"
    for layer in list(layers.values()) + [replicated]:
        layer.quant_method.process_weights_after_loading(layer)

    # Independent expectation: this rank's slice of each checkpoint weight.
    torchao = BLOCK.get("quant_method") == "torchao"
    f = safe_open(files[0], framework="pt")
    entries = torchao_compat.weight_entries(f.metadata())

    def expected_linear(fqn, rows=None, cols=None):
        sl = (slice(None) if rows is None else rows, slice(None) if cols is None else cols)
        qc = qgemm.config.from_hf_quantization_config(BLOCK)
        if not torchao:
            w = f.get_tensor(fqn + ".weight")[sl]
            lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=False, dtype=dt)
            lin.weight.data.copy_(w)
            return QuantLinear.from_linear(lin, qc)
        kind, _ = entries[fqn]
        data = {}
        for n in torchao_compat.TENSOR_DATA[kind]:
            key = torchao_compat.flat_key(fqn, n)
            if key not in f.keys():
                continue
            t = f.get_tensor(key)
            if kind == "Int4Tensor":  # qdata [N, K/2]; scale, zero point [K/group, N]
                k = 2 * f.get_slice(torchao_compat.flat_key(fqn, "qdata")).get_shape()[1]
                per = 2 if n == "qdata" else k // f.get_slice(
                    torchao_compat.flat_key(fqn, "scale")).get_shape()[0]
                c = sl[1] if cols is None else slice(cols.start // per, cols.stop // per)
                data[n] = t[sl[0], c] if n == "qdata" else t[c, sl[0]]
            else:
                data[n] = t[sl[0]] if t.shape[-1] == 1 or t.dim() == 1 else t[sl]
        spec, packed = torchao_compat.convert(qc, kind, data, dt, fqn)
        return QuantLinear(spec, packed)

    def rows(n_total, r=RANK):
        step = n_total // WORLD
        return slice(r * step, (r + 1) * step)

    torch.manual_seed(7)
    x = torch.randn(5, hidden, dtype=dt)
    xi = torch.randn(5, inter, dtype=dt)
    checks = 0

    def check(name, got, want):
        nonlocal checks
        assert got.shape == want.shape, (name, got.shape, want.shape)
        assert torch.equal(got, want), f"{name}: max diff {(got - want).abs().max()}"
        checks += 1

    y, _ = layers["self_attn.qkv_proj"](x)
    qh, kvh = nh // WORLD, nkv // WORLD
    want = torch.cat([expected_linear(pre + "self_attn.q_proj", rows(nh * hd))(x),
                      expected_linear(pre + "self_attn.k_proj", rows(nkv * hd))(x),
                      expected_linear(pre + "self_attn.v_proj", rows(nkv * hd))(x)], -1)
    assert y.shape[-1] == (qh + 2 * kvh) * hd
    check("qkv_proj", y, want)
    y, _ = layers["mlp.gate_up_proj"](x)
    want = torch.cat([expected_linear(pre + "mlp.gate_proj", rows(inter))(x),
                      expected_linear(pre + "mlp.up_proj", rows(inter))(x)], -1)
    check("gate_up_proj", y, want)
    ks = rows(inter)
    y, _ = layers["mlp.down_proj"](xi[:, ks])
    check("down_proj", y, expected_linear(pre + "mlp.down_proj", cols=ks)(xi[:, ks]))
    ks = rows(hidden)
    y, _ = layers["self_attn.o_proj"](x[:, ks])
    check("o_proj", y, expected_linear(pre + "self_attn.o_proj", cols=ks)(x[:, ks]))
    y, _ = replicated(x)
    check("replicated", y, expected_linear(pre + "self_attn.o_proj")(x))
    # And the quantized layers are close to the bf16 ones (the sums a rank owns).
    w = f.get_tensor(pre + "mlp.gate_proj.weight") if not torchao else None
    if w is not None:
        ref = torch.nn.functional.linear(x.float(), w[rows(inter)].float())
        got = layers["mlp.gate_up_proj"](x)[0][:, :inter // WORLD].float()
        rel = ((got - ref).norm() / ref.norm()).item()
        bound = 0.2 if layers["mlp.gate_up_proj"].qgemm_spec.scheme == "w4a8-fp8" else 0.1
        assert rel < bound, f"gate_proj relative error {rel} (bound {bound})"
    return checks


if __name__ == "__main__":
    main()
