"""Quantization configs in the style of torchao (quantize_(model, Int4WeightOnlyConfig(...))),
and their JSON form, which is torchao 0.18's: {"_type": "Int4WeightOnlyConfig", "_version": 2,
"_data": {"group_size": 128}}, with torchao's field names and each config's torchao version, so
torchao's config_from_dict reads what qgemm writes and the reverse. A Hugging Face config.json
carries it as "quantization_config": {"quant_method": "qgemm", "quant_type": {"default": ...}}.

Reading torchao's JSON: a field that only picks torchao's kernels or packing is accepted and
ignored; a field that would change the numbers (activation mapping, HQQ, value bounds, ...) is
accepted only at the value qgemm computes, otherwise ConfigError names the field and value.

Pure Python (no torch): CI tests parsing without torch. Each config maps a Linear of shape
[N, K] to a WeightSpec (scheme + quantization fields of the C library)."""

import dataclasses
import re
from dataclasses import dataclass, field

from .spec import WeightSpec

CONFIG_VERSION = 1
FORMAT_VERSION = 1  # of the saved files (serialization.py); bumped with QG_FORMAT_VERSION


class ConfigError(ValueError):
    """A config (object or JSON) that qgemm cannot use, with the reason."""


# ---------------------------------------------------------------- granularity


@dataclass(frozen=True)
class PerRow:
    """One scale per row: per output channel for weights, per token for activations."""

    def to_dict(self):
        return {"_type": "PerRow", "_version": 1, "_data": {"dim": -1}}


@dataclass(frozen=True)
class PerTensor:
    """One scale for the whole tensor."""

    def to_dict(self):
        return {"_type": "PerTensor", "_version": 1, "_data": {}}


_GRANULARITY = {"PerRow": PerRow, "PerTensor": PerTensor}


def _gran_name(g):
    return "per_tensor" if isinstance(g, PerTensor) else "per_row"


def _parse_granularity(v):
    """A granularity from an object, a torchao JSON dict, or a 2-list [activation, weight]."""
    if v is None:
        return None
    if isinstance(v, (PerRow, PerTensor)):
        return v
    if isinstance(v, dict):
        t = v.get("_type")
        if t not in _GRANULARITY:
            raise ConfigError(f"granularity {t!r} is not supported (PerRow or PerTensor)")
        data = v.get("_data") or {}
        if t == "PerRow" and data.get("dim", -1) not in (-1, 1):
            raise ConfigError(f"PerRow(dim={data['dim']}) is not supported (dim -1 only)")
        return _GRANULARITY[t]()
    raise ConfigError(f"cannot read granularity {v!r}")


def _split_granularity(g, default):
    """(activation, weight) granularities from a single value or a pair."""
    if g is None:
        g = default
    if isinstance(g, (list, tuple)):
        if len(g) != 2:
            raise ConfigError(f"granularity pair must have 2 entries (activation, weight), got "
                              f"{len(g)}")
        return _parse_granularity(g[0]), _parse_granularity(g[1])
    g = _parse_granularity(g)
    return g, g


# ---------------------------------------------------------------- configs

_ANY = object()  # the field only picks torchao's kernels, packing or compile settings


def _enum_name(v):
    """The name of a torchao enum as JSON holds it: {"_type": "MappingType", "_data":
    "SYMMETRIC"}, or a bare string ("preshuffled"), upper-cased; other values unchanged."""
    if isinstance(v, dict) and "_data" in v and not isinstance(v["_data"], dict):
        v = v["_data"]
    return v.upper() if isinstance(v, str) else v


