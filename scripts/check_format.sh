#!/usr/bin/env bash
# Checks that the C, CUDA and HIP sources are formatted by .clang-format (clang-format 14, Debian
# 12's; other versions format some constructs differently).
#   scripts/check_format.sh [--fix] [--all | --changed [BASE] | FILE...]
# Default: the sources listed in scripts/format_files.txt (those formatted so far; the tree is
# formatted once, then the list goes), or, without the list, every C, CUDA and HIP source of
# src/ tuner/ include/ kernels/ tests/ bench/. --all: every such source, the list ignored.
# --changed: only the lines changed since BASE (default HEAD). --fix: rewrite instead of report.
# Exits 1 when something is not formatted.
set -euo pipefail
cd "$(dirname "$0")/.."
fix=0 mode=listed base=HEAD files=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --fix) fix=1; shift ;;
    --all) mode=all; shift ;;
    --changed) mode=changed; shift
               if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then base=$1; shift; fi ;;
    -*) echo "check_format.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) mode=files; files+=("$1"); shift ;;
  esac
done

cf=$(command -v clang-format-14 || command -v clang-format || true)
[ -n "$cf" ] || { echo "check_format.sh: clang-format not found (Debian: apt-get install clang-format)" >&2; exit 2; }
version=$("$cf" --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p')
[ "$version" = 14 ] || echo "check_format.sh: note: $cf is version $version; the tree follows 14" >&2

sources() { git ls-files -- 'src/*' 'tuner/*' 'include/*' 'kernels/*' 'tests/*' 'bench/*' |
              grep -E '\.(c|h|cu|cuh|hip|cc|cpp)$' || true; }

if [ $mode = changed ]; then
  cfd=$(command -v clang-format-diff-14 || command -v clang-format-diff || true)
  [ -n "$cfd" ] || { echo "check_format.sh: clang-format-diff not found" >&2; exit 2; }
  out=$(git diff -U0 --no-color "$base" -- $(sources) | "$cfd" -p1 -binary "$cf" $([ $fix = 1 ] && echo -i))
  if [ -n "$out" ]; then
    printf '%s\n' "$out"
    echo "check_format.sh: lines changed since $base are not formatted (fix: $0 --fix --changed $base)" >&2
    exit 1
  fi
  echo "check_format.sh: lines changed since $base are formatted"
  exit 0
fi

if [ $mode = listed ] || [ $mode = all ]; then
  mapfile -t files < <(sources)
  if [ $mode = listed ] && [ -f scripts/format_files.txt ]; then  # listed and still there
    mapfile -t files < <(printf '%s\n' "${files[@]}" | grep -xF -f <(grep -v '^#' scripts/format_files.txt))
  fi
fi
bad=()
for f in "${files[@]}"; do
  if [ $fix = 1 ]; then
    "$cf" -i "$f"
  elif ! "$cf" "$f" | cmp -s "$f" -; then
    bad+=("$f")
  fi
done
if [ ${#bad[@]} -gt 0 ]; then
  for f in "${bad[@]}"; do "$cf" "$f" | diff -u --label "$f" --label "$f (formatted)" "$f" - || true; done
  echo "check_format.sh: ${#bad[@]} of ${#files[@]} files are not formatted: ${bad[*]}" >&2
  echo "check_format.sh: fix with $0 --fix ${bad[*]}" >&2
  exit 1
fi
echo "check_format.sh: ${#files[@]} files $([ $fix = 1 ] && echo formatted || echo "are formatted")"
