"""Config JSON against the real torchao (0.18): what torchao writes qgemm reads, what qgemm
writes torchao reads as the same config, and fields that change the numbers are refused by
name. Skipped where torchao is not installed (python/tests/run_integrations.sh installs it)."""
import json

import pytest

import qgemm
from qgemm import config as C

ao = pytest.importorskip("torchao.quantization")
from torchao.core.config import config_from_dict as ao_from_dict  # noqa: E402
from torchao.core.config import config_to_dict as ao_to_dict  # noqa: E402

PAIRS = [  # (torchao config, the qgemm config it means)
    (lambda: ao.Int4WeightOnlyConfig(group_size=128), qgemm.Int4WeightOnlyConfig(128)),
    (lambda: ao.Int4WeightOnlyConfig(group_size=32), qgemm.Int4WeightOnlyConfig(32)),
    (lambda: ao.Int8WeightOnlyConfig(), qgemm.Int8WeightOnlyConfig()),
    (lambda: ao.Int8DynamicActivationInt8WeightConfig(),
     qgemm.Int8DynamicActivationInt8WeightConfig()),
    (lambda: ao.Float8DynamicActivationFloat8WeightConfig(),
     qgemm.Float8DynamicActivationFloat8WeightConfig()),
    (lambda: ao.Float8DynamicActivationFloat8WeightConfig(granularity=ao.PerRow()),
     qgemm.Float8DynamicActivationFloat8WeightConfig(granularity=qgemm.PerRow())),
    (lambda: ao.Float8DynamicActivationInt4WeightConfig(),
     qgemm.Float8DynamicActivationInt4WeightConfig()),
]


@pytest.mark.parametrize("ao_cfg,ours", PAIRS, ids=lambda x: getattr(x, "__name__", None)
                         or type(x).__name__)
def test_torchao_json_reads_as_the_same_qgemm_config(ao_cfg, ours):
    d = json.loads(json.dumps(ao_to_dict(ao_cfg())))
    assert C.config_from_dict(d) == ours


@pytest.mark.parametrize("ao_cfg,ours", PAIRS, ids=lambda x: getattr(x, "__name__", None)
                         or type(x).__name__)
def test_qgemm_json_reads_in_torchao_as_the_same_config(ao_cfg, ours):
    import warnings

    d = C.config_to_dict(ours)
    want = ao_cfg()
    assert d["_version"] == getattr(want, "version", 1), "torchao would run a legacy path"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a version mismatch warns in torchao
        got = ao_from_dict(json.loads(json.dumps(d)))
    assert ao_to_dict(got) == ao_to_dict(want)


def test_fqn_to_config_both_ways():
    ao_m = ao.FqnToConfig({"_default": ao.Int8WeightOnlyConfig(), "lm_head": None,
                           "re:.*down_proj": ao.Int8DynamicActivationInt8WeightConfig()})
    ours = C.config_from_dict(json.loads(json.dumps(ao_to_dict(ao_m))))
    assert ours.config_for("model.layers.0.mlp.down_proj") == \
        qgemm.Int8DynamicActivationInt8WeightConfig()
    assert ours.config_for("lm_head") is None
    assert ours.config_for("x.q_proj") == qgemm.Int8WeightOnlyConfig()
    back = ao_from_dict(json.loads(json.dumps(C.config_to_dict(ours))))
    assert ao_to_dict(back) == ao_to_dict(ao_m)


def test_sparse_fp8_is_torchaos_packing_format():
    ours = qgemm.Float8DynamicActivationFloat8SemiSparseWeightConfig()
    d = C.config_to_dict(ours)
    got = ao_from_dict(json.loads(json.dumps(d)))
    assert type(got).__name__ == "Float8DynamicActivationFloat8WeightConfig"
    assert "SPARSE" in str(got.packing_format).upper()
    assert C.config_from_dict(ao_to_dict(got)) == ours


@pytest.mark.parametrize("make,field", [
    (lambda: ao.Int8DynamicActivationInt8WeightConfig(act_mapping_type=ao.MappingType.ASYMMETRIC),
     "act_mapping_type"),
    (lambda: ao.Int8DynamicActivationInt8WeightConfig(weight_only_decode=True),
     "weight_only_decode"),
    (lambda: ao.Int8DynamicActivationInt8WeightConfig(reduce_range=True), "reduce_range"),
    (lambda: ao.Float8DynamicActivationFloat8WeightConfig(activation_value_lb=1e-4),
     "activation_value_lb"),
    (lambda: ao.Float8DynamicActivationFloat8WeightConfig(activation_value_ub=1200.0),
     "activation_value_ub"),
    (lambda: ao.Int4WeightOnlyConfig(int4_choose_qparams_algorithm="hqq"),
     "int4_choose_qparams_algorithm"),
])
def test_number_changing_fields_are_errors_naming_the_field(make, field):
    d = json.loads(json.dumps(ao_to_dict(make())))
    with pytest.raises(C.ConfigError, match=field):
        C.config_from_dict(d)
