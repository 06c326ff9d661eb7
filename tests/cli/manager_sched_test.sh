#!/usr/bin/env bash
# sluice server scheduling end to end (docs/manager.md "Scheduling", "Pipeline jobs"): a real daemon on a
# free loopback port whose GPU inventory is the fake NVML library (tests/engine/fake_nvml.c: an 80 GiB
# A100 with 79 free and a 16 GiB T4 with 15 free) through SLUICE_NVML_LIBRARY. GPU admission by UUID with
# no device shared, minimum free memory, oversize GPU requests REJECTED, the daemon's own
# CUDA_VISIBLE_DEVICES respected, GPUs kept across a daemon SIGKILL + restart; pipeline jobs (a recipe run
# as `sluice run`, checked at submit); `sluice shard` as a managed job, its workers inside the job's GPU; queue timeout; hold / release / retry; priority order and no
# starvation of a large job by smaller ones.
source "$(dirname "$0")/lib.sh" "$@"
SECONDS=0

NVML=$(dirname "$SLUICE")/libfake_nvml.so
[ -f "$NVML" ] || { echo "FAIL - $NVML not built (CMake target fake_nvml)"; exit 1; }
A100=GPU-0a1b2c3d-0000-1111-2222-333344445555
T4=GPU-9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff
export SLUICE_NVML_LIBRARY=$NVML  # the daemon's GPU inventory
SERVER_FLAGS=(--cpus 4 --resource slot=2)
source "$SRC/tests/cli/manager_lib.sh"
FROZEN=  # a job process held with SIGSTOP, let go if the test ends early
trap 'if [ -n "$FROZEN" ]; then kill -CONT "$FROZEN" 2>/dev/null || true; fi; cleanup' EXIT

start_server
check "the daemon sees the 2 fake GPUs" grep -q ", 2 GPUs" "$T/srv.out"

# --- GPU admission: three 1-GPU jobs on two GPUs; each records its mask and when it ran
# Each job holds its GPU until two jobs have started (at most 30 s), so the two GPUs are seen in use at once
# however slowly a loaded machine starts them.
gpu_job() { "$SLUICE" submit --cpus 0 --gpus 1 "$@" -- sh -c 'echo "start $(date +%s.%N) $CUDA_VISIBLE_DEVICES $CUDA_DEVICE_ORDER" >> "'"$T"'/gpu.log"; i=0; while [ "$(grep -c "^start" "'"$T"'/gpu.log")" -lt 2 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; sleep 0.2; echo "end $(date +%s.%N) $CUDA_VISIBLE_DEVICES" >> "'"$T"'/gpu.log"'; }
g1=$(gpu_job); g2=$(gpu_job); g3=$(gpu_job)
none=$("$SLUICE" submit --cpus 0 -- sh -c 'echo "[${CUDA_VISIBLE_DEVICES-unset}]"')
for j in $g1 $g2 $g3 $none; do "$SLUICE" wait "$j" 2>/dev/null || true; done
check "three 1-GPU jobs completed" test "$(state "$g1")$(state "$g2")$(state "$g3")" = COMPLETEDCOMPLETEDCOMPLETED
check "no GPU is held by two jobs at once, at most two run" python3 - "$T/gpu.log" "$A100" "$T4" <<'PY'
import sys
ev = sorted((float(l.split()[1]), l.split()[0], l.split()[2]) for l in open(sys.argv[1]))
held, peak = {}, 0
for t, kind, gpu in ev:
    assert gpu in sys.argv[2:], gpu
    if kind == "start":
        assert gpu not in held, f"{gpu} given twice"
        held[gpu] = t
    else:
        del held[gpu]
    peak = max(peak, len(held))
