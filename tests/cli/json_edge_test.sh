# JSONL input edge cases, differentially against Python's json module (what DataJuicer's reader accepts):
# tests/cli/json_edge.py generates a few hundred edge lines (escapes, surrogates, invalid and unusual UTF-8,
# BOM, CR/CRLF, NUL, NaN, huge numbers, nesting, duplicate and escaped keys, non-string text, non-object and
# blank lines) and runs them through three recipes, the three on_bad_record modes and plain/.gz/.zst input,
# checking kept bytes, changed records, quarantined lines, summary counts and file:line: cause.
# The documented differences: docs/compatibility.md, "Input records".
source "$(dirname "$0")/lib.sh" "$@"
python_with regex python3-regex  # json_edge.py takes the mappers' character tables from tests/ops/dj_oracle.py
"$PY" "$SRC/tests/cli/json_edge.py" "$SLUICE" "$T"
