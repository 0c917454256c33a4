"""What a quantized weight is: its scheme and quantization parameters (a qg_problem without M),
as a small immutable value that serializes to JSON. Pure Python: no numpy, no torch."""

import dataclasses
from dataclasses import dataclass

from . import _lib

# Mirrors the scheme traits of src/catalog/schemes/ (schemes.h, scheme_*.c): activation handling
# and which quantization fields a scheme uses.
SCHEME_INFO = {
    #  name         weight_bits dynamic act_qdtype grouped sparse24
    "w4a16":     dict(weight_bits=4, dynamic=False, act_qdtype=None, grouped=True, sparse24=False),
    "w8a16":     dict(weight_bits=8, dynamic=False, act_qdtype=None, grouped=False, sparse24=False),
    "w8a8-int8": dict(weight_bits=8, dynamic=True, act_qdtype="int8", grouped=False, sparse24=False),
    "w8a8-fp8":  dict(weight_bits=8, dynamic=True, act_qdtype="fp8_e4m3", grouped=False,
                      sparse24=False),
    "w4a8-fp8":  dict(weight_bits=4, dynamic=True, act_qdtype="fp8_e4m3", grouped=True,
                      sparse24=False),
    "w4a8-int8": dict(weight_bits=4, dynamic=True, act_qdtype="int8", grouped=True, sparse24=False),
    "sp24-fp8":  dict(weight_bits=8, dynamic=True, act_qdtype="fp8_e4m3", grouped=False,
                      sparse24=True),
    "sp24-int8": dict(weight_bits=8, dynamic=True, act_qdtype="int8", grouped=False, sparse24=True),
    "sp24-bf16": dict(weight_bits=16, dynamic=False, act_qdtype=None, grouped=False, sparse24=True),
}

GRANULARITIES = ("per_row", "per_tensor")
HALF_DTYPES = ("bf16", "f16")
BUFFERS = ("weight", "scale", "zero", "meta")  # the four packed buffers, in qg_packed_weight order


def is_dynamic(scheme):
    return SCHEME_INFO[scheme]["dynamic"]


@dataclass(frozen=True)
class WeightSpec:
    """A packed weight's description: scheme, the weight's [N, K] shape and the quantization
    fields of qg_problem. `group_size` is 0 for per-channel int4 and for schemes without groups.
    `zero_point` is False (none), True (integer zero points) or "float" (w4a16 float zero
    points as torchao 0.18's Int4WeightOnlyConfig stores them: docs/formats.md).
    `act_dtype` is the 16-bit activation type the layer receives (bf16/f16), `out_dtype` the
    output type; `weight_scale` / `act_scale` are 'per_row' or 'per_tensor'."""

    scheme: str
    n: int
    k: int
    group_size: int = 0
    zero_point: object = False  # False, True or "float"
    act_dtype: str = "bf16"
    out_dtype: str = "bf16"
    weight_scale: str = "per_row"
    act_scale: str = "per_row"

    def __post_init__(self):
        if self.scheme not in SCHEME_INFO:
            raise ValueError(f"unknown scheme {self.scheme!r}; one of {', '.join(SCHEME_INFO)}")
        for f in ("n", "k", "group_size"):
            v = getattr(self, f)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"WeightSpec.{f} must be a non-negative int, got {v!r}")
        if self.n == 0 or self.k == 0:
            raise ValueError(f"WeightSpec needs N, K > 0 (got N={self.n}, K={self.k})")
        if not SCHEME_INFO[self.scheme]["grouped"] and self.group_size:
            # Schemes without groups keep 0 so the tuning database keys agree.
            object.__setattr__(self, "group_size", 0)
        for f in ("act_dtype", "out_dtype"):
            if getattr(self, f) not in HALF_DTYPES:
                raise ValueError(f"WeightSpec.{f} must be bf16 or f16, got {getattr(self, f)!r}")
        for f in ("weight_scale", "act_scale"):
            if getattr(self, f) not in GRANULARITIES:
                raise ValueError(f"WeightSpec.{f} must be per_row or per_tensor, got "
                                 f"{getattr(self, f)!r}")
        if self.zero_point == "float":
            if self.scheme != "w4a16":
                raise ValueError(f"WeightSpec: float zero points are w4a16 only, not {self.scheme}")
        elif isinstance(self.zero_point, str):
            raise ValueError(f"WeightSpec.zero_point must be False, True or 'float', got "
                             f"{self.zero_point!r}")
        else:
            object.__setattr__(self, "zero_point", bool(self.zero_point))

    @property
    def float_zero_point(self):
        """True for w4a16 float zero points (qg_problem.has_zero_point 2)."""
        return self.zero_point == "float"

    @property
    def dynamic(self):
        return SCHEME_INFO[self.scheme]["dynamic"]

    @property
    def act_qdtype(self):
        return SCHEME_INFO[self.scheme]["act_qdtype"]

    def with_(self, **kw):
        return dataclasses.replace(self, **kw)

    def problem(self, m=1, bias=False):
        """The qg_problem (ctypes struct) of a GEMM with this weight and M rows."""
        return _lib.make_problem(
            self.scheme, m, self.n, self.k, group_size=self.group_size,
            zero_point=self.zero_point, act_dtype=self.act_dtype, out_dtype=self.out_dtype,
            weight_scale=_lib.PER_TENSOR if self.weight_scale == "per_tensor" else _lib.PER_ROW,
            act_scale=_lib.PER_TENSOR if self.act_scale == "per_tensor" else _lib.PER_ROW,
            bias=bias)

    def sizes(self):
        """Bytes of each packed buffer (qg_packed_sizes_get); raises QGemmError if the library
        rejects the spec (bad K for the scheme, scheme without a host implementation, ...)."""
        return _lib.packed_sizes(self.problem())

    def key(self):
        return (self.scheme, self.n, self.k, self.group_size, self.zero_point, self.act_dtype,
                self.out_dtype, self.weight_scale, self.act_scale)

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d):
        if not isinstance(d, dict):
            raise ValueError(f"weight spec must be a JSON object, got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"weight spec has unknown fields {sorted(unknown)}")
        missing = {"scheme", "n", "k"} - set(d)
        if missing:
            raise ValueError(f"weight spec lacks {sorted(missing)}")
        return cls(**d)
