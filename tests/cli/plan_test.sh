# Resource-aware partitioning end to end: `sluice plan` on text, image and multimodal input prints valid
# JSON with the chosen np and partition size and creates nothing; explicit settings win; `sluice run`
# with auto_configure records the decision in the event log and cuts its plan with the chosen size; a
# killed auto-configured job resumes on its stored plan; bad values are refused.
source "$(dirname "$0")/lib.sh" "$@"
export SLUICE_NVML_LIBRARY=$T/no-such-libnvidia-ml.so.1  # this test asserts "no GPUs"; resources_test covers NVML

make_corpus text.jsonl 4000
python3 - <<'PY'
import json
with open("img.jsonl", "w") as f:
    for i in range(300):
        f.write(json.dumps({"id": i, "images": [f"img/{i}.jpg"]}) + "\n")
with open("mm.jsonl", "w") as f:
    for i in range(300):
        f.write(json.dumps({"text": f"<__dj__image> picture {i}", "images": [f"img/{i}.jpg"], "audios": []}) + "\n")
PY

recipe() {  # FILE DATA [extra top-level yaml lines...]
  local file=$1 data=$2
  shift 2
  {
    echo "dataset_path: $data"
    echo "export_path: out_${file%.yaml}/out.jsonl"
    for extra in "$@"; do echo "$extra"; done
    echo "process:"
    echo "  - whitespace_normalization_mapper:"
    echo "  - text_length_filter:"
    echo "      min_len: 1"
  } > "$file"
}
# plan_get FILE EXPR: EXPR over the plan JSON `d`
plan_get() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

recipe text.yaml text.jsonl "partition:" "  auto_configure: true"
"$SLUICE" plan text.yaml > plan_text.json 2> plan_text.err
check "plan prints valid JSON" python3 -c "import json; json.load(open('plan_text.json'))"
check "text: modality text" [ "$(plan_get plan_text.json "d['sample']['modality']")" = text ]
check "text: np chosen automatically" [ "$(plan_get plan_text.json "d['decision']['np']['source']")" = auto ]
check "text: np at least 1" [ "$(plan_get plan_text.json "int(d['decision']['np']['value']) >= 1")" = True ]
check "text: partition size chosen automatically" [ "$(plan_get plan_text.json "d['decision']['partition_max_size_mb']['source']")" = auto ]
check "text: partition size within (0, 64] MiB" [ "$(plan_get plan_text.json "0 < d['decision']['partition_max_size_mb']['value'] <= 64")" = True ]
check "text: no record cap" [ "$(plan_get plan_text.json "d['decision']['partition_size']['value']")" = 0 ]
check "text: the plan's partitions counted" [ "$(plan_get plan_text.json "d['plan']['partitions'] >= 1")" = True ]
check "text: resources reported" [ "$(plan_get plan_text.json "d['resources']['cpu']['usable_cpus'] >= 1 and d['resources']['memory']['usable_bytes'] > 0")" = True ]
check "text: no GPUs, with the reason" [ "$(plan_get plan_text.json "d['resources']['gpu']['count'] == 0 and 'NVML not loaded' in d['resources']['gpu']['error']")" = True ]
check "plan creates no job directory" [ ! -e out_text ]

recipe img.yaml img.jsonl "resource_optimization:" "  auto_configure: true"
"$SLUICE" plan img.yaml > plan_img.json
check "image: valid JSON" python3 -c "import json; json.load(open('plan_img.json'))"
check "image: modality image" [ "$(plan_get plan_img.json "d['sample']['modality']")" = image ]
check "image: record cap from the per-modality table" [ "$(plan_get plan_img.json "d['decision']['partition_size']['value']")" = 5000 ]
check "image: one image per record counted" [ "$(plan_get plan_img.json "d['sample']['images_per_record']")" = 1.0 ]

recipe mm.yaml mm.jsonl "resource_optimization:" "  auto_configure: true"
"$SLUICE" plan mm.yaml > plan_mm.json
check "multimodal: valid JSON" python3 -c "import json; json.load(open('plan_mm.json'))"
check "multimodal: modality multimodal" [ "$(plan_get plan_mm.json "d['sample']['modality']")" = multimodal ]
check "multimodal: record cap 3000" [ "$(plan_get plan_mm.json "d['decision']['partition_size']['value']")" = 3000 ]

