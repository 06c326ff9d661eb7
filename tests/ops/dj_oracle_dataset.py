#!/usr/bin/env python3
"""The independent Python oracle for sluice's dataset-level DataJuicer ops: the deduplicators and selectors
(ctest cli.dj_oracle_test; the per-record text ops are dj_oracle.py's).

Contract:
  dj_oracle_dataset.py prepare WORKDIR   writes WORKDIR/dedup.jsonl (near and exact duplicates),
                                         WORKDIR/select.jsonl (typed fields for the selectors), and for every
                                         op configuration and run layout a one-op recipe
                                         WORKDIR/recipes/NAME.yaml, named in WORKDIR/configs.txt.
  dj_oracle_dataset.py compare WORKDIR   reads what sluice wrote (WORKDIR/out/NAME/out.jsonl, the
                                         deduplicators' duplicate trace, WORKDIR/run_NAME.rc), computes every
                                         op here and compares: the kept set; the export in input order (sluice
                                         keeps input order, docs/compatibility.md); each traced duplicate pair
                                         being a kept sample and a dropped one of the same cluster; a failing
                                         run exactly where DataJuicer's op fails. Prints `N configs, M
                                         differences`; exit 1 on any difference.
  dj_oracle_dataset.py selftest          the oracle on DataJuicer's own vectors for these ops, and the LSH
                                         parameters on the values the reference computed with scipy.

Every configuration runs twice: np 1 with one partition, and np 2 with partitions of 37 records, so
duplicates and selections cross partitions and workers; both must give DataJuicer's first-occurrence
decision. Written from /work/shared/reference/datajuicer-ops.md §5 (and DataJuicer's source where that is
terse: the union-find keeps each component's smallest index; simhash's clusters are BFS components over
pairs of distinct values), not from sluice's C++. random_selector is checked against the algorithm sluice
documents for itself (src/ops/selector/selectors.cc), since DataJuicer's HF shuffle cannot be reproduced.
"""
import hashlib
import heapq
import json
import os
import random
import re
import struct
import sys

import regex

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dj_oracle import SHARED, SRC, get_path, split_on_whitespace  # noqa: E402

MAXSIZE = sys.maxsize
M64 = (1 << 64) - 1
MERSENNE = (1 << 61) - 1
LAYOUTS = {"np1": ["np: 1"], "np2": ["np: 2", "partition:", "  size: 37"]}


class SampleError(Exception):
    """DataJuicer raises while hashing this sample: dropped under skip_op_error."""


class DatasetError(Exception):
    """DataJuicer's op fails on the dataset: the job fails (sluice: exit code 3)."""


# =============================================================================================================
# Deduplicators (§5)


def normalize(text, p):
    if p.get("lowercase", True):
        text = text.lower()
    if p.get("ignore_pattern"):
        text = regex.sub(p["ignore_pattern"], "", text)
    return text


def shingles(text, p, default_window):
    """The shingles of a normalized text as a list (duplicates kept), UTF-8 encoded."""
    w, mode = p.get("window_size", default_window), p.get("tokenization", "space")
    if mode == "character":
        return [text[i:i + w].encode() for i in range(len(text) - w + 1)]
    if mode == "punctuation":
        tokens = regex.split(r"\p{P}", text)
    elif mode == "space":
        tokens = split_on_whitespace(text)
    else:
        raise SampleError("tokenization " + mode)
    return [" ".join(tokens[i:i + w]).encode() for i in range(len(tokens) - w + 1)]


def load_perms():
    with open(os.path.join(SHARED, "conformance", "dj_minhash_perms_seed42.json")) as f:
        d = json.load(f)
    return list(zip(d["perm_a"], d["perm_b"]))


def lsh_params(threshold, num_perm, steps=64):
    """(bands, rows) minimising 0.5 FP + 0.5 FN, strict improvement only; composite Simpson quadrature
    (the reference uses scipy's quad; selftest pins the results the spec lists)."""
    def integral(f, a, b):
        if b <= a:
            return 0.0
        h = (b - a) / steps
        s = f(a) + f(b) + sum((4 if k % 2 else 2) * f(a + k * h) for k in range(1, steps))
        return s * h / 3
    best, opt = float("inf"), (0, 0)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = integral(lambda s: 1 - (1 - s ** r) ** b, 0.0, threshold)
            fn = integral(lambda s: (1 - s ** r) ** b, threshold, 1.0)
            err = 0.5 * fp + 0.5 * fn
            if err < best:
                best, opt = err, (b, r)
    return opt


