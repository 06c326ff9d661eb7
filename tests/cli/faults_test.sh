# Fault tests: injected I/O and op failures are retried with the configured backoff (visible in the
# events); permanent failure fails the job with a clear summary and no export; allow_partial exports the
# rest and names the missing ranges; a torn or corrupted checkpoint is detected and not used; a resume with
# a changed recipe or input is refused with what changed.
source "$(dirname "$0")/lib.sh" "$@"

make_corpus data.jsonl 3000
write_recipe ref.yaml data.jsonl o_ref/out.jsonl
"$SLUICE" run ref.yaml --job_id ref > /dev/null
N_PARTS=$(json_get o_ref/ref/job_summary.json "d['total_partitions']")
check "test data spans several partitions ($N_PARTS)" test "$N_PARTS" -ge 3
check "a checkpoint_save for each partition's checkpoint at the dedup barrier (op 8)" \
  test "$(count_events o_ref/ref/events.jsonl checkpoint_save "e['operation_idx']==8 and e['operation_name']=='document_deduplicator'")" -eq "$N_PARTS"

# --- op_complete.duration is the fused segment's, shared by its ops; a rerun skips every partition and
# says how many rows each had (docs/events.md)
write_recipe seg.yaml data.jsonl o_seg/out.jsonl
"$SLUICE" run seg.yaml --job_id seg --checkpoint.strategy disabled > /dev/null
check "op_complete: each op's segment, the segment's one duration" python3 -c "
import json
seg = {}
for e in map(json.loads, open('o_seg/seg/events.jsonl')):
    if e['event_type'] != 'op_complete': continue
    assert e['segment_first_op'] <= e['operation_idx'] <= e['segment_last_op'], e
    seg.setdefault((e['partition_id'], e['attempt'], e['segment_first_op'], e['segment_last_op']), set()).add(e['duration'])
assert all(len(d) == 1 for d in seg.values()), seg
assert (0, 1, 0, 8) in seg, sorted(seg)  # checkpoints disabled: stage 0 is one segment"
"$SLUICE" run seg.yaml --job_id seg --checkpoint.strategy disabled > /dev/null
check "rerun: partition_skipped for every partition, with input and output rows" python3 -c "
import json
ev = [e for e in map(json.loads, open('o_seg/seg/events.jsonl')) if e['event_type'] == 'partition_skipped']
assert len(ev) == $N_PARTS, len(ev)
assert sum(e['input_rows'] for e in ev) == 3000, sum(e['input_rows'] for e in ev)
assert sum(e['output_rows'] for e in ev) == sum(1 for _ in open('o_seg/out.jsonl'))"

# --- transient I/O faults (partition 3 fails twice): retried, exponential backoff visible, same output
write_recipe r.yaml data.jsonl o_t1/out.jsonl
SLUICE_FAIL_AT=partition_start:3:2 "$SLUICE" run r.yaml --job_id t1 > out.txt 2>&1
check "two injected I/O faults: job completes" cmp -s o_ref/out.jsonl o_t1/out.jsonl
ev=o_t1/t1/events.jsonl
check "two partition_failed events with will_retry" test "$(count_events $ev partition_failed "e['will_retry'] and e['retry_backoff']=='exponential'")" -eq 2
check "an I/O fault: partition_failed names no op" test "$(count_events $ev partition_failed "e['operation_idx'] is None and e['operation_name'] is None")" -eq 2
check "backoff grows: retry_in_seconds of attempt 2 > attempt 1 (exponential, jitter 20%)" \
  python3 -c "
import json
d=[json.loads(l) for l in open('$ev')]
f=[e for e in d if e['event_type']=='partition_failed']
a=[e['retry_in_seconds'] for e in f if e['attempt']==1]
b=[e['retry_in_seconds'] for e in f if e['attempt']==2]
assert a and b and min(b) > max(a)*1.2, (a,b)"

write_recipe r.yaml data.jsonl o_t2/out.jsonl "  retry_backoff: linear"
SLUICE_FAIL_AT=partition_start:1 "$SLUICE" run r.yaml --job_id t2 > /dev/null 2>&1
check "linear backoff is reported" test "$(count_events o_t2/t2/events.jsonl partition_failed "e.get('retry_backoff')=='linear'")" -eq 1

