#!/usr/bin/env bash
# The qgemm command line without a GPU: --help everywhere, exit codes, one-line errors, the
# database tools on files made here. Usage: test_cli.sh path/to/qgemm
set -u
q=$1
pass=0
fail=0
ok() { if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $*" >&2; fi; }
rc_is() { local want=$1; shift; "$@" >/dev/null 2>&1; [ $? -eq "$want" ]; }
out_has() { local pat=$1; shift; "$@" 2>&1 | grep -q -- "$pat"; }
not_has() { local pat=$1; shift; ! "$@" 2>&1 | grep -q -- "$pat"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok rc_is 0 "$q" --help
ok rc_is 2 "$q"
ok rc_is 2 "$q" frobnicate
ok out_has "unknown command" "$q" frobnicate
for c in info check list tune db explain; do ok rc_is 0 "$q" $c --help; done
ok out_has "usage: qgemm tune" "$q" tune --help
ok rc_is 0 "$q" info
ok out_has "catalog:" "$q" info
ok out_has "w4a16_decode" "$q" list w4a16
ok rc_is 2 "$q" check --bogus
ok rc_is 1 "$q" check --arch sm_10
ok rc_is 2 "$q" tune --model llama-3-8b --hf-config x.json
ok out_has "unknown model" "$q" tune --model gpt-9
ok out_has "unknown scheme" "$q" tune --model llama-3-8b --schemes w3a16
ok rc_is 2 "$q" tune --model llama-3-8b --shard 3/2
ok out_has "no GPU" "$q" tune --model llama-3-8b --m 1
ok rc_is 2 "$q" tune --model llama-3-8b --run-budget 0
ok out_has "bad --run-budget" "$q" tune --model llama-3-8b --run-budget 5s
ok out_has "no GPU" "$q" tune --model llama-3-8b --run-budget 600
ok out_has "exit status 4" "$q" tune --help
ok rc_is 2 "$q" explain --scheme w4a16 --n 4096 --k 100 --m 1   # K % group
ok out_has "no GPU" "$q" explain --scheme w4a16 --n 4096 --k 4096 --m 1
# the benches answer --help and reject bad arguments without a GPU (built with Google Benchmark)
bd=$(dirname "$q")/bench
if [ -x "$bd/host_overhead" ]; then
  ok rc_is 0 "$bd/host_overhead" --help
  ok rc_is 2 "$bd/host_overhead" --bogus
  ok out_has "missing value" "$bd/host_overhead" --m
  ok out_has "positive integer" "$bd/host_overhead" --rounds 0
  ok out_has "no GPU" "$bd/host_overhead"
  ok rc_is 0 "$bd/launch_floor" --help
  ok rc_is 2 "$bd/launch_floor" --bogus
fi
# the shipped-database tuning script rejects bad input before it builds anything
tsd=$(dirname "$0")/../scripts/tune_shipped_db.sh
ok rc_is 0 bash "$tsd" --help
ok rc_is 2 bash "$tsd"
ok rc_is 2 bash "$tsd" --bogus
ok out_has "bad PHASE" bash "$tsd" llama-3-8b:1:w4a16
# the two README commands answer --help without building anything
ok rc_is 0 bash "$(dirname "$0")/../scripts/test.sh" --help
ok rc_is 2 bash "$(dirname "$0")/../scripts/test.sh" --bogus
ok rc_is 0 bash "$(dirname "$0")/fuzz/run.sh" --help
ok rc_is 2 bash "$(dirname "$0")/fuzz/run.sh" --bogus
ok out_has "Defaults: --model llama-3-8b" bash "$(dirname "$0")/../scripts/main_job.sh" --help
# and the A/B bench script, before it builds anything
ab=$(dirname "$0")/../scripts/ab_bench.sh
ok rc_is 0 bash "$ab" --help
ok rc_is 2 bash "$ab"
ok out_has "not a qgemm source tree" bash "$ab" "$tmp" 'gemm/w4a16/'

cat > "$tmp/a.json" <<'J'
{"schema_version": 1, "metadata": {"gpu_name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0"},
 "entries": [{"scheme": "w4a16", "n": 4096, "k": 4096, "group_size": 128, "zero_point": true,
   "act_dtype": "bf16", "out_dtype": "bf16", "weight_scale": "per-row", "act_scale": "per-row",
   "m_bucket": 1, "kernel": "w4a16_decode.act2.mt1", "median_us": 10, "tuned_at": "2026-11-23T10:00:00Z"}]}
J
sed -e 's/"m_bucket": 1/"m_bucket": 16/' -e 's/act2.mt1/no_such_kernel.x1/' "$tmp/a.json" > "$tmp/b.json"
sed -e 's/H100 80GB HBM3/A100-SXM4-80GB/' -e 's/"9.0"/"8.0"/' "$tmp/a.json" > "$tmp/c.json"
# --stale: a file without catalog hashes is all stale; --list needs no GPU
ok out_has "1 shapes, 1 problems" "$q" tune --stale "$tmp/a.json" --list
ok out_has "w4a16 .*N=4096 .*stale .*M=1$" "$q" tune --stale "$tmp/a.json" --list
ok out_has "1 shapes, 1 problems" "$q" tune --stale "$tmp/a.json" --schemes w8a8-int8,w4a16 --list
ok out_has "^0 shapes, 0 problems" "$q" tune --stale "$tmp/a.json" --schemes w8a8-int8 --list
ok rc_is 2 "$q" tune --stale "$tmp/a.json" --schemes bogus --list
ok rc_is 2 "$q" tune --stale "$tmp/a.json" --model llama-3-8b
ok out_has "missing.json: no such file" "$q" tune --stale "$tmp/missing.json" --list
ok out_has "4 shapes, 8 problems" "$q" tune --model llama-3-8b --schemes w4a16 --m 1,16 --list
ok out_has "1 entries" "$q" db show "$tmp/a.json"
ok rc_is 0 "$q" db validate "$tmp/a.json"
ok out_has "tune --stale .*a.json" "$q" db validate "$tmp/a.json"   # no hashes: every entry stale
ok out_has "^  w4a16 1$" "$q" db validate "$tmp/a.json"
# code hashes: --fresh fails on (and lists) the stale entry; restamp keeps a stale entry stale
ok rc_is 1 "$q" db validate "$tmp/a.json" --fresh
ok out_has "^stale: w4a16 N=4096 K=4096 g=128 M=1 w4a16_decode.act2.mt1" "$q" db validate "$tmp/a.json" --fresh
ok out_has "^w4a16_decode.act2.mt1$" "$q" db restamp "$tmp/a.json" --kernels
ok rc_is 2 "$q" db restamp "$tmp/a.json" --bogus
ok out_has "0 of 1 entries restamped" "$q" db restamp "$tmp/a.json" -o "$tmp/r.json"
ok out_has "^stale: " "$q" db validate "$tmp/r.json" --fresh
ok rc_is 0 bash "$(dirname "$0")/../scripts/restamp_from_commit.sh" --help
ok rc_is 1 "$q" db validate "$tmp/b.json"
ok out_has "not in this catalog" "$q" db validate "$tmp/b.json"
ok rc_is 0 "$q" db merge "$tmp/a.json" "$tmp/b.json" -o "$tmp/m.json"
ok out_has "2 entries" "$q" db show "$tmp/m.json"
ok rc_is 1 "$q" db merge "$tmp/a.json" "$tmp/c.json" -o "$tmp/x.json"
# validate points at an M range with a missing kernel: M=1 at 10 us but M=16 at 5 us
sed -e 's/"m_bucket": 1/"m_bucket": 16/' -e 's/"median_us": 10/"median_us": 5/' \
    -e 's/act2.mt1/act2.mt2/' "$tmp/a.json" > "$tmp/d.json"
ok rc_is 0 "$q" db merge "$tmp/a.json" "$tmp/d.json" -o "$tmp/ad.json"
ok out_has "slower than a larger M" "$q" db validate "$tmp/ad.json"
ok out_has "M=1 10.0 us (w4a16_decode.act2.mt1) > M=16 5.0 us" "$q" db validate "$tmp/ad.json"
ok rc_is 0 "$q" db validate "$tmp/ad.json"
ok not_has "slower than a larger M" "$q" db validate "$tmp/a.json"
ok rc_is 0 "$q" db prune "$tmp/m.json" -o "$tmp/p.json"
ok out_has "1 entries" "$q" db show "$tmp/p.json"
echo '{"schema_version": 1, "metadata": {' > "$tmp/bad.json"
ok rc_is 1 "$q" db show "$tmp/bad.json"
ok out_has "QG_ERR_CORRUPT" "$q" db show "$tmp/bad.json"
ok rc_is 2 "$q" db

# ---- issue 15: the audit's reproductions (each failed before its fix)
shipped=$(dirname "$0")/../tuning_db/nvidia-h100-80gb-hbm3.json
# 1. prune writes a temporary file and renames it: a write cut short (file size limit) leaves
#    the database as it was, and prune says why
cp "$shipped" "$tmp/p1.json"
(trap '' XFSZ; ulimit -f 100; "$q" db prune "$tmp/p1.json" >/dev/null 2>"$tmp/p1.err"); p1rc=$?
ok [ $p1rc -eq 1 ]
ok grep -q "cannot write" "$tmp/p1.err"
ok rc_is 0 "$q" db validate "$tmp/p1.json"
ok cmp -s "$shipped" "$tmp/p1.json"
ok [ -z "$(ls "$tmp" | grep -E 'p1\.json\.(lock|tmp)')" ]
# prune keeps what it does not drop and merges with the file on disk
ok rc_is 0 "$q" db prune "$tmp/m.json"
ok out_has "1 entries" "$q" db show "$tmp/m.json"
# 4. saving through a symbolic link updates the target and keeps the link
mkdir -p "$tmp/shared"
cp "$tmp/a.json" "$tmp/shared/real.json"
ln -s shared/real.json "$tmp/link.json"
ok rc_is 0 "$q" db merge "$tmp/d.json" -o "$tmp/link.json"
ok [ -L "$tmp/link.json" ]
ok out_has "2 entries" "$q" db show "$tmp/shared/real.json"
ok [ ! -e "$tmp/link.json.lock" ]
ok [ ! -e "$tmp/shared/real.json.lock" ]
# 5. a missing file is an error naming it (and prune creates nothing)
ok rc_is 1 "$q" db validate "$tmp/nonexistent.json"
ok out_has "nonexistent.json: no such file" "$q" db validate "$tmp/nonexistent.json"
ok rc_is 1 "$q" db show "$tmp/nonexistent.json"
ok rc_is 1 "$q" db prune "$tmp/nonexistent.json"
ok [ ! -e "$tmp/nonexistent.json" ]
# 11. clear messages: a missing merge input, no doubled status, a directory, a device
ok out_has "missing.json: no such file" "$q" db merge "$tmp/a.json" "$tmp/missing.json" -o "$tmp/x.json"
ok [ "$("$q" db show "$tmp/bad.json" 2>&1 | grep -o QG_ERR_CORRUPT | wc -l)" -eq 1 ]
ok out_has "is a directory" "$q" db show "$tmp"
ok rc_is 1 "$q" db prune "$tmp/a.json" -o /dev/full
ok out_has "not a regular file" "$q" db prune "$tmp/a.json" -o /dev/full
# 9. a FIFO is refused at once, not waited on
mkfifo "$tmp/fifo.json"
ok out_has "FIFO" timeout 10 "$q" db validate "$tmp/fifo.json"
ok out_has "FIFO" timeout 10 "$q" tune --stale "$tmp/fifo.json" --list
ok out_has "FIFO" timeout 10 "$q" tune --from-record "$tmp/fifo.json" --list
# 10. list options beyond their capacity or malformed are errors; merge takes any number
for i in $(seq 1 70); do cp "$tmp/a.json" "$tmp/many$i.json"; done
sed -e 's/"m_bucket": 1/"m_bucket": 7/' "$tmp/a.json" > "$tmp/many70.json"
ok rc_is 0 "$q" db merge "$tmp"/many*.json -o "$tmp/many.json"
ok out_has "2 entries" "$q" db show "$tmp/many.json"
ok out_has "at most 8" "$q" tune --model llama-3-8b --tp 1,2,4,8,1,2,4,8,1 --list
ok rc_is 2 "$q" tune --model llama-3-8b --tp 4294967297 --list
ok rc_is 2 "$q" tune --model llama-3-8b --m "$(seq -s, 1 65)" --list
ok rc_is 2 "$q" tune --model llama-3-8b --devices "$(seq -s, 0 16)" --list
ok rc_is 2 "$q" tune --model llama-3-8b --shard 1/3junk --list
ok rc_is 2 "$q" tune --model llama-3-8b --samples -5 --list
ok rc_is 2 "$q" tune --model llama-3-8b --budget abc --list
ok rc_is 2 "$q" tune --model llama-3-8b --budget inf --list
ok out_has "bad --act 'fp8'" "$q" explain --scheme w8a8-fp8 --n 4096 --k 4096 --m 1 --group 0 --act fp8
ok rc_is 2 "$q" explain --scheme w4a16 --n 4096x --k 4096 --m 1
# 8. --from-record: out-of-range, fractional and negative values are errors naming the line
printf '%s\n' '{"scheme": "w4a16", "n": 4096, "k": 4096, "m": 1, "group_size": 128, "zero_point": 1, "act_dtype": 2, "out_dtype": 2, "weight_scale": 0, "act_scale": 0}' > "$tmp/rec.jsonl"
ok out_has "1 shapes, 1 problems" "$q" tune --from-record "$tmp/rec.jsonl" --list
sed 's/"n": 4096/"n": 1e19/' "$tmp/rec.jsonl" > "$tmp/rec2.jsonl"
ok rc_is 1 "$q" tune --from-record "$tmp/rec2.jsonl" --list
ok out_has "rec2.jsonl:1: n missing or not an integer" "$q" tune --from-record "$tmp/rec2.jsonl" --list
sed 's/"k": 4096/"k": -4096/' "$tmp/rec.jsonl" > "$tmp/rec3.jsonl"
ok rc_is 1 "$q" tune --from-record "$tmp/rec3.jsonl" --list
# 12. the database parser: trailing text, fractional or huge numbers, bad times, versions
bad_db() { sed "$1" "$tmp/a.json" > "$tmp/bad12.json"; "$q" db validate "$tmp/bad12.json" 2>&1; }
for e in 's/"n": 4096/"n": 1.5/' 's/"n": 4096/"n": 1e19/' 's/"median_us": 10/"median_us": -1/' \
         's/"median_us": 10/"median_us": 1e999/' 's/"schema_version": 1/"schema_version": 1.9/' \
         's/"9.0"/"99999999999.0"/' 's/}]}$/}]} junk/'; do
  out=$(bad_db "$e"); rc=$?
  if [ $rc -eq 1 ] && echo "$out" | grep -q "QG_ERR_CORRUPT"; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL: db validate accepted '$e': $out" >&2; fi
done
ok out_has "entry 0: n is not an integer" bad_db 's/"n": 4096/"n": 1.5/'
# 6. loading and validating is not quadratic: 60k entries (60k shapes x 1 M) in seconds (a
#    minute and more before); a file above the size cap is a clear error
python3 - "$tmp/big.json" <<'PY'
import json, sys
e = [{"scheme": "w4a16", "n": 128 * (i // 2 + 1), "k": 4096, "group_size": 128, "zero_point": True,
      "act_dtype": "bf16", "out_dtype": "bf16", "weight_scale": "per-row", "act_scale": "per-row",
      "m_bucket": 1 + i % 2, "kernel": "w4a16_decode.act2.mt1", "median_us": 10 - i % 2,
      "tuned_at": "2026-11-23T10:00:00Z"} for i in range(60000)]
json.dump({"schema_version": 1, "metadata": {"gpu_name": "NVIDIA H100 80GB HBM3",
           "compute_capability": "9.0"}, "entries": e}, open(sys.argv[1], "w"))
PY
ok out_has "60000 entries" timeout 30 "$q" db validate "$tmp/big.json"
ok out_has "30000 in all" timeout 30 "$q" db validate "$tmp/big.json"
truncate -s 70M "$tmp/huge.json"
ok out_has "above the 67108864-byte limit" "$q" db show "$tmp/huge.json"
# trailing text after the JSON: a config and a record line are refused like the database
printf '{"hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32} x' > "$tmp/cfg.json"
ok out_has "not valid JSON (near byte 77)" "$q" tune --hf-config "$tmp/cfg.json" --list
sed 's/}$/} x/' "$tmp/rec.jsonl" > "$tmp/rec4.jsonl"
ok out_has "rec4.jsonl:1: not a JSON object" "$q" tune --from-record "$tmp/rec4.jsonl" --list
# 13. a directory as --hf-config
ok rc_is 2 "$q" tune --hf-config "$tmp" --list
ok out_has "is a directory" "$q" tune --hf-config "$tmp" --list
# 14. an architecture no kernel targets
ok rc_is 1 "$q" check --arch sm_70
ok out_has "no catalog kernel targets 'sm_70'" "$q" check --arch sm_70
# The databases we ship parse, and every kernel they name is in this catalog.
for f in "$(dirname "$0")"/../tuning_db/*.json; do
  [ -e "$f" ] && ok rc_is 0 "$q" db validate "$f"
done
echo "test_cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
