# `sluice snapshot` and `sluice jobs` against known runs: completed under every checkpoint strategy, failed
# after retries, retried then completed, killed mid-run (interrupted) and resumed, restarted, running (a
# partition waiting for its retry), allow_partial; and DataJuicer job directories. Every number is checked
# against an independent Python fold of the job's events.jsonl, plan and commit records (the rules of
# docs/snapshot.md), and every snapshot is validated against docs/snapshot.schema.json.
source "$(dirname "$0")/lib.sh" "$@"

# A Python with jsonschema (Debian: python3-jsonschema, installed by scripts/install-deps.sh).
PY=""
for p in python3 /usr/bin/python3; do
  if "$p" -c 'import jsonschema' 2> /dev/null; then PY=$p; break; fi
done
if [ -z "$PY" ]; then
  echo "FAIL - no python3 with the jsonschema module (apt-get install python3-jsonschema; scripts/install-deps.sh does)"
  exit 1
fi
SCHEMA="$SRC/docs/snapshot.schema.json"

cat > validate.py <<'PY'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
cls = jsonschema.validators.validator_for(schema)
cls.check_schema(schema)
errors = sorted(cls(schema).iter_errors(json.load(open(sys.argv[2]))), key=lambda e: list(e.path))
for e in errors[:5]:
    print("  schema:", "/".join(map(str, e.path)), e.message[:200])
sys.exit(1 if errors else 0)
PY

# expect.py JOB_DIR SNAPSHOT.json STATUS: recomputes the snapshot from the job's files and compares.
cat > expect.py <<'PY'
import json, os, sys
job, snap_path, want = sys.argv[1:4]
snap = json.load(open(snap_path))
summary = json.load(open(f"{job}/job_summary.json"))
plan = json.load(open(f"{job}/metadata/dataset_mapping.json"))
dag = json.load(open(f"{job}/dag_execution_plan.json"))
ops = [o["name"] for o in plan["ops"]]
n_ops, n_parts = len(ops), len(plan["partitions"])
last_stage = len(dag["stages"]) - 1
events = [json.loads(l) for l in open(summary["event_log_file"]) if l.strip()]
if want == "running":  # the job went on writing after the snapshot read its log: take what it saw
    events = events[: snap["metadata"]["events_analyzed"]]
problems = []
def same(what, got, exp, tol=1e-6):
    if isinstance(exp, float) or isinstance(got, float):
        ok = got is not None and exp is not None and abs(got - exp) <= tol * max(1.0, abs(exp))
    else:
        ok = got == exp
    if not ok:
        problems.append(f"{what}: snapshot {repr(got)[:300]}, expected {repr(exp)[:300]}")

# --- the fold (docs/snapshot.md, "How the event log is read") ---
def fresh():
    return [dict(status="not_started", sample=None, start=None, end=None, err=None,
                 ops=[dict(status="not_started", start=None, end=None, dur=None, inp=None, out=None, err=None, ck=None)
                      for _ in ops]) for _ in range(n_parts)]
st = dict(parts=fresh(), first=None, last_ts=None, last_job=None, term_ts=None, err=None, term_status=None, last_ck=None)
resume_cmd = None
def reset():
    st.update(parts=fresh(), first=None, last_ts=None, last_job=None, term_ts=None, err=None, term_status=None, last_ck=None)
