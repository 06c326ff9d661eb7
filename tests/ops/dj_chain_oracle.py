#!/usr/bin/env python3
"""Differential test of sluice's op CHAINS against an independent Python oracle (ctest cli.dj_chain_test).

dj_oracle.py checks every rule-based text op alone. In a recipe of many ops sluice fuses the ops into one pass,
shares a per-record analysis of the text between the filters of a run of filters, caches stats in
__dj__stats__, resolves a text_key per op and splits the chain into stages at deduplicators and selectors;
none of that shows in a one-op recipe. This oracle generates seeded random recipes of 2-12 ops drawn from the
ops dj_oracle.py implements and runs them here with DataJuicer's chain semantics, written from
/work/shared/reference/datajuicer-ops.md §1 (not from sluice's C++):
  - ops run strictly in recipe order, each on the previous op's output (§1.2); a dropped sample reaches no
    later op;
  - every op reads and writes sample[text_key], its own `text_key` or the recipe's first `text_keys` (§7);
  - before a filter runs, a sample without __dj__stats__ gets {} (§7 "How a Filter runs"; not suffix_filter,
    NON_STATS §1.1); a filter whose stats key is already in __dj__stats__ -- from the input, from an earlier
    filter, from a filter on another text key or with other parameters -- reuses it and does not recompute,
    even if a mapper changed the text since (§1.3);
  - text_chunk_mapper copies every other field, __dj__stats__ included, to each chunk (§1.2);
  - a document_deduplicator named again reuses the `__dj__hash` the first one left in every sample (taken
    from DataJuicer's document_deduplicator.compute_hash, which skips a sample holding one; the reference
    does not say it), so it keeps one sample per hash: all of them unless text_chunk_mapper copied one
    (sluice refuses that recipe, so none is generated);
  - deduplicators and selectors decide over the samples that reach them, in their order; selectors keep
    input order in sluice (docs/compatibility.md, "Selectors keep input order"); a sample an op fails on is
    dropped alone (skip_op_error; sluice's documented granularity);
  - with suffix_filter in the recipe every sample gets __dj__suffix__ at load (§1.6).

Contract:
  dj_chain_oracle.py prepare WORKDIR   writes WORKDIR/input.jsonl (dj_oracle.py's corpus plus a second text
                                       field `alt`), WORKDIR/words/, WORKDIR/plan.json (the generated recipes)
                                       and for each recipe two runs, WORKDIR/recipes/NAME_np1.yaml (np 1, one
                                       partition) and NAME_np2.yaml (np 2, small partitions, a checkpoint
                                       strategy that varies), their names in WORKDIR/configs.txt.
                                       DJ_CHAIN_SEED (default 1) and DJ_CHAIN_RECIPES (default 48) choose the
                                       random recipes (a soak: DJ_CHAIN_RECIPES=400 DJ_CHAIN_SEED=7); the
                                       FIXED_RECIPES come first in every run.
  dj_chain_oracle.py compare WORKDIR   runs every recipe here and compares sluice's export of each run
                                       (WORKDIR/out/RUN/out.jsonl, keep_stats_in_res_ds) record by record:
                                       kept set and order, every field (the texts included), every stat's value
                                       and type; a run must fail exactly where the oracle's selector fails.
                                       Prints `N recipes, M records compared, K differences` and, for each
                                       failing run, its recipe and first differing records (DJ_CHAIN_SHOW,
                                       default 1); exit 1 on any difference ALLOWED does not list.
                                       DJ_CHAIN_ONLY (a regex over recipe names) compares a subset.
  dj_chain_oracle.py selftest          the chain semantics on hand-made chains whose results §1.3 states.

The records of dj_oracle.py's `unicode15` source are left out: each op's Unicode-version difference is known
and allowed there (docs/compatibility.md "Unicode versions"), and in a chain it would cascade through
deduplicators and selectors into records that have no such character.
"""
import json
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dj_oracle as O  # noqa: E402
import dj_oracle_dataset as D  # noqa: E402

ALT = "alt"
RANGE_PARAMS = ("min_closed_interval", "max_closed_interval", "reversed_range")

