#!/usr/bin/env bash
# CI stage of the engine and checkpoint integrations (issue 14), on the CPU: installs
# python/tests/requirements-integrations.txt (real vLLM, SGLang, transformers, torchao) into the
# given Python's environment, then runs the tests that use them against the real packages.
#   python/tests/run_integrations.sh PYTHON [libqgemm.so]
# PYTHON: a venv's python that has PyPI torch (scripts/python_env.sh makes one). The library
# defaults to $QGEMM_LIBRARY, else the newest build*/libqgemm.so. Prints the install and test
# times. SGLang tests skip where sglang does not import.
set -euo pipefail
case "${1:-}" in
  -h|--help|"") sed -n '2,8p' "$0"; [ -n "${1:-}" ]; exit $? ;;
esac
py=$1
cd "$(dirname "$0")/../.."
if [ -n "${2:-}" ]; then
  export QGEMM_LIBRARY=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
fi
"$py" -c "import torch" 2>/dev/null || { echo "run_integrations.sh: $py has no torch" >&2; exit 1; }
req=python/tests/requirements-integrations.txt
pip=("$py" -m pip install --quiet --disable-pip-version-check)
t0=$(date +%s)
# Marked lines with --no-deps, the rest normally (pip skips what is already installed).
"${pip[@]}" --no-deps $(grep -E '# no-deps' "$req" | sed 's/#.*//')
"${pip[@]}" $(grep -vE '^\s*(#|$)|# no-deps' "$req" | sed 's/#.*//')
t1=$(date +%s)
echo "== integrations: install took $((t1 - t0)) s"
export QGEMM_NO_TRANSFORMERS=0
"$py" -m pytest -q -p no:cacheprovider python/tests/test_torchao_config.py \
  python/tests/test_torchao_weights.py python/tests/test_transformers_checkpoints.py \
  python/tests/test_engine_linear.py python/tests/test_device_quant.py \
  python/tests/test_vllm_plugin.py python/tests/test_sglang_plugin.py
echo "== integrations: tests took $(( $(date +%s) - t1 )) s"