for e in events:
    t, ts = e["event_type"], e["timestamp"]
    if t == "job_start":
        if not e["is_resuming"]:
            reset()
        if st["first"] is None:
            st["first"] = ts
        st.update(last_job="start", term_ts=None, err=None)
        resume_cmd = e.get("resumption_command") or resume_cmd
    st["last_ts"] = ts
    if t == "job_complete":
        st.update(last_job="complete", term_ts=ts, term_status=e["status"], err=e.get("error_message"))
    elif t == "job_failed":
        st.update(last_job="failed", term_ts=ts, err=e.get("error_message"))
        resume_cmd = e.get("resumption_command") or resume_cmd
    if "partition_id" not in e or t not in ("partition_start", "partition_complete", "partition_failed", "partition_skipped",
                                             "op_start", "op_complete", "checkpoint_save", "checkpoint_load"):
        continue
    p = st["parts"][e["partition_id"]]
    if t == "partition_start":
        p["status"] = "in_progress"
        p["start"] = p["start"] if p["start"] is not None else ts
        p["end"] = None
    elif t == "partition_complete":
        if e["stage"] == last_stage:
            p.update(status="completed", end=ts, sample=e["input_rows"])
    elif t == "partition_failed":
        for o in p["ops"]:
            if o["status"] == "in_progress":
                o.update(status="failed", end=ts, err=e["error_message"])
        p["err"] = e["error_message"]
        p["status"] = "in_progress" if e["will_retry"] else "failed"
        if not e["will_retry"]:
            p["end"] = ts
    elif t == "partition_skipped":
        p["status"] = "completed"
        for o in p["ops"]:
            o["status"] = "completed"
    else:
        o = p["ops"][e["operation_idx"]]
        if t == "op_start":
            o.update(status="in_progress", start=ts, end=None, dur=None, inp=None, out=None, err=None)
        elif t == "op_complete":
            o.update(status="completed", end=ts, dur=e["duration"], inp=e["input_rows"], out=e["output_rows"],
                     err=e.get("error_message"))
        elif t == "checkpoint_save":
            o["ck"] = ts
            st["last_ck"] = ts if st["last_ck"] is None else max(st["last_ck"], ts)
        elif t == "checkpoint_load":
            for q in p["ops"][: e["operation_idx"] + 1]:
                q["status"] = "completed"
parts = st["parts"]
running = want == "running"
if want != "running":
    lj = st["last_job"]
    derived = {"complete": st["term_status"], "failed": "failed", "start": "interrupted"}[lj]
    same("status derived from the log", derived, want)
for p in parts:
    if p["status"] == "completed":
        for o in p["ops"]:
            o["status"] = "completed"
    elif not running:
        if p["status"] == "in_progress":
            p["status"] = "interrupted"
        for o in p["ops"]:
            if o["status"] == "in_progress":
                o["status"] = "interrupted"

# --- commit records on disk ---
ckdir = summary["checkpoint_dir"]
valid = {}  # (p, idx) -> time
for pname in sorted(os.listdir(ckdir)) if os.path.isdir(ckdir) else []:
    if not pname.startswith("partition_"):
        continue
    pid = int(pname[len("partition_"):])
    for f in sorted(os.listdir(f"{ckdir}/{pname}")):
        if not (f.startswith("op_") and f.endswith(".manifest.json")):
            continue
        data = f"{ckdir}/{pname}/{f[:-len('.manifest.json')]}"
        m = json.load(open(f"{ckdir}/{pname}/{f}"))
        if (m["recipe_hash"] == plan["recipe_hash"] and len(m["ops"]) == n_ops and "export_offset" not in m
                and os.path.exists(data) and os.path.getsize(data) == m["file_bytes"]):
            idx = int(f[3:6])
            ev = parts[pid]["ops"][idx]["ck"]
            valid[(pid, idx)] = ev if ev is not None else os.stat(f"{data}.manifest.json").st_mtime_ns / 1e9
committed = [False] * n_parts
if want == "completed":
    committed = [p["status"] == "completed" for p in parts]
else:
    export = summary["export_path"]
    ext = ".gz" if export.endswith(".gz") else ".zst" if export.endswith(".zst") else ""
    journal = f"{export}.{summary['job_id']}.partial"
    source = journal if os.path.exists(journal) else export if os.path.exists(export) else None
    size = os.path.getsize(source) if source else 0
    expected, in_prefix = 0, True
    for i in range(n_parts):
        path = f"{job}/results/partition_{i:06d}.jsonl{ext}"
        m = json.load(open(path + ".manifest.json")) if os.path.exists(path + ".manifest.json") else None
        if m is not None and m["recipe_hash"] != plan["recipe_hash"]:
            m = None
        if m is not None and "export_offset" in m:
            if in_prefix and source and m["export_offset"] == expected and m["file_bytes"] <= size - expected:
                committed[i] = True
                expected += m["file_bytes"]
                continue
        elif m is not None and os.path.exists(path) and os.path.getsize(path) == m["file_bytes"]:
            committed[i] = True
        in_prefix = False
