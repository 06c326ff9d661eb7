# `sluice monitor` (docs/monitoring.md): --once on a completed, a failed (with a retry), an interrupted and a
# missing job, with their exit codes and the key=value line it prints when stdout is not a terminal; a job
# without an event log (its counts are the snapshot's, --once and followed to its end);
# following a running job to its end (several lines, counts that only grow, rates and ETA while it runs,
# exit 0) and a running job that is stopped (exit 6); the redrawn block with a bar per stage on a terminal.
source "$(dirname "$0")/lib.sh" "$@"

make_corpus data.jsonl 6000
field() { grep -o " $2=[^ ]*" "$1" | tail -n 1 | cut -d= -f2; }  # the last value of key $2 in file $1
wait_for() { for _ in $(seq 1 600); do if "$@"; then return 0; fi; sleep 0.1; done; return 1; }
mon() {  # monitor ARGS...: sets RC; stdout in mon.out
  set +e
  "$SLUICE" monitor "$@" > mon.out 2> mon.err
  RC=$?
  set -e
}
follow() {  # RECIPE OUT_DIR JOB_ID DELAY INTERVAL: runs the job slowed down and follows it to its end (RC, mon.out)
  SLUICE_DELAY_AT=partition_start:$4 "$SLUICE" run "$1" --job_id "$3" --partition.max_size_mb 0.05 > /dev/null 2>&1 &
  local pid=$!
  wait_for test -s "$2/$3/job.pid" || true
  mon "$2/$3" --interval "$5"
  wait $pid
}

# --- a completed job ---------------------------------------------------------------------------------------
write_recipe r.yaml data.jsonl o/out.jsonl
"$SLUICE" run r.yaml --job_id done --partition.max_size_mb 0.05 > /dev/null
mon --once o/done
check "completed: exit 0 (got $RC)" test $RC -eq 0
check "completed: one line when stdout is not a terminal" test "$(wc -l < mon.out)" -eq 1
check "completed: status, partitions and both stages done" \
  grep -q "job=done status=completed partitions=170/170 stages=170/170,170/170 rows=6000 " mon.out
check "completed: nothing in progress, retried or failed" grep -q "eta_s=- in_progress=0 retried=0 failed=0$" mon.out
check "completed: rates from the run" python3 -c "import sys; sys.exit(not (float('$(field mon.out rows_per_s)') > 0 and float('$(field mon.out mb_per_s)') > 0))"
check "no terminal control characters off a terminal" test -z "$(grep -P '\x1b' mon.out)"

# --- a job without an event log (event_logging.enabled: false): the counts are the snapshot's --------------
write_recipe n.yaml data.jsonl on/out.jsonl "event_logging:" "  enabled: false"
"$SLUICE" run n.yaml --job_id nolog --partition.max_size_mb 0.05 > /dev/null
test ! -e on/nolog/events.jsonl
mon --once on/nolog
check "no event log: exit 0 (got $RC)" test $RC -eq 0
check "no event log: every partition through both stages, the rows read, no rates" \
  grep -q "job=nolog status=completed partitions=170/170 stages=170/170,170/170 rows=6000 rows_per_s=- eta_s=- in_progress=0 retried=0 failed=0$" mon.out
check "no event log: the same partitions as sluice snapshot" \
  test "$(field mon.out partitions)" = "$("$SLUICE" snapshot on/nolog 2> /dev/null | python3 -c "import json,sys; p=json.load(sys.stdin)['progress_summary']; print(f\"{p['completed_partitions']}/{p['total_partitions']}\")")"
check "no event log: says where the states come from" grep -q "no event log: partition states are the latest run's outcome" mon.err
# Followed while it runs: the final report is the last snapshot's.
follow n.yaml on nolog2 0.01 0.2
check "no event log, following: exit 0 when the job completes (got $RC)" test $RC -eq 0
check "no event log, following: it was followed while running" grep -q "status=running" mon.out
check "no event log, following: the final report has every partition" \
  grep -q "status=completed partitions=170/170 stages=170/170,170/170 rows=6000 " <(tail -n 1 mon.out)

