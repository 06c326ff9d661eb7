#!/usr/bin/env bash
# Dedup benchmark: document_minhash_deduplicator and document_simhash_deduplicator, DataJuicer's default
# parameters, each alone in a recipe, over bench/data/corpus.jsonl (bench/make_corpus.sh builds it).
#
# Per op and decision budget (SLUICE_DEDUP_MEMORY_MB; "default" = kDedupMemoryBudget, 256 MiB, in
# src/ops/op.h) it reports, best of REPS runs (wall time, after one untimed warm-up):
#   MB/s per core  input MB (10^6 bytes) / best wall seconds / np, the whole job (hash phase, decision,
#                  export);
#   peak RSS       highest over the REPS runs (GNU time), the whole job;
#   decision       seconds of the dataset-level decision (event dedup_decision_complete), its passes over
#                  the fingerprints and the sorted runs it spilled;
#   decision RSS   peak RSS of a rerun of the finished job with only the decision removed: the hash phase and
#                  the export are reused, so this is the decision's memory on top of the process baseline.
# Env: SLUICE (build/sluice), CORPUS (bench/data/corpus.jsonl), NP (2), REPS (3), BUDGETS ("default 8"),
#      OPS (both), OUT (a temporary directory). Prints a markdown table; rows also go to bench/results/dedup.tsv.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SLUICE=${SLUICE:-$ROOT/build/sluice}
CORPUS=${CORPUS:-$ROOT/bench/data/corpus.jsonl}
NP=${NP:-2}
REPS=${REPS:-3}
BUDGETS=${BUDGETS:-default 8}
OPS=${OPS:-document_minhash_deduplicator document_simhash_deduplicator}
OUT=${OUT:-$(mktemp -d /tmp/sluice-dedup-bench.XXXXXX)}
RESULTS=$ROOT/bench/results
[ -x "$SLUICE" ] || { echo "no sluice binary at $SLUICE (cmake --build build)" >&2; exit 2; }
[ -f "$CORPUS" ] || { echo "no corpus at $CORPUS (bench/make_corpus.sh)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "GNU time is needed (Debian package 'time')" >&2; exit 2; }
mkdir -p "$RESULTS" "$OUT"
TSV=$RESULTS/dedup.tsv
printf 'op\tbudget_mb\tnp\tin_bytes\tin_rows\tout_rows\tbest_s\tmb_s_core\tpeak_rss_mb\tdecision_s\tpasses\tspill_runs\tdecision_rss_mb\n' > "$TSV"
bytes=$(stat -c %s "$CORPUS")
rows=$(wc -l < "$CORPUS")

rss_mb() { awk -F': ' '/Maximum resident set size/ { printf "%d", $2 / 1024 }' "$1"; }
field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d[sys.argv[2]])" "$1" "$2"; }

echo "| op | decision budget | np | MB/s per core | peak RSS | decision | passes | spilled runs | decision RSS | kept |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for op in $OPS; do
  for budget in $BUDGETS; do
    recipe=$OUT/$op.yaml
    printf '%s\n' "project_name: dedup_bench" "dataset_path: $CORPUS" "export_path: $OUT/run/out.jsonl" "np: $NP" \
      "process:" "  - $op:" > "$recipe"
    env=()
    [ "$budget" = default ] || env=(SLUICE_DEDUP_MEMORY_MB="$budget")
    best= rss=0
    for ((i = 0; i <= REPS; i++)); do  # i = 0: warm-up
      rm -rf "$OUT/run"
      sync
      t0=$(date +%s%N)
      env "${env[@]}" /usr/bin/time -v -o "$OUT/time" "$SLUICE" run "$recipe" --job_id j > "$OUT/log" 2>&1
      t1=$(date +%s%N)
      [ "$i" = 0 ] && continue
      s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
      kb=$(rss_mb "$OUT/time")
      [ "$kb" -gt "$rss" ] && rss=$kb
      if [ -z "$best" ] || awk -v s="$s" -v b="$best" 'BEGIN { exit !(s < b) }'; then best=$s; fi
    done
    decision=$OUT/run/j/metadata/stage_0_decision.json
    dsec=$(python3 -c "import json,sys; print('%.2f' % [e for e in map(json.loads, open(sys.argv[1])) if e['event_type'] == 'dedup_decision_complete'][-1]['duration'])" "$OUT/run/j/events.jsonl")
    passes=$(field "$decision" passes)
    spills=$(field "$decision" spill_runs)
    kept=$(field "$decision" kept_rows)
    rm "$decision"
    env "${env[@]}" /usr/bin/time -v -o "$OUT/time" "$SLUICE" run "$recipe" --job_id j > "$OUT/log" 2>&1
    drss=$(rss_mb "$OUT/time")
    mbs=$(awk -v b="$bytes" -v s="$best" -v n="$NP" 'BEGIN { printf "%.1f", b / 1e6 / s / n }')
    label=$([ "$budget" = default ] && echo "256 MiB (default)" || echo "$budget MiB")
    echo "| $op | $label | $NP | $mbs | $rss MB | ${dsec} s | $passes | $spills | $drss MB | $kept of $rows |"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$op" "$budget" "$NP" "$bytes" "$rows" "$kept" "$best" \
      "$mbs" "$rss" "$dsec" "$passes" "$spills" "$drss" >> "$TSV"
  done
done
rm -rf "$OUT"
