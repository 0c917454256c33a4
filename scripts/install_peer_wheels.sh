#!/usr/bin/env bash
# On the GPU machine (no registry): installs the peer wheels of .whl/ (scripts/fetch_device_deps.sh)
# into a folder to put on PYTHONPATH, without dependencies (torch, triton and numpy are there).
#   scripts/install_peer_wheels.sh [DIR]      (default /tmp/site; prints DIR)
# Exits 1 when .whl holds no wheels: the torchao, mslk and gemlite peers would then be skipped.
set -euo pipefail
case "${1:-}" in -h|--help) sed -n '2,5p' "$0"; exit 0 ;; esac
cd "$(dirname "$0")/.."
site=${1:-/tmp/site}
if ! ls .whl/*.whl >/dev/null 2>&1; then
  echo "install_peer_wheels.sh: no wheels in .whl (run scripts/fetch_device_deps.sh where a" \
    "registry is reachable, and carry .whl)" >&2
  exit 1
fi
# One wheel at a time: one that does not suit this Python (mslk-cuda is built for CPython 3.12)
# costs only its own peers, which the bench then reports as skipped.
# Without pip, a wheel is a zip to unpack as it is (these three need no install-time step), but
# then nothing checks that it suits this Python.
for w in .whl/*.whl; do
  if python3 -m pip --version >/dev/null 2>&1; then
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-index \
      --no-deps --no-compile --upgrade --target "$site" "$w" >&2
  else
    mkdir -p "$site" && python3 -m zipfile -e "$w" "$site"
  fi || echo "install_peer_wheels.sh: $w did not install" >&2
done
echo "$site"
