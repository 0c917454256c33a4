#!/usr/bin/env bash
# Makes (or reuses) a Python virtual environment with the packages of the given requirements
# files, and prints its python's path as the last line of stdout.
#   scripts/python_env.sh VENV_DIR REQUIREMENTS.txt...
# e.g. scripts/python_env.sh build-pyenv python/requirements-ci.txt
# A venv is reused when it is complete: made to the end (a marker written last) and each
# requirements file, as it is now, installed to the end (a marker per file content). A
# half-made venv (interrupted, or python3-venv missing when it was made) is removed and made
# again; a changed requirements file is installed into the venv as it is. Base interpreter:
# $PYTHON, else python3. Progress goes to stderr.
set -euo pipefail
case "${1:-}" in
  -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  ""|-*) echo "usage: scripts/python_env.sh VENV_DIR REQUIREMENTS.txt... (see --help)" >&2; exit 2 ;;
esac
venv=$(realpath -m "$1")
shift
[ $# -gt 0 ] || { echo "python_env.sh: no requirements file given" >&2; exit 2; }
for r in "$@"; do
  [ -f "$r" ] || { echo "python_env.sh: $r does not exist" >&2; exit 2; }
done
base=${PYTHON:-python3}
made=$venv/.qgemm-venv-complete

if [ -d "$venv" ] && { [ ! -f "$made" ] || ! "$venv/bin/python" -c "" 2>/dev/null; }; then
  echo "python_env.sh: $venv is incomplete (an interrupted or failed set-up): making it again" >&2
  rm -rf "$venv"
fi
if [ ! -d "$venv" ]; then
  if ! "$base" -c "import venv, ensurepip" 2>/dev/null; then
    echo "python_env.sh: $base cannot make virtual environments (on Debian: apt-get install" \
         "python3-venv)" >&2
    exit 1
  fi
  echo "python_env.sh: making $venv" >&2
  "$base" -m venv "$venv" >&2
  touch "$made"
fi
# A requirements file's text and that of the files it includes (-r FILE, relative to it).
req_text() {
  cat "$1"
  local inc
  sed -n 's/^-r[[:space:]]*//p' "$1" | while read -r inc; do req_text "$(dirname "$1")/$inc"; done
}
for r in "$@"; do
  # The marker names the content: an edited requirements file is installed again.
  stamp=$venv/.qgemm-req-$(req_text "$r" | sha256sum | cut -c1-16)
  [ -f "$stamp" ] && continue
  echo "python_env.sh: installing $r into $venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$r" >&2
  touch "$stamp"
done
echo "$venv/bin/python"
