# suffix_filter over a directory input: records without `__dj__suffix__` get DataJuicer's loader value, "."
# + the file's last suffix (its last two for zstd), and records that carry the field keep theirs.
source "$(dirname "$0")/lib.sh" "$@"
mkdir in
printf '{"text":"from a jsonl file"}\n{"text":"carries its own","__dj__suffix__":".txt"}\n' > in/a.jsonl
printf '{"text":"from a zstd file"}\n' | zstd -q -o in/b.jsonl.zst
run() {  # suffixes... -> kept texts, sorted
  { echo "dataset_path: in"; echo "export_path: o_$1/out.jsonl"; echo "process:"; echo "  - suffix_filter:"
    echo "      suffixes: [$2]"; } > r.yaml
  "$SLUICE" run r.yaml > /dev/null
  python3 -c "import json,sys; print('|'.join(sorted(json.loads(l)['text'] for l in open(sys.argv[1]))))" "o_$1/out.jsonl"
}
check "the .jsonl file's records" test "$(run 1 "'.jsonl'")" = "from a jsonl file"
check "a zstd file has a two-part suffix" test "$(run 2 "'.jsonl.zst'")" = "from a zstd file"
check "a record's own __dj__suffix__ wins" test "$(run 4 "'.txt', '.jsonl.zst'")" = "carries its own|from a zstd file"
finish
