#!/usr/bin/env python3
"""An independent oracle for sluice's SentencePiece paths (ctest cli.dj_tokenized_oracle_test): the
`tokenization: true` variants of words_num_filter, word_repetition_filter, stopwords_filter,
flagged_words_filter and remove_words_with_incorrect_substrings_mapper, and document_minhash_deduplicator
with `tokenization: sentencepiece`, computed with the `sentencepiece` Python module (Debian's
python3-sentencepiece) -- DataJuicer's own tokenizer library -- and DataJuicer's documented semantics.

Contract:
  dj_tokenized_oracle.py prepare WORKDIR   trains the models below with Debian's `spm_train` into
                                           WORKDIR/models/<lang>.sp.model (the file names sluice looks up in
                                           SLUICE_MODELS_DIR, as DataJuicer does in its model cache), checks
                                           that the Python module's pieces are `spm_encode`'s, and writes the
                                           per-record part (WORKDIR/input.jsonl, WORKDIR/words/, one one-op
                                           recipe per configuration in WORKDIR/recipes, names in
                                           WORKDIR/configs.txt), the chains (the same under WORKDIR/chains, two
                                           runs each) and the deduplicator part (under WORKDIR/dataset, each
                                           recipe at np 1 and at np 2).
  dj_tokenized_oracle.py compare WORKDIR   compares what sluice wrote, record by record (kept set, stats value
                                           and JSON spelling, mapper output; for chains every field and stat of
                                           the export) and, for the deduplicator, the kept set, order and traced
                                           pairs; exit 1 on any difference.
  dj_tokenized_oracle.py selftest          the oracle's word logic on hand-made pieces, against the examples of
                                           datajuicer-ops.md §4/§5/§6 (no model needed).

DataJuicer's semantics (/work/shared/reference/datajuicer-ops.md §2.3, §4, §5, §6): with `tokenization: true`
the words are `sp.encode_as_pieces(text)` of the model `<lang>.sp.model`, pieces kept with their '▁' (U+2581,
not a special character) and then refined as the whitespace words are; the mapper removes '▁' from each
piece, drops the pieces whose special-stripped form contains a substring, and if any was dropped the text
becomes the concatenation of the kept pieces; minhash shingles are ''.join of `window_size` consecutive
pieces of the lowercased text. Everything else (the corpus, the comparison, word-list loading, stats caching,
ranges, chain semantics, the MinHash permutations and LSH parameters) is dj_oracle.py's, dj_chain_oracle.py's
and dj_oracle_dataset.py's, driven here with this module's configurations, corpus and tokenized ops.

Models (all trained here on examples/demo and the strings of DataJuicer's vectors; nothing downloaded):
  en  unigram, 1000 pieces, default nmt_nfkc normalization; CJK, emoji and rare symbols are unknown pieces
  zh  BPE, 600 pieces, byte_fallback (unknown characters become <0xNN> byte pieces), character_coverage 0.98
  ws  unigram, identity normalization (no NFKC: fullwidth forms, ligatures, tabs and newlines stay as they
      are), extra whitespace kept, no dummy prefix, whitespace-only pieces, digits split, user-defined symbols
  wd  word model (whole words, unknown words kept whole), trained with treat_whitespace_as_suffix: '▁' can
      stand inside a piece ('gold▁bar')
  sp  pieces that hold spaces: unigram trained with split_by_whitespace=false (pieces span words: '▁of▁the'),
      extra whitespace kept and user-defined symbols that make two cuts of one string ('▁of▁the', '▁data' and
      'of', '▁the▁data'), then rewritten as a model trained with escape_whitespaces=false would be (which Debian's spm_train
      cannot write): every '▁' of every piece a space, and the normalizer's escape_whitespaces off, so the
      library keeps the text's spaces and matches pieces such as ' of the' against them (keep_spaces below)
"""
import json
import os
import random
import subprocess
import sys
import tempfile

import sentencepiece

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import dj_chain_oracle  # noqa: E402
import dj_oracle  # noqa: E402
import dj_oracle_dataset  # noqa: E402
from dj_oracle import SPECIAL_CHARACTERS, SRC, strip_chars, words_refinement  # noqa: E402

MARKER = "\u2581"