# Explicit settings win, and the decision says where they came from.
"$SLUICE" plan text.yaml --np 1 --partition.max_size_mb 0.5 > plan_explicit.json
check "command-line np kept" [ "$(plan_get plan_explicit.json "(d['decision']['np']['value'], d['decision']['np']['source'])")" = "(1, 'command_line')" ]
check "command-line size kept" [ "$(plan_get plan_explicit.json "(d['decision']['partition_max_size_mb']['value'], d['decision']['partition_max_size_mb']['source'])")" = "(0.5, 'command_line')" ]
check "plan uses the given size" [ "$(plan_get plan_explicit.json "d['plan']['partition_max_size_mb'], d['plan']['np']")" = "0.5 1" ]
# The estimate counts partitions as the plan cuts them: rounded up to a multiple of np (parts of >= 1 MiB).
(cd "$SRC" && "$SLUICE" plan examples/demo/recipe.yaml --np 2) > plan_demo.json
check "estimated partitions = the plan's, np 2" [ "$(plan_get plan_demo.json "d['decision']['estimated_partitions'] == d['plan']['partitions'] == 2")" = True ]
recipe text_np.yaml text.jsonl "np: 1" "partition:" "  auto_configure: true"
"$SLUICE" plan text_np.yaml > plan_np.json
check "recipe np kept" [ "$(plan_get plan_np.json "d['decision']['np']['source']")" = recipe ]
# auto_configure off: plan still reports, with the recipe's values in force.
recipe off.yaml text.jsonl
"$SLUICE" plan off.yaml > plan_off.json
check "auto_configure off: recipe values" [ "$(plan_get plan_off.json "(d['auto_configure'], d['decision']['np']['source'], d['decision']['partition_max_size_mb']['value'])")" = "(False, 'default', 64)" ]

