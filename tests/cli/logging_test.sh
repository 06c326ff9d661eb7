# Logging (docs/logging.md): a real `sluice run` with a tiny event_logging.max_log_size_mb rotates every log
# file of logs/ into gzipped backups, keeps exactly backup_count of them, and loses nothing it keeps: the
# kept events.log lines are the newest events of events.jsonl, and with a large backup_count every event is
# there, in order. The warnings and errors sluice prints (an ignored op parameter, a retried and a failed
# partition, the job's failure, a refused resume) are in log_WARNING.txt / log_ERROR.txt, each holding only
# its own level; per-partition details are in log_DEBUG.txt; the main log has INFO and above.
source "$(dirname "$0")/lib.sh" "$@"

make_corpus data.jsonl 1500
write_log_recipe() {  # FILE EXPORT BACKUP_COUNT
  cat > "$1" <<EOF
project_name: logtest
dataset_path: data.jsonl
export_path: $2
np: 2
partition:
  max_size_mb: 0.1
fault_tolerance:
  max_retries: 1
  retry_base_seconds: 0.01
  allow_partial: true
event_logging:
  max_log_size_mb: 0.002
  backup_count: $3
process:
  - clean_links_mapper:
      max_links: 3
  - words_num_filter:
      min_num: 5
  - document_deduplicator:
EOF
}

# all_lines BASE: the kept history of a log, oldest first (BASE.N.gz .. BASE.1.gz, then BASE)
all_lines() {
  local base=$1 i
  for i in $(ls "$base".*.gz 2>/dev/null | sed -E 's/.*\.([0-9]+)\.gz$/\1/' | sort -rn); do zcat "$base.$i.gz"; done
  cat "$base"
}

write_log_recipe r.yaml o/out.jsonl 2
set +e
SLUICE_FAIL_AT=partition_start:1:1000 "$SLUICE" run r.yaml --job_id j > out.txt 2> err.txt
rc=$?
set -e
L=o/j/logs
check "partition 1 failed for good, the rest exported (exit 1, got $rc)" test $rc -eq 1 -a -s o/out.jsonl
for f in log.txt log_DEBUG.txt log_WARNING.txt log_ERROR.txt events.log; do
  check "$f exists" test -s $L/$f
  n=$(ls $L | grep -c -E "^$f\.[0-9]+\.gz$" || true)
  case $f in  # the warnings and errors of this run fit in one file; the others rotate many times
    log_WARNING.txt|log_ERROR.txt) check "$f: at most backup_count (2) backups (got $n)" test "$n" -le 2 ;;
    *) check "$f: exactly backup_count (2) gzipped backups (got $n)" test "$n" -eq 2
       check "$f: backups are valid gzip" gzip -t $L/$f.1.gz $L/$f.2.gz ;;
  esac
  check "$f: no uncompressed or third backup" test ! -e $L/$f.1 -a ! -e $L/$f.3.gz -a ! -e $L/$f.3
  big=$(for g in $(ls $L/$f.*.gz 2>/dev/null); do zcat $g | wc -c; done; wc -c < $L/$f)
  check "$f: no file past max_log_size_mb (2097 bytes)" test "$(echo "$big" | sort -n | tail -1)" -le 2097
done
check "events.log rotated many times (its backups hold the newest lines only)" test "$(all_lines $L/events.log | wc -l)" -lt "$(wc -l < o/j/events.jsonl)"

# The kept events.log lines are exactly the newest events, in order, one line each.
check "kept events.log lines are the newest events.jsonl events, in order" python3 - o/j/events.jsonl <(all_lines $L/events.log) <<'PY'
import json, re, sys
events = [json.loads(l)["event_type"] for l in open(sys.argv[1])]
text = [re.search(r"\| EVENT\[([a-z_]+)\] \|", l).group(1) for l in open(sys.argv[2])]
assert text and text == events[-len(text):], (text[:5], events[-len(text):][:5])
PY

