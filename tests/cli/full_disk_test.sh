# A full disk: the export and the job directory on a small file system (a tmpfs of a private user and mount
# namespace, so no privileges are needed), filled at several points of the run. Each time the job fails with
# an exit code and a message naming the file and the cause, publishes no export, and damages nothing it
# committed: once room is made (the tmpfs grown), the resume completes with the export of a run that had room.
source "$(dirname "$0")/lib.sh" "$@"
if ! unshare -rm true 2> /dev/null; then
  echo "skipped: no user and mount namespace here (unshare -rm), so no small file system to fill"
  exit 77
fi

make_corpus data.jsonl 3000
write_recipe ref.yaml data.jsonl o_ref/out.jsonl
"$SLUICE" run ref.yaml --job_id ref > /dev/null
# The job directory lives beside the export (small/o/<job_id>): checkpoints, results, events, summary.
write_recipe r.yaml data.jsonl small/o/out.jsonl "  max_retries: 1"

# SIZE: the file system's size when the job starts. Inside the namespace: run, note what is there, grow the
# file system, resume. The tmpfs is gone when the namespace ends, so what the checks need is copied out.
for SIZE in 512k 1m 2m 3m 4m; do
  mkdir -p small "s_$SIZE"
  unshare -rm bash -c '
    SLUICE=$1 OUT=$2 SIZE=$3
    mount -t tmpfs -o size=$SIZE tmpfs small || exit 90
    "$SLUICE" run r.yaml --job_id fd > "$OUT/out1.txt" 2> "$OUT/err1.txt"
    echo $? > "$OUT/rc1"
    if [ -e small/o/out.jsonl ]; then cp small/o/out.jsonl "$OUT/published1.jsonl"; fi
    mount -o remount,size=64m small || exit 91
    "$SLUICE" run r.yaml --job_id fd > "$OUT/out2.txt" 2> "$OUT/err2.txt"
    echo $? > "$OUT/rc2"
    if [ -e small/o/out.jsonl ]; then cp small/o/out.jsonl "$OUT/resumed.jsonl"; fi
    cp small/o/fd/events.jsonl "$OUT/events.jsonl" 2> /dev/null
    true' bash "$SLUICE" "$PWD/s_$SIZE" "$SIZE"
  check "$SIZE: the namespace and its tmpfs were set up" test -f "s_$SIZE/rc1"
  rc1=$(cat "s_$SIZE/rc1")
  check "$SIZE: the full disk fails the job (exit $rc1)" test "$rc1" -ne 0
  check "$SIZE: the error names a file on the full file system and the cause" \
    grep -qE "$PWD/small/[^ ]*': No space left on device" "s_$SIZE/err1.txt"
  check "$SIZE: no export was published" test ! -e "s_$SIZE/published1.jsonl"
  check "$SIZE: an orderly failure, not a crash (exit $rc1; no std::terminate)" \
    bash -c "[ $rc1 -lt 128 ] && ! grep -q 'terminate called' s_$SIZE/err1.txt"
  check "$SIZE: with room, the resume completes (exit $(cat "s_$SIZE/rc2"))" test "$(cat "s_$SIZE/rc2")" -eq 0
  check "$SIZE: the resumed export is the one of a run that had room" cmp -s o_ref/out.jsonl "s_$SIZE/resumed.jsonl"
  if [ "$rc1" -eq 0 ] || ! cmp -s o_ref/out.jsonl "s_$SIZE/resumed.jsonl"; then
    sed "s/^/# $SIZE stderr 1: /" "s_$SIZE/err1.txt"
    sed "s/^/# $SIZE stderr 2: /" "s_$SIZE/err2.txt"
  fi
done
finish
