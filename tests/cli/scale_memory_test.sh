# Memory at scale: inputs whose size or shape once broke the bound on peak RSS (README: 2 x np x partition
# size + 200 MB; docs/partitioning.md "Records larger than a partition"), and the limit on one line.
source "$(dirname "$0")/lib.sh" "$@"

# peak_rss_mb CMD...: runs CMD, sets RC and RSS (MiB, GNU time's maximum resident set size).
peak_rss_mb() {
  set +e
  /usr/bin/time -f "%M" -o rss.txt "$@" > out.txt 2> err.txt
  RC=$?
  set -e
  RSS=$(( $(tail -n 1 rss.txt) / 1024 ))
}

recipe() {  # file data export [process lines...]
  local f=$1 d=$2 e=$3
  shift 3
  { echo "dataset_path: $d"; echo "export_path: $e"; echo "np: 2"; echo "process:"; printf '%s\n' "$@"; } > "$f"
}

# 1. A deduplicator's fingerprints stream to their file: a minhash of 64 bands is 512 bytes per record, 40x
# these short records, and was held in memory for the whole partition (~100 MB here, 2 GB for 127 MB of input).
python3 - short.jsonl <<'PY'
import random, sys
random.seed(3)
w = "alpha beta gamma delta eps zeta eta theta iota kappa".split()
with open(sys.argv[1], "w") as f:
    for i in range(200000):
        f.write('{"text":"%s"}\n' % " ".join(random.choice(w) for _ in range(3)))
PY
recipe m.yaml short.jsonl m_out/out.jsonl "  - document_minhash_deduplicator:" "      num_permutations: 64" \
  "      num_bands: 64" "      num_rows_per_band: 1" "      window_size: 1"
SLUICE_DEDUP_MEMORY_MB=4 peak_rss_mb "$SLUICE" run m.yaml --work_dir mw
check "minhash with 64 bands: the job succeeds (exit $RC)" test "$RC" -eq 0
check "... and its peak RSS stays small ($RSS MiB for 200,000 fingerprints of 512 bytes)" test "$RSS" -lt 80
check "... and the decision's spill runs are gone" test -z "$(find mw -name '*_spill*')"
mv m_out/out.jsonl spilled.jsonl
peak_rss_mb "$SLUICE" run m.yaml --work_dir mw2
check "... keeping what the default budget's decision keeps" cmp -s spilled.jsonl m_out/out.jsonl
check "... which drops some" test "$(wc -l < spilled.jsonl)" -lt 200000

# 2. A line without end (a decompression bomb: 256 MB of one line in 250 KB of gzip) stops at
# SLUICE_MAX_RECORD_MB with file and line, holding about that much, and fast (it was rescanned after every
# read: quadratic).
{ echo '{"text":"first"}'; head -c 268435456 /dev/zero | tr '\0' 'a'; } | gzip -1 > bomb.jsonl.gz
recipe b.yaml bomb.jsonl.gz b_out/out.jsonl "  - text_length_filter:" "      min_len: 1"
SLUICE_MAX_RECORD_MB=8 peak_rss_mb "$SLUICE" run b.yaml --work_dir bw
check "bomb: exit 3" test "$RC" -eq 3
check "... naming file, line and the limit" grep -q "bomb.jsonl.gz:2: line longer than 8388608 bytes, the longest record sluice reads (SLUICE_MAX_RECORD_MB)" err.txt
check "... within memory ($RSS MiB)" test "$RSS" -lt 120
check "... and no export" test ! -e b_out/out.jsonl
SLUICE_MAX_RECORD_MB=8 peak_rss_mb "$SLUICE" run b.yaml --work_dir bw2 --dry-run
check "bomb, --dry-run: exit 3 naming file and line" grep -q "bomb.jsonl.gz:2: line longer than 8388608 bytes" err.txt
SLUICE_MAX_RECORD_MB=abc peak_rss_mb "$SLUICE" run b.yaml --work_dir bw3
check "SLUICE_MAX_RECORD_MB=abc: exit 2" test "$RC" -eq 2
check "... saying what it wants" grep -q "SLUICE_MAX_RECORD_MB must be a positive number, got 'abc'" err.txt
check "... before anything is created: no work_dir, no job directory" test ! -e bw3
# Without the limit the whole line is read (in seconds: it was 80 s for 1 GB) and refused by the parser.
peak_rss_mb "$SLUICE" run b.yaml --work_dir bw4
check "bomb without the limit: exit 3 at line 2" grep -q "bomb.jsonl.gz:2: expected a JSON object per line" err.txt

