"""The engine-neutral linear method (qgemm.integrations.linear) without an engine: what the
layer registers for the engines' loaders, which config a (fused) layer gets, and a full
create -> load -> process -> apply cycle on a stand-in layer."""
import pytest

torch = pytest.importorskip("torch")

import qgemm  # noqa: E402
from qgemm import host  # noqa: E402
from qgemm.integrations import linear as L  # noqa: E402
from qgemm.nn import QuantLinear  # noqa: E402
import engine_fixtures as fx  # noqa: E402

PER_TENSOR_FP8 = qgemm.Float8DynamicActivationFloat8WeightConfig()
PER_ROW_INT8 = qgemm.Int8DynamicActivationInt8WeightConfig()


def shapes(params):
    return {n: (tuple(t.shape), t.dtype, dims) for n, t, dims in params}


def test_loading_params_follow_torchaos_tensors():
    got = shapes(L.loading_params(PER_ROW_INT8, True, [64, 32], 256, torch.bfloat16))
    assert got == {"_weight_qdata": ((96, 256), torch.int8, {"output_dim": 0, "input_dim": 1}),
                   "_weight_scale": ((96, 1), torch.float32, {"output_dim": 0}),
                   "_weight_zero_point": ((96, 1), torch.int8, {"output_dim": 0})}
    got = shapes(L.loading_params(PER_TENSOR_FP8, True, [64], 256, torch.bfloat16))
    assert got["_weight_scale"] == ((1, 1), torch.float32, {})
    got = shapes(L.loading_params(qgemm.Float8DynamicActivationInt4WeightConfig(), True, [64],
                                  256, torch.bfloat16))
    assert got["_weight_qdata"][0] == (64, 128) and got["_weight_scale"][0] == (2, 64)
    got = shapes(L.loading_params(qgemm.Int4WeightOnlyConfig(group_size=64), True, [64, 32],
                                  256, torch.bfloat16))
    assert got["_weight_qdata"][0] == (96, 128) and got["_weight_zero_point"][0] == (4, 96)
    assert got["_weight_scale"][2] == {"output_dim": 1, "input_dim": 0}
    got = shapes(L.loading_params(qgemm.Int4WeightOnlyConfig(), False, [64, 64], 256,
                                  torch.float16))
    assert got == {"weight": ((128, 256), torch.float16, {"output_dim": 0, "input_dim": 1})}


def test_refusals():
    with pytest.raises(NotImplementedError, match="per-tensor"):
        L.loading_params(PER_TENSOR_FP8, True, [64, 32, 32], 256, torch.bfloat16)
    with pytest.raises(ValueError, match="multiple of the group size 128"):
        L.loading_params(qgemm.Float8DynamicActivationInt4WeightConfig(), True, [64], 192,
                         torch.bfloat16)
    with pytest.raises(ValueError, match="group size 64"):
        L.loading_params(qgemm.Int4WeightOnlyConfig(group_size=64), True, [64], 96,
                         torch.bfloat16)


def test_resolve_fused_layers_and_skips():
    mapping = {"qkv_proj": ["q_proj", "k_proj", "v_proj"]}
    m = qgemm.ModuleFqnToConfig({"_default": PER_ROW_INT8, "model.layers.0.self_attn.k_proj":
                                 qgemm.Int8WeightOnlyConfig()})
    assert L.resolve(m, "model.layers.1.self_attn.qkv_proj", mapping) == PER_ROW_INT8
    with pytest.raises(ValueError, match="different configs"):
        L.resolve(m, "model.layers.0.self_attn.qkv_proj", mapping)
    assert L.resolve(PER_ROW_INT8, "model.layers.0.mlp.down_proj", mapping,
                     skip_modules=["mlp"]) is None
    assert L.resolve(PER_ROW_INT8, "lm_head", mapping, skip_modules=["lm_head"]) is None


