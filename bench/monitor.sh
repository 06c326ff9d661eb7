#!/usr/bin/env bash
# Monitor benchmark: what `sluice monitor` costs per interval on a 10,000-partition job, against what a
# snapshot per interval would cost (docs/benchmarks.md, "Monitor").
#
# Uses the job bench/snapshot.sh makes (10,000 partitions x 4 ops, every_op; ~190,000 events): pass its OUT
# as OUT (KEEP_OUTPUT=1 OUT=/tmp/x bench/snapshot.sh, then OUT=/tmp/x bench/monitor.sh); without OUT it runs
# bench/snapshot.sh first. The job is finished; to be followed it must look running, so this script holds its
# job lock with flock(1) while `sluice monitor --interval 0.05` runs for SECONDS seconds. Measured, as CPU time
# (user + system) of the process, best of REPS:
#   startup     sluice monitor --once JOB  (a snapshot without checkpoints + the follower reading the whole log)
#   snapshot    sluice jobs WORK_DIR       (a snapshot without checkpoints: what a snapshot per interval costs)
#   interval    (CPU of the following run - startup) / intervals: lock probe, log size, the new bytes (none)
# Env: SLUICE (build/sluice), OUT, SECONDS_RUN (5), REPS (3).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SLUICE=$(realpath "${SLUICE:-$ROOT/build/sluice}")
SECONDS_RUN=${SECONDS_RUN:-5}
REPS=${REPS:-3}
if [ -z "${OUT:-}" ]; then
  OUT=$(mktemp -d /tmp/sluice-monitor-bench.XXXXXX)
  trap 'rm -rf "$OUT"' EXIT
  SLUICE=$SLUICE KEEP_OUTPUT=1 OUT=$OUT REPS=1 "$ROOT/bench/snapshot.sh" > /dev/null
fi
JOB=$OUT/work/snap
[ -f "$JOB/events.jsonl" ] || { echo "no job at $JOB (run bench/snapshot.sh with KEEP_OUTPUT=1 OUT=$OUT)" >&2; exit 2; }

cpu() {  # CMD...: "wall cpu" of the best of REPS runs, stdout discarded
  python3 - "$REPS" "$@" <<'PY'
import os, subprocess, sys, time
reps, cmd = int(sys.argv[1]), sys.argv[2:]
runs = []
for _ in range(reps):
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    runs.append((ru.ru_utime + ru.ru_stime, time.perf_counter() - t))
print(f"{min(runs)[1]:.3f} {min(runs)[0]:.3f}")
PY
}

events=$(wc -l < "$JOB/events.jsonl")
ev_mb=$(python3 -c "import os; print(f'{os.path.getsize(\"$JOB/events.jsonl\") / 1e6:.1f}')")
read -r sw sc <<< "$(cpu "$SLUICE" monitor --once "$JOB")"
read -r jw jc <<< "$(cpu "$SLUICE" jobs "$OUT/work")"

# Following: hold the lock so the job looks running; count the reports (one line per interval).
flock "$JOB/job.lock" sleep $((SECONDS_RUN + 30)) &
HOLDER=$!
sleep 0.5
best=""
for _ in $(seq 1 "$REPS"); do
  r=$(python3 - "$SECONDS_RUN" "$SLUICE" monitor "$JOB" --interval 0.05 <<'PY'
import os, subprocess, sys, time
secs, cmd = float(sys.argv[1]), sys.argv[2:]
p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
time.sleep(secs)
p.terminate()
out = p.stdout.read()
_, status, ru = os.wait4(p.pid, 0)
print("%.3f %d" % (ru.ru_utime + ru.ru_stime, out.count(b"\n")))
PY
)
  if [ -z "$best" ] || python3 -c "import sys; sys.exit(not float('${r% *}') < float('${best% *}'))"; then best=$r; fi
done
kill $HOLDER 2> /dev/null || true
wait $HOLDER 2> /dev/null || true
read -r fc n <<< "$best"
per=$(python3 -c "print(f'{max(0.0, ($fc - $sc)) / max(1, $n - 1) * 1000:.2f}')")

echo "10,000-partition job: $events events ($ev_mb MB); $(nproc) CPUs; CPU time = user + system, best of $REPS"
echo
echo "| what | wall s | CPU s |"
echo "|---|---|---|"
echo "| \`sluice monitor --once JOB\` (startup: snapshot without checkpoints + whole log) | $sw | $sc |"
echo "| \`sluice jobs WORK_DIR\` (a snapshot without checkpoints: the cost of one snapshot per interval) | $jw | $jc |"
echo "| following, per interval (lock probe, log size, new bytes), $n intervals in ${SECONDS_RUN}s | | ${per} ms |"
