# Near-duplicate dedup end to end: a recipe with document_minhash_deduplicator and
# document_simhash_deduplicator (two barriers) gives byte-identical exports at np 1 and np 2, with
# different partition sizes, with a decision memory budget small enough to spill, and after SIGKILLs
# inside the decision (between keep files, between spilled runs) and a resume.
source "$(dirname "$0")/lib.sh" "$@"

python3 - data.jsonl <<'PY'
import json, random, sys
random.seed(11)
vocab = [f"w{i}" for i in range(3000)] + ["naïve", "café", "数据", "清洗", "—", "“quoted”"]
docs = []
with open(sys.argv[1], "w") as out:
    for i in range(4000):
        r = random.random()
        if docs and r < 0.25:  # near duplicate: one word replaced, or a few words appended
            words = list(random.choice(docs))
            if random.random() < 0.5:
                words[random.randrange(len(words))] = random.choice(vocab)
            else:
                words += random.sample(vocab, 3)
        elif r < 0.27:
            words = random.sample(vocab, 3)  # too short for a 5-word shingle: minhash drops it
        else:
            words = random.sample(vocab, random.randint(40, 200))
            docs.append(words)
        out.write(json.dumps({"id": i, "text": " ".join(words)}, ensure_ascii=(i % 2 == 0)) + "\n")
PY

recipe() {  # FILE EXPORT
  printf '%s\n' "project_name: neardedup" "dataset_path: data.jsonl" "export_path: $2" "np: 2" \
    "partition:" "  max_size_mb: 0.1" "fault_tolerance:" "  retry_base_seconds: 0.01" "process:" \
    "  - whitespace_normalization_mapper:" "  - document_simhash_deduplicator:" "      hamming_distance: 5" \
    "  - text_length_filter:" "      min_len: 10" "  - document_minhash_deduplicator:" > "$1"
}

recipe ref.yaml o_ref/out.jsonl  # 0.1 MB partitions: 27 of them
"$SLUICE" run ref.yaml --job_id ref --np 2 > /dev/null
check "reference run produced output" test -s o_ref/out.jsonl
in_rows=$(wc -l < data.jsonl)
out_rows=$(wc -l < o_ref/out.jsonl)
check "near duplicates were dropped ($out_rows of $in_rows kept)" test "$out_rows" -lt $((in_rows * 85 / 100))
kept() { json_get "$1" "d['operation_name'], d['input_rows'] > d['kept_rows'], d['spill_runs']"; }
check "simhash decision recorded, drops rows" test "$(kept o_ref/ref/metadata/stage_0_decision.json)" = "document_simhash_deduplicator True 0"
check "minhash decision recorded, drops rows" test "$(kept o_ref/ref/metadata/stage_1_decision.json)" = "document_minhash_deduplicator True 0"

recipe r.yaml o_np1/out.jsonl
"$SLUICE" run r.yaml --job_id np1 --np 1 --partition.max_size_mb 0.37 > /dev/null
check "np 1 with other partitions: identical export" cmp -s o_ref/out.jsonl o_np1/out.jsonl

recipe r.yaml o_spill/out.jsonl
SLUICE_DEDUP_MEMORY_MB=0.03 "$SLUICE" run r.yaml --job_id spill --np 2 --partition.max_size_mb 0.05 > /dev/null
check "a decision that spills: identical export" cmp -s o_ref/out.jsonl o_spill/out.jsonl
check "the small budget did spill" test "$(json_get o_spill/spill/metadata/stage_1_decision.json "d['spill_runs'] > 3")" = True
recipe r.yaml o_badmem/out.jsonl
set +e; SLUICE_DEDUP_MEMORY_MB=lots "$SLUICE" run r.yaml --job_id badmem > /dev/null 2> err.txt; rc=$?; set -e
check "a bad SLUICE_DEDUP_MEMORY_MB: exit 2 before anything is created, no job directory (got $rc)" \
  test $rc -eq 2 -a ! -e o_badmem
check "... naming the variable and the value" grep -q "SLUICE_DEDUP_MEMORY_MB must be a positive number, got 'lots'" err.txt

# DataJuicer's Ray twin runs as document_minhash_deduplicator: its Ray knobs are accepted and change nothing.
sed 's/document_minhash_deduplicator:/ray_bts_minhash_deduplicator:\n      union_find_parallel_num: 2\n      merge_batch_size: 7/' ref.yaml > bts.yaml
sed -i 's#o_ref/out.jsonl#o_bts/out.jsonl#' bts.yaml
"$SLUICE" run bts.yaml --job_id bts --np 2 > /dev/null
check "ray_bts_minhash_deduplicator: the same export as document_minhash_deduplicator" cmp -s o_ref/out.jsonl o_bts/out.jsonl
sed -i 's/union_find_parallel_num: 2/union_find_parallel_num: many/' bts.yaml
check "ray_bts_minhash_deduplicator: a knob of the wrong type is refused" bash -c "! '$SLUICE' run --dry-run bts.yaml > /dev/null 2>&1"

# A recipe ending in a deduplicator: an empty last stage applies the decision.
for op in document_minhash_deduplicator document_simhash_deduplicator document_deduplicator; do
  printf '%s\n' "dataset_path: data.jsonl" "export_path: o_last_$op/out.jsonl" "np: 2" "partition:" "  max_size_mb: 0.1" \
    "process:" "  - $op:" > last.yaml
  "$SLUICE" run last.yaml --job_id last > /dev/null
  check "$op as the last op: the export has the decision's rows" \
    test "$(wc -l < "o_last_$op/out.jsonl")" -eq "$(json_get "o_last_$op/last/metadata/stage_0_decision.json" "d['kept_rows']")"
done

# 27 partitions: dedup_keep_commit:3 falls into the first (simhash) decision, :40 into the second (minhash);
# the spill points into the simhash decision's runs (15 block choices, several runs each).
for pt in dedup_keep_commit:3 dedup_keep_commit:40 dedup_spill:2 dedup_spill:9; do
  job="crash_${pt//:/_}"
  recipe r.yaml "o_$job/out.jsonl"
  set +e
  SLUICE_DEDUP_MEMORY_MB=0.03 SLUICE_CRASH_AT=$pt "$SLUICE" run r.yaml --job_id "$job" --np 2 > /dev/null 2>&1
  rc=$?
  set -e
  check "killed at $pt (exit $rc is SIGKILL)" test "$rc" -eq 137
  check "killed at $pt: not recorded as decided" test ! -e "o_$job/$job/metadata/stage_1_decision.json"
  SLUICE_DEDUP_MEMORY_MB=0.03 "$SLUICE" run r.yaml --job_id "$job" --np 2 > /dev/null
  check "killed at $pt: export identical after resume" cmp -s o_ref/out.jsonl "o_$job/out.jsonl"
  check "killed at $pt: no spill files left" test -z "$(find "o_$job/$job" -name 'run_*.bin')"
done
finish