# --- a failed job with a retry -----------------------------------------------------------------------------
write_recipe f.yaml data.jsonl of/out.jsonl "  max_retries: 1"
SLUICE_FAIL_AT=partition_start:1:1000 "$SLUICE" run f.yaml --job_id failed --partition.max_size_mb 0.05 > /dev/null 2>&1 || true
mon --once of/failed
check "failed: exit 1 (got $RC)" test $RC -eq 1
check "failed: status, one partition retried and failed" grep -q "status=failed .* retried=1 failed=1$" mon.out

# --- an interrupted job (the process killed itself) ---------------------------------------------------------
write_recipe k.yaml data.jsonl ok/out.jsonl
(SLUICE_CRASH_AT=partition_start:20 "$SLUICE" run k.yaml --job_id killed --partition.max_size_mb 0.05) > /dev/null 2>&1 || true
mon --once ok/killed
check "interrupted: exit 7 (got $RC)" test $RC -eq 7
check "interrupted: status and nothing counted as running" grep -q "status=interrupted .* in_progress=0 " mon.out

# --- not a job ---------------------------------------------------------------------------------------------
mkdir -p empty
mon --once empty
check "not a job directory: exit 3 (got $RC)" test $RC -eq 3
mon --once does-not-exist
check "no such directory: exit 3 (got $RC)" test $RC -eq 3

# --- following a running job to its end --------------------------------------------------------------------
write_recipe s.yaml data.jsonl os/out.jsonl
follow s.yaml os live 0.02 0.3
check "following: exit 0 when the job completes (got $RC)" test $RC -eq 0
check "following: several reports while it ran" test "$(grep -c 'status=running' mon.out)" -ge 3
check "following: the last report is the final status" test "$(tail -n 1 mon.out | grep -o 'status=[a-z_]*')" = status=completed
check "following: the final report has every partition" grep -q "partitions=170/170 stages=170/170,170/170" <(tail -n 1 mon.out)
check "following: counts never go down" python3 - mon.out <<'PY'
import re, sys
prev = None
for line in open(sys.argv[1]):
    cur = [int(x) for x in re.findall(r"(\d+)/170", line)]
    assert prev is None or all(a >= b for a, b in zip(cur, prev)), (prev, cur)
    prev = cur
PY
check "following: rates and an ETA while it runs" python3 - mon.out <<'PY'
import re, sys
running = [dict(kv.split("=", 1) for kv in l.split()[3:]) for l in open(sys.argv[1]) if "status=running" in l]
assert any(float(r["rows_per_s"]) > 0 and float(r["mb_per_s"]) > 0 and r["eta_s"] != "-" for r in running), running
PY

# --- a followed job that is stopped ------------------------------------------------------------------------
write_recipe t.yaml data.jsonl ot/out.jsonl
SLUICE_DELAY_AT=partition_start:0.05 "$SLUICE" run t.yaml --job_id stopme --partition.max_size_mb 0.05 > /dev/null 2>&1 &
PID=$!
wait_for test -s ot/stopme/job.pid || true
"$SLUICE" monitor ot/stopme --interval 0.2 > mon.out 2> /dev/null &
MON=$!
sleep 1
"$SLUICE" stop ot/stopme > /dev/null 2>&1 || true
set +e; wait $MON; RC=$?; wait $PID; set -e
check "following a job that is stopped: exit 6 (got $RC)" test $RC -eq 6
check "... and the last report says stopped" test "$(tail -n 1 mon.out | grep -o 'status=[a-z_]*')" = status=stopped

# --- on a terminal: a bar per stage, redrawn in place ------------------------------------------------------
script -qec "'$SLUICE' monitor --once o/done" /dev/null > tty.out
check "terminal: a bar per stage" test "$(grep -c 'stage [12]/2 \[#\{10,\}\] *170/170 partitions' tty.out)" -eq 2
check "terminal: lines are cleared as they are drawn" grep -q $'\x1b\[2K' tty.out
finish