covered = [n_ops if committed[i] else max([k + 1 for (q, k) in valid if q == i], default=0) for i in range(n_parts)]

# --- compare ---
total_ops = n_parts * n_ops
done_ops = sum(o["status"] == "completed" for p in parts for o in p["ops"])
pct = lambda a, b: 100.0 * a / b if b else 0.0
ps = snap["progress_summary"]
done_parts = sum(p["status"] == "completed" for p in parts)
same("overall_status", snap["overall_status"], want)
same("job_info.status", snap["job_info"]["status"], want)
same("job_info.job_id", snap["job_info"]["job_id"], summary["job_id"])
same("job_info.resumption_command", snap["job_info"]["resumption_command"], resume_cmd)
same("job_info.config_file", snap["job_info"]["config_file"], [summary["config_file"]])
same("job_info.error_message", snap["job_info"]["error_message"],
     st["err"] if want in ("failed", "completed_with_failures") else None)
same("total_partitions", ps["total_partitions"], n_parts)
same("completed_partitions", ps["completed_partitions"], done_parts)
same("failed_partitions", ps["failed_partitions"], sum(p["status"] == "failed" for p in parts))
same("in_progress_partitions", ps["in_progress_partitions"], sum(p["status"] in ("in_progress", "interrupted") for p in parts))
same("total_operations", ps["total_operations"], total_ops)
same("completed_operations", ps["completed_operations"], done_ops)
same("failed_operations", ps["failed_operations"], sum(o["status"] == "failed" for p in parts for o in p["ops"]))
same("checkpointed_operations", ps["checkpointed_operations"], len(valid))
same("partition_progress_percentage", ps["partition_progress_percentage"], pct(done_parts, n_parts))
same("operation_progress_percentage", ps["operation_progress_percentage"], pct(done_ops, total_ops))
same("overall_percentage", snap["overall_progress"]["overall_percentage"], pct(done_ops, total_ops))
ck = snap["checkpointing"]
same("strategy", ck["strategy"], summary["checkpoint_strategy"])
same("last_checkpoint_time", ck["last_checkpoint_time"], st["last_ck"])
same("checkpointed_operations_count", ck["checkpointed_operations_count"], len(valid))
same("checkpoint_coverage", ck["checkpoint_progress"]["checkpoint_coverage"], sum(covered) / total_ops)
same("resumable", ck["resumable"], want in ("failed", "interrupted", "completed_with_failures") and sum(covered) > 0)
same("checkpointed_operations list", sorted(c["operation_key"] for c in ck["checkpoint_progress"]["checkpointed_operations"]),
     sorted(f"p{p}_op{i}_{ops[i]}" for (p, i) in valid))
for c in ck["checkpoint_progress"]["checkpointed_operations"]:
    p, i = (int(x) for x in c["operation_key"][1:].split("_op")[0:1] + [c["operation_key"].split("_op")[1].split("_")[0]])
    same(f"{c['operation_key']} checkpoint_time", c["checkpoint_time"], valid[(p, i)])
tm = snap["timing"]
same("timing.start_time", tm["start_time"], st["first"])
same("timing.end_time", tm["end_time"], st["term_ts"] if want in ("completed", "failed", "completed_with_failures") else None)
if want in ("completed", "failed", "completed_with_failures"):
    same("timing.duration_seconds", tm["duration_seconds"], st["term_ts"] - st["first"])
elif want == "interrupted":
    same("timing.duration_seconds", tm["duration_seconds"], st["last_ts"] - st["first"])
