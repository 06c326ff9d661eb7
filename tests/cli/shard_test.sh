# `sluice shard` with real worker processes (docs/shard.md): echo with a range prefix and the command shown
# before it runs, merge with one row per key and full coverage, `shard status`, a rerun that runs nothing;
# --quiet with a worker writing 10 MB to stdout; a worker SIGKILLed mid-run (retried) and then the scheduler
# SIGKILLed (the rerun stops the orphaned worker group, whose identity matches, and runs it again);
# SIGTERM / SIGINT (workers and their grandchildren stopped, shards cancelled, exit 143 / 130); a second
# scheduler on the same directory (refused, saying who holds it); a changed --num-workers refused; malformed
# tables; --dry-run with GPUs; no GPU (refused, nothing written); a relative --merged-output; --help.
source "$(dirname "$0")/lib.sh" "$@"

alive() { kill -0 "$1" 2> /dev/null && [ "$(awk '{print $3}' /proc/$1/stat 2> /dev/null)" != Z ]; }
wait_for() { for _ in $(seq 1 600); do if "$@"; then return 0; fi; sleep 0.05; done; return 1; }  # 30 s at most
gone() { ! alive "$1"; }
merged_keys_ok() {  # FILE N: exactly keys 0..N-1, once each, in order, after the header
  python3 - "$1" "$2" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
assert rows[0] == ["data_id", "text"], rows[0]
keys = [int(r[0]) for r in rows[1:]]
assert keys == list(range(int(sys.argv[2]))), keys[:20]
PY
}

