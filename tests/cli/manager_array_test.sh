#!/usr/bin/env bash
# Array jobs of sluice server end to end (docs/manager.md "Array jobs"): a real daemon; an array of six
# tasks limited to two at once writes one file per index from its environment, and never runs more than
# two together (attempt start/end times); a job after the array runs only after every task; task and array
# references in status, logs, wait and cancel; a failing task makes `wait ID` fail with its code; a daemon
# restart keeps the array and its limit.
source "$(dirname "$0")/lib.sh" "$@"
SECONDS=0

SERVER_FLAGS=(--cpus 8)
source "$SRC/tests/cli/manager_lib.sh"
api() { curl -s "http://$SLUICE_SERVER$1"; }
start_server

# --- six tasks, at most two at once, each writing its index; then a job after all of them. A task goes on
# once two tasks have written their files (at most 30 s), so that two are seen running at once however
# slowly a loaded machine starts them.
a=$("$SLUICE" submit --array 0-5%2 --cwd "$T" -- sh -c 'echo $SLUICE_ARRAY_TASK_ID > out_$SLUICE_ARRAY_TASK_ID; echo "task $SLUICE_ARRAY_TASK_ID of $SLUICE_ARRAY_TASK_COUNT ($SLUICE_ARRAY_TASK_MIN-$SLUICE_ARRAY_TASK_MAX) in $SLUICE_ARRAY_JOB_ID"; i=0; while [ "$(ls out_* | wc -l)" -lt 2 ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; sleep 0.3' 2> "$T/submit.err")
check "submit prints the array id" test -n "$a"
check "submit says the task count" grep -q "array $a of 6 tasks" "$T/submit.err"
after=$("$SLUICE" submit --after ok:"$a" --cwd "$T" -- sh -c 'ls out_* | wc -l > after_count')
rc=0; "$SLUICE" wait "$a" 2>/dev/null || rc=$?
check "wait on the array exits 0 when all completed" test "$rc" = 0
ok_files=1
for i in 0 1 2 3 4 5; do [ "$(cat "$T/out_$i" 2>/dev/null)" = "$i" ] || ok_files=0; done
check "six out files with their index" test "$ok_files" = 1
check "never more than two tasks running at once" python3 - "$a" <<'PY'
import json, os, sys, urllib.request
srv, a = os.environ["SLUICE_SERVER"], sys.argv[1]
get = lambda p: json.load(urllib.request.urlopen(f"http://{srv}/v1/jobs/{p}"))
spans = []
for t in get(a)["array"]["tasks"]:
    at = get(f"{a}_{t['index']}")["attempts_detail"][0]
    spans.append((at["started_at"], at["ended_at"]))
most = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
sys.exit(0 if len(spans) == 6 and most == 2 else 1)
PY
rc=0; "$SLUICE" wait "$after" 2>/dev/null || rc=$?
check "the job after the array completes" test "$rc" = 0
check "it ran after every task" test "$(cat "$T/after_count")" = 6
check "status ID_3 is the task" grep -q "job ${a}_3 .*COMPLETED" <("$SLUICE" status "${a}_3")
check "status ID_3 --json has array_id and array_index" test "$(field "${a}_3" '["array_index"]')" = 3
check "status ID is the array summary" grep -q "array $a .*COMPLETED, 6 tasks (0-5%2)" <("$SLUICE" status "$a")
check "status ID lists the tasks" test "$("$SLUICE" status "$a" | grep -c "^  ${a}_")" = 6
check "array view counts states" test "$(field "$a" '["array"]["states"]["COMPLETED"]')" = 6
check "logs ID_2 prints the task's output" test "$("$SLUICE" logs "${a}_2")" = "task 2 of 6 (0-5) in $a"
rc=0; "$SLUICE" logs "$a" 2> "$T/logs.err" || rc=$?
check "logs of an array refused (exit 2)" test "$rc" = 2
check "it says to name a task" grep -q "job $a is an array of 6 tasks; name one as ${a}_K" "$T/logs.err"
rc=0; "$SLUICE" status "${a}_9" 2>/dev/null || rc=$?
check "an index the array lacks is unknown (exit 7)" test "$rc" = 7
check "list shows tasks as ID_K" grep -q "^ *${a}_5 " <("$SLUICE" list)
check "GET /v1/jobs?array= lists the tasks" test "$(api "/v1/jobs?array=$a" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["jobs"]))')" = 6

# --- a failing task: wait on the array fails with its exit code
f=$("$SLUICE" submit --array 1,3,5 -- sh -c '[ $SLUICE_ARRAY_TASK_ID != 3 ] || exit 5' 2>/dev/null)
rc=0; "$SLUICE" wait "$f" 2> "$T/wait.err" || rc=$?
check "wait on an array with a failed task exits with its code" test "$rc" = 5
check "it names the task" grep -q "job ${f}_3 FAILED" "$T/wait.err"
check "aggregate state FAILED" test "$(state "$f")" = FAILED

# --- cancel of a whole array; --json submit gives the task ids
out=$("$SLUICE" submit --json --array 0-3%1 -- sleep 30)
c=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
check "submit --json lists the task ids" test "$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["task_ids"] == list(range(d["id"], d["id"] + 4)))')" = True
wait_state "${c}_0" RUNNING
check "a held-back task says why" grep -q "array $c: 1 of 1 tasks running or next to start (%1)" <("$SLUICE" status "${c}_2")
check "cancel of the array applies to all four" grep -q "array $c: cancel applied to 4 of 4 tasks (1 running" <("$SLUICE" cancel "$c")
rc=0; "$SLUICE" wait "$c" 2>/dev/null || rc=$?
check "the cancelled array waits out as CANCELLED (9)" test "$rc" = 9
check "cancel again is 409" test "$(code -X POST -d '' "http://$SLUICE_SERVER/v1/jobs/$c/cancel")" = 409
check "bad array spec refused naming the item" bash -c "'$SLUICE' submit --array 0-3,2 -- true 2>&1 | grep -q 'index 2 is given twice'"
check "array via the API, bad item 400" test "$(code -X POST "http://$SLUICE_SERVER/v1/jobs" -d '{"command":["true"],"array":"5-2"}')" = 400

# --- a restart keeps the array, its indices and its limit
r=$("$SLUICE" submit --array 0-3%2 --cwd "$T" -- sh -c 'sleep 1; echo $SLUICE_ARRAY_TASK_ID > r_$SLUICE_ARRAY_TASK_ID' 2>/dev/null)
wait_state "${r}_0" RUNNING
kill -9 "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true
start_server
check "after a restart the array is still there" test "$(field "$r" '["array"]["size"]')" = 4
rc=0; "$SLUICE" wait "$r" 2>/dev/null || rc=$?
check "the restarted array completes" test "$rc" = 0
check "every index ran once" test "$(cat "$T"/r_* | sort | tr '\n' ' ')" = "0 1 2 3 "
check "the limit held across the restart" python3 - "$r" <<'PY'
import json, os, sys, urllib.request
srv, a = os.environ["SLUICE_SERVER"], sys.argv[1]
get = lambda p: json.load(urllib.request.urlopen(f"http://{srv}/v1/jobs/{p}"))
spans = [(x["started_at"], x["ended_at"]) for t in get(a)["array"]["tasks"] for x in get(f"{a}_{t['index']}")["attempts_detail"]]
sys.exit(0 if max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans) <= 2 else 1)
PY
stop_server
check "no daemon errors" bash -c "! grep -qi 'supervisor:' '$T/srv.err'"

echo "took ${SECONDS} s"
finish