sys.exit(0 if peak == 2 and len(ev) == 6 else 1)
PY
check "CUDA_DEVICE_ORDER=PCI_BUS_ID" grep -q "start .* GPU-.* PCI_BUS_ID" "$T/gpu.log"
check "a job without GPUs sees none" test "$("$SLUICE" logs "$none")" = "[]"
check "status shows the attempt's GPU" grep -q "gpus: GPU-" <("$SLUICE" status "$g1")
rc=0; "$SLUICE" submit --gpus 3 -- true 2> "$T/rej" || rc=$?
check "3 GPUs on a 2-GPU server REJECTED (exit 2)" test "$rc" = 2
check "its reason says why" grep -q "2 visible" "$T/rej"
check "2 GPUs with 20 GiB each REJECTED (one device has that much)" bash -c "! '$SLUICE' submit --gpus 2 --gpu-mem 20GiB -- true 2>/dev/null"
check "API: 3 GPUs is 422" test "$(code -X POST "http://$SLUICE_SERVER/v1/jobs" -d '{"command":["true"],"resources":{"gpus":3}}')" = 422
check "env may not set CUDA_VISIBLE_DEVICES (400)" test "$(code -X POST "http://$SLUICE_SERVER/v1/jobs" -d '{"command":["true"],"env":{"CUDA_VISIBLE_DEVICES":"0"}}')" = 400
big=$("$SLUICE" submit --cpus 0 --gpus 1 --gpu-mem 20GiB -- sh -c 'echo $CUDA_VISIBLE_DEVICES')
"$SLUICE" wait "$big" 2>/dev/null || true
check "20 GiB free: the A100" test "$("$SLUICE" logs "$big")" = "$A100"

# --- sluice shard as a managed job: the scheduler gets the GPU the manager assigned (by UUID) and its
# workers stay inside it, one at a time, whatever the machine has
printf 'data_id,text\n' > "$T/tab.csv"; for i in $(seq 1 12); do echo "$i,row $i" >> "$T/tab.csv"; done
sh_job=$("$SLUICE" submit --cpus 0 --gpus 1 --gpu-mem 20GiB -- "$SLUICE" shard --input "$T/tab.csv" --key data_id \
  --output-dir "$T/shard_out" --num-workers 3 --gpus-per-worker 1 --min-gpu-memory 1 --quiet -- \
  sh -c 'echo "{low} $CUDA_VISIBLE_DEVICES" >> "$1"; awk -F, -v lo={low} -v hi={high} "NR==1 || (\$1>=lo && (hi==\"\" || \$1<hi))" "$2" > "$3"' \
  worker "$T/shard_gpus.log" "$T/tab.csv" {out})
rc=0; "$SLUICE" wait "$sh_job" 2>/dev/null || rc=$?
check "a shard run submitted to the manager completes" test "$rc" = 0
check "every shard worker ran on the job's GPU (the A100), none on the other" \
  bash -c "test \$(wc -l < '$T/shard_gpus.log') = 3 && ! grep -qv ' $A100\$' '$T/shard_gpus.log'"
check "the merged table covers all 12 keys once" \
  test "$(tail -n +2 "$T"/shard_out/generation_results_data_all_real_merged.csv | cut -d, -f1 | sort -n | uniq | wc -l)" = 12

# --- a GPU job keeps its GPU across a daemon SIGKILL and restart (re-adopted with its assignment)
# k1 runs until the gate file gate.k1 exists (not a fixed sleep, which a loaded machine could outlast before
# the checks); at most 120 s, so that a failed test leaves no job behind for long.
: > "$T/keep.log"
k1=$("$SLUICE" submit --cpus 0 --gpus 1 --gpu-mem 20GiB -- sh -c 'echo "k1 start $(date +%s.%N) $CUDA_VISIBLE_DEVICES" >> "'"$T"'/keep.log"; i=0; until [ -e "'"$T"'/gate.k1" ] || [ $i -ge 2400 ]; do sleep 0.05; i=$((i+1)); done; echo "k1 end $(date +%s.%N)" >> "'"$T"'/keep.log"')
wait_state "$k1" RUNNING
kill -9 "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=
start_server
k2=$("$SLUICE" submit --cpus 0 --gpus 1 --gpu-mem 20GiB -- sh -c 'echo "k2 start $(date +%s.%N) $CUDA_VISIBLE_DEVICES" >> "'"$T"'/keep.log"')
check "re-adopted GPU job still RUNNING" test "$(state "$k1")" = RUNNING
check "the next 20 GiB job waits for it" test "$(state "$k2")" = PENDING
touch "$T/gate.k1"
"$SLUICE" wait "$k2" 2>/dev/null || true
check "it started only after the re-adopted job ended" python3 - "$T/keep.log" <<'PY'
import sys
t = {l.split()[0] + l.split()[1]: float(l.split()[2]) for l in open(sys.argv[1])}
sys.exit(0 if t["k2start"] >= t["k1end"] else 1)
PY
stop_server