# lang -> spm_train options (besides input, prefix, threads and logging).
MODELS = {
    "en": ["--model_type=unigram", "--vocab_size=1000"],
    "zh": ["--model_type=bpe", "--vocab_size=600", "--byte_fallback=true", "--character_coverage=0.98"],
    "ws": ["--model_type=unigram", "--vocab_size=1000", "--character_coverage=0.995",
           "--normalization_rule_name=identity", "--remove_extra_whitespaces=false", "--add_dummy_prefix=false",
           "--allow_whitespace_only_pieces=true", "--split_digits=true", "--user_defined_symbols=http,数据,\u2581\u2581"],
    "wd": ["--model_type=word", "--vocab_size=800", "--treat_whitespace_as_suffix=true"],
    "sp": ["--model_type=unigram", "--vocab_size=1000", "--split_by_whitespace=false", "--max_sentencepiece_length=32",
           "--remove_extra_whitespaces=false",
           "--user_defined_symbols=\u2581of\u2581the,\u2581the\u2581data,\u2581click\u2581here,\u2581data,\u2581here,of"],
}
# Models rewritten after training to keep spaces inside pieces (keep_spaces).
SPACE_MODELS = {"sp"}

# Word lists ({lang: [words]}, DataJuicer's asset format): entries with and without '▁' (only the former can
# match a piece that starts a word), byte pieces as refinement leaves them ('<0xE6>' lowercased and stripped of
# specials is 'xe'), augmented concatenations, an upper-case entry that can never match.
WORD_LISTS = {
    "stopwords": {
        "en": ["\u2581the", "the", "\u2581of", "of", "\u2581and", "\u2581a", "a", "s", "\u2581to", "\u2581in",
               "\u2581is", "\u2581it", "\u2581i", "\u2581The", "\u2581straße", "\u2581", "\u2581of\u2581the",
               "\u2581in\u2581the", "ing", "ed"],
        "zh": ["的", "是", "\u2581的", "数据", "清洗", "xe", "x", "e", "\u2581the", "\u2581a", "\u2581th", "e\u2581the",
               "\u2581sp", "am\u2581sp"],
        "ws": ["\u2581the", "the", "\u2581\u2581", "\u2581", "\u2581of", "数据", "\u2581数据", "\t", "\u2581a",
               "ｔｈｅ", "\u2581ｔｈｅ", "ﬁ", "\n", "\u2581spam"],
        "wd": ["\u2581the", "\u2581of", "\u2581and", "\u2581a", "the", "\u2581to", "\u2581in", "\u2581is",
               "\u2581of\u2581the", "the\u2581"],
        # Pieces hold spaces, never '▁': entries with inner spaces match whole pieces (refinement strips the
        # outer ones), augmented entries join pieces.
        "sp": ["the", "of the", "of", "in the", "and", "the data", "data", "of thethe", "ofthe", "a", " the"],
    },
    "flagged_words": {
        "en": ["卖淫", "清洗", "😊", "\u2581😊", "\u2581sex", "am", "\u2581d", "\u2581casino", "ツ", "\u2581ツ"],
        "zh": ["卖淫", "\u2581卖淫女", "清洗", "xe", "x", "\u2581", "\u2581sp", "am\u2581sp", "\u2581算子"],
        "ws": ["http", "\u2581http", "数据", "\u2581free", "\u2581data", "\u2581\u2581", "卖淫女"],
        "wd": ["\u2581data", "\u2581free", "\u2581click", "\u2581casino", "data", "\u2581sex", "\u2581spam"],
        "sp": ["data", "free", "click here", "casino", "spam", "of the data", "清洗", "数据"],
    },
}