LSH_CACHE = {}


class MinHash:
    def __init__(self, p):
        self.p = p
        n = p.get("num_permutations", 256)
        self.perms = load_perms()[:n]
        b, r = p.get("num_bands"), p.get("num_rows_per_band")
        if b is None or r is None:
            key = (p.get("jaccard_threshold", 0.7), n)
            if key not in LSH_CACHE:
                LSH_CACHE[key] = lsh_params(*key)
            b, r = LSH_CACHE[key]
        self.bands, self.rows = b, r
        self.cache = {}  # shingle hash -> its permuted values

    def permuted(self, h):
        row = self.cache.get(h)
        if row is None:
            row = self.cache[h] = [((h * a + b) & M64) % MERSENNE & 0xFFFFFFFF for a, b in self.perms]
        return row

    def signature(self, text):
        sh = set(shingles(normalize(text, self.p), self.p, 5))
        if not sh:
            raise SampleError("no shingles")  # numpy's min over an empty axis
        rows = [self.permuted(struct.unpack("<I", hashlib.sha1(s).digest()[:4])[0]) for s in sh]
        values = list(map(min, zip(*rows)))
        return [tuple(values[i * self.rows:(i + 1) * self.rows]) for i in range(self.bands)]

    def decide(self, texts):
        """(kept flags, cluster id per sample; None for a sample that fails)."""
        sigs = []
        for t in texts:
            try:
                sigs.append(self.signature(t))
            except SampleError:
                sigs.append(None)
        live = [i for i, s in enumerate(sigs) if s is not None]
        parent = {i: i for i in live}

        def find(x):
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x
        for band in range(self.bands):
            first = {}
            for i in live:
                key = sigs[i][band]
                if key in first:
                    a, b = find(first[key]), find(i)
                    parent[max(a, b)] = min(a, b)
                else:
                    first[key] = i
        cluster = [find(i) if sigs[i] is not None else None for i in range(len(texts))]
        return [c is not None and c == i for i, c in enumerate(cluster)], cluster


class SimHash:
    def __init__(self, p):
        self.p = p

    def value(self, text):
        sh = shingles(normalize(text, self.p), self.p, 6)
        if not sh:
            return 0
        bits = ["{:064b}".format(int.from_bytes(hashlib.md5(s).digest()[:8], "big")) for s in sh]
        half = len(bits)
        return int("".join("1" if 2 * col.count("1") > half else "0" for col in zip(*bits)), 2)

    def decide(self, texts):
        k = self.p.get("hamming_distance", 4)
        values = [self.value(t) for t in texts]
        distinct = sorted(set(values))
        graph = {}
        for i, x in enumerate(distinct):
            for y in distinct[i + 1:]:
                if (x ^ y).bit_count() <= k:
                    graph.setdefault(x, set()).add(y)
                    graph.setdefault(y, set()).add(x)
        comp = {}
        for v in graph:
            if v in comp:
                continue
            comp[v], todo = v, [v]
            while todo:
                for u in graph[todo.pop()]:
                    if u not in comp:
                        comp[u] = v
                        todo.append(u)
        cluster = [comp.get(v, ("value", v)) for v in values]
        seen, kept = set(), []
        for c in cluster:
            kept.append(c not in seen)
            seen.add(c)
        return kept, cluster


class Exact:
    def __init__(self, p):
        self.p = p

    def decide(self, texts):
        cluster, seen, kept = [], set(), []
        for t in texts:
            if self.p.get("lowercase", False):
                t = t.lower()
            if self.p.get("ignore_non_character", False):
                t = re.sub(r"\s+|\d+|[" + re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + "]", "", t)
            h = hashlib.md5(t.strip().encode()).hexdigest()
            cluster.append(h)
            kept.append(h not in seen)
            seen.add(h)
        return kept, cluster


