"""Saving and loading quantized weights with safetensors, without re-quantizing.

A file holds every tensor of the model's state dict: the packed buffers of each quantized
Linear as 1-D uint8 tensors "<fqn>.qweight", "<fqn>.qscale", "<fqn>.qzero", "<fqn>.qmeta"
(only those the scheme has; bytes exactly as docs/formats.md), its "<fqn>.bias", an empty uint8
placeholder "<fqn>.weight" (a loader that does not know qgemm, transformers without
`import qgemm`, then fails on a size mismatch instead of leaving a random weight), and the other
parameters unchanged. The safetensors metadata (string -> string) holds:
  format                "qgemm"
  qgemm_format_version  version of this file layout (FORMAT_VERSION)
  packed_format_version the packed-layout version of docs/formats.md (QG_FORMAT_VERSION)
  qgemm_version         library version that wrote it
  quantization_config   the Hugging Face "quantization_config" block (torchao's JSON format)
  qgemm_modules         JSON {fqn: {"spec": WeightSpec, "bias": bool}}
  qgemm_crc32           JSON {tensor name: CRC-32 of its bytes}, for every tensor of the file
Loading checks all of it (versions, each packed buffer's size against the C library's
qg_packed_sizes_get, the CRC-32 of every tensor) and raises SerializationError naming the file,
module and tensor at fault.

The numpy functions (save_packed / load_packed) need no torch; the torch ones
(save_quantized / load_quantized / save_pretrained / from_pretrained) work on models."""

import json
import os
import zlib

import numpy as np

from . import _lib
from .config import FORMAT_VERSION, from_hf_quantization_config, to_hf_quantization_config
from .spec import BUFFERS, WeightSpec

PACKED_FORMAT_VERSION = 1  # QG_FORMAT_VERSION of include/qgemm.h
SUFFIX = {"weight": "qweight", "scale": "qscale", "zero": "qzero", "meta": "qmeta"}
WEIGHTS_NAME = "model.safetensors"


class SerializationError(ValueError):
    """A quantized checkpoint that cannot be used: corrupt, truncated, from another format
    version, or not matching the model it is loaded into. The message says which and where."""


def placeholder_name(fqn):
    """The empty "<fqn>.weight" a quantized module's entry carries (see the module doc)."""
    return f"{fqn}.weight" if fqn else "weight"


def _drop_placeholder(path, tensors, fqn):
    t = tensors.pop(placeholder_name(fqn), None)
    n = 0 if t is None else int(np.prod(tuple(t.shape)))
    if n:
        raise SerializationError(f"{path}: quantized module {fqn!r} also has a dense "
                                 f"'{placeholder_name(fqn)}' ({n} values)")


def tensor_name(fqn, buf):
    return f"{fqn}.{SUFFIX[buf]}" if fqn else SUFFIX[buf]


def _crc(arr):
    return zlib.crc32(memoryview(np.ascontiguousarray(arr)).cast("B")) & 0xFFFFFFFF


def build_metadata(modules, quant_config=None, crcs=None):
    """safetensors metadata for {fqn: (spec, has_bias)} and {tensor name: crc}."""
    mods = {fqn: {"spec": spec.to_dict(), "bias": bool(has_bias)}
            for fqn, (spec, has_bias) in modules.items()}
    md = {"format": "qgemm", "qgemm_format_version": str(FORMAT_VERSION),
          "packed_format_version": str(PACKED_FORMAT_VERSION),
          "qgemm_modules": json.dumps(mods, sort_keys=True)}
    if crcs is not None:
        md["qgemm_crc32"] = json.dumps(crcs, sort_keys=True)
    try:
        md["qgemm_version"] = _lib.version()
    except OSError:
        md["qgemm_version"] = "unknown"
    if quant_config is not None:
        md["quantization_config"] = json.dumps(to_hf_quantization_config(quant_config))
    return md


