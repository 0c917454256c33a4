"""ctypes binding over libqgemm's C ABI (include/qgemm.h). No compiled extension: works with
any Python/torch version. The structs here mirror the header field by field; load() checks
their sizes against the struct_size the library itself writes, so a drifted header is caught
at load time instead of corrupting memory."""

import ctypes
import ctypes.util
import glob
import os
import threading
from ctypes import (POINTER, Structure, c_char, c_char_p, c_float, c_int, c_int32,
                    c_int64, c_size_t, c_uint, c_uint16, c_uint8, c_void_p)

# Enums (values are stable, see include/qgemm.h).
SCHEMES = {"w4a16": 0, "w8a16": 1, "w8a8-int8": 2, "w8a8-fp8": 3, "w4a8-fp8": 4,
           "w4a8-int8": 5, "sp24-fp8": 6, "sp24-int8": 7, "sp24-bf16": 8}
SCHEME_NAMES = {v: k for k, v in SCHEMES.items()}
DTYPES = {"f32": 0, "f16": 1, "bf16": 2, "fp8_e4m3": 3, "int8": 4, "int4": 5, "int32": 6,
          "f64": 7}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}
PER_ROW, PER_TENSOR, PER_GROUP = 0, 1, 2

# QG_STATUS_LIST of include/qgemm.h: value -> (name, description). Mirrored so errors can be
# named even when the library cannot be loaded; tests check it against qg_status_name().
STATUS = {
    0: ("QG_SUCCESS", "success"),
    1: ("QG_ERR_INVALID_ARGUMENT", "invalid argument"),
    2: ("QG_ERR_NULL_POINTER", "a required pointer is NULL"),
    3: ("QG_ERR_OUT_OF_MEMORY", "out of host or device memory"),
    4: ("QG_ERR_UNSUPPORTED", "problem not supported by any kernel"),
    5: ("QG_ERR_UNSUPPORTED_ARCH", "scheme not supported on this GPU architecture"),
    6: ("QG_ERR_NO_DRIVER", "GPU driver library not found"),
    7: ("QG_ERR_NO_DEVICE", "no usable GPU device"),
    8: ("QG_ERR_DRIVER_TOO_OLD", "GPU driver too old"),
    9: ("QG_ERR_NO_COMPILER", "runtime compiler (NVRTC/hiprtc) not found"),
    10: ("QG_ERR_COMPILE", "kernel compilation failed"),
    11: ("QG_ERR_LAUNCH", "kernel launch failed"),
    12: ("QG_ERR_DEVICE", "GPU driver call failed"),
    13: ("QG_ERR_IO", "file input/output error"),
    14: ("QG_ERR_CORRUPT", "file is corrupt or truncated"),
    15: ("QG_ERR_DB_MISMATCH", "tuning database was made for another environment"),
    16: ("QG_ERR_NOT_FOUND", "not found"),
    17: ("QG_ERR_NO_BLAS", "cuBLASLt not found"),
    18: ("QG_ERR_INTERNAL", "internal error"),
}
STATUS_CODES = {name: code for code, (name, _) in STATUS.items()}

# The library major.minor this binding was written for (QG_VERSION_NUMBER = major*10000+minor*100).
BINDING_VERSION = (0, 1)


class Problem(Structure):
    _fields_ = [("struct_size", c_size_t), ("scheme", c_int), ("m", c_int64), ("n", c_int64),
                ("k", c_int64), ("group_size", c_int32), ("has_zero_point", c_int32),
                ("act_dtype", c_int), ("out_dtype", c_int), ("weight_scale", c_int),
                ("act_scale", c_int), ("has_bias", c_int32)]


class PackedSizes(Structure):
    _fields_ = [("weight_bytes", c_size_t), ("scale_bytes", c_size_t), ("zero_bytes", c_size_t),
                ("meta_bytes", c_size_t)]


class PackedWeight(Structure):
    _fields_ = [("weight", c_void_p), ("scale", c_void_p), ("zero", c_void_p),
                ("meta", c_void_p)]


