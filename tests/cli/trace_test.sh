# The tracer (open_tracer): DataJuicer's trace files, the same whatever np, partitioning and crashes.
source "$(dirname "$0")/lib.sh" "$@"

# Exact content on a small dataset whose answers are known.
python3 - <<'PY'
import json
with open("small.jsonl", "w") as f:
    for i in range(200):
        t = "Visit http://example.com/%d now. Some words here for sample %d." % (i % 7, i % 50)
        if i % 9 == 0:
            t = "short"
        f.write(json.dumps({"id": i, "text": t}) + "\n")
PY
cat > small.yaml <<'Y'
dataset_path: small.jsonl
export_path: o_small/out.jsonl
open_tracer: true
trace_num: 3
np: 2
partition:
  size: 30
process:
  - clean_links_mapper:
  - text_length_filter:
      min_len: 10
  - document_deduplicator:
  - whitespace_normalization_mapper:
Y
"$SLUICE" run small.yaml --job_id s > /dev/null
tr=o_small/s/trace
check "one file per op with something to show" \
  test "$(cd $tr && ls | tr '\n' ' ')" = "duplicate-document_deduplicator.jsonl filter-text_length_filter.jsonl mapper-clean_links_mapper.jsonl "
check "mapper trace: the first changed samples, before and after" python3 - "$tr/mapper-clean_links_mapper.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
want = [{"original text": "Visit http://example.com/%d now. Some words here for sample %d." % (i, i),
         "processed_text": "Visit  now. Some words here for sample %d." % i} for i in (1, 2, 3)]
sys.exit(rows != want)
PY
check "filter trace: the first dropped samples, with their stats" python3 - "$tr/filter-text_length_filter.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(rows != [{"id": i, "text": "short", "__dj__stats__": {"text_len": 5}} for i in (0, 9, 18)])
PY
check "duplicate trace: kept and dropped sample of the first groups" python3 - "$tr/duplicate-document_deduplicator.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
sys.exit([(r["dup1"]["id"], r["dup2"]["id"]) for r in rows] != [(1, 51), (2, 52), (3, 53)])
PY
check "no trace for an op that changed nothing" test ! -e "$tr/mapper-whitespace_normalization_mapper.jsonl"

# Selectors are not traced (DataJuicer's tracer covers mappers, filters and deduplicators only).
sed 's/  - whitespace_normalization_mapper:/  - random_selector:\n      select_num: 50/' small.yaml > sel.yaml
"$SLUICE" run sel.yaml --job_id sel > /dev/null
check "a selector in a traced recipe: the job completes and the selector has no trace file" \
  test "$(ls o_small/sel/trace | tr '\n' ' ')" = "duplicate-document_deduplicator.jsonl filter-text_length_filter.jsonl mapper-clean_links_mapper.jsonl "
check "... and its decision records no duplicate pairs (only the deduplicator's do)" \
  test "$(ls o_small/sel/metadata | grep -c '_trace.jsonl$')" -eq 1

# op_list_to_trace limits the ops; an unknown name is an error before any work.
"$SLUICE" run small.yaml --job_id l --op_list_to_trace '[text_length_filter]' > /dev/null
check "op_list_to_trace: only the listed op is traced" test "$(ls o_small/l/trace)" = "filter-text_length_filter.jsonl"
set +e
"$SLUICE" run small.yaml --job_id u --op_list_to_trace '[text_lenght_filter]' > out.txt 2>&1
rc=$?
set -e
check "op_list_to_trace: unknown op is a usage error (exit 2)" test $rc -eq 2
check "op_list_to_trace: the error names the op and suggests one" grep -q "text_lenght_filter.*text_length_filter" out.txt
"$SLUICE" run small.yaml --job_id off --open_tracer false > /dev/null
check "no trace directory without open_tracer" test ! -e o_small/off/trace

# The same trace whatever np and partitioning, and after crashes and resumes.
make_corpus data.jsonl 4000
write_recipe ref.yaml data.jsonl o_ref/out.jsonl "open_tracer: true" "trace_num: 5"
"$SLUICE" run ref.yaml --job_id ref --np 1 --partition.max_size_mb 64 --checkpoint.strategy disabled > /dev/null
check "reference trace has files for mappers, filters and the deduplicator" \
  test "$(ls o_ref/ref/trace | grep -c -e '^mapper-' -e '^filter-' -e '^duplicate-')" -ge 6
for np in 1 2; do
  "$SLUICE" run ref.yaml --job_id "np$np" --np $np --checkpoint.strategy every_op > /dev/null
  check "np=$np with small partitions: same trace" diff -r o_ref/ref/trace "o_ref/np$np/trace"
done
for d in document_minhash_deduplicator document_simhash_deduplicator; do
  sed "s/document_deduplicator:/$d:/" ref.yaml > near.yaml
  "$SLUICE" run near.yaml --job_id "${d}_a" --np 1 --partition.max_size_mb 64 > /dev/null
  "$SLUICE" run near.yaml --job_id "${d}_b" --np 2 > /dev/null
  check "$d: duplicate pairs traced" test -s "o_ref/${d}_a/trace/duplicate-$d.jsonl"
  check "$d: same trace with np 2 and small partitions" diff -r "o_ref/${d}_a/trace" "o_ref/${d}_b/trace"
done
for pt in checkpoint_commit:3 manifest_commit:5 result_commit:2 dedup_keep_commit:1 export_write:1; do
  job="c_${pt//:/_}"
  set +e
  SLUICE_CRASH_AT=$pt "$SLUICE" run ref.yaml --job_id "$job" --np 2 > /dev/null 2>&1
  set -e
  for _ in 1 2 3 4 5; do "$SLUICE" run ref.yaml --job_id "$job" --np 2 > /dev/null 2>&1 && break; done
  check "crash at $pt, resumed: same trace" diff -r o_ref/ref/trace "o_ref/$job/trace"
done
# A finished job run again keeps its trace; one whose intermediates were removed keeps it too.
rm -rf o_ref/np2/checkpoints
"$SLUICE" run ref.yaml --job_id np2 --np 2 --checkpoint.strategy every_op > /dev/null
check "rerun of a finished job after its checkpoints were removed: trace unchanged" diff -r o_ref/ref/trace o_ref/np2/trace
finish
