"""torch custom ops and the model API on the CPU (the ops run the C library's host reference
there). Skipped where torch is not installed (CI); tests/gpu/python_gpu_test.py covers CUDA."""
import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import qgemm  # noqa: E402
from qgemm import host, ops  # noqa: E402
from qgemm.nn import QuantLinear  # noqa: E402
from qgemm.spec import WeightSpec  # noqa: E402

CFGS = [
    qgemm.Float8DynamicActivationFloat8WeightConfig(granularity=qgemm.PerRow()),
    qgemm.Float8DynamicActivationFloat8WeightConfig(),
    qgemm.Int8DynamicActivationInt8WeightConfig(),
    qgemm.Int8DynamicActivationInt4WeightConfig(group_size=64),
    qgemm.Float8DynamicActivationInt4WeightConfig(),
    qgemm.SemiSparseWeightConfig(),
    qgemm.Float8DynamicActivationFloat8SemiSparseWeightConfig(),
    qgemm.Int8DynamicActivationInt8SemiSparseWeightConfig(),
    qgemm.Int4WeightOnlyConfig(group_size=128),
    qgemm.Int8WeightOnlyConfig(),
]


def supported(spec):
    try:
        spec.sizes()
    except qgemm.UnsupportedError as e:
        pytest.skip(str(e))


def bits(t):
    return t.contiguous().view(torch.int16).numpy().view(np.uint16)


@pytest.mark.parametrize("cfg", CFGS, ids=lambda c: type(c).__name__)
def test_quant_linear_equals_host_reference(lib, cfg):
    torch.manual_seed(0)
    lin = torch.nn.Linear(256, 72).to(torch.bfloat16)
    supported(cfg.weight_spec(72, 256))
    q = QuantLinear.from_linear(lin, cfg)
    x = torch.randn(2, 3, 256, dtype=torch.bfloat16)
    y = q(x)
    assert y.shape == (2, 3, 72) and y.dtype == torch.bfloat16
    spec = q.spec
    a = bits(x.reshape(6, 256))
    packed = q.packed_numpy()
    if spec.dynamic:
        qa, sa = host.quantize_activations(spec, a)
        ref = host.reference_gemm(spec, qa, packed, a_scale=sa, bias=bits(q.bias))
    else:
        ref = host.reference_gemm(spec, a, packed, bias=bits(q.bias))
    assert torch.equal(y.reshape(6, 72), torch.from_numpy(ref).to(torch.bfloat16))
    # and it approximates the float layer
    err = (y.float() - lin(x).float()).norm() / lin(x).float().norm()
    assert err < (0.7 if spec.scheme.startswith("sp24") else 0.1)


def test_opcheck_all_ops(lib):
    torch.manual_seed(0)
    x = torch.randn(4, 256, dtype=torch.bfloat16)
    w = torch.randn(96, 256, dtype=torch.bfloat16)
    for qd in (torch.float8_e4m3fn, torch.int8):
        for pt in (False, True):
            torch.library.opcheck(torch.ops.qgemm.quantize_activations.default, (x, qd, pt))
    for scheme, g in (("w8a8-fp8", 0), ("w8a8-int8", 0), ("w4a8-int8", 128), ("sp24-bf16", 0),
                      ("sp24-int8", 0)):
        torch.library.opcheck(torch.ops.qgemm.pack_weight.default, (w, scheme, g, False, False))
        bufs = [b if b.numel() else None for b in
                torch.ops.qgemm.pack_weight(w, scheme, g, False, False)]
        torch.library.opcheck(torch.ops.qgemm.dequantize_weight.default,
                              (*bufs, scheme, 96, 256, g, False, False, torch.bfloat16))
        spec = WeightSpec(scheme, 96, 256, group_size=g)
        tests = ("test_schema", "test_autograd_registration", "test_faketensor",
                 "test_aot_dispatch_dynamic")
        if spec.dynamic:
            qd = torch.float8_e4m3fn if spec.act_qdtype == "fp8_e4m3" else torch.int8
            a, s = torch.ops.qgemm.quantize_activations(x, qd, False)
            if qd == torch.float8_e4m3fn:
                tests = tests[1:]  # opcheck's schema test runs allclose, which fp8 lacks
        else:
            a, s = x, None
        op = getattr(torch.ops.qgemm, ops.op_name(scheme)).default
        torch.library.opcheck(op, (a, s, *bufs, torch.randn(96, dtype=torch.bfloat16), 96, g,
                                   False, False, torch.bfloat16), test_utils=tests)


