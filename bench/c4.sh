#!/usr/bin/env bash
# The RedPajama C4 recipe without its model steps (recipes/c4_rules.yaml, issue 3), measured two ways:
#   (1) its op chain alone, one thread (build/bench_ops_chain, best of ROUNDS rounds, REPS runs): MB/s of
#       text and of JSONL, docs/s, per-op MB/s; the chain also in thread CPU time;
#   (2) `sluice run` of the recipe end to end (parse, chain, fingerprints, the dedup barrier, export), np 1
#       and np 2, under /usr/bin/time: wall time, MB/s per core, docs/s, peak RSS. Best of REPS runs.
# Prints a summary; the numbers in docs/benchmarks.md's C4 section come from it.
#
# Env: INPUT (bench/data/corpus_100mb.jsonl), ROUNDS (3), REPS (3), RUN_INPUT (INPUT; the input of (2)),
#      SLUICE (build/sluice), CHAIN (build/bench_ops_chain), OUT (bench/results/c4; deleted at the end).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
INPUT=${INPUT:-bench/data/corpus_100mb.jsonl}
RUN_INPUT=${RUN_INPUT:-$INPUT}
ROUNDS=${ROUNDS:-3}
REPS=${REPS:-3}
SLUICE=${SLUICE:-build/sluice}
CHAIN=${CHAIN:-build/bench_ops_chain}
OUT=${OUT:-bench/results/c4}
RECIPE=bench/recipes/c4_rules.yaml
[ -f "$INPUT" ] || PREFIX_MB="20 100" bench/make_corpus.sh
mkdir -p "$OUT"
cat "$INPUT" "$RUN_INPUT" > /dev/null  # page cache

echo "== op chain alone: $CHAIN $RECIPE $INPUT --rounds $ROUNDS (best of $REPS runs)"
best=
for ((i = 1; i <= REPS; i++)); do
  "$CHAIN" "$RECIPE" "$INPUT" --rounds "$ROUNDS" > "$OUT/chain_$i.txt"
  s=$(awk '/^  whole chain  / { print $5 }' "$OUT/chain_$i.txt")
  if [ -z "$best" ] || awk -v a="$s" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$s; cp "$OUT/chain_$i.txt" "$OUT/chain_best.txt"; fi
done
cat "$OUT/chain_best.txt"
records=$(awk 'NR == 1 { print $2 }' "$OUT/chain_best.txt")
echo "docs/s (input records / chain seconds): $(awk -v r="$records" -v s="$best" 'BEGIN { printf "%.0f", r / s }')"

bytes=$(stat -c %s "$RUN_INPUT")
docs=$(wc -l < "$RUN_INPUT")
for np in 1 2; do
  bw= brss=0
  for ((i = 1; i <= REPS; i++)); do
    rm -rf "$OUT/run"
    mkdir -p "$OUT/run"
    sync
    /usr/bin/time -v -o "$OUT/time.txt" "$SLUICE" run "$RECIPE" --np "$np" --dataset_path "$RUN_INPUT" \
      --export_path "$OUT/run/out.jsonl" --work_dir "$OUT/run/jobs" --job_id c4 > "$OUT/run.log" 2>&1
    w=$(awk -F': ' '/Elapsed/ { n = split($2, t, ":"); s = 0; for (k = 1; k <= n; k++) s = s * 60 + t[k]; print s }' "$OUT/time.txt")
    rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$OUT/time.txt")
    [ "$rss" -gt "$brss" ] && brss=$rss
    if [ -z "$bw" ] || awk -v a="$w" -v b="$bw" 'BEGIN { exit !(a < b) }'; then bw=$w; fi
  done
  rows=$(wc -l < "$OUT/run/out.jsonl")
  awk -v np="$np" -v w="$bw" -v b="$bytes" -v d="$docs" -v rss="$brss" -v rows="$rows" 'BEGIN {
    printf "== sluice run np %d: %.2f s, %.1f MB/s, %.1f MB/s per core, %.0f docs/s, peak RSS %.0f MiB, %d of %d records kept\n",
      np, w, b / 1e6 / w, b / 1e6 / w / np, d / w, rss / 1024, rows, d }'
done
rm -rf "$OUT/run"
