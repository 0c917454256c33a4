#!/usr/bin/env bash
# Tunes the database qgemm ships for this GPU (tuning_db/<gpu>.json) in place, phase by phase,
# under one deadline, so that a limited GPU session keeps whatever finished (the tuner saves after
# every shape). Entries of problems a phase does not touch are kept.
#   scripts/tune_shipped_db.sh [--deadline SEC] [--db FILE] [--retune] PHASE...
#   PHASE = MODEL:TP:SCHEMES:M, e.g. llama-3-70b:1,8:w4a16,w8a8-fp8:1,16,128 (M 'default': the
#   tuner's 20 buckets). --db: the file to tune into (default tuning_db/<gpu>.json); --retune:
#   re-time its entries even when they were timed against this build's kernels for their
#   scheme (entries timed against other kernels are re-timed anyway).
# Progress goes to the terminal; each phase prints the tuner's summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
deadline=3000
db=""
retune=()
phases=()
while [ $# -gt 0 ]; do
  case "$1" in
    --deadline) deadline=$2; shift ;;
    --db) db=$2; shift ;;
    --retune) retune=(--retune) ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    -*) echo "tune_shipped_db.sh: unknown option $1" >&2; exit 2 ;;
    *) phases+=("$1") ;;
  esac
  shift
done
[ ${#phases[@]} -gt 0 ] || { echo "tune_shipped_db.sh: no PHASE given (see --help)" >&2; exit 2; }
for ph in "${phases[@]}"; do # before building: a typo should not cost a build
  IFS=: read -r model tp schemes ms extra <<< "$ph"
  if [ -z "$model" ] || [ -z "$tp" ] || [ -z "$schemes" ] || [ -z "$ms" ] || [ -n "$extra" ]; then
    echo "tune_shipped_db.sh: bad PHASE '$ph' (want MODEL:TP:SCHEMES:M)" >&2; exit 2
  fi
done

. scripts/gpu_build.sh
qg_release_build_for_gpu tune_shipped_db.sh "no GPU on this machine"
qg=build-release/qgemm
[ -n "$db" ] || db=tuning_db/$gpu.json
echo "[tune_shipped_db] $gpu -> $db, deadline $deadline s"

start=$(date +%s)
rc=0
for ph in "${phases[@]}"; do
  IFS=: read -r model tp schemes ms <<< "$ph"
  left=$(( deadline - ($(date +%s) - start) ))
  if [ $left -le 10 ]; then echo "[tune_shipped_db] deadline reached: skipping $ph"; rc=4; continue; fi
  margs=()
  [ "$ms" = default ] || margs=(--m "$ms")
  echo "[tune_shipped_db] $ph (${left} s left)"
  s=$(date +%s)
  # --run-budget stops between problems; timeout is the backstop for one long problem
  timeout $(( left + 120 )) $qg tune --model "$model" --tp "$tp" --schemes "$schemes" "${margs[@]}" \
    -o "$db" --run-budget "$left" "${retune[@]}"
  r=$?
  echo "[tune_shipped_db] $ph: rc=$r, $(( $(date +%s) - s )) s"
  # 3: some candidates were wrong (reported, never stored); 4: the deadline left problems
  # (run again to go on); 124: the backstop cut a problem
  [ $r -eq 0 ] || [ $r -eq 3 ] || rc=$r
done
$qg db validate "$db" || rc=1
exit $rc
