# Crash matrix of `sluice shard` (docs/shard.md): the scheduler SIGKILLed at named crash points
# (SLUICE_CRASH_AT: while planning, after a worker started, between a worker's end and its state record,
# inside a state file's write, while merging, just before and just after the merged table's rename), at
# several of them one after another, and stopped with SIGTERM / SIGINT (also while merging); single workers killed or failing in
# every way a worker can (an exit code, a signal, partial output, too few keys, another range's key, a key
# the input does not have, duplicate rows, a result left as a temporary file, a bad key, a wrong header);
# resumed with another --num-workers (refused, then --replan), after the input changed (refused; with
# --replan the completed shards that no longer cover the input's keys are run again), with the input
# changed or removed while a worker runs. After each case, the resumed run's merged table must be byte for
# byte the one of an uninterrupted run (which holds every input key once), every shard completed, and no
# temporary file or spill directory left. Then bad input: unsorted and duplicate keys, an empty table, one
# row, more workers than keys, keys that are not strings or numbers, huge keys, a merged table on a
# read-only directory, an unknown placeholder, and paths full of shell metacharacters.
source "$(dirname "$0")/lib.sh" "$@"

# Polls (never a bare sleep before a check): 30 s at most.
wait_for() { for _ in $(seq 1 600); do if "$@"; then return 0; fi; sleep 0.05; done; return 1; }

# The input: even keys 0..94 (gaps, so that a key can be added inside a range), every third one on two rows,
# shuffled with a fixed seed; texts hold commas, quotes and line breaks (RFC 4180).
python3 - <<'PY'
import csv, random
random.seed(11)
rows = []
for k in range(0, 96, 2):
    for j in range(1 + (k % 6 == 0)):
        rows.append([str(k), f'text {k}.{j}, "q"\nline two'])