# =============================================================================================================
# Chain semantics


def copy_sample(s):
    """A sample whose __dj__stats__ can be written without touching `s` (the other fields are never mutated)."""
    c = dict(s)
    if isinstance(c.get("__dj__stats__"), dict):
        c["__dj__stats__"] = dict(c["__dj__stats__"])
    return c


class ChainFilter(O.Filter):
    """dj_oracle's filter, with its stat memoized per (stat parameters, text) across recipes: the same
    configuration meets the same texts in many recipes."""
    MEMO = {}

    def __init__(self, op, params, words_dir):
        super().__init__(op, params, words_dir)
        own = {k: v for k, v in params.items() if k not in RANGE_PARAMS and k != "text_key"
               and not k.startswith(("min_", "max_"))}
        self.stat_id = (op, json.dumps(own, sort_keys=True))

    def stat(self, text):
        key = (self.stat_id, text)
        if key not in self.MEMO:
            self.MEMO[key] = super().stat(text)
        return self.MEMO[key]


MAPPER_MEMO = {}


def mapper_of(op, params):
    key = (op, json.dumps(params, sort_keys=True))
    if key not in MAPPER_MEMO:
        fn = O.make_mapper(op, {k: v for k, v in params.items() if k != "text_key"})
        memo = {}

        def mapped(text, fn=fn, memo=memo):
            if text not in memo:
                memo[text] = fn(text)
            return memo[text]
        MAPPER_MEMO[key] = mapped
    return MAPPER_MEMO[key]


def kind(op):
    if op in D.DEDUPS:
        return "dedup"
    if op.endswith("_selector"):
        return "selector"
    return "filter" if op.endswith("_filter") else "mapper"


class JobFails(Exception):
    """DataJuicer's selector fails on the dataset: the sluice job must fail."""


def run_chain(records, text_keys, ops, words_dir):
    """The samples a recipe exports, in order (each a dict), or raises JobFails."""
    default_key = text_keys[0]
    samples = [copy_sample(r) for r in records]
    hashes = set()  # the __dj__hash tokens given out
    if any(op == "suffix_filter" for op, _ in ops):
        for s in samples:
            # Only the one input file: its suffix, for a record that does not carry one (§1.6).
            s.setdefault("__dj__suffix__", ".jsonl")
    for op, params in ops:
        key = params.get("text_key", default_key)
        k = kind(op)
        if k == "mapper":
            fn = mapper_of(op, params)
            out = []
            for s in samples:
                texts = fn(s[key])
                for t in texts:
                    c = s if len(texts) == 1 else copy_sample(s)  # text_chunk_mapper: each chunk a copy
                    c[key] = t
                    out.append(c)
            samples = out
        elif k == "filter":
            f = ChainFilter(op, params, words_dir)
            out = []
            for s in samples:
                if op != "suffix_filter" and not isinstance(s.get("__dj__stats__"), dict):
                    s["__dj__stats__"] = {}
                stats, keep = f.run(s, s[key])
                if keep is None:
                    continue  # the op failed on this sample: dropped (skip_op_error)
                if stats:
                    s["__dj__stats__"].update(stats)
                if keep:
                    out.append(s)
            samples = out
        elif k == "dedup":
            if op == "document_deduplicator" and samples and all("__dj__hash" in s for s in samples):
                seen = set()
                kept = [not (s["__dj__hash"] in seen or seen.add(s["__dj__hash"])) for s in samples]
            else:
                kept, _ = D.DEDUPS[op](params).decide([s[key] for s in samples])
            samples = [s for s, keep in zip(samples, kept) if keep]
            if op == "document_deduplicator":  # the kept samples' hashes are distinct: a token stands for each
                for s in samples:
                    s.setdefault("__dj__hash", len(hashes))
                    hashes.add(s["__dj__hash"])
        else:
            try:
                chosen = D.select(op, params, samples)
            except D.DatasetError as e:
                raise JobFails(str(e))
            samples = [samples[i] for i in sorted(chosen)]
    for s in samples:
        s.pop("__dj__hash", None)  # the export drops the hash columns (no keep_hashes_in_res_ds)
    return samples


