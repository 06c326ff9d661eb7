# DataJuicer's export format (datajuicer-ops.md §8, docs/compatibility.md "Export"): `__dj__stats__` and
# `__dj__meta__` leave the export unless keep_stats_in_res_ds; both go to the side file `<name>_stats.jsonl`,
# one line per exported record, in the same order, written with the export's guarantees (any np, shards,
# crash and resume give the same bytes); `__dj__suffix__` is added, and kept, when the recipe has suffix_filter.
source "$(dirname "$0")/lib.sh" "$@"

# The corpus: make_corpus (every 11th record carries stats) plus `__dj__meta__` on every 13th record, at
# different places in the object (first, last, beside the stats), and one record that has its own suffix.
make_corpus base.jsonl 4000
python3 - base.jsonl data.jsonl <<'PY'
import json, sys
out = open(sys.argv[2], "w")
for line in open(sys.argv[1]):
    r = json.loads(line)
    i = r["id"]
    if i % 13 == 0:
        meta = {"src": "m%d" % i, "k": [i, None]}
        r = {"__dj__meta__": meta, **r} if i % 2 else {**r, "__dj__meta__": meta}
    if i == 5:
        r["__dj__suffix__"] = ".own"
    out.write(json.dumps(r, ensure_ascii=False) + "\n")
PY

# recipe FILE EXPORT [suffix] [extra top-level lines...]: write_recipe's ops, optionally with suffix_filter.
recipe() {
  local file=$1 export=$2 suffix=$3
  shift 3
  write_recipe "$file" data.jsonl "$export" "$@"
  if [ "$suffix" = suffix ]; then
    printf '%s\n' "  - suffix_filter:" "      suffixes: ['.jsonl', '.own']" >> "$file"
  fi
}

# check_pair EXPORT SIDE: the export has no stats/meta, one side line per record, the side line holds the
# record's stats (text_len at least) and, for records that had it, the input's meta.
check_pair() {
  python3 - "$1" "$2" data.jsonl <<'PY'
import json, sys
exp = [json.loads(l) for l in open(sys.argv[1])]
side = [json.loads(l) for l in open(sys.argv[2])]
src = {r["id"]: r for r in map(json.loads, open(sys.argv[3]))}
assert len(exp) == len(side) and len(exp) > 100, (len(exp), len(side))
for e, s in zip(exp, side):
    assert "__dj__stats__" not in e and "__dj__meta__" not in e, e
    assert list(s)[0] == "__dj__stats__" and "text_len" in s["__dj__stats__"], s
    if "__dj__meta__" in src[e["id"]]:
        assert s["__dj__meta__"] == src[e["id"]]["__dj__meta__"], (s, e["id"])
    else:
        assert "__dj__meta__" not in s, s
PY
}

# --- reference: np 1, no checkpoints, suffix_filter
recipe r.yaml o_ref/out.jsonl suffix
"$SLUICE" run r.yaml --job_id ref --np 1 --checkpoint.strategy disabled > /dev/null
check "side file written beside the export as out_stats.jsonl" test -s o_ref/out_stats.jsonl
check "side file: one line per exported record, stats of each, meta where the input had it" check_pair o_ref/out.jsonl o_ref/out_stats.jsonl
check "nothing else beside the export" test "$(ls o_ref | sort | tr '\n' ' ')" = "out.jsonl out_stats.jsonl ref "
parts=$(json_get o_ref/ref/job_summary.json "d['total_partitions']")
check "the test spans several partitions ($parts)" test "$parts" -ge 4
check "__dj__suffix__ is added to every record, after its other members, and kept" python3 -c "
import json, sys
for l in open('o_ref/out.jsonl'):
    r = json.loads(l)
    want = '.own' if r['id'] == 5 else '.jsonl'
    assert r['__dj__suffix__'] == want and list(r)[-1] == '__dj__suffix__', r
"
check "a record's own __dj__suffix__ keeps its value and place" grep -q '"id": 5, .*"__dj__suffix__": ".own"' o_ref/out.jsonl