# 3. A long line in a later partition of a plain file: its line number counts the lines before the partition.
python3 - long.jsonl <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(3000):
        f.write('{"text":"%s"}\n' % ("r%d " % i * 40))
    f.write('{"text":"%s"}\n' % ("y" * (3 << 20)))
    f.write('{"text":"after"}\n')
PY
recipe l.yaml long.jsonl l_out/out.jsonl "  - text_length_filter:" "      min_len: 1"
echo "partition:" >> l.yaml
echo "  max_size_mb: 0.1" >> l.yaml
SLUICE_MAX_RECORD_MB=1 peak_rss_mb "$SLUICE" run l.yaml --work_dir lw
check "long line in a later partition: exit 3 at long.jsonl:3001" grep -q "long.jsonl:3001: line longer than 1048576 bytes" err.txt

# 4. Records larger than a partition pass through unchanged, at np 2, between small ones; the workers' buffers
# that grew for them are given back (a huge record is held about 3 times: docs/partitioning.md).
python3 - huge.jsonl <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(2000):
        f.write('{"id":%d,"text":"small record %d"}\n' % (i, i))
        if i % 700 == 0:
            f.write('{"id":-1,"text":"%s","arr":[%s1]}\n' % ("h" * (24 << 20), "1," * (4 << 20)))
PY
recipe h.yaml huge.jsonl h_out/out.jsonl "  - text_length_filter:" "      min_len: 1"
echo "partition:" >> h.yaml
echo "  max_size_mb: 1" >> h.yaml
peak_rss_mb "$SLUICE" run h.yaml --work_dir hw
check "huge records: exit 0" test "$RC" -eq 0
check "... the export is the input" cmp -s huge.jsonl h_out/out.jsonl
check "... within 5 x np x the largest record + 200 MiB ($RSS MiB)" test "$RSS" -lt $(( 5 * 2 * 33 + 200 ))

# 5. Under a memory limit (ulimit -v) a job either succeeds with the same export or fails naming the cause:
# memory or a refused thread was std::terminate (exit 134, "terminate called after throwing std::bad_alloc").
python3 - mid.jsonl <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(20000):
        f.write('{"text":"%s"}\n' % ("words of record %d " % i * 60))
PY
recipe u.yaml mid.jsonl u_out/out.jsonl "  - whitespace_normalization_mapper:" "  - words_num_filter:" "      min_num: 1"
printf 'fault_tolerance:\n  retry_base_seconds: 0.01\n' >> u.yaml
"$SLUICE" run u.yaml --work_dir uw > /dev/null 2>&1
mv u_out/out.jsonl unlimited.jsonl
for kb in 100000 150000 250000 400000; do
  set +e
  (ulimit -v $kb; exec "$SLUICE" run u.yaml --work_dir "uw$kb") > out.txt 2> err.txt
  RC=$?
  set -e
  if [ $RC -eq 0 ]; then check "ulimit -v $kb: exit 0 with the same export" cmp -s unlimited.jsonl u_out/out.jsonl
  else check "ulimit -v $kb: exit 1 (not $RC) naming memory or threads" \
      grep -qE "out of memory running .*mid.jsonl|a limit on threads or memory" err.txt; fi
  rm -f u_out/out.jsonl
done

finish