# =============================================================================================================
# Random recipes

WORDS = O.WORDS


def pick(rng, *choices):
    return rng.choice(choices)


def bounds(rng, lo_name, los, hi_name, his):
    """Random bounds, mostly lenient (a chain of strict filters would keep nothing), sometimes open or
    reversed."""
    p = {}
    lo, hi = rng.choice(los), rng.choice(his)
    if lo is not None:
        p[lo_name] = lo
    if hi is not None:
        p[hi_name] = hi
    if rng.random() < 0.1:
        p["min_closed_interval"] = False
    if rng.random() < 0.1:
        p["max_closed_interval"] = False
    if rng.random() < 0.08:
        p["reversed_range"] = True
    return p


def random_range_filter(rng, op):
    if op == "text_length_filter":
        return bounds(rng, "min_len", (None, 0, 1, 10, 20, 50, 100), "max_len", (None, 200, 1000, 5000, 100000))
    if op == "words_num_filter":
        return bounds(rng, "min_num", (None, 0, 1, 3, 5, 10), "max_num", (None, 50, 200, 1000))
    if op == "alphanumeric_filter":
        return bounds(rng, "min_ratio", (None, 0.0, 0.1, 0.25, 0.5), "max_ratio", (None, 0.8, 0.9, 1.0))
    if op == "average_line_length_filter":
        return bounds(rng, "min_len", (None, 0, 5, 10, 20), "max_len", (None, 80, 200, 1000))
    if op == "maximum_line_length_filter":
        return bounds(rng, "min_len", (None, 0, 5, 10), "max_len", (None, 100, 500, 3000))
    if op in ("character_repetition_filter", "word_repetition_filter"):
        p = bounds(rng, "min_ratio", (None, 0.0, 0.05), "max_ratio", (None, 0.3, 0.5, 0.8, 1.0))
        rep = rng.choice((None, 1, 2, 3, 5, 10))
        if rep is not None:
            p["rep_len"] = rep
        return p
    if op == "special_characters_filter":
        return bounds(rng, "min_ratio", (None, 0.0, 0.01), "max_ratio", (None, 0.25, 0.5, 0.9))
    if op == "flagged_words_filter":
        p = bounds(rng, "min_ratio", (None, 0.0), "max_ratio", (None, 0.0, 0.01, 0.045, 0.2))
        p.update(flagged_words_dir=WORDS, lang=pick(rng, "en", "zh", "all"))
        if rng.random() < 0.3:
            p["use_words_aug"] = True
        return p
    if op == "stopwords_filter":
        p = bounds(rng, "min_ratio", (None, 0.0, 0.05, 0.1, 0.3), "max_ratio", (None, 0.8, 1.0))
        p.update(stopwords_dir=WORDS, lang=pick(rng, "en", "zh", "all"))
        if rng.random() < 0.3:
            p["use_words_aug"] = True
        return p
    raise AssertionError(op)


RANGE_FILTERS = ["text_length_filter", "words_num_filter", "alphanumeric_filter", "average_line_length_filter",
                 "maximum_line_length_filter", "character_repetition_filter", "word_repetition_filter",
                 "special_characters_filter", "flagged_words_filter", "stopwords_filter"]
FIELD_FILTERS = [(op, p) for _, op, p in O.CONFIGS
                 if op in ("suffix_filter", "specified_field_filter", "specified_numeric_field_filter",
                           "general_field_filter")]