# --- the daemon's own CUDA_VISIBLE_DEVICES limits what it hands out
CUDA_VISIBLE_DEVICES=1 start_server
check "mask 1: one GPU" grep -q ", 1 GPUs" "$T/srv.out"
m1=$("$SLUICE" submit --cpus 0 --gpus 1 -- sh -c 'echo $CUDA_VISIBLE_DEVICES')
"$SLUICE" wait "$m1" 2>/dev/null || true
check "mask 1: the T4 (PCI bus order index 1)" test "$("$SLUICE" logs "$m1")" = "$T4"
check "mask 1: 2 GPUs REJECTED" bash -c "! '$SLUICE' submit --gpus 2 -- true 2>/dev/null"
stop_server
start_server

# --- pipeline jobs: a recipe run as `sluice run`, linked to its job directory
mkdir -p "$T/pipe"
printf '{"text":"  hello world  "}\n{"text":"second record"}\n' > "$T/pipe/in.jsonl"
cat > "$T/pipe/recipe.yaml" <<'EOF'
dataset_path: in.jsonl
export_path: out/result.jsonl
np: 1
process:
  - whitespace_normalization_mapper:
EOF
sed 's/whitespace_normalization_mapper/no_such_mapper/' "$T/pipe/recipe.yaml" > "$T/pipe/bad.yaml"
p=$(cd "$T/pipe" && "$SLUICE" submit --recipe recipe.yaml --name pipe)
rc=0; "$SLUICE" wait "$p" 2>/dev/null || rc=$?
check "pipeline job COMPLETED" test "$rc" = 0
check "its output is the recipe's export" test "$(head -1 "$T/pipe/out/result.jsonl")" = '{"text":"hello world"}'
pdir=$(field "$p" "['pipeline']['job_dir']")
check "its job dir is under the data dir, named by its own job id" bash -c "[[ '$pdir' == '$DATA/jobs/$p/sluice-'*'-job$p' ]] && test -f '$pdir/job_summary.json'"
check "status shows the job dir and the snapshot" bash -c "'$SLUICE' status $p | grep -q 'pipeline job dir: $pdir' && '$SLUICE' status $p | grep -q 'snapshot: completed, 100.0%'"
check "sluice snapshot reads the same dir" grep -q '"status": "completed"' <("$SLUICE" snapshot "$pdir")
p2=$(cd "$T/pipe" && "$SLUICE" submit --recipe recipe.yaml --job-dir jobs/mine)
"$SLUICE" wait "$p2" 2>/dev/null || true
check "--job-dir places the sluice job" test -f "$T/pipe/jobs/mine/job_summary.json"
# Its sluice job id is the directory's name: another directory of that name is refused, naming the job.
rc=0; (cd "$T/pipe" && "$SLUICE" submit --recipe recipe.yaml --job-dir other/mine) > /dev/null 2> "$T/same-name.err" || rc=$?
check "--job-dir of another job's directory name is refused (exit 2)" \
  bash -c "test $rc = 2 && grep -q \"job $p2's directory $T/pipe/jobs/mine has the same name 'mine'\" '$T/same-name.err'"
# Two submits of one recipe (np 2, no --cpus) while the first is slow: each gets its recipe's np and a sluice
# job of its own (job id, job directory, export journal <export>.<job_id>.partial); the second waits while the
# first writes the export they share, then both complete with the export whole and no journal left behind.
cat > "$T/pipe/slow.yaml" <<'EOF'
dataset_path: in.jsonl
export_path: out/slow.jsonl
np: 2
process:
  - whitespace_normalization_mapper:
  - text_length_filter:
      min_len: 1