def test_fake_implementations_match_shapes(lib):
    from torch._subclasses.fake_tensor import FakeTensorMode

    w = torch.randn(96, 256, dtype=torch.bfloat16)
    real = torch.ops.qgemm.pack_weight(w, "w4a8-int8", 32, False, False)
    with FakeTensorMode():
        fw = torch.empty(96, 256, dtype=torch.bfloat16)
        fake = torch.ops.qgemm.pack_weight(fw, "w4a8-int8", 32, False, False)
        assert [t.shape for t in fake] == [t.shape for t in real]
        a = torch.empty(7, 256, dtype=torch.int8)
        out = torch.ops.qgemm.gemm_w4a8_int8(a, torch.empty(7), fake[0], fake[1], None, None,
                                             None, 96, 32, False, False, torch.float16)
        assert out.shape == (7, 96) and out.dtype == torch.float16
        with pytest.raises(ValueError, match="bytes"):  # packed sizes are checked while tracing
            torch.ops.qgemm.gemm_w4a8_int8(a, torch.empty(7), fake[0][:-1], fake[1], None, None,
                                           None, 96, 32, False, False, torch.float16)


def test_op_input_errors(lib):
    w = torch.randn(32, 64, dtype=torch.bfloat16)
    bufs = torch.ops.qgemm.pack_weight(w, "w8a8-int8", 0, False, False)
    x = torch.randn(2, 64, dtype=torch.bfloat16)
    with pytest.raises(ValueError, match="must be torch.int8"):
        torch.ops.qgemm.gemm_w8a8_int8(x, torch.ones(2), bufs[0], bufs[1], None, None, None, 32,
                                       0, False, False, torch.bfloat16)
    q = torch.zeros(2, 64, dtype=torch.int8)
    with pytest.raises(ValueError, match="a_scale has 1 values, expected 2"):
        torch.ops.qgemm.gemm_w8a8_int8(q, torch.ones(1), bufs[0], bufs[1], None, None, None, 32,
                                       0, False, False, torch.bfloat16)
    with pytest.raises(ValueError, match="qdtype"):
        torch.ops.qgemm.quantize_activations(x, torch.float16, False)
    with pytest.raises(qgemm.InvalidArgumentError, match="multiple of 16"):
        torch.ops.qgemm.pack_weight(torch.randn(8, 40), "w8a8-fp8", 0, False, False)


def small_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(256, 384), torch.nn.SiLU(),
                               torch.nn.Linear(384, 128, bias=False),
                               torch.nn.Linear(128, 40)).to(torch.bfloat16)


def test_quantize_with_mapping_and_incompatible_layers(lib):
    m = small_model()
    cfg = qgemm.ModuleFqnToConfig({"_default": qgemm.Int8DynamicActivationInt8WeightConfig(),
                                   "2": qgemm.Int8DynamicActivationInt4WeightConfig(group_size=32),
                                   "3": None})
    qgemm.quantize_(m, cfg)
    assert m[0].spec.scheme == "w8a8-int8" and m[2].spec.scheme == "w4a8-int8"
    assert type(m[3]) is torch.nn.Linear  # None: left alone
    m3 = torch.nn.Sequential(torch.nn.Linear(100, 64)).to(torch.bfloat16)  # K=100: no 8-bit fit
    with pytest.warns(UserWarning, match="left unquantized.*multiple of 16"):
        qgemm.quantize_(m3, qgemm.Int8DynamicActivationInt8WeightConfig())
    assert type(m3[0]) is torch.nn.Linear and m3._qgemm_skipped[0][0] == "0"
    with pytest.raises(qgemm.InvalidArgumentError):
        qgemm.quantize_(torch.nn.Sequential(torch.nn.Linear(100, 64)).to(torch.bfloat16),
                        qgemm.Int8DynamicActivationInt8WeightConfig(), skip_incompatible=False)
    with pytest.raises(TypeError, match="qgemm config"):
        qgemm.quantize_(small_model(), "int8")