# Conditions over stats an earlier filter of the chain computed (or the input carries).
FIELD_FILTERS += [
    ("general_field_filter", {"filter_condition": "__dj__stats__.text_len > 30 or __dj__stats__.alnum_ratio >= 0.5"}),
    ("general_field_filter", {"filter_condition": "__dj__stats__.num_words <= 400 and text != ''"}),
    ("general_field_filter", {"filter_condition": "__dj__stats__.word_rep_ratio < 0.3 or meta.num > 2"}),
    ("general_field_filter", {"filter_condition": "alt < text or __dj__stats__.max_line_length < 120"}),
    # The text fields by name, as the mappers before (on either text key) left them.
    ("general_field_filter", {"filter_condition": "alt != '' and text >= 'T'"}),
    ("specified_field_filter", {"field_key": "text", "target_value": ["", " "], "reversed_range": True}),
    ("specified_field_filter", {"field_key": "alt", "target_value": [""], "reversed_range": True}),
]
MAPPERS = [(op, p) for _, op, p in O.CONFIGS if not op.endswith("_filter") and op != "text_chunk_mapper"]
CHUNKERS = [{"max_len": 2000, "split_pattern": None}, {"max_len": 1500, "overlap_len": 100},
            {"max_len": 3000, "split_pattern": "\n\n"}, {"split_pattern": "\n\n\n"}]
STAT_KEYS = {"text_length_filter": "text_len", "words_num_filter": "num_words", "alphanumeric_filter": "alnum_ratio",
             "average_line_length_filter": "avg_line_length", "maximum_line_length_filter": "max_line_length",
             "character_repetition_filter": "char_rep_ratio", "word_repetition_filter": "word_rep_ratio",
             "special_characters_filter": "special_char_ratio"}


def random_barrier(rng, stats_before):
    """A deduplicator or selector. Selectors read this corpus's meta fields or a stat an earlier filter
    computed (`stats_before`): before any filter some samples have no __dj__stats__, which DataJuicer cannot
    enter (docs/compatibility.md), and a stat no sample has fails the job in both."""
    r = rng.random()
    if r < 0.4:
        p = {}
        if rng.random() < 0.4:
            p["lowercase"] = True
        if rng.random() < 0.4:
            p["ignore_non_character"] = True
        return "document_deduplicator", p
    keys = ["meta.num", "meta.ratio"]
    if stats_before and rng.random() < 0.6:  # the chain's own stats, those the filters before computed
        keys = ["__dj__stats__." + k for k in stats_before]
    op = pick(rng, "topk_specified_field_selector", "range_specified_field_selector",
              "frequency_specified_field_selector", "tags_specified_field_selector", "random_selector")
    if op == "topk_specified_field_selector":
        p = {"field_key": rng.choice(keys)}
        if rng.random() < 0.5:
            p["top_ratio"] = pick(rng, 0.3, 0.5, 0.8, 0.95)
        if "top_ratio" not in p or rng.random() < 0.3:
            p["topk"] = rng.randint(200, 2500)
        if rng.random() < 0.3:
            p["reverse"] = False
        return op, p
    if op == "range_specified_field_selector":
        p = {"field_key": rng.choice(keys), "lower_percentile": pick(rng, 0.0, 0.05, 0.1),
             "upper_percentile": pick(rng, 0.8, 0.95, 1.0)}
        if rng.random() < 0.3:
            p["upper_rank"] = rng.randint(500, 3000)
        return op, p
    if op == "frequency_specified_field_selector":
        p = {"field_key": pick(rng, "meta.lang", "meta.num", "meta.flag"), "top_ratio": pick(rng, 0.5, 0.8)}
        if rng.random() < 0.3:
            p["reverse"] = False
        return op, p
    if op == "tags_specified_field_selector":
        return op, {"field_key": "meta.lang", "target_tags": rng.choice([["en", "zh", ""], ["en", "fr", "EN"]])}
    return op, {"select_num": rng.randint(500, 2800)} if rng.random() < 0.5 else {"select_ratio": 0.9}


