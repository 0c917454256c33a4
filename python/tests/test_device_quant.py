"""qgemm.device_quant (quantize + pack with torch ops, used for weights on the GPU) against the
C host packers, byte for byte, on the CPU: random weights, all-zero rows and groups, both
activation dtypes, per-row and per-tensor scales, shapes that need padding."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from qgemm import device_quant, host  # noqa: E402
from qgemm.spec import WeightSpec  # noqa: E402

SPECS = [
    dict(scheme="w8a8-int8"), dict(scheme="w8a8-int8", weight_scale="per_tensor"),
    dict(scheme="w8a8-fp8"), dict(scheme="w8a8-fp8", weight_scale="per_tensor"),
    dict(scheme="w8a16"), dict(scheme="w8a16", act_dtype="f16", out_dtype="f16"),
    dict(scheme="w4a16", group_size=128, zero_point=True),
    dict(scheme="w4a16", group_size=32, zero_point=False),
    dict(scheme="w4a16", group_size=64, zero_point=True, act_dtype="f16", out_dtype="f16"),
    dict(scheme="w4a16", group_size=0, zero_point=False),
]


def _weight(n, k, seed):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(n, k, generator=g) * torch.rand(n, 1, generator=g) * 0.1
    w[1] = 0                        # an all-zero row
    w[2, :32] = 0                   # an all-zero group
    w[3, 5] = 0.75                  # a row dominated by one value
    w[4] = torch.randn(k, generator=g).clamp(min=0)  # only non-negative values
    return w.to(torch.bfloat16)


@pytest.mark.parametrize("kw", SPECS, ids=lambda d: "-".join(str(v) for v in d.values()))
@pytest.mark.parametrize("n,k", [(96, 256), (70, 128)])
def test_matches_the_host_packer_byte_for_byte(kw, n, k):
    spec = WeightSpec(n=n, k=k, **kw)
    w = _weight(n, k, n * k)
    want = host.quantize_weight_bf16(spec, w.view(torch.int16).numpy().view(np.uint16))
    got = device_quant.quantize_weight(spec, w)
    assert set(got) == {b for b, a in want.items() if a.size}
    for b, t in got.items():
        np.testing.assert_array_equal(t.contiguous().view(torch.uint8).numpy(), want[b],
                                      err_msg=b)


def test_other_schemes_fall_back_and_bad_input_is_refused():
    assert device_quant.quantize_weight(WeightSpec("sp24-bf16", 64, 64),
                                        torch.zeros(64, 64)) is None
    with pytest.raises(ValueError, match="non-finite"):
        device_quant.quantize_weight(WeightSpec("w8a16", 64, 64),
                                     torch.full((64, 64), float("inf")))
    with pytest.raises(ValueError, match="too large"):
        device_quant.quantize_weight(WeightSpec("w8a16", 64, 64, act_dtype="f16",
                                                out_dtype="f16"), torch.full((64, 64), 1e9))
