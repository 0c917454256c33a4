#!/usr/bin/env bash
# The GPU machine reaches no package registry: download the Debian packages the build needs
# here and unpack them into .deps/root (git-ignored), which tests/gpu/run.sh uses as a prefix.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .deps/debs .deps/root
(cd .deps/debs && apt-get download libcjson1 libcjson-dev libxxhash0 libxxhash-dev \
    libbenchmark1debian libbenchmark-dev >/dev/null)
for f in .deps/debs/*.deb; do dpkg -x "$f" .deps/root; done
echo "unpacked into .deps/root: $(ls .deps/debs | tr '\n' ' ')"