def random_recipe(rng):
    n = rng.randint(2, 12)
    ops = []
    chunked = False
    barriers = 0
    while len(ops) < n:
        stats_before = sorted({STAT_KEYS[op] for op, _ in ops if op in STAT_KEYS})
        r = rng.random()
        if ops and r < 0.2:
            # the same op again: a filter with other bounds (its stat is cached by then), a mapper again
            op, p = rng.choice(ops)
            if op in RANGE_FILTERS:
                p = dict(random_range_filter(rng, op), **{k: v for k, v in p.items() if k == "text_key"})
            elif kind(op) in ("dedup", "selector"):
                continue
        elif r < 0.5:
            op = rng.choice(RANGE_FILTERS)
            p = random_range_filter(rng, op)
        elif r < 0.6:
            op, p = rng.choice(FIELD_FILTERS)
        elif r < 0.89:
            op, p = rng.choice(MAPPERS)
        elif r < 0.92 and not chunked:
            op, p, chunked = "text_chunk_mapper", rng.choice(CHUNKERS), True
        elif barriers < 2 and ops:
            op, p = random_barrier(rng, stats_before)
            if op == "document_deduplicator" and chunked and any(o == "document_deduplicator" for o, _ in ops):
                continue  # refused: maybe a text_chunk_mapper between the two (docs/compatibility.md)
            barriers += 1
        else:
            continue
        p = dict(p)
        if "text_key" not in p and not op.endswith("_selector") and rng.random() < 0.18:
            p["text_key"] = pick(rng, ALT, ALT, "text")
        ops.append((op, p))
    text_keys = rng.choice([["text"]] * 6 + [["text", ALT], [ALT], [ALT, "text"]])
    return text_keys, ops


# Recipes every run includes besides the random ones: the chains that found bugs, and the §1.3 cases.
FIXED_RECIPES = [
    # `text` in a condition is the field `text`, also when the recipe's first text key is another one.
    (["alt"], [("general_field_filter", {"filter_condition": "text != '' and alt != ''"}),
               ("words_num_filter", {"min_num": 1})]),
    # Field filters see a text field as the mapper on that text key left it.
    (["text"], [("replace_content_mapper", {"pattern": "[aeiou]", "repl": "", "text_key": ALT}),
                ("specified_field_filter", {"field_key": ALT, "target_value": [""], "reversed_range": True}),
                ("general_field_filter", {"filter_condition": "alt < text or alt >= 'm'"}),
                ("remove_non_chinese_character_mapper", {}),
                ("specified_field_filter", {"field_key": "text", "target_value": [""], "reversed_range": True})]),
    # A stat computed before a mapper, on the other text key, or before text_chunk_mapper is reused (§1.3).
    (["text", ALT], [("text_length_filter", {"min_len": 5, "text_key": ALT}), ("clean_links_mapper", {}),
                     ("text_chunk_mapper", {"max_len": 1000, "split_pattern": None}),
                     ("text_length_filter", {"max_len": 1500}), ("words_num_filter", {"min_num": 3}),
                     ("whitespace_normalization_mapper", {}), ("words_num_filter", {"min_num": 20}),
                     ("document_deduplicator", {"lowercase": True}),
                     ("topk_specified_field_selector", {"field_key": "__dj__stats__.num_words", "topk": 900})]),
]


def checkpoint_lines(rng):
    s = pick(rng, "every_op", "every_n_ops", "disabled", "every_partition")
    lines = ["checkpoint:", "  strategy: " + s]
    if s == "every_n_ops":
        lines.append("  n_ops: %d" % rng.randint(1, 4))
    return lines


# =============================================================================================================
# Corpus


def chain_corpus():
    """dj_oracle.py's corpus (without `unicode15`) with a second text field `alt`: the head of another
    record's text, so that ops on `alt` see other texts than the ops on `text`."""
    records = [r for r in O.build_corpus() if r["src"] != "unicode15"]
    n = len(records)
    for i, r in enumerate(records):
        r[ALT] = records[(i * 7 + 3) % n]["text"][:2000]
    return records


# =============================================================================================================
# Commands


