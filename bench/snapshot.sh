#!/usr/bin/env bash
# Snapshot benchmark: how long `sluice snapshot` takes on a 10,000-partition job (target: < 1 s).
#
# The job directory is made by sluice itself, so every file in it is the real thing: PARTS records of
# synthetic text, one record per partition (partition.size: 1), a 4-op recipe (2 mappers, 2 filters) with
# checkpoint strategy every_op -- 3 checkpoints per partition, the heaviest layout for the snapshot, which
# checks every checkpoint's manifest. The first run is killed after CRASH_AT partition results
# (SLUICE_CRASH_AT=result_commit:N), which leaves an interrupted job: the snapshot then also checks every
# partition result's commit record. The job is then resumed to completion. Making the job takes ~2-3 min on
# 2 cores (one fsynced commit per checkpoint and result); each snapshot is timed REPS times (wall clock
# around the process, output to a file), best and median reported, and the CPU time of the best run:
#   interrupted      sluice snapshot JOB            (events + plan + 30,000 checkpoint and 10,000 result manifests)
#   completed        sluice snapshot JOB            (events + plan + 30,000 checkpoint manifests)
#   completed        sluice snapshot JOB --compact
#   completed        sluice snapshot JOB --human-readable
#   completed        sluice snapshot JOB --verify-checksums (hashes every checkpoint: information only)
#   completed        sluice jobs WORK_DIR           (events and plan only)
# Env: SLUICE (build/sluice), PARTS (10000), CRASH_AT (6000), REPS (5), OUT (a temporary directory, deleted
#      at the end unless KEEP_OUTPUT=1; an OUT that already holds the finished job is reused).
# Prints a markdown table (docs/benchmarks.md, "Snapshot").
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SLUICE=$(realpath "${SLUICE:-$ROOT/build/sluice}")
PARTS=${PARTS:-10000}
CRASH_AT=${CRASH_AT:-6000}
REPS=${REPS:-5}
OUT=${OUT:-$(mktemp -d /tmp/sluice-snapshot-bench.XXXXXX)}
[ -x "$SLUICE" ] || { echo "no sluice binary at $SLUICE (cmake --build build --target sluice)" >&2; exit 2; }
mkdir -p "$OUT"
cd "$OUT"
[ "${KEEP_OUTPUT:-0}" = 1 ] || trap 'rm -rf "$OUT"' EXIT
log() { printf '[snapshot bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# seconds CMD...: best and median wall time of REPS runs, stdout to a file (as a consumer would read it),
# and the CPU time (user + system, all threads) of the best run: on a shared machine wall time includes
# waiting for a CPU, CPU time does not.
seconds() {
  python3 - "$REPS" "$@" <<'PY'
import os, statistics, subprocess, sys, time
reps, cmd = int(sys.argv[1]), sys.argv[2:]
runs = []
for _ in range(reps):
    with open("snapshot.out", "wb") as out:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        runs.append((time.perf_counter() - t, ru.ru_utime + ru.ru_stime))
        assert status == 0, cmd
best = min(runs)
print(f"{best[0]:.3f} {statistics.median(r[0] for r in runs):.3f} {best[1]:.3f}")
PY
}

job=work/snap
if [ ! -f "$job/job_summary.json" ] || ! grep -q '"status":"completed"' "$job/job_summary.json"; then
  rm -rf work data.jsonl
  log "making a $PARTS-partition job in $OUT (one fsynced commit per checkpoint and result: a few minutes)"
  python3 - "$PARTS" <<'PY'
import json, random, sys
random.seed(1)
words = "the quick brown fox jumps over a lazy dog while engineers clean text for models".split()
with open("data.jsonl", "w") as f:
    for i in range(int(sys.argv[1])):
        f.write(json.dumps({"id": i, "text": " ".join(random.choice(words) for _ in range(random.randint(3, 60)))}) + "\n")
PY
  cat > recipe.yaml <<'YAML'
project_name: snapshot_bench
dataset_path: data.jsonl
export_path: work/out.jsonl
np: 2
partition:
  size: 1
checkpoint:
  strategy: every_op
process:
  - clean_links_mapper:
  - whitespace_normalization_mapper:
  - text_length_filter:
      min_len: 10
  - words_num_filter:
      min_num: 3
YAML
  set +e
  SLUICE_CRASH_AT=result_commit:$CRASH_AT "$SLUICE" run recipe.yaml --job_id snap > /dev/null 2>&1
  set -e
  "$SLUICE" snapshot "$job" --human-readable | sed -n '2,4p' >&2
  read -r ib im ic <<< "$(seconds "$SLUICE" snapshot "$job")"
  interrupted="| interrupted | \`sluice snapshot JOB\` | $ib | $im | $ic |"
  log "resuming it to completion"
  "$SLUICE" run recipe.yaml --job_id snap > /dev/null
else
  interrupted="| interrupted | (job reused from an earlier run: not measured) | | | |"
fi
"$SLUICE" snapshot "$job" --human-readable | sed -n '2,10p' >&2
events=$(wc -l < "$job/events.jsonl")
ev_mb=$(python3 -c "import os; print(f'{os.path.getsize(\"$job/events.jsonl\") / 1e6:.1f}')")
ckpts=$(find "$job/checkpoints" -name '*.manifest.json' | wc -l)
"$SLUICE" snapshot "$job" > full.json
out_mb=$(python3 -c "import os; print(f'{os.path.getsize(\"full.json\") / 1e6:.1f}')")

echo "$PARTS partitions x 4 ops, every_op: $events events ($ev_mb MB), $ckpts checkpoints; JSON output $out_mb MB; $(nproc) CPUs"
echo
echo "| job | command | best s | median s | CPU s (best run) |"
echo "|---|---|---|---|---|"
echo "$interrupted"
for args in "" "--compact" "--human-readable" "--verify-checksums"; do
  read -r b m c <<< "$(seconds "$SLUICE" snapshot "$job" $args)"
  echo "| completed | \`sluice snapshot JOB${args:+ $args}\` | $b | $m | $c |"
done
read -r b m c <<< "$(seconds "$SLUICE" jobs work)"
echo "| completed | \`sluice jobs WORK_DIR\` | $b | $m | $c |"