same("timing.job_summary_duration", tm["job_summary_duration"], summary.get("duration"))
same("timing.timing_source", tm["timing_source"], "events")
plan_mtime = os.stat(f"{job}/metadata/dataset_mapping.json").st_mtime_ns / 1e9
for i, p in enumerate(parts):
    s = snap["partition_progress"][str(i)]
    w = f"partition {i}"
    same(w + " status", s["status"], p["status"])
    same(w + " sample_count", s["sample_count"], p["sample"])
    same(w + " processing_start_time", s["processing_start_time"], p["start"])
    same(w + " processing_end_time", s["processing_end_time"], p["end"])
    same(w + " creation_start_time", s["creation_start_time"], plan["created_at"])
    same(w + " creation_end_time", s["creation_end_time"], plan_mtime)
    same(w + " completed_operations", s["completed_operations"], [ops[k] for k, o in enumerate(p["ops"]) if o["status"] == "completed"])
    same(w + " failed_operations", s["failed_operations"], [ops[k] for k, o in enumerate(p["ops"]) if o["status"] == "failed"])
    same(w + " checkpointed_operations", s["checkpointed_operations"], [ops[k] for k in range(n_ops) if (i, k) in valid])
    same(w + " error_message", s["error_message"], p["err"])
    cur = [ops[k] for k, o in enumerate(p["ops"]) if o["status"] == "in_progress"]
    same(w + " current_operation", s["current_operation"], cur[0] if cur else None)
    n_done = sum(o["status"] == "completed" for o in p["ops"])
    same(w + " progress_percentage", s["progress_percentage"], 100.0 if p["status"] == "completed" else pct(n_done, n_ops))
exp_ops = {}
for i, p in enumerate(parts):
    for k, o in enumerate(p["ops"]):
        if o["status"] != "not_started":
            exp_ops[f"p{i}_op{k}_{ops[k]}"] = (i, k, o)
same("operation_progress keys", sorted(snap["operation_progress"]), sorted(exp_ops))
for key, (i, k, o) in exp_ops.items():
    s = snap["operation_progress"].get(key)
    if s is None:
        continue
    same(key + " status", s["status"], o["status"])
    same(key + " operation_idx", s["operation_idx"], k)
    same(key + " start_time", s["start_time"], o["start"])
    same(key + " end_time", s["end_time"], o["end"])
    same(key + " duration", s["duration"], o["dur"])
    same(key + " input_rows", s["input_rows"], o["inp"])
    same(key + " output_rows", s["output_rows"], o["out"])
    same(key + " error_message", s["error_message"], o["err"])
    same(key + " checkpoint_time", s["checkpoint_time"], valid.get((i, k)))
    same(key + " progress_percentage", s["progress_percentage"], 100.0 if o["status"] == "completed" else 0.0)
fp = snap["file_paths"]
same("event_log_file", fp["event_log_file"], summary["event_log_file"])
same("checkpoint_dir", fp["checkpoint_dir"], summary["checkpoint_dir"])
same("metadata_dir", fp["metadata_dir"], f"{summary['job_dir']}/metadata")
same("events_analyzed", snap["metadata"]["events_analyzed"], len(events))
same("job_summary_loaded", snap["metadata"]["job_summary_loaded"], True)
for p in problems[:15]:
    print("  " + p)
if len(problems) > 15:
    print(f"  ... {len(problems) - 15} more")
sys.exit(1 if problems else 0)
PY

# snap NAME JOB_DIR STATUS: snapshot, schema check, expectation check.
snap() {
  local name=$1 dir=$2 want=$3
  "$SLUICE" snapshot "$dir" > "$name.json" 2> "$name.err"
  check "$name: snapshot validates against docs/snapshot.schema.json" "$PY" validate.py "$SCHEMA" "$name.json"
  check "$name: status $want, numbers match events, plan and commit records" "$PY" expect.py "$dir" "$name.json" "$want"
}
sget() { json_get "$1.json" "$2"; }

make_corpus data.jsonl 3000

