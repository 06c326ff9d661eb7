# Recipe options do what README.md says: compressed input and export, export shards, intermediate
# compression, custom event-log and checkpoint directories, partition sizing, kept stats, the {job_id}
# placeholder, and the retention settings.
source "$(dirname "$0")/lib.sh" "$@"

make_corpus data.jsonl 3000
write_recipe ref.yaml data.jsonl o_ref/out.jsonl
"$SLUICE" run ref.yaml --job_id ref > /dev/null
ROWS=$(wc -l < o_ref/out.jsonl)

# --- compressed input and export (the export is the concatenation of per-partition members / frames)
gzip -c data.jsonl > data.jsonl.gz
zstd -q -c data.jsonl > data.jsonl.zst
for ext in gz zst; do
  write_recipe r.yaml "data.jsonl.$ext" "o_$ext/out.jsonl.$ext"
  "$SLUICE" run r.yaml --job_id "c$ext" > /dev/null
  if [ $ext = gz ]; then dec="gzip -dc"; else dec="zstd -qdc"; fi
  check ".$ext input and export: same records as plain" cmp -s o_ref/out.jsonl <($dec "o_$ext/out.jsonl.$ext")
done
write_recipe r.yaml data.jsonl o_mix/out.jsonl.zst
"$SLUICE" run r.yaml --job_id mix > /dev/null
check "multi-partition .zst export decodes to the plain export" cmp -s o_ref/out.jsonl <(zstd -qdc o_mix/out.jsonl.zst)

