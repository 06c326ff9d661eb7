# Crash matrix: the crash-and-resume paths crash_resume_test.sh does not reach. The input is a directory of
# three files (plain .jsonl cut into partitions, one .jsonl.gz and one .jsonl.zst, each a partition of its
# own) with malformed lines quarantined (on_bad_record: quarantine); the exports are compressed (.jsonl.zst,
# .jsonl.gz) or sharded (export_shard_size, plain and .zst), some with keep_stats_in_res_ds. Each job is
# SIGKILLed at named crash points (SLUICE_CRASH_AT, several counts), at several points one after another,
# at random times, and stopped with `sluice stop` (exit 6), then resumed with the same command until it
# finishes; a job killed at np 2 is also resumed at np 1. Every case must give what an uninterrupted run
# gives: the same export files (no stray or missing shard), byte for byte, valid compressed streams, the
# same quarantined lines (each bad line once) and the same counts in the summary; np 1 and np 2 references
# are identical too, and so is a job that deletes its intermediate data after success (retention_policy
# cleanup_all). Then the near-duplicate deduplicators (simhash, minhash) with a memory budget small enough
# to spill, killed inside their decisions (dedup_spill, dedup_keep_commit, several counts, one after
# another) and at random, and stopped inside a decision, with a compressed export.
source "$(dirname "$0")/lib.sh" "$@"

# --- the input: in/a.jsonl, in/b.jsonl.gz, in/c.jsonl.zst with bad lines (and null texts) mixed in; the bad
# lines in input order are what the quarantine must hold.
make_corpus data.jsonl 4500
python3 - data.jsonl <<'PY'
import gzip, os, sys
lines = open(sys.argv[1], "rb").read().splitlines(keepends=True)
bad_kinds = [b'{"id": -1, "text": broken}\n', b'{"id": -2, "text": "caf\xe9"}\n', b'{"id": -3, "content": "no text"}\n',
             b'[1, 2, 3]\n', b'{"id": -5, "text": "truncated\n']
os.makedirs("in", exist_ok=True)
parts = {"a.jsonl": lines[:3000], "b.jsonl.gz": lines[3000:3700], "c.jsonl.zst": lines[3700:]}
bad = []
for name, chunk in parts.items():
    out = []
    for i, l in enumerate(chunk):
        if i % 97 == 13:
            b = bad_kinds[(i // 97) % len(bad_kinds)]
            out.append(b)
            bad.append(b)
        if i % 211 == 5:
            out.append(b'{"id": -9, "text": null}\n')
        out.append(l)
    data = b"".join(out)
    if name.endswith(".gz"):
        with open("in/" + name, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as g:
            g.write(data)
    else:
        open("in/" + name if not name.endswith(".zst") else "c.jsonl", "wb").write(data)
open("bad.expected", "wb").write(b"".join(bad))
PY
zstd -q --rm c.jsonl -o in/c.jsonl.zst

# variants: NAME EXPORT [extra recipe lines]
variants=("zst|out.jsonl.zst|keep_stats_in_res_ds: true"
          "gz|out.jsonl.gz|"
          "shard|res.jsonl|export_shard_size: 400000"
          "shardzst|res.jsonl.zst|export_shard_size: 400000|keep_stats_in_res_ds: true")

# recipe FILE VARIANT DIR [more recipe lines]: the variant's recipe exporting into DIR
recipe() {
  local file=$1 dir=$3 out
  local -a extra
  IFS='|' read -r -a extra <<< "$2"
  out=${extra[1]}
  extra=("${extra[@]:2}")
  [ -n "${extra[0]:-}" ] || extra=()
  write_recipe "$file" in "$dir/$out" "on_bad_record: quarantine" "${extra[@]}" "${@:4}"
}

# A SIGKILL leaves the temporary files of AtomicFile (`<name>.tmp-<pid>-<n>`: a partial shard, the write probe
# `.sluice-write-probe.tmp-*`, a partial quarantine file); the next run of the job removes them, so
# the comparisons below see every file (a leftover partial shard would be read by a glob as duplicate rows).
# The export files of DIR (its plain files: the job directory is a subdirectory), one per line.
export_files() { find "$1" -maxdepth 1 -type f -printf '%f\n' | sort; }
# same_export REF_DIR DIR: the same file names, each byte-identical
same_export() {
  [ "$(export_files "$1")" = "$(export_files "$2")" ] || return 1
  local f
  for f in $(export_files "$1"); do cmp -s "$1/$f" "$2/$f" || return 1; done
}
# decoded DIR: the export's records, decompressed, shards in order (side files left out)
decoded() {
  local f
  for f in $(export_files "$1" | grep -v _stats); do
    case $f in
      *.zst) zstd -qdc "$1/$f" ;;
      *.gz) gzip -dc "$1/$f" ;;
      *) cat "$1/$f" ;;
    esac
  done
}
valid_streams() {  # every compressed file of DIR tests valid
  local f
  for f in $(export_files "$1"); do
    case $f in
      *.zst) zstd -qt "$1/$f" 2> /dev/null || return 1 ;;
      *.gz) gzip -t "$1/$f" 2> /dev/null || return 1 ;;
    esac
  done
}
quarantined() { cat "$1"/quarantine/partition_*.jsonl; }
no_stray_quarantine() { [ -z "$(find "$1/quarantine" -type f ! -name 'partition_[0-9]*.jsonl')" ]; }
no_temporaries() { [ -z "$(find "$1" -name '*.tmp-*')" ]; }
counts() { json_get "$1/job_summary.json" "d['status'], d['input_rows'], d['output_rows'], d['bad_records'], d['null_text_dropped']"; }

