#!/usr/bin/env bash
# The GPU machine reaches no package registry: download the Debian packages the build needs
# here and unpack them into .deps/root (git-ignored), which tests/gpu/run.sh uses as a prefix;
# and the Python wheels of the peers that bench/torch_compare.py --peers compares with into .whl/
# (git-ignored; scripts/install_peer_wheels.sh puts them on the device's PYTHONPATH).
#   scripts/fetch_device_deps.sh [--no-wheels]
set -euo pipefail
cd "$(dirname "$0")/.."
wheels=1
case "${1:-}" in
  --no-wheels) wheels=0 ;;
  -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
  "") ;;
  *) echo "fetch_device_deps.sh: unknown option $1" >&2; exit 2 ;;
esac
mkdir -p .deps/debs .deps/root
(cd .deps/debs && apt-get download libcjson1 libcjson-dev libxxhash0 libxxhash-dev \
    libbenchmark1debian libbenchmark-dev >/dev/null)
for f in .deps/debs/*.deb; do dpkg -x "$f" .deps/root; done
echo "unpacked into .deps/root: $(ls .deps/debs | tr '\n' ' ')"
scripts/fetch_cutlass.sh # CUTLASS headers as .deps/cutlass-include.tar.xz (~1 MB)
[ $wheels -eq 1 ] || exit 0

# Wheels for the device's CPython 3.12 on x86_64 (torch itself is already there): torchao 0.18,
# mslk-cuda 1.1.0 (the CUTLASS kernels torchao's int4 and fp8 configs call on H100) and gemlite
# 0.6, which PyPI has only as an sdist: built into a wheel here (pure Python + Triton).
pip=(python3 -m pip -q --disable-pip-version-check)
target=(--only-binary=:all: --python-version 3.12 --platform manylinux_2_28_x86_64)
mkdir -p .whl
"${pip[@]}" download --no-deps -d .whl "${target[@]}" torchao==0.18.0 mslk-cuda==1.1.0
if ! ls .whl/gemlite-0.6.0.post2-*.whl >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  "${pip[@]}" download --no-deps --no-binary=:all: -d "$tmp" gemlite==0.6.0.post2
  "${pip[@]}" wheel --no-deps -w .whl "$tmp"/gemlite-*.tar.gz
  rm -rf "$tmp"
fi
# The device tool carries at most 64 MiB in all (.deps too): keep the wheels under 55 MB.
mb=$(du -cm .whl/*.whl | tail -1 | cut -f1)
echo "wheels in .whl (${mb} MB): $(cd .whl && ls *.whl | tr '\n' ' ')"
if [ "$mb" -gt 55 ]; then
  echo "fetch_device_deps.sh: .whl holds ${mb} MB, over the 55 MB budget (remove stale wheels)" >&2
  exit 1
fi