WORDS = dj_oracle.WORDS
# Per-record configurations: (name, op, params); `lang` picks the model <lang>.sp.model.
CONFIGS = [
    ("words_num_en", "words_num_filter", {"tokenization": True, "lang": "en"}),
    ("words_num_zh", "words_num_filter", {"tokenization": True, "lang": "zh", "min_num": 5, "max_num": 300}),
    ("words_num_ws", "words_num_filter",
     {"tokenization": True, "lang": "ws", "min_num": 20, "max_num": 2000, "reversed_range": True}),
    ("words_num_wd", "words_num_filter", {"tokenization": True, "lang": "wd", "min_num": 3,
                                          "min_closed_interval": False}),
    ("word_rep_en", "word_repetition_filter", {"tokenization": True, "lang": "en"}),
    ("word_rep_en_1", "word_repetition_filter", {"tokenization": True, "lang": "en", "rep_len": 1,
                                                 "max_ratio": 0.7}),
    ("word_rep_zh_3", "word_repetition_filter",
     {"tokenization": True, "lang": "zh", "rep_len": 3, "min_ratio": 0.0, "max_ratio": 0.2}),
    ("word_rep_ws_2", "word_repetition_filter", {"tokenization": True, "lang": "ws", "rep_len": 2}),
    ("word_rep_wd_2", "word_repetition_filter", {"tokenization": True, "lang": "wd", "rep_len": 2,
                                                 "max_ratio": 0.3}),
    ("stopwords_en", "stopwords_filter", {"tokenization": True, "lang": "en", "stopwords_dir": WORDS}),
    ("stopwords_en_aug", "stopwords_filter",
     {"tokenization": True, "lang": "en", "stopwords_dir": WORDS, "use_words_aug": True, "min_ratio": 0.1}),
    ("stopwords_zh_aug", "stopwords_filter",
     {"tokenization": True, "lang": "zh", "stopwords_dir": WORDS, "use_words_aug": True, "min_ratio": 0.2}),
    ("stopwords_ws_aug23", "stopwords_filter",
     {"tokenization": True, "lang": "ws", "stopwords_dir": WORDS, "use_words_aug": True,
      "words_aug_group_sizes": [2, 3], "words_aug_join_char": "_", "min_ratio": 0.05}),
    ("stopwords_wd", "stopwords_filter", {"tokenization": True, "lang": "wd", "stopwords_dir": WORDS}),
    ("flagged_en", "flagged_words_filter", {"tokenization": True, "lang": "en", "flagged_words_dir": WORDS}),
    ("flagged_zh_aug", "flagged_words_filter",
     {"tokenization": True, "lang": "zh", "flagged_words_dir": WORDS, "use_words_aug": True,
      "max_ratio": 0.045}),
    ("flagged_ws_aug3", "flagged_words_filter",
     {"tokenization": True, "lang": "ws", "flagged_words_dir": WORDS, "use_words_aug": True,
      "words_aug_group_sizes": [3], "max_ratio": 0.01}),
    ("flagged_wd", "flagged_words_filter",
     {"tokenization": True, "lang": "wd", "flagged_words_dir": WORDS, "max_ratio": 0.0}),
    # sluice's explicit model path (relative to the working directory, which is WORKDIR for the runs) with the
    # `all` list: every language's words.
    ("flagged_all_path", "flagged_words_filter",
     {"tokenization": True, "lang": "all", "tokenizer_model": "models/ws.sp.model", "flagged_words_dir": WORDS,
      "max_ratio": 0.02}),
    # A model whose pieces hold spaces: each piece one word; word n-grams compared as the strings ' '.join
    # makes, so different piece sequences that join to the same string are one n-gram.
    ("words_num_sp", "words_num_filter", {"tokenization": True, "lang": "sp", "min_num": 5}),
    ("word_rep_sp_1", "word_repetition_filter", {"tokenization": True, "lang": "sp", "rep_len": 1,
                                                 "max_ratio": 0.6}),
    ("word_rep_sp_2", "word_repetition_filter", {"tokenization": True, "lang": "sp", "rep_len": 2,
                                                 "max_ratio": 0.3}),
    ("word_rep_sp_3", "word_repetition_filter", {"tokenization": True, "lang": "sp", "rep_len": 3}),
    ("stopwords_sp_aug", "stopwords_filter",
     {"tokenization": True, "lang": "sp", "stopwords_dir": WORDS, "use_words_aug": True,
      "words_aug_join_char": " ", "min_ratio": 0.05}),
    ("flagged_sp", "flagged_words_filter", {"tokenization": True, "lang": "sp", "flagged_words_dir": WORDS,
                                            "max_ratio": 0.01}),
    ("remove_substrings_sp", "remove_words_with_incorrect_substrings_mapper",
     {"tokenization": True, "lang": "sp", "substrings": ["e d", "of", " "]}),
    ("remove_substrings_en", "remove_words_with_incorrect_substrings_mapper",
     {"tokenization": True, "lang": "en"}),
    ("remove_substrings_zh", "remove_words_with_incorrect_substrings_mapper",
     {"tokenization": True, "lang": "zh", "substrings": ["com", "算子", "xe"]}),
    ("remove_substrings_ws", "remove_words_with_incorrect_substrings_mapper",
     {"tokenization": True, "lang": "ws", "substrings": ["http", "\t", "e\n", "ｆ", "1"]}),
    ("remove_substrings_wd", "remove_words_with_incorrect_substrings_mapper",
     {"tokenization": True, "lang": "wd", "substrings": ["the", "."]}),
]

# Deduplicator configurations: (name, params); "@MODEL:<lang>@" stands for that model's path. Fewer
# permutations than DataJuicer's 256: the oracle computes signatures in plain Python.
DEDUP_CONFIGS = [
    ("minhash_sp_en", {"tokenization": "sentencepiece", "tokenizer_model": "@MODEL:en@", "num_permutations": 64}),
    ("minhash_sp_zh_case", {"tokenization": "sentencepiece", "tokenizer_model": "@MODEL:zh@", "lowercase": False,
                            "window_size": 3, "num_permutations": 64, "num_bands": 16, "num_rows_per_band": 4}),
    ("minhash_sp_ws_ignore", {"tokenization": "sentencepiece", "tokenizer_model": "@MODEL:ws@",
                              "ignore_pattern": "\\p{P}", "window_size": 2, "jaccard_threshold": 0.8,
                              "num_permutations": 48}),
    ("minhash_sp_spaces", {"tokenization": "sentencepiece", "tokenizer_model": "@MODEL:sp@", "window_size": 3,
                           "num_permutations": 32}),
]