# torchao 0.18 fields of each config besides qgemm's own: the values that keep qgemm's numbers
# (compared after _enum_name), or _ANY. Any other field of the config is an error.
_TORCHAO_FIELDS = {
    "Int4WeightOnlyConfig": {
        "set_inductor_config": _ANY, "int4_packing_format": _ANY, "int4_tile_packed_ntile": _ANY,
        "layout": _ANY, "version": _ANY,
        # torchao's min-max rule; qgemm applies its own min-max int4 rule (docs/formats.md)
        "int4_choose_qparams_algorithm": ("TINYGEMM",),
        "use_hqq": (False,), "preserve_zero": (None, True, False),
        "zero_point_domain": (None, "INT", "FLOAT", "NONE")},
    "Int8WeightOnlyConfig": {"set_inductor_config": _ANY, "version": _ANY},
    "Int8DynamicActivationInt8WeightConfig": {
        "set_inductor_config": _ANY, "layout": _ANY, "version": _ANY,
        "act_mapping_type": ("SYMMETRIC",), "weight_only_decode": (False,),
        "reduce_range": (False,)},
    "Float8DynamicActivationFloat8WeightConfig": {
        "set_inductor_config": _ANY, "mm_config": _ANY, "kernel_preference": _ANY,
        "alg_id": _ANY, "version": _ANY, "packing_format": ("PLAIN",),
        "activation_value_lb": (None,), "activation_value_ub": (None,)},
    "Float8DynamicActivationInt4WeightConfig": {
        "int4_packing_format": _ANY, "set_inductor_config": _ANY, "version": _ANY},
}
for _sparse, _dense in (("Float8DynamicActivationFloat8SemiSparseWeightConfig",
                         "Float8DynamicActivationFloat8WeightConfig"),
                        ("Int8DynamicActivationInt8SemiSparseWeightConfig",
                         "Int8DynamicActivationInt8WeightConfig")):
    _TORCHAO_FIELDS[_sparse] = dict(_TORCHAO_FIELDS[_dense], packing_format=_ANY)

# The "_version" torchao 0.18 writes for each config (torchao runs its legacy path, or refuses,
# for another one); configs torchao does not have keep version 1.
TORCHAO_VERSION = {"Int4WeightOnlyConfig": 2, "Int8WeightOnlyConfig": 2,
                   "Int8DynamicActivationInt8WeightConfig": 2,
                   "Float8DynamicActivationFloat8WeightConfig": 2}

class QuantConfig:
    """Base of qgemm's configs. Subclasses are dataclasses; `scheme` names the C scheme."""

    scheme = None
    _ALWAYS = ()  # fields written to JSON even at their default value

    @property
    def VERSION(self):
        return TORCHAO_VERSION.get(type(self).__name__, CONFIG_VERSION)

    def weight_spec(self, n, k, act_dtype="bf16", out_dtype="bf16"):
        raise NotImplementedError

    def to_dict(self):
        data = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            if f.name in self._ALWAYS or v != default:
                data[f.name] = _encode(v)
        return {"_type": type(self).__name__, "_version": self.VERSION, "_data": data}

    @classmethod
    def _from_data(cls, data):
        names = {f.name for f in dataclasses.fields(cls)}
        known = _TORCHAO_FIELDS.get(cls.__name__, {})
        kw = {}
        for key, v in data.items():
            if key in names:
                kw[key] = v
            elif key in ("activation_dtype", "weight_dtype"):
                _check_dtype_field(cls, key, v)
            elif key in known:
                allowed = known[key]
                if allowed is not _ANY and _enum_name(v) not in allowed:
                    raise ConfigError(
                        f"{cls.__name__}.{key}={_enum_name(v)!r} changes the numbers and qgemm "
                        f"does not implement it (qgemm computes {key}="
                        f"{' or '.join(repr(a) for a in allowed)})")
            else:
                raise ConfigError(f"{cls.__name__} has no field {key!r} (fields: "
                                  f"{', '.join(sorted(names | set(known))) or 'none'})")
        try:
            return cls(**kw)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{cls.__name__}: {e}") from e


def _encode(v):
    if hasattr(v, "to_dict"):
        return v.to_dict()
    if isinstance(v, (list, tuple)):
        return [_encode(x) for x in v]
    return v


# The dtype a torchao config field must have for qgemm to compute the same thing.
_DTYPE_FIELDS = {
    ("Float8DynamicActivationFloat8WeightConfig", "activation_dtype"): "float8_e4m3fn",
    ("Float8DynamicActivationFloat8WeightConfig", "weight_dtype"): "float8_e4m3fn",
    ("Float8DynamicActivationFloat8SemiSparseWeightConfig", "activation_dtype"): "float8_e4m3fn",
    ("Float8DynamicActivationFloat8SemiSparseWeightConfig", "weight_dtype"): "float8_e4m3fn",
    ("Float8DynamicActivationInt4WeightConfig", "activation_dtype"): "float8_e4m3fn",
    ("Int8DynamicActivationInt4WeightConfig", "weight_dtype"): "int4",
}


