# sluice's op chains against an independent Python oracle (tests/ops/dj_chain_oracle.py): seeded random
# recipes of 2-12 of the rule-based text ops (mappers and filters interleaved, repeated ops, filters sharing a
# stats key, ops on a second text key, a mid-chain deduplicator or selector), each run at np 1 and at np 2
# with small partitions and a varying checkpoint strategy, on dj_oracle.py's corpus with
# keep_stats_in_res_ds; kept set and order, texts and stats are compared record by record with the oracle,
# which implements DataJuicer's chain semantics (datajuicer-ops.md §1: op order, the stats cache, which
# text each op reads). The single ops themselves are cli.dj_oracle_test's.
# Soak: DJ_CHAIN_RECIPES=400 DJ_CHAIN_SEED=7 bash tests/cli/dj_chain_test.sh build/sluice
# Needs Python 3 with the `regex` module (python3-regex, scripts/install-deps.sh).
source "$(dirname "$0")/lib.sh" "$@"
ORACLE="$SRC/tests/ops/dj_chain_oracle.py"
export DJ_CHAIN_SEED=${DJ_CHAIN_SEED:-1} DJ_CHAIN_RECIPES=${DJ_CHAIN_RECIPES:-48}
python_with regex python3-regex

check "the chain oracle keeps DataJuicer's stats cache and op order on hand-made chains" "$PY" "$ORACLE" selftest
"$PY" "$ORACLE" prepare "$T"
echo "seed $DJ_CHAIN_SEED, $DJ_CHAIN_RECIPES random recipes and the fixed ones, $(wc -l < configs.txt) runs"
# Two runs at a time; each one's exit code is compared with the oracle's (a selector may fail the job).
xargs -P 2 -I{} sh -c '"$0" run "recipes/{}.yaml" > "run_{}.log" 2>&1; echo $? > "run_{}.rc"' \
  "$SLUICE" < configs.txt
check "sluice's chains agree with the oracle (kept set, order, texts, stats)" "$PY" "$ORACLE" compare "$T"
finish