# Level files: JSON lines, only their own level; the messages sluice printed are there.
level_only() {  # BASE LEVEL: every kept record of BASE is at LEVEL
  python3 -c "
import json, sys
lines = sys.stdin.read().splitlines()
assert lines
for l in lines:
    r = json.loads(l)
    assert r['record']['level']['name'] == sys.argv[1], l
    assert r['text'].split(' | ')[1].strip() == sys.argv[1], l
" "$2" < <(all_lines "$1")
}
check "log_WARNING.txt holds WARNING records only" level_only $L/log_WARNING.txt WARNING
check "log_ERROR.txt holds ERROR records only" level_only $L/log_ERROR.txt ERROR
check "log_DEBUG.txt holds DEBUG records only" level_only $L/log_DEBUG.txt DEBUG
check "stderr had the ignored-parameter warning" grep -q "has no parameter 'max_links'" err.txt
check "the warning is in log_WARNING.txt" grep -q "has no parameter 'max_links'" <(all_lines $L/log_WARNING.txt)
check "the retried attempt is a warning" grep -q "partition 1 stage 0 attempt 1 failed (retrying in" <(all_lines $L/log_WARNING.txt)
check "the partition failed for good is an error" grep -q "partition 1 stage 0 attempt 2 failed: injected I/O fault" <(all_lines $L/log_ERROR.txt)
check "the job's failure (printed on stderr) is an error" grep -q "job j completed_with_failures" <(all_lines $L/log_ERROR.txt)
check "the same line was printed on stderr" grep -q "sluice: job j completed_with_failures" err.txt
check "main log: INFO events, WARNING and ERROR records, no DEBUG" python3 -c "
import sys
levels = {l.split(' | ')[1].strip() for l in sys.stdin}
assert levels == {'INFO', 'WARNING', 'ERROR'}, levels
" < <(all_lines $L/log.txt)
check "main log has the resume hint" grep -q "| INFO     | resume with: cd .* && .*sluice run" <(all_lines $L/log.txt)

# A refused resume (recipe changed) is an error in the logs too, written before any plan work.
sed -i 's/min_num: 5/min_num: 6/' r.yaml
set +e
"$SLUICE" run r.yaml --job_id j > /dev/null 2> err2.txt
rc=$?
set -e
check "changed recipe: resume refused (exit 5, got $rc)" test $rc -eq 5
check "the refusal is in log_ERROR.txt" grep -q "cannot resume job j" <(all_lines $L/log_ERROR.txt)

# With room for every backup, events.log has every event of events.jsonl exactly once, in order, across
# many rotations, and the zcat'ed lines are complete.
write_log_recipe all.yaml o2/out.jsonl 10000
SLUICE_FAIL_AT=partition_start:2:1 "$SLUICE" run all.yaml --job_id k > /dev/null 2>&1
n=$(ls o2/k/logs | grep -c -E '^events\.log\.[0-9]+\.gz$' || true)
check "many rotations of events.log ($n)" test "$n" -ge 10
check "events.log across rotations = events.jsonl, event for event" python3 - o2/k/events.jsonl <(all_lines o2/k/logs/events.log) <<'PY'
import json, re, sys
events = [json.loads(l) for l in open(sys.argv[1])]
text = open(sys.argv[2]).read().splitlines()
assert len(text) == len(events), (len(text), len(events))
for e, t in zip(events, text):
    m = re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \| INFO     \| EVENT\[([a-z_]+)\] \| (.*)", t)
    assert m and m.group(1) == e["event_type"] and m.group(2) == e["message"].replace("\n", "\\n"), (t, e)
PY
check "per-partition details at DEBUG: each segment of the first stage" test \
  "$(all_lines o2/k/logs/log_DEBUG.txt | grep -c 'attempt [12]: ops 0..2 (clean_links_mapper .. document_deduplicator) on .*data.jsonl:\[')" -eq \
  "$(count_events o2/k/events.jsonl partition_complete "e['stage']==0")"
check "per-partition details at DEBUG: the stage applying the dedup decision" \
  grep -q 'attempt 1: no op (the dedup decision applied) on .*op_002_document_deduplicator' <(all_lines o2/k/logs/log_DEBUG.txt)
check "the main log rotated as well, every event at INFO once" test \
  "$(all_lines o2/k/logs/log.txt | grep -c '| INFO     | EVENT\[')" -eq "$(wc -l < o2/k/events.jsonl)"
finish
