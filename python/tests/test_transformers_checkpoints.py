"""Checkpoints both ways with the real transformers (and torchao): a qgemm-written checkpoint
loads in transformers' from_pretrained with its packed weights (not random ones), and
checkpoints that transformers saved with torchao configs load in qgemm with torchao's codes.
Skipped where transformers is not installed (python/tests/run_integrations.sh installs it)."""
import json
import os

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import qgemm  # noqa: E402
from qgemm.nn import QuantLinear, quant_linears  # noqa: E402

import engine_fixtures as fx  # noqa: E402


@pytest.fixture(scope="module")
def bf16_dir(tmp_path_factory):
    return fx.write_bf16_llama(str(tmp_path_factory.mktemp("bf16")))


def _load_bf16(path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16).eval()


def test_qgemm_checkpoint_loads_in_transformers_from_pretrained(bf16_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    model = _load_bf16(bf16_dir)
    qgemm.quantize_(model, qgemm.Int8DynamicActivationInt8WeightConfig())
    assert isinstance(model.lm_head, torch.nn.Linear)  # transformers' default: not quantized
    out = str(tmp_path / "q")
    qgemm.save_pretrained(model, out)
    back = AutoModelForCausalLM.from_pretrained(out, dtype=torch.bfloat16).eval()
    ours, theirs = dict(quant_linears(model)), dict(quant_linears(back))
    assert set(ours) == set(theirs) and len(ours) == 14
    for fqn, q in ours.items():
        for name, t in q.packed().items():
            assert torch.equal(theirs[fqn].packed()[name], t), (fqn, name)
    ids = torch.tensor([[1, 5, 9, 3]])
    with torch.no_grad():
        assert torch.equal(back(ids).logits, model(ids).logits)
    assert type(back.config.quantization_config).__name__ == "QgemmHfConfig"


def test_lm_head_is_quantized_only_when_named(bf16_dir):
    m = _load_bf16(bf16_dir)
    qgemm.quantize_(m, qgemm.ModuleFqnToConfig({
        "_default": qgemm.Int8WeightOnlyConfig(), "lm_head": qgemm.Int8WeightOnlyConfig()}))
    assert isinstance(m.lm_head, QuantLinear)
    m = _load_bf16(bf16_dir)
    qgemm.quantize_(m, qgemm.Int8WeightOnlyConfig(), filter_fn=lambda mod, fqn: True)
    assert isinstance(m.lm_head, QuantLinear)


def test_packed_checkpoint_without_module_list_is_refused(bf16_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    model = _load_bf16(bf16_dir)
    qgemm.quantize_(model, qgemm.Int8WeightOnlyConfig())
    out = str(tmp_path / "old")
    qgemm.save_pretrained(model, out)
    cfg_path = os.path.join(out, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    del cfg["quantization_config"]["qgemm_modules"]  # as an older qgemm wrote it
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)
    with pytest.raises(ValueError, match="qgemm_modules"):
        AutoModelForCausalLM.from_pretrained(out, dtype=torch.bfloat16)


@pytest.mark.parametrize("name", list(fx.CPU_TORCHAO))
def test_torchao_checkpoint_loads_in_qgemm_with_torchaos_codes(bf16_dir, tmp_path, name):
    pytest.importorskip("torchao")
    from transformers import AutoModelForCausalLM

    d = fx.write_torchao_llama(bf16_dir, str(tmp_path / name), name)
    with open(os.path.join(d, "config.json")) as f:
        block = json.load(f)["quantization_config"]
    assert block["quant_method"] == "torchao" and block["quant_type"]["default"]["_version"] == 2
    ours = qgemm.from_pretrained(d, device="cpu")
    ao_model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.bfloat16)
    layers = dict(quant_linears(ours))
    assert len(layers) == 14 and isinstance(ours.lm_head, torch.nn.Linear)
    for fqn, q in layers.items():
        ref = ao_model.get_submodule(fqn).weight.dequantize(torch.float32)
        got = q.dequantize_host()
        if name == "int8wo":  # the w8a16 format stores the scale in bf16
            assert ((got - ref).abs() <= ref.abs() * 2.0 ** -9).all(), fqn
        else:
            assert torch.equal(got, ref), fqn
    ids = torch.tensor([[1, 5, 9, 3]])
    with torch.no_grad():
        a, b = ours(ids).logits.float(), ao_model(ids).logits.float()
    assert ((a - b).norm() / b.norm()).item() < 0.05


def _torchao_tensors(directory):
    """The checkpoint's weights as torchao rebuilds them (unflatten_tensor_state_dict)."""
    from safetensors import safe_open
    from torchao.prototype.safetensors.safetensors_support import unflatten_tensor_state_dict

    with safe_open(os.path.join(directory, "model.safetensors"), framework="pt") as f:
        return unflatten_tensor_state_dict({k: f.get_tensor(k) for k in f.keys()},
                                           f.metadata())[0]


def test_torchao_int4_weight_only_checkpoint_loads_exactly(bf16_dir, tmp_path):
    """Int4WeightOnlyConfig checkpoints written by transformers + torchao (Int4Tensor, "plain"),
    their quantizer stood in for (mslk needs CUDA). mslk's float zero points load as W4A16 float
    zero points, each weight torchao's q * s + z rounded once to bf16 (the rule of
    docs/formats.md, computed independently by engine_fixtures.int4_float_zp_reference from the
    tensors torchao rebuilds); integer-multiple zero points load as integer ones, each weight
    equal to torchao's own CPU dequantization (_int4_row_dequantize_zp) of the file's tensors."""
    pytest.importorskip("torchao")
    from torchao.prototype.gptq.api import _int4_row_dequantize_zp

    from qgemm import torchao_compat

    d = fx.write_torchao_llama(bf16_dir, str(tmp_path / "mslk"), "int4wo-mslk")
    ours = qgemm.from_pretrained(d, device="cpu")
    ao_tensors = _torchao_tensors(d)
    layers = dict(quant_linears(ours))
    assert len(layers) == 14
    ref_model = _load_bf16(bf16_dir)
    for fqn, q in layers.items():
        t = ao_tensors[fqn + ".weight"]
        assert type(t).__name__ == "Int4Tensor" and q.spec.zero_point == "float", fqn
        codes = torchao_compat._signed_nibbles(t.qdata, q.spec.n, q.spec.k).to(torch.int8)
        ref = fx.int4_float_zp_reference(codes, t.scale, t.zero_point, 64, torch.bfloat16)
        assert torch.equal(q.dequantize_host(), ref), fqn
        assert torch.equal(q.dequantize(torch.bfloat16).float(), ref), fqn  # the torch op
        ref_model.get_submodule(fqn).weight.data.copy_(ref)
    ids = torch.tensor([[1, 5, 9, 3]])
    with torch.no_grad():
        a, b = ours(ids).logits.float(), ref_model(ids).logits.float()
    assert ((a - b).norm() / b.norm()).item() < 0.02
    # qgemm's own checkpoint of it keeps the float kind through transformers' loader
    from transformers import AutoModelForCausalLM

    qgemm.save_pretrained(ours, str(tmp_path / "mslk-qgemm"))
    back = AutoModelForCausalLM.from_pretrained(str(tmp_path / "mslk-qgemm"),
                                                dtype=torch.bfloat16).eval()
    theirs = dict(quant_linears(back))
    for fqn, q in layers.items():
        assert theirs[fqn].spec == q.spec and theirs[fqn].spec.zero_point == "float", fqn
        assert torch.equal(theirs[fqn].dequantize_host(), q.dequantize_host()), fqn
    with torch.no_grad():
        assert torch.equal(back(ids).logits, ours(ids).logits)
    d = fx.write_torchao_llama(bf16_dir, str(tmp_path / "pow2"), "int4wo-pow2")
    ours = qgemm.from_pretrained(d, device="cpu")
    ao_tensors = _torchao_tensors(d)
    layers = dict(quant_linears(ours))
    assert len(layers) == 14 and isinstance(ours.lm_head, torch.nn.Linear)
    ref_model = _load_bf16(bf16_dir)
    for fqn, q in layers.items():
        t = ao_tensors[fqn + ".weight"]
        assert type(t).__name__ == "Int4Tensor" and q.spec.scheme == "w4a16"
        assert q.spec.group_size == 64 and q.spec.zero_point is True
        codes = torchao_compat._signed_nibbles(t.qdata, q.spec.n, q.spec.k).to(torch.int8)
        ref = _int4_row_dequantize_zp(codes, t.scale.float(), t.zero_point.float(), 64)
        assert torch.equal(q.dequantize_host(), ref), fqn
        ref_model.get_submodule(fqn).weight.data.copy_(ref)
    ids = torch.tensor([[1, 5, 9, 3]])
    with torch.no_grad():
        a, b = ours(ids).logits.float(), ref_model(ids).logits.float()
    assert ((a - b).norm() / b.norm()).item() < 0.02


def test_torchao_block_over_plain_weights_is_refused(bf16_dir, tmp_path):
    import shutil

    d = str(tmp_path / "int4")
    shutil.copytree(bf16_dir, d)
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    cfg["quantization_config"] = {"quant_method": "torchao", "quant_type": {"default": {
        "_type": "Int4WeightOnlyConfig", "_version": 2, "_data": {"group_size": 128}}}}
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f)
    # A bf16 file under a torchao block has no torchao tensors: never loaded as if quantized.
    with pytest.raises(ValueError, match="holds them unquantized"):
        qgemm.from_pretrained(d, device="cpu")


