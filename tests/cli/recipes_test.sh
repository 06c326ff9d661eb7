# The acceptance test of issue 3: every real DataJuicer recipe in ../shared/recipes/datajuicer/ passes
# `sluice run --dry-run` unmodified and runs end to end on a real-text sample, with tiny models trained
# here (SentencePiece, an ARPA n-gram model, a fastText language-id model, a byte-level BPE tokenizer).
# Only dataset_path and export_path are given on the command line, as a DataJuicer user gives them.
source "$(dirname "$0")/lib.sh" "$@"
RECIPES=${SLUICE_RECIPES_DIR:-$SRC/../shared/recipes/datajuicer}
[ -d "$RECIPES" ] || { echo "FAIL - recipe directory $RECIPES not found"; exit 1; }
for tool in spm_train spm_encode fasttext; do
  command -v $tool > /dev/null || { echo "FAIL - $tool not found (Debian packages sentencepiece, fasttext; scripts/install-deps.sh)"; exit 1; }
done

# Real text: the demo's English documents, the Chinese texts of DataJuicer's test vectors, and source code
# (this repository's own files) as `text` and `content`.
python3 - "$SRC" <<'PY'
import json, os, sys
src = sys.argv[1]
docs = [json.loads(l) for l in open(os.path.join(src, "examples/demo/data.jsonl"), encoding="utf-8")]
zh = set()
def walk(x):
    if isinstance(x, str):
        if sum("\u4e00" <= c <= "\u9fff" for c in x) > 10: zh.add(x)
    elif isinstance(x, dict): [walk(v) for v in x.values()]
    elif isinstance(x, list): [walk(v) for v in x]
for l in open(os.path.join(src, "../shared/conformance/dj_op_vectors.jsonl"), encoding="utf-8"):
    walk(json.loads(l))
