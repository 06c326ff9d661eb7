#!/usr/bin/env bash
# `sluice shard --submit` (docs/shard.md "Under the job manager"): a shard directory run as a job-manager
# array, one task per shard, with a real daemon whose GPU inventory is the fake NVML library. The array's
# tasks run the shards (at most --max-parallel-workers at once, in the submitter's working directory), a
# failing shard is retried by the manager, the merge job waits for every task; a rerun submits only
# unfinished shards; a local run, a second submit or a merge by hand is refused while the array may still
# run; a cancelled
# array stops its workers and records them cancelled; GPU tasks run on the GPU the manager gave them.
source "$(dirname "$0")/lib.sh" "$@"

NVML=$(dirname "$SLUICE")/libfake_nvml.so
[ -f "$NVML" ] || { echo "FAIL - $NVML not built (CMake target fake_nvml)"; exit 1; }
A100=GPU-0a1b2c3d-0000-1111-2222-333344445555
T4=GPU-9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff
export SLUICE_NVML_LIBRARY=$NVML
SERVER_FLAGS=(--cpus 8)
source "$SRC/tests/cli/manager_lib.sh"
start_server

printf 'data_id,text\n' > tab.csv
for i in $(seq 1 40); do echo "$i,row $i" >> tab.csv; done
# worker SHARD LOW HIGH OUT: copies its key range; FAIL_<shard> makes it fail once; SLOW makes it wait
# until SLOW is gone; a file OVERLAP holding N makes it wait (at most 30 s) until N workers have started, so
# that workers are seen running at once however slowly a loaded machine starts them. Relative paths: the task
# runs in the submitter's directory.
cat > worker.sh <<'SH'
shard=$1 low=$2 high=$3 out=$4
echo "start $shard $(date +%s.%N) ${CUDA_VISIBLE_DEVICES-cpu}" >> events.log
echo "worker $shard [$low-$high)"
echo $$ > "pid_$shard"
if [ -f "FAIL_$shard" ]; then rm "FAIL_$shard"; echo "failing once"; echo "end $shard $(date +%s.%N)" >> events.log; exit 7; fi
while [ -f SLOW ]; do sleep 0.1; done
i=0; while [ "$(grep -c ^start events.log)" -lt "$(cat OVERLAP 2>/dev/null || echo 0)" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done
sleep 0.3
awk -F, -v lo="$low" -v hi="$high" 'NR==1 || ($1>=lo && (hi=="" || $1<hi))' tab.csv > "$out"
echo "end $shard $(date +%s.%N)" >> events.log
SH
submit() { "$SLUICE" shard --submit --input tab.csv --key data_id --num-workers 4 --retry-backoff 0.2 --kill-grace 2 "$@"; }
ids() { awk -v k="$1" '$1==k {print $2}' "$2"; }
merged_ok() {  # DIR: keys 1..40 once each, in order
  python3 - "$1/generation_results_data_all_real_merged.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
assert rows[0] == ["data_id", "text"], rows[0]
assert [int(r[0]) for r in rows[1:]] == list(range(1, 41)), rows[1:5]
PY
}

# --- four CPU shards, two at a time, shard 1 fails once and is retried by the manager. Workers wait for the
# third start: of the first three at most one is shard 1's failing attempt, which ends at once, so two others
# are running together when the third starts.
touch FAIL_1
echo 3 > OVERLAP
submit --output-dir out --gpus-per-worker 0 --max-parallel-workers 2 --max-attempts 2 -- \
  sh worker.sh {shard} {low} {high} {out} > sub.out 2> sub.err
array=$(ids array sub.out); merge=$(ids merge sub.out)
check "manager.json names the server the submission reached (from \$SLUICE_SERVER)" \
  test "$(json_get out/manager.json "d['server']")" = "$SLUICE_SERVER"
check "--submit prints the array and the merge job" test -n "$array" -a -n "$merge" -a "$array" != 0
rc=0; "$SLUICE" wait "$merge" 2>/dev/null || rc=$?
rm OVERLAP
check "the merge job completes after the array" test "$rc" = 0
check "the array completed: 4 tasks" test "$(field "$array" '["array"]["states"].get("COMPLETED")')" = 4
check "shard 1's task has 2 attempts" test "$("$SLUICE" status --json "${array}_1" | python3 -c 'import json,sys; j=json.load(sys.stdin); a=j["attempts"]; print(a if isinstance(a,int) else len(a))')" = 2
check "the merged table covers keys 1..40 once, in order" merged_ok out
check "shard 1's state: completed at attempt 2" python3 - out <<'PY'
import glob, json, sys
st = [json.load(open(f)) for f in glob.glob(sys.argv[1] + "/worker_args_*.json")]
assert len(st) == 4 and all(s["status"] == "completed" for s in st), [s["status"] for s in st]
one = [s for s in st if s["shard_index"] == 1][0]
assert one["attempt"] == 2 and one["max_attempts"] == 2, one
PY
check "never more than 2 shards at once (%2)" python3 - events.log <<'PY'
import sys
ev = sorted((float(l.split()[2]), l.split()[0]) for l in open(sys.argv[1]))
run = peak = 0
for _, kind in ev:
    run += 1 if kind == "start" else -1
    peak = max(peak, run)
assert peak == 2, peak
PY
check "a task's log has the worker's output with its range prefix" grep -q '^\[.*) worker 0 ' <("$SLUICE" logs "${array}_0")
check "the retried task's first attempt logged the failure" grep -q "failing once" <("$SLUICE" logs --attempt 1 "${array}_1")
check "shard status names the submission" grep -q "array job $array (shards 0,1,2,3), merge job $merge" <("$SLUICE" shard status out)
check "shard status: 4 completed" grep -q "^4 completed" <("$SLUICE" shard status out)
check "a merge by hand once the submission's jobs are over merges" "$SLUICE" shard merge out

# --- a rerun submits only what is unfinished: nothing, and a merge
starts=$(grep -c ^start events.log)
submit --output-dir out --gpus-per-worker 0 --max-parallel-workers 2 --max-attempts 2 -- \
  sh worker.sh {shard} {low} {high} {out} > sub2.out 2> sub2.err
check "a rerun of a finished directory submits no array" test "$(ids array sub2.out)" = 0
rc=0; "$SLUICE" wait "$(ids merge sub2.out)" 2>/dev/null || rc=$?
check "its merge job completes and no worker ran again" test "$rc" = 0 -a "$(grep -c ^start events.log)" = "$starts"

# --- while the array may run, a local run and a second submit are refused; cancel stops the workers
touch SLOW
rm -f pid_*
submit --output-dir out2 --gpus-per-worker 0 --max-parallel-workers 2 -- sh worker.sh {shard} {low} {high} {out} > sub3.out 2> sub3.err
array2=$(ids array sub3.out); merge2=$(ids merge sub3.out)
# both tasks' workers have started (a task stopped before its worker starts records no cancelled shard)
wait_for_pids() { for _ in $(seq 400); do [ "$(ls out2/../pid_* 2>/dev/null | wc -l)" -ge 2 ] && [ "$(field "$array2" '["array"]["states"].get("RUNNING", 0)')" = 2 ] && return 0; sleep 0.05; done; return 1; }
check "two tasks of the second array run" wait_for_pids
rc=0; "$SLUICE" shard --input tab.csv --key data_id --num-workers 4 --output-dir out2 --gpus-per-worker 0 -- true 2> local.err || rc=$?
check "a local run beside running array tasks is refused (exit 5)" test "$rc" = 5
check "it says array tasks are running" grep -q "array tasks" local.err
rc=0; submit --output-dir out2 --gpus-per-worker 0 -- sh worker.sh {shard} {low} {high} {out} 2> sub4.err || rc=$?
check "a second submit is refused while the first runs (exit 5)" test "$rc" = 5
check "shard status: array tasks are running" grep -q "array tasks are running" <("$SLUICE" shard status out2)
pids=$(cat pid_* | tr "\n" " ")
"$SLUICE" cancel "$array2" > /dev/null
for _ in $(seq 400); do [ "$(state "$array2")" = CANCELLED ] && break; sleep 0.05; done
check "the cancelled array is CANCELLED" test "$(state "$array2")" = CANCELLED
workers_gone() { for p in $pids; do ! kill -0 "$p" 2>/dev/null || return 1; done; }
recorded_cancelled() { test "$(grep -l '"status":"cancelled"' out2/worker_args_*.json | wc -l)" = 2; }
poll() { for _ in $(seq 600); do "$@" && return 0; sleep 0.05; done; return 1; }  # 30 s at most
check "its workers are gone" poll workers_gone
check "the merge job can no longer run (CANCELLED)" wait_state "$merge2" CANCELLED
check "the running shards are recorded cancelled" poll recorded_cancelled
rm SLOW
submit --output-dir out2 --gpus-per-worker 0 --max-parallel-workers 2 -- sh worker.sh {shard} {low} {high} {out} > sub5.out 2> sub5.err
check "the resubmitted array has the 4 unfinished shards" grep -q "array job $(ids array sub5.out) (shards 0,1,2,3)" <("$SLUICE" shard status out2)
rc=0; "$SLUICE" wait "$(ids merge sub5.out)" 2>/dev/null || rc=$?
check "... and completes with a full merge" bash -c "test $rc = 0 && $(declare -f merged_ok); merged_ok out2"

# --- a merge by hand is refused while the array's tasks are pending (they hold no lock yet); the
# submission's own merge job passes that check (it is the job still running: the merges above)
blocker=$("$SLUICE" submit --cpus 8 -- sleep 60)
check "a job holding every CPU runs" wait_state "$blocker" RUNNING
submit --output-dir out5 --gpus-per-worker 0 -- sh worker.sh {shard} {low} {high} {out} > sub8.out 2> sub8.err
rc=0; "$SLUICE" shard merge out5 2> m5.err || rc=$?
check "a merge by hand while the array is pending is refused (exit 5)" bash -c "test $rc = 5 && grep -q 'array job $(ids array sub8.out), which is still PENDING' m5.err"
"$SLUICE" cancel "$(ids array sub8.out)" > /dev/null
"$SLUICE" cancel "$blocker" > /dev/null
check "... and the cancelled submission's merge job never runs" wait_state "$(ids merge sub8.out)" CANCELLED

# --- a task SIGKILLed mid-run leaves its worker's process group behind: the manager retries the task, and
# the retry stops that orphan (its recorded identity matches) before it runs the shard again
touch SLOW
rm -f pid_*
"$SLUICE" shard --submit --input tab.csv --key data_id --num-workers 1 --retry-backoff 0.2 --kill-grace 2 --output-dir out4 \
  --gpus-per-worker 0 --max-attempts 2 -- sh worker.sh {shard} {low} {high} {out} > sub7.out 2> sub7.err
for _ in $(seq 400); do [ -s pid_0 ] && break; sleep 0.05; done
orphan=$(cat pid_0)
task=$(pgrep -f "shard task $T/out4" | head -1)
check "the task and its worker run" test -n "$task" -a -n "$orphan"
kill -9 "$task"
for _ in $(seq 400); do [ -s pid_0 ] && [ "$(cat pid_0)" != "$orphan" ] && break; sleep 0.05; done
check "the retried task stopped the orphaned worker" bash -c "! kill -0 $orphan 2>/dev/null"
check "... and started the shard again" test "$(cat pid_0)" != "$orphan"
check "... saying so in its log" grep -q "still runs: stopping its process group" <("$SLUICE" logs --stderr "$(ids array sub7.out)_0")
rm SLOW
rc=0; "$SLUICE" wait "$(ids merge sub7.out)" 2>/dev/null || rc=$?
check "... which completes: attempt 2, merged" bash -c "test $rc = 0 && grep -q '\"attempt\":2' out4/worker_args_*.json && $(declare -f merged_ok); merged_ok out4"

# --- GPU tasks: each worker runs on the GPU the manager gave its task, by UUID, never two on one GPU
: > events.log
submit --output-dir out3 --gpus-per-worker 1 --min-gpu-memory 1 --max-parallel-workers 4 -- \
  sh worker.sh {shard} {low} {high} {out} > sub6.out 2> sub6.err
rc=0; "$SLUICE" wait "$(ids merge sub6.out)" 2>/dev/null || rc=$?
check "a GPU array completes" test "$rc" = 0
check "every worker saw exactly one of the two GPUs, none shared at a time" python3 - events.log "$A100" "$T4" <<'PY'
import sys
ev = sorted((float(l.split()[2]), l.split()[0], l.split()[1], l.split()[3] if l.startswith("start") else "") for l in open(sys.argv[1]))
held, gpu_of = {}, {}
for _, kind, shard, gpu in ev:
    if kind == "start":
        assert gpu in sys.argv[2:], gpu
        assert gpu not in held.values(), f"{gpu} shared"
        held[shard] = gpu
    else:
        del held[shard]
assert sum(1 for e in ev if e[1] == "start") == 4
PY
check "the state files record the GPU's UUID" bash -c "grep -h -o '\"uuid\":\"GPU-[^\"]*\"' out3/worker_args_*.json | wc -l | grep -qx 4"

# --- a task's errors
rc=0; "$SLUICE" shard task out --shard 99 2> t.err || rc=$?
check "task --shard 99: no such shard (exit 2)" bash -c "test $rc = 2 && grep -q 'no shard 99' t.err"
rc=0; env -u SLUICE_ARRAY_TASK_ID "$SLUICE" shard task out 2> t.err || rc=$?
check "task without --shard outside an array (exit 2)" bash -c "test $rc = 2 && grep -q SLUICE_ARRAY_TASK_ID t.err"
rc=0; "$SLUICE" shard --server 127.0.0.1:1 --input tab.csv --key data_id --num-workers 4 --output-dir out --gpus-per-worker 0 -- true 2> u.err || rc=$?
check "a submitted directory whose manager cannot be asked is not run locally (exit 5)" bash -c "test $rc = 5 && grep -q 'cannot be asked' u.err"
finish