def cmd_prepare(work):
    seed = int(os.environ.get("DJ_CHAIN_SEED", "1"))
    count = int(os.environ.get("DJ_CHAIN_RECIPES", "48"))
    os.makedirs(os.path.join(work, "recipes"), exist_ok=True)
    os.makedirs(os.path.join(work, "words"), exist_ok=True)
    for k, lists in O.WORD_LISTS.items():
        with open(os.path.join(work, "words", k + ".json"), "w", encoding="utf-8") as f:
            json.dump(lists, f, ensure_ascii=False)
    with open(os.path.join(work, "input.jsonl"), "w", encoding="utf-8") as f:
        for r in chain_corpus():
            # Some records spelled with escapes (\uXXXX, surrogate pairs, \/): the same values, so the ops
            # that measure a text before decoding it (text_len) and the ones that decode it must agree.
            line = json.dumps(r, ensure_ascii=r["id"] % 3 == 1)
            if r["id"] % 5 == 2:
                line = line.replace("/", "\\/")  # "/" occurs only inside strings here
            f.write(line + "\n")
    words = os.path.join(work, "words")
    rng = random.Random(seed)
    plan = []
    with open(os.path.join(work, "configs.txt"), "w") as names:
        for i in range(count + len(FIXED_RECIPES)):
            if i < len(FIXED_RECIPES):
                (text_keys, ops), name = FIXED_RECIPES[i], "fixed_%d" % i
            else:
                text_keys, ops = random_recipe(rng)
                name = "s%d_r%03d" % (seed, i - len(FIXED_RECIPES))
            plan.append({"name": name, "text_keys": text_keys, "ops": ops})
            layouts = {"np1": ["np: 1"],
                       "np2": ["np: 2", "partition:", "  size: %d" % rng.randint(37, 400)] + checkpoint_lines(rng)}
            for layout, extra in layouts.items():
                run = "%s_%s" % (name, layout)
                lines = ["project_name: " + run,
                         "dataset_path: " + os.path.join(work, "input.jsonl"),
                         "export_path: " + os.path.join(work, "out", run, "out.jsonl"),
                         "keep_stats_in_res_ds: true"] + extra
                if text_keys != ["text"]:
                    lines.append("text_keys: " + json.dumps(text_keys))
                lines.append("process:")
                for op, p in ops:
                    p = {k: (words if v == WORDS else v) for k, v in p.items()}
                    # JSON is YAML: parameters as a flow mapping, as dj_oracle.py writes them.
                    lines.append("  - %s: %s" % (op, json.dumps(p, ensure_ascii=False)))
                with open(os.path.join(work, "recipes", run + ".yaml"), "w", encoding="utf-8") as f:
                    f.write("\n".join(lines) + "\n")
                names.write(run + "\n")
    with open(os.path.join(work, "plan.json"), "w", encoding="utf-8") as f:
        json.dump({"seed": seed, "recipes": plan}, f, ensure_ascii=False, indent=1)


def describe(text_keys, ops):
    head = "" if text_keys == ["text"] else "text_keys=%s " % json.dumps(text_keys)
    return head + " -> ".join("%s%s" % (op, json.dumps(p, ensure_ascii=False) if p else "") for op, p in ops)


def compare_run(expected, lines):
    """Differences (id, what, expected, got) between the oracle's samples and sluice's export lines, and the
    number of records compared. Spelling-only stat differences are notes, as in dj_oracle.py."""
    diffs, notes = [], []
    want, got = {}, {}
    for s in expected:
        want.setdefault(s["id"], []).append(s)
    order_got = []
    for line in lines:
        rec, raw = json.loads(line), O.parse_raw(line)
        rec["__dj__stats__raw"] = raw.get("__dj__stats__")
        got.setdefault(rec["id"], []).append(rec)
        order_got.append(rec["id"])
    ids = list(dict.fromkeys([s["id"] for s in expected] + order_got))
    for rid in ids:
        w, g = want.get(rid, []), got.get(rid, [])
        if len(w) != len(g):
            what = "dropped" if not g else "kept" if not w else "%d records, oracle %d" % (len(g), len(w))
            diffs.append((rid, what, [s.get("text") for s in w], [s.get("text") for s in g]))
            continue
        for ws, gs in zip(w, g):
            graw = gs.pop("__dj__stats__raw")
            for field in sorted(set(ws) | set(gs)):
                if field == "__dj__stats__":
                    continue
                if json.dumps(ws.get(field, KeyError), sort_keys=True, default=str) != \
                        json.dumps(gs.get(field, KeyError), sort_keys=True, default=str):
                    diffs.append((rid, "field " + field, ws.get(field, "<absent>"), gs.get(field, "<absent>")))
            wst, gst = ws.get("__dj__stats__"), graw
            if wst is None or gst is None:
                if (wst is None) != (gst is None):
                    diffs.append((rid, "__dj__stats__ present" if gst is not None else "__dj__stats__ missing",
                                  wst, gs.get("__dj__stats__")))
                continue
            for key in sorted(set(wst) | set(gst)):
                if key not in gst:
                    diffs.append((rid, "stats[%s] missing" % key, wst[key], None))
                elif key not in wst:
                    diffs.append((rid, "stats[%s] extra" % key, None, gs["__dj__stats__"][key]))
                else:
                    equal, note = O.same_value(wst[key], gst[key])
                    if not equal:
                        diffs.append((rid, "stats[%s]" % key, wst[key], gs["__dj__stats__"][key]))
                    elif note:
                        notes.append((rid, note))
    if not diffs and [s["id"] for s in expected] != order_got:
        diffs.append((None, "export order", None, None))
    return diffs, notes, len(ids)


