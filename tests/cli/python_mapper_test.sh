# python_lambda_mapper / python_file_mapper end to end: a lambda that edits the text and adds a field, a
# file function, a batched file function that drops samples, and a lambda failing on some samples
# (skip_op_error), at np 2 over several partitions; the output is what Python computes from the input and
# the same at np 1. A bad lambda or a missing file stops the run at load (exit 2) before any data is read;
# a file changed between a run and its resume makes the resume refused (exit 5).
source "$(dirname "$0")/lib.sh" "$@"

make_corpus data.jsonl 3000
cat > udf.py <<'PY'
import unicodedata

def process_single(sample):
    return {'nfkc_len': len(unicodedata.normalize('NFKC', sample['text'])), 'meta': dict(sample['meta'], seen=True)}

def drop_fifths(batch):
    return {k: [v for v, i in zip(vs, batch['id']) if i % 5] for k, vs in batch.items()}
PY
LAMBDA="lambda s: {'text': s['text'].replace('fox', 'FOX'), 'n_chars': len(s['text'])}"
FAILING="lambda s: {'x': 1 // (s['id'] % 7)}"
recipe() {  # recipe FILE NP [lambda]
  cat > "$1" <<YAML
project_name: pytest
dataset_path: data.jsonl
export_path: o$2/out.jsonl
np: $2
partition:
  max_size_mb: 0.25
process:
  - python_lambda_mapper:
      lambda_str: "${3:-$LAMBDA}"
  - python_file_mapper:
      file_path: udf.py
  - python_file_mapper:
      file_path: udf.py
      function_name: drop_fifths
      batched: true
  - python_lambda_mapper:
      lambda_str: "$FAILING"
YAML
}
recipe r2.yaml 2
recipe r1.yaml 1
"$SLUICE" run r2.yaml --job_id p2 > out2.txt
"$SLUICE" run r1.yaml --job_id p1 > out1.txt
check "np 2 ran over several partitions" test "$(json_get o2/p2/metadata/dataset_mapping.json 'len(d["partitions"])')" -gt 1
python3 - <<'PY' > expected.jsonl
import json, unicodedata
for line in open('data.jsonl'):
    s = json.loads(line)
    s.update({'text': s['text'].replace('fox', 'FOX'), 'n_chars': len(s['text'])})
    s.update({'nfkc_len': len(unicodedata.normalize('NFKC', s['text'])), 'meta': dict(s['meta'], seen=True)})
    if s['id'] % 5 == 0 or s['id'] % 7 == 0:
        continue
    s['x'] = 1 // (s['id'] % 7)
    s.pop('__dj__stats__', None)
    print(json.dumps(s, ensure_ascii=False, separators=(',', ':')))
PY
same_records() { python3 -c "
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
sys.exit(0 if a == b and all(list(x) == list(y) for x, y in zip(a, b)) else 1)" "$1" "$2"; }
check "the output is what Python computes (fields merged, in order; dropped and failed samples gone)" \
  same_records o2/out.jsonl expected.jsonl
check "np 2 and np 1 write the same bytes" cmp -s o2/out.jsonl o1/out.jsonl
check "the failing lambda's errors are counted, not fatal" \
  test "$(grep -o 'ZeroDivisionError: integer division or modulo by zero' -r o2/p2/events.jsonl | wc -l)" -gt 0

# A mapper that changes nothing keeps every record's bytes.
cat > id.yaml <<YAML
dataset_path: data.jsonl
export_path: oid/out.jsonl
np: 2
keep_stats_in_res_ds: true
partition:
  max_size_mb: 0.25
process:
  - python_lambda_mapper:
      lambda_str: "lambda s: s"
YAML
"$SLUICE" run id.yaml > /dev/null
check "identity lambda: output bytes equal the input" cmp -s oid/out.jsonl data.jsonl

# The reserved columns a function sees, as in DataJuicer's dataset at that op: `__dj__stats__` ({} for a
# sample no filter wrote a stat for) once a filter has run, not before; `__dj__suffix__` from the start when
# the recipe has suffix_filter. A field the function adds comes after them in the export (DataJuicer appends
# new columns), whatever the checkpoints (a checkpoint leaves `{}` out but has the suffix).
printf '%s\n' '{"text":"a","i":0}' '{"text":"bb","i":1}' > cols.jsonl
sees() { echo "lambda s: {'$1': {k: s[k] for k in ('__dj__suffix__', '__dj__stats__') if k in s}}"; }
for strategy in disabled every_op; do
  rm -rf ocols
  cat > cols.yaml <<YAML
dataset_path: cols.jsonl
export_path: ocols/out.jsonl
keep_stats_in_res_ds: true
checkpoint:
  strategy: $strategy
process:
  - python_lambda_mapper:
      lambda_str: "$(sees before)"
  - suffix_filter:
      suffixes: ['.jsonl']
  - python_lambda_mapper:
      lambda_str: "$(sees after_suffix)"
  - general_field_filter:
      filter_condition: ''
  - python_lambda_mapper:
      lambda_str: "$(sees after_filter)"
YAML
  "$SLUICE" run cols.yaml --job_id cols > /dev/null
  check "reserved columns ($strategy): each function sees what DataJuicer's dataset has, new fields after them" \
    test "$(head -1 ocols/out.jsonl)" = '{"text":"a","i":0,"__dj__suffix__":".jsonl","before":{"__dj__suffix__":".jsonl"},"after_suffix":{"__dj__suffix__":".jsonl"},"__dj__stats__":{},"after_filter":{"__dj__suffix__":".jsonl","__dj__stats__":{}}}'
done

# Errors at load: exit 2 before any data is read, naming the op and the problem.
recipe bad.yaml 2 "lambda a, b: a"
set +e
"$SLUICE" run bad.yaml --job_id bad > bad.txt 2> bad.err
rc=$?
set -e
check "bad lambda: exit 2 at load (got $rc)" test $rc -eq 2
check "bad lambda: the message names the op and the problem" \
  grep -q "python_lambda_mapper.*Lambda function must have exactly one argument" bad.err
check "bad lambda: no data was processed" test ! -e o2/bad/events.jsonl
sed 's/file_path: udf.py/file_path: missing.py/' r2.yaml > missing.yaml
set +e
"$SLUICE" run missing.yaml --job_id miss > /dev/null 2> miss.err
rc=$?
set -e
check "missing file: exit 2 at load (got $rc)" test $rc -eq 2
check "missing file: the message names it" grep -q "python_file_mapper.*The file 'missing.py' does not exist" miss.err
check "missing file: no data was processed" test ! -e o2/miss/events.jsonl

# The file is part of the plan: changing it between a run and its resume is refused.
sleep 1
echo "# changed" >> udf.py
set +e
"$SLUICE" run r2.yaml --job_id p2 > /dev/null 2> changed.err
rc=$?
set -e
check "changed python file: resume refused with exit 5 (got $rc)" test $rc -eq 5
check "changed python file: the message names the file" grep -q "udf.py' changed" changed.err
finish
