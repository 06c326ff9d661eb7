# `sluice stop` (docs/monitoring.md): stop a running job twice (in its first stage, then in its last, while
# the export is being written), check the exit codes, job_stopped, job_summary, the pid file and that every
# committed checkpoint and result verifies; resume it and require the export to be byte-identical to an
# uninterrupted run. Then the refusals (nothing signalled): no pid file, a finished job, a SIGKILLed one, a
# pid now owned by an unrelated process (another start time), another host, another boot; and the
# escalation: a process that ignores SIGTERM is SIGKILLed after --timeout, or at once with --force.
# SLUICE_DELAY_AT slows each partition start down so that the job runs for a few seconds.
source "$(dirname "$0")/lib.sh" "$@"

make_corpus data.jsonl 6000
write_recipe ref.yaml data.jsonl o_ref/out.jsonl
"$SLUICE" run ref.yaml --job_id ref --partition.max_size_mb 0.05 > /dev/null
check "reference run produced output" test -s o_ref/out.jsonl

HOST=$(hostname)
BOOT=$(cat /proc/sys/kernel/random/boot_id)
ticks() { local s; s=$(cat "/proc/$1/stat"); s=${s##*) }; set -- $s; echo "${20}"; }  # field 22
alive() { kill -0 "$1" 2> /dev/null; }
# wait_for CONDITION...: up to 60 s
wait_for() { for _ in $(seq 1 600); do if "$@"; then return 0; fi; sleep 0.1; done; return 1; }
n_events() { [ -f "$1" ] && count_events "$1" "$2" "${3:-True}" || echo 0; }
at_least() { [ "$(n_events "$1" "$2" "${4:-True}")" -ge "$3" ]; }
no_temp_files() { [ -z "$(find "$1" -name '*.tmp-*')" ]; }
# done_in_stage DIR STAGE N: N partitions of STAGE are done (grep, not Python: a poll must be quick to act
# while the job is where it was seen)
done_in_stage() { [ "$(grep '"event_type":"partition_complete"' "$1/events.jsonl" 2> /dev/null | grep -c "\"stage\":$2,")" -ge "$3" ]; }
# hold PID: the run is held still (SIGSTOP) where it is, however slowly a loaded machine runs what comes next;
# stop_held DIR [options]: `sluice stop` of it, let go (SIGCONT) once stop's SIGTERM is pending; sets rc.
HELD=
trap 'if [ -n "$HELD" ]; then kill -CONT "$HELD" 2> /dev/null; fi; rm -rf "$T"' EXIT
hold() { if kill -STOP "$1"; then HELD=$1; fi; }
sigterm_pending() { local k v; while read -r k v; do [ "$k" = ShdPnd: ] && { (( 0x$v & 0x4000 )); return; }; done < "/proc/$1/status"; return 1; }
stop_held() {
  "$SLUICE" stop "$@" > stop.out 2>&1 &
  local stopper=$!
  if [ -n "$HELD" ]; then
    wait_for sigterm_pending "$HELD" || true
    kill -CONT "$HELD"; HELD=
  fi
  rc=0; wait $stopper || rc=$?
}

write_recipe r.yaml data.jsonl o/out.jsonl
J=o/job
run_slow() {  # in the background; sets PID
  SLUICE_DELAY_AT=partition_start:0.03 "$SLUICE" run r.yaml --job_id job --partition.max_size_mb 0.05 > run.out 2> run.err &
  PID=$!
}

# --- 1. stop in the first stage ---------------------------------------------------------------------------
run_slow
check "the running job has a pid file" wait_for test -s $J/job.pid
check "the pid file records pid, start time, boot id and host" \
  test "$(json_get $J/job.pid "d['pid'], d['start_ticks'], d['boot_id'], d['host']")" = "$PID $(ticks $PID) $BOOT $HOST"
wait_for done_in_stage $J 0 5 || true
hold $PID
stop_held $J
set +e
wait $PID
run_rc=$?
set -e
check "stop exits 0 after a graceful stop (got $rc)" test $rc -eq 0
check "stop says what it did" grep -q "sent SIGTERM to sluice run (pid $PID" stop.out
check "the stopped run exits 6 (got $run_rc)" test $run_rc -eq 6
check "the run prints how to resume" grep -q "resume with" run.err
check "one job_stopped event, fsynced last" test "$(tail -n 1 $J/events.jsonl | python3 -c 'import json,sys; print(json.load(sys.stdin)["event_type"])')" = job_stopped
check "job_stopped says what was done in the first stage and what was abandoned" python3 - $J/events.jsonl <<'PY'
import json, sys
e = [json.loads(l) for l in open(sys.argv[1])][-1]
assert e["signal"] == "SIGTERM" and e["stage"] == 0 and e["total_partitions"] == 170, e
assert 5 <= e["stage_completed_partitions"] < 170 and e["completed_partitions"] == 0, e
assert all(isinstance(p, int) for p in e["abandoned_partitions"]) and len(e["abandoned_partitions"]) <= 2, e
PY
check "job_summary status is stopped" test "$(json_get $J/job_summary.json "d['status'], d['stop_reason']")" = "stopped SIGTERM"
check "the pid file is removed at a graceful exit" test ! -e $J/job.pid
check "no temporary file is left behind" no_temp_files $J
"$SLUICE" snapshot $J --verify-checksums > snap.json 2> snap.err
check "snapshot: status stopped, resumable" test "$(json_get snap.json "d['overall_status'], d['checkpointing']['resumable']")" = "stopped True"
check "snapshot --verify-checksums: every checkpoint verifies" test ! -s snap.err
check "the stopped job's snapshot is valid against docs/snapshot.schema.json" python3 -c \
  "import json, sys, jsonschema; jsonschema.validate(json.load(open('snap.json')), json.load(open(sys.argv[1])))" "$SRC/docs/snapshot.schema.json"
set +e; "$SLUICE" monitor --once $J > mon.out; rc=$?; set -e
check "monitor --once on a stopped job exits 6 (got $rc)" test $rc -eq 6
check "monitor reports status=stopped" grep -q "status=stopped" mon.out
set +e; "$SLUICE" stop $J > stop2.out 2>&1; rc=$?; set -e
check "stop of a stopped job: not running, exit 7 (got $rc)" test $rc -eq 7

# --- 2. resume, stop in the last stage while the export grows ----------------------------------------------
run_slow
wait_for done_in_stage $J 1 5 || true
hold $PID
# --restart beside the running job is refused before it discards anything (it used to wipe the running job's
# state, then refuse); the job goes on and, stopped and resumed below, still ends byte-identical.
n_checkpoint_dirs() { find $J/checkpoints -mindepth 1 -maxdepth 1 -type d | wc -l; }
before=$(n_checkpoint_dirs)
set +e; "$SLUICE" run r.yaml --job_id job --partition.max_size_mb 0.05 --restart > restart.out 2>&1; rc=$?; set -e
check "--restart of a running job: refused, exit 5 (got $rc)" test $rc -eq 5
check "... saying it is running" grep -q "already running in another process" restart.out
check "... and the running job's plan, DAG and checkpoints are still there" \
  test -f $J/metadata/dataset_mapping.json -a -f $J/dag_execution_plan.json -a "$(n_checkpoint_dirs)" -ge "$before" -a "$before" -gt 0
check "... and it is still running" alive $PID
stop_held $J --timeout 60
set +e
wait $PID
run_rc=$?
set -e
check "second stop (last stage): stop 0, run 6 (got $rc, $run_rc)" test "$rc $run_rc" = "0 6"
check "job_stopped in the last stage with results committed" python3 - $J/events.jsonl <<'PY'
import json, sys
e = [json.loads(l) for l in open(sys.argv[1])][-1]
assert e["event_type"] == "job_stopped" and e["stage"] == 1 and 5 <= e["completed_partitions"] < 170, e
PY
check "the export is not there yet" test ! -e o/out.jsonl
"$SLUICE" snapshot $J --verify-checksums > snap.json 2> snap.err
check "snapshot --verify-checksums after the second stop: all verify" test ! -s snap.err
check "no temporary file is left behind (2)" no_temp_files $J

# --- 3. resume to the end ----------------------------------------------------------------------------------
"$SLUICE" run r.yaml --job_id job --partition.max_size_mb 0.05 > run.out 2> run.err
check "the resumed job completes" test "$(json_get $J/job_summary.json "d['status']")" = completed
check "export after two stops and a resume is byte-identical to an uninterrupted run" cmp -s o_ref/out.jsonl o/out.jsonl
check "the resume reused committed partitions" at_least $J/events.jsonl partition_skipped 5
check "the run's pid file is gone after it finished" test ! -e $J/job.pid
set +e; "$SLUICE" stop $J > stop.out 2>&1; rc=$?; set -e
check "stop of a finished job: exit 7 (got $rc)" test $rc -eq 7
check "... saying it is not running" grep -q "not running" stop.out

# --- 4. refusals -------------------------------------------------------------------------------------------
set +e; mkdir -p empty; "$SLUICE" stop empty > /dev/null 2>&1; rc=$?; set -e
check "stop of a directory that is no job: exit 3 (got $rc)" test $rc -eq 3

write_recipe k.yaml data.jsonl ok/out.jsonl
SLUICE_DELAY_AT=partition_start:0.05 "$SLUICE" run k.yaml --job_id killed > /dev/null 2>&1 &
KPID=$!
wait_for test -s ok/killed/job.pid || true
kill -9 $KPID
wait $KPID 2> /dev/null || true
check "a SIGKILLed run leaves its pid file" test -s ok/killed/job.pid
set +e; "$SLUICE" stop ok/killed > stop.out 2>&1; rc=$?; set -e
check "stop of a SIGKILLed job: exit 7 (got $rc)" test $rc -eq 7
check "... saying its process is gone" grep -q "is gone" stop.out

mkdir -p forged
forge() {  # PID TICKS HOST BOOT
  printf '{"pid":%s,"start_ticks":%s,"boot_id":"%s","host":"%s","run_id":"forged","job_id":"forged","started_at":0}\n' \
    "$1" "$2" "$4" "$3" > forged/job.pid
}
sleep 300 &
SLEEP=$!
forge $SLEEP $(($(ticks $SLEEP) + 1)) "$HOST" "$BOOT"
set +e; "$SLUICE" stop forged > stop.out 2>&1; rc=$?; set -e
check "a recycled pid (other start time), lock free: exit 7 (got $rc)" test $rc -eq 7
check "... naming the other process" grep -q "belongs to another process" stop.out
# A lock holder the pid file does not name: refused.
exec 9> forged/job.lock
flock -n 9
set +e; "$SLUICE" stop forged > stop.out 2>&1; rc=$?; set -e
check "a recycled pid while the lock is held: refused, exit 5 (got $rc)" test $rc -eq 5
forge $SLEEP "$(ticks $SLEEP)" other-host.example "$BOOT"
set +e; "$SLUICE" stop forged > stop.out 2>&1; rc=$?; set -e
check "another host: refused, exit 5 (got $rc)" test $rc -eq 5
check "... naming the host" grep -q "other-host.example" stop.out
forge $SLEEP "$(ticks $SLEEP)" "$HOST" 00000000-0000-0000-0000-000000000000
exec 9>&-
set +e; "$SLUICE" stop forged > stop.out 2>&1; rc=$?; set -e
check "another boot: not running, exit 7 (got $rc)" test $rc -eq 7
check "the unrelated process was never signalled" alive $SLEEP
kill $SLEEP

# --- 5. escalation: a process that ignores SIGTERM ---------------------------------------------------------
lock_held() { ! flock -n forged/job.lock true; }
stubborn() {  # a process holding forged/job.lock that ignores SIGTERM; sets STUB and forges its pid file
  # (SIGTERM ignored before the lock is taken, and the lock seen held: stop would find a free lock "not running";
  # the stub waits for the lock, which the look in lock_held takes for a moment when it is free)
  bash -c 'trap "" TERM; exec 9> "$1"; flock 9 || exit 1; while :; do sleep 0.05; done' _ forged/job.lock &
  STUB=$!
  wait_for lock_held || true
  forge $STUB "$(ticks $STUB)" "$HOST" "$BOOT"
}
stubborn
t0=$(date +%s.%N)
set +e; "$SLUICE" stop forged --timeout 1 > stop.out 2>&1; rc=$?; set -e
t1=$(date +%s.%N)
check "SIGTERM ignored: escalated, exit 1 (got $rc)" test $rc -eq 1
check "... printed that it sent SIGKILL" grep -q "sending SIGKILL" stop.out
check "... after about --timeout seconds" python3 -c "import sys; d=$t1-$t0; sys.exit(not 1.0 <= d < 5)"
set +e; { wait $STUB; } 2> /dev/null; rc=$?; set -e
check "... and the process died of SIGKILL (got $rc)" test $rc -eq 137
stubborn
set +e; "$SLUICE" stop forged --force > stop.out 2>&1; rc=$?; { wait $STUB; } 2> /dev/null; stub_rc=$?; set -e
check "--force: SIGKILL at once, exit 0 (got $rc, process $stub_rc)" test "$rc $stub_rc" = "0 137"
check "... and says so" grep -q "sent SIGKILL" stop.out
finish