def _check_dtype_field(cls, key, v):
    want = _DTYPE_FIELDS.get((cls.__name__, key))
    got = v.get("_data") if isinstance(v, dict) else (str(v).split(".")[-1] if v else v)
    if want is None or got not in (want, None):
        raise ConfigError(f"{cls.__name__}.{key}={got!r} is not supported"
                          + (f" (only {want})" if want else ""))


def _act_dtype_ok(act_dtype):
    if act_dtype not in ("bf16", "f16"):
        raise ConfigError(f"qgemm takes bf16 or f16 activations, got {act_dtype}")


@dataclass
class Int4WeightOnlyConfig(QuantConfig):
    """int4 weights with a scale (and, with zero_point, a zero point) per group of `group_size`
    along K; 16-bit activations (scheme w4a16). torchao's Int4WeightOnlyConfig."""

    group_size: int = 128
    zero_point: bool = True
    scheme = "w4a16"
    _ALWAYS = ("group_size",)

    def __post_init__(self):
        if self.group_size not in (32, 64, 128, 0):
            raise ConfigError(f"Int4WeightOnlyConfig.group_size must be 32, 64, 128 or 0 "
                              f"(per-channel), got {self.group_size}")

    def weight_spec(self, n, k, act_dtype="bf16", out_dtype="bf16"):
        _act_dtype_ok(act_dtype)
        return WeightSpec("w4a16", n, k, group_size=self.group_size, zero_point=self.zero_point,
                          act_dtype=act_dtype, out_dtype=out_dtype)


@dataclass
class Int8WeightOnlyConfig(QuantConfig):
    """int8 weights with per-channel scales; 16-bit activations (scheme w8a16). granularity:
    PerRow() (torchao's default, written as None) only."""

    group_size: object = None
    granularity: object = None
    scheme = "w8a16"

    def __post_init__(self):
        if self.group_size not in (None, 0):
            raise ConfigError("Int8WeightOnlyConfig supports per-channel scales only "
                              f"(group_size=None), got {self.group_size}")
        g = _parse_granularity(self.granularity)
        if g not in (None, PerRow()):
            raise ConfigError(f"Int8WeightOnlyConfig.granularity={type(g).__name__}() is not "
                              "supported (PerRow only)")
        self.granularity = None

    def weight_spec(self, n, k, act_dtype="bf16", out_dtype="bf16"):
        _act_dtype_ok(act_dtype)
        return WeightSpec("w8a16", n, k, act_dtype=act_dtype, out_dtype=out_dtype)


@dataclass
class _DynamicGranularityConfig(QuantConfig):
    """Dynamic per-token (or per-tensor) activation quantization x 8-bit weights with per-row
    (or per-tensor) scales. granularity: PerRow(), PerTensor() or [activation, weight]."""

    granularity: object = None
    _DEFAULT_GRANULARITY = PerRow()

    def __post_init__(self):
        try:
            self._act_gran, self._w_gran = _split_granularity(self.granularity,
                                                              self._DEFAULT_GRANULARITY)
        except ConfigError as e:
            raise ConfigError(f"{type(self).__name__}: {e}") from e

    def to_dict(self):
        d = super().to_dict()
        g = self.granularity
        if isinstance(g, (list, tuple)):
            d["_data"]["granularity"] = [self._act_gran.to_dict(), self._w_gran.to_dict()]
        return d

    def weight_spec(self, n, k, act_dtype="bf16", out_dtype="bf16"):
        _act_dtype_ok(act_dtype)
        return WeightSpec(self.scheme, n, k, act_dtype=act_dtype, out_dtype=out_dtype,
                          weight_scale=_gran_name(self._w_gran),
                          act_scale=_gran_name(self._act_gran))

    def __eq__(self, other):
        return (type(self) is type(other) and self._act_gran == other._act_gran
                and self._w_gran == other._w_gran)