# Known differences: (recipe-description regex, predicate over (input record, difference), reason). A
# difference is allowed only when an entry matches it.
ALLOWED = []


def allowed(desc, record, diff):
    for rx, pred, reason in ALLOWED:
        if re.search(rx, desc) and pred(record, diff):
            return reason
    return None


def cmd_compare(work):
    with open(os.path.join(work, "plan.json"), encoding="utf-8") as f:
        plan = json.load(f)
    records = chain_corpus()
    by_id = {r["id"]: r for r in records}
    words = os.path.join(work, "words")
    only = re.compile(os.environ.get("DJ_CHAIN_ONLY", ".*"))
    show = int(os.environ.get("DJ_CHAIN_SHOW", "1"))
    n_recipes = n_records = n_diffs = n_allowed = n_notes = 0
    failed = []
    for recipe in plan["recipes"]:
        name = recipe["name"]
        if not only.fullmatch(name):
            continue
        n_recipes += 1
        ops = [(op, {k: (words if v == WORDS else v) for k, v in p.items()}) for op, p in recipe["ops"]]
        desc = describe(recipe["text_keys"], recipe["ops"])
        try:
            expected, job_fails = run_chain(records, recipe["text_keys"], ops, words), None
        except JobFails as e:
            expected, job_fails = None, str(e)
        for layout in ("np1", "np2"):
            run = "%s_%s" % (name, layout)
            rc_path = os.path.join(work, "run_%s.rc" % run)
            rc = int(open(rc_path).read().strip()) if os.path.exists(rc_path) else None
            out = os.path.join(work, "out", run, "out.jsonl")
            real = []
            if job_fails is not None:
                n_records += 1
                if rc == 0:
                    real.append((None, "the run succeeded where DataJuicer's selector fails (%s)" % job_fails,
                                 None, None))
            elif rc != 0 or not os.path.exists(out):
                n_records += 1
                log = os.path.join(work, "run_%s.log" % run)
                tail = open(log, encoding="utf-8", errors="replace").read()[-600:] if os.path.exists(log) else ""
                real.append((None, "the run failed (rc %s): %s" % (rc, tail.strip()), None, None))
            else:
                diffs, notes, n = compare_run(expected, O.read_jsonl(out))
                n_records += n
                n_notes += len(notes)
                for d in diffs:
                    if d[0] is not None and allowed(desc, by_id.get(d[0]), d):
                        n_allowed += 1
                    else:
                        real.append(d)
            n_diffs += len(real)
            if real:
                failed.append(run)
                print("FAIL %s: %d differences\n  recipe: %s\n  yaml: %s"
                      % (run, len(real), desc, os.path.join(work, "recipes", run + ".yaml")))
                for rid, what, exp, got in real[:show]:
                    src = by_id.get(rid, {})
                    print("  id %s (%s) %s" % (rid, src.get("src"), what))
                    if rid is not None:
                        print("    input text=%s" % ascii(src.get("text"))[:400])
                        print("    input alt=%s" % ascii(src.get(ALT))[:200])
                        print("    input stats=%s" % ascii(src.get("__dj__stats__")))
                    print("    oracle: %s" % ascii(exp)[:600])
                    print("    sluice: %s" % ascii(got)[:600])
    if n_notes:
        print("NOTE %d stats equal in value but spelled differently" % n_notes)
    print("%d recipes, %d records compared, %d differences (%d more allowed by the allow-list)"
          % (n_recipes, n_records, n_diffs, n_allowed))
    if failed:
        print("failing runs: " + " ".join(failed))
    return 1 if n_diffs else 0


