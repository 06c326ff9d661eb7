# Selectors end to end: a recipe with all five DataJuicer selectors (each a stage barrier, the last op a
# selector) gives byte-identical exports at np 1 and np 2 with different partition sizes, the same export
# after a SIGKILL inside a selector's decision and a resume, and the rows a Python reference of
# DataJuicer's selection picks (in input order: sluice keeps it, see docs/compatibility.md). A selection
# DataJuicer fails on fails the job with exit code 3.
source "$(dirname "$0")/lib.sh" "$@"

python3 - data.jsonl <<'PY'
import json, random, sys
random.seed(5)
words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu naïve café 数据 清洗 “q”".split()
with open(sys.argv[1], "w") as out:
    for i in range(3000):
        r = random.random()
        score = (round(random.uniform(0, 100), 2) if r < 0.6 else random.randint(0, 100) if r < 0.75
                 else str(random.randint(0, 100)) if r < 0.85 else None if r < 0.9
                 else [random.randint(0, 100), random.randint(0, 100)] if r < 0.95 else "n/a")
        rec = {"id": i, "text": " ".join(random.choice(words) for _ in range(random.randint(1, 60))),
               "meta": {"score": score, "cat": "c%d" % min(int(random.expovariate(0.4)), 11),
                        "lang": random.choice(["en", "fr", "de", "zh"])}}
        out.write(json.dumps(rec, ensure_ascii=(i % 2 == 0)) + "\n")
PY

check "sluice ops lists selectors as kind selector" bash -c "'$SLUICE' ops | grep -q '^random_selector (selector)'"

recipe() {  # FILE EXPORT
  printf '%s\n' "project_name: selectors" "dataset_path: data.jsonl" "export_path: $2" "np: 2" \
    "partition:" "  max_size_mb: 0.1" "fault_tolerance:" "  retry_base_seconds: 0.01" "process:" \
    "  - whitespace_normalization_mapper:" "  - text_length_filter:" "      min_len: 10" \
    "  - topk_specified_field_selector:" "      field_key: __dj__stats__.text_len" "      top_ratio: 0.8" \
    "  - tags_specified_field_selector:" "      field_key: meta.lang" "      target_tags: [en, fr, zh]" \
    "  - frequency_specified_field_selector:" "      field_key: meta.cat" "      topk: 4" \
    "  - range_specified_field_selector:" "      field_key: meta.score" "      lower_percentile: 0.1" \
    "      upper_percentile: 0.9" "  - random_selector:" "      select_num: 700" > "$1"
}

recipe ref.yaml o_ref/out.jsonl  # 0.1 MB partitions: 9 of them
"$SLUICE" run ref.yaml --job_id ref --np 2 > /dev/null
check "reference run produced output" test -s o_ref/out.jsonl
check "random_selector, the last op, kept exactly select_num rows" test "$(wc -l < o_ref/out.jsonl)" -eq 700
check "five decisions recorded, the first by topk" \
  test "$(json_get o_ref/ref/metadata/stage_0_decision.json "d['operation_name']")" = topk_specified_field_selector -a \
  -e o_ref/ref/metadata/stage_4_decision.json
check "the export keeps input order" python3 -c "
import json, sys
ids = [json.loads(l)['id'] for l in open('o_ref/out.jsonl')]
sys.exit(ids != sorted(ids))"

recipe r.yaml o_np1/out.jsonl
"$SLUICE" run r.yaml --job_id np1 --np 1 --partition.max_size_mb 0.37 > /dev/null
check "np 1 with other partitions: identical export" cmp -s o_ref/out.jsonl o_np1/out.jsonl
recipe r.yaml o_small/out.jsonl
SLUICE_DEDUP_MEMORY_MB=0.02 "$SLUICE" run r.yaml --job_id small --np 2 --partition.size 77 > /dev/null
check "77-record partitions, a decision budget that spills: identical export" cmp -s o_ref/out.jsonl o_small/out.jsonl
check "the small budget did spill" test "$(json_get o_small/small/metadata/stage_0_decision.json "d['spill_runs'] > 1")" = True

