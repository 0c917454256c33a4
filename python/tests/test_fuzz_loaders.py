"""Bounded random-mutation fuzzing of the loaders that read files from elsewhere: the safetensors
checkpoint reader (load_packed over read_safetensors_numpy) and the quantization-config parsers
(config_from_dict, from_hf_quantization_config). Every mutated input must load, or raise the
documented error (SerializationError / ConfigError) -- never another exception. Deterministic
(seeded per test); $QG_PY_FUZZ_SECONDS bounds each test (default 8 s). A failing input is
written to the pytest tmp dir and its path is in the failure message."""
import json
import os
import random
import struct
import time
import traceback

import numpy as np
import pytest

import qgemm
from qgemm import host
from qgemm.config import ConfigError, config_from_dict, config_to_dict, from_hf_quantization_config
from qgemm.serialization import SerializationError, load_packed, parse_metadata, save_packed
from qgemm.spec import WeightSpec

SECONDS = float(os.environ.get("QG_PY_FUZZ_SECONDS", "8"))
TOKENS = [b"0", b"-1", b"1e308", b"1e999", b"NaN", b"null", b"[]", b"{}", b'""', b"true",
          b"18446744073709551616", b"-9223372036854775809", b",", b":", b'"', b"\\u0000"]
INTERESTING = [0, -1, 1, 2**31, 2**63, -(2**63), 2**64 + 1, 1.5, float("inf"), None, "", "x",
               [], {}, True, "bf16", "w4a16", 128]


def mutate_bytes(r, data):
    data = bytearray(data)
    for _ in range(r.randint(1, 6)):
        op = r.randrange(5)
        at = r.randrange(len(data)) if data else 0
        if op == 0 and data:
            data[at] ^= 1 << r.randrange(8)
        elif op == 1 and data:
            data[at] = r.randrange(256)
        elif op == 2 and len(data) > 1:
            del data[r.randrange(len(data)):]
        elif op == 3:
            data[at:at] = r.choice(TOKENS)
        elif data:
            n = r.randint(1, 64)
            src = r.randrange(len(data))
            data[at:at + n] = data[src:src + n]
    return bytes(data)


def mutate_json(r, obj, depth=0):
    """A copy of obj with one value (at some depth) replaced, removed or duplicated."""
    if isinstance(obj, dict) and obj and (depth < 4 and r.random() < 0.7):
        obj = dict(obj)
        k = r.choice(sorted(obj, key=str))
        op = r.randrange(4)
        if op == 0:
            del obj[k]
        elif op == 1:
            obj[k] = r.choice(INTERESTING)
        elif op == 2:
            obj[k + "_" if isinstance(k, str) else k] = obj[k]
        else:
            obj[k] = mutate_json(r, obj[k], depth + 1)
        return obj
    if isinstance(obj, list) and obj and depth < 4 and r.random() < 0.7:
        obj = list(obj)
        i = r.randrange(len(obj))
        obj[i] = mutate_json(r, obj[i], depth + 1) if r.random() < 0.6 else r.choice(INTERESTING)
        return obj
    if isinstance(obj, str) and obj[:1] in "{[":  # JSON nested in a string (safetensors metadata)
        try:
            return json.dumps(mutate_json(r, json.loads(obj), depth + 1))
        except ValueError:
            pass
    return r.choice(INTERESTING)


def small_checkpoint(tmp_path):
    """A checkpoint with three schemes, a bias and a config, as save_packed writes it."""
    rng = np.random.default_rng(7)
    mods = {}
    for fqn, scheme, kw, (n, k) in (("a", "w4a16", {}, (64, 128)),
                                    ("b", "w8a8-fp8", {}, (64, 64)),
                                    ("c", "sp24-int8", {}, (64, 128))):
        spec = WeightSpec(scheme, n, k, **kw)
        w = (rng.standard_normal((n, k)) * 0.02).astype(np.float32)
        mods[fqn] = (spec, host.quantize_weight(spec, w),
                     host.f32_to_bf16_bits(rng.standard_normal(n).astype(np.float32)))
    path = str(tmp_path / "seed.safetensors")
    save_packed(path, mods, {"norm": np.ones(8, np.float32)},
                quant_config=qgemm.Int4WeightOnlyConfig(group_size=128))
    with open(path, "rb") as f:
        return f.read()


def restructure(r, data):
    """Mutate the JSON header of a safetensors file and re-encode it with a valid length, so
    the mutations reach past the header parse (offsets, shapes, dtypes, metadata)."""
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    header = mutate_json(r, header)
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data[8 + n:]


# Findings in python/qgemm not fixed yet (signature: exception type and where it was raised),
# each pinned by a strict xfail regression test below: the fuzzers report only new ones.
KNOWN = {"AttributeError at serialization.py:parse_metadata",
         "TypeError at config.py:config_from_dict"}


