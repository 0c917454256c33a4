"""The ctypes binding: loading, ABI checks, enum tables, status names and the error mapping."""
import ctypes
import os
import subprocess
import sys

import pytest

import qgemm
from qgemm import _lib
from qgemm.spec import WeightSpec


def test_library_loads_and_reports_version(lib):
    v = _lib.version()
    n = lib.qg_version_number()
    assert v == f"{n // 10000}.{n // 100 % 100}.{n % 100}"
    assert (n // 10000, n // 100 % 100) == _lib.BINDING_VERSION
    assert os.path.exists(_lib.library_path()) or "/" not in _lib.library_path()


def test_struct_sizes_match_the_library(lib):
    for cls, init in ((_lib.Problem, "qg_problem_init"), (_lib.GemmArgs, "qg_gemm_args_init"),
                      (_lib.ContextParams, "qg_context_params_init")):
        s = cls()
        getattr(lib, init)(ctypes.byref(s))
        assert s.struct_size == ctypes.sizeof(cls), cls.__name__


def test_problem_defaults_match_header(lib):
    p = _lib.Problem()
    lib.qg_problem_init(ctypes.byref(p))
    assert (p.scheme, p.group_size, p.act_dtype, p.out_dtype) == (0, 128, 2, 2)
    assert (p.weight_scale, p.act_scale, p.has_bias, p.has_zero_point) == (0, 0, 0, 0)


def test_status_table_matches_library(lib):
    for code, (name, desc) in _lib.STATUS.items():
        assert lib.qg_status_name(code).decode() == name
        assert lib.qg_status_string(code).decode() == desc
    assert lib.qg_status_name(999).decode() == "QG_UNKNOWN_STATUS"
    assert max(_lib.STATUS) == 18


def test_scheme_and_dtype_names_match_library(lib):
    for name, v in _lib.SCHEMES.items():
        assert lib.qg_scheme_name(v).decode() == name
        out = ctypes.c_int(-1)
        assert lib.qg_scheme_from_name(name.encode(), ctypes.byref(out)) == 0
        assert out.value == v
    assert lib.qg_scheme_from_name(b"w3a5", ctypes.byref(ctypes.c_int())) == 16  # NOT_FOUND
    for name, v in _lib.DTYPES.items():
        assert lib.qg_dtype_name(v).decode() == name
    assert set(_lib.SCHEMES) == set(qgemm.SCHEME_INFO)


def test_invalid_argument_maps_to_value_error_with_name_and_message(lib):
    spec = WeightSpec("w8a8-int8", 64, 100)  # K must be a multiple of 16
    with pytest.raises(qgemm.InvalidArgumentError) as ei:
        spec.sizes()
    e = ei.value
    assert isinstance(e, ValueError) and isinstance(e, qgemm.QGemmError)
    assert e.status == "QG_ERR_INVALID_ARGUMENT" and e.code == 1
    assert "multiple of 16" in e.message
    assert str(e).startswith("QG_ERR_INVALID_ARGUMENT: ")
    assert not e.message.startswith("QG_ERR_")  # the name is not repeated


def test_check_raises_subclass_per_status(lib):
    cases = {1: qgemm.InvalidArgumentError, 2: qgemm.InvalidArgumentError,
             4: qgemm.UnsupportedError, 5: qgemm.UnsupportedError, 6: qgemm.NoDeviceError,
             7: qgemm.NoDeviceError, 9: qgemm.NoDeviceError, 14: qgemm.CorruptError,
             15: qgemm.CorruptError, 18: qgemm.QGemmError}
    for code, cls in cases.items():
        with pytest.raises(cls) as ei:
            _lib.check(code)
        assert ei.value.status == _lib.STATUS[code][0]
        assert ei.value.code == code
    _lib.check(0)  # success raises nothing


def test_context_free_error_message_comes_from_the_library(lib):
    p = _lib.make_problem("sp24-int8", 1, 64, 96)  # K not a multiple of 64
    with pytest.raises(qgemm.InvalidArgumentError) as ei:
        _lib.check(lib.qg_problem_validate(ctypes.byref(p)))
    assert "multiple of 64" in ei.value.message
    assert "problem.c" in ei.value.message  # file:line of the library's check


def test_make_problem_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown scheme"):
        _lib.make_problem("w3a5", 1, 16, 16)
    with pytest.raises(ValueError, match="unknown dtype"):
        _lib.make_problem("w8a8-fp8", 1, 16, 16, out_dtype="f8")


def test_context_without_gpu_is_a_clear_error(lib):
    try:
        ctx = _lib.Context()
    except qgemm.NoDeviceError as e:
        assert e.status in ("QG_ERR_NO_DRIVER", "QG_ERR_NO_DEVICE", "QG_ERR_DRIVER_TOO_OLD",
                            "QG_ERR_NO_COMPILER")
        assert e.message  # says which library or device was missing
    else:  # a machine with a GPU: the context works
        assert ctx.info().name
        ctx.close()


def _load_in_subprocess(env_value):
    code = ("import qgemm._lib as L\n"
            "try:\n    L.lib()\nexcept L.LibraryNotFoundError as e:\n    print('ERR', e)\n"
            "else:\n    print('OK')\n")
    env = dict(os.environ, QGEMM_LIBRARY=env_value,
               PYTHONPATH=os.path.join(os.path.dirname(__file__), ".."))
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60).stdout


def test_missing_library_path_is_reported(tmp_path):
    out = _load_in_subprocess(str(tmp_path / "nope.so"))
    assert out.startswith("ERR") and "nope.so" in out and "does not exist" in out


def test_unloadable_library_is_reported(tmp_path):
    bad = tmp_path / "libqgemm.so"
    bad.write_bytes(b"not an ELF file")
    out = _load_in_subprocess(str(bad))
    assert out.startswith("ERR") and "cannot load" in out


def test_directory_in_qgemm_library_finds_the_file(lib):
    d = os.path.dirname(os.path.abspath(_lib.library_path()))
    out = _load_in_subprocess(d)
    assert out.strip() == "OK"


def test_version_mismatch_is_refused():
    class Fake:
        def qg_version_number(self):
            return 90000

    with pytest.raises(_lib.LibraryNotFoundError, match="this Python package binds"):
        _lib._check_abi(Fake(), "libfake.so")


def test_import_needs_no_torch():
    code = ("import sys\nsys.modules['torch'] = None\nimport qgemm\n"
            "from qgemm import host, config, serialization\n"
            "assert qgemm.Int4WeightOnlyConfig(group_size=64).group_size == 64\n"
            "try:\n    qgemm.QuantLinear\nexcept ImportError:\n    print('lazy')\n")
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(__file__), ".."))
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "lazy"