def test_transformers_without_qgemm_refuses_loudly(bf16_dir, tmp_path):
    """Without qgemm's quantizer (transformers used without `import qgemm`), the empty
    "<module>.weight" placeholders make transformers raise on a size mismatch instead of
    leaving random weights."""
    from transformers import AutoModelForCausalLM
    from transformers.quantizers import auto

    model = _load_bf16(bf16_dir)
    qgemm.quantize_(model, qgemm.Int8WeightOnlyConfig())
    out = str(tmp_path / "q")
    qgemm.save_pretrained(model, out)
    saved = auto.AUTO_QUANTIZER_MAPPING.pop("qgemm"), \
        auto.AUTO_QUANTIZATION_CONFIG_MAPPING.pop("qgemm")
    try:
        with pytest.raises(RuntimeError, match="ignore_mismatched_sizes"):
            AutoModelForCausalLM.from_pretrained(out, dtype=torch.bfloat16)
    finally:
        auto.AUTO_QUANTIZER_MAPPING["qgemm"], auto.AUTO_QUANTIZATION_CONFIG_MAPPING["qgemm"] = \
            saved
    assert isinstance(qgemm.from_pretrained(out, device="cpu").model.layers[0].mlp.up_proj,
                      QuantLinear)


# QGEMM_TORCHAO_FIXTURES: another directory of them (e.g. fresh from the GPU, before commit).
FIXTURES = os.environ.get("QGEMM_TORCHAO_FIXTURES") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "fixtures", "torchao")


