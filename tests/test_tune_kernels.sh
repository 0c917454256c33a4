#!/usr/bin/env bash
# qgemm tune --kernels on the fake driver: a problem that has a database entry times only the
# matching kernels and the entry's own kernel (first); a problem without one times every
# kernel; bad prefixes are refused. The fake driver runs no kernel, so every candidate is
# "wrong" and reported on its own line: those lines are the candidate lists checked here.
#   test_tune_kernels.sh path/to/qgemm    (QGEMM_CUDA_LIBRARY = the fake driver)
set -u
q=$1
pass=0
fail=0
check() { # description, command...
  local what=$1; shift
  if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $what" >&2; fi
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
export QGEMM_CUBLASLT_LIBRARY=/nonexistent/libcublasLt.so FAKE_CUDA_CC=80 FAKE_CUDA_NO_FORK=1
cat > tiny.json <<'J'
{"model_type": "llama", "hidden_size": 256, "intermediate_size": 512, "num_attention_heads": 4,
 "num_key_value_heads": 4}
J
held=w8a8_int8_mma.bm64.bn128.wm2.wn4.st4
cat > db.json <<J
{"schema_version": 1, "metadata": {"library_version": "0.1.0", "gpu_name": "Fake GPU",
 "compute_capability": "8.0", "sm_count": 108},
 "entries": [{"scheme": "w8a8-int8", "n": 256, "k": 256, "group_size": 0, "zero_point": false,
  "act_dtype": "bf16", "out_dtype": "bf16", "weight_scale": "per-row", "act_scale": "per-row",
  "m_bucket": 512, "kernel": "$held", "median_us": 5.0, "p20_us": 4.9, "p80_us": 5.1,
  "rel_error": 0.001, "tuned_at": "2026-12-07T22:16:24Z"}]}
J
args=(--hf-config tiny.json --schemes w8a8-int8 --m 512 -o db.json)
"$q" tune "${args[@]}" --kernels w8a8_int8_mma.bm128.bn256,w8a8_int8_gemv.rw2 > out.txt 2> err.txt
rc=$?
check "exit 3 (every candidate wrong on the fake driver), got $rc" [ "$rc" -eq 3 ]
# the candidates of one problem, in order, from the WRONG lines
cands() { sed -n "s/^  WRONG \([^ ]*\) on w8a8-int8 N=$1 K=$2 M=512:.*/\1/p" err.txt | tr '\n' ' '; }
check "the problem with an entry: its kernel first, then only the matching ones" \
  [ "$(cands 256 256)" = "$held w8a8_int8_mma.bm128.bn256.wm2.wn4.st3 " ]
every=$(cands 768 256)
check "a problem without an entry: every kernel ($every)" \
  [ "$(echo "$every" | wc -w)" -ge 3 ]
check "  ... the non-matching ones included" grep -q "w8a8_int8_mma.bm128.bn128" <<< "$every"
check "the entry is still there (nothing correct replaced it)" grep -q "$held" db.json
"$q" tune "${args[@]}" --kernels nope > /dev/null 2> e2.txt
rc=$?
check "an unknown prefix: exit 2, got $rc" [ "$rc" -eq 2 ]
check "  ... named" grep -q "no catalog kernel starts with 'nope'" e2.txt
"$q" tune "${args[@]}" --kernels w8a8_int8_mma, > /dev/null 2> e3.txt
rc=$?
check "an empty prefix: exit 2, got $rc" [ "$rc" -eq 2 ]
check "  ... said" grep -q "an empty prefix" e3.txt
check "--help documents --kernels" grep -q -- "--kernels LIST" <("$q" tune --help)
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
