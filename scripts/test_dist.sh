#!/usr/bin/env bash
# Checks what users install, on the CPU: (0) scripts/python_env.sh's venv reuse; (1) the wheel (scripts/build_wheel.sh) installed into a
# fresh venv: its manylinux tag, `import qgemm`, the `qgemm` command, the Python tests against
# the installed copy with QGEMM_LIBRARY unset, the embedded kernel sources; (2) `cmake --install`
# of the release build, moved to another directory, used by a consumer project
# (tests/consumer) through pkg-config and through find_package(qgemm), shared and static.
#   scripts/test_dist.sh [build-dir-prefix]     (default build; needs PREFIX-release built)
set -euo pipefail
case "${1:-}" in
  -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  -*) echo "test_dist.sh: unknown option $1 (usage: scripts/test_dist.sh [build-dir-prefix])" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
root=$PWD
prefix=${1:-build}
[ -f "$prefix-release/libqgemm.so" ] || { echo "test_dist.sh: build $prefix-release first (scripts/test.sh)" >&2; exit 1; }
work=$(realpath -m "$prefix-dist")
rm -rf "$work"
mkdir -p "$work"
pass=0
check() { echo "ok: $*"; pass=$((pass + 1)); }
die() { echo "FAIL: $*" >&2; echo "test_dist: $pass passed, 1 failed"; exit 1; }

echo "== scripts/python_env.sh"
tests/test_python_env.sh > "$work/python_env.log" 2>&1 || { cat "$work/python_env.log"; die "tests/test_python_env.sh"; }
check "$(tail -n 1 "$work/python_env.log")"

echo "== wheel"
export QGEMM_PYENV=${QGEMM_PYENV:-$prefix-pyenv}
whl=$(scripts/build_wheel.sh -o "$work" "$prefix-wheel" | tail -n 1)
case "$(basename "$whl")" in
  qgemm-*-py3-none-manylinux_2_*_"$(uname -m)".whl) check "tag $(basename "$whl")" ;;
  *) echo "FAIL: wheel tag: $whl" >&2; exit 1 ;;
esac
py=$(scripts/python_env.sh "$QGEMM_PYENV" python/requirements-build.txt | tail -n 1)
"$py" -m auditwheel show "$whl" > "$work/auditwheel.txt" || die "auditwheel show $whl"
grep -q "is consistent with" "$work/auditwheel.txt" || die "auditwheel show: $(cat "$work/auditwheel.txt")"
check "auditwheel show: $(grep -o 'manylinux_2_[0-9]*_[a-z0-9_]*' "$work/auditwheel.txt" | head -n 1)"

# A fresh venv with the wheel and the test packages only, nothing of this checkout on its paths.
base=${PYTHON:-python3}
"$base" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$whl" \
    -r python/requirements-test.txt
clean=(env -u QGEMM_LIBRARY -u QGEMM_DATA_DIR -u QGEMM_TUNING_DB -u PYTHONPATH -u LD_LIBRARY_PATH)
v=$(cd / && "${clean[@]}" "$work/venv/bin/python" -c "import qgemm; print(qgemm.version())")
[ "$v" = "$(sed -n 's/^version = "\(.*\)"/\1/p' python/pyproject.toml)" ] || die "import qgemm: version '$v'"
check "import qgemm: version $v"
(cd / && "${clean[@]}" "$work/venv/bin/qgemm" info --json) > "$work/info.json"
"$work/venv/bin/python" - "$work/info.json" "$work/venv" <<'PY' || die "qgemm info --json: $(cat "$work/info.json")"
import json, os, sys
info = json.load(open(sys.argv[1]))
d = info["data_dir"]
assert d["source"] == "library" and d["databases"], d
assert os.path.realpath(d["path"]).startswith(os.path.realpath(sys.argv[2]) + "/"), d
PY
check "qgemm info --json: shipped databases found inside the installed package"
# The kernel sources live in the library (embedded at build time), not in files beside it.
"$work/venv/bin/python" - "$work/venv" kernels <<'PY' || die "kernel sources embedded in libqgemm.so"
import glob, sys
lib = glob.glob(sys.argv[1] + "/lib/python*/site-packages/qgemm/lib/libqgemm.so")[0]
data = open(lib, "rb").read()
files = glob.glob(sys.argv[2] + "/cuda/*") + glob.glob(sys.argv[2] + "/hip/*")
missing = [f for f in files if open(f, "rb").read() + b"\0" not in data]
assert files and not missing, missing
PY
check "every kernels/ source is embedded in the installed libqgemm.so"
if ldconfig -p 2>/dev/null | grep -q libamdhip64; then  # hiprtc: one embedded kernel, ~2 s
  (cd / && "${clean[@]}" "$work/venv/bin/qgemm" check --arch gfx90a >/dev/null 2>&1) \
    || die "installed qgemm check --arch gfx90a"
  check "installed qgemm compiles its embedded kernels (gfx90a, from /)"
fi
"${clean[@]}" QGEMM_TEST_INSTALLED=1 "$work/venv/bin/python" -m pytest -q -p no:cacheprovider \
    python/tests || die "Python tests against the installed wheel"
check "Python tests against the installed wheel"

echo "== consumer projects against a moved install prefix"
cmake --install "$prefix-release" --prefix "$work/staged" >/dev/null
mv "$work/staged" "$work/moved"   # relocatable: nothing may point at the install-time prefix
inst=$work/moved
if grep -rIlE -e "$work/staged|$root|/[^ \";]*libcjson" "$inst/lib/pkgconfig" "$inst/lib/cmake"; then
  echo "FAIL: absolute paths in the installed package files (above)" >&2; exit 1
fi
check "no absolute path in qgemm.pc or the CMake package"
cc_flags=$(PKG_CONFIG_PATH=$inst/lib/pkgconfig pkg-config --cflags --libs qgemm)
cc tests/consumer/consumer.c $cc_flags -o "$work/consumer_pc"
LD_LIBRARY_PATH=$inst/lib "$work/consumer_pc" || die "consumer via pkg-config"
check "pkg-config: $cc_flags"
static_flags=$(PKG_CONFIG_PATH=$inst/lib/pkgconfig pkg-config --static --libs qgemm)
cc tests/consumer/consumer.c $(PKG_CONFIG_PATH=$inst/lib/pkgconfig pkg-config --cflags qgemm) \
   -Wl,-Bstatic -lqgemm -Wl,-Bdynamic ${static_flags/-lqgemm/} -o "$work/consumer_pc_static"
"$work/consumer_pc_static" || die "consumer via pkg-config --static"
check "pkg-config --static: $static_flags"
for kind in OFF ON; do
  cmake -S tests/consumer -B "$work/cmake-$kind" -DCMAKE_PREFIX_PATH="$inst" -DQGEMM_STATIC=$kind >/dev/null
  cmake --build "$work/cmake-$kind" >/dev/null
  LD_LIBRARY_PATH=$inst/lib "$work/cmake-$kind/consumer" || die "consumer via find_package, static=$kind"
  check "find_package(qgemm), static=$kind"
done
(cd / && "$inst/bin/qgemm" info --json) > "$work/info-prefix.json"
grep -q "\"path\":.*\"$inst/share/qgemm/tuning_db\"" "$work/info-prefix.json" \
  || die "moved prefix's qgemm info: $(cat "$work/info-prefix.json")"
check "moved prefix's qgemm finds its shipped databases"
echo "test_dist: $pass passed, 0 failed"