@dataclass(eq=False)
class Int8DynamicActivationInt8WeightConfig(_DynamicGranularityConfig):
    """int8 per-token activations x int8 per-channel weights (scheme w8a8-int8)."""

    scheme = "w8a8-int8"

    @classmethod
    def _from_data(cls, data):
        layout = data.get("layout")
        if isinstance(layout, dict) and layout.get("_type") == "SemiSparseLayout":
            rest = {k: v for k, v in data.items() if k != "layout"}
            return Int8DynamicActivationInt8SemiSparseWeightConfig._from_data(rest)
        return super()._from_data(data)


@dataclass(eq=False)
class Float8DynamicActivationFloat8WeightConfig(_DynamicGranularityConfig):
    """e4m3 dynamic activations x e4m3 weights (scheme w8a8-fp8). Like torchao, the default
    granularity is PerTensor; PerRow() gives per-token activation and per-row weight scales."""

    scheme = "w8a8-fp8"
    _DEFAULT_GRANULARITY = PerTensor()

    @classmethod
    def _from_data(cls, data):
        fmt = _enum_name(data.get("packing_format"))
        if isinstance(fmt, str) and fmt.startswith("SPARSE"):  # torchao's 2:4 fp8 weights
            rest = {k: v for k, v in data.items() if k != "packing_format"}
            return Float8DynamicActivationFloat8SemiSparseWeightConfig._from_data(rest)
        return super()._from_data(data)


@dataclass
class Float8DynamicActivationInt4WeightConfig(QuantConfig):
    """e4m3 per-token activations x int4 weights with group-128 scales (scheme w4a8-fp8)."""

    group_size: int = 128
    scheme = "w4a8-fp8"

    def __post_init__(self):
        if self.group_size != 128:
            raise ConfigError("Float8DynamicActivationInt4WeightConfig uses group_size 128, got "
                              f"{self.group_size}")

    def weight_spec(self, n, k, act_dtype="bf16", out_dtype="bf16"):
        _act_dtype_ok(act_dtype)
        return WeightSpec("w4a8-fp8", n, k, group_size=128, act_dtype=act_dtype,
                          out_dtype=out_dtype)


@dataclass
class Int8DynamicActivationInt4WeightConfig(QuantConfig):
    """int8 per-token activations x symmetric int4 weights (8da4w, scheme w4a8-int8); group_size
    32, 64, 128, or None/0 for per-channel."""

    group_size: object = 32
    scheme = "w4a8-int8"
    _ALWAYS = ("group_size",)

    def __post_init__(self):
        if self.group_size not in (32, 64, 128, 0, None):
            raise ConfigError("Int8DynamicActivationInt4WeightConfig.group_size must be 32, 64, "
                              f"128 or None (per-channel), got {self.group_size}")

    def weight_spec(self, n, k, act_dtype="bf16", out_dtype="bf16"):
        _act_dtype_ok(act_dtype)
        return WeightSpec("w4a8-int8", n, k, group_size=self.group_size or 0,
                          act_dtype=act_dtype, out_dtype=out_dtype)


@dataclass
class SemiSparseWeightConfig(QuantConfig):
    """2:4 sparse 16-bit weights (magnitude pruning; scheme sp24-bf16)."""

    scheme = "sp24-bf16"

    def weight_spec(self, n, k, act_dtype="bf16", out_dtype="bf16"):
        _act_dtype_ok(act_dtype)
        return WeightSpec("sp24-bf16", n, k, act_dtype=act_dtype, out_dtype=out_dtype)


@dataclass
class Float8DynamicActivationFloat8SemiSparseWeightConfig(QuantConfig):
    """2:4 sparse e4m3 weights (per-row scales) x e4m3 per-token activations (sp24-fp8)."""

    scheme = "sp24-fp8"

    def to_dict(self):
        # torchao 0.18 spells it as the dense fp8 config with a sparse packing format.
        row = PerRow().to_dict()
        row["_data"] = {"dim": -1}
        return {"_type": "Float8DynamicActivationFloat8WeightConfig", "_version": 2,
                "_data": {"granularity": [row, row], "packing_format": {
                    "_type": "Float8PackingFormat", "_data": "SPARSE_2D_DATA_2D_METADATA"}}}

    @classmethod
    def _from_data(cls, data):
        g = data.get("granularity")
        if g is not None and _split_granularity(g, None) != (PerRow(), PerRow()):
            raise ConfigError("Float8DynamicActivationFloat8SemiSparseWeightConfig: qgemm's "
                              "sp24-fp8 has per-row weight and per-token activation scales: "
                              "granularity must be PerRow()")
        return super()._from_data({k: v for k, v in data.items() if k != "granularity"})

    def weight_spec(self, n, k, act_dtype="bf16", out_dtype="bf16"):
        _act_dtype_ok(act_dtype)
        return WeightSpec("sp24-fp8", n, k, act_dtype=act_dtype, out_dtype=out_dtype)


