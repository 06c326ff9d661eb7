# Crash tests: for every checkpoint strategy and np 1 and 2, SIGKILL the job at chosen points (inside a
# checkpoint write, between a data file and its manifest, before a result commit, inside the export) and
# at random times, resume it (as often as needed), and require the export to be byte-identical to an
# uninterrupted run, with the same row counts: nothing lost, nothing duplicated.
source "$(dirname "$0")/lib.sh" "$@"

make_corpus data.jsonl 6000
write_recipe ref.yaml data.jsonl o_ref/out.jsonl
"$SLUICE" run ref.yaml --job_id ref --checkpoint.strategy disabled > /dev/null
check "reference run produced output" test -s o_ref/out.jsonl

same_counts() {  # summary
  [ "$(json_get "$1" "d['output_rows'], d['input_rows']")" = "$(json_get o_ref/ref/job_summary.json "d['output_rows'], d['input_rows']")" ]
}

strategies=("every_op" "every_partition" "every_n_ops --checkpoint.n_ops 3"
            "manual --checkpoint.op_names $MANUAL_OPS" "disabled")
points=("checkpoint_commit:2" "manifest_commit:3" "result_commit:2" "partition_start:4" "export_write:1")
for np in 1 2; do
  for s in "${strategies[@]}"; do
    name=${s%% *}
    for pt in "${points[@]}"; do
      job="j_${np}_${name}_${pt//:/_}"
      write_recipe r.yaml data.jsonl "out_$job/out.jsonl"
      set +e
      # shellcheck disable=SC2086
      SLUICE_CRASH_AT=$pt "$SLUICE" run r.yaml --job_id "$job" --np $np --checkpoint.strategy $s > /dev/null 2>&1
      rc=$?
      set -e
      # shellcheck disable=SC2086
      run_until_done r.yaml "$job" --np $np --checkpoint.strategy $s || true
      check "np=$np $name crash at $pt (exit $rc): export identical after resume" cmp -s o_ref/out.jsonl "out_$job/out.jsonl"
    done
    job="j_${np}_${name}_random"
    write_recipe r.yaml data.jsonl "out_$job/out.jsonl"
    for _ in 1 2 3; do
      # shellcheck disable=SC2086
      "$SLUICE" run r.yaml --job_id "$job" --np $np --checkpoint.strategy $s > /dev/null 2>&1 &
      pid=$!
      sleep "0.0$((RANDOM % 9 + 1))"
      kill -9 $pid 2> /dev/null || true
      wait $pid 2> /dev/null || true
    done
    # shellcheck disable=SC2086
    run_until_done r.yaml "$job" --np $np --checkpoint.strategy $s || true
    check "np=$np $name three random kills: export identical after resume" cmp -s o_ref/out.jsonl "out_$job/out.jsonl"
    check "np=$np $name three random kills: same row counts" same_counts "out_$job/$job/job_summary.json"
  done
done

write_recipe r.yaml data.jsonl o_np1/out.jsonl
"$SLUICE" run r.yaml --job_id np1 --np 1 > /dev/null
check "np=1 and np=2 exports are identical" cmp -s o_ref/out.jsonl o_np1/out.jsonl
write_recipe r.yaml data.jsonl o_small/out.jsonl
"$SLUICE" run r.yaml --job_id small --partition.max_size_mb 0.05 > /dev/null
check "a different partition size gives the same export" cmp -s o_ref/out.jsonl o_small/out.jsonl
finish
