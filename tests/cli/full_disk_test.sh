# A full disk: the export and the job directory on a small file system (a tmpfs of a private user and mount
# namespace, so no privileges are needed), filled at several points of the run. Each time the job fails with
# exit 4 and a message naming the file and the cause, publishes no export, and damages nothing it
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

# SIZE: the file system's size when the job starts, a share of what the reference run left on disk (its
# export and job directory; tmpfs also rounds every file up to whole pages), so that each run fills it at a
# different point. Inside the namespace: run, note what is there, grow the file system, resume. The tmpfs is
# gone when the namespace ends, so what the checks need is copied out.
NEED=$(du -sb o_ref | cut -f1)
for PCT in 10 25 45 65 85; do
  SIZE=$(( NEED * PCT / 100 / 4096 * 4096 ))
  mkdir -p small "s_$PCT"
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
    true' bash "$SLUICE" "$PWD/s_$PCT" "$SIZE"
  check "$PCT%: the namespace and its tmpfs of $SIZE bytes were set up" test -f "s_$PCT/rc1"
  rc1=$(cat "s_$PCT/rc1")
  check "$PCT%: the full disk fails the job with exit 4, whichever write met it (exit $rc1)" test "$rc1" -eq 4
  check "$PCT%: the error names a file on the full file system and the cause" \
    grep -qE "$PWD/small/[^ ]*': No space left on device" "s_$PCT/err1.txt"
  check "$PCT%: no export was published" test ! -e "s_$PCT/published1.jsonl"
  check "$PCT%: an orderly failure, not a crash (exit $rc1; no std::terminate)" \
    bash -c "[ $rc1 -lt 128 ] && ! grep -q 'terminate called' s_$PCT/err1.txt"
  check "$PCT%: with room, the resume completes (exit $(cat "s_$PCT/rc2"))" test "$(cat "s_$PCT/rc2")" -eq 0
  check "$PCT%: the resumed export is the one of a run that had room" cmp -s o_ref/out.jsonl "s_$PCT/resumed.jsonl"
  if [ "$rc1" -eq 0 ] || ! cmp -s o_ref/out.jsonl "s_$PCT/resumed.jsonl"; then
    sed "s/^/# $PCT% stderr 1: /" "s_$PCT/err1.txt"
    sed "s/^/# $PCT% stderr 2: /" "s_$PCT/err2.txt"
  fi
done
finish
