#!/usr/bin/env bash
# The shipped tuning databases are fresh: every entry was timed on the code its kernel compiles
# to in this build (compiled for the file's architecture with NVRTC, no GPU). A stale entry is
# listed with its problem and fails the test, unless tests/shipped_db_stale.txt lists it: the
# entries known to be stale until someone re-times them on the GPU (`qgemm tune --stale FILE`).
# An entry listed there that is fresh fails the test too, so the list only shrinks.
# Usage: shipped_db_fresh.sh path/to/qgemm [source-dir]
set -u
q=$1
src=${2:-$(cd "$(dirname "$0")/.." && pwd)}
expected="$src/tests/shipped_db_stale.txt"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
: > "$tmp/stale"
for db in "$src"/tuning_db/*.json; do
  name=$(basename "$db")
  "$q" db validate "$db" --fresh > "$tmp/out" 2>&1
  rc=$?
  if grep -q "cannot tell which entries are stale" "$tmp/out" || grep -q "^error:" "$tmp/out"; then
    echo "FAIL: $name: $(grep -m1 -e "cannot tell" -e "^error:" "$tmp/out")"
    fail=1
  fi
  grep "^stale: " "$tmp/out" | sed "s|^|$name: |" >> "$tmp/stale"
  n=$(grep -c "^stale: " "$tmp/out")
  echo "$name: $n stale entries (validate exit $rc)"
done
sort "$tmp/stale" > "$tmp/stale.sorted"
if [ -f "$expected" ]; then grep -v '^#' "$expected" | sort > "$tmp/expected"; else : > "$tmp/expected"; fi
new=$(comm -23 "$tmp/stale.sorted" "$tmp/expected")
gone=$(comm -13 "$tmp/stale.sorted" "$tmp/expected")
if [ -n "$new" ]; then
  echo "FAIL: $(echo "$new" | wc -l) stale entries (re-time them on the GPU: qgemm tune --stale FILE):"
  echo "$new"
  fail=1
fi
if [ -n "$gone" ]; then
  echo "FAIL: $(echo "$gone" | wc -l) entries of $expected are fresh now: delete them from it"
  echo "$gone" | head -20
  fail=1
fi
known=$(wc -l < "$tmp/expected")
[ "$known" -gt 0 ] && echo "note: $known entries known stale ($expected): not fresh yet"
[ $fail -eq 0 ] && echo "shipped databases: no unexpected stale entry"
exit $fail