# Chains of tokenized ops (text_keys, [(op, params)]): the ops of a fused chain that tokenize a record with one
# model share its pieces in sluice (SentencePieceTokenizer::EncodeShared), so the pieces must follow the text
# a mapper rewrote, a second text key, and a switch of model; a stat already computed without tokenization is
# reused by the tokenized filter (§1.3). dj_chain_oracle runs each at np 1 and at np 2 (small partitions, a
# seeded checkpoint strategy) and compares every field and stat of the export.
ALT = dj_chain_oracle.ALT
TOK_EN, TOK_ZH, TOK_WS = ({"tokenization": True, "lang": lang} for lang in ("en", "zh", "ws"))
CHAIN_RECIPES = [
    (["text"], [("words_num_filter", dict(TOK_EN, min_num=3)),
                ("remove_words_with_incorrect_substrings_mapper", dict(TOK_EN, substrings=["he", "数"])),
                ("stopwords_filter", dict(TOK_EN, stopwords_dir=WORDS, min_ratio=0.05)),
                ("word_repetition_filter", dict(TOK_ZH, rep_len=3, max_ratio=0.6)),
                ("flagged_words_filter", dict(TOK_EN, flagged_words_dir=WORDS, max_ratio=0.3)),
                ("words_num_filter", dict(TOK_WS, min_num=1))]),
    (["text", ALT], [("stopwords_filter", dict(TOK_WS, stopwords_dir=WORDS, min_ratio=0.0, text_key=ALT)),
                     ("flagged_words_filter", dict(TOK_WS, flagged_words_dir=WORDS, max_ratio=0.5)),
                     ("remove_words_with_incorrect_substrings_mapper", dict(TOK_WS, substrings=["a"],
                                                                           text_key=ALT)),
                     ("word_repetition_filter", dict(TOK_WS, rep_len=2, max_ratio=0.8, text_key=ALT)),
                     ("word_repetition_filter", dict(TOK_WS, rep_len=2, max_ratio=0.8))]),
    (["text"], [("words_num_filter", {"min_num": 2}),
                ("words_num_filter", dict(TOK_ZH, min_num=5)),
                ("whitespace_normalization_mapper", {}),
                ("remove_words_with_incorrect_substrings_mapper", dict(TOK_ZH, substrings=["xe"])),
                ("stopwords_filter", dict(TOK_ZH, stopwords_dir=WORDS, min_ratio=0.0, use_words_aug=True))]),
]


# =============================================================================================================
# The tokenized ops (§2.3, §4, §5, §6)

_MODELS = {}
_PIECES = {}
MODELS_DIR = None  # WORKDIR/models (use_this_module)


def sp_model(path):
    """DataJuicer's prepare_sentencepiece_model: a SentencePieceProcessor that loaded the file."""
    if path not in _MODELS:
        sp = sentencepiece.SentencePieceProcessor()
        sp.load(path)
        _MODELS[path] = sp
    return _MODELS[path]


def pieces_of(path, text):
    """sp.encode_as_pieces(text) with the model at `path` (memoized: several configurations share a model)."""
    key = (path, text)
    if key not in _PIECES:
        _PIECES[key] = sp_model(path).encode_as_pieces(text)
    return _PIECES[key]


def model_path(models_dir, p):
    """The model file: `tokenizer_model` (relative to WORKDIR, the parent of models_dir), else <lang>.sp.model."""
    if p.get("tokenizer_model"):
        return os.path.join(os.path.dirname(models_dir), p["tokenizer_model"])
    return os.path.join(models_dir, p.get("lang", "en") + ".sp.model")


def word_rep_ratio(words, n):
    """§5 word_repetition_filter on refined words."""
    freq = {}
    for i in range(len(words) - n + 1):
        g = " ".join(words[i:i + n])
        freq[g] = freq.get(g, 0) + 1
    total = sum(freq.values())
    return sum(c for c in freq.values() if c > 1) / total if total else 0.0


def tokenized_stat(op, p, pieces, wordset):
    """The stat of a tokenized filter from the text's pieces (words = pieces, then §2.3's refinement)."""
    if op == "words_num_filter":
        return len(words_refinement(pieces, strip_set=SPECIAL_CHARACTERS))
    if op == "word_repetition_filter":
        return word_rep_ratio(words_refinement(pieces, lower_case=True, strip_set=SPECIAL_CHARACTERS),
                              p.get("rep_len", 10))
    words = words_refinement(pieces, lower_case=True, strip_set=SPECIAL_CHARACTERS,
                             use_words_aug=p.get("use_words_aug", False),
                             group_sizes=p.get("words_aug_group_sizes", [2]),
                             join_char=p.get("words_aug_join_char", ""))
    return min(1.0, sum(1 for w in words if w in wordset) / len(words)) if words else 0.0