# --- np, partitioning and checkpoints do not change either file
for np in 1 2; do
  for s in every_op every_partition; do
    recipe r.yaml "o_${np}_$s/out.jsonl" suffix
    "$SLUICE" run r.yaml --job_id j --np $np --checkpoint.strategy $s > /dev/null
    check "np $np, $s: export identical" cmp -s o_ref/out.jsonl "o_${np}_$s/out.jsonl"
    check "np $np, $s: side file identical" cmp -s o_ref/out_stats.jsonl "o_${np}_$s/out_stats.jsonl"
  done
done
check "checkpoints keep stats and meta (a resume and later ops need them)" \
  test -n "$(cat o_2_every_op/j/checkpoints/partition_000000/op_000_* | zstd -qdcf | grep -F '"__dj__meta__"' | grep -F '"__dj__stats__"' | head -1)"
recipe r.yaml o_small/out.jsonl suffix
sed -i 's/max_size_mb: 0.25/max_size_mb: 0.06/' r.yaml
"$SLUICE" run r.yaml --job_id j --np 2 > /dev/null
check "smaller partitions ($(json_get o_small/j/job_summary.json "d['total_partitions']")): same export" cmp -s o_ref/out.jsonl o_small/out.jsonl
check "smaller partitions: same side file" cmp -s o_ref/out_stats.jsonl o_small/out_stats.jsonl

# --- a finished job run again: nothing recomputed, both files untouched
before=$(stat -c %Y.%i o_1_every_op/out.jsonl o_1_every_op/out_stats.jsonl | tr '\n' ' ')
recipe r.yaml o_1_every_op/out.jsonl suffix
"$SLUICE" run r.yaml --job_id j --np 1 --checkpoint.strategy every_op > /dev/null
check "rerun of a finished job: export and side file untouched" \
  test "$(stat -c %Y.%i o_1_every_op/out.jsonl o_1_every_op/out_stats.jsonl | tr '\n' ' ')" = "$before"
# A damaged side file is repaired like a damaged export.
truncate -s 100 o_1_every_op/out_stats.jsonl
"$SLUICE" run r.yaml --job_id j --np 1 --checkpoint.strategy every_op > /dev/null
check "truncated side file repaired by a rerun" cmp -s o_ref/out_stats.jsonl o_1_every_op/out_stats.jsonl
check "... and the export is unchanged" cmp -s o_ref/out.jsonl o_1_every_op/out.jsonl

# --- keep_stats_in_res_ds: both stay in the export; the side file is written all the same
recipe r.yaml o_keep/out.jsonl suffix "keep_stats_in_res_ds: true"
"$SLUICE" run r.yaml --job_id k --np 2 > /dev/null
check "keep_stats_in_res_ds: side file identical" cmp -s o_ref/out_stats.jsonl o_keep/out_stats.jsonl
check "keep_stats_in_res_ds: export keeps stats and meta, equal to the side file's" python3 -c "
import json
for a, s in zip(open('o_keep/out.jsonl'), open('o_keep/out_stats.jsonl')):
    a, s = json.loads(a), json.loads(s)
    assert a['__dj__stats__'] == s['__dj__stats__'], (a, s)
    assert a.get('__dj__meta__') == s.get('__dj__meta__'), (a, s)
print(end='')
"
check "keep_stats_in_res_ds: without stats and meta the records equal the default export" python3 -c "
import json
for a, b in zip(open('o_keep/out.jsonl'), open('o_ref/out.jsonl')):
    a, b = json.loads(a), json.loads(b)
    a.pop('__dj__stats__'); a.pop('__dj__meta__', None)
    assert a == b, (a, b)
"

# --- without suffix_filter: no __dj__suffix__ (other than the record that has its own)
recipe r.yaml o_nosuf/out.jsonl nosuffix
"$SLUICE" run r.yaml --job_id n --np 2 > /dev/null
check "no suffix_filter: __dj__suffix__ only where the input had it" test "$(grep -c '__dj__suffix__' o_nosuf/out.jsonl)" -eq 1
check "no suffix_filter: same side file" cmp -s o_ref/out_stats.jsonl o_nosuf/out_stats.jsonl

