# Shared helpers for the CLI tests. Each test starts with `source lib.sh "$@"`; $1 is the sluice binary.
set -euo pipefail
SLUICE=$(realpath "$1")
SRC=${SLUICE_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
T=$(mktemp -d /tmp/sluice-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T"
FAILS=0
PASSES=0

ok() { PASSES=$((PASSES + 1)); echo "ok - $*"; }
bad() { FAILS=$((FAILS + 1)); echo "FAIL - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
finish() { echo "$PASSES passed, $FAILS failed"; [ "$FAILS" -eq 0 ]; }

# python_with MODULE PACKAGE: sets PY to the first of Debian's python3 (the interpreter
# scripts/install-deps.sh installs PACKAGE for) and PATH's that imports MODULE; fails the test otherwise.
python_with() {
  PY=""
  local p
  for p in /usr/bin/python3 python3; do
    if "$p" -c "import $1" 2> /dev/null; then PY=$p; return 0; fi
  done
  echo "FAIL - no python3 with the $1 module (install $2: scripts/install-deps.sh)"
  exit 1
}

# make_corpus FILE N: N records of varied text with exact duplicates, links, e-mails, unicode and some
# records that carry DataJuicer stats already (stats caching).
make_corpus() {
  python3 - "$1" "$2" <<'PY'
import json, random, sys
random.seed(7)
words = ("the quick brown fox jumps over a lazy dog while data engineers clean large text corpora for "
         "language models visit https://example.com/page?id=1 or write to someone@example.org today "
         "naïve café 数据 清洗 — “quoted” text… ！").split()
out = open(sys.argv[1], "w")
docs = []
for i in range(int(sys.argv[2])):
    if docs and random.random() < 0.05:
        t = random.choice(docs)
    else:
        n = random.randint(1, 300)
        t = " ".join(random.choice(words) for _ in range(n))
        if random.random() < 0.1:
            t = "\n".join([t] * random.randint(2, 5))
        docs.append(t)
    rec = {"id": i, "text": t, "meta": {"n": i % 7, "tags": ["a", "b"], "x": None}}
    if i % 11 == 0:
        rec["__dj__stats__"] = {"text_len": 999}
    out.write(json.dumps(rec, ensure_ascii=(i % 2 == 0)) + "\n")
PY
}

# The test recipe: the demo's mappers and filters with a global document_deduplicator in the middle (a
# stage barrier). FAULT_OP is the op faults are injected into; MANUAL_OPS the manual checkpoint list.
FAULT_OP=words_num_filter
MANUAL_OPS=words_num_filter,word_repetition_filter

# write_recipe FILE DATA EXPORT [extra yaml lines: indented = fault_tolerance keys, else top-level]
write_recipe() {
  local file=$1 data=$2 export=$3
  shift 3
  {
    echo "project_name: clitest"
    echo "dataset_path: $data"
    echo "export_path: $export"
    echo "np: 2"
    echo "partition:"
    echo "  max_size_mb: 0.25"
    echo "fault_tolerance:"
    echo "  retry_base_seconds: 0.01"
    # extra lines land here: indented ones extend fault_tolerance, others are top-level keys
    for extra in "$@"; do echo "$extra"; done
    echo "process:"
    printf '%s\n' "  - clean_links_mapper:" "  - clean_email_mapper:" "  - whitespace_normalization_mapper:" \
      "  - punctuation_normalization_mapper:" "  - text_length_filter:" "      min_len: 20" "  - words_num_filter:" \
      "      min_num: 5" "  - alphanumeric_filter:" "      min_ratio: 0.3" "  - character_repetition_filter:" \
      "      max_ratio: 0.6" "  - document_deduplicator:" "  - word_repetition_filter:" "      rep_len: 3" \
      "      max_ratio: 0.6" "  - average_line_length_filter:" "      min_len: 5" "  - maximum_line_length_filter:" \
      "      min_len: 5"
  } > "$file"
}

# run_until_done RECIPE JOB_ID [overrides...]: run (resume) the job until it succeeds, at most 30 times.
run_until_done() {  # recipe job_id [overrides...]
  local recipe=$1 job=$2
  shift 2
  for _ in $(seq 1 30); do
    if "$SLUICE" run "$recipe" --job_id "$job" "$@" > /dev/null 2>&1; then return 0; fi
  done
  return 1
}

# json_get FILE EXPR: a Python expression over the parsed JSON file `d`.
json_get() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
# count_events EVENTS_FILE TYPE [PYTHON_CONDITION over e]
count_events() {
  python3 -c "import json,sys; print(sum(1 for l in open(sys.argv[1]) for e in [json.loads(l)] if e['event_type']==sys.argv[2] and (${3:-True})))" "$1" "$2"
}
