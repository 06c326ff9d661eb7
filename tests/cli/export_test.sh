# The single-file export is written once, while the job runs (engine/export_journal.h): nothing is left
# beside it, results/ holds manifests only, a rerun of a finished job recomputes nothing, a damaged export
# is repaired from what still verifies, and an allow_partial export resumes into the full one.
source "$(dirname "$0")/lib.sh" "$@"

# last_run EVENTS TYPE [CONDITION]: like count_events, over the events of the latest run only.
last_run() {
  python3 -c "
import json,sys
ev=[json.loads(l) for l in open(sys.argv[1])]
start=max(i for i,e in enumerate(ev) if e['event_type']=='job_start')
print(sum(1 for e in ev[start:] if e['event_type']==sys.argv[2] and (${3:-True})))" "$1" "$2"
}

make_corpus data.jsonl 6000
for np in 1 2; do
  write_recipe r.yaml data.jsonl "o$np/out.jsonl"
  "$SLUICE" run r.yaml --job_id j --np $np --checkpoint.strategy disabled > /dev/null
  [ $np = 1 ] && cp o1/out.jsonl ref.jsonl
  check "np $np: export identical to np 1" cmp -s ref.jsonl "o$np/out.jsonl"
  check "np $np: no journal left beside the export" test -z "$(ls "o$np" | grep -F .partial || true)"
  check "np $np: results/ holds manifests only, no second copy of the data" \
    test -z "$(ls "o$np/j/results" | grep -v '\.manifest\.json$' || true)"
done
parts=$(json_get o2/j/job_summary.json "d['total_partitions']")
check "the test spans several partitions ($parts)" test "$parts" -ge 4

# A finished job run again: the export verifies, nothing is recomputed or rewritten.
before=$(stat -c %Y.%i o2/out.jsonl)
"$SLUICE" run r.yaml --job_id j --np 2 --checkpoint.strategy disabled > /dev/null
check "rerun of a finished job: no partition recomputed" test "$(last_run o2/j/events.jsonl partition_start)" -eq 0
check "rerun of a finished job: export recognised as complete" \
  test "$(last_run o2/j/events.jsonl export_journal_recovered "e['export_complete']")" -eq 1
check "rerun of a finished job: export untouched" test "$(stat -c %Y.%i o2/out.jsonl)" = "$before"

# A damaged export: the verified prefix is reused, the rest recomputed.
size=$(stat -c %s o2/out.jsonl)
truncate -s $((size * 3 / 4)) o2/out.jsonl
"$SLUICE" run r.yaml --job_id j --np 2 --checkpoint.strategy disabled > /dev/null
check "truncated export repaired by a rerun" cmp -s ref.jsonl o2/out.jsonl
reused=$(python3 -c "
import json,sys
ev=[json.loads(l) for l in open(sys.argv[1])]
print([e for e in ev if e['event_type']=='export_journal_recovered'][-1]['partitions_in_export'])" o2/j/events.jsonl)
check "truncated export: its intact partitions were reused ($reused of $parts)" test "$reused" -ge 1 -a "$reused" -lt "$parts"

# allow_partial: partition 1 fails for good; the partial export lacks its rows; the resume (fault gone)
# computes it, finds the dedup decision made without it stale, and produces the full export.
write_recipe p.yaml data.jsonl op/out.jsonl "  max_retries: 0" "  allow_partial: true"
set +e
SLUICE_FAIL_AT=partition_start:1:5 "$SLUICE" run p.yaml --job_id p --np 2 --checkpoint.strategy disabled > /dev/null 2>&1
rc=$?
set -e
check "allow_partial with a failed partition: exit code 1 (got $rc)" test $rc -eq 1
check "allow_partial: partial export written" test -s op/out.jsonl
check "allow_partial: partial export is shorter" test "$(wc -l < op/out.jsonl)" -lt "$(wc -l < ref.jsonl)"
"$SLUICE" run p.yaml --job_id p --np 2 --checkpoint.strategy disabled > /dev/null
check "allow_partial resumed: full export identical" cmp -s ref.jsonl op/out.jsonl
check "allow_partial resumed: before the barrier only the failed partition was computed again" \
  test "$(last_run op/p/events.jsonl partition_start "e['stage']==0")" -eq 1
check "allow_partial resumed: the dedup decision made without it was redone" \
  test "$(last_run op/p/events.jsonl dedup_decision_stale)" -eq 1

# A compressed export is the concatenation of per-partition frames, written once as well.
write_recipe z.yaml data.jsonl oz/out.jsonl.zst
"$SLUICE" run z.yaml --job_id z --np 2 > /dev/null
check "zstd export decompresses to the plain export" cmp -s ref.jsonl <(zstd -dc oz/out.jsonl.zst)
finish