EOF
# The first is held still (SIGSTOP) as soon as its journal exists, so that the checks see it writing the
# export however long they take on a loaded machine; SIGCONT lets it go on.
slow() { (cd "$T/pipe" && "$SLUICE" submit --recipe slow.yaml --env SLUICE_DELAY_AT=partition_start:1); }
s1=$(slow); s2=$(slow)
freeze_s1() {  # once s1 (its `sluice run`, named by its job.pid) has its journal: SIGSTOP it (builtins only: fast)
  local f line
  for f in "$T"/pipe/out/slow.jsonl.sluice-*-job$s1.partial; do [ -e "$f" ] || return 1; done
  for f in "$DATA"/jobs/$s1/sluice-*-job$s1/job.pid; do [ -s "$f" ] || return 1; done
  read -r line < "$f" || true
  [[ $line =~ \"pid\":([0-9]+) ]] || return 1
  kill -STOP "${BASH_REMATCH[1]}" 2>/dev/null || return 1
  FROZEN=${BASH_REMATCH[1]}
}
for _ in $(seq 1500); do freeze_s1 && break; sleep 0.02; done
check "--recipe without --cpus: the recipe's np" test "$(field "$s1" "['spec']['resources']['cpus'] == 2")" = True
check "the first runs" test "$(state "$s1")" = RUNNING
check "the second waits for the first's export" \
  grep -q "(waiting for job $s1, which writes the same export $T/pipe/out/slow.jsonl)" <("$SLUICE" status "$s2")
check "the first's journal is its own" bash -c "ls '$T'/pipe/out/ | grep -qx 'slow.jsonl.sluice-.*-job$s1.partial'"
if [ -n "$FROZEN" ]; then kill -CONT "$FROZEN"; FROZEN=; fi
rc1=0; "$SLUICE" wait "$s1" 2>/dev/null || rc1=$?
rc2=0; "$SLUICE" wait "$s2" 2>/dev/null || rc2=$?
check "both COMPLETED" test "$rc1.$rc2" = 0.0
check "each in its own job dir" test "$(field "$s1" "['pipeline']['job_dir']")" != "$(field "$s2" "['pipeline']['job_dir']")"
check "the export and its stats are whole" test "$(wc -l < "$T/pipe/out/slow.jsonl").$(wc -l < "$T/pipe/out/slow_stats.jsonl")" = 2.2
check "no journal left" test -z "$(ls "$T/pipe/out" | grep partial)"
rc=0; (cd "$T/pipe" && "$SLUICE" submit --recipe bad.yaml 2> "$T/bad.err") || rc=$?
check "unknown op: REJECTED at submit (exit 2)" test "$rc" = 2
check "the rejection names the op" grep -q "no_such_mapper" "$T/bad.err"

# --- queue timeout: a job stuck behind a full resource is CANCELLED with the reason
blk=$("$SLUICE" submit --cpus 0 --resource slot=2 -- sleep 30)
wait_state "$blk" RUNNING
qt=$("$SLUICE" submit --cpus 0 --resource slot=1 --queue-timeout 0.5s -- true)
rc=0; "$SLUICE" wait "$qt" 2>/dev/null || rc=$?
check "queue timeout: CANCELLED (wait exits 9)" test "$rc" = 9
check "queue timeout reason" grep -q "queue timeout" <("$SLUICE" status "$qt")

# --- hold / release / retry, and priority order, while the blocker holds both slots
h=$("$SLUICE" submit --cpus 0 -- true)
check "hold of a job that runs or ran is refused" bash -c "'$SLUICE' wait $h 2>/dev/null; ! '$SLUICE' hold $h 2>/dev/null"
h=$("$SLUICE" submit --cpus 0 --resource slot=1 --name held -- sh -c 'date +%s.%N > "'"$T"'/held.t"')
check "hold" "$SLUICE" hold "$h"
check "held job shows it" grep -q "held by request" <("$SLUICE" status "$h")
lo=$("$SLUICE" submit --cpus 0 --resource slot=2 --priority 0 -- true)
hi=$("$SLUICE" submit --cpus 0 --resource slot=2 --priority 5 -- sleep 0.3)
"$SLUICE" cancel "$blk" > /dev/null
"$SLUICE" wait "$lo" 2>/dev/null || true; "$SLUICE" wait "$hi" 2>/dev/null || true
check "priority: the later high-priority job ran first" python3 - "$hi" "$lo" <<'PY'
import json, sys, urllib.request, os
a = lambda i: json.load(urllib.request.urlopen(f"http://{os.environ['SLUICE_SERVER']}/v1/jobs/{i}"))["attempts_detail"][0]
sys.exit(0 if a(sys.argv[1])["ended_at"] <= a(sys.argv[2])["started_at"] else 1)
PY
check "the held job did not run" bash -c "test ! -e '$T/held.t' && test \"\$('$SLUICE' status --json $h | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"state\"])')\" = PENDING"
check "release" "$SLUICE" release "$h"
rc=0; "$SLUICE" wait "$h" 2>/dev/null || rc=$?
check "released job completes" test "$rc" = 0
check "release of a job that is not held: 409" test "$(code -X POST -d '' "http://$SLUICE_SERVER/v1/jobs/$h/release")" = 409
f=$("$SLUICE" submit --cpus 0 --cwd "$T" -- sh -c 'n=$(cat f.count 2>/dev/null || echo 0); echo $((n+1)) > f.count; [ $n -ge 1 ]')
rc=0; "$SLUICE" wait "$f" 2>/dev/null || rc=$?
check "the first run fails" test "$rc" = 1
check "retry" "$SLUICE" retry "$f"
rc=0; "$SLUICE" wait "$f" 2>/dev/null || rc=$?
check "the retried job completes, attempt 2 under the same id" test "$rc/$(field "$f" '["attempts"]')" = 0/2
check "retry of a COMPLETED job: 409" test "$(code -X POST -d '' "http://$SLUICE_SERVER/v1/jobs/$f/retry")" = 409
check "retry of an unknown job: exit 7" bash -c "'$SLUICE' retry 424242 2>/dev/null; test \$? = 7"

# --- no starvation: a 2-slot job waits behind a running 1-slot job; 1-slot jobs submitted after it (no
# run timeout, so they cannot backfill) must not start before it. The running jobs below wait for gate files
# (at most 60 s), not fixed sleeps: on a loaded machine a sleep could end before the jobs behind them queue.
# gated NAME: a command that runs until the gate file $T/gate.NAME exists
gated() { echo 'i=0; until [ -e "'"$T"'/gate.'"$1"'" ] || [ $i -ge 1200 ]; do sleep 0.05; i=$((i+1)); done'; }
: > "$T/order.log"
run1=$("$SLUICE" submit --cpus 0 --resource slot=1 -- sh -c "$(gated run1)")
wait_state "$run1" RUNNING
wide=$("$SLUICE" submit --cpus 0 --resource slot=2 -- sh -c 'echo "wide $(date +%s.%N)" >> "'"$T"'/order.log"; sleep 1')
small=()
for i in 1 2 3; do small+=("$("$SLUICE" submit --cpus 0 --resource slot=1 -- sh -c 'echo "small $(date +%s.%N)" >> "'"$T"'/order.log"')"); done
# A job that needs nothing, submitted last, has run: the scheduler has weighed the small jobs since they came.
marker=$("$SLUICE" submit --cpus 0 -- true)
"$SLUICE" wait "$marker" 2>/dev/null || true
check "the small jobs wait while the wide one is blocked" test "$(state "$run1")/$(state "$wide")/$(state "${small[0]}")" = RUNNING/PENDING/PENDING
touch "$T/gate.run1"
for j in "$wide" "${small[@]}"; do "$SLUICE" wait "$j" 2>/dev/null || true; done
check "the wide job ran before every small one" python3 - "$T/order.log" <<'PY'
import sys
ev = [(float(l.split()[1]), l.split()[0]) for l in open(sys.argv[1])]
wide = [t for t, k in ev if k == "wide"][0]
sys.exit(0 if len(ev) == 4 and all(t >= wide for t, k in ev if k == "small") else 1)
PY
# ... but a small job whose run timeout ends it before the wide job could start at the latest backfills
# (run2 ends at its gate, at the latest by its 20 s run timeout: the wide job's start is bounded by then)
run2=$("$SLUICE" submit --cpus 0 --resource slot=1 --timeout 20s -- sh -c "$(gated run2)")
wait_state "$run2" RUNNING
wide2=$("$SLUICE" submit --cpus 0 --resource slot=2 -- true)
fill=$("$SLUICE" submit --cpus 0 --resource slot=1 --timeout 1s -- true)
nofill=$("$SLUICE" submit --cpus 0 --resource slot=1 --timeout 30s -- true)
wait_state "$fill" COMPLETED
check "backfill: a job that surely ends in time ran while the wide one waited" test "$(state "$run2")/$(state "$wide2")" = RUNNING/PENDING
check "a job that could delay the wide one did not" test "$(state "$nofill")" = PENDING
touch "$T/gate.run2"
"$SLUICE" wait "$nofill" 2>/dev/null || true
check "wide job started before the long one" python3 - "$wide2" "$nofill" <<'PY'
import json, sys, urllib.request, os
s = lambda i: json.load(urllib.request.urlopen(f"http://{os.environ['SLUICE_SERVER']}/v1/jobs/{i}"))["attempts_detail"][0]["started_at"]
sys.exit(0 if s(sys.argv[1]) <= s(sys.argv[2]) else 1)
PY

# --- CPU pinning: a job runs on the CPUs it was given (recorded with the attempt); cpus 0 is not pinned
pin=$("$SLUICE" submit --cpus 1 -- sh -c 'grep Cpus_allowed_list /proc/self/status | cut -f2')
free=$("$SLUICE" submit --cpus 0 -- sh -c 'grep Cpus_allowed_list /proc/self/status | cut -f2')
"$SLUICE" wait "$pin" 2>/dev/null || true; "$SLUICE" wait "$free" 2>/dev/null || true
check "a 1-cpu job runs on the one CPU it was given" test "$("$SLUICE" logs "$pin")" = "$(field "$pin" '["attempts_detail"][0]["cpus"][0]')"
check "status shows it" grep -qx "  pinned cpus: $("$SLUICE" logs "$pin")" <("$SLUICE" status "$pin")
check "status of a job without a name" grep -q "^job $pin: COMPLETED" <("$SLUICE" status "$pin")
check "a 0-cpu job is not pinned" test "$("$SLUICE" logs "$free")" = "$(grep Cpus_allowed_list /proc/self/status | cut -f2)"

# --- memory limits (where the daemon can create memory cgroups): past --mem is an OOM kill, reported so
if grep -q "memory limits: enforced" "$T/srv.out"; then
  oom=$("$SLUICE" submit --cpus 0 --mem 64MiB -- python3 -c 'x = bytearray(512 << 20)')
  fits=$("$SLUICE" submit --cpus 0 --mem 256MiB -- python3 -c 'x = bytearray(16 << 20); print("ok")')
  rc=0; "$SLUICE" wait "$oom" 2>/dev/null || rc=$?
  check "over its memory limit: FAILED, killed (137)" test "$rc" = 137
  check "its reason says OOM" grep -q "OOM: killed by the kernel at its memory limit of 67108864 bytes" <("$SLUICE" status "$oom")
  check "the attempt's outcome is oom" test "$(field "$oom" '["attempts_detail"][0]["outcome"]')" = oom
  rc=0; "$SLUICE" wait "$fits" 2>/dev/null || rc=$?
  check "within its limit: COMPLETED" test "$rc/$("$SLUICE" logs "$fits")" = 0/ok
  # This daemon's job groups only: other tests' daemons may share the cgroup and have jobs running.
  groups=$(sed -n 's/.*job groups \([^;]*\);.*/\1/p' "$T/srv.out")
  check "the banner names this daemon's job groups" test -n "$groups"
  check "no job cgroup is left behind" bash -c "! ls -d $groups 2>/dev/null | grep -q ."
else
  echo "# memory limits not enforced here: $(grep 'memory limits' "$T/srv.out")"
fi

stop_server
check "no daemon errors" bash -c "! grep -qi 'supervisor:' '$T/srv.err'"
echo "took ${SECONDS} s"
finish