def test_filter_fn_and_dequantized_copy(lib):
    m = qgemm.quantize_(small_model(), qgemm.Int8DynamicActivationInt8WeightConfig(),
                        filter_fn=lambda mod, fqn: fqn != "3")
    assert type(m[3]) is torch.nn.Linear and isinstance(m[0], QuantLinear)
    w0 = m[0].dequantize_host()
    assert torch.equal(m[0].dequantize(torch.bfloat16), w0.to(torch.bfloat16))
    d = qgemm.dequantized_copy_(copy.deepcopy(m))
    assert type(d[0]) is torch.nn.Linear and torch.equal(d[0].weight, w0.to(torch.bfloat16))


def test_torch_compile_fullgraph_dynamic(lib):
    m = qgemm.quantize_(small_model(), qgemm.ModuleFqnToConfig({
        "_default": qgemm.Float8DynamicActivationFloat8WeightConfig(granularity=qgemm.PerRow()),
        "2": qgemm.SemiSparseWeightConfig()}))
    torch._dynamo.reset()
    cm = torch.compile(m, fullgraph=True, backend="aot_eager", dynamic=True)
    for shape in ((3, 256), (2, 5, 256), (1, 256)):
        x = torch.randn(*shape, dtype=torch.bfloat16)
        assert torch.equal(cm(x), m(x))


def test_prepare_is_a_noop_on_cpu(lib):
    m = qgemm.quantize_(small_model(), qgemm.Int8DynamicActivationInt8WeightConfig())
    assert qgemm.prepare(m, [1, 16]) == 3


def test_float_zero_point_spec_and_ops(lib):
    """W4A16 float zero points in Python: the spec's kind reaches qg_problem (2), the GEMM and
    dequantize ops take it through float_zero_point (the zero buffer read as float values, not
    integers), and what cannot hold it refuses by name."""
    spec = WeightSpec("w4a16", 64, 128, group_size=32, zero_point="float")
    assert spec.float_zero_point and spec.problem().has_zero_point == 2
    assert spec.sizes() == spec.with_(zero_point=True).sizes()
    assert WeightSpec.from_dict(spec.to_dict()) == spec and spec.key() != spec.with_(
        zero_point=True).key()
    with pytest.raises(ValueError, match="w4a16 only"):
        WeightSpec("w8a16", 64, 128, zero_point="float")
    with pytest.raises(ValueError, match="False, True or 'float'"):
        WeightSpec("w4a16", 64, 128, group_size=32, zero_point="int")
    # integer-zero-point buffers: codes u in [0, 15], zero points 3 (exact either way)
    ispec = spec.with_(zero_point=True)
    packed = {b: torch.from_numpy(a) for b, a in host.quantize_weight(
        ispec, host.random_weight(64, 128, seed=3)).items() if a.size}
    x = torch.randn(2, 128, dtype=torch.bfloat16)
    y_int = ops.gemm(ispec, x, packed)
    y_flt = ops.gemm(spec, x, packed)
    w_int = torch.ops.qgemm.dequantize_weight(packed["weight"], packed["scale"], packed["zero"],
                                              None, "w4a16", 64, 128, 32, True, False,
                                              torch.bfloat16)
    w_flt = torch.ops.qgemm.dequantize_weight(packed["weight"], packed["scale"], packed["zero"],
                                              None, "w4a16", 64, 128, 32, True, False,
                                              torch.bfloat16, True)
    # the float reading of zero point z is (u - 8) s + z rounded to bf16, the integer one
    # (u - z) s exact (the op then rounds it to bf16)
    wi = torch.from_numpy(host.dequantize_weight(ispec, {b: t.numpy() for b, t in packed.items()}))
    wf = torch.from_numpy(host.dequantize_weight(spec, {b: t.numpy() for b, t in packed.items()}))
    assert torch.equal(w_int, wi.to(torch.bfloat16)) and torch.equal(w_flt.float(), wf)
    assert torch.equal(wf.to(torch.bfloat16).float(), wf)  # already a bf16 value
    assert not torch.equal(wi, wf) and not torch.equal(y_int, y_flt)
    want = (x.double() @ wf.double().t())
    assert ((y_flt.double() - want).abs() <= want.abs() * 2 ** -7 + 1e-6).all()
    with pytest.raises(ValueError, match="float_zero_point is set but the zero buffer is empty"):
        ops.GEMM_OPS["w4a16"](x, None, packed["weight"], packed["scale"], None, None, None, 64,
                              32, False, False, torch.bfloat16, True)
    with pytest.raises(ValueError, match="float zero points come from torchao"):
        QuantLinear.from_linear(torch.nn.Linear(128, 64), spec)