def test_process_and_apply_match_quantlinear():
    torch.manual_seed(0)
    layer = torch.nn.Module()
    for name, t, _ in L.loading_params(PER_ROW_INT8, False, [64], 128, torch.bfloat16):
        layer.register_parameter(name, torch.nn.Parameter(t, requires_grad=False))
    w = torch.randn(64, 128, dtype=torch.bfloat16) * 0.05
    layer.weight.data.copy_(w)
    layer.params_dtype = torch.bfloat16
    spec = L.process(layer, PER_ROW_INT8, False)
    assert not hasattr(layer, "weight") and spec.scheme == "w8a8-int8"
    lin = torch.nn.Linear(128, 64, bias=False, dtype=torch.bfloat16)
    lin.weight.data.copy_(w)
    x = torch.randn(3, 128, dtype=torch.bfloat16)
    assert torch.equal(L.apply(layer, x), QuantLinear.from_linear(lin, PER_ROW_INT8)(x))
    assert set(dict(layer.named_buffers())) == {"qgemm_weight", "qgemm_scale"}


def _loaded_int4_layer(config, qdata, scale, zero):
    layer = torch.nn.Module()
    n, k = qdata.shape[0], 2 * qdata.shape[1]
    for name, t, _ in L.loading_params(config, True, [n], k, torch.bfloat16):
        layer.register_parameter(name, torch.nn.Parameter(t, requires_grad=False))
    layer._weight_qdata.data.copy_(qdata)
    layer._weight_scale.data.copy_(scale)
    layer._weight_zero_point.data.copy_(zero)
    layer.params_dtype = torch.bfloat16
    return layer


def test_int4_weight_only_torchao_shard_converts():
    """torchao Int4Tensor tensors as an engine loads them: integer-multiple zero points pack
    into w4a16 integer zero points exactly (w = q * s + z), float ones into w4a16 float zero
    points (q * s + z rounded once to bf16), a non-finite one is refused by the layer's name."""
    torch.manual_seed(1)
    cfg = qgemm.Int4WeightOnlyConfig(group_size=64)
    n, k = 64, 128
    qdata = torch.randint(0, 256, (n, k // 2), dtype=torch.uint8)
    # 4-bit significands: the bf16 zero points (8 - zq) * scale are exact
    scale = (torch.randint(1, 16, (k // 64, n)) * 2.0 ** -12).to(torch.bfloat16)
    zero = ((8 - torch.randint(0, 16, (k // 64, n))) * scale.float()).to(torch.bfloat16)
    layer = _loaded_int4_layer(cfg, qdata, scale, zero)
    spec = L.process(layer, cfg, True, "model.layers.0.mlp.up_proj")
    assert spec.scheme == "w4a16" and spec.zero_point and spec.group_size == 64
    b = qdata.to(torch.int16)
    q = torch.stack([b & 0xF, b >> 4], -1).view(n, k)
    q = torch.where(q >= 8, q - 16, q).float()
    ref = q * scale.float().t().repeat_interleave(64, 1) + \
        zero.float().t().repeat_interleave(64, 1)
    got = host.dequantize_weight(spec, {b: t.numpy() for b, t in layer.qgemm_packed.items()})
    assert torch.equal(torch.from_numpy(got), ref)
    zero[1, 5] += scale[1, 5].float() / 2
    layer = _loaded_int4_layer(cfg, qdata, scale, zero)
    spec = L.process(layer, cfg, True, "model.layers.0.mlp.up_proj")
    assert spec.zero_point == "float"
    got = host.dequantize_weight(spec, {b: t.numpy() for b, t in layer.qgemm_packed.items()})
    assert torch.equal(torch.from_numpy(got),
                       fx.int4_float_zp_reference(q, scale, zero, 64, torch.bfloat16))
    zero[0, 7] = float("inf")
    layer = _loaded_int4_layer(cfg, qdata, scale, zero)
    with pytest.raises(ValueError, match=r"model.layers.0.mlp.up_proj.*not finite.*row 7, group 0"):
        L.process(layer, cfg, True, "model.layers.0.mlp.up_proj")
