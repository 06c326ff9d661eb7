# text_chunk_mapper in the engine: one record in, one record per chunk out (other fields copied), in order,
# followed by more ops; the same bytes at np 1 and np 2, over several partitions, and after a crash and
# resume. The expected chunks come from DataJuicer's algorithm written in Python here.
source "$(dirname "$0")/lib.sh" "$@"
make_corpus data.jsonl 1500
recipe() {  # FILE EXPORT MAX_LEN PATTERN
  printf '%s\n' "dataset_path: data.jsonl" "export_path: $2" "np: 2" "partition:" "  max_size_mb: 0.1" \
    "open_tracer: true" "trace_num: 3" "process:" "  - whitespace_normalization_mapper:" "  - text_chunk_mapper:" \
    "      max_len: $3" "      overlap_len: 3" "      split_pattern: $4" "  - text_length_filter:" "      min_len: 5" \
    "  - document_deduplicator:" > "$1"
}
recipe r.yaml o_ref/out.jsonl 120 "'\\n'"
"$SLUICE" run r.yaml --job_id ref --np 2 > /dev/null
check "chunked run produced output" test -s o_ref/out.jsonl
check "matches DataJuicer's algorithm (whitespace_normalization, text_chunk, text_length, document_deduplicator)" \
  python3 - data.jsonl o_ref/out.jsonl <<'PY'
import hashlib, json, re, sys
WS = set("\u0009\u000a\u000b\u000c\u000d\u0020\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
VARIOUS = set(" \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u200b\u200c\u200d\u2028\u2029\u202f\u205f\u3000\ufeff\u0085\u000b\u000c")
def norm(t):
    return "".join(" " if c in VARIOUS else c for c in t.strip())
def chunks(text, max_len=120, overlap=3, pat="\n"):
    if len(text) <= max_len: return [text]
    sub = text[:max_len]
    m = list(re.finditer(pat, sub))
    if not m: return [sub] + chunks(text[max_len - overlap:])
    return [sub[:m[-1].start()]] + chunks(text[m[-1].end():])
seen, want = set(), []
for line in open(sys.argv[1], encoding="utf-8"):
    rec = json.loads(line)
    for c in chunks(norm(rec["text"])):
        if len(c) < 5: continue
        h = hashlib.md5(c.strip().encode()).hexdigest()
        if h in seen: continue
        seen.add(h)
        want.append((rec["id"], c))
got = [(r["id"], r["text"]) for r in map(json.loads, open(sys.argv[2], encoding="utf-8"))]
if got != want:
    print("got", len(got), "want", len(want), next(((a, b) for a, b in zip(got, want) if a != b), None))
sys.exit(got != want)
PY
check "other fields are copied into every chunk" python3 -c "
import json,sys
rows=[json.loads(l) for l in open('o_ref/out.jsonl')]
sys.exit(not all(r['meta']['tags']==['a','b'] for r in rows) or len(rows) <= 1500)"
check "the tracer shows the first chunks" test "$(wc -l < o_ref/ref/trace/mapper-text_chunk_mapper.jsonl)" -eq 3
check "summary: the chunker's output rows exceed its input rows" python3 -c "
import json
ops={o['name']:o for o in json.load(open('o_ref/ref/job_summary.json'))['ops']}
o=ops['text_chunk_mapper']; raise SystemExit(not o['output_rows'] > o['input_rows'])"
recipe r1.yaml o_np1/out.jsonl 120 "'\\n'"
"$SLUICE" run r1.yaml --job_id np1 --np 1 --partition.max_size_mb 0.37 > /dev/null
check "np 1, other partitions: identical export" cmp -s o_ref/out.jsonl o_np1/out.jsonl
for pt in checkpoint_commit:2 manifest_commit:3 result_commit:2; do
  job="c_${pt//:/_}"
  recipe rc.yaml "o_$job/out.jsonl" 120 "'\\n'"
  set +e
  SLUICE_CRASH_AT=$pt "$SLUICE" run rc.yaml --job_id "$job" > /dev/null 2>&1
  set -e
  for _ in 1 2 3 4; do "$SLUICE" run rc.yaml --job_id "$job" > /dev/null 2>&1 && break; done
  check "crash at $pt, resumed: identical export" cmp -s o_ref/out.jsonl "o_$job/out.jsonl"
done
# The tracer's rows are whole chunk samples with the columns DataJuicer's dataset has at that op: after a
# filter `__dj__stats__` ({} where the filter wrote no stat), and `__dj__suffix__` (the recipe has
# suffix_filter), as the export has them.
printf '%s\n' '{"text":"aaaa\nbbbb","i":0}' > tr.jsonl
printf '%s\n' "dataset_path: tr.jsonl" "export_path: o_tr/out.jsonl" "keep_stats_in_res_ds: true" "open_tracer: true" \
  "process:" "  - general_field_filter:" "      filter_condition: ''" "  - text_chunk_mapper:" "      max_len: 6" \
  "      split_pattern: '\\n'" "  - suffix_filter:" "      suffixes: ['.jsonl']" > tr.yaml
"$SLUICE" run tr.yaml --job_id tr > /dev/null
printf '%s\n' '{"text":"aaaa","i":0,"__dj__suffix__":".jsonl","__dj__stats__":{}}' \
  '{"text":"bbbb","i":0,"__dj__suffix__":".jsonl","__dj__stats__":{}}' > tr_want.jsonl
check "the tracer's chunk rows have {} stats and the suffix, as the export" \
  cmp o_tr/tr/trace/mapper-text_chunk_mapper.jsonl tr_want.jsonl
check "... the export has the same rows" cmp o_tr/out.jsonl tr_want.jsonl
recipe bad.yaml o_bad/out.jsonl 10 "null"
sed -i 's/overlap_len: 3/overlap_len: 10/' bad.yaml
set +e
"$SLUICE" run bad.yaml > out.txt 2> err.txt
rc=$?
set -e
check "overlap_len >= max_len is refused at load (exit 2)" test $rc -eq 2
check "... with DataJuicer's message" grep -q "overlap_len must be less than max_len" err.txt
finish