def _fixture_dirs():
    if not os.path.isdir(FIXTURES):
        return []
    return sorted(d for d in os.listdir(FIXTURES) if os.path.isdir(os.path.join(FIXTURES, d)))


@pytest.mark.parametrize("name", _fixture_dirs() or [pytest.param(
    "none", marks=pytest.mark.skip(reason="no GPU-made torchao fixtures committed (make them "
                                   "with tests/gpu/make_torchao_fixtures.py)"))])
def test_gpu_made_torchao_fixture(name):
    """Checkpoints torchao can only make on a GPU (fp8, fp8 x int4, int4): qgemm loads each
    with torchao's codes (compared with torchao's own dequantization of the file's tensors,
    rebuilt by torchao's unflatten_tensor_state_dict), or refuses it by name."""
    pytest.importorskip("torchao")
    from safetensors import safe_open
    from torchao.prototype.safetensors.safetensors_support import unflatten_tensor_state_dict

    d = os.path.join(FIXTURES, name)
    if os.path.exists(os.path.join(d, "tensors.safetensors")):
        return _check_tensor_fixture(d)
    model = qgemm.from_pretrained(d, device="cpu")
    with safe_open(os.path.join(d, "model.safetensors"), framework="pt") as f:
        ao_tensors, _ = unflatten_tensor_state_dict({k: f.get_tensor(k) for k in f.keys()},
                                                    f.metadata())
    layers = dict(quant_linears(model))
    assert len(layers) == 14
    for fqn, q in layers.items():
        t = ao_tensors[fqn + ".weight"]
        if type(t).__name__ == "Int4Tensor":  # no CPU dequantize in torchao: its definition
            b = t.qdata.to(torch.int16)
            v = torch.stack([b & 0xF, b >> 4], -1).view(q.spec.n, q.spec.k)
            v = torch.where(v >= 8, v - 16, v)
            g = t.block_size[-1]
            # q * s + z: exact for integer zero points; float ones (mslk's, the int4wo
            # fixture) hold it rounded once to the activation dtype (docs/formats.md)
            ref = fx.int4_float_zp_reference(v, t.scale, t.zero_point, g, torch.bfloat16)
            if q.spec.zero_point != "float":
                ref = v.float() * t.scale.float().t().repeat_interleave(g, 1) + \
                    t.zero_point.float().t().repeat_interleave(g, 1)
        else:
            ref = t.dequantize(torch.float32)
        assert torch.equal(q.dequantize_host(), ref), fqn


