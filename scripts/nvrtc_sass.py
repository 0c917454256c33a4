#!/usr/bin/env python3
"""Compile one kernel source the way the JIT does (NVRTC, every kernels/cuda/*.cuh as a header,
-default-device --std=c++17, a real sm_XX), with ptxas verbose output, and summarize the SASS:
registers, stack/spills, ptxas warnings, and counts of the instructions that matter for the
Hopper kernels (TMA, mbarrier, wgmma, setmaxnreg, local memory). Needs libnvrtc and cuobjdump,
no GPU.

  python3 scripts/nvrtc_sass.py kernels/cuda/w8a8_fp8_wgmma_ws.cu -D QG_BN=256 -D QG_ST=4 \\
      [--arch sm_90a] [--cubin out.cubin] [--sass out.sass] [--opt=-I/path ...]

--opt passes one more NVRTC option (repeatable), e.g. the CUTLASS include directories of
kernels/cutlass/*.cu (src/runtime/cutlass_jit.c lists the ones the JIT uses).
"""
import argparse
import collections
import ctypes
import glob
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WATCH = ("UTMALDG", "UTMASTG", "UTMACCTL", "SYNCS", "HGMMA", "QGMMA", "IGMMA", "WARPGROUP",
         "USETMAXREG", "LDL", "STL", "BAR", "STG", "LDG", "SHFL")


def nvrtc_compile(path, arch, defines, extra=()):
    lib = ctypes.CDLL(os.environ.get("QGEMM_NVRTC_LIBRARY", "libnvrtc.so.13"))
    hdrs = sorted(glob.glob(os.path.join(ROOT, "kernels", "cuda", "*.cuh")))
    n = len(hdrs)
    names = (ctypes.c_char_p * n)(*[os.path.basename(h).encode() for h in hdrs])
    datas = (ctypes.c_char_p * n)(*[open(h, "rb").read() for h in hdrs])
    prog = ctypes.c_void_p()
    src = open(path, "rb").read()
    if lib.nvrtcCreateProgram(ctypes.byref(prog), src, os.path.basename(path).encode(), n, datas,
                              names):
        sys.exit("nvrtcCreateProgram failed")
    opts = ["--gpu-architecture=" + arch, "-default-device", "--std=c++17",
            "--ptxas-options=-v", "--ptxas-options=--warn-on-spills",
            "--ptxas-options=--warn-on-local-memory-usage"] + ["-D" + d for d in defines] + list(extra)
    copts = (ctypes.c_char_p * len(opts))(*[o.encode() for o in opts])
    rc = lib.nvrtcCompileProgram(prog, len(opts), copts)
    size = ctypes.c_size_t()
    lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetProgramLog(prog, log)
    if rc:
        sys.exit("compile failed:\n" + log.value.decode())
    lib.nvrtcGetCUBINSize(prog, ctypes.byref(size))
    cubin = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetCUBIN(prog, cubin)
    return log.value.decode(), cubin.raw


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("source")
    ap.add_argument("-D", dest="defines", action="append", default=[])
    ap.add_argument("--arch", default="sm_90a")
    ap.add_argument("--cubin")
    ap.add_argument("--sass")
    ap.add_argument("--opt", action="append", default=[], help="one more NVRTC option")
    a = ap.parse_args()
    log, cubin = nvrtc_compile(a.source, a.arch, a.defines, a.opt)
    with tempfile.TemporaryDirectory() as tmp:
        path = a.cubin or os.path.join(tmp, "k.cubin")
        open(path, "wb").write(cubin)
        sass = subprocess.run(["cuobjdump", "-sass", path], capture_output=True, text=True,
                              check=True).stdout
        res = subprocess.run(["cuobjdump", "-res-usage", path], capture_output=True, text=True,
                             check=True).stdout
    if a.sass:
        open(a.sass, "w").write(sass)
    for line in log.splitlines():
        if "Used" in line or "spill" in line or "warning" in line.lower() or "stack" in line:
            print(line.strip())
    for line in res.splitlines():
        if "REG:" in line:
            print(line.strip())
    ops = collections.Counter()
    maxreg = 0
    for line in sass.splitlines():
        m = re.match(r"\s+/\*[0-9a-f]+\*/\s+(?:@!?U?P\w+\s+)?([A-Za-z0-9_.]+)", line)
        if not m:
            continue
        op = m.group(1)
        ops["(all)"] += 1
        for r in re.findall(r"\bR(\d+)\b", line):
            maxreg = max(maxreg, int(r))
        if op.split(".")[0] in WATCH:
            ops[op] += 1
    print("highest register index: R%d" % maxreg)
    for op, n in sorted(ops.items()):
        print("%6d  %s" % (n, op))


if __name__ == "__main__":
    main()
