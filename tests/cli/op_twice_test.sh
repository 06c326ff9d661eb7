# An op named twice in `process`, end to end, as DataJuicer runs it:
#   * a filter named again reuses the stat the first one computed (stats are cached by key, datajuicer-ops.md
#     §1.3), also after a mapper changed the text and with other parameters;
#   * document_deduplicator named again reuses the `__dj__hash` the first one computed (DataJuicer's
#     compute_hash skips a sample that has one), so it keeps every sample, also after a mapper made two texts
#     equal; with text_chunk_mapper between them (chunks share their parent's hash) it is refused at load;
#   * document_simhash_deduplicator named again runs where hashing the current text gives the first one's
#     hash (same text key and hashing parameters, no mapper between), and is refused at load elsewhere;
#   * a mapper named again runs again;
#   * the job summary, the events and the tracer name the two instances apart (operation_idx, file suffix).
# Whatever np and checkpoints.
source "$(dirname "$0")/lib.sh" "$@"

python3 - <<'PY'
import json
rows = [
    "short http://example.com/a-very-long-link-that-counts",  # 54 chars; 6 once the link is gone
    "tiny",
    "same text http://example.com/one",   # equal to the next once the links are gone
    "same text http://example.org/two",
    "unrelated words here and there",
]
with open("data.jsonl", "w") as f:
    for i, t in enumerate(rows):
        f.write(json.dumps({"id": i, "text": t}) + "\n")
PY

run_recipe() {  # run_recipe NAME LAYOUT PROCESS-LINES...: runs it as job NAME, export o_NAME/out.jsonl
  local name=$1 layout=$2
  shift 2
  { echo "dataset_path: data.jsonl"; echo "export_path: o_$name/out.jsonl"; echo "keep_stats_in_res_ds: true"
    echo "open_tracer: true"; tr '|' '\n' <<< "$layout"; echo "process:"; printf '%s\n' "$@"; } > "$name.yaml"
  "$SLUICE" run "$name.yaml" --job_id "$name" > "$name.out" 2> "$name.err"
}
ids() { python3 -c "import json,sys; print(' '.join(str(json.loads(l)['id']) for l in open(sys.argv[1])))" "$1"; }

for layout in "np: 1|checkpoint:|  strategy: disabled" "np: 2|partition:|  size: 1|checkpoint:|  strategy: every_op"; do
  tag=${layout%%|*}
  tag=${tag/: /}
  rm -rf o_f* o_d*
  # Filters: the second text_length_filter (max 31) sees the text_len the first computed before
  # clean_links_mapper shortened the texts (53 -> 6 for record 0, 32 -> 10 for records 2 and 3), and drops
  # those three; the second character_repetition_filter reuses char_rep_ratio computed with rep_len 10 (0 for
  # every record) where its own rep_len 1 would give record 4 a ratio above its max.
  run_recipe "f$tag" "$layout" "  - text_length_filter:" "      min_len: 1" "  - character_repetition_filter:" \
    "      rep_len: 10" "      max_ratio: 0.5" "  - clean_links_mapper:" "  - text_length_filter:" "      min_len: 1" "      max_len: 31" \
    "  - character_repetition_filter:" "      rep_len: 1" "      max_ratio: 0.05"
  check "filter twice ($tag): the second reuses the first's stat (record 0 dropped on its old length)" \
    test "$(ids "o_f$tag/out.jsonl")" = "1 4"
  check "filter twice ($tag): one text_len per record, the first's" python3 -c "
import json
rows = [json.loads(l) for l in open('o_f$tag/out.jsonl')]
assert [r['__dj__stats__']['text_len'] for r in rows] == [4, 30], rows
assert all(r['__dj__stats__']['char_rep_ratio'] == 0.0 for r in rows), rows"
  check "filter twice ($tag): the summary names both instances by index" python3 -c "