# --- sharded export: one side file named after export_path, in shard order
recipe r.yaml o_sh/res.jsonl suffix "export_shard_size: 200000"
"$SLUICE" run r.yaml --job_id sh --np 2 > /dev/null
check "sharded: several shards ($(ls o_sh/res-*-of-*.jsonl | wc -l))" test "$(ls o_sh/res-*-of-*.jsonl | wc -l)" -ge 2
check "sharded: shards concatenate to the export" cmp -s o_ref/out.jsonl <(cat o_sh/res-*-of-*.jsonl)
check "sharded: res_stats.jsonl equals the single-file side file" cmp -s o_ref/out_stats.jsonl o_sh/res_stats.jsonl

# --- zstd export: the side file is compressed the same way
recipe r.yaml o_z/out.jsonl.zst suffix
"$SLUICE" run r.yaml --job_id z --np 2 > /dev/null
check "zstd export: out_stats.jsonl.zst decompresses to the side file" cmp -s o_ref/out_stats.jsonl <(zstd -qdc o_z/out_stats.jsonl.zst)

# --- crashes anywhere in the final stage: both files byte-identical after the resume
for np in 1 2; do
  for pt in result_commit:2 manifest_commit:3 partition_start:4 export_write:1; do
    recipe r.yaml "o_c_${np}_${pt%%:*}/out.jsonl" suffix
    set +e
    SLUICE_CRASH_AT=$pt "$SLUICE" run r.yaml --job_id c --np $np --checkpoint.strategy disabled > /dev/null 2>&1
    set -e
    run_until_done r.yaml c --np $np --checkpoint.strategy disabled || true
    check "np $np crash at $pt: export identical after resume" cmp -s o_ref/out.jsonl "o_c_${np}_${pt%%:*}/out.jsonl"
    check "np $np crash at $pt: side file identical after resume" cmp -s o_ref/out_stats.jsonl "o_c_${np}_${pt%%:*}/out_stats.jsonl"
  done
done
recipe r.yaml o_sc/res.jsonl suffix "export_shard_size: 200000"
set +e
SLUICE_CRASH_AT=manifest_commit:3 "$SLUICE" run r.yaml --job_id c --np 2 > /dev/null 2>&1
set -e
run_until_done r.yaml c --np 2 || true
check "sharded, crash and resume: same side file" cmp -s o_ref/out_stats.jsonl o_sc/res_stats.jsonl

# --- no op adds a column: a side file only if the input carried stats or meta
cat > m.yaml <<EOF
project_name: clitest
dataset_path: data.jsonl
export_path: o_m/out.jsonl
np: 2
partition:
  max_size_mb: 0.25
process:
  - clean_email_mapper:
EOF
"$SLUICE" run m.yaml --job_id m > /dev/null
check "mapper-only recipe over input with stats and meta: side file with a line per record" \
  test "$(wc -l < o_m/out_stats.jsonl)" -eq "$(wc -l < o_m/out.jsonl)"
check "... holding only what each record had ({} for the others)" python3 -c "
import json
src = [json.loads(l) for l in open('data.jsonl')]
for r, s in zip(src, open('o_m/out_stats.jsonl')):
    s = json.loads(s)
    want = {k: r[k] for k in ('__dj__stats__', '__dj__meta__') if k in r}
    assert s == want, (s, want)
"
python3 -c "
import json
for l in open('data.jsonl'):
    r = json.loads(l); r.pop('__dj__stats__', None); r.pop('__dj__meta__', None); print(json.dumps(r))
" > plain.jsonl
sed -e 's/data.jsonl/plain.jsonl/' -e 's#o_m/#o_p/#' m.yaml > p.yaml
"$SLUICE" run p.yaml --job_id p > /dev/null
check "mapper-only recipe over plain input: no side file" test ! -e o_p/out_stats.jsonl
check "... and nothing else beside the export" test "$(ls o_p | sort | tr '\n' ' ')" = "out.jsonl p "
before=$(stat -c %Y.%i o_p/out.jsonl)
"$SLUICE" run p.yaml --job_id p > /dev/null
check "... a rerun of it recomputes nothing" test "$(stat -c %Y.%i o_p/out.jsonl)" = "$before" -a ! -e o_p/out_stats.jsonl