class GemmArgs(Structure):
    _fields_ = [("struct_size", c_size_t), ("a", c_void_p), ("a_scale", c_void_p),
                ("w", PackedWeight), ("bias", c_void_p), ("c", c_void_p), ("lda", c_int64),
                ("ldc", c_int64), ("workspace", c_void_p), ("workspace_bytes", c_size_t)]


class ContextParams(Structure):
    _fields_ = [("struct_size", c_size_t), ("backend", c_int), ("device", c_int),
                ("cache_dir", c_char_p), ("disable_disk_cache", c_int), ("tuning_db", c_char_p),
                ("verbose", c_int)]


class DeviceInfo(Structure):
    _fields_ = [("name", c_char * 256), ("arch", c_char * 16), ("cc_major", c_int),
                ("cc_minor", c_int), ("sm_count", c_int), ("l2_bytes", c_int),
                ("smem_optin", c_int), ("driver_version", c_int), ("compiler_version", c_int),
                ("total_mem", c_size_t), ("backend", c_int)]


class QGemmError(RuntimeError):
    """A libqgemm call failed: .status is the status name (e.g. 'QG_ERR_UNSUPPORTED'), .code its
    number, .message the library's detailed message (qg_last_error). check() raises the subclass
    that matches the status (UnsupportedError, InvalidArgumentError, ...), all QGemmError."""

    def __init__(self, status, message):
        message = message or ""
        if message.startswith(status + ": "):  # the library's messages start with the name
            message = message[len(status) + 2:]
        super().__init__(f"{status}: {message}" if message else status)
        self.status = status
        self.code = STATUS_CODES.get(status, -1)
        self.message = message


class InvalidArgumentError(QGemmError, ValueError):
    """QG_ERR_INVALID_ARGUMENT / QG_ERR_NULL_POINTER: the call's arguments are wrong."""


class UnsupportedError(QGemmError):
    """QG_ERR_UNSUPPORTED / QG_ERR_UNSUPPORTED_ARCH: no kernel (yet) for this problem or GPU."""


class NoDeviceError(QGemmError):
    """QG_ERR_NO_DRIVER / QG_ERR_NO_DEVICE / QG_ERR_DRIVER_TOO_OLD / QG_ERR_NO_COMPILER."""


class CorruptError(QGemmError):
    """QG_ERR_CORRUPT / QG_ERR_DB_MISMATCH / QG_ERR_IO: a file could not be used."""


class LibraryNotFoundError(OSError):
    """libqgemm could not be found or loaded (says where it looked and why)."""


_ERROR_CLASSES = {
    "QG_ERR_INVALID_ARGUMENT": InvalidArgumentError, "QG_ERR_NULL_POINTER": InvalidArgumentError,
    "QG_ERR_UNSUPPORTED": UnsupportedError, "QG_ERR_UNSUPPORTED_ARCH": UnsupportedError,
    "QG_ERR_NO_DRIVER": NoDeviceError, "QG_ERR_NO_DEVICE": NoDeviceError,
    "QG_ERR_DRIVER_TOO_OLD": NoDeviceError, "QG_ERR_NO_COMPILER": NoDeviceError,
    "QG_ERR_CORRUPT": CorruptError, "QG_ERR_DB_MISMATCH": CorruptError, "QG_ERR_IO": CorruptError,
}


def error_for(status_name, message):
    """The QGemmError subclass instance for a status name."""
    return _ERROR_CLASSES.get(status_name, QGemmError)(status_name, message)


_SONAMES = ("libqgemm.so", "libqgemm.so.0", "libqgemm.dylib", "qgemm.dll")


