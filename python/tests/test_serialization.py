"""Saving and loading packed weights with safetensors: round trips, files the official
safetensors library reads, and clear errors for corrupt, truncated or mismatched files.
The numpy path needs no torch; the torch round trip runs where torch is installed."""
import json
import struct

import numpy as np
import pytest

import qgemm
from qgemm import host
from qgemm.serialization import (SerializationError, load_packed, read_safetensors_numpy,
                                 save_packed, write_safetensors_numpy)
from qgemm.spec import WeightSpec

CFG = qgemm.ModuleFqnToConfig({
    "_default": qgemm.Int8DynamicActivationInt8WeightConfig(),
    "layers.1.down": qgemm.Int8DynamicActivationInt4WeightConfig(group_size=32),
    "layers.0.up": qgemm.Float8DynamicActivationFloat8SemiSparseWeightConfig()})


def packed_model(rng):
    """Three packed layers of different schemes plus plain tensors, like a small model."""
    mods = {}
    for fqn, scheme, kw, (n, k), bias in (
            ("layers.0.up", "sp24-fp8", {}, (96, 128), True),
            ("layers.0.down", "w8a8-int8", {}, (64, 96), False),
            ("layers.1.down", "w4a8-int8", dict(group_size=32), (64, 256), True)):
        spec = WeightSpec(scheme, n, k, **kw)
        w = (rng.standard_normal((n, k)) * 0.02).astype(np.float32)
        b = host.f32_to_bf16_bits(rng.standard_normal(n).astype(np.float32)) if bias else None
        mods[fqn] = (spec, host.quantize_weight(spec, w), b)
    other = {"embed.weight": host.f32_to_bf16_bits(rng.standard_normal((50, 16)).astype(
        np.float32)), "norm.weight": np.ones(16, np.float32), "step": np.array(3, np.int64)}
    return mods, other


@pytest.fixture
def saved(tmp_path, rng, lib):
    mods, other = packed_model(rng)
    path = str(tmp_path / "model.safetensors")
    save_packed(path, mods, other, quant_config=CFG)
    return path, mods, other


def test_round_trip(saved):
    path, mods, other = saved
    got, rest, qc = load_packed(path)
    assert qc == CFG
    assert set(got) == set(mods)
    for fqn, (spec, packed, bias) in mods.items():
        gspec, gpacked, gbias = got[fqn]
        assert gspec == spec
        assert set(gpacked) == {b for b, a in packed.items() if a.size}
        for b in gpacked:
            assert np.array_equal(gpacked[b], packed[b])
        assert (gbias is None) == (bias is None)
        if bias is not None:
            assert np.array_equal(gbias, bias)
    assert set(rest) == set(other)
    for k, v in other.items():
        assert np.array_equal(rest[k], v) and rest[k].shape == v.shape
    # The packed weights still compute the same thing after the trip.
    spec, packed, _ = got["layers.0.down"]
    assert np.array_equal(host.dequantize_weight(spec, packed),
                          host.dequantize_weight(*mods["layers.0.down"][:2]))