DEDUPS = {"document_deduplicator": Exact, "document_minhash_deduplicator": MinHash,
          "document_simhash_deduplicator": SimHash}


# =============================================================================================================
# Selectors (§5). Each returns the kept indices (DataJuicer's order) or raises DatasetError.


def field_values(samples, key):
    """DataJuicer's selectors split field_key at every '.' (no flat-key lookup); a missing last key reads
    as null (Arrow's unified schema), a missing or non-dict level above it, or a top-level field no sample
    has, fails."""
    parts = key.split(".")
    if not any(parts[0] in s for s in samples):
        raise DatasetError("no field " + parts[0])
    if len(parts) > 1 and not any(isinstance(get_path(s, ".".join(parts[:-1])), dict)
                                  and parts[-1] in get_path(s, ".".join(parts[:-1])) for s in samples):
        raise DatasetError("no sample has " + key)
    out = []
    for s in samples:
        v = s.get(parts[0])
        for part in parts[1:]:
            if not isinstance(v, dict):
                raise DatasetError("cannot enter %r" % (v,))
            v = v.get(part)
        out.append(v)
    return out


def stats_to_number(v, reverse=True):
    """DataJuicer's stats_to_number for the value shapes of this corpus: str -> float(); null or [] unusable;
    numbers and bools themselves; flat numeric lists their mean; anything else unusable (-+sys.maxsize)."""
    try:
        if isinstance(v, str):
            return float(v)
        if v is None or v == []:
            raise ValueError("empty")
        if isinstance(v, (bool, int, float)):
            return float(v)
        if isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
            return float(sum(v) / len(v))
        raise ValueError("unusable")
    except ValueError:
        return -MAXSIZE if reverse else MAXSIZE


def count(n_samples, ratio, num):
    """DataJuicer's n from a ratio and a count; None = dataset unchanged."""
    if not ratio:
        return num if num else None
    n = ratio * n_samples
    return num if num and num < n else n


def select(op, p, samples):
    n = len(samples)
    everything = list(range(n))
    if op == "random_selector":
        ratio, num = p.get("select_ratio"), p.get("select_num")
        if n <= 1 or (ratio is None and num is None):
            return everything
        k = num if not ratio else (min(int(ratio * n), num) if num is not None else int(ratio * n))
        if k <= 0 or k >= n:
            return everything
        kept = []
        for i in range(n):
            z = (42 + i + 0x9E3779B97F4A7C15) & M64
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            z ^= z >> 31
            if (z * (n - i)) >> 64 < k - len(kept):
                kept.append(i)
        return kept
    key = p.get("field_key", "")
    if n <= 1 or not key:
        return everything
    if op == "topk_specified_field_selector":
        k = count(n, p.get("top_ratio"), p.get("topk"))
        if k is None:
            return everything
        reverse = p.get("reverse", True)
        values = field_values(samples, key)
        if "." in key:
            values = [stats_to_number(v, reverse) for v in values]
        elif not all(isinstance(v, (int, float)) for v in values):
            raise DatasetError("single-level values that are not numbers")
        pick = heapq.nlargest if reverse else heapq.nsmallest
        return pick(int(k), everything, values.__getitem__)
    if op == "range_specified_field_selector":
        lp, up, lr, ur = (p.get(x) for x in ("lower_percentile", "upper_percentile", "lower_rank", "upper_rank"))
        if (lp is None and lr is None) or (up is None and ur is None):
            return everything
        lower = int(lp * n) if lp is not None else 0
        if lr is not None:
            lower = max(lower, lr)
        upper = int(up * n) if up is not None else n
        if ur is not None:
            upper = min(upper, ur)
        upper = max(lower, upper)
        values = [stats_to_number(v) for v in field_values(samples, key)]
        sub = heapq.nsmallest(int(upper), everything, values.__getitem__)
        sub_values = [values[i] for i in sub]
        return [sub[j] for j in heapq.nlargest(int(upper - lower), range(len(sub)), sub_values.__getitem__)]
    values = field_values(samples, key)
    if not all(v is None or isinstance(v, (str, int, float)) for v in values):
        raise DatasetError("a value that is not a str, number or null")
    if op == "tags_specified_field_selector":
        tags = set(p["target_tags"])
        return [i for i in everything if values[i] in tags]
    if op == "frequency_specified_field_selector":
        groups = {}
        for i, v in enumerate(values):
            groups.setdefault(v, []).append(i)
        k = count(len(groups), p.get("top_ratio"), p.get("topk"))
        if k is None:
            return everything
        ordered = sorted(groups.values(), key=len, reverse=p.get("reverse", True))
        return [i for g in ordered[:int(k)] for i in g]
    raise ValueError("no oracle for " + op)