@dataclass
class Int8DynamicActivationInt8SemiSparseWeightConfig(QuantConfig):
    """2:4 sparse int8 weights (per-row scales) x int8 per-token activations (sp24-int8);
    torchao spells it Int8DynamicActivationInt8WeightConfig(layout=SemiSparseLayout())."""

    scheme = "sp24-int8"

    def weight_spec(self, n, k, act_dtype="bf16", out_dtype="bf16"):
        _act_dtype_ok(act_dtype)
        return WeightSpec("sp24-int8", n, k, act_dtype=act_dtype, out_dtype=out_dtype)


@dataclass
class ModuleFqnToConfig(QuantConfig):
    """A config per module: keys are fully qualified module names ("model.layers.0.mlp.down_proj"),
    "re:<regex>" patterns (full match), or "_default" for every other Linear. A value of None
    leaves the module unquantized. Exact names win over patterns, patterns (in order) over
    "_default". torchao's ModuleFqnToConfig."""

    module_fqn_to_config: dict = field(default_factory=dict)
    _ALWAYS = ("module_fqn_to_config",)

    def __post_init__(self):
        for key, c in self.module_fqn_to_config.items():
            if not isinstance(key, str):
                raise ConfigError(f"ModuleFqnToConfig keys must be strings, got {key!r}")
            if c is not None and (not isinstance(c, QuantConfig) or
                                  isinstance(c, ModuleFqnToConfig)):
                raise ConfigError(f"ModuleFqnToConfig[{key!r}] must be a qgemm config or None, "
                                  f"got {type(c).__name__}")
            if key.startswith("re:"):
                try:
                    re.compile(key[3:])
                except re.error as e:
                    raise ConfigError(f"ModuleFqnToConfig key {key!r}: bad regex: {e}") from e

    def names(self, fqn):
        """Whether a key names this module itself (exactly or by a "re:" pattern)."""
        return fqn in self.module_fqn_to_config or any(
            k.startswith("re:") and re.fullmatch(k[3:], fqn) for k in self.module_fqn_to_config)

    def config_for(self, fqn):
        """The config for a module name (None: leave it alone)."""
        m = self.module_fqn_to_config
        if fqn in m:
            return m[fqn]
        for key, c in m.items():
            if key.startswith("re:") and re.fullmatch(key[3:], fqn):
                return c
        return m.get("_default")

    def to_dict(self):
        # torchao 0.18 writes FqnToConfig with the mapping under both of its field names.
        m = {k: (None if c is None else c.to_dict()) for k, c in self.module_fqn_to_config.items()}
        return {"_type": "FqnToConfig", "_version": 1,
                "_data": {"fqn_to_config": m, "module_fqn_to_config": m}}

    @classmethod
    def _from_data(cls, data):
        unknown = set(data) - {"module_fqn_to_config", "fqn_to_config", "version"}
        if unknown:
            raise ConfigError(f"FqnToConfig has no field(s) {sorted(unknown)}")
        a, b = data.get("fqn_to_config"), data.get("module_fqn_to_config")
        if a and b and a != b:
            raise ConfigError("FqnToConfig: fqn_to_config and module_fqn_to_config differ")
        m = a or b or {}
        if not isinstance(m, dict):
            raise ConfigError("FqnToConfig.fqn_to_config must be an object")
        return cls({k: (None if v is None else config_from_dict(v)) for k, v in m.items()})


FqnToConfig = ModuleFqnToConfig  # torchao's newer name

