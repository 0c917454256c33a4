"""torchao's quantized tensors converted to qgemm's packed layouts without re-quantizing:
the packers of qgemm.layouts against the C host packers byte for byte, and each torchao tensor
made by the real torchao against qgemm's host dequantization (the C unpacker)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import qgemm  # noqa: E402
from qgemm import host, layouts, torchao_compat  # noqa: E402
from qgemm.spec import WeightSpec  # noqa: E402

import engine_fixtures as fx  # noqa: E402


def _host_pack(spec, w):
    return {b: torch.from_numpy(a) for b, a in host.quantize_weight(spec, w).items() if a.size}


@pytest.mark.parametrize("n,k", [(64, 32), (100, 96), (200, 256), (7, 64)])
@pytest.mark.parametrize("act", ["bf16", "f16"])
def test_w8a16_layout_matches_the_host_packer(n, k, act):
    spec = WeightSpec("w8a16", n, k, act_dtype=act, out_dtype=act)
    ref = _host_pack(spec, host.random_weight(n, k, seed=n + k))
    codes, scale = layouts.unpack_w8a16(spec, ref)
    assert int(codes.abs().max()) == 127  # the host rule: the row absmax maps to 127
    again = layouts.pack_w8a16(spec, codes, scale)
    for b in ("weight", "scale"):
        assert torch.equal(again[b], ref[b]), b
    deq = host.dequantize_weight(spec, {b: t.numpy() for b, t in again.items()})
    np.testing.assert_array_equal(deq, (codes.float() * scale.float().view(-1, 1)).numpy())


def test_w8a8_and_w4a8_layouts_match_the_host_packers():
    w = host.random_weight(96, 256, seed=3)
    for scheme in ("w8a8-int8", "w8a8-fp8"):
        for per in ("per_row", "per_tensor"):
            spec = WeightSpec(scheme, 96, 256, weight_scale=per)
            ref = _host_pack(spec, w)
            dt = torch.int8 if scheme == "w8a8-int8" else torch.float8_e4m3fn
            codes = ref["weight"].view(dt).view(96, 256)
            got = layouts.pack_w8a8(spec, codes, ref["scale"].view(torch.float32))
            assert all(torch.equal(got[b], ref[b]) for b in ref)
    spec = WeightSpec("w4a8-fp8", 96, 256, group_size=128)
    ref = _host_pack(spec, w)
    got = layouts.pack_w4a8_fp8(spec, ref["weight"].view(96, 128),
                                ref["scale"].view(torch.float32).view(96, 2))
    assert all(torch.equal(got[b], ref[b]) for b in ref)


def test_layout_packers_refuse_wrong_inputs():
    spec = WeightSpec("w8a16", 64, 64)
    with pytest.raises(ValueError, match="int8"):
        layouts.pack_w8a16(spec, torch.zeros(64, 64), torch.ones(64))
    with pytest.raises(ValueError, match="scales"):
        layouts.pack_w8a8(WeightSpec("w8a8-int8", 4, 16), torch.zeros(4, 16, dtype=torch.int8),
                          torch.ones(3))


def test_sp24_layout_matches_the_host_packer():
    """qgemm.layouts.pack_sp24_8bit writes the host packer's bytes for the host's own codes
    (sp24-fp8 and sp24-int8, N not a multiple of 64, chunks quantized to fewer non-zeros)."""
    for scheme, dt in (("sp24-fp8", torch.float8_e4m3fn), ("sp24-int8", torch.int8)):
        for n, k in ((64, 64), (100, 192), (7, 128)):
            spec = WeightSpec(scheme, n, k)
            w = host.random_weight(n, k, seed=n + k)
            w[0, :8] = [0, 0, 0, 1e-3, 0, 0, 0, 0]  # one / no non-zero in a chunk
            w[1, 4:8] = [0, 1e-9, 0, 2e-9]         # kept values that quantize to 0
            ref = _host_pack(spec, w)
            codes, scale = layouts.unpack_sp24_8bit(spec, ref)
            got = layouts.pack_sp24_8bit(spec, codes.view(dt), scale)
            assert all(torch.equal(got[b], ref[b]) for b in ref), (scheme, n, k)
    with pytest.raises(ValueError, match="more than 2 non-zeros"):
        layouts.pack_sp24_8bit(WeightSpec("sp24-int8", 4, 64), torch.ones(4, 64, dtype=torch.int8),
                               torch.ones(4))


# ---------------------------------------------------------------- real torchao tensors

ao_wf = pytest.importorskip("torchao.quantization.quantize_.workflows")
from torchao.quantization import PerRow, PerTensor  # noqa: E402


def _deq_qgemm(spec, packed):
    return torch.from_numpy(host.dequantize_weight(
        spec, {b: t.contiguous().view(torch.uint8).numpy() for b, t in packed.items()}))


_data = torchao_compat.tensor_data


@pytest.mark.parametrize("n,k", [(128, 256), (96, 128)])
@pytest.mark.parametrize("gran", ["row", "tensor"])
def test_int8_dynamic_tensor_converts_bit_for_bit(n, k, gran):
    from torchao.quantization.quantize_.workflows.int8.int8_tensor import Int8Tensor

    torch.manual_seed(n + k)
    w = torch.randn(n, k, dtype=torch.bfloat16) * 0.05
    t = Int8Tensor.from_hp(w, granularity=PerRow() if gran == "row" else PerTensor())
    spec, packed = torchao_compat.convert(qgemm.Int8DynamicActivationInt8WeightConfig(),
                                          "Int8Tensor", _data(t))
    assert spec.scheme == "w8a8-int8"
    assert spec.weight_scale == ("per_row" if gran == "row" else "per_tensor")
    assert torch.equal(_deq_qgemm(spec, packed), t.dequantize(torch.float32))


@pytest.mark.parametrize("gran", ["row", "tensor"])
def test_float8_tensor_converts_bit_for_bit(gran):
    from torchao.quantization.quantize_.workflows.float8.float8_tensor import Float8Tensor

    torch.manual_seed(1)
    w = torch.randn(160, 256, dtype=torch.bfloat16) * 0.05
    t = Float8Tensor.from_hp(w, granularity=PerRow() if gran == "row" else PerTensor())
    cfg = qgemm.Float8DynamicActivationFloat8WeightConfig(
        granularity=qgemm.PerRow() if gran == "row" else qgemm.PerTensor())
    spec, packed = torchao_compat.convert(cfg, "Float8Tensor", _data(t))
    assert spec.scheme == "w8a8-fp8"
    assert torch.equal(_deq_qgemm(spec, packed), t.dequantize(torch.float32))


def _int4_symmetric(w, group):
    """torchao's Int4Tensor of the fp8-activation path, built with torchao's constructor: its
    quantizer (mslk) needs a GPU, so the codes come from the same symmetric rule here."""
    from torchao.quantization.quantize_.workflows.int4.int4_tensor import Int4Tensor

    n, k = w.shape
    wg = w.float().view(n, k // group, group)
    scale = (wg.abs().amax(-1) / 8).clamp(min=1e-6)
    q = torch.clamp(torch.round(wg / scale.unsqueeze(-1)), -8, 7).to(torch.int8).view(n, k)
    lo, hi = q[:, ::2] & 0xF, q[:, 1::2] & 0xF
    packed = ((hi << 4) | lo).to(torch.uint8)
    return Int4Tensor(packed, scale.t().contiguous().to(torch.bfloat16),
                      torch.zeros(k // group, n, dtype=torch.bfloat16), [1, group],
                      torch.Size([n, k]), activation_dtype=torch.float8_e4m3fn)


def test_int4_fp8_tensor_converts_bit_for_bit():
    torch.manual_seed(2)
    t = _int4_symmetric(torch.randn(64, 256, dtype=torch.bfloat16), 128)
    spec, packed = torchao_compat.convert(qgemm.Float8DynamicActivationInt4WeightConfig(),
                                          "Int4Tensor", _data(t))
    assert spec.scheme == "w4a8-fp8"
    # torchao's Int4Tensor has no CPU dequantize: its definition, w = v * s + z (z = 0 here),
    # with v the sign-extended nibbles of qdata (low nibble = even column).
    b = t.qdata.to(torch.int16)
    v = torch.stack([b & 0xF, b >> 4], -1).view(64, 256)
    v = torch.where(v >= 8, v - 16, v).float()
    s = t.scale.float().t().repeat_interleave(128, dim=1)
    assert torch.equal(_deq_qgemm(spec, packed), v * s + t.zero_point.float().t()
                       .repeat_interleave(128, dim=1))


def test_int8_weight_only_keeps_codes_and_rounds_only_the_scale():
    from torchao.quantization.quantize_.workflows.int8.int8_tensor import Int8Tensor

    torch.manual_seed(3)
    w = torch.randn(128, 128, dtype=torch.bfloat16)
    t = Int8Tensor.from_hp(w, granularity=PerRow())
    spec, packed = torchao_compat.convert(qgemm.Int8WeightOnlyConfig(), "Int8Tensor", _data(t))
    codes, s = layouts.unpack_w8a16(spec, packed)
    assert torch.equal(codes, t.qdata)
    assert torch.equal(s, t.scale.view(-1).to(torch.bfloat16))
    ref = t.dequantize(torch.float32)
    rel = ((_deq_qgemm(spec, packed) - ref).abs() / ref.abs().clamp(min=1e-30)).max()
    assert rel <= 2.0 ** -9


def _int4_weight_only_tensor(q, scale, zero, group):
    from torchao.quantization import Int4Tensor

    n, k = q.shape
    return Int4Tensor(fx._pack_int4(q), scale.to(torch.bfloat16), zero.to(torch.bfloat16),
                      [1, group], torch.Size([n, k]))


def _torchao_int4_dequantize(t):
    """torchao's own CPU dequantization of an Int4Tensor's codes: (q + 8) * s + (z - 8 s)."""
    from torchao.prototype.gptq.api import _int4_row_dequantize_zp

    n, k = t.shape
    q = torchao_compat._signed_nibbles(t.qdata, n, k).to(torch.int8)
    return _int4_row_dequantize_zp(q, t.scale.float(), t.zero_point.float(), t.block_size[-1])


@pytest.mark.parametrize("n,k,group", [(64, 256, 128), (100, 192, 64), (7, 64, 32)])
def test_int4_weight_only_integer_zero_points_convert_bit_for_bit(n, k, group):
    """Int4Tensor (Int4WeightOnlyConfig, "plain") whose zero points are integer multiples of
    the scale: qgemm's W4A16 dequantization equals torchao's, asymmetric and symmetric."""
    torch.manual_seed(n + k)
    q = torch.randint(-8, 8, (n, k), dtype=torch.int8)
    # 4-bit scale significands, so that the bf16 zero points (8 - zq) * s are exact
    scale = torch.randint(1, 16, (k // group, n)).float() * 2.0 ** -10
    zq = torch.randint(0, 16, (k // group, n)).float()
    for zero, asym in (((8 - zq) * scale, True), (torch.zeros_like(scale), False)):
        t = _int4_weight_only_tensor(q, scale, zero, group)
        spec, packed = torchao_compat.convert(qgemm.Int4WeightOnlyConfig(group_size=group),
                                              "Int4Tensor", _data(t))
        assert (spec.scheme, spec.group_size, spec.zero_point) == ("w4a16", group, asym)
        ref = _torchao_int4_dequantize(t)
        assert torch.equal(_deq_qgemm(spec, packed), ref)
        # the same through qgemm's W4A16 packing of a torch GEMM (the reference op)
        x = torch.randn(3, k, dtype=torch.bfloat16)
        y = qgemm.ops.linear(x, spec, packed, None).float()
        want = x.double() @ ref.double().t()
        assert ((y - want).abs() <= want.abs() * 2 ** -7 + 1e-6).all()


@pytest.mark.parametrize("n,k,group,act", [(64, 256, 128, torch.bfloat16),
                                             (100, 192, 64, torch.bfloat16),
                                             (72, 128, 32, torch.float16)])
def test_int4_weight_only_float_zero_points_convert_to_the_float_kind(n, k, group, act):
    """What torchao's default quantizer (mslk) writes: zero = min + 8 * scale, not a multiple of
    the scale. qgemm holds it as W4A16 float zero points: the dequantized weight is torchao's
    q * s + z rounded once to the activation dtype (docs/formats.md), computed here
    independently (engine_fixtures.int4_float_zp_reference); torchao's CPU twin, which rounds
    three times in bf16, is within one bf16 rounding of it; the reference GEMM and the torch op
    use the same weight."""
    torch.manual_seed(n + k + group)
    w = torch.randn(n, k, dtype=torch.bfloat16) * 0.05
    q, scale, zero = fx._mslk_int4_row_quantize_zp(w, group)
    t = _int4_weight_only_tensor(q, scale, zero, group)
    spec, packed = torchao_compat.convert(qgemm.Int4WeightOnlyConfig(group_size=group),
                                          "Int4Tensor", _data(t), act_dtype=act)
    assert (spec.scheme, spec.group_size, spec.zero_point) == ("w4a16", group, "float")
    assert spec.float_zero_point and spec.problem().has_zero_point == 2
    ref = fx.int4_float_zp_reference(q, t.scale, t.zero_point, group, act)
    deq = _deq_qgemm(spec, packed)
    assert torch.equal(deq, ref)
    # not the integer reading of the same buffers, nor the f32 value unrounded
    exact = q.double() * t.scale.double().t().repeat_interleave(group, 1) + \
        t.zero_point.double().t().repeat_interleave(group, 1)
    assert not torch.equal(deq.double(), exact)
    assert ((deq.double() - exact).abs() <= exact.abs() * 2.0 ** -8 + 1e-30).all()
    twin = _torchao_int4_dequantize(t)  # (q + 8) * s + (z - 8 s), rounded in between
    assert ((twin.double() - exact).abs() <= exact.abs() * 2.0 ** -6 + 2.0 ** -20).all()
    # the torch op (host reference on the CPU) on the same packed weight
    x = torch.randn(3, k, dtype=act)
    y = qgemm.ops.linear(x, spec, packed, None).double()
    want = x.double() @ ref.double().t()
    assert ((y - want).abs() <= want.abs() * 2 ** -7 + 1e-6).all()
    deq_op = torch.ops.qgemm.dequantize_weight(
        *[packed.get(b) for b in ("weight", "scale", "zero", "meta")], "w4a16", n, k, group,
        True, False, act, True)
    assert torch.equal(deq_op.float(), ref.to(act).float())


def test_int4_weight_only_mixed_layer_uses_float_kind_and_refuses_non_finite():
    """One group off the integer grid is enough for the float kind (integer ones stay exact in
    it); a zero point or scale that is not finite, or not exact in the activation dtype, is
    refused by name."""
    torch.manual_seed(5)
    q = torch.randint(-8, 8, (64, 256), dtype=torch.int8)
    scale = torch.randint(1, 16, (2, 64)).float() * 2.0 ** -10
    zq = torch.full((2, 64), 4.0)  # (8 - 4) * s is exact in bf16
    good = (8 - zq) * scale
    t = _int4_weight_only_tensor(q, scale, good, 128)
    spec, _ = torchao_compat.convert(qgemm.Int4WeightOnlyConfig(), "Int4Tensor", _data(t))
    assert spec.zero_point is True
    good[1, 9] += scale[1, 9] * 0.5
    t = _int4_weight_only_tensor(q, scale, good, 128)
    spec, packed = torchao_compat.convert(qgemm.Int4WeightOnlyConfig(), "Int4Tensor", _data(t))
    assert spec.zero_point == "float"
    assert torch.equal(_deq_qgemm(spec, packed),
                       fx.int4_float_zp_reference(q, t.scale, t.zero_point, 128, torch.bfloat16))
    bad = good.clone()
    bad[0, 3] = float("nan")
    t = _int4_weight_only_tensor(q, scale, bad, 128)
    with pytest.raises(torchao_compat.TorchaoFormatError,
                       match=r"layers.3.q_proj: torchao Int4Tensor: 1 of 128 groups .*not "
                             r"finite; first: row 3, group 0"):
        torchao_compat.convert(qgemm.Int4WeightOnlyConfig(), "Int4Tensor", _data(t),
                               where="layers.3.q_proj")
    # bf16 zero points below f16's range are not exact f16 values
    tiny = good.clone()
    tiny[1, 2] = 1.0e-7
    t = _int4_weight_only_tensor(q, scale, tiny, 128)
    with pytest.raises(torchao_compat.TorchaoFormatError, match="zero points .* not exact in"):
        torchao_compat.convert(qgemm.Int4WeightOnlyConfig(), "Int4Tensor", _data(t),
                               act_dtype=torch.float16)


def test_int4_weight_only_shape_and_dtype_refusals():
    t = _int4_weight_only_tensor(torch.zeros(8, 256, dtype=torch.int8), torch.ones(1, 8),
                                 torch.zeros(1, 8), 256)
    with pytest.raises(torchao_compat.TorchaoFormatError, match="group size 256"):
        torchao_compat.convert(qgemm.Int4WeightOnlyConfig(), "Int4Tensor", _data(t))
    t = _int4_weight_only_tensor(torch.zeros(8, 256, dtype=torch.int8), torch.ones(4, 8),
                                 torch.zeros(4, 8), 64)
    with pytest.raises(torchao_compat.TorchaoFormatError, match="the config says 128"):
        torchao_compat.convert(qgemm.Int4WeightOnlyConfig(), "Int4Tensor", _data(t))
    # bf16 scales below f16's normal range are not exact f16 values
    t = _int4_weight_only_tensor(torch.zeros(8, 128, dtype=torch.int8),
                                 torch.full((1, 8), 1.0e-7), torch.zeros(1, 8), 128)
    with pytest.raises(torchao_compat.TorchaoFormatError, match="not exact in the activation"):
        torchao_compat.convert(qgemm.Int4WeightOnlyConfig(), "Int4Tensor", _data(t),
                               act_dtype=torch.float16)


@pytest.mark.parametrize("kind", sorted(torchao_compat._REFUSED))
def test_unconvertible_torchao_types_are_refused_with_the_reason(kind):
    with pytest.raises(torchao_compat.TorchaoFormatError,
                       match=rf"w: torchao {kind} cannot be converted exactly: .*"):
        torchao_compat.convert(qgemm.Int4WeightOnlyConfig(), kind, {"qdata": torch.zeros(1)},
                               where="w")


def test_unknown_types_and_static_activations_are_refused():
    with pytest.raises(torchao_compat.TorchaoFormatError, match="not a tensor type"):
        torchao_compat.convert(qgemm.Int8WeightOnlyConfig(), "NF4Tensor",
                               {"qdata": torch.zeros(1)})
    with pytest.raises(torchao_compat.TorchaoFormatError, match="act_quant_scale"):
        torchao_compat.convert(qgemm.Int8DynamicActivationInt8WeightConfig(), "Int8Tensor",
                               {"qdata": torch.zeros(4, 16, dtype=torch.int8),
                                "scale": torch.ones(4, 1), "act_quant_scale": torch.ones(1)})


def _random_2_4_e4m3(n, k, seed):
    """2:4 e4m3 codes with the awkward chunks too: one non-zero (at 3 and elsewhere), none,
    and -0 values."""
    g = torch.Generator().manual_seed(seed)
    w = fx.prune_2_4(torch.randn(n, k, generator=g))
    w[0, 0:4] = torch.tensor([0.0, 0.0, 0.0, 1.5])
    w[0, 4:8] = torch.tensor([0.0, -2.0, 0.0, 0.0])
    w[1 % n, 8:12] = 0.0
    w[1 % n, 12:16] = torch.tensor([-0.0, 0.0, 3.0, -0.0])
    return w.to(torch.float8_e4m3fn)


@pytest.mark.parametrize("n,k", [(64, 128), (100, 192), (7, 64), (130, 384)])
def test_sp24_fp8_cutlass_tensor_converts_bit_for_bit(n, k):
    """torchao's Float8Sparse2x4_2DData2DMetadataTensor (CUTLASS sm90 values + metadata) ->
    qgemm sp24-fp8 with the same codes and row scales: dequantized q * s equal."""
    from torchao.quantization.quantize_.workflows.float8.float8_sparse_2x4_2d_data_2d_metadata_tensor \
        import Float8Sparse2x4_2DData2DMetadataTensor as Sp24

    codes = _random_2_4_e4m3(n, k, n + k)
    scale = torch.rand(n, 1) * 0.01 + 1e-4
    qdata, meta = fx.cutlass_sm90_sp24_compress(codes)
    t = Sp24(qdata, meta, scale, block_size=[1, k], dtype=torch.bfloat16)
    spec, packed = torchao_compat.convert(qgemm.Float8DynamicActivationFloat8SemiSparseWeightConfig(),
                                          "Float8Sparse2x4_2DData2DMetadataTensor", _data(t))
    assert spec.scheme == "sp24-fp8" and (spec.n, spec.k) == (n, k)
    assert torch.equal(_deq_qgemm(spec, packed), codes.float() * scale)


def test_sp24_cutlass_metadata_refusals():
    codes = _random_2_4_e4m3(64, 128, 3)
    qdata, meta = fx.cutlass_sm90_sp24_compress(codes)
    with pytest.raises(torchao_compat.TorchaoFormatError, match="metadata has 512 bytes"):
        torchao_compat.cutlass_sm90_sp24_8bit_to_dense(qdata, meta[:32])
    bad = meta.clone()
    bad[2, 0] = 0x0B  # positions (3, 2): not increasing
    with pytest.raises(torchao_compat.TorchaoFormatError, match="row 2, columns 0..3"):
        torchao_compat.cutlass_sm90_sp24_8bit_to_dense(qdata, bad)
    with pytest.raises(torchao_compat.TorchaoFormatError, match="multiple of 64"):
        q2, m2 = fx.cutlass_sm90_sp24_compress(codes[:, :96])
        torchao_compat.convert(qgemm.Float8DynamicActivationFloat8SemiSparseWeightConfig(),
                               "Float8Sparse2x4_2DData2DMetadataTensor",
                               {"qdata": q2, "sparse_metadata": m2, "scale": torch.ones(64, 1)})


def _patch_torchao_sp24_for_cpu(monkeypatch):
    """torchao quantizes 2:4 fp8 only on an sm90 GPU (CUTLASS compressor): stand in for the
    compressor with the test's copy and for the hardware checks, inside the real torchao.
    Returns the list of dense e4m3 codes torchao handed to the compressor, in call order."""
    import importlib

    qa = importlib.import_module("torchao.quantization.quant_api")
    sp = importlib.import_module("torchao.quantization.quantize_.workflows.float8."
                                 "float8_sparse_2x4_2d_data_2d_metadata_tensor")
    seen = []

    def compress(codes):
        seen.append(codes.clone())
        return fx.cutlass_sm90_sp24_compress(codes)

    monkeypatch.setattr(qa, "_check_hardware_support", lambda g: None)
    monkeypatch.setattr(sp, "is_sm_at_least_90", lambda: True)
    monkeypatch.setattr(sp, "to_sparse_semi_structured_cutlass_sm9x_f8", compress)
    return seen


@pytest.mark.parametrize("kind", ["int8dq", "sp24-fp8"])
def test_from_torchao_model_converts_torchaos_quantize_(monkeypatch, kind):
    """A model quantized in memory by torchao's own quantize_ (2:4 fp8 cannot be saved by
    transformers with torchao 0.18) becomes qgemm QuantLinears with torchao's codes."""
    import torchao.quantization as ao
    from torchao.quantization.quantize_.workflows.float8.float8_packing_format import \
        Float8PackingFormat

    torch.manual_seed(4)
    model = torch.nn.Sequential(torch.nn.Linear(128, 128), torch.nn.ReLU(),
                                torch.nn.Linear(128, 64, bias=False)).to(torch.bfloat16)
    seen = None
    if kind == "sp24-fp8":
        seen = _patch_torchao_sp24_for_cpu(monkeypatch)
        for i in (0, 2):
            model[i].weight.data = fx.prune_2_4(model[i].weight.data)
        cfg = ao.Float8DynamicActivationFloat8WeightConfig(
            granularity=ao.PerRow(), packing_format=Float8PackingFormat.SPARSE_2D_DATA_2D_METADATA)
    else:
        cfg = ao.Int8DynamicActivationInt8WeightConfig()
    ao.quantize_(model, cfg)
    refs = {i: model[i].weight for i in (0, 2)}
    x = torch.randn(3, 128, dtype=torch.bfloat16)
    torchao_compat.from_torchao_model(model, cfg)
    for n, (i, t) in enumerate(refs.items()):
        q = model[i]
        assert isinstance(q, qgemm.QuantLinear)
        if seen is not None:  # torchao's dequantize needs its CUDA kernel: its definition
            assert q.spec.scheme == "sp24-fp8"
            ref = seen[n].float() * t.scale.float()
        else:
            assert q.spec.scheme == "w8a8-int8"
            ref = t.dequantize(torch.float32)
        assert torch.equal(q.dequantize_host(), ref), i
    assert model(x).shape == (3, 64)


def test_from_torchao_model_refuses_by_name_and_replaces_nothing():
    torch.manual_seed(6)
    model = torch.nn.Sequential(torch.nn.Linear(128, 64), torch.nn.Linear(64, 128))
    for i, lin in enumerate(model):
        q, scale, zero = fx._mslk_int4_row_quantize_zp(lin.weight.data, 64)
        if i == 1:  # not a value qgemm holds
            zero[0, 5] = float("inf")
        lin.weight = torch.nn.Parameter(_int4_weight_only_tensor(q, scale, zero, 64),
                                        requires_grad=False)
    with pytest.raises(torchao_compat.TorchaoFormatError, match=r"^1: torchao Int4Tensor"):
        torchao_compat.from_torchao_model(model, qgemm.Int4WeightOnlyConfig(group_size=64))
    assert all(type(m) is torch.nn.Linear for m in model)