# --- completed, under every checkpoint strategy
strategies=("every_op" "every_partition" "every_n_ops --checkpoint.n_ops 3" "manual --checkpoint.op_names $MANUAL_OPS" "disabled")
for s in "${strategies[@]}"; do
  name=${s%% *}
  write_recipe r.yaml data.jsonl "o/$name.jsonl"
  # shellcheck disable=SC2086
  "$SLUICE" run r.yaml --job_id "$name" --checkpoint.strategy $s > /dev/null
  snap "$name" "o/$name" completed
done
check "every_op: checkpoints after every op but the last, for every partition" \
  test "$(sget every_op "d['checkpointing']['checkpointed_operations_count']")" -eq \
       "$(( $(sget every_op "d['progress_summary']['total_partitions']") * 11 ))"
check "disabled: only the deduplicator's stage outputs are checkpoints" \
  test "$(sget disabled "sorted(set(c['operation_name'] for c in d['checkpointing']['checkpoint_progress']['checkpointed_operations']))")" = "['document_deduplicator']"
check "completed: coverage 1, not resumable, 100%" \
  test "$(sget every_partition "(d['checkpointing']['checkpoint_progress']['checkpoint_coverage'], d['checkpointing']['resumable'], d['overall_progress']['overall_percentage'])")" = "(1.0, False, 100.0)"
check "completed: no warnings on stderr" test ! -s every_op.err

"$SLUICE" snapshot o/every_op --human-readable > human.txt
check "--human-readable: status line" grep -qE '^  status +completed$' human.txt
check "--human-readable: partitions line" grep -qE "^  partitions +([0-9]+)/\1 completed, 0 failed" human.txt
check "--human-readable: checkpoints line" grep -qE '^  checkpoints +every_op: [0-9]+ valid, coverage 100.0%, resumable: no' human.txt
"$SLUICE" snapshot o/every_op --compact -o compact.json
set +e
"$SLUICE" snapshot o/every_op -o /nonexistent/dir/s.json 2> out4.err
rc4=$?
"$SLUICE" snapshot o/every_op --no-such-flag 2> /dev/null
rc2=$?
set -e
check "-o into a missing directory: exit 4 (got $rc4)" test $rc4 -eq 4
check "an unknown option: exit 2 (got $rc2)" test $rc2 -eq 2
check "--compact -o: one line, same document" \
  "$PY" -c "import json,sys; a=json.load(open('compact.json')); b=json.load(open('every_op.json')); a['metadata'].pop('snapshot_generated_at'); b['metadata'].pop('snapshot_generated_at'); assert open('compact.json').read().count('\n')==1 and a==b"

# --- no event log (event_logging.enabled: false): partition states from the final mapping report
write_recipe r.yaml data.jsonl o/noevents.jsonl
"$SLUICE" run r.yaml --job_id noevents --event_logging.enabled false > /dev/null
"$SLUICE" snapshot o/noevents > noevents.json 2> noevents.err
check "no event log: snapshot validates against the schema" "$PY" validate.py "$SCHEMA" noevents.json
check "no event log: completed, every partition and op completed, timing from job_summary.json" "$PY" -c "
import json
d = json.load(open('noevents.json'))
r = json.load(open('o/noevents/metadata/final_mapping_report.json'))['partition_details']
s = json.load(open('o/noevents/job_summary.json'))
ps = d['progress_summary']
assert d['overall_status'] == 'completed'
assert ps['completed_partitions'] == ps['total_partitions'] == len(r), ps
assert ps['completed_operations'] == ps['total_operations'] == len(r) * len(s['ops']), ps
assert [d['partition_progress'][str(p['partition_id'])]['sample_count'] for p in r] == [p['input_rows'] for p in r]
assert (d['timing']['timing_source'], d['timing']['start_time'], d['timing']['end_time']) == ('job_summary', s['start_time'], s['end_time'])
assert d['metadata']['job_summary_used'] and d['metadata']['events_analyzed'] == 0
"
check "no event log: says where the states come from" grep -q "final_mapping_report.json" noevents.err
"$SLUICE" snapshot o/noevents --human-readable > noevents.txt 2> /dev/null
check "no event log, --human-readable: says there is none" grep -qE '^  events +none: the job has no event log' noevents.txt
check "no event log, --human-readable: names no events.jsonl" test -z "$(grep events.jsonl noevents.txt)"
check "--human-readable with an event log: counts and names it" grep -qE "^  events +[1-9][0-9]* analyzed \($T/o/every_op/events.jsonl\)$" human.txt