def parse_metadata(md, path="<file>"):
    """(modules {fqn: {"spec": WeightSpec, "bias": bool}}, quant config or None, crcs
    {tensor: crc} or None) from a file's metadata; SerializationError if it is not a qgemm file
    of this version."""
    if not md or md.get("format") != "qgemm":
        raise SerializationError(f"{path}: not a qgemm quantized checkpoint (metadata 'format' "
                                 f"is {None if not md else md.get('format')!r})")
    v = md.get("qgemm_format_version")
    if v != str(FORMAT_VERSION):
        raise SerializationError(f"{path}: file format version {v}, this qgemm reads "
                                 f"{FORMAT_VERSION}")
    pv = md.get("packed_format_version")
    if pv != str(PACKED_FORMAT_VERSION):
        raise SerializationError(f"{path}: packed weight layout version {pv}, this qgemm uses "
                                 f"{PACKED_FORMAT_VERSION} (docs/formats.md): re-quantize")
    try:
        raw = json.loads(md.get("qgemm_modules", ""))
        if not isinstance(raw, dict):
            raise ValueError("not an object")
        mods = {}
        for fqn, e in raw.items():
            mods[fqn] = {"spec": WeightSpec.from_dict(e["spec"]), "bias": bool(e.get("bias"))}
        crcs = json.loads(md["qgemm_crc32"]) if "qgemm_crc32" in md else None
        if crcs is not None and not isinstance(crcs, dict):
            raise ValueError("qgemm_crc32 is not an object")
    except (ValueError, KeyError, TypeError) as e:
        raise SerializationError(f"{path}: qgemm metadata is unreadable: {e}") from e
    qc = None
    if "quantization_config" in md:
        try:
            qc = from_hf_quantization_config(json.loads(md["quantization_config"]))
        except ValueError as e:
            raise SerializationError(f"{path}: metadata 'quantization_config': {e}") from e
    return mods, qc, crcs


def verify_crcs(path, crcs, tensors, as_bytes):
    """Check every stored tensor's CRC-32: a flipped bit anywhere is reported, with its name."""
    if crcs is None:
        return
    missing = sorted(set(crcs) - set(tensors))
    if missing:
        raise SerializationError(f"{path}: tensors {missing[:8]} are listed but absent: the file "
                                 "is corrupt")
    for name, t in tensors.items():
        want = crcs.get(name)
        if want is None:
            raise SerializationError(f"{path}: tensor {name!r} has no checksum: the file was "
                                     "altered after it was written")
        if not isinstance(want, int) or isinstance(want, bool) or not 0 <= want < 2 ** 32:
            raise SerializationError(f"{path}: tensor {name!r} has a checksum that is not a "
                                     f"32-bit integer ({want!r}): the file is corrupt")
        got = _crc(as_bytes(t))
        if got != want:
            raise SerializationError(f"{path}: tensor {name!r} fails its CRC-32 check (stored "
                                     f"{want:#010x}, computed {got:#010x}): the file is corrupt")


def verify_module(path, fqn, entry, buffers):
    """Check one module's buffers ({buf: uint8 numpy array or None}) against its spec."""
    spec = entry["spec"]
    try:
        sizes = spec.sizes()
    except _lib.QGemmError as e:
        raise SerializationError(f"{path}: module {fqn!r}: the library rejects its spec "
                                 f"({e})") from e
    for buf in BUFFERS:
        a = buffers.get(buf)
        have = 0 if a is None else int(a.size)
        if have != sizes[buf]:
            raise SerializationError(
                f"{path}: module {fqn!r}: '{tensor_name(fqn, buf)}' has {have} bytes, "
                f"{spec.scheme} N={spec.n} K={spec.k} needs {sizes[buf]}")
        if a is not None and a.size and a.dtype != np.uint8:
            raise SerializationError(f"{path}: '{tensor_name(fqn, buf)}' is {a.dtype}, "
                                     "expected uint8")