def _check_tensor_fixture(d):
    """A fixture of torchao tensors that transformers cannot save (make_torchao_fixtures.py):
    2:4 fp8 converts to sp24-fp8 equal to torchao's own CUDA dequantize (bf16); preshuffled
    f8i4 is refused, and the plain Int4Tensor it was shuffled from converts to w4a8-fp8."""
    from safetensors import safe_open

    from qgemm import host, torchao_compat

    with safe_open(os.path.join(d, "tensors.safetensors"), framework="pt") as f:
        meta = f.metadata()
        t = {k: f.get_tensor(k) for k in f.keys()}
    cfg = qgemm.config_from_dict(json.loads(meta["config"]))
    kind = meta["kind"]
    fqns = sorted({k.rsplit(".", 1)[0] for k in t if k.endswith(".qdata") and
                   "plain." not in k})
    assert len(fqns) == 14
    for fqn in fqns:
        data = {n: t[f"{fqn}.{n}"] for n in ("qdata", "sparse_metadata", "scale", "group_scale",
                                             "row_scale") if f"{fqn}.{n}" in t}
        if kind == "Int4PreshuffledTensor":
            with pytest.raises(torchao_compat.TorchaoFormatError, match="preshuffle"):
                torchao_compat.convert(cfg, kind, data, where=fqn)
            plain = {n: t[f"{fqn}.plain.{n}"] for n in ("qdata", "scale", "zero_point")}
            spec, packed = torchao_compat.convert(cfg, "Int4Tensor", plain, where=fqn)
            n, k = spec.n, spec.k
            v = torchao_compat._signed_nibbles(plain["qdata"], n, k).float()
            ref = v * plain["scale"].float().t().repeat_interleave(128, 1)
        else:
            spec, packed = torchao_compat.convert(cfg, kind, data, where=fqn)
            ref = t[f"{fqn}.dequantized"]
        got = torch.from_numpy(host.dequantize_weight(
            spec, {b: p.view(torch.uint8).numpy() for b, p in packed.items()}))
        assert torch.equal(got.to(ref.dtype), ref), fqn