import json
ops = json.load(open('o_f$tag/f$tag/job_summary.json'))['ops']
assert [(o['operation_idx'], o['name'], o['input_rows'], o['output_rows']) for o in ops] == [
    (0, 'text_length_filter', 5, 5), (1, 'character_repetition_filter', 5, 5), (2, 'clean_links_mapper', 5, 5),
    (3, 'text_length_filter', 5, 2), (4, 'character_repetition_filter', 2, 2)], ops"
  check "filter twice ($tag): the tracer writes each instance's file, named with its index" \
    test "$(cd "o_f$tag/f$tag/trace" && ls | tr '\n' ' ')" = "filter-text_length_filter-3.jsonl mapper-clean_links_mapper.jsonl "

  # document_deduplicator twice with a mapper between that makes records 2 and 3 equal: DataJuicer's second
  # instance reuses the hashes computed before the mapper, so it keeps both.
  run_recipe "d$tag" "$layout" "  - document_deduplicator:" "  - clean_links_mapper:" "  - document_deduplicator:" \
    "      lowercase: true"
  check "document_deduplicator twice ($tag): the second reuses the first's hashes and keeps every sample" \
    test "$(ids "o_d$tag/out.jsonl")" = "0 1 2 3 4"
  check "document_deduplicator twice ($tag): its events name it by index" \
    test "$(count_events "o_d$tag/d$tag/events.jsonl" op_complete "e['operation_idx'] == 2 and e['operation_name'] == 'document_deduplicator'")" -gt 0
done

# Without the mapper's help the first instance already removes what the second would: a third record equal to
# record 4 goes at the first instance, and the second (after clean_links_mapper) removes nothing more.
echo '{"id": 5, "text": "unrelated words here and there"}' >> data.jsonl
run_recipe d3 "np: 2" "  - document_deduplicator:" "  - clean_links_mapper:" "  - document_deduplicator:"
check "document_deduplicator twice: the first removes the duplicate, the second nothing" \
  test "$(ids o_d3/out.jsonl)" = "0 1 2 3 4"
check "... counted on the first instance" python3 -c "
import json
ops = json.load(open('o_d3/d3/job_summary.json'))['ops']
assert [(o['input_rows'], o['output_rows']) for o in ops] == [(6, 5), (5, 5), (5, 5)], ops"

# The second instance reads no text: one on a text key no record has drops nothing (DataJuicer's reuses the
# hash and never looks at the field; hashing it would fail every sample).
run_recipe d_key "np: 2" "  - document_deduplicator:" "  - document_deduplicator:" "      text_key: title"
check "document_deduplicator twice, the second on a missing field: keeps every sample" \
  test "$(ids o_d_key/out.jsonl)" = "0 1 2 3 4"

refused() {  # refused NAME WHAT PATTERN PROCESS-LINES...
  local name=$1 what=$2 pattern=$3
  shift 3
  set +e
  run_recipe "$name" "np: 1" "$@"
  local rc=$?
  set -e
  check "$what: refused at load (exit 2, got $rc)" test $rc -eq 2
  check "$what: the message says why" grep -q "$pattern" "$name.err"
  check "$what: no data was processed" test ! -e "o_$name/$name/events.jsonl"
}
refused r_chunk "document_deduplicator, text_chunk_mapper, document_deduplicator" \
  "reuses the __dj__hash.*text_chunk_mapper" "  - document_deduplicator:" "  - text_chunk_mapper:" "      max_len: 5" \
  "  - document_deduplicator:"
refused r_sim_mapper "simhash, a mapper, simhash" "reuses the __dj__simhash.*clean_links_mapper" \
  "  - document_simhash_deduplicator:" "  - clean_links_mapper:" "  - document_simhash_deduplicator:" \
  "      hamming_distance: 5"
refused r_sim_params "simhash twice with another window" "reuses the __dj__simhash.*window_size" \
  "  - document_simhash_deduplicator:" "  - document_simhash_deduplicator:" "      window_size: 3"

# simhash twice where the second's hash is the first's: it runs, with its own distance (nothing more to
# remove: texts of fewer than 6 words all hash to 0, so the first kept record 0 alone).
run_recipe s2 "np: 2" "  - document_simhash_deduplicator:" "  - text_length_filter:" "  - document_simhash_deduplicator:" \
  "      hamming_distance: 5"
check "simhash twice with the same hashing: runs" test "$(ids o_s2/out.jsonl)" = "0"

# A mapper named twice runs twice.
run_recipe m2 "np: 1" "  - python_lambda_mapper:" "      lambda_str: \"lambda s: {'text': s['text'] + '!'}\"" \
  "  - python_lambda_mapper:" "      lambda_str: \"lambda s: {'text': s['text'] + '!'}\""
check "mapper twice: applied twice" test "$(head -1 o_m2/out.jsonl | python3 -c "import json,sys; print(json.load(sys.stdin)['text'][-3:])")" = "s!!"
finish