# same_result REF_DIR REF_JOB DIR JOB: export, quarantine and counts as the reference's (the first difference
# is said).
same_result() {
  local why=""
  if ! same_export "$1" "$3"; then why="export files differ: $(export_files "$3" | tr '\n' ' ')"
  elif ! valid_streams "$3"; then why="a compressed export file is not valid"
  elif ! cmp -s <(quarantined "$1/$2") <(quarantined "$3/$4"); then why="quarantined lines differ"
  elif ! no_stray_quarantine "$3/$4"; then why="stray files in quarantine/"
  elif ! no_temporaries "$3"; then why="temporary files left: $(find "$3" -name '*.tmp-*' | head -n 3 | tr '\n' ' ')"
  elif [ "$(counts "$1/$2")" != "$(counts "$3/$4")" ]; then why="summary counts differ: $(counts "$3/$4") vs $(counts "$1/$2")"
  fi
  [ -z "$why" ] && return 0
  echo "# $3/$4: $why"
  return 1
}

for v in "${variants[@]}"; do
  name=${v%%|*}
  recipe r.yaml "$v" "ref_$name"
  "$SLUICE" run r.yaml --job_id ref --np 2 > /dev/null
  check "$name: reference export files: $(export_files "ref_$name" | tr '\n' ' ')" test -n "$(export_files "ref_$name")"
  check "$name: reference streams are valid" valid_streams "ref_$name"
  check "$name: reference quarantine holds each bad line once, in input order" cmp -s bad.expected <(quarantined "ref_$name/ref")
  check "$name: reference counts bad lines ($(counts "ref_$name/ref"))" \
    test "$(json_get "ref_$name/ref/job_summary.json" "d['bad_records']")" -eq "$(wc -l < bad.expected)"
  recipe r.yaml "$v" "np1_$name"
  "$SLUICE" run r.yaml --job_id np1 --np 1 > /dev/null
  check "$name: np 1 gives the np 2 result" same_result "ref_$name" ref "np1_$name" np1
done
check "decoded exports agree across variants" cmp -s <(decoded ref_gz) <(decoded ref_shard)
check "keep_stats variants agree decoded" cmp -s <(decoded ref_zst) <(decoded ref_shardzst)
check "keep_stats_in_res_ds keeps the stats" grep -q __dj__stats__ <(decoded ref_zst)
check "without it, no stats" bash -c "! grep -q __dj__stats__ <(gzip -dc ref_gz/out.jsonl.gz)"

# --- named crash points at several counts, at np 1 and 2, with every_op checkpoints or none.
points=("checkpoint_commit:1" "checkpoint_commit:7" "manifest_commit:2" "manifest_commit:15" "result_commit:1"
        "result_commit:9" "partition_start:3" "partition_start:16" "export_write:1")
for v in "${variants[@]}"; do
  name=${v%%|*}
  i=0
  for pt in "${points[@]}"; do
    i=$((i + 1))
    np=$((i % 2 + 1))
    s=$([ $((i % 3)) -eq 0 ] && echo disabled || echo every_op)
    job="k_${np}_${s}_${pt//:/_}"
    recipe r.yaml "$v" "o_${name}_$job"
    set +e
    SLUICE_CRASH_AT=$pt "$SLUICE" run r.yaml --job_id "$job" --np $np --checkpoint.strategy "$s" > /dev/null 2>&1
    rc=$?
    set -e
    run_until_done r.yaml "$job" --np $np --checkpoint.strategy "$s" || true
    check "$name np=$np $s crash at $pt (exit $rc): same result after resume" same_result "ref_$name" ref "o_${name}_$job" "$job"
  done
done