def _open_error(path, e):
    return SerializationError(f"{path}: cannot read as safetensors ({type(e).__name__}: {e}); "
                              "the file is truncated, corrupt or not a safetensors file")


# ---------------------------------------------------------------- numpy API (no torch)


_ST_DTYPE = {np.dtype(np.uint8): "U8", np.dtype(np.int8): "I8", np.dtype(np.uint16): "U16",
             np.dtype(np.int16): "I16", np.dtype(np.float16): "F16", np.dtype(np.uint32): "U32",
             np.dtype(np.int32): "I32", np.dtype(np.float32): "F32", np.dtype(np.uint64): "U64",
             np.dtype(np.int64): "I64", np.dtype(np.float64): "F64", np.dtype(np.bool_): "BOOL"}


def write_safetensors_numpy(path, tensors, metadata, dtypes=None):
    """Write numpy arrays as a safetensors file; `dtypes` {name: "BF16"} overrides the stored
    type of arrays holding bits of a type numpy lacks (bf16 as uint16). Written to a temporary
    file and renamed, so a crash never leaves a half-written checkpoint under `path`."""
    dtypes = dtypes or {}
    header, offset, arrays = {}, 0, []
    for name in sorted(tensors):
        a = np.asarray(tensors[name])
        if not a.flags.c_contiguous:  # (ascontiguousarray would turn 0-d into 1-d)
            a = a.copy(order="C")
        dt = dtypes.get(name) or _ST_DTYPE.get(a.dtype)
        if dt is None:
            raise SerializationError(f"cannot store {name!r} of numpy type {a.dtype}")
        header[name] = {"dtype": dt, "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        arrays.append(a)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)  # the data starts 8-byte aligned
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(len(blob).to_bytes(8, "little"))
        f.write(blob)
        for a in arrays:
            f.write(memoryview(a).cast("B"))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_packed(path, modules, tensors=None, quant_config=None, bias_dtype="bf16"):
    """Write packed modules {fqn: (spec, {buf: uint8 array}, bias or None)} and other numpy
    tensors {name: array} to a safetensors file, with numpy alone (no torch). A bias given as
    uint16 bits is stored as spec.out_dtype (BF16/F16), as the torch loader expects."""
    out = dict(tensors or {})
    dtypes = {}
    meta_mods = {}
    for fqn, (spec, packed, bias) in modules.items():
        verify_module(path, fqn, {"spec": spec}, {b: packed.get(b) for b in BUFFERS})
        for buf in BUFFERS:
            a = packed.get(buf)
            if a is None or not a.size:
                continue
            out[tensor_name(fqn, buf)] = np.ascontiguousarray(a, dtype=np.uint8)
        if bias is not None:
            bias = np.ascontiguousarray(bias)
            if bias.shape != (spec.n,):
                raise SerializationError(f"{fqn}: bias is {bias.shape}, expected ({spec.n},)")
            out[f"{fqn}.bias"] = bias
            if bias.dtype == np.uint16:
                dtypes[f"{fqn}.bias"] = "BF16" if spec.out_dtype == "bf16" else "F16"
        meta_mods[fqn] = (spec, bias is not None)
        out[placeholder_name(fqn)] = np.zeros(0, dtype=np.uint8)
    crcs = {k: _crc(v) for k, v in out.items()}
    write_safetensors_numpy(path, out, build_metadata(meta_mods, quant_config, crcs), dtypes)


_NP_DTYPES = {"U8": np.uint8, "I8": np.int8, "U16": np.uint16, "I16": np.int16,
              "F16": np.float16, "BF16": np.uint16, "U32": np.uint32, "I32": np.int32,
              "F32": np.float32, "U64": np.uint64, "I64": np.int64, "F64": np.float64,
              "F8_E4M3": np.uint8, "F8_E5M2": np.uint8, "BOOL": np.bool_}


def read_safetensors_numpy(path):
    """(metadata, {name: array}) of a safetensors file, read with numpy alone. Types numpy
    lacks come back as their bits: BF16 as uint16, F8_* as uint8. Checks the header and that
    every tensor lies inside the file (safetensors' own layout rules)."""
    import struct

    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise ValueError("shorter than the 8-byte header length")
            (n,) = struct.unpack("<Q", head)
            if n > min(size - 8, 100 << 20):
                raise ValueError(f"header length {n} exceeds the file ({size} bytes)")
            header = json.loads(f.read(n).decode("utf-8"))
            data = np.fromfile(f, dtype=np.uint8)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise _open_error(path, e) from e
    if not isinstance(header, dict):
        raise _open_error(path, ValueError("header is not a JSON object"))
    md = header.pop("__metadata__", None) or {}
    out = {}
    for name, info in header.items():
        try:
            dt = _NP_DTYPES[info["dtype"]]
            shape = [int(v) for v in info["shape"]]
            begin, end = (int(v) for v in info["data_offsets"])
        except (KeyError, TypeError, ValueError, OverflowError) as e:  # int() of a JSON Infinity
            raise _open_error(path, ValueError(f"tensor {name!r}: bad header entry {info!r}")) \
                from e
        count = int(np.prod(shape)) if shape else 1
        if not 0 <= begin <= end <= data.size or end - begin != count * np.dtype(dt).itemsize:
            raise _open_error(path, ValueError(
                f"tensor {name!r} ({info['dtype']} {shape}) at bytes [{begin}, {end}) does not fit "
                f"the {data.size} data bytes: truncated or corrupt"))
        out[name] = data[begin:end].view(dt).reshape(shape)
    return md, out


def load_packed(path, verify_crc=True):
    """Read a file written by save_packed/save_quantized with numpy alone (no torch): returns
    (modules {fqn: (spec, {buf: uint8 array}, bias or None)}, other tensors {name: array},
    quant config or None). bf16 tensors come back as uint16 bit patterns."""
    md, tensors = read_safetensors_numpy(path)
    mods, qc, crcs = parse_metadata(md, path)
    if verify_crc:
        verify_crcs(path, crcs, tensors, lambda a: a)
    modules = {}
    for fqn, entry in mods.items():
        bufs = {b: tensors.pop(tensor_name(fqn, b), None) for b in BUFFERS}
        verify_module(path, fqn, entry, bufs)
        _drop_placeholder(path, tensors, fqn)
        bias = tensors.pop(f"{fqn}.bias", None)
        if entry["bias"] and bias is None:
            raise SerializationError(f"{path}: module {fqn!r} has a bias but '{fqn}.bias' is "
                                     "missing")
        modules[fqn] = (entry["spec"], {b: v for b, v in bufs.items() if v is not None}, bias)
    return modules, tensors, qc


# ---------------------------------------------------------------- torch API


def _torch_bytes(t):
    """The bytes of a CPU tensor as a uint8 numpy array (any dtype, bf16 included)."""
    import torch

    return t.detach().contiguous().reshape(-1).view(torch.uint8).numpy()


def save_quantized(model, path, quant_config=None):
    """Save a model quantized with qgemm.quantize_ (its whole state dict) to one safetensors
    file. quant_config defaults to the config quantize_ recorded on the model."""
    import torch
    from safetensors.torch import save_file

    from .nn import QuantLinear

    if quant_config is None:
        quant_config = getattr(model, "_qgemm_config", None)
    state = {}
    for k, v in model.state_dict().items():
        state[k] = v.detach().contiguous()
    mods = {}
    for fqn, m in model.named_modules():
        if isinstance(m, QuantLinear):
            mods[fqn] = (m.spec, m.bias is not None)
    # Tied parameters (lm_head = embed_tokens) share storage: safetensors refuses duplicates.
    seen = {}
    for k in list(state):
        t = state[k]
        key = (t.device, t.data_ptr(), t.numel(), t.dtype) if t.numel() else None
        if key is not None and key in seen:
            state[k] = t.clone()
        elif key is not None:
            seen[key] = k
    if not mods:
        raise SerializationError("the model has no qgemm QuantLinear modules: quantize it first")
    for fqn in mods:
        state.setdefault(placeholder_name(fqn), torch.empty(0, dtype=torch.uint8))
    state = {k: v.cpu() for k, v in state.items()}
    crcs = {k: _crc(_torch_bytes(v)) for k, v in state.items()}
    save_file(state, path, metadata=build_metadata(mods, quant_config, crcs))


def read_checkpoint(path, verify_crc=True):
    """Torch tensors, module entries and config of a file (on the CPU), all checked."""
    from safetensors import safe_open

    try:
        with safe_open(path, framework="pt", device="cpu") as f:
            md = f.metadata()
            mods, qc, crcs = parse_metadata(md, path)
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except SerializationError:
        raise
    except Exception as e:
        raise _open_error(path, e) from e
    if verify_crc:
        verify_crcs(path, crcs, tensors, _torch_bytes)
    for fqn, entry in mods.items():
        bufs = {}
        for b in BUFFERS:
            t = tensors.get(tensor_name(fqn, b))
            bufs[b] = None if t is None else _torch_bytes(t)
        verify_module(path, fqn, entry, bufs)
    return tensors, mods, qc


def load_quantized(model, path, device=None, strict=True, verify_crc=True):
    """Load a checkpoint written by save_quantized into `model`, an unquantized instance of the
    same architecture (it may live on the meta device): the Linear modules named in the file are
    replaced by QuantLinear modules holding the stored packed buffers (no re-quantization), then
    every tensor is loaded. Raises SerializationError on any mismatch. Returns the model."""
    import torch

    from .nn import QuantLinear

    tensors, mods, qc = read_checkpoint(path, verify_crc)
    if device is None:
        p = next(iter(model.parameters()), None)
        device = p.device if p is not None and p.device.type != "meta" else torch.device("cpu")
    device = torch.device(device)
    named = dict(model.named_modules())
    for fqn, entry in mods.items():
        spec = entry["spec"]
        lin = named.get(fqn)
        if lin is None:
            raise SerializationError(f"{path}: quantized module {fqn!r} does not exist in the "
                                     f"model ({type(model).__name__})")
        if isinstance(lin, QuantLinear):
            if lin.spec != spec:
                raise SerializationError(f"{path}: module {fqn!r} is already quantized as "
                                         f"{lin.spec}, the file has {spec}")
        elif not isinstance(lin, torch.nn.Linear):
            raise SerializationError(f"{path}: {fqn!r} is a {type(lin).__name__}, not a Linear")
        elif (lin.out_features, lin.in_features) != (spec.n, spec.k):
            raise SerializationError(
                f"{path}: module {fqn!r} is Linear({lin.in_features} -> {lin.out_features}) in "
                f"the model but the file holds a [{spec.n}, {spec.k}] weight")
        elif (lin.bias is not None) != entry["bias"]:
            raise SerializationError(f"{path}: module {fqn!r}: bias presence differs between "
                                     "the model and the file")
        bufs = {b: tensors.pop(tensor_name(fqn, b), None) for b in BUFFERS}
        _drop_placeholder(path, tensors, fqn)
        bias = tensors.pop(f"{fqn}.bias", None)
        q = QuantLinear(spec, {b: t for b, t in bufs.items() if t is not None},
                        bias=bias, device=device)
        _set_submodule(model, fqn, q)
    model_state = model.state_dict()
    missing = [k for k in model_state if k not in tensors and not _is_qbuf(k, mods)]
    unexpected = [k for k in tensors if k not in model_state]
    if strict and (missing or unexpected):
        raise SerializationError(
            f"{path}: does not match the model: missing {missing[:8]}"
            f"{'...' if len(missing) > 8 else ''}, unexpected {unexpected[:8]}"
            f"{'...' if len(unexpected) > 8 else ''}")
    with torch.no_grad():
        for k, t in tensors.items():
            if k not in model_state:
                continue
            dst = model_state[k]
            if tuple(dst.shape) != tuple(t.shape):
                raise SerializationError(f"{path}: '{k}' is {tuple(t.shape)} in the file, "
                                         f"{tuple(dst.shape)} in the model")
        # assign=True replaces meta tensors; tensors go to the requested device.
        model.load_state_dict({k: v.to(device) for k, v in tensors.items() if k in model_state},
                              strict=False, assign=True)
    if qc is not None:
        model._qgemm_config = qc
    return model


def _is_qbuf(key, mods):
    for fqn in mods:
        for b in BUFFERS:
            if key == tensor_name(fqn, b) or key == f"{fqn}.bias":
                return True
    return False


def _set_submodule(model, fqn, new):
    parent_name, _, child = fqn.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


def save_pretrained(model, directory, quant_config=None):
    """Hugging Face style: <directory>/model.safetensors and config.json with the
    "quantization_config" block (torchao's "quant_type" format, quant_method "qgemm")."""
    from .nn import QuantLinear

    if quant_config is None:
        quant_config = getattr(model, "_qgemm_config", None)
    if quant_config is None:
        raise SerializationError("save_pretrained needs the model's qgemm config (quantize it "
                                 "with qgemm.quantize_, or pass quant_config)")
    os.makedirs(directory, exist_ok=True)
    save_quantized(model, os.path.join(directory, WEIGHTS_NAME), quant_config)
    cfg = getattr(model, "config", None)
    d = cfg.to_dict() if cfg is not None and hasattr(cfg, "to_dict") else {}
    # The module list lets transformers' loader (qgemm.integrations.transformers) build the
    # QuantLinear modules before it loads the packed buffers.
    d["quantization_config"] = dict(
        to_hf_quantization_config(quant_config),
        qgemm_modules={fqn: {"spec": m.spec.to_dict(), "bias": m.bias is not None}
                       for fqn, m in model.named_modules() if isinstance(m, QuantLinear)})
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(d, f, indent=2, sort_keys=True, default=str)


def from_pretrained(directory, device="cuda", dtype=None):
    """Build a transformers model from <directory>/config.json on the meta device and load the
    quantized checkpoint into it (needs transformers; nothing is downloaded): one written by
    save_pretrained, or one transformers saved with a torchao config (its quantized tensors are
    converted to qgemm's layouts without re-quantizing: qgemm.torchao_compat)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    with open(os.path.join(directory, "config.json")) as f:
        raw = json.load(f)
    if "quantization_config" not in raw:
        raise SerializationError(f"{directory}/config.json has no quantization_config")
    try:
        qc = from_hf_quantization_config(raw["quantization_config"])
    except ValueError as e:
        raise SerializationError(f"{directory}/config.json: {e}") from e
    config = AutoConfig.from_pretrained(directory)
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # ours, not a transformers quantizer
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype or torch.bfloat16)
    if raw["quantization_config"].get("quant_method") == "torchao":
        from .torchao_compat import load_torchao_checkpoint

        load_torchao_checkpoint(model, directory, qc, device=device)
    else:
        load_quantized(model, os.path.join(directory, WEIGHTS_NAME), device=device)
    if getattr(config, "tie_word_embeddings", False) and hasattr(model, "tie_weights"):
        model.tie_weights()
    # Non-persistent buffers (rotary inv_freq) are not in the file: materialize them and let
    # the model's own initializer compute them, as transformers does after a meta-device init.
    for _, mod in model.named_modules():
        if any(b.is_meta for b in mod.buffers(recurse=False)):
            mod.to_empty(device=device, recurse=False)
            if hasattr(model, "_init_weights"):
                model._init_weights(mod)
    left = [n for n, t in list(model.named_parameters()) + list(model.named_buffers())
            if t.is_meta]
    if left:
        raise SerializationError(f"{directory}: no data for {left[:8]} after loading")
    return model.eval()