# --- failed after its retries: partition 1 fails on every attempt
write_recipe r.yaml data.jsonl o/failed.jsonl "  max_retries: 2"
set +e
SLUICE_FAIL_AT=partition_start:1:1000 "$SLUICE" run r.yaml --job_id failed > /dev/null 2>&1
rc=$?
set -e
check "failed run exits 1 (got $rc)" test $rc -eq 1
snap failed o/failed failed
check "failed: partition 1 failed with the injected error" \
  test "$(sget failed "(d['partition_progress']['1']['status'], 'injected I/O fault' in d['partition_progress']['1']['error_message'])")" = "('failed', True)"
check "failed: resumable (committed partitions are kept)" test "$(sget failed "d['checkpointing']['resumable']")" = True
check "failed: the job's error message" test "$(sget failed "'partition 1' in d['job_info']['error_message'] or 'injected' in d['job_info']['error_message']")" = True
# --restart starts a new incarnation: the snapshot forgets the failed one
"$SLUICE" run r.yaml --job_id failed --restart > /dev/null
snap restarted o/failed completed
check "restarted: partition 1 has no error of the old incarnation" test "$(sget restarted "d['partition_progress']['1']['error_message']")" = None

# --- an op error without skip_op_error: the partition fails once, is retried, and completes
write_recipe r.yaml data.jsonl o/retried.jsonl "skip_op_error: false"
SLUICE_FAIL_AT=op:$FAULT_OP:1 "$SLUICE" run r.yaml --job_id retried > /dev/null 2>&1
snap retried o/retried completed
check "retried: one partition keeps the error of its failed attempt" \
  test "$(sget retried "sum(1 for p in d['partition_progress'].values() if p['error_message'])")" -eq 1

# --- allow_partial: completed with failures
write_recipe r.yaml data.jsonl o/partial.jsonl "  max_retries: 0" "  allow_partial: true"
set +e
SLUICE_FAIL_AT=partition_start:0:1000 "$SLUICE" run r.yaml --job_id partial > /dev/null 2>&1
set -e
snap partial o/partial completed_with_failures

# --- killed mid-run: interrupted, resumable; then resumed: completed
write_recipe r.yaml data.jsonl o/killed.jsonl
set +e
SLUICE_CRASH_AT=result_commit:3 "$SLUICE" run r.yaml --job_id killed --checkpoint.strategy every_op > /dev/null 2>&1
rc=$?
set -e
check "the crash hook killed the run (exit $rc)" test $rc -eq 137
snap killed o/killed interrupted
check "killed: interrupted partitions, none in progress" \
  test "$(sget killed "(sum(p['status']=='interrupted' for p in d['partition_progress'].values()) > 0, sum(p['status']=='in_progress' for p in d['partition_progress'].values()))")" = "(True, 0)"
check "killed: resumable with partial coverage" \
  test "$(sget killed "(d['checkpointing']['resumable'], 0 < d['checkpointing']['checkpoint_progress']['checkpoint_coverage'] < 1)")" = "(True, True)"
check "killed: no end time" test "$(sget killed "d['timing']['end_time']")" = None
"$SLUICE" snapshot o/killed --human-readable > human.txt
check "killed --human-readable: tells how to resume" grep -q "resume with  cd .* && .*sluice run --config" human.txt
"$SLUICE" run r.yaml --job_id killed --checkpoint.strategy every_op > /dev/null
snap resumed o/killed completed
check "resumed: start time is the first run's" test "$(sget resumed "d['timing']['start_time']")" = "$(sget killed "d['timing']['start_time']")"