def library_candidates():
    """Where the library is looked for, in order: $QGEMM_LIBRARY (a file, or a directory holding
    libqgemm.so), package data (qgemm/lib/ or qgemm/ beside this file), then the system
    (ctypes.util.find_library, i.e. the dynamic linker's paths). Returns (origin, path) pairs."""
    out = []
    env = os.environ.get("QGEMM_LIBRARY")
    if env:
        if os.path.isdir(env):
            for so in _SONAMES:
                out.append(("QGEMM_LIBRARY", os.path.join(env, so)))
        else:
            out.append(("QGEMM_LIBRARY", env))
        return out  # an explicit choice is never silently replaced by another library
    here = os.path.dirname(os.path.abspath(__file__))
    for d in (os.path.join(here, "lib"), here):
        for so in _SONAMES:
            out.append(("package", os.path.join(d, so)))
        out.extend(("package", p) for p in sorted(glob.glob(os.path.join(d, "libqgemm.so.*"))))
    found = ctypes.util.find_library("qgemm")
    if found:
        out.append(("system", found))
    return out


def _find_library():
    tried = []
    for origin, path in library_candidates():
        if origin == "system" or os.path.exists(path):
            return path
        tried.append(f"{path} ({origin})")
    if os.environ.get("QGEMM_LIBRARY"):
        raise LibraryNotFoundError(
            f"QGEMM_LIBRARY={os.environ['QGEMM_LIBRARY']} does not exist (tried: "
            f"{', '.join(tried)})")
    raise LibraryNotFoundError(
        "libqgemm not found: install the qgemm wheel (scripts/build_wheel.sh; it holds the "
        "library), set QGEMM_LIBRARY to the path of libqgemm.so, put it in the qgemm package "
        "directory (qgemm/lib/), or install it where the dynamic linker finds it "
        f"(tried: {', '.join(tried) or 'nothing'} and the system paths)")


_lib = None
_lib_lock = threading.Lock()

P = POINTER
# name -> (restype, argtypes). Every function of include/qgemm.h the package uses.
_SIGNATURES = {
    "qg_version_number": (c_uint, []),
    "qg_version_string": (c_char_p, []),
    "qg_status_name": (c_char_p, [c_int]),
    "qg_status_string": (c_char_p, [c_int]),
    "qg_last_error": (c_char_p, [c_void_p]),
    "qg_dtype_name": (c_char_p, [c_int]),
    "qg_scheme_name": (c_char_p, [c_int]),
    "qg_scheme_from_name": (c_int, [c_char_p, P(c_int)]),
    "qg_problem_init": (None, [P(Problem)]),
    "qg_problem_validate": (c_int, [P(Problem)]),
    "qg_packed_sizes_get": (c_int, [P(Problem), P(PackedSizes)]),
    "qg_quantize_weight": (c_int, [P(Problem), c_void_p, c_int64, P(PackedWeight)]),
    "qg_quantize_weight_bf16": (c_int, [P(Problem), c_void_p, c_int64, P(PackedWeight)]),
    "qg_dequantize_weight_host": (c_int, [P(Problem), P(PackedWeight), c_void_p, c_int64]),
    "qg_quantize_activations_host": (c_int, [P(Problem), c_void_p, c_void_p, c_void_p]),
    "qg_reference_gemm": (c_int, [P(Problem), c_void_p, c_void_p, P(PackedWeight), c_void_p,
                                  c_void_p]),
    "qg_bf16_to_f32": (c_float, [c_uint16]),
    "qg_f32_to_bf16": (c_uint16, [c_float]),
    "qg_f16_to_f32": (c_float, [c_uint16]),
    "qg_f32_to_f16": (c_uint16, [c_float]),
    "qg_e4m3_to_f32": (c_float, [c_uint8]),
    "qg_f32_to_e4m3": (c_uint8, [c_float]),
    "qg_context_params_init": (None, [P(ContextParams)]),
    "qg_context_create": (c_int, [P(c_void_p), P(ContextParams)]),
    "qg_context_destroy": (None, [c_void_p]),
    "qg_context_device_info": (c_int, [c_void_p, P(DeviceInfo)]),
    "qg_context_cache_dir": (c_char_p, [c_void_p]),
    "qg_malloc": (c_int, [c_void_p, P(c_void_p), c_size_t]),
    "qg_free": (c_int, [c_void_p, c_void_p]),
    "qg_memcpy_htod": (c_int, [c_void_p, c_void_p, c_void_p, c_size_t]),
    "qg_memcpy_dtoh": (c_int, [c_void_p, c_void_p, c_void_p, c_size_t]),
    "qg_synchronize": (c_int, [c_void_p]),
    "qg_gemm_args_init": (None, [P(GemmArgs)]),
    "qg_prepare": (c_int, [c_void_p, P(Problem), c_int]),
    "qg_gemm": (c_int, [c_void_p, P(Problem), P(GemmArgs), c_void_p]),
    "qg_gemm_with_kernel": (c_int, [c_void_p, P(Problem), P(GemmArgs), c_char_p, c_void_p]),
    "qg_gemm_workspace_size": (c_int, [c_void_p, P(Problem), P(c_size_t)]),
    "qg_quantize_activations": (c_int, [c_void_p, P(Problem), c_void_p, c_void_p, c_void_p,
                                        c_void_p]),
    "qg_dequantize_weight": (c_int, [c_void_p, P(Problem), P(PackedWeight), c_void_p, c_int,
                                     c_void_p]),
    "qg_explain": (c_int, [c_void_p, P(Problem), c_char_p, c_size_t]),
    "qg_catalog_size": (c_int, []),
    "qg_catalog_variant_id": (c_char_p, [c_int]),
}