# --- permanent failure: retries exhausted, job fails, no export, summary explains
write_recipe r.yaml data.jsonl o_p1/out.jsonl "  max_retries: 2"
set +e
SLUICE_FAIL_AT=partition_start:1:1000 "$SLUICE" run r.yaml --job_id p1 > out.txt 2> err.txt
rc=$?
set -e
check "permanent failure exits 1 (got $rc)" test $rc -eq 1
check "no export from partial data" test ! -e o_p1/out.jsonl
check "summary status failed" test "$(json_get o_p1/p1/job_summary.json "d['status']")" = failed
check "summary lists partition 1 with 3 attempts" test "$(json_get o_p1/p1/job_summary.json "[(e['partition_id'], e['attempts']) for e in d['errors']]")" = "[(1, 3)]"
check "summary lists the missing input range" grep -q "data.jsonl:\[" o_p1/p1/job_summary.json
check "stderr gives the resumption command" grep -q "resume with: cd .* && .*sluice run --config .*/r.yaml --job_id p1" err.txt
check "job_failed event written" test "$(count_events o_p1/p1/events.jsonl job_failed)" -eq 1
# the failure is gone: the printed command, run from another directory (the recipe's paths are relative),
# reuses the committed partitions and finishes
resume=$(sed -n 's/^sluice: resume with: //p' err.txt)
(cd / && eval "$resume") > /dev/null
check "resume after permanent failure completes identically" cmp -s o_ref/out.jsonl o_p1/out.jsonl
check "resume redid only the failed partition" \
  test "$(count_events o_p1/p1/events.jsonl partition_start "e['stage']==0 and e['partition_id']!=1")" -eq $((N_PARTS - 1))

# --- allow_partial: export without the failed partition, missing ranges named
write_recipe r.yaml data.jsonl o_ap/out.jsonl "  max_retries: 0" "  allow_partial: true"
set +e
SLUICE_FAIL_AT=partition_start:0:1000 "$SLUICE" run r.yaml --job_id ap > /dev/null 2>&1
rc=$?
set -e
check "allow_partial: exit 1, partial export written" test $rc -eq 1 -a -s o_ap/out.jsonl
check "allow_partial: status completed_with_failures" test "$(json_get o_ap/ap/job_summary.json "d['status']")" = completed_with_failures
check "allow_partial: exactly one missing range" test "$(json_get o_ap/ap/job_summary.json "len(d['missing_input_ranges'])")" -eq 1

# --- op failures: skip_op_error drops and counts; without it the partition fails and is retried
write_recipe r.yaml data.jsonl o_o1/out.jsonl
SLUICE_FAIL_AT=op:$FAULT_OP:5 "$SLUICE" run r.yaml --job_id o1 > /dev/null
check "skip_op_error: 5 samples dropped and counted for the op" \
  test "$(json_get o_o1/o1/job_summary.json "[o['dropped_by_error'] for o in d['ops'] if o['name']=='$FAULT_OP'][0]")" -eq 5
check "skip_op_error: op_complete events carry the error" test "$(count_events o_o1/o1/events.jsonl op_complete "e.get('error_rows',0)>0")" -ge 1
write_recipe r.yaml data.jsonl o_o2/out.jsonl "skip_op_error: false"
SLUICE_FAIL_AT=op:$FAULT_OP:1 "$SLUICE" run r.yaml --job_id o2 > /dev/null 2>&1
check "op error without skip_op_error: retried, then identical output" cmp -s o_ref/out.jsonl o_o2/out.jsonl
check "op error without skip_op_error: one failed attempt in events" test "$(count_events o_o2/o2/events.jsonl partition_failed)" -eq 1
check "op error: partition_failed names the failing op and its index" \
  test "$(count_events o_o2/o2/events.jsonl partition_failed "e['operation_name']=='$FAULT_OP' and e['operation_idx']==5")" -eq 1

# --- torn and corrupted checkpoints are detected and not used
write_recipe r.yaml data.jsonl o_c1/out.jsonl
set +e
SLUICE_CRASH_AT=result_commit:1 "$SLUICE" run r.yaml --job_id c1 --checkpoint.strategy every_op --np 1 > /dev/null 2>&1
set -e
# flip a byte in the newest checkpoint of partition 0 (its resume point); torn commits (data without
# manifest, unrenamed temp files) are covered by the manifest_commit/checkpoint_commit crashes in crash_resume_test.sh
ck=$(ls o_c1/c1/checkpoints/partition_000000/op_*.jsonl.zst | sort | tail -1)
python3 -c "
import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=0xFF; open(p,'wb').write(b)" "$ck"
"$SLUICE" run r.yaml --job_id c1 --checkpoint.strategy every_op --np 1 > /dev/null
check "corrupted checkpoints: export identical" cmp -s o_ref/out.jsonl o_c1/out.jsonl
check "corrupted checkpoints reported as checkpoint_invalid" test "$(count_events o_c1/c1/events.jsonl checkpoint_invalid)" -ge 1
check "an intact checkpoint was loaded instead" test "$(count_events o_c1/c1/events.jsonl checkpoint_load)" -ge 1
# the same for a stage's output, the checkpoint the dedup barrier's next stage reads: redone, and said so
write_recipe r.yaml data.jsonl o_c2/out.jsonl
set +e
SLUICE_CRASH_AT=result_commit:1 "$SLUICE" run r.yaml --job_id c2 --np 1 > /dev/null 2>&1
set -e
ck=$(ls o_c2/c2/checkpoints/partition_000001/op_*_document_deduplicator.jsonl.zst)
python3 -c "
import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=0xFF; open(p,'wb').write(b)" "$ck"
"$SLUICE" run r.yaml --job_id c2 --np 1 > /dev/null
check "corrupted stage output: export identical" cmp -s o_ref/out.jsonl o_c2/out.jsonl
check "corrupted stage output reported as checkpoint_invalid of partition 1, stage 0" \
  test "$(count_events o_c2/c2/events.jsonl checkpoint_invalid "e['partition_id'] == 1 and e.get('stage') == 0 and 'checksum' in e['error_message']")" -eq 1

