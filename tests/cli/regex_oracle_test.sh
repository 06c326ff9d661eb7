# sluice's regular expressions against Python's, differentially (tests/ops/regex_oracle.py): seeded random
# patterns from a grammar of the regex module's dialect (with replacement templates) run through
# replace_content_mapper and are compared with regex.sub(pattern, repl, text, flags=DOTALL); patterns in stdlib
# re's dialect run through text_chunk_mapper's split_pattern and are compared with DataJuicer's chunking on re;
# every pattern Python refuses must be refused when the recipe is loaded, and every one it accepts accepted
# (unless docs/compatibility.md, "Regular expressions", lists it as refused by design); and a sample of the
# property names, POSIX classes and class escapes, with and without (?i), is checked on a sample of all code
# points. Prints `N passed, M failed`. Needs Python 3 with the `regex` module (python3-regex); skipped without.
source "$(dirname "$0")/lib.sh" "$@"
if ! (python_with regex python3-regex > /dev/null 2>&1); then
  echo "SKIP - no python3 with the regex module (install python3-regex: scripts/install-deps.sh)"
  exit 77
fi
python_with regex python3-regex
"$PY" "$SRC/tests/ops/regex_oracle.py" run "$SLUICE" "$T/oracle" --seed 1 --jobs 2
