#!/usr/bin/env bash
# The CUTLASS headers the kernels/cutlass families compile against (PyPI nvidia-cutlass: only
# its include/cute and include/cutlass trees, ~27 MB unpacked) into .cutlass/include
# (git-ignored), where CMake finds them (QG_CUTLASS_INCLUDE), and packed as a ~1 MB
# .deps/cutlass-include.tar.xz that travels with the device carry of .deps (the device reaches
# no registry; tests/gpu/run.sh unpacks it into .cutlass/include there):
#   scripts/fetch_cutlass.sh            download (if needed), unpack, pack the tarball
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
  "") ;;
  *) echo "fetch_cutlass.sh: unknown option $1" >&2; exit 2 ;;
esac
version=4.2.0.0
dest=.cutlass/include
if [ ! -e "$dest/cutlass/version.h" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip -q --disable-pip-version-check download --no-deps -d "$tmp" \
    "nvidia-cutlass==$version"
  python3 - "$tmp"/nvidia_cutlass-*.whl "$dest" <<'PY'
import sys, zipfile, os
whl, dest = sys.argv[1], sys.argv[2]
prefix = "cutlass_library/source/include/"
with zipfile.ZipFile(whl) as z:
    for name in z.namelist():
        rel = name[len(prefix):] if name.startswith(prefix) else None
        if not rel or not rel.split("/")[0] in ("cute", "cutlass") or name.endswith("/"):
            continue
        out = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "wb") as f:
            f.write(z.read(name))
PY
fi
mkdir -p .deps && tar cJf .deps/cutlass-include.tar.xz -C .cutlass include
echo "CUTLASS $version headers in $dest ($(du -sm "$dest" | cut -f1) MB), packed into" \
     ".deps/cutlass-include.tar.xz ($(du -k .deps/cutlass-include.tar.xz | cut -f1) KB)"