# --- resume refused when the recipe or the input changed
write_recipe r.yaml data.jsonl o_ch/out.jsonl
set +e
SLUICE_CRASH_AT=result_commit:2 "$SLUICE" run r.yaml --job_id ch > /dev/null 2>&1
sed -i '0,/min_len: 20/s//min_len: 21/' r.yaml
"$SLUICE" run r.yaml --job_id ch > out.txt 2> err.txt
rc=$?
set -e
check "changed recipe: refused with exit 5 (got $rc)" test $rc -eq 5
check "changed recipe: message names the op and the change" grep -qE "op #[0-9]+ changed: .*min_len\":20.* -> .*min_len\":21" err.txt
check "changed recipe: message suggests --restart" grep -q -- "--restart" err.txt
sed -i 's/min_len: 21/min_len: 20/' r.yaml
cp data.jsonl data.orig
echo '{"id": -1, "text": "one more record appended later"}' >> data.jsonl
set +e
"$SLUICE" run r.yaml --job_id ch > out.txt 2> err.txt
rc=$?
set -e
check "changed input: refused with exit 5" test $rc -eq 5
check "changed input: message says the input changed size" grep -q "changed size" err.txt
"$SLUICE" run r.yaml --job_id ch --restart > /dev/null
check "--restart discards the old state and runs on the new input" test "$(wc -l < o_ch/out.jsonl)" -ge "$(wc -l < o_ref/out.jsonl)"
mv data.orig data.jsonl
# --- a full disk while the export is written (RLIMIT_FSIZE stands in for it: a write past the limit fails as
# it would on a full disk, here on the O_DIRECT export writer's thread): the job fails naming the export
# journal and the cause, nothing is published, and a resume with room produces the same export
LIMIT_KB=$(( $(stat -c %s o_ref/out.jsonl) / 8192 * 4 ))  # half the export, in whole 4 KiB blocks
write_recipe r.yaml data.jsonl o_fs/out.jsonl "  max_retries: 1"
set +e
( ulimit -f "$LIMIT_KB"; trap '' XFSZ; exec "$SLUICE" run r.yaml --job_id fs ) > out.txt 2> err.txt
rc=$?
set -e
check "export past the file size limit: the job fails (exit $rc)" test $rc -ne 0
check "the error names the export journal and the cause" grep -q "o_fs/out.jsonl.fs.partial.*File too large" err.txt
# Whichever write hits the limit: the head partition's own (partition_failed, the partition retried) or the
# append of a partition that waited for its turn (export_append_failed, the append retried).
retried=$(( $(count_events o_fs/fs/events.jsonl partition_failed "e['will_retry']") + $(count_events o_fs/fs/events.jsonl export_append_failed "e['will_retry']") ))
check "the failed write was rolled back and retried ($retried)" test "$retried" -ge 1
check "no export was published" test ! -e o_fs/out.jsonl
# Seen once (a full `make test`, 2026-11-21; not reproduced in 70 runs since): the job exited 0 and published
# an export. Whatever the cause, a published export must be whole; and leave what is needed to tell why.
if [ -e o_fs/out.jsonl ]; then
  check "a published export is never partial" cmp -s o_ref/out.jsonl o_fs/out.jsonl
  echo "# diagnostics: limit ${LIMIT_KB} KiB, export $(stat -c %s o_fs/out.jsonl) bytes (reference $(stat -c %s o_ref/out.jsonl)), exit $rc"
  sed 's/^/# stderr: /' err.txt
  python3 -c "
import json
for e in map(json.loads, open('o_fs/fs/events.jsonl')):
    if e['event_type'] in ('partition_failed', 'partition_complete', 'job_complete', 'job_failed'):
        print('# event:', json.dumps({k: e.get(k) for k in ('event_type', 'partition_id', 'attempt', 'will_retry', 'error_message', 'output_rows')}))"
fi
"$SLUICE" run r.yaml --job_id fs > /dev/null 2>&1
check "resumed with room: export identical to the uninterrupted run" cmp -s o_ref/out.jsonl o_fs/out.jsonl
finish
