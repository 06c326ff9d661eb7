#!/usr/bin/env bash
# sluice benchmark suite: one run of everything in docs/benchmarks.md, from the repository root or anywhere.
#
#   bench/run.sh                 # full run (~15 min on 2 cores; the CPython baseline takes most of it)
#
# Steps: (a) build the corpus if missing (bench/make_corpus.sh); (b) build and run the floor (bench/floor.cc);
# (c) sluice, text_length.yaml at np 1 and 2; (d) sluice, demo.yaml at np 1 and 2 with checkpoint strategy
# disabled and every_partition; (e) the CPython baseline (bench/baseline_dj.py) and sluice's demo recipe on
# the same corpus prefix; (f) each measurement REPS times under /usr/bin/time -v after one untimed warm-up,
# best wall time, highest peak RSS; (g) bench/results/latest.md, and docs/benchmarks.md between its bench:results markers.
#
# Env: SLUICE (build/sluice), REPS (3), BASELINE_REPS (REPS), PREFIX_MB (100; prefix for step e),
#      BENCH_OUT (bench/results/tmp; outputs and job dirs, deleted at the end unless KEEP_OUTPUT=1),
#      SKIP_BASELINE=1 (reuse the CPython row of the previous run), UPDATE_DOCS=0 (leave docs/ alone).
# Every sluice run gets a fresh --work_dir, --export_path and --job_id, so a resume never kicks in. Before
# each timed run the previous outputs are deleted and `sync` flushes dirty pages, so writeback of one run
# does not land in the next one's time.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

SLUICE=${SLUICE:-build/sluice}
REPS=${REPS:-3}
BASELINE_REPS=${BASELINE_REPS:-$REPS}
PREFIX_MB=${PREFIX_MB:-100}
OUT=${BENCH_OUT:-bench/results/tmp}
RESULTS=bench/results
CORPUS=bench/data/corpus.jsonl
PREFIX=bench/data/corpus_${PREFIX_MB}mb.jsonl
PYTHON=${PYTHON:-python3}
TSV=$RESULTS/runs.tsv

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---- prerequisites ------------------------------------------------------------------------------------------
if [ ! -x /usr/bin/time ]; then
  log "installing GNU time (Debian package 'time')"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq time >/dev/null
fi
"$PYTHON" -c 'import regex' 2>/dev/null || { echo "bench/run.sh: $PYTHON lacks the 'regex' module (apt-get install python3-regex)" >&2; exit 1; }

# (a) corpus and prefixes
PREFIX_MB="20 $PREFIX_MB" bench/make_corpus.sh
cat "$CORPUS" > /dev/null  # warm the page cache: every run reads the input from memory

# (b) the floor: the CMake target (CMakeLists.txt builds bench/floor.cc with the project's flags); when the
# project does not configure (someone else's work in progress), the same flags by hand.
mkdir -p "$RESULTS/logs" "$OUT"
FLOOR=build-bench/bench_floor
if ! { cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release && cmake --build build-bench --target bench_floor -j1; } \
    >"$RESULTS/logs/floor-build.log" 2>&1; then
  log "cmake build of bench_floor failed (see $RESULTS/logs/floor-build.log); compiling bench/floor.cc directly"
  mkdir -p build-bench
  g++ -O2 -march=haswell -std=c++20 -Isrc -o "$FLOOR" bench/floor.cc src/core/json_string.cc -lsimdjson
fi
have_sluice=1
if [ ! -x "$SLUICE" ] || ! "$SLUICE" run bench/recipes/text_length.yaml --help >/dev/null 2>&1; then
  log "$SLUICE is missing or has no 'run' command: sluice rows are skipped"
  have_sluice=0
fi

# ---- measurement --------------------------------------------------------------------------------------------
# measure NAME GROUP NP INPUT REPS -- CMD...   (CMD may use {OUT}: a fresh per-repetition directory)
# With WARMUP=1 (default) one untimed repetition runs first: on this VM the first ~1 GB written after a delete
# is often 2-5x slower (fresh guest pages), which says nothing about the program.
# Appends one row to $TSV: name group np input in_bytes in_records best_s max_rss_kb status out_records log
if [ "${SKIP_BASELINE:-0}" = 1 ] && [ -f "$TSV" ]; then
  grep -P '^cpython\t' "$TSV" > "$TSV.keep" || true
else
  : > "$TSV.keep"
fi
printf 'name\tgroup\tnp\tinput\tin_bytes\tin_records\tbest_s\tmax_rss_kb\tstatus\tout_records\tlog\n' > "$TSV"
cat "$TSV.keep" >> "$TSV"; rm -f "$TSV.keep"

records_of() { wc -l < "$1"; }