# --- a tagging mapper: its __dj__meta__ goes to the side file, not the export; field filters still read it
python3 -c "
import json
for i in range(40):
    t = '<table><tr><td>a%d</td><td>b</td></tr></table> row %d' % (i, i) if i % 2 else 'no table here %d' % i
    print(json.dumps({'text': t, 'i': i}))
" > html.jsonl
cat > h.yaml <<EOF
project_name: clitest
dataset_path: html.jsonl
export_path: o_h/out.jsonl
process:
  - extract_tables_from_html_mapper:
  - general_field_filter:
      filter_condition: "i >= 10"
EOF
"$SLUICE" run h.yaml --job_id h > /dev/null
check "tagging mapper: meta dropped from the export" test "$(grep -c __dj__meta__ o_h/out.jsonl || true)" -eq 0
check "tagging mapper: side file holds the tables of every exported record" python3 -c "
import json
exp = [json.loads(l) for l in open('o_h/out.jsonl')]
side = [json.loads(l) for l in open('o_h/out_stats.jsonl')]
assert len(exp) == len(side) == 30, (len(exp), len(side))
for e, s in zip(exp, side):
    want = [[['a%d' % e['i'], 'b']]] if e['i'] % 2 else []
    assert s['__dj__meta__']['html_tables'] == want, (e, s)
"

# --- keep_stats_in_res_ds and a record no filter wrote a stat for (general_field_filter with an empty
# condition writes none): DataJuicer adds the __dj__stats__ column ({}) before the filter runs, so the export
# has "__dj__stats__":{} for it, after the record's members and an added suffix, where computed stats go;
# the side file has {} for it too. Whatever np and checkpoints.
printf '%s\n' '{"text": "a", "i": 0}' '{"i": 1, "__dj__stats__": {"x": 1.50}, "text": "b"}' '{"text": "c", "i": 2}  ' > g.jsonl
printf '%s\n' '{"text": "a", "i": 0,"__dj__stats__":{}}' '{"i": 1, "__dj__stats__": {"x": 1.50}, "text": "b"}' \
  '{"text": "c", "i": 2,"__dj__stats__":{}}' > g_want.jsonl
printf '%s\n' '{"__dj__stats__":{}}' '{"__dj__stats__":{"x": 1.50}}' '{"__dj__stats__":{}}' > g_side.jsonl
for layout in "np: 1|checkpoint:|  strategy: disabled" "np: 2|partition:|  size: 1|checkpoint:|  strategy: every_op"; do
  rm -rf o_g
  { echo "project_name: g"; echo "dataset_path: g.jsonl"; echo "export_path: o_g/out.jsonl"
    echo "keep_stats_in_res_ds: true"; tr '|' '\n' <<< "$layout"
    printf '%s\n' "process:" "  - clean_email_mapper:" "  - general_field_filter:" "      filter_condition: ''"; } > g.yaml
  "$SLUICE" run g.yaml --job_id g > /dev/null
  check "no stat written ($layout): the export has \"__dj__stats__\":{} after the record's members" cmp o_g/out.jsonl g_want.jsonl
  check "no stat written ($layout): the side file has {} for it" cmp o_g/out_stats.jsonl g_side.jsonl
done
sed -i "s/clean_email_mapper:/suffix_filter:\n      suffixes: ['.jsonl']/" g.yaml
rm -rf o_g
"$SLUICE" run g.yaml --job_id g > /dev/null
check "no stat written, with suffix_filter: {} after the added __dj__suffix__" \
  test "$(head -1 o_g/out.jsonl)" = '{"text": "a", "i": 0,"__dj__suffix__":".jsonl","__dj__stats__":{}}'
sed -i '/keep_stats_in_res_ds/d' g.yaml
rm -rf o_g
"$SLUICE" run g.yaml --job_id g > /dev/null
check "no stat written, without keep_stats_in_res_ds: no __dj__stats__ in the export" \
  test "$(grep -c __dj__stats__ o_g/out.jsonl || true)" -eq 0
finish
