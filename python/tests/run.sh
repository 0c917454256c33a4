#!/usr/bin/env bash
# Runs the Python package's CPU tests (binding, error mapping, packers against numpy, configs,
# save/load): no GPU and no torch needed (torch tests skip without torch).
#   python/tests/run.sh [path/to/libqgemm.so]      (default: $QGEMM_LIBRARY, else build*/)
# Uses python3 when it has numpy, safetensors and pytest; otherwise installs them from PyPI into
# a virtual environment in build-pyenv/ (ignored by git) and uses that.
set -euo pipefail
cd "$(dirname "$0")/../.."
lib=${1:-${QGEMM_LIBRARY:-}}
if [ -n "$lib" ]; then
  [ -f "$lib" ] || { echo "python/tests/run.sh: $lib does not exist" >&2; exit 1; }
  export QGEMM_LIBRARY=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")
fi
py=${PYTHON:-python3}
if ! "$py" -c "import numpy, safetensors, pytest" 2>/dev/null; then
  venv=build-pyenv
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check numpy safetensors pytest
  py=$venv/bin/python
fi
exec "$py" -m pytest -q -p no:cacheprovider python/tests