def signature(e):
    tb = traceback.extract_tb(e.__traceback__)[-1]
    return f"{type(e).__name__} at {os.path.basename(tb.filename)}:{tb.name}"


def note(found, e, detail):
    """Record exception e (not the documented error) unless KNOWN or already seen; True if new."""
    sig = signature(e)
    if sig in KNOWN or sig in found:
        return False
    found[sig] = detail()
    return True


def fuzz(r, one, what, outcomes):
    """Run one(r, found) for SECONDS; fail on the findings (signature -> example) it noted."""
    found = {}
    deadline = time.monotonic() + SECONDS
    runs = 0
    while time.monotonic() < deadline:
        for _ in range(16):
            one(r, found)
            runs += 1
    assert not found, f"{what} raised other than the documented error:\n" + "\n".join(
        f"{k}: {v}" for k, v in found.items())
    assert runs > 50 and outcomes["rejected"] > 0, (runs, outcomes)


def test_fuzz_safetensors_loader(tmp_path, lib):
    seed = small_checkpoint(tmp_path)
    target = str(tmp_path / "mutated.safetensors")
    r = random.Random(15)
    outcomes = {"loaded": 0, "rejected": 0}

    def one(r, found):
        data = restructure(r, seed) if r.random() < 0.5 else mutate_bytes(r, seed)
        with open(target, "wb") as f:
            f.write(data)
        try:
            load_packed(target)
            outcomes["loaded"] += 1
        except SerializationError:
            outcomes["rejected"] += 1
        except Exception as e:  # noqa: BLE001 -- anything else is the bug we look for
            keep = str(tmp_path / f"failing-{len(found)}.safetensors")
            if note(found, e, lambda: f"{e} ({keep})"):
                os.replace(target, keep)

    fuzz(r, one, "load_packed", outcomes)


def test_fuzz_config_parsers(tmp_path):
    seeds = [config_to_dict(c) for c in (
        qgemm.Int4WeightOnlyConfig(group_size=64), qgemm.Int8WeightOnlyConfig(),
        qgemm.Int8DynamicActivationInt8WeightConfig(),
        qgemm.Float8DynamicActivationFloat8WeightConfig(),
        qgemm.Int8DynamicActivationInt4WeightConfig(group_size=32),
        qgemm.Float8DynamicActivationInt4WeightConfig(), qgemm.SemiSparseWeightConfig(),
        qgemm.ModuleFqnToConfig({"_default": qgemm.Int8WeightOnlyConfig(),
                                 "x.y": qgemm.Int4WeightOnlyConfig()}))]
    r = random.Random(16)
    outcomes = {"parsed": 0, "rejected": 0}

    def one(r, found):
        d = r.choice(seeds)
        if r.random() < 0.5:
            text = mutate_bytes(r, json.dumps(d).encode())
            try:
                d = json.loads(text)
            except ValueError:
                return
        else:
            d = mutate_json(r, d)
        block = {"quant_method": "qgemm", "quant_type": {"default": d}, "format_version": 1}
        for parse, arg in ((config_from_dict, d), (from_hf_quantization_config, block)):
            try:
                parse(arg)
                outcomes["parsed"] += 1
            except ConfigError:
                outcomes["rejected"] += 1
            except Exception as e:  # noqa: BLE001
                note(found, e, lambda: f"{parse.__name__}: {e} on {json.dumps(arg, default=str)[:300]}")

    fuzz(r, one, "the config parsers", outcomes)


# ---- the fuzzers' findings, as regression tests (fix in python/qgemm, then drop the xfail and
# the KNOWN entry)


@pytest.mark.xfail(strict=True, raises=AttributeError,
                   reason="fuzz finding: a safetensors header whose __metadata__ is not an "
                          "object (here 5) reaches parse_metadata, which calls md.get on it")
def test_metadata_not_an_object():
    with pytest.raises(SerializationError):
        parse_metadata(5, "f.safetensors")


@pytest.mark.xfail(strict=True, raises=TypeError,
                   reason="fuzz finding: config_from_dict looks an unhashable '_type' up in a "
                          "dict (TypeError, not ConfigError)")
def test_config_type_not_a_string():
    with pytest.raises(ConfigError):
        config_from_dict({"_type": {}, "_data": {}})


@pytest.mark.parametrize("field", ["data_offsets", "shape"])
def test_header_number_infinite(tmp_path, field):
    # fuzz finding (fixed): JSON Infinity in a tensor's offsets or shape made int() raise
    # OverflowError instead of SerializationError
    data = small_checkpoint(tmp_path)
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    name = next(k for k in header if k != "__metadata__")
    header[name][field][0] = float("inf")
    raw = json.dumps(header).encode()
    path = tmp_path / "inf.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + n:])
    with pytest.raises(SerializationError, match="bad header entry"):
        load_packed(str(path))
