# Bad input: each case gives the documented exit code and a message naming file, line and cause.
source "$(dirname "$0")/lib.sh" "$@"

expect() {  # name exit_code stderr_pattern -- command...
  local name=$1 want=$2 pattern=$3
  shift 4
  set +e
  "$@" > out.txt 2> err.txt
  local rc=$?
  set -e
  if [ $rc -eq "$want" ] && { [ -z "$pattern" ] || grep -qE -- "$pattern" err.txt; }; then ok "$name"; else bad "$name (exit $rc, stderr: $(head -c 300 err.txt))"; fi
}

make_corpus good.jsonl 50
recipe() {  # file data export [extra]
  { echo "dataset_path: $2"; echo "export_path: $3"; echo "process:"; echo "  - text_length_filter:"; echo "      min_len: 5"
    if [ $# -ge 4 ]; then printf '%s\n' "$4"; fi; } > "$1"
}

cp good.jsonl bad_json.jsonl
echo '{"id": 1, "text": "unterminated' >> bad_json.jsonl
recipe r1.yaml bad_json.jsonl o1/out.jsonl
expect "malformed JSON: exit 3 with file:line" 3 "bad_json.jsonl:51: " -- "$SLUICE" run r1.yaml
check "malformed JSON: no export" test ! -e o1/out.jsonl
expect "--dry-run reads the first records: the malformed line, exit 3 with file:line" 3 "bad_json.jsonl:51: " -- "$SLUICE" run r1.yaml --dry-run
check "... and runs nothing" test ! -e o1/out.jsonl
expect "--dry-run with on_bad_record skip: exit 0" 0 "" -- "$SLUICE" run r1.yaml --dry-run --on_bad_record skip
check "... counting the bad record it read" grep -q "records: 51 read (the first 1000 of each file), 50 valid, 1 bad (on_bad_record: skip drops them)" out.txt

cp good.jsonl bad_utf8.jsonl
printf '{"id": 2, "text": "caf\xe9 latin-1"}\n' >> bad_utf8.jsonl
recipe r2.yaml bad_utf8.jsonl o2/out.jsonl
expect "invalid UTF-8: exit 3 with file:line and cause" 3 "bad_utf8.jsonl:51: invalid UTF-8" -- "$SLUICE" run r2.yaml

cp good.jsonl no_key.jsonl
echo '{"id": 3, "content": "no text key here"}' >> no_key.jsonl
recipe r3.yaml no_key.jsonl o3/out.jsonl
expect "missing text key: exit 3" 3 "no_key.jsonl:51: missing text key 'text'" -- "$SLUICE" run r3.yaml

echo '[1, 2, 3]' > not_object.jsonl
recipe r3b.yaml not_object.jsonl o3b/out.jsonl
expect "non-object line: exit 3" 3 "not_object.jsonl:1: expected a JSON object" -- "$SLUICE" run r3b.yaml

cp good.jsonl mixed.jsonl
echo '{"id": 1, "text": broken}' >> mixed.jsonl
printf '{"id": 2, "text": "caf\xe9"}\n' >> mixed.jsonl
echo '{"id": 4, "text": null}' >> mixed.jsonl
recipe r4.yaml mixed.jsonl o4/out.jsonl "on_bad_record: skip"
"$SLUICE" run r4.yaml --job_id skip > /dev/null
check "on_bad_record skip: 2 bad records counted" test "$(json_get o4/skip/job_summary.json "d['bad_records']")" -eq 2
check "null text dropped as DataJuicer does, and counted" test "$(json_get o4/skip/job_summary.json "d['null_text_dropped']")" -eq 1
recipe r5.yaml mixed.jsonl o5/out.jsonl "on_bad_record: quarantine"
"$SLUICE" run r5.yaml --job_id q > /dev/null
check "quarantine keeps the exact bad lines" cmp -s <(tail -n 3 mixed.jsonl | head -n 2) o5/q/quarantine/partition_000000.jsonl
check "quarantine: counted in the summary" test "$(json_get o5/q/job_summary.json "d['bad_records']")" -eq 2

recipe r6.yaml good.jsonl o6/out.jsonl
sed -i 's/text_length_filter/text_lenght_filter/' r6.yaml
expect "unknown op: exit 2 with did-you-mean" 2 "unknown op 'text_lenght_filter' \(did you mean 'text_length_filter'\?\)" -- "$SLUICE" run r6.yaml
check "unknown op: nothing created" test ! -e o6

recipe r7.yaml good.jsonl o7/out.jsonl
sed -i 's/min_len: 5/min_lenn: 5/' r7.yaml
expect "unknown op parameter: exit 2 with did-you-mean" 2 "unknown parameter 'min_lenn' \(did you mean 'min_len'\?\)" -- "$SLUICE" run r7.yaml
recipe r7b.yaml good.jsonl o7b/out.jsonl
sed -i 's/min_len: 5/min_len: 5\n      max_emails: 0/' r7b.yaml
expect "op parameter unlike any of the op's (DataJuicer ignores it): warned, run completes" 0 \
  "r7b.yaml:[0-9]+: op 'text_length_filter' has no parameter 'max_emails'; ignored" -- "$SLUICE" run r7b.yaml
recipe r7c.yaml good.jsonl o7c/out.jsonl
"$SLUICE" run r7c.yaml > /dev/null 2>&1
check "op parameter ignored: same output as without it" cmp -s o7b/out.jsonl o7c/out.jsonl

recipe r8.yaml good.jsonl o8/out.jsonl "np_workers: 3"
expect "unknown recipe key: exit 2" 2 "r8.yaml:6: unknown recipe key 'np_workers'" -- "$SLUICE" run r8.yaml
expect "unknown nested key via the command line: exit 2, naming the option" 2 "command line --checkpoint.strategyy: unknown recipe key 'checkpoint.strategyy' \(did you mean 'strategy'\?\)" -- "$SLUICE" run r7.yaml --checkpoint.strategyy every_op
expect "bad strategy value: exit 2, naming the option" 2 "command line --checkpoint.strategy: 'checkpoint.strategy' must be one of" -- "$SLUICE" run r1.yaml --checkpoint.strategy sometimes
expect "bad np on the command line: exit 2, naming the option" 2 "command line --np: 'np' must be an integer >= 1" -- "$SLUICE" run r1.yaml --np 0
# A manual checkpoint list that names no op of the recipe would checkpoint nothing.
recipe r8m.yaml good.jsonl o8m/out.jsonl "checkpoint: {strategy: manual, op_names: [text_length_filtr]}"
expect "manual checkpoint of an op not in the recipe: exit 2 with file, line and did-you-mean" 2 \
  "r8m.yaml:[0-9]+: checkpoint.op_names names 'text_length_filtr', which is not an op of this recipe's process list \(did you mean 'text_length_filter'\?\)" -- "$SLUICE" run r8m.yaml
expect "... and given on the command line" 2 "command line --checkpoint.op_names: checkpoint.op_names names 'clean_links'" -- \
  "$SLUICE" run r1.yaml --checkpoint.strategy manual --checkpoint.op_names text_length_filter,clean_links
recipe r8b.yaml good.jsonl o8b/out.jsonl "export_path: other.jsonl"
expect "duplicate recipe key: exit 2" 2 "r8b.yaml:6: recipe key 'export_path' appears twice" -- "$SLUICE" run r8b.yaml
recipe r8c.yaml good.jsonl o8c/out.jsonl
sed -i 's/      min_len: 5/      min_len: 5\n      min_len: 6/' r8c.yaml
expect "duplicate op parameter: exit 2" 2 "parameter 'min_len' is given twice" -- "$SLUICE" run r8c.yaml
recipe r9.yaml good.jsonl o9/out.jsonl "intermediate_storage: {format: parquet}"
expect "parquet intermediate storage: accepted with a warning that intermediates stay JSONL" 0 "intermediate_storage.format 'parquet': sluice keeps intermediate data as compressed JSONL" -- "$SLUICE" run r9.yaml
# DataJuicer's own examples of the storage settings (its partitioned executor's docs, nested and legacy flat):
# Parquet with snappy, its defaults, run with a warning for each; only what names JSONL with snappy, or a
# format that is none of the three, is refused.
recipe r9b.yaml good.jsonl o9b/out.jsonl "intermediate_storage:
  format: \"parquet\"
  compression: \"snappy\"
  use_arrow_batches: true
  arrow_batch_size: 500
  arrow_memory_mapping: false"
expect "DataJuicer's parquet + snappy: runs, with a warning naming the codec" 0 "r9b.yaml:[0-9]+: intermediate_storage.compression 'snappy' .*compressed with zstd; results are the same" -- "$SLUICE" run r9b.yaml
check "parquet + snappy: the same export as the defaults" cmp -s o9/out.jsonl o9b/out.jsonl
recipe r9c.yaml good.jsonl o9c/out.jsonl "storage_format: \"parquet\"
use_arrow_batches: true"
expect "legacy flat storage_format: parquet: runs, with a warning" 0 "r9c.yaml:[0-9]+: storage_format 'parquet': sluice keeps intermediate data as compressed JSONL" -- "$SLUICE" run r9c.yaml
recipe r9d.yaml good.jsonl o9d/out.jsonl "intermediate_storage: {format: jsonl, compression: snappy}"
expect "jsonl + snappy: exit 2" 2 "r9d.yaml:[0-9]+: intermediate_storage.compression 'snappy' is a Parquet codec" -- "$SLUICE" run r9d.yaml
recipe r9e.yaml good.jsonl o9e/out.jsonl "storage_format: csv"
expect "an unknown storage_format: exit 2" 2 "r9e.yaml:[0-9]+: storage_format must be jsonl, parquet or arrow; got 'csv'" -- "$SLUICE" run r9e.yaml

recipe r10.yaml missing.jsonl o10/out.jsonl
expect "missing input: exit 3" 3 "dataset_path 'missing.jsonl' does not exist" -- "$SLUICE" run r10.yaml
# The recipe is part of the command (exit 2, README "Exit codes"); 3 is for the data it names.
expect "missing recipe: exit 2" 2 "recipe file 'nope.yaml' does not exist" -- "$SLUICE" run nope.yaml
expect "missing recipe, --dry-run: exit 2" 2 "recipe file 'nope.yaml' does not exist" -- "$SLUICE" run nope.yaml --dry-run
expect "missing recipe given with --config: exit 2" 2 "recipe file 'nope.yaml' does not exist" -- "$SLUICE" run --config nope.yaml
mkdir -p adir.yaml
expect "a directory as the recipe: exit 2" 2 "recipe file 'adir.yaml' does not exist or is not a file" -- "$SLUICE" run adir.yaml

# A subdirectory of dataset_path that cannot be listed: an error naming it, not a run on part of the input
# (the listing used to stop there; a failing step aborted the process). Run as an unprivileged user when
# root, with a copy of the binary it can execute.
mkdir -p indir/sub && cp good.jsonl indir/a.jsonl && cp good.jsonl indir/sub/b.jsonl && chmod 000 indir/sub
recipe r_dir.yaml "$T/indir" o_dir/out.jsonl
as_user=()
if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null; then
  cp "$SLUICE" "$T/sluice_copy" && chmod -R a+rwX "$T" && chmod 000 indir/sub
  as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups "$T/sluice_copy")
else
  as_user=("$SLUICE")
fi
if [ "$(id -u)" != 0 ] || [ "${#as_user[@]}" -gt 1 ]; then
  expect "unlistable input subdirectory: exit 3 naming it" 3 "cannot list all of it \\(stopped after '.*indir/sub'\\): Permission denied" -- "${as_user[@]}" run r_dir.yaml --dry-run
else
  echo "skip - unlistable input subdirectory (root without setpriv)"
fi
chmod 755 indir/sub
cp r10.yaml r_unreadable.yaml && chmod 000 r_unreadable.yaml
if [ "$(id -u)" != 0 ] || [ "${#as_user[@]}" -gt 1 ]; then
  expect "unreadable recipe: exit 2 naming the cause" 2 "cannot read recipe file 'r_unreadable.yaml': Permission denied" -- "${as_user[@]}" run r_unreadable.yaml
else
  echo "skip - unreadable recipe (root without setpriv)"
fi

touch afile
recipe r11.yaml good.jsonl afile/sub/out.jsonl
expect "unwritable output: exit 4" 4 "cannot create directory" -- "$SLUICE" run r11.yaml

recipe r12.yaml good.jsonl o12/out.jsonl
expect "--dry-run validates and prints the plan" 0 "" -- "$SLUICE" run r12.yaml --dry-run
check "--dry-run prints the stages" grep -q "text_length_filter" out.txt
check "--dry-run creates nothing" test ! -e o12
"$SLUICE" run r12.yaml --job_id done1 > out.txt
check "every run prints the job id, directory and resumption command" grep -q "resume with: cd .* && .*sluice run --config .*r12.yaml --job_id done1" out.txt
check "job directory layout" test -f o12/done1/job_summary.json -a -f o12/done1/events.jsonl -a -f o12/done1/logs/events.log \
  -a -f o12/done1/dag_execution_plan.json -a -f o12/done1/metadata/dataset_mapping.json -a -f o12/done1/r12.yaml

# Numbers beyond a double (and integers beyond int64) inside __dj__stats__ are valid, as anywhere in a record
# (docs/compatibility.md "Input records"): no bad line; they pass through as written when no op reads them or
# when other stats are added beside them (a uint64 was written back as nothing); a filter reading one as its cached stat (text_len, §1.3) sees what
# Python's json.loads makes of it (1e400 -> inf, -1E+400 -> -inf), then DataJuicer's range check.
printf '%s\n' '{"text":"abc","__dj__stats__":{"text_len":1e400},"id":1}' \
  '{"text":"abcdef","__dj__stats__":{"text_len":-1E+400},"id":2}' \
  '{"text":"abcdefg","__dj__stats__":{"other":2.5e999,"n":123456789012345678901234567890,"u":18446744073709551615},"id":3}' \
  '{"text":"abcdefgh","id":4}' > big.jsonl
big() {  # file export [op lines...]
  local f=$1 e=$2
  shift 2
  { echo "dataset_path: big.jsonl"; echo "export_path: $e"; echo "keep_stats_in_res_ds: true"; echo "process:"
    printf '%s\n' "$@"; } > "$f"
}
big b1.yaml ob1/out.jsonl "  - clean_email_mapper:"
expect "stats beyond a double, no op reads them: exit 0" 0 "" -- "$SLUICE" run b1.yaml
check "... the records pass through byte for byte" cmp ob1/out.jsonl big.jsonl
check "... and so do their stats in the side file" cmp ob1/out_stats.jsonl <(printf '%s\n' '{"__dj__stats__":{"text_len":1e400}}' \
  '{"__dj__stats__":{"text_len":-1E+400}}' '{"__dj__stats__":{"other":2.5e999,"n":123456789012345678901234567890,"u":18446744073709551615}}' '{}')
big b2.yaml ob2/out.jsonl "  - text_length_filter:" "      min_len: 5"
expect "cached text_len 1e400 read by text_length_filter: exit 0" 0 "" -- "$SLUICE" run b2.yaml
check "... inf and -inf fail [5, sys.maxsize]; the stats written beside 2.5e999 keep it as written" cmp ob2/out.jsonl \
  <(printf '%s\n' '{"text":"abcdefg","__dj__stats__":{"other":2.5e999,"n":123456789012345678901234567890,"u":18446744073709551615,"text_len":7},"id":3}' \
    '{"text":"abcdefgh","id":4,"__dj__stats__":{"text_len":8}}')
big b3.yaml ob3/out.jsonl "  - text_length_filter:" "      min_len: 5" "      max_len: 10" "      reversed_range: true"
expect "the same with reversed_range: exit 0" 0 "" -- "$SLUICE" run b3.yaml
check "... inf and -inf are outside [5, 10], so kept, their records as written" cmp ob3/out.jsonl <(head -n 2 big.jsonl)
# A cached integer is compared exactly with the bounds, as Python compares ints: one beyond int64 is a number
# (it was an op error), and 2^53 + 1 is past a bound of 2^53 (it was rounded onto it).
printf '%s\n' '{"text":"a","__dj__stats__":{"text_len":99999999999999999999999},"id":1}' \
  '{"text":"b","__dj__stats__":{"text_len":9007199254740993},"id":2}' \
  '{"text":"c","__dj__stats__":{"text_len":-99999999999999999999999},"id":3}' \
  '{"text":"d","__dj__stats__":{"text_len":18446744073709551615},"id":4}' \
  '{"text":"e","__dj__stats__":{"text_len":9007199254740992},"id":5}' '{"text":"abcdefgh","id":6}' > bigint.jsonl
bigint() {  # file export [op lines...]
  local f=$1 e=$2
  shift 2
  { echo "dataset_path: bigint.jsonl"; echo "export_path: $e"; echo "process:"; echo "  - text_length_filter:"
    echo "      min_len: 5"; echo "      max_len: 9007199254740992"; printf '%s\n' "$@"; } > "$f"
}
bigint b4.yaml ob4/out.jsonl
expect "cached integers beyond int64 and past 2^53 read by text_length_filter: exit 0" 0 "" -- "$SLUICE" run b4.yaml
check "... only the lengths in [5, 2^53] pass: 2^53 exactly, not 2^53 + 1" cmp ob4/out.jsonl \
  <(printf '%s\n' '{"text":"e","id":5}' '{"text":"abcdefgh","id":6}')
bigint b5.yaml ob5/out.jsonl "      reversed_range: true"
expect "the same with reversed_range: exit 0" 0 "" -- "$SLUICE" run b5.yaml
check "... every length outside (5, 2^53) passes, the integers beyond int64 and 2^53 itself included" cmp ob5/out.jsonl \
  <(printf '%s\n' '{"text":"a","id":1}' '{"text":"b","id":2}' '{"text":"c","id":3}' '{"text":"d","id":4}' '{"text":"e","id":5}')

# A bad line aborts the job while another worker is still busy with an earlier partition: the job reports
# the bad line (exit 3), not the earlier partition that was stopped by the abort ("job aborted", exit 1).
mkdir -p two
make_corpus two/a_good.jsonl 20000
printf '%s\n' '{"text":"fine"}' '{"text": broken' > two/b_bad.jsonl
printf '%s\n' "dataset_path: two" "export_path: oa/out.jsonl" "np: 2" "process:" "  - character_repetition_filter:" > ra.yaml
expect "a bad line while an earlier partition runs: exit 3 naming the line" 3 "partition 1 .*b_bad.jsonl:2: malformed JSON" -- "$SLUICE" run ra.yaml
check "... not the partition the abort stopped" bash -c "! grep -q 'job aborted' err.txt"
finish
