# Model files: a missing model stops the run at load (exit 2, naming the file) before any data is read; a
# model replaced between a run and its resume is noticed and the resume refused (exit 5), never mixed.
source "$(dirname "$0")/lib.sh" "$@"
command -v spm_train > /dev/null || { echo "FAIL - spm_train not found (Debian package 'sentencepiece', scripts/install-deps.sh)"; exit 1; }

make_corpus data.jsonl 3000
python3 -c "
import json,sys
with open('corpus.txt','w') as out:
    for l in open('data.jsonl'): out.write(json.loads(l)['text'] + '\n')"
mkdir -p models
train() { spm_train --input=corpus.txt --model_prefix=models/en.sp --vocab_size="$1" --model_type=unigram \
            --character_coverage=0.9995 --num_threads=1 --minloglevel=2 > train.log 2>&1; }
train 100
cat > r.yaml <<YAML
project_name: models
dataset_path: data.jsonl
export_path: o/out.jsonl
np: 2
partition:
  max_size_mb: 0.25
process:
  - words_num_filter:
      tokenization: true
      lang: en
      min_num: 20
YAML

set +e
SLUICE_MODELS_DIR=/nonexistent "$SLUICE" run r.yaml --job_id m0 > out.txt 2> err.txt
rc=$?
set -e
check "missing model: exit 2 at load (got $rc)" test $rc -eq 2
check "missing model: the message names the file it looked for" grep -q '/nonexistent/en.sp.model' err.txt
check "missing model: no data was processed" test ! -e o/m0/events.jsonl

SLUICE_MODELS_DIR=$PWD/models "$SLUICE" run r.yaml --job_id m1 > /dev/null
check "with the model the job completes" test -s o/out.jsonl
cp o/out.jsonl first.jsonl

sleep 1  # a new mtime even on coarse-grained file systems
train 120
set +e
SLUICE_MODELS_DIR=$PWD/models "$SLUICE" run r.yaml --job_id m1 > out.txt 2> err.txt
rc=$?
set -e
check "replaced model: resume refused with exit 5 (got $rc)" test $rc -eq 5
check "replaced model: the message names the model file" grep -q "model file '.*en.sp.model' changed" err.txt
SLUICE_MODELS_DIR=$PWD/models "$SLUICE" run r.yaml --job_id m1 --restart > /dev/null
check "--restart with the new model completes" test -s o/out.jsonl
finish