def remove_substrings_pieces(pieces, substrings, text):
    """§4 remove_words_with_incorrect_substrings_mapper, tokenization: true."""
    words = [piece.replace(MARKER, "") for piece in pieces]
    kept = [w for w in words if not any(s in strip_chars(w, SPECIAL_CHARACTERS) for s in substrings)]
    return "".join(kept) if len(kept) != len(words) else text


class TokenizedFilter(dj_oracle.Filter):
    """dj_oracle's Filter (stats caching, ranges, word lists) with the stat computed from the pieces when the
    configuration tokenizes."""

    def __init__(self, op, params, words_dir):
        super().__init__(op, params, words_dir)
        self.model = model_path(MODELS_DIR, params)

    def stat(self, text):
        if not self.p.get("tokenization"):
            return super().stat(text)
        return tokenized_stat(self.op, self.p, pieces_of(self.model, text), getattr(self, "words", None))


_plain_mapper = dj_oracle.make_mapper


def make_mapper(op, p, models_dir):
    if not p.get("tokenization"):
        return _plain_mapper(op, p)
    assert op == "remove_words_with_incorrect_substrings_mapper", op
    model = model_path(models_dir, p)
    subs = p.get("substrings")
    subs = ["http", "www", ".com", "href", "//"] if subs is None else subs
    return lambda t: [remove_substrings_pieces(pieces_of(model, t), subs, t)]


_plain_shingles = dj_oracle_dataset.shingles


def shingles(text, p, default_window):
    """§5 document_minhash_deduplicator, tokenization: sentencepiece (the text is already lowercased and
    stripped of ignore_pattern); the other tokenizations are dj_oracle_dataset's."""
    if p.get("tokenization") != "sentencepiece":
        return _plain_shingles(text, p, default_window)
    tokens = pieces_of(p["tokenizer_model"], text)
    w = p.get("window_size", default_window)
    return ["".join(tokens[i:i + w]).encode() for i in range(len(tokens) - w + 1)]


# =============================================================================================================
# The corpus: dj_oracle's (demo web text, the vectors' strings, stdlib code, LaTeX, the Unicode torture set)
# plus texts aimed at the tokenizer: whitespace runs, leading/trailing whitespace, line and tab mixtures,
# NFKC-sensitive characters (fullwidth, ligatures, circled and super/subscript digits, compatibility
# ideographs, halfwidth katakana), CJK, emoji sequences, combining marks, '▁' and byte-piece look-alikes in the
# input, the word lists' entries in several cases, repeated n-grams.

ATOMS = [
    "the", "The", "THE", "ＴＨＥ", "of", "and", "a", "to", "in", "is", "it", "straße", "STRASSE", "İstanbul",
    "ΟΔΟΣ", "ǅemal", "ﬁne", "ﬂow", "ﬀ", "①②③", "x²", "H₂O", "㎏", "½", "Ⅷ", "ｶﾀｶﾅ", "ｱｲｳ", "\uf900", "㍿",
    "café", "cafe\u0301", "e\u0301\u0301", "\u0301", "Å", "A\u030a", "数据", "清洗", "数据清洗", "卖淫女", "打飞机",
    "算子", "的", "是", "你好，世界！", "請問", "日本語のテキスト", "한국어", "😊", "👍🏽", "👨‍👩‍👧", "🇩🇪", "❤️",
    "spam", "SEX", "porn", "casino", "free", "click", "data", "http://example.com/a", "www.baidu.com",
    "<0xE4>", "<unk>", "<s>", "</s>", "\u2581", "\u2581\u2581", "\u2581the", "ツ", "ー", "一", "...", "—", "!!",
    "#1", "2024", "0.5", "1,000", "\u00a0", "\u200b", "\ufeff", "\u00ad", "\u3000", "\u2028", "\x85", "\x0b",
    "\x0c", "\x1c", "\r", "\x00", "\u0130", "\u03a3", "ß", "ǈ",
]
SEPARATORS = [" ", " ", " ", "  ", "   ", "\t", "\n", "\n\n", " \n ", "\t\t", "\r\n", "", "\u3000", " \t "]


