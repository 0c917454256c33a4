"""Configs: torchao's JSON format both ways, the module mapping, the HF config.json block, and
the scheme each config selects. Pure Python (no library, no torch)."""
import json

import pytest

import qgemm
from qgemm import config as C


def test_int4_weight_only_json_is_torchao_format():
    d = C.config_to_dict(qgemm.Int4WeightOnlyConfig(group_size=128))
    assert d == {"_type": "Int4WeightOnlyConfig", "_version": 2, "_data": {"group_size": 128}}
    assert C.config_from_dict(
        {"_type": "Int4WeightOnlyConfig", "_data": {"group_size": 128}}) == \
        qgemm.Int4WeightOnlyConfig(group_size=128)


ALL = [
    qgemm.Int4WeightOnlyConfig(group_size=64, zero_point=False),
    qgemm.Int4WeightOnlyConfig(),
    qgemm.Int8WeightOnlyConfig(),
    qgemm.Int8DynamicActivationInt8WeightConfig(),
    qgemm.Int8DynamicActivationInt8WeightConfig(granularity=qgemm.PerTensor()),
    qgemm.Float8DynamicActivationFloat8WeightConfig(),
    qgemm.Float8DynamicActivationFloat8WeightConfig(granularity=qgemm.PerRow()),
    qgemm.Float8DynamicActivationFloat8WeightConfig(granularity=[qgemm.PerTensor(),
                                                                 qgemm.PerRow()]),
    qgemm.Float8DynamicActivationInt4WeightConfig(),
    qgemm.Int8DynamicActivationInt4WeightConfig(group_size=128),
    qgemm.Int8DynamicActivationInt4WeightConfig(group_size=None),
    qgemm.SemiSparseWeightConfig(),
    qgemm.Float8DynamicActivationFloat8SemiSparseWeightConfig(),
    qgemm.Int8DynamicActivationInt8SemiSparseWeightConfig(),
]


@pytest.mark.parametrize("cfg", ALL, ids=lambda c: json.dumps(c.to_dict()["_data"]) +
                         type(c).__name__)
def test_round_trip_through_json(cfg):
    text = json.dumps(C.config_to_dict(cfg))
    back = C.config_from_dict(json.loads(text))
    assert type(back) is type(cfg) and back == cfg
    assert back.weight_spec(256, 512) == cfg.weight_spec(256, 512)


def test_schemes_and_fields_selected():
    def spec(cfg):
        return cfg.weight_spec(64, 256, act_dtype="bf16", out_dtype="bf16")

    s = spec(qgemm.Int4WeightOnlyConfig(group_size=32))
    assert (s.scheme, s.group_size, s.zero_point) == ("w4a16", 32, True)
    assert spec(qgemm.Int8WeightOnlyConfig()).scheme == "w8a16"
    s = spec(qgemm.Float8DynamicActivationFloat8WeightConfig())  # torchao default: per tensor
    assert (s.scheme, s.weight_scale, s.act_scale) == ("w8a8-fp8", "per_tensor", "per_tensor")
    s = spec(qgemm.Float8DynamicActivationFloat8WeightConfig(granularity=qgemm.PerRow()))
    assert (s.weight_scale, s.act_scale) == ("per_row", "per_row")
    s = spec(qgemm.Float8DynamicActivationFloat8WeightConfig(
        granularity=[qgemm.PerTensor(), qgemm.PerRow()]))  # [activation, weight]
    assert (s.act_scale, s.weight_scale) == ("per_tensor", "per_row")
    s = spec(qgemm.Int8DynamicActivationInt8WeightConfig())
    assert (s.scheme, s.weight_scale, s.act_scale) == ("w8a8-int8", "per_row", "per_row")
    assert spec(qgemm.Float8DynamicActivationInt4WeightConfig()).scheme == "w4a8-fp8"
    s = spec(qgemm.Int8DynamicActivationInt4WeightConfig())
    assert (s.scheme, s.group_size) == ("w4a8-int8", 32)
    assert spec(qgemm.Int8DynamicActivationInt4WeightConfig(group_size=None)).group_size == 0
    assert spec(qgemm.SemiSparseWeightConfig()).scheme == "sp24-bf16"
    assert spec(qgemm.Float8DynamicActivationFloat8SemiSparseWeightConfig()).scheme == "sp24-fp8"
    assert spec(qgemm.Int8DynamicActivationInt8SemiSparseWeightConfig()).scheme == "sp24-int8"
    s = qgemm.Int4WeightOnlyConfig().weight_spec(64, 256, act_dtype="f16", out_dtype="f16")
    assert (s.act_dtype, s.out_dtype) == ("f16", "f16")