# --- running: partition 0 fails once and waits 6-10 s for its retry; once every other partition has
# finished the first stage the job is quiet (the deduplicator's barrier waits for partition 0) and we look
N_PARTS=$(sget every_op "d['progress_summary']['total_partitions']")
write_recipe r.yaml data.jsonl o/live.jsonl
sed -i 's/retry_base_seconds: 0.01/retry_base_seconds: 8/' r.yaml
SLUICE_FAIL_AT=partition_start:0:1 "$SLUICE" run r.yaml --job_id live > live.out 2>&1 &
pid=$!
for _ in $(seq 1 200); do
  [ -f o/live/events.jsonl ] && [ "$(grep -c '"partition_complete"' o/live/events.jsonl)" -ge $((N_PARTS - 1)) ] && break
  sleep 0.05
done
snap running o/live running
check "running: partition 0 waits for its retry (in_progress)" test "$(sget running "d['partition_progress']['0']['status']")" = in_progress
check "running: not resumable while it runs, no end time" \
  test "$(sget running "(d['checkpointing']['resumable'], d['timing']['end_time'])")" = "(False, None)"
"$SLUICE" jobs o --running > jobs_running.txt
check "jobs --running lists only the live job" test "$(tail -n +2 jobs_running.txt | awk '{print $1 ":" $2}')" = "live:running"
wait $pid
snap live_done o/live completed

# --- sluice jobs
"$SLUICE" jobs o > jobs.txt
"$SLUICE" jobs o --json > jobs.json
check "jobs: header and one line per job" test "$(wc -l < jobs.txt)" -eq 12
check "jobs: statuses" test "$(awk 'NR>1 {print $1 "=" $2}' jobs.txt | LC_ALL=C sort | tr '\n' ' ')" = \
  "disabled=completed every_n_ops=completed every_op=completed every_partition=completed failed=completed killed=completed live=completed manual=completed noevents=completed partial=completed_with_failures retried=completed "
check "jobs --json: newest first, progress and partitions" "$PY" -c "
import json
j = json.load(open('jobs.json'))
assert len(j) == 11, len(j)
starts = [x['start_time'] for x in j]
assert starts == sorted(starts, reverse=True), starts
p = [x for x in j if x['job_id'] == 'partial'][0]
assert p['failed_partitions'] == 1 and p['completed_partitions'] == p['total_partitions'] - 1 and p['progress_percentage'] < 100
assert all(x['executor_type'] == 'sluice' and x['duration_seconds'] > 0 for x in j)
"
"$SLUICE" jobs o --running > none.txt
check "jobs --running with none running: header only" test "$(wc -l < none.txt)" -eq 1

# --- DataJuicer job directories
dj=dj/20231221_000000_abcdef
mkdir -p "$dj/logs"
cp "$SRC/../shared/conformance/dj_example_event_log.jsonl" "$dj/events.jsonl"
cp "$SRC/../shared/conformance/dj_example_processing_summary.json" "$dj/logs/processing_summary.json"
"$SLUICE" snapshot "$dj" > dj.json 2> dj.err
check "DataJuicer example: snapshot validates against the schema" "$PY" validate.py "$SCHEMA" dj.json
check "DataJuicer example: values from its event log" "$PY" -c "
import json
d = json.load(open('dj.json'))
ps, t = d['progress_summary'], d['timing']
assert d['overall_status'] == 'completed_with_failures', d['overall_status']
assert d['job_info']['executor_type'] == 'ray_partitioned'
assert (ps['total_partitions'], ps['completed_partitions'], ps['failed_partitions']) == (3, 2, 1), ps
assert (ps['total_operations'], ps['completed_operations'], ps['failed_operations']) == (9, 6, 1), ps
assert (t['start_time'], t['end_time'], t['timing_source']) == (1703123456.789, 1703123471.123, 'events'), t
p1 = d['partition_progress']['1']
assert p1['status'] == 'failed' and p1['failed_operations'] == ['whitespace_normalization_mapper'], p1
assert p1['error_message'].startswith('ValueError: Invalid text format'), p1
assert d['partition_progress']['0']['sample_count'] == 10000
op = d['operation_progress']['p0_op2_language_id_score_filter']
assert (op['input_rows'], op['output_rows'], op['duration']) == (8750, 7875, 1.666), op
assert d['operation_progress']['p1_op0_whitespace_normalization_mapper']['status'] == 'failed'
ck = d['checkpointing']
assert ck['last_checkpoint_time'] == 1703123468.567 and ck['checkpointed_operations_count'] == 0 and not ck['resumable']
assert d['metadata']['events_analyzed'] == 26
"
check "DataJuicer example: unverifiable checkpoints are said to be so" grep -q "DataJuicer writes no commit records" dj.err