# =============================================================================================================
# Configurations: (name, op, params); dedups read dedup.jsonl, selectors select.jsonl.

CONFIGS = [
    ("exact", "document_deduplicator", {}),
    ("exact_lower", "document_deduplicator", {"lowercase": True}),
    ("exact_nonchar", "document_deduplicator", {"ignore_non_character": True}),
    ("exact_lower_nonchar", "document_deduplicator", {"lowercase": True, "ignore_non_character": True}),
    ("minhash", "document_minhash_deduplicator", {}),
    ("minhash_08_case", "document_minhash_deduplicator",
     {"lowercase": False, "jaccard_threshold": 0.8, "window_size": 3}),
    ("minhash_punct_ignore", "document_minhash_deduplicator",
     {"tokenization": "punctuation", "window_size": 2, "ignore_pattern": "\\d+", "num_permutations": 128,
      "num_bands": 32, "num_rows_per_band": 4}),
    ("minhash_char", "document_minhash_deduplicator",
     {"tokenization": "character", "window_size": 4, "num_permutations": 64, "num_bands": 16,
      "num_rows_per_band": 4}),
    ("minhash_w1", "document_minhash_deduplicator",
     {"window_size": 1, "num_permutations": 40, "num_bands": 20, "num_rows_per_band": 2}),
    ("simhash", "document_simhash_deduplicator", {}),
    ("simhash_char", "document_simhash_deduplicator",
     {"tokenization": "character", "window_size": 3, "hamming_distance": 8, "num_blocks": 10}),
    ("simhash_punct_case", "document_simhash_deduplicator",
     {"tokenization": "punctuation", "window_size": 2, "lowercase": False, "hamming_distance": 3,
      "num_blocks": 4}),
    ("simhash_exact_ignore", "document_simhash_deduplicator",
     {"ignore_pattern": "[aeiou]", "window_size": 3, "hamming_distance": 0, "num_blocks": 1}),
    ("topk_score", "topk_specified_field_selector", {"field_key": "score", "topk": 10}),
    ("topk_score_ratio_asc", "topk_specified_field_selector",
     {"field_key": "score", "top_ratio": 0.29, "reverse": False}),
    ("topk_score_both", "topk_specified_field_selector", {"field_key": "score", "top_ratio": 0.5, "topk": 7}),
    ("topk_val", "topk_specified_field_selector", {"field_key": "meta.val", "top_ratio": 0.2}),
    ("topk_val_asc", "topk_specified_field_selector", {"field_key": "meta.val", "topk": 40, "reverse": False}),
    ("topk_stats", "topk_specified_field_selector", {"field_key": "__dj__stats__.q", "topk": 25}),
    ("topk_deep", "topk_specified_field_selector",
     {"field_key": "meta.deep.x", "top_ratio": 0.57, "reverse": False}),
    ("topk_none", "topk_specified_field_selector", {"field_key": "score", "top_ratio": 0}),
    ("range_val", "range_specified_field_selector",
     {"field_key": "meta.val", "lower_percentile": 0.1, "upper_percentile": 0.57}),
    ("range_val_ranks", "range_specified_field_selector",
     {"field_key": "meta.val", "lower_percentile": 0.07, "lower_rank": 30, "upper_percentile": 0.9,
      "upper_rank": 200}),
    ("range_score", "range_specified_field_selector",
     {"field_key": "score", "lower_rank": 5, "upper_rank": 95}),
    ("range_empty", "range_specified_field_selector",
     {"field_key": "meta.val", "lower_rank": 120, "upper_rank": 100}),
    ("range_no_upper", "range_specified_field_selector", {"field_key": "meta.val", "lower_rank": 3}),
    ("frequency_cat", "frequency_specified_field_selector", {"field_key": "meta.cat", "topk": 3}),
    ("frequency_cat_ratio_asc", "frequency_specified_field_selector",
     {"field_key": "meta.cat", "top_ratio": 0.58, "reverse": False}),
    ("frequency_cat_both", "frequency_specified_field_selector",
     {"field_key": "meta.cat", "top_ratio": 0.9, "topk": 4}),
    ("frequency_deep", "frequency_specified_field_selector", {"field_key": "meta.deep.x", "top_ratio": 0.3}),
    ("tags_cat", "tags_specified_field_selector", {"field_key": "meta.cat", "target_tags": ["a", "1", "None", "B"]}),
    ("tags_deep", "tags_specified_field_selector", {"field_key": "meta.deep.x", "target_tags": ["3.5", "x"]}),
    ("random_num", "random_selector", {"select_num": 37}),
    ("random_ratio", "random_selector", {"select_ratio": 0.1}),
    ("random_both", "random_selector", {"select_ratio": 0.5, "select_num": 7}),
    ("random_zero", "random_selector", {"select_ratio": 0.001}),
    ("random_all", "random_selector", {"select_num": 1000}),
    # DataJuicer fails on these datasets (the job fails in sluice).
    ("fail_topk_missing_level", "topk_specified_field_selector", {"field_key": "meta.nolevel.x", "topk": 3}),
    ("fail_frequency_list", "frequency_specified_field_selector", {"field_key": "meta.val", "topk": 3}),
    ("fail_tags_no_field", "tags_specified_field_selector", {"field_key": "nosuch.x", "target_tags": ["a"]}),
    ("fail_topk_null_level", "topk_specified_field_selector", {"field_key": "meta.maybe.x", "topk": 3}),
]