# --- crashes one after another in the same job: each resume dies at the next point; killed at np 2,
# resumed at np 1.
chain=("partition_start:5" "checkpoint_commit:3" "manifest_commit:4" "result_commit:2" "result_commit:3" "export_write:1")
for v in "${variants[@]}"; do
  name=${v%%|*}
  recipe r.yaml "$v" "o_${name}_chain"
  for pt in "${chain[@]}"; do
    SLUICE_CRASH_AT=$pt "$SLUICE" run r.yaml --job_id chain --np 2 > /dev/null 2>&1 || true
  done
  run_until_done r.yaml chain --np 1 || true
  check "$name: six crashes in a row at np 2, resumed at np 1: same result" same_result "ref_$name" ref "o_${name}_chain" chain
  "$SLUICE" run r.yaml --job_id chain --np 2 > /dev/null
  check "$name: running the finished job again changes nothing" same_result "ref_$name" ref "o_${name}_chain" chain
done

# --- random SIGKILLs, resumed with the same command.
for v in "${variants[@]}"; do
  name=${v%%|*}
  for np in 1 2; do
    job="rand_$np"
    recipe r.yaml "$v" "o_${name}_$job"
    for _ in 1 2 3 4; do
      "$SLUICE" run r.yaml --job_id "$job" --np $np > /dev/null 2>&1 &
      pid=$!
      sleep "0.$((RANDOM % 3))$((RANDOM % 10))"
      kill -9 $pid 2> /dev/null || true
      wait $pid 2> /dev/null || true
    done
    run_until_done r.yaml "$job" --np $np || true
    check "$name np=$np four random kills: same result after resume" same_result "ref_$name" ref "o_${name}_$job" "$job"
  done
done

# --- sluice stop (SIGTERM) twice during the run, then the same command resumes it. Polls of 30 s at most, by
# grep (quick); the run is held still (SIGSTOP) from then on until stop's SIGTERM is pending (ShdPnd, bit 15),
# so that the stop lands where the run was seen however slowly a loaded machine starts `sluice stop`.
wait_for() { for _ in $(seq 1 1500); do if "$@"; then return 0; fi; sleep 0.02; done; return 1; }
completed_at_least() { [ -f "$1" ] && [ "$(grep -c '"event_type":"partition_complete"' "$1" 2> /dev/null)" -ge "$2" ]; }
sigterm_pending() { local k v; while read -r k v; do [ "$k" = ShdPnd: ] && { (( 0x$v & 0x4000 )); return; }; done < "/proc/$1/status"; return 1; }
stop_held() {  # JOB_DIR PID
  kill -STOP "$2" || return 0
  "$SLUICE" stop "$1" > /dev/null 2>&1 &
  wait_for sigterm_pending "$2" || true
  kill -CONT "$2"; wait $! || true
}
for v in "${variants[@]}"; do
  name=${v%%|*}
  recipe r.yaml "$v" "o_${name}_stop"
  rcs=""
  # 40 partition completions in all (two stages, document_deduplicator between): stopped after 3, then 12,
  # so at least 28 partition starts of 0.1 s (>= 1.4 s at np 2) remain once the poll saw its count, and a
  # poll that a loaded machine delays still finds the run going.
  for n in 3 12; do
    SLUICE_DELAY_AT=partition_start:0.1 "$SLUICE" run r.yaml --job_id stop --np 2 > /dev/null 2>&1 &
    pid=$!
    wait_for completed_at_least "o_${name}_stop/stop/events.jsonl" $n || true
    stop_held "o_${name}_stop/stop" $pid
    set +e
    wait $pid
    rcs="$rcs $?"
    set -e
  done
  check "$name: both stopped runs exit 6 (got$rcs)" test "$rcs" = " 6 6"
  run_until_done r.yaml stop --np 2 || true
  check "$name: stopped twice, resumed: same result" same_result "ref_$name" ref "o_${name}_stop" stop
done

status_of() { if [ -f "$1/job_summary.json" ]; then json_get "$1/job_summary.json" "d['status']"; fi; }
# --- retention_policy cleanup_all: crashes before the job succeeds lose nothing the resume needs.
for v in "${variants[@]}"; do
  name=${v%%|*}
  recipe r.yaml "$v" "o_${name}_ret" "intermediate_storage:" "  retention_policy: cleanup_all"
  for pt in partition_start:9 checkpoint_commit:12 result_commit:4 manifest_commit:30 export_write:1; do
    # a finished job is not run again here: see the report on reruns after cleanup_all
    [ "$(status_of "o_${name}_ret/ret")" != completed ] || break
    SLUICE_CRASH_AT=$pt "$SLUICE" run r.yaml --job_id ret --np 2 > /dev/null 2>&1 || true
  done
  [ "$(status_of "o_${name}_ret/ret")" = completed ] || run_until_done r.yaml ret --np 2 || true
  check "$name cleanup_all: five crashes in a row, resumed: same result" same_result "ref_$name" ref "o_${name}_ret" ret
  check "$name cleanup_all: intermediate data removed after success" test ! -e "o_${name}_ret/ret/checkpoints"