measure() {
  local name=$1 group=$2 np=$3 input=$4 reps=$5; shift 6
  local best= rss=0 status=ok outrec=- logf=$RESULTS/logs/$name.log
  : > "$logf"
  for ((i = 1 - ${WARMUP:-1}; i <= reps; i++)); do
    local dir=$OUT/$name
    rm -rf "$dir"; mkdir -p "$dir"
    sync
    local cmd=() a
    for a in "$@"; do cmd+=("${a//\{OUT\}/$dir}"); done
    echo "== rep $i: ${cmd[*]}" >> "$logf"
    local t0 t1 rc=0
    t0=$(date +%s%N)
    /usr/bin/time -v -o "$dir.time" "${cmd[@]}" >> "$logf" 2>&1 || rc=$?
    t1=$(date +%s%N)
    cat "$dir.time" >> "$logf"
    if [ "$rc" != 0 ]; then
      status="exit $rc"
      log "$name: rep $i failed (exit $rc), see $logf"
      break
    fi
    if [ "$i" = 0 ]; then log "$name: warm-up done"; continue; fi
    local s kb
    s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
    kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$dir.time")
    [ "$kb" -gt "$rss" ] && rss=$kb
    if [ -z "$best" ] || awk -v s="$s" -v b="$best" 'BEGIN { exit !(s < b) }'; then best=$s; fi
    if [ -f "$dir/out.jsonl" ]; then outrec=$(wc -l < "$dir/out.jsonl"); fi
    log "$name: rep $i ${s}s, peak RSS $((kb / 1024)) MB"
  done
  rm -f "$OUT/$name.time"
  [ "${KEEP_OUTPUT:-0}" = 1 ] || rm -rf "${OUT:?}/$name"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$group" "$np" "$input" "$(stat -c %s "$input")" \
    "$(records_of "$input")" "${best:--}" "$rss" "$status" "$outrec" "$logf" >> "$TSV"
}

# sluice NAME GROUP NP INPUT RECIPE [extra args]: a sluice run with a fresh job dir and export per repetition
sluice_row() {
  local name=$1 group=$2 np=$3 input=$4 recipe=$5; shift 5
  if [ "$have_sluice" = 0 ]; then
    printf '%s\t%s\t%s\t%s\t%s\t%s\t-\t0\tnot run\t-\t-\n' "$name" "$group" "$np" "$input" "$(stat -c %s "$input")" \
      "$(records_of "$input")" >> "$TSV"
    return
  fi
  measure "$name" "$group" "$np" "$input" "$REPS" -- "$SLUICE" run "$recipe" --np "$np" \
    --dataset_path "$input" --export_path "{OUT}/out.jsonl" --work_dir "{OUT}/jobs" --job_id "bench_$name" "$@"
}

log "floor"
measure floor floor 1 "$CORPUS" "$REPS" -- "$FLOOR" "$CORPUS" "{OUT}/out.jsonl" 10
measure floor_mmap floor 1 "$CORPUS" "$REPS" -- "$FLOOR" --mmap "$CORPUS" "{OUT}/out.jsonl" 10
measure floor_raw floor 1 "$CORPUS" "$REPS" -- "$FLOOR" --raw "$CORPUS" "{OUT}/out.jsonl" 10

log "sluice text_length"
sluice_row text_length_np1 text_length 1 "$CORPUS" bench/recipes/text_length.yaml --checkpoint.strategy disabled
sluice_row text_length_np2 text_length 2 "$CORPUS" bench/recipes/text_length.yaml --checkpoint.strategy disabled

log "sluice demo"
for np in 1 2; do
  for cp in disabled every_partition; do
    sluice_row "demo_np${np}_$cp" demo "$np" "$CORPUS" bench/recipes/demo.yaml --checkpoint.strategy "$cp"
  done
done

log "CPython baseline vs sluice on the ${PREFIX_MB} MB prefix"
if [ "${SKIP_BASELINE:-0}" = 1 ] && grep -qP '^cpython\t' "$TSV"; then
  log "SKIP_BASELINE=1: reusing the previous CPython row"
else
  WARMUP=0 measure cpython cpython 1 "$PREFIX" "$BASELINE_REPS" -- "$PYTHON" bench/baseline_dj.py "$PREFIX" "{OUT}/out.jsonl"
fi
# 16 MB partitions, several per worker (as in every run since the first; the default would now cut the prefix
# into two equal 50 MB ones, where before 2026-11-21 it cut 64 + 36 MB, which np 2 could not balance).
sluice_row demo_prefix_np1 prefix 1 "$PREFIX" bench/recipes/demo.yaml --checkpoint.strategy disabled --partition.max_size_mb 16
sluice_row demo_prefix_np2 prefix 2 "$PREFIX" bench/recipes/demo.yaml --checkpoint.strategy disabled --partition.max_size_mb 16

[ "${KEEP_OUTPUT:-0}" = 1 ] || rm -rf "${OUT:?}"

# (g) report
args=(--tsv "$TSV" --out "$RESULTS/latest.md" --corpus-info bench/data/corpus.info.json --prefix-mb "$PREFIX_MB"
      --partition-mb "$(awk '/max_size_mb:/ { print $2; exit }' bench/recipes/demo.yaml)")
[ "${UPDATE_DOCS:-1}" = 1 ] && args+=(--docs docs/benchmarks.md)
"$PYTHON" bench/report.py "${args[@]}"
log "wrote $RESULTS/latest.md$([ "${UPDATE_DOCS:-1}" = 1 ] && echo ' and docs/benchmarks.md')"
cat "$RESULTS/latest.md"