def tokenizer_texts(n=500):
    rng = random.Random(20260101)
    texts = ["", " ", "  ", "\t", "\n", " \n\t ", "\u2581", "\u2581\u2581\u2581", "a", "A", "数", "😊",
             "  leading and trailing  ", "\tTabbed\tfields\tand\ttabs\t", "line one\nline two\n\nline four\n",
             "many     spaces     between     words", "ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ ａｎｄ ｄｉｇｉｔｓ １２３",
             "ligatures: ﬁ ﬂ ﬀ ﬃ ﬄ ﬅ ﬆ", "the the the the the the the the the the the the the the the",
             "数据清洗数据清洗数据清洗数据清洗数据清洗", "请用百度www.baidu.com进行搜索", "根据算子使用情况增量安装方案确定",
             "你是个卖淫女", "Today is Sunday and it's a happy day!", "spam spam spam eggs spam",
             # The `sp` model cuts ' of the data' as ' of the', ' data' and '(of the data' as ' (', 'of',
             # ' the data': different pieces, one bigram string 'of the data' (' (' refines away).
             "of the data (of the data", "the data of the  data (of the data, click here click  here"]
    while len(texts) < n:
        k = rng.randint(1, 60)
        parts = []
        for _ in range(k):
            parts.append(rng.choice(ATOMS))
            parts.append(rng.choice(SEPARATORS))
        if rng.random() < 0.3:  # repeated n-grams
            parts = parts * rng.randint(2, 4)
        texts.append("".join(parts))
    return texts


_base_corpus = dj_oracle.build_corpus
# The share of dj_oracle's corpus taken, per source (the oracle tokenizes in Python: about 1 MB keeps the
# test well under a minute): every k-th record.
SHARE = {"demo": 4, "code": 8, "torture": 3, "vectors": 1, "latex": 1, "unicode15": 1}


def build_corpus():
    records = [r for r in _base_corpus() if r["id"] % SHARE[r["src"]] == 0]
    for t in tokenizer_texts():
        records.append({"id": len(records) + 100000, "src": "tokenizer", "text": t})
    return records


def training_text():
    """Lines for spm_train: demo records (odd ones; the corpus takes the even ones) and the vectors' strings."""
    lines = []
    with open(os.path.join(SRC, "examples", "demo", "data.jsonl"), encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i % 4 == 1:
                lines.append(json.loads(line)["text"])
    lines += dj_oracle.vector_strings()
    lines = [" ".join(t.split("\n")).strip() for t in lines]
    return [t[:2000] for t in lines if t]


def _varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return v, i


def _enc_varint(v):
    out = bytearray()
    while True:
        if v < 0x80:
            out.append(v)
            return bytes(out)
        out.append(v & 0x7F | 0x80)
        v >>= 7


def _fields(b):
    """The fields of a serialized protobuf message: [(number, wire type, raw bytes of the whole field)]."""
    out, i = [], 0
    while i < len(b):
        start = i
        key, i = _varint(b, i)
        wire = key & 7
        if wire == 0:
            _, i = _varint(b, i)
        elif wire == 1:
            i += 8
        elif wire == 2:
            n, i = _varint(b, i)
            i += n
        elif wire == 5:
            i += 4
        else:
            sys.exit("unexpected protobuf wire type %d in a SentencePiece model" % wire)
        out.append((key >> 3, wire, b[start:i]))
    return out


def _payload(raw):
    """The payload of a length-delimited field's raw bytes."""
    _, i = _varint(raw, 0)
    _, i = _varint(raw, i)
    return raw[i:]


def _delimited(number, payload):
    return _enc_varint(number << 3 | 2) + _enc_varint(len(payload)) + payload


def keep_spaces(path):
    """Rewrites the ModelProto at `path` (sentencepiece_model.proto; written by hand: Debian has no protobuf
    module for Python) as a model trained with escape_whitespaces=false: every '▁' in a piece (ModelProto
    field 1, SentencePiece field 1) becomes a space, self-test data (field 4, whose expectations change) is
    dropped, and a NormalizerSpec holding only escape_whitespaces=false (field 5) is appended as field 3,
    which the parser merges into the model's (a later singular field wins)."""
    with open(path, "rb") as f:
        model = f.read()
    out = bytearray()
    for number, _, raw in _fields(model):
        if number == 1:
            piece = bytearray()
            for n, _, r in _fields(_payload(raw)):
                if n == 1:
                    r = _delimited(1, _payload(r).decode("utf-8").replace(MARKER, " ").encode("utf-8"))
                piece += r
            out += _delimited(1, bytes(piece))
        elif number != 4:
            out += raw
    out += _delimited(3, _enc_varint(5 << 3 | 0) + _enc_varint(0))
    with open(path, "wb") as f:
        f.write(bytes(out))


def train_models(models_dir):
    os.makedirs(models_dir, exist_ok=True)
    train = os.path.join(models_dir, "train.txt")
    with open(train, "w", encoding="utf-8") as f:
        f.write("\n".join(training_text()) + "\n")
    running = []
    for lang, opts in MODELS.items():  # two at a time: the machine has two cores
        cmd = ["spm_train", "--input=" + train, "--model_prefix=" + os.path.join(models_dir, lang + ".sp"),
               "--num_threads=1", "--minloglevel=2"] + opts
        log = os.path.join(models_dir, lang + ".log")
        with open(log, "w") as out:
            running.append((lang, log, subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)))
        if len(running) == 2 or lang == list(MODELS)[-1]:
            for name, path, proc in running:
                if proc.wait() != 0:
                    sys.exit("spm_train failed for %s (see %s)" % (name, path))
            running = []
    for lang in SPACE_MODELS:
        model = os.path.join(models_dir, lang + ".sp.model")
        keep_spaces(model)
        sp = sentencepiece.SentencePieceProcessor()
        sp.load(model)
        spaced = [sp.id_to_piece(i) for i in range(sp.get_piece_size()) if " " in sp.id_to_piece(i).strip(" ")]
        if len(spaced) < 4 or any(MARKER in sp.id_to_piece(i) for i in range(sp.get_piece_size())):
            sys.exit("model %s: expected pieces with inner spaces and no '▁' after keep_spaces" % lang)
        if " of the" not in sp.encode_as_pieces("one of the best"):
            sys.exit("model %s does not keep spaces inside pieces: %s" % (lang, sp.encode_as_pieces("one of the best")))