def _check_abi(L, path):
    """Refuse a library whose major/minor or struct layouts differ from this binding."""
    v = L.qg_version_number()
    major, minor = v // 10000, (v // 100) % 100
    if (major, minor) != BINDING_VERSION:
        raise LibraryNotFoundError(
            f"{path} is libqgemm {major}.{minor}.{v % 100}; this Python package binds "
            f"{BINDING_VERSION[0]}.{BINDING_VERSION[1]}.x: install matching versions")
    for cls, init in ((Problem, "qg_problem_init"), (GemmArgs, "qg_gemm_args_init"),
                      (ContextParams, "qg_context_params_init")):
        s = cls()
        getattr(L, init)(ctypes.byref(s))
        if s.struct_size != ctypes.sizeof(cls):
            raise LibraryNotFoundError(
                f"{path}: {cls.__name__} is {s.struct_size} bytes in the library but "
                f"{ctypes.sizeof(cls)} in the binding: include/qgemm.h and python/qgemm/_lib.py "
                "disagree")


def lib():
    """The loaded library with prototypes set (loaded once, thread-safe). Raises
    LibraryNotFoundError (an OSError) saying where it looked, or why loading failed."""
    global _lib
    if _lib is not None:
        return _lib
    with _lib_lock:
        if _lib is not None:
            return _lib
        path = _find_library()
        try:
            L = ctypes.CDLL(path)
        except OSError as e:
            raise LibraryNotFoundError(f"cannot load libqgemm from {path}: {e}") from e
        for name, (res, args) in _SIGNATURES.items():
            try:
                f = getattr(L, name)
            except AttributeError as e:
                raise LibraryNotFoundError(
                    f"{path} lacks {name}: not a libqgemm of this version") from e
            f.restype = res
            f.argtypes = args
        _check_abi(L, path)
        L._qgemm_path = path
        _lib = L
        return L


def library_path():
    """Path of the loaded library."""
    return lib()._qgemm_path


def version():
    return lib().qg_version_string().decode()


def status_name(code):
    try:
        return lib().qg_status_name(code).decode()
    except OSError:
        return STATUS.get(code, ("QG_UNKNOWN_STATUS", ""))[0]


def _handle(ctx):
    if ctx is None:
        return None
    if isinstance(ctx, Context):
        return ctx.handle
    return ctx


def check(status, ctx=None):
    """Raise the QGemmError subclass for a non-zero status, with the library's status name and
    detailed message (the context's last error, else the calling thread's)."""
    if status != 0:
        L = lib()
        name = L.qg_status_name(status).decode()
        h = _handle(ctx)
        msg = (L.qg_last_error(h) or b"").decode(errors="replace")
        if not msg and h is not None:
            msg = (L.qg_last_error(None) or b"").decode(errors="replace")
        if not msg:
            msg = L.qg_status_string(status).decode()
        raise error_for(name, msg)


