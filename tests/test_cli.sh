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
ok out_has "cannot read" "$q" tune --stale "$tmp/missing.json" --list
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
# The databases we ship parse, and every kernel they name is in this catalog.
for f in "$(dirname "$0")"/../tuning_db/*.json; do
  [ -e "$f" ] && ok rc_is 0 "$q" db validate "$f"
done
echo "test_cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