def spm_encode(model, lines):
    """Debian's spm_encode of `lines` (one text each) with the model: (exit status, output lines)."""
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as f:
        f.write("\n".join(lines) + "\n")
    try:
        r = subprocess.run(["spm_encode", "--model=" + model, "--output_format=piece", "--input=" + f.name],
                           capture_output=True)
        return r.returncode, r.stdout.decode("utf-8").split("\n")
    finally:
        os.unlink(f.name)


def check_against_spm_encode(models_dir, texts):
    """The Python module's pieces are those of Debian's spm_encode (the same C++ library sluice links), on every
    one-line text: the oracle tokenizes as the command-line tool does. Where the library fails to encode a
    text (e.g. a word model meeting a control symbol '<s>' as a word), spm_encode stops with an error and the
    Python module returns no pieces without raising: what DataJuicer then works with. Those texts are checked
    one by one."""
    lines = [t for t in texts if "\n" not in t and "\r" not in t and t.strip()]
    for lang in MODELS:
        model = os.path.join(models_dir, lang + ".sp.model")
        sp = sp_model(model)
        empty = [t for t in lines if not sp.encode_as_pieces(t)]
        rc, out = spm_encode(model, [t for t in lines if t not in empty])
        want = [" ".join(sp.encode_as_pieces(t)) for t in lines if t not in empty]
        if rc != 0 or out[:len(want)] != want:
            sys.exit("spm_encode and the Python module disagree on model %s" % lang)
        for t in empty:
            rc, out = spm_encode(model, [t])
            if rc == 0 and out[0] != "":
                sys.exit("spm_encode has pieces where the Python module has none: %s %s" % (lang, ascii(t)))


# =============================================================================================================
# Commands


def dedup_configs(work):
    models = os.path.join(work, "models")
    out = []
    for name, p in DEDUP_CONFIGS:
        p = {k: (os.path.join(models, v[7:-1] + ".sp.model") if isinstance(v, str) and v.startswith("@MODEL:")
                 else v) for k, v in p.items()}
        out.append((name, "document_minhash_deduplicator", p))
    return out


def use_this_module(work):
    """Points dj_oracle's, dj_chain_oracle's and dj_oracle_dataset's commands at this module's configurations,
    corpus, word lists, models and tokenized ops."""
    global MODELS_DIR
    models = MODELS_DIR = os.path.join(work, "models")
    dj_oracle.CONFIGS = CONFIGS
    dj_oracle.WORD_LISTS = WORD_LISTS
    dj_oracle.build_corpus = build_corpus
    dj_oracle.Filter = TokenizedFilter
    dj_oracle.make_mapper = lambda op, p: make_mapper(op, p, models)
    dj_oracle.ALLOWED = []  # no known difference on the tokenized configurations
    dj_oracle_dataset.CONFIGS = dedup_configs(work)
    dj_oracle_dataset.shingles = shingles
    dj_chain_oracle.ChainFilter = TokenizedFilter
    dj_chain_oracle.FIXED_RECIPES = CHAIN_RECIPES
    os.environ["DJ_CHAIN_RECIPES"] = "0"  # only these chains, no random ones


