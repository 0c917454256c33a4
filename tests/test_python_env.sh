#!/usr/bin/env bash
# scripts/python_env.sh: makes a venv, reuses a complete one, remakes a half-made one, installs
# an edited requirements file again, refuses bad arguments. Requirements files without
# packages, so no registry is needed. Usage: tests/test_python_env.sh
set -u
pe=$(cd "$(dirname "$0")/.." && pwd)/scripts/python_env.sh
pass=0
fail=0
ok() { if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $*" >&2; fi; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "# nothing to install" > "$tmp/req.txt"
echo "-r req.txt" > "$tmp/outer.txt"

py=$("$pe" "$tmp/env" "$tmp/outer.txt" 2>"$tmp/log" | tail -n 1)
ok test "$py" = "$tmp/env/bin/python"
ok "$py" -c "import sys; assert sys.prefix == '$tmp/env'"
ok grep -q "making" "$tmp/log"
# complete: reused as it is
touch "$tmp/env/sentinel"
"$pe" "$tmp/env" "$tmp/outer.txt" >/dev/null 2>"$tmp/log"
ok test -f "$tmp/env/sentinel"
ok test ! -s "$tmp/log"
# an included file edited: installed again, the venv kept
echo "# edited" >> "$tmp/req.txt"
"$pe" "$tmp/env" "$tmp/outer.txt" >/dev/null 2>"$tmp/log"
ok grep -q "installing .*outer.txt" "$tmp/log"
ok test -f "$tmp/env/sentinel"
# half-made (no completion marker, as when venv creation failed midway): made again
rm "$tmp/env/.qgemm-venv-complete"
"$pe" "$tmp/env" "$tmp/outer.txt" >/dev/null 2>"$tmp/log"
ok grep -q "incomplete" "$tmp/log"
ok test ! -f "$tmp/env/sentinel"
ok "$tmp/env/bin/python" -c ""
# a venv whose python is gone is remade too
rm -f "$tmp/env/bin/python"*
"$pe" "$tmp/env" "$tmp/req.txt" >/dev/null 2>&1
ok "$tmp/env/bin/python" -c ""
# bad arguments
"$pe" >/dev/null 2>&1; ok test $? -eq 2
"$pe" "$tmp/env" >/dev/null 2>&1; ok test $? -eq 2
"$pe" "$tmp/env" "$tmp/missing.txt" >/dev/null 2>&1; ok test $? -eq 2
ok "$pe" --help
echo "test_python_env: $pass passed, $fail failed"
[ $fail -eq 0 ]