def is_dedup(op):
    return op in DEDUPS


# =============================================================================================================
# Corpora


def dedup_corpus():
    """Documents and their edited copies (exact, whitespace, case, punctuation, digits, one word changed,
    reordered, truncated, chained edits), shuffled so that a copy often precedes its original; short texts
    around the shingle windows; empty and whitespace-only texts."""
    rng = random.Random(4242)
    base = []
    with open(os.path.join(SRC, "examples", "demo", "data.jsonl"), encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i % 11 == 0:
                t = json.loads(line)["text"]
                cut = t.find(" ", rng.randint(150, 700))
                base.append(t if cut < 0 else t[:cut])
    base += ["数据清洗是大模型训练的重要步骤，去重可以减少重复内容。我们需要过滤低质量文本！",
             "今天天气很好，我们去公园散步吧。公园里有很多人，孩子们在玩耍，老人在下棋。",
             "İstanbul'da ŞİŞLİ ve Straße GROSS: ǅemal, ΣΊΣΥΦΟΣ; Ω and ﬁne—ligatures… end."]

    def edit(t):
        kind = rng.randrange(12)
        words = t.split(" ")
        if kind == 0:
            return t
        if kind == 1:
            return " \n" + t + "\t  "
        if kind == 2:
            return rng.choice([t.upper(), t.title(), t.swapcase()])
        if kind == 3:
            return regex.sub(r"\p{P}", lambda m: rng.choice(["", "!", ",", m.group(0)]), t)
        if kind == 4:
            return regex.sub(r"\d", lambda m: str(rng.randrange(10)), t) + " 2024"
        if kind == 5 and len(words) > 3:
            j = rng.randrange(len(words))
            words[j] = rng.choice(["", "changed", words[j] + words[j], "x"])
            return " ".join(words)
        if kind == 6 and len(words) > 3:
            j = rng.randrange(1, len(words))
            return " ".join(words[j:] + words[:j])
        if kind == 7:
            return t[:max(1, int(len(t) * 0.9))]
        if kind == 8:
            return t.replace(" ", "  ", 3).replace(" ", "\n", 2)
        if kind == 9:
            return t.replace("，", ",").replace("。", ".").replace("'", "’")
        if kind == 10:
            return t + " " + rng.choice(base)[:80]
        return t[: len(t) // 2] + rng.choice(["", " ", "-"]) + t[len(t) // 2:]

    texts = list(base)
    for t in base:
        for _ in range(rng.choice([0, 0, 1, 1, 2, 4])):
            texts.append(edit(t))
        if rng.random() < 0.2:  # chains: each edit of the previous one
            u = t
            for _ in range(rng.randint(2, 5)):
                u = edit(u)
                texts.append(u)
    short = ["", " ", "\n", "a", "a b", "A B", "a b c d", "a b c d e", "A B C D E", "a b c d e f", "a,b,c",
             "one two three four five six seven", "one two three four five six seven!", "数据", "数据清洗", "!!!"]
    texts += short * 2
    rng.shuffle(texts)
    return [{"id": i, "text": t} for i, t in enumerate(texts)]


def select_corpus(n=300):
    """Typed fields with ties: score (ints and floats, beyond 2^53), meta.val (numbers, numeric strings,
    lists, bools, null, missing, unusable strings), meta.cat (str / number / null / missing, 1 == 1.0 ==
    True), meta.deep.x (two levels), meta.maybe (sometimes null: a level that cannot be entered), input
    stats."""
    rng = random.Random(99)
    vals = [3, 3.5, "3.5", " 7 ", "1_000", "inf", "-inf", "abc", "", None, [], [1, 2, 3], [2.5], True, False,
            -0.0, 0, 9007199254740993, 1e300, -1e300, "1e400", "١٢", 12, 12.0, "12"]
    cats = ["a", "b", "B", "a", 1, 1.0, True, 0, False, None, "1", "None", "", 2.5, "a", "c"]
    out = []
    for i in range(n):
        meta = {"deep": {}}
        if i % 17 != 5:
            meta["val"] = rng.choice(vals)
        if i % 13 != 7:
            meta["cat"] = rng.choice(cats)
        if i % 3:
            meta["deep"]["x"] = rng.choice([1, 2, 3.5, "3.5", "x", None, 2])
        meta["maybe"] = None if i == 150 else {"x": i % 5}
        rec = {"id": i, "text": "t%d" % i,
               "score": rng.choice([1, 2, 2.0, 5, 9007199254740993, 9007199254740992.0, -3, 0.5, 7, 7.0]),
               "meta": meta}
        # Every record has stats: DataJuicer cannot enter a null __dj__stats__ (docs/compatibility.md).
        rec["__dj__stats__"] = {"q": rng.choice([1, 2, 3, "4", [5, 6], None, 2.5])} if i % 4 else {}
        out.append(rec)
    return out


# =============================================================================================================
# Commands


def cmd_prepare(work):
    os.makedirs(os.path.join(work, "recipes"), exist_ok=True)
    for name, records in (("dedup", dedup_corpus()), ("select", select_corpus())):
        with open(os.path.join(work, name + ".jsonl"), "w", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    with open(os.path.join(work, "configs.txt"), "w") as names:
        for name, op, params in CONFIGS:
            for layout, lines in LAYOUTS.items():
                run = name + "." + layout
                recipe = ["dataset_path: " + os.path.join(work, ("dedup" if is_dedup(op) else "select") + ".jsonl"),
                          "export_path: " + os.path.join(work, "out", run, "out.jsonl"),
                          "open_tracer: true", "trace_num: 1000000"] + lines + [
                          "process:", "  - %s: %s" % (op, json.dumps(params, ensure_ascii=False))]
                with open(os.path.join(work, "recipes", run + ".yaml"), "w", encoding="utf-8") as f:
                    f.write("\n".join(recipe) + "\n")
                names.write(run + "\n")


def read_ids(path):
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return [json.loads(line)["id"] for line in f if line.strip()]


def dedup_trace(work, run, op):
    root = os.path.join(work, "out", run)
    for job in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        path = os.path.join(root, job, "trace", "duplicate-%s.jsonl" % op)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                return [(json.loads(line)["dup1"]["id"], json.loads(line)["dup2"]["id"]) for line in f]
    return []


def cmd_compare(work):
    corpora = {"dedup": dedup_corpus(), "select": select_corpus()}
    n_configs = n_diffs = 0
    for name, op, params in CONFIGS:
        samples = corpora["dedup" if is_dedup(op) else "select"]
        cluster = None
        try:
            if is_dedup(op):
                kept, cluster = DEDUPS[op](params).decide([s["text"] for s in samples])
                expected = [i for i, k in enumerate(kept) if k]
            else:
                expected = select(op, params, samples)
        except DatasetError as e:
            expected = e
        for layout in LAYOUTS:
            run = name + "." + layout
            n_configs += 1
            diffs = []
            with open(os.path.join(work, "run_%s.rc" % run)) as f:
                rc = int(f.read())
            got = read_ids(os.path.join(work, "out", run, "out.jsonl"))
            if isinstance(expected, DatasetError):
                if rc != 3:
                    diffs.append("DataJuicer fails (%s); sluice exited %d" % (expected, rc))
            elif rc != 0 or got is None:
                diffs.append("sluice exited %d" % rc)
            else:
                if got != sorted(got):
                    diffs.append("export not in input order")
                if len(set(got)) != len(got):
                    diffs.append("a sample exported twice")
                want = set(expected)
                if op == "random_selector" and len(expected) > len(samples):
                    want = set(range(len(samples)))
                missing, extra = sorted(want - set(got)), sorted(set(got) - want)
                if missing:
                    diffs.append("%d samples DataJuicer keeps are dropped, e.g. %s" % (len(missing), missing[:8]))
                if extra:
                    diffs.append("%d samples DataJuicer drops are kept, e.g. %s" % (len(extra), extra[:8]))
                if cluster is not None:
                    for a, b in dedup_trace(work, run, op):
                        if not (a in want and b not in want and cluster[a] == cluster[b]):
                            diffs.append("traced pair (%s, %s) is not a kept sample and its duplicate" % (a, b))
                            break
            if diffs:
                n_diffs += len(diffs)
                print("FAIL %s (%s %s):" % (run, op, json.dumps(params, ensure_ascii=False)))
                for d in diffs:
                    print("  " + d)
                if cluster is not None and not isinstance(expected, DatasetError) and got is not None:
                    for i in (missing + extra)[:3]:
                        same = [j for j in range(len(samples)) if cluster[j] == cluster[i]][:4]
                        print("    id %d cluster %s: %s" % (i, same, [ascii(samples[j]["text"][:80]) for j in same]))
    print("%d configs, %d differences" % (n_configs, n_diffs))
    return 1 if n_diffs else 0


def cmd_selftest():
    """DataJuicer's vectors for these ops, and the LSH parameters of §5 (computed there with scipy)."""
    failed = passed = 0
    for (theta, perms), want in {(0.7, 256): (25, 10), (0.8, 256): (17, 15), (0.9, 256): (9, 28),
                                 (0.5, 256): (42, 6), (0.7, 128): (14, 9)}.items():
        got = lsh_params(theta, perms)
        passed, failed = passed + (got == want), failed + (got != want)
        if got != want:
            print("FAIL lsh_params(%s, %s) = %s, want %s" % (theta, perms, got, want))
    ops = {op for _, op, _ in CONFIGS} - {"random_selector"}
    with open(os.path.join(SHARED, "conformance", "dj_op_vectors.jsonl"), encoding="utf-8") as fh:
        for line in fh:
            v = json.loads(line)
            if v["op"] not in ops or v.get("expected") is None or v.get("expected_error") \
                    or v["params"].get("tokenization") == "sentencepiece":
                continue
            samples = v["input"]
            if is_dedup(v["op"]):
                kept, _ = DEDUPS[v["op"]](v["params"]).decide([s["text"] for s in samples]) \
                    if len(samples) > 1 else ([True] * len(samples), None)
                got = [s["text"] for s, k in zip(samples, kept) if k]
                want = [s["text"] for s in v["expected"]]
            else:
                got = sorted(json.dumps(samples[i], sort_keys=True) for i in select(v["op"], v["params"], samples))
                want = sorted(json.dumps(s, sort_keys=True) for s in v["expected"])
            if got == want:
                passed += 1
            else:
                failed += 1
                print("FAIL %s %s\n  want %s\n  got  %s" % (v["op"], v.get("source"), ascii(want)[:300],
                                                            ascii(got)[:300]))
    print("selftest: %d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from dj_oracle import run_cli
    run_cli("dj_oracle_dataset.py", cmd_prepare, cmd_compare, cmd_selftest)
