# Sourced by the scripts that run on a GPU machine (main_job.sh, tune_shipped_db.sh).
#   qg_release_build_for_gpu WHO NO_GPU_MESSAGE
# Builds build-release, with Debian's cJSON/xxhash/benchmark from .deps/root where the machine
# has no package registry (scripts/fetch_device_deps.sh), then sets `gpu` to the device's slug
# (e.g. nvidia-h100-80gb-hbm3, the name of its tuning_db/ file). Exits 1 with WHO's message when
# the build fails or no GPU is found.
qg_release_build_for_gpu() {
  local who=$1 no_gpu=$2 prefix=()
  if [ -d .deps/root/usr ]; then
    prefix=(-DCMAKE_PREFIX_PATH="$PWD/.deps/root/usr")
    export LD_LIBRARY_PATH=$PWD/.deps/root/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
  fi
  export PATH=$PATH:/usr/local/cuda/bin
  { cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release "${prefix[@]}" >/dev/null &&
    cmake --build build-release -j "$(nproc)" >/dev/null; } || { echo "$who: build failed" >&2; exit 1; }
  if ! build-release/qgemm info | grep -q '^device: [^n]'; then
    build-release/qgemm info
    echo "$who: $no_gpu" >&2
    exit 1
  fi
  gpu=$(build-release/qgemm info | sed -n 's/^device: \([^,]*\),.*/\1/p' | tr 'A-Z' 'a-z' |
        tr -cs 'a-z0-9' '-' | sed 's/-$//')
}