# sluice run with auto_configure: the decision event, and the plan cut with the chosen size.
"$SLUICE" run off.yaml --job_id ref > /dev/null
recipe auto.yaml text.jsonl "partition:" "  auto_configure: true" "fault_tolerance:" "  retry_base_seconds: 0.01"
"$SLUICE" run auto.yaml --job_id a1 > /dev/null
EV=out_auto/a1/events.jsonl
check "run: one auto_configure event" [ "$(count_events $EV auto_configure)" = 1 ]
python3 - "$EV" out_auto/a1/metadata/dataset_mapping.json > run_check.txt <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
ac = [e for e in ev if e["event_type"] == "auto_configure"][0]
start = [e for e in ev if e["event_type"] == "job_start"][0]
plan = json.load(open(sys.argv[2]))
d = ac["resource_plan"]["decision"]
size = int(d["partition_max_size_mb"]["value"] * 1024 * 1024)
longest_line = max(len(l) for l in open("text.jsonl", "rb"))
parts = plan["partitions"]
print("np_matches", start["np"] == ac["np"] == min(int(d["np"]["value"]), start["np"]))
print("inputs_recorded", "resources" in ac["resource_plan"] and "sample" in ac["resource_plan"])
print("sizes_follow", all(p["end"] - p["begin"] <= size + longest_line for p in parts))
total = sum(p["end"] - p["begin"] for p in parts)
step = -(-total // len(parts))
np = start["np"]  # the workers the run has: the decision's np capped at the CPUs
fewest = -(-total // size)
print("cuts_at_size", len(parts) == -(-fewest // np) * np and all(abs(p["end"] - p["begin"] - step) <= longest_line for p in parts))
print("config_summary", start["config_summary"]["partition_max_size_mb"] == d["partition_max_size_mb"]["value"])
PY
check "run: job_start np is the decision's" grep -q "np_matches True" run_check.txt
check "run: the event records resources and sample" grep -q "inputs_recorded True" run_check.txt
check "run: partitions no larger than the chosen size" grep -q "sizes_follow True" run_check.txt
check "run: the fewest partitions of at most the chosen size (rounded up to a multiple of np), all of one size" grep -q "cuts_at_size True" run_check.txt
check "run: job_start shows the chosen size" grep -q "config_summary True" run_check.txt
check "run: same export as without auto_configure" cmp -s out_auto/out.jsonl out_off/out.jsonl

# Without auto_configure: equal parts, their count rounded up to a multiple of the workers (np capped at the
# CPUs), and the same export.
# (Extra parts stay >= 1 MiB, so the input is text.jsonl repeated to 7 MiB or more.)
while [ "$(stat -c %s seven.jsonl 2>/dev/null || echo 0)" -lt $((7 << 20)) ]; do cat text.jsonl >> seven.jsonl; done
size_b=$(stat -c %s seven.jsonl)
recipe seven.yaml seven.jsonl
"$SLUICE" run seven.yaml --job_id ref > /dev/null
cp out_seven/out.jsonl ref_out.jsonl
"$SLUICE" run seven.yaml --job_id np3 --np 3 --partition.max_size_mb "$(python3 -c "print(($size_b / 4.5) / 1048576)")" > /dev/null
check "run np 3: 5 parts of at most the size become a multiple of the workers, equal" python3 - out_seven/np3 "$size_b" <<'PY'
import json, sys
job = sys.argv[1]
parts = json.load(open(job + "/metadata/dataset_mapping.json"))["partitions"]
workers = [json.loads(l) for l in open(job + "/events.jsonl") if '"job_start"' in l][0]["np"]  # 3, or the CPUs if fewer
longest = max(len(l) for l in open("seven.jsonl", "rb"))
sizes = [p["end"] - p["begin"] for p in parts]
assert len(parts) == -(-5 // workers) * workers and sum(sizes) == int(sys.argv[2]), (workers, sizes)
assert max(sizes) - min(sizes) <= longest, sizes
PY
check "run np 3: the same export" cmp -s out_seven/out.jsonl ref_out.jsonl
head -n 300 text.jsonl > small.jsonl
recipe small.yaml small.jsonl
"$SLUICE" run small.yaml --job_id np3 --np 3 > /dev/null
check "run np 3: a small input (under 2 MiB) stays one partition" \
  test "$(python3 -c 'import json; print(len(json.load(open("out_small/np3/metadata/dataset_mapping.json"))["partitions"]))')" = 1

# A killed auto-configured job resumes on its stored plan (even with another np), with the same export.
python3 -c "
import json
with open('big.jsonl','w') as f:
    for i in range(30000): f.write(json.dumps({'id': i, 'text': 'word %d ' % i * 8}) + '\n')"
recipe big_ref.yaml big.jsonl
"$SLUICE" run big_ref.yaml --job_id r > /dev/null
recipe big.yaml big.jsonl "partition:" "  auto_configure: true" "fault_tolerance:" "  retry_base_seconds: 0.01"
set +e
SLUICE_CRASH_AT=partition_start:2 "$SLUICE" run big.yaml --job_id k > /dev/null 2>&1
rc=$?
set -e
check "killed run did not finish" [ "$rc" -ne 0 ]
check "killed run left a plan" test -s out_big/k/metadata/dataset_mapping.json
cp out_big/k/metadata/dataset_mapping.json plan_before.json
"$SLUICE" run big.yaml --job_id k --np 1 > resume.out 2> resume.err || { cat resume.err; false; }
check "resume completed" grep -q "^completed" resume.out
check "resume kept the stored plan" cmp -s plan_before.json out_big/k/metadata/dataset_mapping.json
check "resume's decision names the stored plan" [ "$(count_events out_big/k/events.jsonl auto_configure "e['resource_plan']['decision']['partition_max_size_mb']['source'] == 'stored_plan'")" = 1 ]
check "resume: same export as an uninterrupted run" cmp -s out_big/out.jsonl out_big_ref/out.jsonl

# Bad values are refused with a clear error and exit 2.
refused() {  # WHAT EXPECTED_TEXT RECIPE_LINES...
  local what=$1 text=$2
  shift 2
  recipe bad.yaml text.jsonl "$@"
  set +e
  "$SLUICE" plan bad.yaml > /dev/null 2> bad.err
  local rc=$?
  set -e
  check "$what refused (exit 2)" [ "$rc" = 2 ]
  check "$what: message" grep -q "$text" bad.err
}
refused "auto_configure: maybe" "'partition.auto_configure' must be true or false" "partition:" "  auto_configure: maybe"
refused "resource_optimization.auto_configure: 1" "'resource_optimization.auto_configure' must be true or false" "resource_optimization:" "  auto_configure: 1"
refused "unknown resource_optimization key" "unknown recipe key 'resource_optimization.auto_configur'" "resource_optimization:" "  auto_configur: true"
refused "resource_optimization not a mapping" "'resource_optimization' must be a mapping" "resource_optimization: true"
set +e
"$SLUICE" plan text.yaml --np 0 > /dev/null 2> bad.err
check "plan --np 0 refused" [ $? = 2 ]
"$SLUICE" plan text.yaml stray > /dev/null 2> bad.err
check "plan stray argument refused" [ $? = 2 ]
"$SLUICE" plan missing.yaml > /dev/null 2> bad.err
check "plan on a missing recipe: exit 2" [ $? = 2 ]
set -e

finish