def test_reads_torchao_written_configs():
    # What torchao's config_to_dict writes (extra fields choosing torchao kernels are ignored;
    # dtype fields are checked).
    fp8 = {"_type": "Float8DynamicActivationFloat8WeightConfig", "_version": 2, "_data": {
        "activation_dtype": {"_type": "torch.dtype", "_data": "float8_e4m3fn"},
        "weight_dtype": {"_type": "torch.dtype", "_data": "float8_e4m3fn"},
        "granularity": [{"_type": "PerRow", "_version": 1, "_data": {"dim": -1}},
                        {"_type": "PerRow", "_version": 1, "_data": {"dim": -1}}],
        "mm_config": {"_type": "Float8MMConfig", "_version": 1, "_data": {"use_fast_accum": True}},
        "set_inductor_config": True, "version": 2, "kernel_preference": {
            "_type": "KernelPreference", "_data": "AUTO"}}}
    c = C.config_from_dict(fp8)
    assert c == qgemm.Float8DynamicActivationFloat8WeightConfig(granularity=qgemm.PerRow())
    int4 = {"_type": "Int4WeightOnlyConfig", "_version": 2, "_data": {
        "group_size": 128, "layout": {"_type": "TensorCoreTiledLayout", "_data": {"inner_k_tiles": 8}},
        "use_hqq": False, "set_inductor_config": True, "int4_packing_format": "tile_packed_to_4d"}}
    assert C.config_from_dict(int4) == qgemm.Int4WeightOnlyConfig(group_size=128)
    sparse_int8 = {"_type": "Int8DynamicActivationInt8WeightConfig", "_data": {
        "layout": {"_type": "SemiSparseLayout", "_data": {}}}}
    assert isinstance(C.config_from_dict(sparse_int8),
                      qgemm.Int8DynamicActivationInt8SemiSparseWeightConfig)


@pytest.mark.parametrize("bad,match", [
    ({"_type": "AWQConfig", "_data": {}}, "unknown config type"),
    ({"_type": "Int4WeightOnlyConfig"}, "'_type' and '_data'"),
    ({"_type": "Int4WeightOnlyConfig", "_data": {"group_size": 48}}, "group_size must be"),
    ({"_type": "Int4WeightOnlyConfig", "_data": {"bits": 3}}, "no field 'bits'"),
    ({"_type": "Int8WeightOnlyConfig", "_data": {"group_size": 64}}, "per-channel"),
    ({"_type": "Float8DynamicActivationFloat8WeightConfig", "_data": {
        "granularity": {"_type": "PerBlock", "_data": {}}}}, "PerBlock"),
    ({"_type": "Float8DynamicActivationFloat8WeightConfig", "_data": {
        "activation_dtype": {"_type": "torch.dtype", "_data": "float8_e5m2"}}}, "float8_e5m2"),
    ({"_type": "Float8DynamicActivationInt4WeightConfig", "_data": {"group_size": 64}}, "128"),
    ({"_type": "ModuleFqnToConfig", "_data": {"module_fqn_to_config": {
        "a": {"_type": "Nope", "_data": {}}}}}, "unknown config type"),
    ("Int4WeightOnlyConfig", "JSON object"),
])
def test_bad_configs_are_clear_errors(bad, match):
    with pytest.raises(C.ConfigError, match=match):
        C.config_from_dict(bad)


def test_module_mapping_precedence_and_json():
    int4 = qgemm.Int4WeightOnlyConfig(group_size=64)
    fp8 = qgemm.Float8DynamicActivationFloat8WeightConfig(granularity=qgemm.PerRow())
    m = qgemm.ModuleFqnToConfig({
        "_default": fp8,
        "re:model\\.layers\\.\\d+\\.mlp\\.down_proj": int4,
        "model.layers.3.mlp.down_proj": None,  # exact name beats the pattern
        "lm_head": None,
    })
    assert m.config_for("model.layers.0.self_attn.q_proj") == fp8
    assert m.config_for("model.layers.7.mlp.down_proj") == int4
    assert m.config_for("model.layers.3.mlp.down_proj") is None
    assert m.config_for("lm_head") is None
    d = C.config_to_dict(m)
    assert d["_type"] == "FqnToConfig"
    assert d["_data"]["module_fqn_to_config"]["lm_head"] is None
    back = C.config_from_dict(json.loads(json.dumps(d)))
    assert back == m
    assert C.config_from_dict({"_type": "FqnToConfig", "_data": {
        "module_fqn_to_config": {"_default": int4.to_dict()}}}).config_for("x") == int4
    assert qgemm.ModuleFqnToConfig({}).config_for("x") is None
    with pytest.raises(C.ConfigError, match="bad regex"):
        qgemm.ModuleFqnToConfig({"re:(": int4})
    with pytest.raises(C.ConfigError, match="must be a qgemm config"):
        qgemm.ModuleFqnToConfig({"a": "int4"})


def test_hf_quantization_config_block():
    cfg = qgemm.Int4WeightOnlyConfig(group_size=128)
    block = C.to_hf_quantization_config(cfg, modules_to_not_convert=["lm_head"])
    assert block["quant_method"] == "qgemm"
    assert block["quant_type"] == {"default": {"_type": "Int4WeightOnlyConfig", "_version": 2,
                                               "_data": {"group_size": 128}}}
    assert block["modules_to_not_convert"] == ["lm_head"]
    assert C.from_hf_quantization_config(json.loads(json.dumps(block))) == cfg
    torchao_block = {"quant_method": "torchao", "quant_type": block["quant_type"]}
    assert C.from_hf_quantization_config(torchao_block) == cfg
    with pytest.raises(C.ConfigError, match="quant_method"):
        C.from_hf_quantization_config({"quant_method": "gptq", "quant_type": {}})
    with pytest.raises(C.ConfigError, match="'default'"):
        C.from_hf_quantization_config({"quant_method": "qgemm", "quant_type": {
            "a": block["quant_type"]["default"], "b": block["quant_type"]["default"]}})
    with pytest.raises(C.ConfigError, match="format_version"):
        C.from_hf_quantization_config(dict(block, format_version=99))


def test_config_rejects_32bit_activations():
    with pytest.raises(C.ConfigError, match="bf16 or f16"):
        qgemm.Int8DynamicActivationInt8WeightConfig().weight_spec(16, 16, act_dtype="f32")