# 40 keys, two rows each, text with commas, quotes and line breaks (RFC 4180).
python3 - <<'PY'
import csv
with open("in.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["data_id", "text"])
    for i in range(80):
        w.writerow([(i * 7) % 40, f'row {i}, "quoted"\nsecond line'])
PY
mkdir -p pids
# worker LOW HIGH OUT INPUT: copies its range (Python's csv module); SLOW_<low> files make it wait first until
# it is stopped (at most 300 s, or until the test's directory is gone), FORK_<low> leaves a grandchild, BIG
# prints 10 MB to stdout.
cat > worker.py <<'PY'
import csv, os, subprocess, sys, time
low, high, out, inp = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
open(f"pids/{low}", "w").write(str(os.getpid()))
print(f"worker {low}-{high} on {os.environ.get('CUDA_VISIBLE_DEVICES', 'cpu')}", flush=True)
if os.path.exists(f"FORK_{low}"):
    child = subprocess.Popen(["sleep", "300"])
    open(f"pids/{low}.grandchild", "w").write(str(child.pid))
if os.path.exists("BIG"):
    sys.stdout.write(("x" * 99 + "\n") * 100000)
    sys.stdout.flush()
if os.path.exists(f"SLOW_{low}"):
    end = time.time() + 300
    while time.time() < end and os.path.exists(inp):
        time.sleep(0.1)
with open(inp, newline="") as f, open(out + ".tmp", "w", newline="") as g:
    r, w = csv.reader(f), csv.writer(g)
    w.writerow(next(r))
    for row in r:
        if low <= int(row[0]) < high:
            w.writerow(row)
os.rename(out + ".tmp", out)
print(f"worker {low}-{high} done", flush=True)
PY
W=(-- python3 worker.py {low} {high} {out} {input})
shard() { "$SLUICE" shard --input in.csv --key data_id --gpus-per-worker 0 --retry-backoff 0.05 --kill-grace 2 "$@"; }

# --- 1. a plain run ---------------------------------------------------------------------------------------
shard --output-dir o1 --num-workers 4 --max-parallel-workers 2 "${W[@]}" > run.out 2> run.err
check "all shards completed: exit 0" test $? -eq 0
check "worker output is echoed with its range" grep -qx '\[10-20) worker 10-20 on cpu' run.out
check "each worker's command is printed before it starts" grep -q "\[30-40) attempt 1 (1 of 3 in this run): python3 worker.py 30 40 $T/o1/generation_results_data_30_to_40_real.csv $T/in.csv" run.err
check "a progress line" grep -q "progress: 4/4 done, 0 running, 0 pending, 0 failed, elapsed" run.err
check "per-attempt log files" grep -qx 'worker 0-10 done' o1/logs/shard_0_10.attempt1.log
check "merged: one row per key, keys 0..39 in order" merged_keys_ok o1/generation_results_data_all_real_merged.csv 40
check "merge_summary: 4 shards merged, 40 duplicate rows dropped" \
  test "$(json_get o1/merge_summary.json "d['merged'], len(d['merged_shards']), d['missing_shards'], d['total_rows'], d['duplicates_dropped'], [f['rows'] for f in d['files']]")" = "True 4 [] 40 40 [20, 20, 20, 20]"
check "state: completed with result rows and checksum, pid, start time, host" \
  test "$(json_get o1/worker_args_20_30.json "d['status'], d['attempt'], d['result']['rows'], len(d['result']['xxh3_64']), d['pid'] > 0, d['proc_starttime'] > 0, d['host'] != ''")" = "completed 1 20 16 True True True"
"$SLUICE" shard status o1 > status.out
check "shard status prints the table" grep -qE '^ +2  \[20-30\) +completed +1/3' status.out
shard --output-dir o1 --num-workers 4 "${W[@]}" > rerun.out 2> rerun.err
check "a rerun runs nothing (every result verifies)" test $? -eq 0 -a ! -s rerun.out
check "a rerun says so" grep -q "0 to run, 4 completed" rerun.err
set +e
shard --output-dir o1 --num-workers 5 "${W[@]}" > /dev/null 2> n5.err
rc=$?
set -e
check "a changed --num-workers is refused (exit 5, got $rc)" test $rc -eq 5
check "the refusal explains and names --replan" grep -q "it was planned for --num-workers 4, not 5.*--replan" n5.err

# --- 2. --quiet and a worker writing 10 MB to stdout --------------------------------------------------------
touch BIG
start=$(date +%s.%N)
timeout 60 "$SLUICE" shard --input in.csv --key data_id --gpus-per-worker 0 --output-dir o2 --num-workers 2 --quiet "${W[@]}" > quiet.out 2> quiet.err
rc=$?
took=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$start" "$(date +%s.%N)")
rm BIG
echo "# --quiet, 2 workers x 10 MB of stdout: ${took}s"
check "--quiet with 10 MB of worker output finishes (exit $rc)" test $rc -eq 0
check "--quiet echoes nothing" test ! -s quiet.out
check "the 10 MB are in the log file" test "$(stat -c %s o2/logs/shard_0_20.attempt1.log)" -gt 10000000

# --- 3. a worker SIGKILLed mid-run, then the scheduler SIGKILLed --------------------------------------------
touch SLOW_0 SLOW_10
rm -f pids/*
"$SLUICE" shard --input in.csv --key data_id --gpus-per-worker 0 --retry-backoff 0.05 --output-dir o3 --num-workers 4 \
  --max-parallel-workers 2 "${W[@]}" > kill.out 2> kill.err &
SCHED=$!
check "both slow workers run" wait_for test -s pids/0 -a -s pids/10
W0=$(cat pids/0)
rm SLOW_0 pids/0
kill -KILL "$W0"
check "the killed worker's shard runs again and completes" wait_for grep -q "\[0-10) completed" kill.err
check "its first attempt is recorded as killed by signal 9" grep -q "\[0-10) failed (killed by signal 9" kill.err
W10=$(cat pids/10)
kill -KILL "$SCHED"
wait "$SCHED" 2> /dev/null || true
check "the orphaned worker still runs after its scheduler died" alive "$W10"
check "its state says running" test "$(json_get o3/worker_args_10_20.json "d['status']")" = running
rm SLOW_10
shard --output-dir o3 --num-workers 4 "${W[@]}" > resume.out 2> resume.err
check "the resumed run completes (exit $?)" test $? -eq 0
check "it stopped the orphaned worker group after matching its identity" grep -q "\[10-20) was left running by scheduler .* still runs: stopping its process group" resume.err
check "the orphan is gone" wait_for gone "$W10"
check "the orphaned shard is recorded lost, then run again" grep -q "\[10-20): recorded as lost" resume.err
check "shard [10-20) completed on its next attempt" test "$(json_get o3/worker_args_10_20.json "d['status'], d['attempt']")" = "completed 2"
check "merged: one row per key, keys 0..39" merged_keys_ok o3/generation_results_data_all_real_merged.csv 40

# --- 4. SIGTERM and SIGINT: workers and grandchildren stopped, cancelled, 143 / 130 ------------------------
for sig in TERM INT; do
  touch SLOW_0 FORK_0
  rm -f pids/*
  # A background job ignores SIGINT in a script; this restores the default so that sluice handles it.
  python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
    "$SLUICE" shard --input in.csv --key data_id --gpus-per-worker 0 --output-dir o4$sig --num-workers 2 --kill-grace 2 "${W[@]}" > sig.out 2> sig.err &
  SCHED=$!
  check "$sig: the worker and its grandchild run" wait_for test -s pids/0 -a -s pids/0.grandchild
  WK=$(cat pids/0)
  GC=$(cat pids/0.grandchild)
  if [ $sig = TERM ]; then
    set +e
    "$SLUICE" shard --input in.csv --key data_id --gpus-per-worker 0 --output-dir o4$sig --num-workers 2 "${W[@]}" > /dev/null 2> lock.err
    rc=$?
    set -e
    check "a second scheduler on the same directory is refused (exit 5, got $rc)" test $rc -eq 5
    check "it says another scheduler runs there" grep -q "another sluice shard scheduler, submitter or merge is running on $T/o4TERM" lock.err
    check "... in words: its pid, host and start time" \
      grep -qE "running on $T/o4TERM: pid $SCHED on host $(hostname), started [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC, scheduler id sluice_shard_.*kill -TERM $SCHED$" lock.err
    check "... not raw JSON" test -z "$(grep -F '{"' lock.err)"
  fi
  kill -$sig $SCHED
  set +e
  wait $SCHED
  rc=$?
  set -e
  want=$([ $sig = TERM ] && echo 143 || echo 130)
  check "$sig: the scheduler exits $want (got $rc)" test $rc -eq $want
  # (a SIGKILLed process dies a moment after the signal is sent: a loaded machine can make that moment long)
  check "$sig: the worker is gone" wait_for gone "$WK"
  check "$sig: its grandchild is gone" wait_for gone "$GC"
  check "$sig: the shard is recorded cancelled" test "$(json_get o4$sig/worker_args_0_20.json "d['status'], d['signal']")" = "cancelled 15"
  # The other shard completed before the signal, or was cancelled too.
  check "$sig: the progress line counts it cancelled, not failed" \
    grep -qE "progress: (1/2 done, 0 running, 0 pending, 0 failed, 1|0/2 done, 0 running, 0 pending, 0 failed, 2) cancelled, elapsed" sig.err
  rm SLOW_0 FORK_0
done
shard --output-dir o4TERM --num-workers 2 "${W[@]}" > /dev/null 2> again.err
check "the cancelled run resumes to completion" merged_keys_ok o4TERM/generation_results_data_all_real_merged.csv 40

# --- 5. malformed tables ------------------------------------------------------------------------------------
bad() {  # NAME CONTENT EXPECTED_MESSAGE [options]
  local name=$1 content=$2 want=$3
  shift 3
  printf "$content" > "$name"
  set +e
  "$SLUICE" shard --input "$name" --key data_id --gpus-per-worker 0 --output-dir "o_$name" --num-workers 2 "$@" -- true > /dev/null 2> bad.err
  local rc=$?
  set -e
  check "$name: exit 3 (got $rc)" test $rc -eq 3
  check "$name: says '$want'" grep -qF "$want" bad.err
}
bad nokey.csv 'id,text\n1,a\n' "$T/nokey.csv:1: no key column 'data_id' in the header (columns: id, text)"
bad mixed.csv 'data_id,text\n1,a\n2,b\nx7,c\n' "$T/mixed.csv:4: key 'x7' of column 'data_id' is not an integer"
bad empty.csv '' "$T/empty.csv: the file is empty"
bad quote.csv 'data_id,text\n1,"open\n' "$T/quote.csv:2: unterminated quoted field"
bad rows.jsonl '{"data_id": 1}\n{"id": 2}\n' "$T/rows.jsonl:2: no key field 'data_id'"
printf 'data_id,text\nb,x\n10,y\n9,z\n' > str.csv
"$SLUICE" shard --input str.csv --key data_id --key-type string --gpus-per-worker 0 --output-dir o_str --num-workers 3 --dry-run -- true > str.out
check "string keys are ordered by bytes: 10 < 9 < b" grep -q "shard 0 \[10-9)" str.out
check "the last string range has no upper bound" grep -q "shard 2 \[b-)" str.out

# --- 6. --dry-run: the plan and the GPU assignment, nothing started or written -------------------------------
NVML=$(dirname "$SLUICE")/libfake_nvml.so
if [ -f "$NVML" ]; then
  SLUICE_NVML_LIBRARY=$NVML "$SLUICE" shard --input in.csv --key data_id --output-dir o6 --num-workers 3 --gpus-per-worker 1 \
    --min-gpu-memory 20 --dry-run "${W[@]}" > dry.out
  check "dry run lists the GPUs with names and UUIDs" grep -q "GPU 0 Fake GPU A100 GPU-0a1b2c3d-0000-1111-2222-333344445555" dry.out
  check "dry run marks a GPU below --min-gpu-memory" grep -q "GPU 1 Fake GPU T4 .*(below --min-gpu-memory)" dry.out
  check "dry run assigns the first shard by UUID" grep -q "CUDA_VISIBLE_DEVICES=GPU-0a1b2c3d-0000-1111-2222-333344445555 \[GPU 0 Fake GPU A100" dry.out
  check "dry run: the next shard would wait for a GPU" grep -q "shard 1 \[14-27) (13 keys): pending, would wait for GPUs" dry.out
  check "dry run writes nothing" test ! -e o6
else
  echo "skip - --dry-run with GPUs: $NVML not built (cmake --build ... --target fake_nvml)"
fi
# On a machine with an NVIDIA GPU (the driver's NVML, no stand-in), the dry run shows the real device.
if command -v nvidia-smi > /dev/null && UUID=$(nvidia-smi --query-gpu=uuid --format=csv,noheader 2> /dev/null | head -1) && [ -n "$UUID" ]; then
  env -u SLUICE_NVML_LIBRARY -u CUDA_VISIBLE_DEVICES "$SLUICE" shard --input in.csv --key data_id --output-dir o6r --num-workers 2 \
    --gpus-per-worker 1 --min-gpu-memory 0 --dry-run "${W[@]}" > real.out
  check "dry run on a real GPU shows it by UUID ($UUID)" grep -q "GPU 0 .* $UUID pci " real.out
  check "dry run on a real GPU assigns it by UUID" grep -q "CUDA_VISIBLE_DEVICES=$UUID" real.out
else
  echo "skip - --dry-run on a real GPU: no NVIDIA GPU on this machine"
fi
set +e
SLUICE_NVML_LIBRARY=/nonexistent.so "$SLUICE" shard --input in.csv --key data_id --output-dir o7 --num-workers 2 "${W[@]}" 2> nogpu.err
rc=$?
set -e
check "no GPU for --gpus-per-worker 1: refused, not waited for (exit 2, got $rc)" test $rc -eq 2
check "it suggests --gpus-per-worker 0" grep -q "gpus-per-worker 0 runs CPU workers" nogpu.err
check "refused before any work: nothing written (no $T/o7)" test ! -e o7

# --- 7. relative paths are relative to the working directory, --merged-output too -------------------------
mkdir -p wd/pids  # the worker records its pid under its working directory
(cd wd && "$SLUICE" shard --input ../in.csv --key data_id --gpus-per-worker 0 --output-dir ../o8 --num-workers 2 \
  --merged-output merged.csv "${W[@]/worker.py/../worker.py}" > /dev/null 2> ../rel.err)
check "relative --merged-output: written in the working directory" merged_keys_ok wd/merged.csv 40
check "relative --merged-output: not under --output-dir" test ! -e o8/merged.csv
check "relative --merged-output: merge_summary.json names it" test "$(json_get o8/merge_summary.json "d['output']")" = "$T/wd/merged.csv"

# --- 8. --help lists every exit code ----------------------------------------------------------------------
"$SLUICE" shard --help > help.out
for code in "0 all" "1 a shard" "2 usage" "3 input" "4 cannot write" "5 refused" "70 internal" "130 / 143"; do
  check "--help lists exit code ${code%% *}" grep -qF "$code" help.out
done
check "--help says relative paths are relative to the working directory" grep -q "relative to the working" help.out
finish