# --- export shards: DataJuicer's count and names, contiguous, nothing lost
write_recipe r.yaml data.jsonl o_sh/res.jsonl "export_shard_size: 200000"
"$SLUICE" run r.yaml --job_id sh > /dev/null
n=$(ls o_sh/res-*-of-*.jsonl | wc -l)
bytes=$(stat -c %s o_ref/out.jsonl)
check "shard count is min(bytes/size + 1, rows) ($n)" test "$n" -eq $((bytes / 200000 + 1))
w=$((${#n} + 1))
check "shard names are zero-padded to len(str(n)) + 1" test -f "o_sh/res-$(printf "%0${w}d" 0)-of-$(printf "%0${w}d" "$n").jsonl"
check "shards concatenate to the single-file export" cmp -s o_ref/out.jsonl <(cat o_sh/res-*-of-*.jsonl)
# What a killed run leaves (AtomicFile temporaries of a dead writer) goes at the next run, so a glob over
# the shards never reads a partial one; another program's files and a live writer's temporaries stay.
DEAD=$( (exit 0) & echo $!)  # a pid whose process is gone (or a zombie nobody reaps)
s1=$(printf "o_sh/res-%0${w}d-of-%0${w}d.jsonl" 1 "$n")
mkdir -p o_sh/sh/quarantine o_sh/sh/checkpoints/partition_000001
for f in "$s1" o_sh/res_stats.jsonl o_sh/.sluice-write-probe o_sh/sh/quarantine/partition_000001.jsonl \
         o_sh/sh/checkpoints/partition_000001/op_003_x.jsonl.zst o_sh/sh/job_summary.json; do
  echo partial > "$f.tmp-$DEAD-7"
done
echo notes > "o_sh/notes.txt.tmp-$DEAD-1"
echo live > "$s1.tmp-$$-2"
"$SLUICE" run r.yaml --job_id sh > /dev/null
check "a dead run's temporaries are gone from the export dir and the job dir" \
  test -z "$(find o_sh -name "*.tmp-$DEAD-7")"
check "another program's file and a live writer's temporary are kept" test -f "o_sh/notes.txt.tmp-$DEAD-1" -a -f "$s1.tmp-$$-2"
rm -f "o_sh/notes.txt.tmp-$DEAD-1" "$s1.tmp-$$-2"
check "the shards still concatenate to the export" cmp -s o_ref/out.jsonl <(cat o_sh/res-*-of-*.jsonl)

# --- intermediate compression, custom event-log / checkpoint dirs, events off
for comp in gzip none; do
  write_recipe r.yaml data.jsonl "o_ic$comp/out.jsonl" "intermediate_storage: {compression: $comp}"
  "$SLUICE" run r.yaml --job_id "ic$comp" --checkpoint.strategy every_op > /dev/null
  ext=$([ $comp = gzip ] && echo .jsonl.gz || echo .jsonl)
  check "intermediate compression $comp: checkpoints are $ext" test -n "$(ls o_ic$comp/ic$comp/checkpoints/partition_000000/op_000_*$ext 2> /dev/null)"
  check "intermediate compression $comp: same export" cmp -s o_ref/out.jsonl "o_ic$comp/out.jsonl"
done
write_recipe r.yaml data.jsonl o_dirs/out.jsonl "event_log_dir: $T/fast_logs" "checkpoint_dir: $T/big_ckpt"
"$SLUICE" run r.yaml --job_id dirs --checkpoint.strategy every_op > /dev/null
check "event_log_dir honoured (job id appended)" test -s fast_logs/dirs/events.jsonl -a -f fast_logs/dirs/events.log
check "checkpoint_dir honoured (job id appended)" test -d big_ckpt/dirs/partition_000000
check "no events or checkpoints in the job dir then" test ! -e o_dirs/dirs/events.jsonl -a ! -e o_dirs/dirs/checkpoints/partition_000000
check "summary points at the custom dirs" grep -q "fast_logs/dirs/events.jsonl" o_dirs/dirs/job_summary.json
write_recipe r.yaml data.jsonl o_noev/out.jsonl "event_logging: {enabled: false}"
"$SLUICE" run r.yaml --job_id noev > /dev/null
check "event_logging.enabled false writes no events.jsonl" test ! -e o_noev/noev/events.jsonl

# --- work_dir with {job_id} last, export under {work_dir}
write_recipe r.yaml data.jsonl "'{work_dir}/processed.jsonl'" "work_dir: '$T/runs/{job_id}'"
"$SLUICE" run r.yaml --job_id wd1 > /dev/null
check "{job_id} work_dir is the job dir; {work_dir} export inside it" test -f runs/wd1/processed.jsonl -a -f runs/wd1/job_summary.json
write_recipe r.yaml data.jsonl o_bad/out.jsonl "work_dir: '$T/{job_id}/x'"
set +e
"$SLUICE" run r.yaml > /dev/null 2> err.txt
rc=$?
set -e
check "{job_id} not last in work_dir: exit 2" test $rc -eq 2 -a -n "$(grep 'must be its last path component' err.txt)"

# --- the recipe as --config or as an argument, before, between or after the overrides: an override's value
# is never taken for the recipe
write_recipe r.yaml data.jsonl o_cf/out.jsonl
check "run --config RECIPE --job_id J --np 1" "$SLUICE" run --config r.yaml --job_id cf --np 1 > /dev/null
check "run --config: the export" cmp -s o_ref/out.jsonl o_cf/out.jsonl
write_recipe r.yaml data.jsonl o_cf2/out.jsonl
check "run --np 1 RECIPE --job_id J" "$SLUICE" run --np 1 r.yaml --job_id cf2 > /dev/null
check "run with the recipe between overrides: the export" cmp -s o_ref/out.jsonl o_cf2/out.jsonl
check "plan --np 1 RECIPE: np 1 from the command line" \
  test "$("$SLUICE" plan --np 1 r.yaml | python3 -c 'import json,sys; print(json.load(sys.stdin)["decision"]["np"]["value"])')" = 1

# --- partition sizing
write_recipe r.yaml data.jsonl o_ps/out.jsonl
"$SLUICE" run r.yaml --job_id ps --partition.size 500 --partition.max_size_mb 64 > /dev/null
check "partition.size 500 records: 6 partitions for 3000 records" test "$(json_get o_ps/ps/job_summary.json "d['total_partitions']")" -eq 6
check "partition.size: same export" cmp -s o_ref/out.jsonl o_ps/out.jsonl
write_recipe r.yaml data.jsonl o_pm/out.jsonl
"$SLUICE" run r.yaml --job_id pm --partition.mode manual --partition.num_of_partitions 4 > /dev/null
check "partition manual num_of_partitions 4" test "$(json_get o_pm/pm/job_summary.json "d['total_partitions']")" -eq 4

# --- kept stats
write_recipe r.yaml data.jsonl o_ks/out.jsonl "keep_stats_in_res_ds: true"
"$SLUICE" run r.yaml --job_id ks > /dev/null
check "keep_stats_in_res_ds: every record carries __dj__stats__" \
  test "$(grep -c '"__dj__stats__"' o_ks/out.jsonl)" -eq "$ROWS"
check "stats are dropped by default" test "$(grep -c '__dj__stats__' o_ref/out.jsonl || true)" -eq 0

# --- retention
ret() {  # job extra-yaml -> runs a successful every_op job
  write_recipe r.yaml data.jsonl "o_$1/out.jsonl" "$2"
  "$SLUICE" run r.yaml --job_id "$1" --checkpoint.strategy every_op > /dev/null
}
ret keep "intermediate_storage: {retention_policy: keep_all}"
check "keep_all keeps checkpoints and results" test -d o_keep/keep/checkpoints/partition_000000 -a -n "$(ls o_keep/keep/results)"
ret clean "intermediate_storage: {retention_policy: cleanup_all}"
check "cleanup_all after success removes checkpoints and results, keeps the export" \
  test ! -e o_clean/clean/checkpoints -a ! -e o_clean/clean/results -a -s o_clean/out.jsonl
# Run again: the dedup decision is on record but its keep files went with the checkpoints; it is made again.
set +e; "$SLUICE" run r.yaml --job_id clean --checkpoint.strategy every_op > /dev/null 2> err.txt; rc=$?; set -e
check "cleanup_all: the finished job run again completes (exit $rc) with the same export" \
  bash -c "[ $rc -eq 0 ] && cmp -s o_ref/out.jsonl o_clean/out.jsonl && [ -z \"\$(ls o_clean/*.partial 2> /dev/null)\" ]"
ret cos "intermediate_storage: {cleanup_on_success: true}"
check "cleanup_on_success removes intermediate data" test ! -e o_cos/cos/checkpoints
ret pres "intermediate_storage: {cleanup_on_success: true, preserve_intermediate_data: true}"
check "preserve_intermediate_data wins over cleanup" test -d o_pres/pres/checkpoints/partition_000000
# a one-stage recipe, so that completed partitions exist beside the failed one
printf '%s\n' "dataset_path: data.jsonl" "export_path: o_kf/out.jsonl" "partition: {max_size_mb: 0.25}" \
  "fault_tolerance: {max_retries: 0}" "intermediate_storage: {retention_policy: keep_failed_only}" \
  "process:" "  - text_length_filter:" "  - words_num_filter:" "  - alphanumeric_filter:" > kf.yaml
"$SLUICE" run kf.yaml --job_id kf_ref --export_path o_kfref/out.jsonl > /dev/null
set +e
SLUICE_FAIL_AT=partition_start:1:1000 "$SLUICE" run kf.yaml --job_id kf --checkpoint.strategy every_op > /dev/null 2>&1
set -e
check "keep_failed_only after a failure: completed partitions' checkpoints removed" test ! -e o_kf/kf/checkpoints/partition_000000
check "keep_failed_only after a failure: committed results kept for the resume" test -n "$(ls o_kf/kf/results/partition_000000*)"
"$SLUICE" run kf.yaml --job_id kf --checkpoint.strategy every_op > /dev/null
check "keep_failed_only: the resume completes identically" cmp -s o_kfref/out.jsonl o_kf/out.jsonl

# max_retention_days: finished jobs in the same work_dir older than the limit lose their intermediate data
mkdir -p wd
write_recipe r.yaml data.jsonl wd/old.jsonl
"$SLUICE" run r.yaml --job_id old > /dev/null
python3 -c "
import json; p='wd/old/job_summary.json'; d=json.load(open(p)); d['end_time']-=3*86400; json.dump(d, open(p,'w'))"
write_recipe r.yaml data.jsonl wd/new.jsonl "intermediate_storage: {max_retention_days: 2}"
"$SLUICE" run r.yaml --job_id new > /dev/null
check "max_retention_days sweeps an old finished job's results" test ! -e wd/old/results -a -f wd/old/job_summary.json
check "max_retention_days keeps the current job's data" test -d wd/new/results

# sluice --version names the version and the commit; sluice help [COMMAND] is the same as --help.
"$SLUICE" --version > version.out
check "--version: the version and the commit" grep -qE '^sluice [0-9]+\.[0-9]+\.[0-9]+ \(commit [^)]+\)$' version.out
"$SLUICE" help > help.out
check "help lists the commands" bash -c "grep -q '^  run ' help.out && grep -q '^  shard ' help.out"
check "help run = run --help" cmp -s <("$SLUICE" help run) <("$SLUICE" run --help)
check "help shard = shard --help" cmp -s <("$SLUICE" help shard) <("$SLUICE" shard --help)
set +e
"$SLUICE" help nope > /dev/null 2> help_bad.err
rc=$?
set -e
check "help of an unknown command: exit 2, named" bash -c "[ $rc -eq 2 ] && grep -q \"no command 'nope'\" help_bad.err"
finish