CONFIG_CLASSES = {c.__name__: c for c in (
    Int4WeightOnlyConfig, Int8WeightOnlyConfig, Int8DynamicActivationInt8WeightConfig,
    Float8DynamicActivationFloat8WeightConfig, Float8DynamicActivationInt4WeightConfig,
    Int8DynamicActivationInt4WeightConfig, SemiSparseWeightConfig,
    Float8DynamicActivationFloat8SemiSparseWeightConfig,
    Int8DynamicActivationInt8SemiSparseWeightConfig, ModuleFqnToConfig)}
CONFIG_CLASSES["FqnToConfig"] = ModuleFqnToConfig


def config_to_dict(config):
    """torchao's JSON form of a config: {"_type", "_version", "_data"}."""
    if not isinstance(config, QuantConfig):
        raise ConfigError(f"expected a qgemm config, got {type(config).__name__}")
    return config.to_dict()


def config_from_dict(d):
    """Inverse of config_to_dict; also reads torchao's own JSON for the configs qgemm has."""
    if not isinstance(d, dict):
        raise ConfigError(f"config must be a JSON object, got {type(d).__name__}")
    if "_type" not in d or "_data" not in d:
        raise ConfigError(f"config needs '_type' and '_data' (got keys {sorted(d)})")
    t = d["_type"]
    cls = CONFIG_CLASSES.get(t)
    if cls is None:
        raise ConfigError(f"unknown config type {t!r}; qgemm has {', '.join(sorted(CONFIG_CLASSES))}")
    data = d["_data"]
    if not isinstance(data, dict):
        raise ConfigError(f"{t}: '_data' must be an object")
    if cls is not ModuleFqnToConfig and "granularity" in data:
        g = data["granularity"]
        data = dict(data, granularity=[_parse_granularity(x) for x in g]
                    if isinstance(g, list) else _parse_granularity(g))
    return cls._from_data(data)


def to_hf_quantization_config(config, modules_to_not_convert=None):
    """The "quantization_config" block of a Hugging Face config.json."""
    out = {"quant_method": "qgemm", "quant_type": {"default": config_to_dict(config)},
           "format_version": FORMAT_VERSION}
    if modules_to_not_convert:
        out["modules_to_not_convert"] = list(modules_to_not_convert)
    return out


def from_hf_quantization_config(block):
    """The config of a "quantization_config" block (quant_method "qgemm", or "torchao" for a
    torchao config to apply to bf16 weights). Raises ConfigError with the reason otherwise."""
    if not isinstance(block, dict):
        raise ConfigError("quantization_config must be a JSON object")
    method = block.get("quant_method")
    if method not in ("qgemm", "torchao"):
        raise ConfigError(f"quant_method is {method!r}, expected 'qgemm'")
    unknown = set(block) - {"quant_method", "quant_type", "format_version",
                            "modules_to_not_convert", "qgemm_modules",
                            "include_input_output_embeddings", "untie_embedding_weights"}
    if unknown:
        raise ConfigError(f"quantization_config has fields qgemm does not know: "
                          f"{sorted(unknown)}")
    if block.get("include_input_output_embeddings"):
        raise ConfigError("quantization_config.include_input_output_embeddings=true (quantized "
                          "embeddings) is not implemented by qgemm")
    qt = block.get("quant_type")
    if not (isinstance(qt, dict) and set(qt) == {"default"}):
        raise ConfigError("quant_type must be {'default': {...}} (torchao's format)")
    if method == "qgemm" and block.get("format_version", FORMAT_VERSION) != FORMAT_VERSION:
        raise ConfigError(f"format_version {block.get('format_version')} is not "
                          f"{FORMAT_VERSION}: saved by another qgemm version")
    return config_from_dict(qt["default"])


__all__ = ["PerRow", "PerTensor", "QuantConfig", "ConfigError", "Int4WeightOnlyConfig",
           "Int8WeightOnlyConfig", "Int8DynamicActivationInt8WeightConfig",
           "Float8DynamicActivationFloat8WeightConfig", "Float8DynamicActivationInt4WeightConfig",
           "Int8DynamicActivationInt4WeightConfig", "SemiSparseWeightConfig",
           "Float8DynamicActivationFloat8SemiSparseWeightConfig",
           "Int8DynamicActivationInt8SemiSparseWeightConfig", "ModuleFqnToConfig", "FqnToConfig",
           "config_to_dict", "config_from_dict", "to_hf_quantization_config",
           "from_hf_quantization_config"]