# The deterministic selectors against a Python reference of DataJuicer's selection (datajuicer-ops.md §5).
printf '%s\n' "dataset_path: data.jsonl" "export_path: o_py/out.jsonl" "np: 2" "partition:" "  max_size_mb: 0.1" \
  "process:" "  - text_length_filter:" "      min_len: 10" "  - topk_specified_field_selector:" \
  "      field_key: __dj__stats__.text_len" "      top_ratio: 0.8" "  - tags_specified_field_selector:" \
  "      field_key: meta.lang" "      target_tags: [en, fr, zh]" "  - frequency_specified_field_selector:" \
  "      field_key: meta.cat" "      topk: 4" "  - range_specified_field_selector:" "      field_key: meta.score" \
  "      lower_percentile: 0.1" "      upper_percentile: 0.9" "  - topk_specified_field_selector:" \
  "      field_key: meta.score" "      topk: 300" "      reverse: false" > py.yaml
"$SLUICE" run py.yaml --job_id py > /dev/null
check "topk, tags, frequency, range: the rows DataJuicer selects" python3 - data.jsonl o_py/out.jsonl <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
rows = [r for r in rows if len(r["text"]) >= 10]
def num(v, reverse=True):  # stats_to_number
    try:
        if isinstance(v, str): return float(v)
        if v is None or v == []: raise ValueError
        if isinstance(v, list): return sum(v) / len(v)
        return float(v)
    except Exception:
        return -sys.maxsize if reverse else sys.maxsize
def nlargest(n, rs, key):  # heapq semantics: stable, ties to the lower index
    return sorted(rs, key=key, reverse=True)[:n]
rows = nlargest(int(0.8 * len(rows)), rows, lambda r: float(len(r["text"])))
rows.sort(key=lambda r: r["id"])
rows = [r for r in rows if r["meta"]["lang"] in {"en", "fr", "zh"}]
groups = {}
for r in rows: groups.setdefault(r["meta"]["cat"], []).append(r)
rows = sum(sorted(groups.values(), key=len, reverse=True)[:4], [])
rows.sort(key=lambda r: r["id"])
n = len(rows)
lower, upper = int(0.1 * n), int(0.9 * n)
s = sorted(rows, key=lambda r: num(r["meta"]["score"]))[:upper]
rows = sorted(s, key=lambda r: num(r["meta"]["score"]), reverse=True)[:upper - lower]
rows.sort(key=lambda r: r["id"])
rows = sorted(rows, key=lambda r: num(r["meta"]["score"], False))[:300]
want = sorted(r["id"] for r in rows)
got = [json.loads(l)["id"] for l in open(sys.argv[2])]
sys.exit(0 if got == want else f"expected {len(want)} rows, got {len(got)}; first difference at "
         f"{next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))}")
PY

# SIGKILLs inside a decision (each writes one keep file per partition, then its record): after the first
# keep file of the first decision (topk's), and inside the fourth (range's).
parts=$(json_get o_ref/ref/metadata/dataset_mapping.json "len(d['partitions'])")
for at in "1 0" "$((3 * parts + 2)) 3"; do
  set -- $at
  pt=dedup_keep_commit:$1
  job="crash_$1"
  recipe r.yaml "o_$job/out.jsonl"
  set +e
  SLUICE_CRASH_AT=$pt "$SLUICE" run r.yaml --job_id "$job" --np 2 > /dev/null 2>&1
  rc=$?
  set -e
  check "killed at $pt (exit $rc is SIGKILL)" test "$rc" -eq 137
  check "killed at $pt: decision $2 is not recorded, those before it are" \
    test ! -e "o_$job/$job/metadata/stage_$2_decision.json" -a \( "$2" -eq 0 -o -e "o_$job/$job/metadata/stage_$(($2 - 1))_decision.json" \)
  "$SLUICE" run r.yaml --job_id "$job" --np 2 > /dev/null
  check "killed at $pt: export identical after resume" cmp -s o_ref/out.jsonl "o_$job/out.jsonl"
done

# DataJuicer fails on a path through a non-dict level; so does sluice, with exit code 3 and the reason.
printf '%s\n' "dataset_path: data.jsonl" "export_path: o_bad/out.jsonl" "process:" \
  "  - frequency_specified_field_selector:" "      field_key: meta.lang.x" "      topk: 1" > bad.yaml
set +e
"$SLUICE" run bad.yaml --job_id bad > bad.out 2>&1
rc=$?
set -e
check "a path DataJuicer cannot follow fails the job (exit $rc)" test "$rc" -eq 3
check "... saying why" grep -q "not an object" bad.out
finish