zh = sorted(zh)
with open("text.jsonl", "w", encoding="utf-8") as out:
    for i, d in enumerate(docs):
        out.write(json.dumps({"id": d["id"], "text": d["text"]}, ensure_ascii=False) + "\n")
        if i % 25 == 0 and zh:
            out.write(json.dumps({"id": "zh-%d" % i, "text": zh[(i // 25) % len(zh)]}, ensure_ascii=False) + "\n")
# Code: the first 120 modules of Python's standard library (Debian 12's python3.11: fixed content, unlike
# this repository's own sources, which would move the pinned counts with every commit).
import sysconfig
lib = sysconfig.get_paths()["stdlib"]
with open("code.jsonl", "w", encoding="utf-8") as out:
    for f in sorted(f for f in os.listdir(lib) if f.endswith(".py"))[:120]:
        t = open(os.path.join(lib, f), encoding="utf-8").read()
        for _ in range(2 if len(f) % 5 == 0 else 1):  # some exact duplicates, as real code dumps have
            out.write(json.dumps({"path": f, "text": t, "content": t}, ensure_ascii=False) + "\n")
with open("en.txt", "w", encoding="utf-8") as out:
    for d in docs:
        out.write(d["text"].replace("\n", " ") + "\n")
with open("zh.txt", "w", encoding="utf-8") as out:
    for t in zh:
        out.write(t.replace("\n", " ") + "\n")
with open("lid.txt", "w", encoding="utf-8") as out:
    for i, d in enumerate(docs[:600]):
        out.write("__label__en " + d["text"][:300].replace("\n", " ") + "\n")
        out.write("__label__zh " + zh[i % len(zh)][:300].replace("\n", " ") + "\n")
PY

mkdir -p models/EleutherAI/pythia-6.9b-deduped
# A byte-level BPE tokenizer.json in the layout of pythia's (GPT-NeoX), with 400 merges learned on the code.
python3 - models/EleutherAI/pythia-6.9b-deduped/tokenizer.json <<'PY'
import collections, json, re, sys
bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
cs = bs[:]
n = 0
for b in range(256):
    if b not in bs:
        bs.append(b); cs.append(256 + n); n += 1
byte_char = {b: chr(c) for b, c in zip(bs, cs)}
words = collections.Counter()
for l in open("code.jsonl", encoding="utf-8"):
    for w in re.findall(r" ?\w+| ?[^\s\w]+|\s+", json.loads(l)["content"]):
        words[tuple(byte_char[b] for b in w.encode("utf-8"))] += 1
vocab = {"<|endoftext|>": 0}
for b in range(256):
    vocab[byte_char[b]] = len(vocab)
merges = []
for _ in range(400):
    pairs = collections.Counter()
    for w, c in words.items():
        for a, b in zip(w, w[1:]):
            pairs[a, b] += c
    if not pairs:
        break
    (a, b), _ = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
    merges.append(a + " " + b)
    vocab.setdefault(a + b, len(vocab))
    new = collections.Counter()
    for w, c in words.items():
        out, i = [], 0
        while i < len(w):
            if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                out.append(a + b); i += 2
            else:
                out.append(w[i]); i += 1
        new[tuple(out)] += c
    words = new
tok = {"version": "1.0", "truncation": None, "padding": None,
       "added_tokens": [{"id": 0, "content": "<|endoftext|>", "single_word": False, "lstrip": False, "rstrip": False,
                         "normalized": False, "special": True}],
       "normalizer": {"type": "NFC"},
       "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
       "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
       "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
       "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                 "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "vocab": vocab, "merges": merges}}
json.dump(tok, open(sys.argv[1], "w", encoding="utf-8"), ensure_ascii=False)
PY
for lang in en zh; do
  spm_train --input=$lang.txt --model_prefix=models/$lang.sp --vocab_size=2000 --model_type=unigram \
    --character_coverage=1.0 --hard_vocab_limit=false --num_threads=1 --minloglevel=2 > train.log 2>&1
  spm_encode --model=models/$lang.sp.model --output_format=piece < $lang.txt > $lang.pieces
  python3 "$SRC/tests/ops/model_filters_ref.py" lm $lang.pieces models/$lang.arpa
done
fasttext supervised -input lid.txt -output models/lid.176 -dim 16 -epoch 10 -minn 1 -maxn 3 -bucket 20000 \
  -thread 1 -verbose 0 > train.log 2>&1
rm -f models/lid.176.vec
check "test models built" test -s models/en.sp.model -a -s models/zh.sp.model -a -s models/en.arpa -a -s models/lid.176.bin
export SLUICE_MODELS_DIR=$PWD/models

n=0
for r in "$RECIPES"/*.yaml; do
  name=$(basename "$r" .yaml)
  n=$((n + 1))
  data=text.jsonl
  case $name in *code*) data=code.jsonl ;; esac
  mkdir -p "run_$name"
  set +e
  (cd "run_$name" && "$SLUICE" run --dry-run "$r" --dataset_path "$T/$data" --export_path "$T/out_$name/out.jsonl" \
     > dry.txt 2> dry.err)
  rc=$?
  check "$name: --dry-run accepts the recipe unmodified (exit $rc$( [ $rc -ne 0 ] && echo ": $(tail -c 300 "run_$name/dry.err")"))" \
    test $rc -eq 0 -a -s "run_$name/dry.txt"
  (cd "run_$name" && "$SLUICE" run "$r" --dataset_path "$T/$data" --export_path "$T/out_$name/out.jsonl" --job_id j \
     > run.txt 2> run.err)
  rc=$?
  set -e
  check "$name: runs end to end (exit $rc$( [ $rc -ne 0 ] && echo ": $(tail -c 300 "run_$name/run.err")"))" test $rc -eq 0
  rows_in=$(wc -l < "$data")
  rows_out=$(wc -l < "out_$name/out.jsonl" 2> /dev/null || echo 0)
  check "$name: keeps some records and drops some ($rows_out of $rows_in)" test "$rows_out" -gt 0 -a "$rows_out" -lt "$rows_in"
  if grep -qi '^open_tracer: *true' "$r"; then
    check "$name: open_tracer wrote trace files" test -n "$(find "out_$name" -path '*/trace/*.jsonl' | head -1)"
  fi
  echo "$name $rows_out" >> counts.txt
done
check "all 24 recipes were run" test $n -eq 24
# Pinned result sizes: a change in any op's behaviour on real text shows here. After a deliberate change,
# regenerate with SLUICE_UPDATE_GOLDEN=1 and explain the new numbers in the commit.
golden=$SRC/tests/cli/recipes_golden.txt
if [ "${SLUICE_UPDATE_GOLDEN:-0}" = 1 ]; then cp counts.txt "$golden"; fi
check "output rows of every recipe match tests/cli/recipes_golden.txt" diff "$golden" counts.txt
finish