def _enum(value, table, what):
    if isinstance(value, str):
        if value not in table:
            raise ValueError(f"unknown {what} {value!r}; one of {', '.join(table)}")
        return table[value]
    return int(value)


def make_problem(scheme, m, n, k, group_size=128, zero_point=False, act_dtype="bf16",
                 out_dtype="bf16", weight_scale=PER_ROW, act_scale=PER_ROW, bias=False):
    p = Problem()
    lib().qg_problem_init(ctypes.byref(p))
    p.scheme = _enum(scheme, SCHEMES, "scheme")
    p.m, p.n, p.k = m, n, k
    p.group_size = group_size
    # qg_zero_point_kind: 0 none, 1 integer, 2 float (w4a16)
    p.has_zero_point = 2 if zero_point == "float" else int(bool(zero_point))
    p.act_dtype = _enum(act_dtype, DTYPES, "dtype")
    p.out_dtype = _enum(out_dtype, DTYPES, "dtype")
    p.weight_scale = weight_scale
    p.act_scale = act_scale
    p.has_bias = int(bool(bias))
    return p


def packed_sizes(p):
    """qg_packed_sizes_get as a dict {'weight': bytes, 'scale': ..., 'zero': ..., 'meta': ...}."""
    sz = PackedSizes()
    check(lib().qg_packed_sizes_get(ctypes.byref(p), ctypes.byref(sz)))
    return {"weight": sz.weight_bytes, "scale": sz.scale_bytes, "zero": sz.zero_bytes,
            "meta": sz.meta_bytes}


class Context:
    """A qgemm context on one device (the device's primary CUDA context, shared with torch)."""

    def __init__(self, device=0, tuning_db=None, cache_dir=None, verbose=False):
        self.handle = None
        L = lib()
        prm = ContextParams()
        L.qg_context_params_init(ctypes.byref(prm))
        prm.device = device
        prm.verbose = int(verbose)
        if tuning_db is not None:
            prm.tuning_db = tuning_db.encode()
        if cache_dir is not None:
            prm.cache_dir = cache_dir.encode()
        h = c_void_p()
        check(L.qg_context_create(ctypes.byref(h), ctypes.byref(prm)))
        self.handle = h
        self.device = device

    def close(self):
        if self.handle:
            lib().qg_context_destroy(self.handle)
            self.handle = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def info(self):
        d = DeviceInfo()
        check(lib().qg_context_device_info(self.handle, ctypes.byref(d)), self.handle)
        return d

    def prepare(self, problems):
        """qg_prepare for a list of Problem structs (compiles/loads their kernels now)."""
        if not problems:
            return
        arr = (Problem * len(problems))(*problems)
        check(lib().qg_prepare(self.handle, arr, len(problems)), self.handle)

    def workspace_size(self, p):
        n = c_size_t()
        check(lib().qg_gemm_workspace_size(self.handle, ctypes.byref(p), ctypes.byref(n)),
              self.handle)
        return n.value

    def explain(self, p):
        buf = ctypes.create_string_buffer(512)
        check(lib().qg_explain(self.handle, ctypes.byref(p), buf, 512), self.handle)
        return buf.value.decode()


_contexts = {}
_contexts_lock = threading.Lock()


def get_context(device=0):
    """The process-wide shared Context of a device ordinal (created on first use; the tuning
    database and cache directory come from $QGEMM_TUNING_DB / $QGEMM_CACHE_DIR)."""
    ctx = _contexts.get(device)
    if ctx is None:
        with _contexts_lock:
            ctx = _contexts.get(device)
            if ctx is None:
                ctx = Context(device=device,
                              verbose=os.environ.get("QGEMM_VERBOSE", "") not in ("", "0"))
                _contexts[device] = ctx
    return ctx
