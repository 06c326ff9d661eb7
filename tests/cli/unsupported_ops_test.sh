# DataJuicer ops sluice cannot build (docs/compatibility.md) are refused by name at load, with the reason,
# not as a misspelling of another op.
source "$(dirname "$0")/lib.sh" "$@"

echo '{"text": "a sentence"}' > data.jsonl
for op in text_action_filter text_entity_dependency_filter; do
  printf '%s\n' "dataset_path: data.jsonl" "export_path: o/out.jsonl" "process:" "  - $op:" > r.yaml
  set +e
  msg=$("$SLUICE" run r.yaml --dry-run 2>&1)
  rc=$?
  set -e
  check "$op: refused as a usage error (exit $rc)" test $rc -eq 2
  check "$op: the message names spaCy and Debian 12" grep -qF "op '$op' requires spaCy, which is not packaged in Debian 12; see docs/compatibility.md" <<< "$msg"
  check "$op: no did-you-mean" test -z "$(grep -F 'did you mean' <<< "$msg" || true)"
  check "$op: nothing was run" test ! -e o/out.jsonl
done
finish