random.shuffle(rows)
with open("in.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["data_id", "text"])
    w.writerows(rows)
PY
cp in.csv in.orig.csv
mkdir -p ctl pids

# worker LOW HIGH OUT INPUT: "generates" a row per input row of [LOW, HIGH) (its text upper-cased) and
# writes OUT through a temporary file and a rename. ctl/<LOW> names a misbehaviour for the next attempt of
# that shard only (the file is consumed), ctl/always_<LOW> one for every attempt.
cat > worker.py <<'PY'
import csv, os, signal, sys, time
low, high, out, inp = sys.argv[1:5]
mode = ""
for name in (f"ctl/always_{low}", f"ctl/{low}"):
    if os.path.exists(name):
        mode = open(name).read().strip()
        if not name.startswith("ctl/always_"):
            os.remove(name)
        break
if mode == "hang":  # until ctl/go_<low>; then it reads the input (which may have changed meanwhile)
    open(f"pids/{low}.tmp", "w").write(str(os.getpid()))
    os.rename(f"pids/{low}.tmp", f"pids/{low}")
    while not os.path.exists(f"ctl/go_{low}"):
        time.sleep(0.02)
with open(inp, newline="") as f:
    r = csv.reader(f)
    header = next(r)
    rows = [[k, t.upper() + " / generated"] for k, t in r if int(low) <= int(k) < int(high)]
if mode == "less":  # without the range's largest key
    rows = [x for x in rows if x[0] != max(rows, key=lambda x: int(x[0]))[0]]
elif mode == "more":
    rows.append([high, "a key of the next range"])
elif mode == "foreign":
    rows.append([str(int(low) + 1), "a key the input does not have"])
elif mode == "dup":
    rows = rows + rows
elif mode == "badkey":
    rows.append(["x1", "not an integer"])
elif mode == "header":
    header = ["id", "text"]
if mode.startswith("exit:") or mode.startswith("signal:"):  # dies having written half of OUT in place
    with open(out, "w", newline="") as g:
        w = csv.writer(g)
        w.writerow(header)
        w.writerows(rows[: len(rows) // 2])
    if mode.startswith("exit:"):
        sys.exit(int(mode[5:]))
    os.kill(os.getpid(), int(mode[7:]))
with open(out + ".tmp", "w", newline="") as g:
    w = csv.writer(g)
    w.writerow(header)
    w.writerows(rows)
if mode != "tmp":  # tmp: exits 0 with the result left as its temporary file
    os.rename(out + ".tmp", out)
PY
W=(-- python3 "$T/worker.py" {low} {high} {out} {input})
MERGED=generation_results_data_all_real_merged.csv
# shard_args OUT: the options of the run every case resumes, in SA; NW is --num-workers (default 4),
# INPUT the table. shard OUT [options]: that run.
shard_args() {
  SA=(shard --input "${INPUT:-in.csv}" --key data_id --gpus-per-worker 0 --output-dir "$1" --num-workers "${NW:-4}"
    --max-parallel-workers 2 --retry-backoff 0.05 --kill-grace 1 --quiet)
}
shard() {
  shard_args "$1"
  shift
  "$SLUICE" "${SA[@]}" "$@" "${W[@]}"
}
# run_rc LOG CMD...: runs CMD with stdout and stderr in LOG and prints its exit code.
run_rc() {
  local log=$1 rc=0
  shift
  "$@" > "$log" 2>&1 || rc=$?
  echo $rc
}

# --- the reference: an uninterrupted run; its merged table holds every input key once, in key order, with
# the generated text of the key's first input row.
rc=$(run_rc ref.log shard ref)
check "reference run: exit 0 (got $rc)" test "$rc" = 0
check "reference: every input key exactly once, in order, from its first row" python3 - ref/$MERGED in.csv <<'PY'
import csv, sys
got = list(csv.reader(open(sys.argv[1], newline="")))
first = {}
for k, t in list(csv.reader(open(sys.argv[2], newline="")))[1:]:
    first.setdefault(int(k), t)
want = [["data_id", "text"]] + [[str(k), first[k].upper() + " / generated"] for k in sorted(first)]
assert got == want, (len(got), len(want))
PY
cp ref/$MERGED ref.csv

# stray DIR: the temporaries and spill directories left in DIR (none is the answer).
stray() { find "$1" \( -name '*.tmp*' -o -name '.merge_tmp' \) -print; }
# settled NAME OUT [MERGED_REF]: OUT's merged table is the reference's byte for byte, every shard is
# completed, nothing temporary is left.
settled() {
  local name=$1 out=$2 want=${3:-ref.csv}
  check "$name: the merged table is the uninterrupted run's, byte for byte" cmp -s "$want" "$out/$MERGED"
  check "$name: every shard completed" python3 -c '
import glob, json, sys
s = [json.load(open(f))["status"] for f in glob.glob(sys.argv[1] + "/worker_args_*.json")]
sys.exit(0 if s and set(s) == {"completed"} else 1)' "$out"
  check "$name: no temporary file or spill directory left ($(stray "$out" | tr '\n' ' '))" test -z "$(stray "$out")"
}
# resume NAME OUT [options]: the same command again, to the end.
resume() {
  local name=$1 out=$2
  shift 2
  local rc
  rc=$(run_rc "$out.resume.log" shard "$out" "$@")
  check "$name: the resumed run exits 0 (got $rc)" test "$rc" = 0
  [ "$rc" = 0 ] || sed "s/^/# $name: /" "$out.resume.log" | tail -5
  settled "$name" "$out"
}
# crash OUT POINT [options]: a run SIGKILLed at crash point POINT (name:count); it must have died there.
crash() {
  local out=$1 point=$2 rc
  shift 2
  rc=$(SLUICE_CRASH_AT=$point run_rc "$out.crash.log" shard "$out" "$@")
  check "$point: the scheduler was killed at the crash point (exit 137, got $rc)" test "$rc" = 137
}

# --- 1. SIGKILL at each crash point, then resume ----------------------------------------------------------
# State writes of a run of 4 shards: 1 and 2 record the first two workers running, the next ones their
# ends and the later starts; reconciling a shard on resume writes one too.
for point in shard_plan_write:1 shard_state_write:1 shard_state_write:2 shard_state_write:3 shard_state_write:6 \
  shard_worker_started:1 shard_worker_started:3 shard_worker_finished:1 shard_worker_finished:4 shard_merge_file:1 \
  shard_merge_file:3 shard_merge_commit:1 shard_merged:1; do
  out=k_${point/:/_}
  crash "$out" "$point"
  case $point in
    shard_plan_write:* | shard_state_write:*)
      check "$point: the killed write left its temporary file (which the resume must remove)" test -n "$(stray "$out")" ;;
    shard_merge_file:* | shard_merge_commit:*)
      check "$point: no merged table yet, only its temporary file" test ! -e "$out/$MERGED" -a -n "$(stray "$out")" ;;
  esac
  resume "$point" "$out"
done

# Killed again and again while resuming: at a worker's end, at the resume's first state write (the
# reconciling of the shard left running), in the merge; then resumed to the end.
crash k_multi shard_worker_finished:2
crash k_multi shard_state_write:1
crash k_multi shard_worker_finished:1
crash k_multi shard_merge_commit:1
resume "killed four times" k_multi

# --- 2. workers that fail, once each (the retry behaves), in one run per four shards -----------------------
# Shards of 4: [0-24) [24-48) [48-72) [72-95), 12 keys each.
for modes in "exit:3 signal:9 less more" "foreign dup tmp badkey" "signal:11 header exit:0 dup"; do
  out=f_${modes// /_}
  out=${out//:/}
  set -- $modes
  echo "$1" > ctl/0
  echo "$2" > ctl/24
  echo "$3" > ctl/48
  echo "$4" > ctl/72
  rc=$(run_rc "$out.log" shard "$out")
  check "workers $modes: the run completes (exit $rc)" test "$rc" = 0
  settled "workers $modes" "$out"
  i=0
  for low in 0 24 48 72; do
    i=$((i + 1))
    mode=${!i}
    want=2
    [ "$mode" = dup ] && want=1  # duplicate rows of the right keys are a good result: the merge keeps the first
    check "worker $mode: attempts $want" test "$(json_get "$out"/worker_args_${low}_*.json "d['attempt']")" = $want
  done
done
check "too few keys is a failed attempt, naming the first missing key" \
  grep -qF "[48-72) failed (exited 0 but its result is unusable: $T/f_exit3_signal9_less_more/generation_results_data_48_to_72_real.csv: 1 of the 12 input key(s) of the shard's range [48-72) are missing from it (the first: '70'))" f_exit3_signal9_less_more.log
check "another range's key is a failed attempt, naming file and line" \
  grep -q "\[72-95) failed (exited 0 but its result is unusable: .*_72_to_95_real.csv:[0-9]*: key '95' lies outside the shard's range \[72-95))" f_exit3_signal9_less_more.log
check "a key the input lacks is a failed attempt" \
  grep -q "\[0-24) failed (exited 0 but its result is unusable: .*_0_to_24_real.csv:[0-9]*: key '1' is not a key of the input" f_foreign_dup_tmp_badkey.log
check "a result left as a temporary file is a failed attempt" \
  grep -q "\[48-72) failed (exited 0 but its result is unusable: cannot open .*_48_to_72_real.csv" f_foreign_dup_tmp_badkey.log

# A shard that fails every attempt: exit 1, nothing merged; once the worker is fixed, the rerun completes.
echo exit:5 > ctl/always_24
rc=$(run_rc f_always.log shard f_always --max-attempts 2)
check "a shard failing every attempt: exit 1 (got $rc)" test "$rc" = 1
check "... and nothing merged" test ! -e f_always/$MERGED
rm ctl/always_24
resume "a failed shard, rerun" f_always

# --- 3. a worker SIGKILLed from outside; the scheduler stopped by SIGTERM and SIGINT ------------------------
# bg OUT [options]: the scheduler in the background (SIGINT at its default: a script's background job
# would ignore it); its pid in $BG.
bg() {
  shard_args "$1"
  python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
    "$SLUICE" "${SA[@]}" "${@:2}" "${W[@]}" > "$1.log" 2>&1 &
  BG=$!
}
echo hang > ctl/24
rm -f pids/*
bg w_kill
check "worker kill: the worker hangs" wait_for test -s pids/24
kill -KILL "$(cat pids/24)"
rc=0
wait "$BG" || rc=$?
check "worker kill: the scheduler retries it and completes (exit $rc)" test "$rc" = 0
check "worker kill: its first attempt was recorded killed by signal 9" grep -q "\[24-48) failed (killed by signal 9" w_kill.log
settled "worker SIGKILLed" w_kill

for sig in TERM INT; do
  echo hang > ctl/48
  rm -f pids/*
  bg "s_$sig"
  check "$sig: a worker runs" wait_for test -s pids/48
  kill -"$sig" "$BG"
  rc=0
  wait "$BG" || rc=$?
  want=$([ $sig = TERM ] && echo 143 || echo 130)
  check "$sig: the scheduler exits $want (got $rc)" test "$rc" = "$want"
  check "$sig: the hanging shard is recorded cancelled" test "$(json_get s_$sig/worker_args_48_72.json "d['status']")" = cancelled
done
resume "SIGTERM" s_TERM

# Stopped while merging (each shard's rows take 20 s to merge here, SLUICE_DELAY_AT): the merge ends at
# once, leaving its temporary file, which the resume removes.
SLUICE_DELAY_AT=shard_merge_file:20 bg s_merge
merging() { [ -n "$(find s_merge -maxdepth 1 -name "$MERGED.tmp-*")" ]; }
check "merge stop: the merge has begun" wait_for merging
kill -TERM "$BG"
rc=0
wait "$BG" || rc=$?
check "merge stop: SIGTERM ends the merge at once (exit 143, got $rc)" test "$rc" = 143
check "merge stop: no merged table" test ! -e s_merge/$MERGED
resume "stopped while merging" s_merge
# --- 4. resumed with another --num-workers: refused, then --replan --------------------------------------------
snapshot() { (cd "$1" && find . -type f ! -name .lock -printf '%p %s %T@\n' | sort); }
# A scheduler SIGKILLed leaves its running workers behind, which go on writing their results: OUT is still
# until none runs.
no_worker_runs() { ! pgrep -f "$T/worker.py" > /dev/null; }
wait_for no_worker_runs || true
before=$(snapshot s_INT)
rc=$(NW=3 run_rc s_INT.n3.log shard s_INT)
check "another --num-workers: refused (exit 5, got $rc)" test "$rc" = 5
check "... saying why and naming --replan" grep -q "it was planned for --num-workers 4, not 3.*--replan" s_INT.n3.log
check "... and OUT is untouched" test "$before" = "$(snapshot s_INT)"
NW=3 resume "SIGINT, resumed with --num-workers 3 --replan" s_INT --replan
crash k_n6 shard_worker_finished:3
NW=6 resume "killed, resumed with --num-workers 6 --replan" k_n6 --replan

# --- 5. the input changed -----------------------------------------------------------------------------------
# (a) changed after a crash: the resume is refused and changes nothing; with the input restored it completes.
crash c_refuse shard_worker_finished:2
wait_for no_worker_runs || true
printf '96,a new row\n' >> in.csv
before=$(snapshot c_refuse)
rc=$(run_rc c_refuse.changed.log shard c_refuse)
check "changed input: the resume is refused (exit 5, got $rc)" test "$rc" = 5
check "... saying the input changed since it was planned" grep -q "the input changed since it was planned" c_refuse.changed.log
check "... and OUT is untouched" test "$before" = "$(snapshot c_refuse)"
cp in.orig.csv in.csv
resume "input restored" c_refuse

# (b) --replan after rows were added inside a completed range and past the last key: the completed shards
# that no longer hold every key of their range run again; the merged table is the one of an uninterrupted
# run on the new input.
cp in.orig.csv in2.csv
rc=$(INPUT=in2.csv run_rc r.log shard r_replan)
check "replan: the first run completes (exit $rc)" test "$rc" = 0
printf '5,added inside [0-24)\n200,added past the last key\n' >> in2.csv
rc=$(INPUT=in2.csv run_rc r_ref.log shard r_ref)
check "replan: the reference run on the new input completes (exit $rc)" test "$rc" = 0
rc=$(INPUT=in2.csv run_rc r_replan.2.log shard r_replan --replan)
check "replan: exit 0 (got $rc)" test "$rc" = 0
check "replan: the shard that lacks the added key is not kept" grep -q "\[0-24) is not kept: its result does not cover" r_replan.2.log
check "replan: the merged table is an uninterrupted run's on the new input" cmp -s r_ref/$MERGED r_replan/$MERGED
check "replan: no temporary left" test -z "$(stray r_replan)"

# (c) changed while a worker runs (it reads the input afterwards): that result is not accepted, no new
# attempt starts, nothing is merged; the rerun is refused; with the input restored the rerun completes.
echo hang > ctl/0
rm -f pids/*
bg c_mid
check "input changed mid-run: a worker runs" wait_for test -s pids/0
completed_3() { [ "$(grep -c 'completed in' c_mid.log)" = 3 ]; }
check "... the other shards are completed" wait_for completed_3
sed -i 's/text 4\.0/TEXT 4.0 changed/' in.csv
touch ctl/go_0
rc=0
wait "$BG" || rc=$?
rm ctl/go_0
check "input changed mid-run: exit 1 (got $rc)" test "$rc" = 1
check "... the worker that ended after the change failed, saying so" grep -q "\[0-24) failed (exited 0 but its result is unusable: the input .* changed since it was planned" c_mid.log
check "... nothing merged" test ! -e c_mid/$MERGED
rc=$(run_rc c_mid.2.log shard c_mid)
check "... the rerun on the changed input is refused (exit 5, got $rc)" test "$rc" = 5
cp in.orig.csv in.csv
resume "input changed mid-run, then restored" c_mid

# (d) removed while a worker runs: the shard fails, a rerun is refused (exit 3) and writes nothing; with the
# input back the rerun completes.
echo hang > ctl/72
rm -f pids/*
bg c_gone
check "input removed mid-run: a worker runs" wait_for test -s pids/72
rm in.csv
touch ctl/go_72
rc=0
wait "$BG" || rc=$?
rm ctl/go_72
check "input removed mid-run: exit 1 (got $rc)" test "$rc" = 1
before=$(snapshot c_gone)
rc=$(run_rc c_gone.2.log shard c_gone)
check "... the rerun without it: exit 3 (got $rc)" test "$rc" = 3
check "... naming the table" grep -q "$T/in.csv: no such input table" c_gone.2.log
check "... and OUT is untouched" test "$before" = "$(snapshot c_gone)"
cp in.orig.csv in.csv
resume "input removed mid-run, then restored" c_gone

# --- 6. bad input --------------------------------------------------------------------------------------------
# bad_table NAME CONTENT MESSAGE [options]: refused with exit 3 and MESSAGE, OUT not created.
bad_table() {
  local name=$1 content=$2 want=$3 rc
  shift 3
  printf "$content" > "$name"
  rc=$(INPUT=$name run_rc "$name.log" shard "o_$name" "$@")
  check "$name: exit 3 (got $rc)" test "$rc" = 3
  check "$name: says '$want'" grep -qF "$want" "$name.log"
  check "$name: nothing written" test ! -e "o_$name"
}
bad_table header.csv 'data_id,text\n' "$T/header.csv: the table has no records"
bad_table empty.csv '' "$T/empty.csv: the file is empty"
bad_table bool.jsonl '{"data_id": 1}\n{"data_id": true}\n' "$T/bool.jsonl:2: key field 'data_id' is not a string or a number"
bad_table null.jsonl '{"data_id": null}\n' "$T/null.jsonl:1: key field 'data_id' is not a string or a number"
bad_table obj.jsonl '{"data_id": 2}\n\n{"data_id": {"a": 1}}\n' "$T/obj.jsonl:3: key field 'data_id' is not a string or a number"
bad_table float.csv 'data_id,text\n1,a\n1.5,b\n' "$T/float.csv:3: key '1.5' of column 'data_id' is not an integer"

# One row, and more workers than keys: as many shards as keys.
printf 'data_id,text\n7,only\n' > one.csv
rc=$(INPUT=one.csv NW=4 run_rc one.log shard o_one)
check "one row: exit 0 (got $rc)" test "$rc" = 0
check "one row: one shard [7-8)" test "$(ls o_one/worker_args_*.json)" = o_one/worker_args_7_8.json
check "one row: merged" test "$(cat o_one/$MERGED)" = "$(printf 'data_id,text\n7,ONLY / generated')"
printf 'data_id,text\n3,c\n1,a\n3,c2\n2,b\n' > few.csv
rc=$(INPUT=few.csv NW=10 run_rc few.log shard o_few)
check "10 workers for 3 keys: exit 0 (got $rc)" test "$rc" = 0
check "10 workers for 3 keys: 3 shards" test "$(ls o_few/worker_args_*.json | wc -l)" = 3
check "10 workers for 3 keys: each key once, first row kept" \
  test "$(cat o_few/$MERGED)" = "$(printf 'data_id,text\n1,A / generated\n2,B / generated\n3,C / generated')"

# Huge keys: a key longer than a worker could be given (Linux: 128 KiB per argument or variable; here the
# first key, so the low of shard 0) is refused before any work, naming the line; long keys below that work.
python3 -c '
import json
with open("huge.jsonl", "w") as f:
    for i, n in enumerate([140000, 10, 20]):
        f.write(json.dumps({"k": "k%d" % i + "x" * n}) + "\n")
with open("long.jsonl", "w") as f:
    for i in range(4):
        f.write(json.dumps({"k": chr(97 + i) * 100000, "v": i}) + "\n")'
cat > copy.py <<'PY'
import json, os, sys
low, high = os.environ["SLUICE_SHARD_LOW"], os.environ["SLUICE_SHARD_HIGH"]
assert sys.argv[1] == low, "{low} and SLUICE_SHARD_LOW differ"
with open(sys.argv[3]) as f, open(sys.argv[2], "w") as g:
    for line in f:
        if low <= json.loads(line)["k"] and (high == "" or json.loads(line)["k"] < high):
            g.write(line)
PY
rc=$(run_rc huge.log "$SLUICE" shard --input huge.jsonl --key k --gpus-per-worker 0 --output-dir o_huge --num-workers 2 \
  --result-pattern 'r_{shard}.jsonl' -- python3 copy.py {low} {out} {input})
check "a 140 kB key: refused (exit 3, got $rc)" test "$rc" = 3
check "... naming the file and line" grep -q "$T/huge.jsonl:1: a key of 140002 bytes in column 'k': at most" huge.log
check "... before any work" test ! -e o_huge
rc=$(run_rc long.log "$SLUICE" shard --input long.jsonl --key k --gpus-per-worker 0 --output-dir o_long --num-workers 2 --quiet \
  --result-pattern 'r_{shard}.jsonl' -- python3 copy.py {low} {out} {input})
check "100 kB keys: exit 0 (got $rc)" test "$rc" = 0
check "100 kB keys: merged as the input" cmp -s long.jsonl o_long/generation_results_data_all_real_merged.jsonl

# An unknown placeholder: exit 2, nothing written.
rc=$(run_rc ph.log "$SLUICE" shard --input in.csv --key data_id --gpus-per-worker 0 --output-dir o_ph --num-workers 2 \
  -- python3 worker.py {low} {hi} {out} {input})
check "unknown placeholder {hi}: exit 2 (got $rc)" test "$rc" = 2
check "... naming it" grep -qF "unknown placeholder {hi} in the worker command" ph.log
check "... nothing written" test ! -e o_ph

# Shell metacharacters in every path: the worker gets each path as one argument, and the command printed
# before it runs, read back by a shell, is that argument vector.
D="$T/a b'c\"d \$e;f&g|h{x}"
mkdir -p "$D"
cp in.csv "$D/in put.csv"
rc=$(run_rc meta.log "$SLUICE" shard --input "$D/in put.csv" --key data_id --gpus-per-worker 0 --output-dir "$D/out dir" \
  --num-workers 2 --merged-output "$D/merged (all).csv" "${W[@]}")
check "metacharacters in paths: exit 0 (got $rc)" test "$rc" = 0
check "metacharacters in paths: merged" cmp -s ref.csv "$D/merged (all).csv"
printed=$(grep -m1 '\[0-48) attempt 1 (1 of 3 in this run): ' meta.log | sed 's/^.*in this run): //')
eval "set -- $printed"
check "the printed command is the argument vector, shell-quoted" \
  test "$#|$5|$6" = "6|$D/out dir/generation_results_data_0_to_48_real.csv|$D/in put.csv"

# The merged table on a read-only directory: refused before any worker runs (exit 4, naming it); with a
# writable one the rerun completes. A read-only bind mount in a private mount namespace (root ignores modes).
if unshare -rm true 2> /dev/null; then
  mkdir -p ro
  rm -f pids/*
  shard_args o_ro
  unshare -rm bash -c 'mount --bind ro ro && mount -o remount,bind,ro ro && { "$@"; echo $? > ro.rc; }' bash \
    "$SLUICE" "${SA[@]}" --merged-output ro/m.csv "${W[@]}" > ro.log 2>&1
  check "merged table on a read-only directory: exit 4 (got $(cat ro.rc))" test "$(cat ro.rc)" = 4
  check "... naming it and the cause" grep -q "cannot write the merged table $T/ro/m.csv (.*Read-only file system)" ro.log
  check "... before any worker ran" test -z "$(ls o_ro/logs 2> /dev/null)"
  check "... leaving no temporary" test -z "$(stray o_ro)$(stray ro)"
  rc=$(run_rc ro2.log shard o_ro --merged-output rw/m.csv)
  check "... with a writable one (a new directory) the rerun completes (exit $rc)" test "$rc" = 0
  check "... merged" cmp -s ref.csv rw/m.csv
else
  echo "skip - merged table on a read-only directory: no user and mount namespace here (unshare -rm)"
fi
finish