# DataJuicer [HEAD]: events_<UTC timestamp>.jsonl per process, no terminal event, its process gone
djh=dj/20250809_040053_a001de
mkdir -p "$djh"
"$PY" - "$djh/events_20250809_040053.jsonl" <<'PY'
import json, sys
dead_pid = 2 ** 22 + 12345  # above pid_max's default: no such process
ev = [dict(event_type="job_start", timestamp=1754712053.5, message="Starting partitioned dataset processing",
           metadata=dict(num_partitions=2, checkpoint_enabled=True, is_resuming=False, job_id="20250809_040053_a001de")),
      dict(event_type="job_start", timestamp=1754712053.6, total_partitions=3, metadata=dict(total_partitions=3))]
t = 1754712054.0
for p in range(2):
    ev.append(dict(event_type="partition_start", timestamp=t, partition_id=p))
    for i, name in enumerate(["clean_links_mapper", "text_length_filter", "words_num_filter"]):
        if p == 1 and i == 2:
            break
        ev.append(dict(event_type="op_start", timestamp=t + 0.1, partition_id=p, operation_name=name, operation_idx=i))
        if p == 1 and i == 1:
            break
        ev.append(dict(event_type="op_complete", timestamp=t + 0.2, partition_id=p, operation_name=name, operation_idx=i,
                       status="success", duration=0.1, input_rows=100, output_rows=90))
        ev.append(dict(event_type="checkpoint_save", timestamp=t + 0.3, partition_id=p, operation_name=name,
                       operation_idx=i, metadata=dict(checkpoint_path=f"checkpoint_op_{i:04d}_partition_{p:04d}.parquet")))
    if p == 0:
        ev.append(dict(event_type="partition_complete", timestamp=t + 0.4, partition_id=p))
    t += 1
with open(sys.argv[1], "w") as f:
    for e in ev:
        e.update(process_id=dead_pid, thread_id=1, job_id="20250809_040053_a001de")
        f.write(json.dumps(e) + "\n")
PY
"$SLUICE" snapshot "$djh" > djh.json 2> /dev/null
check "DataJuicer [HEAD] log: snapshot validates against the schema" "$PY" validate.py "$SCHEMA" djh.json
check "DataJuicer [HEAD] log: interrupted (its process is gone), not the op count as partitions" "$PY" -c "
import json
d = json.load(open('djh.json'))
ps = d['progress_summary']
assert d['overall_status'] == 'interrupted', d['overall_status']
assert (ps['total_partitions'], ps['completed_partitions'], ps['in_progress_partitions']) == (2, 1, 1), ps
assert (ps['total_operations'], ps['completed_operations']) == (6, 4), ps
assert d['partition_progress']['1']['status'] == 'interrupted'
assert d['operation_progress']['p1_op1_text_length_filter']['status'] == 'interrupted'
assert d['timing']['start_time'] == 1754712053.5 and d['timing']['end_time'] is None
"
"$SLUICE" jobs dj > dj_jobs.txt
check "jobs lists DataJuicer job directories" test "$(awk 'NR>1 {print $1 "=" $2}' dj_jobs.txt | tr '\n' ' ')" = \
  "20250809_040053_a001de=interrupted 20231221_000000_abcdef=completed_with_failures "

# --- not a job directory
mkdir -p empty
set +e
"$SLUICE" snapshot empty > /dev/null 2> err.txt
rc=$?
set -e
check "not a job directory: exit 3 (got $rc) naming it" test $rc -eq 3 -a -n "$(grep 'is not a job directory' err.txt)"
finish