def joined_ngrams_collide(pieces, n):
    """Whether two different sequences of n refined pieces make the same ' '.join string (so counting n-grams
    as strings, as DataJuicer does, differs from counting them as piece sequences)."""
    words = words_refinement(pieces, lower_case=True, strip_set=SPECIAL_CHARACTERS)
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return len(set(grams)) != len(set(" ".join(g) for g in grams))


def cmd_prepare(work):
    os.makedirs(work, exist_ok=True)
    models = os.path.join(work, "models")
    train_models(models)
    texts = [r["text"] for r in build_corpus()]
    check_against_spm_encode(models, texts)
    for lang in SPACE_MODELS:
        model = os.path.join(models, lang + ".sp.model")
        if not any(joined_ngrams_collide(pieces_of(model, t), 2) for t in texts):
            sys.exit("model %s: no text of the corpus has two piece bigrams that join to one string" % lang)
    use_this_module(work)
    dj_oracle.cmd_prepare(work)
    dj_chain_oracle.cmd_prepare(os.path.join(work, "chains"))
    dj_oracle_dataset.cmd_prepare(os.path.join(work, "dataset"))


def cmd_compare(work):
    use_this_module(work)
    failed = dj_oracle.cmd_compare(work)
    failed = dj_chain_oracle.cmd_compare(os.path.join(work, "chains")) or failed
    failed = dj_oracle_dataset.cmd_compare(os.path.join(work, "dataset")) or failed
    return failed


def cmd_selftest():
    """The word logic on pieces written by hand, against the examples datajuicer-ops.md gives."""
    cases = [
        # §4: 请用百度www.baidu.com进行搜索 with substrings [com, 算子] -> 请用百度www.baidu.进行搜索 (pieces as a
        # Chinese model cuts them), and nothing dropped -> the text unchanged, spaces included.
        (remove_substrings_pieces(["\u2581请用", "百度", "www", ".", "baidu", ".", "com", "进行", "搜索"],
                                  ["com", "算子"], "请用百度www.baidu.com进行搜索"), "请用百度www.baidu.进行搜索"),
        (remove_substrings_pieces(["\u2581a", "\u2581b"], ["com"], "a  b"), "a  b"),
        (remove_substrings_pieces(["\u2581a", "\u2581com", "\u2581b"], ["com"], "a com b"), "ab"),
        # §6: the '▁' is not special, so a lone '▁' is a word; '▁!' strips to '▁'; '!!' is no word.
        (tokenized_stat("words_num_filter", {}, ["\u2581", "\u2581!", "!!", "ab", "1"], None), 3),
        # §5: word n-grams over refined (lowercased, stripped) pieces.
        (tokenized_stat("word_repetition_filter", {"rep_len": 1}, ["\u2581A", "\u2581a", "b."], None), 2 / 3),
        (tokenized_stat("word_repetition_filter", {"rep_len": 3}, ["a", "b"], None), 0.0),
        # Pieces holding spaces: n-grams are the joined strings ('of the data' twice; ' ' refines away).
        (tokenized_stat("word_repetition_filter", {"rep_len": 2}, [" of", " the data", " of the", " ", " data"],
                        None), 2 / 3),
        # §2.3 augmentation: words + concatenated windows, both in numerator and denominator.
        (tokenized_stat("stopwords_filter", {"use_words_aug": True}, ["\u2581数", "据"], {"\u2581数据", "据"}),
         2 / 3),
        (tokenized_stat("flagged_words_filter", {}, ["\u2581The", "\u2581the"], {"\u2581the"}), 1.0),
        (tokenized_stat("flagged_words_filter", {}, [], {"\u2581the"}), 0.0),
    ]
    # §5 minhash, tokenization sentencepiece: shingles are ''.join of window_size pieces, of the lowercased
    # text; two texts with the same pieces are duplicates, a text with fewer pieces than the window fails.
    p = {"tokenization": "sentencepiece", "tokenizer_model": "<stub>", "window_size": 2, "num_permutations": 8,
         "num_bands": 4, "num_rows_per_band": 2}
    dj_oracle_dataset.shingles = shingles
    _PIECES.update({("<stub>", "a bc"): ["\u2581a", "\u2581b", "c"], ("<stub>", "x"): ["\u2581x"]})
    cases += [(shingles("a bc", p, 5), ["\u2581a\u2581b".encode(), "\u2581bc".encode()]),
              (dj_oracle_dataset.MinHash(p).decide(["A BC", "a bc", "x"])[0], [True, False, False])]
    failed = 0
    for i, (got, want) in enumerate(cases):
        if got != want or type(got) is not type(want):
            failed += 1
            print("FAIL selftest case %d: got %s, want %s" % (i, ascii(got), ascii(want)))
    print("selftest: %d passed, %d failed" % (len(cases) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    dj_oracle.run_cli("dj_tokenized_oracle.py", cmd_prepare, cmd_compare, cmd_selftest)