done

# --- near-duplicate deduplicators over the same input, a decision budget small enough to spill, zstd export.
near_recipe() {  # FILE DIR
  printf '%s\n' "project_name: crashnear" "dataset_path: in" "export_path: $2/out.jsonl.zst" "np: 2" "on_bad_record: quarantine" \
    "partition:" "  max_size_mb: 0.1" "fault_tolerance:" "  retry_base_seconds: 0.01" "process:" \
    "  - whitespace_normalization_mapper:" "  - document_simhash_deduplicator:" "      hamming_distance: 5" \
    "  - text_length_filter:" "      min_len: 10" "  - document_minhash_deduplicator:" "      num_permutations: 64" \
    "  - words_num_filter:" "      min_num: 3" > "$1"
}
export SLUICE_DEDUP_MEMORY_MB=0.03
near_recipe n.yaml near_ref
"$SLUICE" run n.yaml --job_id ref --np 2 > /dev/null
check "near dedup: the decisions spilled" test "$(json_get near_ref/ref/metadata/stage_0_decision.json "d['spill_runs'] > 1")" = True
check "near dedup: near duplicates dropped" test "$(json_get near_ref/ref/metadata/stage_0_decision.json "d['input_rows'] > d['kept_rows']")" = True
near_recipe n.yaml near_np1
"$SLUICE" run n.yaml --job_id np1 --np 1 > /dev/null
check "near dedup: np 1 gives the np 2 result" same_result near_ref ref near_np1 np1
for pt in dedup_spill:1 dedup_spill:4 dedup_spill:11 dedup_keep_commit:2 dedup_keep_commit:9 dedup_keep_commit:30 \
          checkpoint_commit:20 result_commit:3 export_write:1; do
  job="n_${pt//:/_}"
  near_recipe n.yaml "near_$job"
  set +e
  SLUICE_CRASH_AT=$pt "$SLUICE" run n.yaml --job_id "$job" --np 2 > /dev/null 2>&1
  rc=$?
  set -e
  run_until_done n.yaml "$job" --np 2 || true
  check "near dedup: crash at $pt (exit $rc): same result after resume" same_result near_ref ref "near_$job" "$job"
done
near_recipe n.yaml near_chain
for pt in dedup_spill:3 dedup_keep_commit:4 dedup_spill:2 dedup_keep_commit:7 result_commit:2; do
  SLUICE_CRASH_AT=$pt "$SLUICE" run n.yaml --job_id chain --np 2 > /dev/null 2>&1 || true
done
run_until_done n.yaml chain --np 1 || true
check "near dedup: five crashes in a row in the decisions, resumed at np 1: same result" same_result near_ref ref near_chain chain
# sluice stop while the first decision spills its runs: the decision ends, the job stops (exit 6), the resume goes on.
near_recipe n.yaml near_stop
SLUICE_DELAY_AT=dedup_spill:0.05 "$SLUICE" run n.yaml --job_id stop --np 2 > /dev/null 2>&1 &
pid=$!
deciding() { grep -q dedup_decision_start near_stop/stop/events.jsonl 2> /dev/null; }
spilling() { [ -n "$(find near_stop -name 'run_*.bin' -print -quit)" ]; }
wait_for deciding || true
wait_for spilling || true
stop_held near_stop/stop $pid
set +e
wait $pid
rc=$?
set -e
check "near dedup: stopped inside the decision: exit 6 (got $rc)" test $rc -eq 6
check "near dedup: the stop came inside the first decision" test "$(count_events near_stop/stop/events.jsonl dedup_decision_start)" = 1
run_until_done n.yaml stop --np 2 || true
check "near dedup: stopped inside the decision, resumed: same result" same_result near_ref ref near_stop stop
for np in 1 2; do
  near_recipe n.yaml "near_rand_$np"
  for _ in 1 2 3 4; do
    "$SLUICE" run n.yaml --job_id rand --np $np > /dev/null 2>&1 &
    pid=$!
    sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
    kill -9 $pid 2> /dev/null || true
    wait $pid 2> /dev/null || true
  done
  run_until_done n.yaml rand --np $np || true
  check "near dedup np=$np: four random kills: same result after resume" same_result near_ref ref "near_rand_$np" rand
done
check "near dedup: no spill files left after the resumes" test -z "$(find near_* -name 'run_*.bin')"
finish
