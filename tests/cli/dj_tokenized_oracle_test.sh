# sluice's SentencePiece paths against tests/ops/dj_tokenized_oracle.py, an oracle that tokenizes with the
# `sentencepiece` Python module (DataJuicer's tokenizer library; Debian's python3-sentencepiece) and applies
# DataJuicer's documented semantics: the `tokenization: true` variants of words_num_filter,
# word_repetition_filter, stopwords_filter, flagged_words_filter and
# remove_words_with_incorrect_substrings_mapper (record by record: kept set, stats value and JSON spelling,
# mapper output), chains of them (dj_chain_oracle.py: every field and stat of the export, np 1 and np 2), and
# document_minhash_deduplicator with `tokenization: sentencepiece` (kept set at np 1 and np 2), over part of
# dj_oracle.py's corpus plus texts aimed at the tokenizer, with five models spm_train builds here
# (unigram, BPE with byte fallback, identity normalization keeping whitespace, word model, and a model whose
# pieces hold spaces, as escape_whitespaces=false makes them, made by editing a trained one). sluice finds the
# models as <lang>.sp.model in SLUICE_MODELS_DIR, as DataJuicer finds them in its model cache.
# Needs python3-sentencepiece, python3-regex and sentencepiece (spm_train, spm_encode): scripts/install-deps.sh.
source "$(dirname "$0")/lib.sh" "$@"
ORACLE="$SRC/tests/ops/dj_tokenized_oracle.py"
python_with sentencepiece python3-sentencepiece
"$PY" -c "import regex" 2> /dev/null || { echo "FAIL - $PY has no regex module (python3-regex)"; exit 1; }
for tool in spm_train spm_encode; do
  command -v "$tool" > /dev/null || { echo "FAIL - $tool not found (Debian package sentencepiece)"; exit 1; }
done

check "the oracle's word logic reproduces datajuicer-ops.md's examples" "$PY" "$ORACLE" selftest
check "models trained; the Python module tokenizes as spm_encode" "$PY" "$ORACLE" prepare "$T"
export SLUICE_MODELS_DIR="$T/models"
# Two runs at a time (each is short; most of its time is start-up and the job directory's durability).
for dir in "$T" "$T/chains" "$T/dataset"; do
  (cd "$dir" && xargs -P 2 -I{} sh -c '"$0" run "recipes/{}.yaml" > "run_{}.log" 2>&1; echo $? > "run_{}.rc"' \
    "$SLUICE" < configs.txt)
done
runs_ok=true
while read -r name; do
  if [ "$(cat "run_$name.rc")" != 0 ]; then
    runs_ok=false
    bad "sluice run of config $name: $(tail -n 3 "run_$name.log")"
  fi
done < configs.txt
check "every per-record configuration ran" $runs_ok
check "sluice agrees with the oracle (records, stats, mapper output, minhash decisions)" "$PY" "$ORACLE" compare "$T"
finish
