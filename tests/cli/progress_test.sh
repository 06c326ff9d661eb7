# `sluice run`'s progress bar (docs/monitoring.md): under a pseudo-terminal (`script`) stderr shows a line
# redrawn in place with partitions, ETA, rows/s and MB/s, erased at the end; when stderr is not a terminal
# nothing of it is written, and the output is what it always was. The export is the same either way.
source "$(dirname "$0")/lib.sh" "$@"

make_corpus data.jsonl 3000
write_recipe tty.yaml data.jsonl o_tty/out.jsonl
write_recipe plain.yaml data.jsonl o_plain/out.jsonl
# Slow partitions so that the run lasts a few redraw periods (4 a second).
export SLUICE_DELAY_AT=partition_start:0.05

set +e
script -qec "'$SLUICE' run tty.yaml --job_id j --partition.max_size_mb 0.05" /dev/null > tty.out
rc=$?
"$SLUICE" run plain.yaml --job_id j --partition.max_size_mb 0.05 > plain.out 2> plain.err
plain_rc=$?
set -e
check "both runs succeed (got $rc, $plain_rc)" test "$rc $plain_rc" = "0 0"
check "on a terminal: a progress line for each stage" python3 - tty.out <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8", errors="replace", newline="").read()
lines = [l for l in text.split("\r") if re.match(r"stage [12]/2 \[[#.]+\] +\d+/\d+ partitions  ETA \S+( \S+)?  \S+ rows/s  [\d.]+ MB/s\x1b\[K$", l)]
assert len(lines) >= 3, text[:2000]
assert {l[:9] for l in lines} == {"stage 1/2", "stage 2/2"}, {l[:9] for l in lines}
assert any(re.search(r"ETA \d+s", l) for l in lines), lines
PY
check "on a terminal: the line is erased before the final message" python3 - tty.out <<'PY'
import sys
text = open(sys.argv[1], encoding="utf-8", errors="replace", newline="").read()
end = text.rindex("\r\x1b[K")
assert "completed:" in text[end:] and "partitions" not in text[end:], repr(text[end - 200:])
PY
check "off a terminal: no progress line and no control characters on stderr" test ! -s plain.err
check "off a terminal: stdout is the usual three lines and the result" test "$(cut -d: -f1 plain.out | tr '\n' ' ')" = "job_id job_dir resume with completed "
check "the export does not depend on the terminal" cmp -s o_tty/out.jsonl o_plain/out.jsonl
finish
