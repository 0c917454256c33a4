#!/usr/bin/env bash
# qgemm tune --devices on the fake driver presenting several GPUs (tests/fake_cuda.c): how the
# work is split between the worker processes (and with --shard, whatever the GPU count of each
# machine), that they share one database file, and that a worker that dies mid-run costs only
# its own share: the others finish, the file keeps what was in it, the parent says which died.
# The fake driver runs no kernel, so every candidate is "wrong" (exit status 3) and nothing new
# is stored: what each worker tuned is read from its progress lines. sm_80 keeps compiles few.
#   test_tune_devices.sh path/to/qgemm    (QGEMM_CUDA_LIBRARY = the fake driver)
set -u
q=$1
pass=0
fail=0
check() { # description, command...
  local what=$1; shift
  if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $what" >&2; fi
}
not_grep() { ! grep -q "$@"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
export QGEMM_CUBLASLT_LIBRARY=/nonexistent/libcublasLt.so FAKE_CUDA_CC=80 FAKE_CUDA_NO_FORK=1
# Four small shapes (qkv 768x256, o 256x256, gate_up 1024x256, down 256x512), two M each.
cat > tiny.json <<'J'
{"model_type": "llama", "hidden_size": 256, "intermediate_size": 512, "num_attention_heads": 4,
 "num_key_value_heads": 4}
J
args=(--hf-config tiny.json --schemes w8a8-int8 --m 512,1024)
"$q" tune "${args[@]}" --list > list.txt
# every problem as "N K M", from --list ("w8a8-int8 N=768 K=256 ... M=512,1024")
sed -n 's/^w8a8-int8 *N=\([0-9]*\) *K=\([0-9]*\).* M=\(.*\)$/\1 \2 \3/p' list.txt |
  while read -r n k ms; do for m in ${ms//,/ }; do echo "$n $k $m"; done; done | sort > all.txt
check "--list gives 8 problems" [ "$(wc -l < all.txt)" -eq 8 ]
# shape order (item index) as "N K" lines
sed -n 's/^w8a8-int8 *N=\([0-9]*\) *K=\([0-9]*\).*/\1 \2/p' list.txt > items.txt

# "[wD i/t ...] w8a8-int8 N=n K=k M=m: ..." -> "D n k m", one per problem a worker tuned
tuned() { sed -n 's/^\[w\([0-9]*\) [0-9]*\/[0-9]* .*\] w8a8-int8 N=\([0-9]*\) K=\([0-9]*\) M=\([0-9]*\):.*/\1 \2 \3 \4/p' "$1"; }
# the shapes (item indices, from 0) that worker D tuned in a log
items_of() { tuned "$1" | awk -v d="$2" '$1 == d {print $2, $3}' | sort -u |
  while read -r nk; do grep -nx "$nk" items.txt | cut -d: -f1 | awk '{print $1 - 1}'; done |
  sort -n | tr '\n' ' '; }

# 1. Three GPUs: each worker takes every third shape (whole shapes, all their M), disjoint,
#    together all of them; each says how many it has and how it ended, even into a pipe.
FAKE_CUDA_COUNT=3 "$q" tune "${args[@]}" -o db.json --devices 0,1,2 2> err1.txt | cat > out1.txt
rc=${PIPESTATUS[0]}
check "3 workers: exit 3 (wrong candidates), got $rc" [ "$rc" -eq 3 ]
tuned out1.txt | cut -d' ' -f2- | sort > got1.txt
check "3 workers: every problem exactly once" cmp -s got1.txt all.txt
check "worker 0 has shapes 0 and 3" [ "$(items_of out1.txt 0)" = "0 3 " ]
check "worker 1 has shape 1" [ "$(items_of out1.txt 1)" = "1 " ]
check "worker 2 has shape 2" [ "$(items_of out1.txt 2)" = "2 " ]
for d in 0 1 2; do
  want=$(tuned out1.txt | awk -v d=$d '$1 == d' | wc -l)
  check "worker $d announces its $want problems" grep -q "^\[w$d\] Fake GPU: $want problems" out1.txt
  check "worker $d's summary reaches a pipe" grep -q "^\[w$d\] tuned 0, skipped 0" out1.txt
done
check "one database file, no leftovers" [ "$(ls | grep -c '^db.json')" -eq 1 ] # no .lock, no .tmp
check "the database is valid" "$q" db show db.json > /dev/null

# 2. Shards are the same work whatever GPU count each machine has: shard 0/2 on three GPUs and
#    shard 1/2 on one together tune everything once.
FAKE_CUDA_COUNT=3 "$q" tune "${args[@]}" -o s0.json --shard 0/2 --devices 0,1,2 > out2a.txt 2>&1
FAKE_CUDA_COUNT=1 "$q" tune "${args[@]}" -o s1.json --shard 1/2 > out2b.txt 2>&1
cat out2a.txt out2b.txt > out2.txt
tuned out2.txt | cut -d' ' -f2- | sort > got2.txt
check "shards on 3 + 1 GPUs: every problem exactly once" cmp -s got2.txt all.txt
check "shard 0/2 has shapes 0 and 2" [ "$(tuned out2a.txt | cut -d' ' -f2,3 | sort -u | wc -l)" -eq 2 ]
check "shard 0/2: worker 0 has shape 0" [ "$(items_of out2a.txt 0)" = "0 " ]
check "shard 0/2: worker 1 has shape 2" [ "$(items_of out2a.txt 1)" = "2 " ]
check "shard 0/2: worker 2 has none" grep -q "^\[w2\] Fake GPU: 0 problems" out2a.txt

# 3. A worker dies mid-run (SIGKILL at its first launch): the others finish their shares, the
#    file keeps the entries it had (one per problem of another shape, each once) and stays
#    valid, the exit status is 1 and the parent names the dead worker.
cat > pre.json <<'J'
{"schema_version": 1, "metadata": {"gpu_name": "Fake GPU", "compute_capability": "8.0"},
 "entries": [
  {"scheme": "w4a16", "n": 4096, "k": 4096, "group_size": 128, "zero_point": true,
   "act_dtype": "bf16", "out_dtype": "bf16", "weight_scale": "per-row", "act_scale": "per-row",
   "m_bucket": 1, "kernel": "w4a16_decode.act2.mt1", "median_us": 10, "tuned_at": "2026-11-23T10:00:00Z"},
  {"scheme": "w4a16", "n": 4096, "k": 4096, "group_size": 128, "zero_point": true,
   "act_dtype": "bf16", "out_dtype": "bf16", "weight_scale": "per-row", "act_scale": "per-row",
   "m_bucket": 16, "kernel": "w4a16_decode.act2.mt2", "median_us": 12, "tuned_at": "2026-11-23T10:00:00Z"}]}
J
cp pre.json db3.json
FAKE_CUDA_COUNT=3 FAKE_CUDA_DIE=1:1 "$q" tune "${args[@]}" -o db3.json --devices 0,1,2 \
  > out3.txt 2> err3.txt
rc=$?
check "a dead worker: exit 1, got $rc" [ "$rc" -eq 1 ]
check "the parent names the dead worker" \
  grep -q "the worker for device 1 was killed by signal 9; what it saved is kept in db3.json" err3.txt
check "worker 0 finished shapes 0 and 3" [ "$(items_of out3.txt 0)" = "0 3 " ]
check "worker 2 finished shape 2" [ "$(items_of out3.txt 2)" = "2 " ]
check "worker 0's summary" grep -q "^\[w0\] tuned 0" out3.txt
check "worker 2's summary" grep -q "^\[w2\] tuned 0" out3.txt
check "worker 1 tuned nothing" [ -z "$(items_of out3.txt 1)" ]
"$q" db show db3.json > show3.txt 2>&1
check "the database is valid after the death" grep -q "2 entries" show3.txt
check "each earlier entry kept once" [ "$(grep -c 'w4a16_decode.act2.mt[12]' show3.txt)" -eq 2 ]
check "no temporary file left" [ -z "$(ls | grep 'db3.json.tmp')" ]

# 4. A listed device that is not there: its worker fails with a one-line reason, the other
#    still does its share.
FAKE_CUDA_COUNT=2 "$q" tune "${args[@]}" -o db4.json --devices 0,5 > out4.txt 2> err4.txt
rc=$?
check "a missing device: exit 1, got $rc" [ "$rc" -eq 1 ]
check "the missing device is named" grep -q "qgemm tune: device 5: .*device 5 requested" err4.txt
check "worker 0 still tunes shapes 0 and 2" [ "$(items_of out4.txt 0)" = "0 2 " ]

# 5. Without -o, each worker names the file after its GPU: the parent initializes no driver
#    before forking (FAKE_CUDA_NO_FORK makes that fail, as with the real driver).
FAKE_CUDA_COUNT=2 "$q" tune "${args[@]}" --devices 0,1 > out5.txt 2> err5.txt
rc=$?
check "no -o, 2 workers: exit 3, got $rc" [ "$rc" -eq 3 ]
check "no -o: no driver error in the workers" not_grep "cuInit" err5.txt
check "no -o: both write qgemm-tuning-fake-gpu.json" \
  [ "$(grep -c 'to tune into qgemm-tuning-fake-gpu.json' out5.txt)" -eq 2 ]

echo "test_tune_devices: $pass passed, $fail failed"
[ $fail -eq 0 ]