def test_file_is_standard_safetensors(saved):
    from safetensors import safe_open

    path, mods, _ = saved
    with safe_open(path, framework="np") as f:
        md = f.metadata()
        keys = set(f.keys())
        np.testing.assert_array_equal(f.get_tensor("layers.0.down.qweight"),
                                      mods["layers.0.down"][1]["weight"])
        np.testing.assert_array_equal(f.get_tensor("norm.weight"), np.ones(16, np.float32))
    assert md["format"] == "qgemm" and md["packed_format_version"] == "1"
    assert {"layers.0.up.qweight", "layers.0.up.qscale", "layers.0.up.qmeta", "layers.0.up.bias",
            "layers.1.down.qweight", "layers.1.down.qscale", "embed.weight"} <= keys
    assert "layers.0.down.qzero" not in keys  # buffers a scheme lacks are not stored
    hf = json.loads(md["quantization_config"])
    assert hf["quant_method"] == "qgemm"
    assert hf["quant_type"]["default"]["_type"] == "FqnToConfig"  # torchao 0.18 name
    with open(path, "rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(n))
    assert header["layers.0.up.bias"]["dtype"] == "BF16"  # bias bits stored as their type
    assert header["embed.weight"]["dtype"] == "U16"


def _tensor_offset(path, name):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    b, e = header[name]["data_offsets"]
    return 8 + n + b, 8 + n + e


@pytest.mark.parametrize("tensor", ["layers.1.down.qweight", "layers.0.up.qmeta",
                                    "norm.weight", "layers.0.up.bias"])
def test_flipped_byte_is_reported_with_its_tensor(saved, tensor):
    path = saved[0]
    b, e = _tensor_offset(path, tensor)
    raw = bytearray(open(path, "rb").read())
    raw[(b + e) // 2] ^= 0x01
    open(path, "wb").write(bytes(raw))
    with pytest.raises(SerializationError, match="CRC-32") as ei:
        load_packed(path)
    assert tensor in str(ei.value) and "corrupt" in str(ei.value)
    load_packed(path, verify_crc=False)  # the check can be skipped (structure still checked)


def test_truncated_file_is_reported(saved):
    path = saved[0]
    raw = open(path, "rb").read()
    for cut in (len(raw) - 7, 40, 5):
        open(path, "wb").write(raw[:cut])
        with pytest.raises(SerializationError, match="truncated|corrupt"):
            load_packed(path)


def test_garbage_and_foreign_files(tmp_path):
    p = tmp_path / "x.safetensors"
    p.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(SerializationError, match="cannot read as safetensors"):
        load_packed(str(p))
    from safetensors.numpy import save_file

    save_file({"w": np.ones((2, 2), np.float32)}, str(p))  # a plain, non-qgemm checkpoint
    with pytest.raises(SerializationError, match="not a qgemm quantized checkpoint"):
        load_packed(str(p))


def _rewrite_metadata(path, **changes):
    md, tensors = read_safetensors_numpy(path)
    dtypes = {}
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    for k, v in header.items():
        if k != "__metadata__" and v["dtype"] == "BF16":
            dtypes[k] = "BF16"
    md.update(changes)
    write_safetensors_numpy(path, {k: v.copy() for k, v in tensors.items()}, md, dtypes)


def test_version_mismatches_are_reported(saved):
    path = saved[0]
    _rewrite_metadata(path, packed_format_version="7")
    with pytest.raises(SerializationError, match="layout version 7"):
        load_packed(path)
    _rewrite_metadata(path, packed_format_version="1", qgemm_format_version="3")
    with pytest.raises(SerializationError, match="file format version 3"):
        load_packed(path)


def test_spec_not_matching_the_stored_bytes(saved):
    path = saved[0]
    md, _ = read_safetensors_numpy(path)
    mods = json.loads(md["qgemm_modules"])
    mods["layers.0.down"]["spec"]["n"] = 65
    _rewrite_metadata(path, qgemm_modules=json.dumps(mods))
    with pytest.raises(SerializationError, match="layers.0.down.*needs 6240"):
        load_packed(path)
    mods["layers.0.down"]["spec"]["k"] = 100  # not a multiple of 16: the library says why
    _rewrite_metadata(path, qgemm_modules=json.dumps(mods))
    with pytest.raises(SerializationError, match="rejects its spec.*multiple of 16"):
        load_packed(path)
    mods["layers.0.down"]["spec"] = {"scheme": "w8a8-int8", "n": 64}
    _rewrite_metadata(path, qgemm_modules=json.dumps(mods))
    with pytest.raises(SerializationError, match="unreadable"):
        load_packed(path)


def test_missing_tensor_is_reported(saved):
    path = saved[0]
    md, tensors = read_safetensors_numpy(path)
    del tensors["layers.0.up.qmeta"]
    write_safetensors_numpy(path, {k: v.copy() for k, v in tensors.items()}, md)
    with pytest.raises(SerializationError, match="layers.0.up.qmeta.*absent"):
        load_packed(path)
    crcs = json.loads(md["qgemm_crc32"])
    del crcs["layers.0.up.qmeta"]
    md["qgemm_crc32"] = json.dumps(crcs)
    write_safetensors_numpy(path, {k: v.copy() for k, v in tensors.items()}, md)
    with pytest.raises(SerializationError, match="'layers.0.up.qmeta' has 0 bytes"):
        load_packed(path)


def test_save_refuses_wrong_sizes(tmp_path, rng, lib):
    spec = WeightSpec("w8a8-fp8", 16, 64)
    packed = host.quantize_weight(spec, rng.standard_normal((16, 64)).astype(np.float32))
    packed["scale"] = packed["scale"][:4]
    with pytest.raises(SerializationError, match="qscale' has 4 bytes"):
        save_packed(str(tmp_path / "x.safetensors"), {"l": (spec, packed, None)})


# ---------------------------------------------------------------- torch models (local only)


def test_torch_model_round_trip(tmp_path, lib):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(128, 192), torch.nn.ReLU(),
                            torch.nn.Linear(192, 64, bias=False)).to(torch.bfloat16)
    cfg = qgemm.ModuleFqnToConfig({"_default": qgemm.Int8DynamicActivationInt8WeightConfig(),
                                   "2": qgemm.SemiSparseWeightConfig()})
    ref = qgemm.quantize_(m, cfg)
    x = torch.randn(3, 128, dtype=torch.bfloat16)
    y = ref(x)
    path = str(tmp_path / "m.safetensors")
    qgemm.save_quantized(ref, path)
    fresh = torch.nn.Sequential(torch.nn.Linear(128, 192), torch.nn.ReLU(),
                                torch.nn.Linear(192, 64, bias=False)).to(torch.bfloat16)
    got = qgemm.load_quantized(fresh, path)
    assert isinstance(got[0], qgemm.QuantLinear) and got[2].spec.scheme == "sp24-bf16"
    assert torch.equal(got(x), y)
    assert got._qgemm_config == cfg
    # The numpy loader reads the torch-written file too.
    mods, rest, qc = load_packed(path)
    assert set(mods) == {"0", "2"} and qc == cfg
    wrong = torch.nn.Sequential(torch.nn.Linear(128, 200), torch.nn.ReLU(),
                                torch.nn.Linear(200, 64, bias=False)).to(torch.bfloat16)
    with pytest.raises(SerializationError, match="Linear\\(128 -> 200\\)"):
        qgemm.load_quantized(wrong, path)


@pytest.mark.parametrize("bad", [1.5, "0x12", -1, 2 ** 32, True, None])
def test_checksum_that_is_not_a_crc32_is_reported(bad):
    # found by test_fuzz_loaders: a float checksum reached a "%x" format (ValueError)
    from qgemm.serialization import verify_crcs
    t = np.arange(4, dtype=np.uint8)
    crcs = {"w": bad} if bad is not None else {"w": None}
    match = "no checksum" if bad is None else "not a 32-bit integer"
    with pytest.raises(SerializationError, match=match):
        verify_crcs("f.safetensors", crcs, {"w": t}, lambda a: a)
