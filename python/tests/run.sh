#!/usr/bin/env bash
# Runs the Python package's tests on the CPU (binding, error mapping, packers against numpy,
# configs, save/load, the torch ops, quantize_ and docs/integration.md's example, the CLI's
# --json): no GPU needed. torch must be there (QGEMM_REQUIRE_TORCH=1): the torch tests run.
#   python/tests/run.sh [path/to/libqgemm.so]      (default: $QGEMM_LIBRARY, else build*/)
# The Python environment is $QGEMM_PYENV (default build-pyenv/), made or reused by
# scripts/python_env.sh with python/requirements-ci.txt (PyPI's numpy, pytest, torch, ...).
set -euo pipefail
cd "$(dirname "$0")/../.."
lib=${1:-${QGEMM_LIBRARY:-}}
if [ -n "$lib" ]; then
  [ -f "$lib" ] || { echo "python/tests/run.sh: $lib does not exist" >&2; exit 1; }
  export QGEMM_LIBRARY=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")
fi
py=$(scripts/python_env.sh "${QGEMM_PYENV:-build-pyenv}" python/requirements-ci.txt | tail -n 1)
QGEMM_REQUIRE_TORCH=1 exec "$py" -m pytest -q -p no:cacheprovider python/tests
