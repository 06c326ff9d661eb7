# sluice's DataJuicer ops against independent Python oracles written from DataJuicer's documented behaviour,
# not from sluice's C++ (each first checked on DataJuicer's own test vectors):
# - tests/ops/dj_oracle.py, the rule-based text ops on a few thousand real and adversarial texts: for each
#   op configuration a one-op recipe is run with keep_stats_in_res_ds (the kept records and their stats)
#   and the tracer (the dropped ones and theirs), and the oracle compares kept set, stats values and
#   spelling, and mapper output, record by record;
# - tests/ops/dj_oracle_dataset.py, the deduplicators and selectors on a corpus of exact and near
#   duplicates and one of typed fields with ties, each configuration at np 1 and at np 2 with partitions of
#   37 records: kept set, input order, traced duplicate pairs, and failing exactly where DataJuicer fails.
# Needs Python 3 with the `regex` module (python3-regex, scripts/install-deps.sh).
source "$(dirname "$0")/lib.sh" "$@"
ORACLE="$SRC/tests/ops/dj_oracle.py"
DATASET_ORACLE="$SRC/tests/ops/dj_oracle_dataset.py"
python_with regex python3-regex

check "the oracle reproduces DataJuicer's test vectors for its ops" "$PY" "$ORACLE" selftest
"$PY" "$ORACLE" prepare "$T"
runs_ok=true
while read -r name; do
  if ! "$SLUICE" run "recipes/$name.yaml" > "run_$name.log" 2>&1; then
    runs_ok=false
    bad "sluice run of config $name: $(tail -n 3 "run_$name.log")"
  fi
done < configs.txt
check "every configuration ran" $runs_ok
check "sluice agrees with the oracle (kept set, stats, mapper output)" "$PY" "$ORACLE" compare "$T"

check "the dataset oracle reproduces DataJuicer's vectors and LSH parameters" "$PY" "$DATASET_ORACLE" selftest
mkdir "$T/dataset"
"$PY" "$DATASET_ORACLE" prepare "$T/dataset"
# Two runs at a time (each is short; most of its time is start-up and the job directory's durability).
(cd "$T/dataset" && xargs -P 2 -I{} sh -c '"$0" run "recipes/{}.yaml" > "run_{}.log" 2>&1; echo $? > "run_{}.rc"' \
  "$SLUICE" < configs.txt)
check "sluice's deduplicators and selectors agree with the dataset oracle" "$PY" "$DATASET_ORACLE" compare "$T/dataset"
finish