def cmd_selftest():
    """The chain semantics on chains whose outcome datajuicer-ops.md §1.3 states."""
    failures = []

    def expect(what, got, want):
        if got != want:
            failures.append("%s: got %r, want %r" % (what, got, want))

    rec = {"id": 0, "text": "see https://example.com/a/very/long/path now", ALT: "short"}
    # §1.3: text_length_filter -> clean_links_mapper -> text_length_filter reuses the first text_len.
    out = run_chain([rec], ["text"], [("text_length_filter", {"min_len": 1}), ("clean_links_mapper", {}),
                                      ("text_length_filter", {"min_len": 40})], None)
    expect("cached text_len after a mapper", [(s["text"], s["__dj__stats__"]) for s in out],
           [("see  now", {"text_len": 44})])
    # §1.3: two instances with different parameters share one key: the second reuses the first's value.
    out = run_chain([dict(rec, text="aaaaaaaaaaaaaaaaaaaa")], ["text"],
                    [("character_repetition_filter", {"rep_len": 1, "max_ratio": 1.0}),
                     ("character_repetition_filter", {"rep_len": 20, "max_ratio": 0.5})], None)
    expect("second character_repetition_filter reuses the first's ratio", out, [])
    # The stats key does not depend on the op's text key either.
    out = run_chain([rec], ["text"], [("text_length_filter", {"text_key": ALT, "max_len": 10}),
                                      ("text_length_filter", {"min_len": 40})], None)
    expect("text_len of `alt` reused for `text`", out, [])
    # A stat from the input is never recomputed (the character_repetition_filter "existing_stats" vector).
    out = run_chain([dict(rec, __dj__stats__={"text_len": 5})], [ALT], [("text_length_filter", {"max_len": 4})],
                    None)
    expect("input stat reused", out, [])
    # text_chunk_mapper copies the stats to every chunk, and the next filter reuses them.
    out = run_chain([dict(rec, text="ab\n\n\ncd")], ["text"],
                    [("text_length_filter", {"min_len": 5}), ("text_chunk_mapper", {"split_pattern": "\n\n\n"}),
                     ("text_length_filter", {"min_len": 5})], None)
    expect("chunks inherit stats", [(s["text"], s["__dj__stats__"]) for s in out],
           [("ab", {"text_len": 7}), ("cd", {"text_len": 7})])
    # A dropped sample reaches no later op: the deduplicator keeps the later copy.
    recs = [dict(rec, id=0, text="x"), dict(rec, id=1, text="x y z w v u t s r q")]
    out = run_chain(recs + [dict(rec, id=2, text="x")], ["text"],
                    [("text_length_filter", {"min_len": 2}), ("clean_links_mapper", {"pattern": "[^x]", "repl": ""}),
                     ("document_deduplicator", {})], None)
    expect("dedup after a filter", [s["id"] for s in out], [1])
    # A document_deduplicator named again reuses the first's hashes: texts a mapper made equal since stay.
    recs = [dict(rec, id=0, text="ab"), dict(rec, id=1, text="ac"), dict(rec, id=2, text="ab")]
    out = run_chain(recs, ["text"], [("document_deduplicator", {}), ("clean_links_mapper", {"pattern": "[bc]",
                                     "repl": ""}), ("document_deduplicator", {})], None)
    expect("dedup twice reuses the hash", [(s["id"], s["text"]) for s in out], [(0, "a"), (1, "a")])
    for f in failures:
        print("FAIL " + f)
    print("selftest: %d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    O.run_cli("dj_chain_oracle.py", cmd_prepare, cmd_compare, cmd_selftest)
