#!/usr/bin/env python3
"""An independent Python oracle for sluice's rule-based DataJuicer text ops (ctest cli.dj_oracle_test).

Contract:
  dj_oracle.py prepare WORKDIR   writes WORKDIR/input.jsonl (the corpus below), WORKDIR/words/ (small
                                 {lang: [words]} lists for the word-list filters), one one-op recipe per op
                                 configuration in WORKDIR/recipes/NAME.yaml and their names in WORKDIR/configs.txt.
  dj_oracle.py compare WORKDIR   reads what sluice wrote for each recipe (WORKDIR/out/NAME/out.jsonl and, for
                                 filters, the tracer's filter-<op>.jsonl with the dropped records and their
                                 stats), computes every op here, compares record by record (kept set, stats
                                 values and their JSON spelling, mapper output text) and prints
                                 `N configs, M records compared, K differences`; exit 1 on any difference that
                                 ALLOWED below does not list.
  dj_oracle.py selftest          runs these ops on DataJuicer's own test vectors (shared/conformance), so the
                                 oracle itself is known to agree with DataJuicer where DataJuicer pinned it.

The ops are written from /work/shared/reference/datajuicer-ops.md (sections 1-2, 4-5) and
dj_special_characters.json only -- not from sluice's C++ -- as plain Python over `str` with the `regex` module,
so every decision that Python string semantics make (isalnum on every Unicode category, splitlines' ten line
boundaries, strip's whitespace set, len in code points, lower(), regex's Unicode classes) is made by Python.

The corpus (all generated here, nothing downloaded): examples/demo/data.jsonl (English web text), every string
of DataJuicer's op vectors (Chinese and other scripts), modules of Python's standard library (code), LaTeX
documents built from the vectors' LaTeX plus synthetic ones, records with typed `meta` fields for the field
filters, and a seeded synthetic torture set (every Unicode general category, line separators, combining marks,
CJK, emoji ZWJ sequences, fullwidth forms, the special characters, digits of other scripts, long words,
repeated n-grams, empty / one-character / whitespace-only texts).

Ops not covered (their spec needs a library or model not available here): fix_unicode_mapper (ftfy),
chinese_convert_mapper (OpenCC), clean_html_mapper and extract_tables_from_html_mapper (HTML parsers),
sentence_split_mapper (NLTK Punkt parameters), every `tokenization: true` variant (SentencePiece / HF
tokenizers), language_id_score_filter, perplexity_filter, token_num_filter (models). The deduplicators and
selectors are dj_oracle_dataset.py's.
"""
import ast
import json
import math
import os
import random
import re
import sys
import sysconfig
import unicodedata

import regex

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("SLUICE_SOURCE_DIR", os.path.normpath(os.path.join(HERE, "..", "..")))
SHARED = os.environ.get("SLUICE_SHARED_DIR", os.path.normpath(os.path.join(SRC, "..", "shared")))
MAXSIZE = sys.maxsize  # DataJuicer's default upper bound (§1.4): a number, not infinity

# =============================================================================================================
# Shared primitives (§2)


def load_special_characters():
    with open(os.path.join(SHARED, "conformance", "dj_special_characters.json"), encoding="utf-8") as f:
        data = json.load(f)
    chars = frozenset(chr(int(cp, 16)) for cp in data["codepoints"])
    assert len(chars) == data["count"] == 1618, len(chars)
    return chars


SPECIAL_CHARACTERS = load_special_characters()

# §2.5, listed code point by code point.
VARIOUS_WHITESPACES = frozenset(
    [" ", "\t", "\u00a0", "\u202f", "\u205f", "\u3000", "\u200b", "\u200c", "\u200d", "\u2060", "\ufffc", "\u0084"]
    + [chr(c) for c in range(0x2000, 0x200B)])
assert len(VARIOUS_WHITESPACES) == 23

# §4 punctuation_normalization_mapper.
PUNCTUATION_MAP = {
    "，": ",", "。": ".", "、": ",", "„": '"', "”": '"', "“": '"', "«": '"', "»": '"', "１": '"', "」": '"',
    "「": '"', "《": '"', "》": '"', "´": "'", "∶": ":", "：": ":", "？": "?", "！": "!", "（": "(", "）": ")",
    "；": ";", "–": "-", "—": " - ", "．": ". ", "～": "~", "’": "'", "…": "...", "━": "-", "〈": "<",
    "〉": ">", "【": "[", "】": "]", "％": "%", "►": "-",
}

EMAIL_PATTERN = r"[A-Za-z0-9.\-+_]+@[a-z0-9.\-+_]+\.[a-z]+"
LINKS_PATTERN = (
    r"(?i)\b((?:[a-z][\w-]+:(?:\/{1,3}|[a-z0-9%])|www\d{0,3}[.]|[a-z0-9.\-]+[.][a-z]{2,4}\/)"
    r"(?:[^\s()<>]+|\(([^\s()<>]+|(\([^\s()<>]+\)))*\))+"
    r"(?:\(([^\s()<>]+|(\([^\s()<>]+\)))*\)|[^\s`!()\[\]{};:\'\".,<>?«»“”‘’]))")
IP_PATTERN = (
    r"(?:(?:1[0-9][0-9]\.)|(?:2[0-4][0-9]\.)|(?:25[0-5]\.)|(?:[1-9][0-9]\.)|(?:[0-9]\.)){3}"
    r"(?:(?:1[0-9][0-9])|(?:2[0-4][0-9])|(?:25[0-5])|(?:[1-9][0-9])|(?:[0-9]))"
    r"|([\da-fA-F]{1,4}:){7}[\da-fA-F]{1,4}")
COPYRIGHT_COMMENT = r"/\*[^*]*\*+(?:[^/*][^*]*\*+)*/"
BIBLIOGRAPHY_PATTERN = (r"(\\appendix|\\begin\{references\}|\\begin\{REFERENCES\}|\\begin\{thebibliography\}"
                        r"|\\bibliography\{.*\}).*$")
HEADER_PATTERN = (
    r"^(.*?)(\\\bchapter\b\*?(?:\[(.*?)\])?\{(.*?)\}|\\\bpart\b\*?(?:\[(.*?)\])?\{(.*?)\}"
    r"|\\\bsection\b\*?(?:\[(.*?)\])?\{(.*?)\}|\\\bsubsection\b\*?(?:\[(.*?)\])?\{(.*?)\}"
    r"|\\\bsubsubsection\b\*?(?:\[(.*?)\])?\{(.*?)\}"
    r"|\\\bparagraph\b\*?(?:\[(.*?)\])?\{(.*?)\}\\\bsubparagraph\b\*?(?:\[(.*?)\])?\{(.*?)\})")
NEWCOMMAND_PATTERN = r"\\\bnewcommand\b\*?\{(\\[a-zA-Z0-9]+?)\}\{(.*?)\}$"
DEF_PATTERN = r"\\def\s*(\\[a-zA-Z0-9]+?)\s*\{(.*?)\}$"


def unwrap_raw(pattern):
    """§2.2's raw-string wrapper rule: r'...' or r"..." longer than 2 characters loses its wrapper."""
    if len(pattern) > 2 and pattern[0] == "r" and pattern[1] in "'\"" and pattern[-1] == pattern[1]:
        return pattern[2:-1]
    return pattern


def split_on_whitespace(text, new_line=False, tab=False):
    """§2.3: split on the literal separators " " (and "\\n", "\\t" when asked), dropping empty pieces."""
    pieces = [text]
    for sep in [" "] + ["\n"] * new_line + ["\t"] * tab:
        pieces = [q for p in pieces for q in p.split(sep)]
    return [p for p in pieces if p]


def strip_chars(word, chars):
    """§2.3 strip(word, charset): drop members of `chars` from both ends, code point by code point."""
    begin, end = 0, len(word)
    while begin < end and word[begin] in chars:
        begin += 1
    while end > begin and word[end - 1] in chars:
        end -= 1
    return word[begin:end]


def words_refinement(words, lower_case=False, strip_set=None, use_words_aug=False, group_sizes=(2,),
                     join_char=""):
    """§2.3, in the spec's order: lowercase, strip + drop emptied words, append the g-word windows."""
    if lower_case:
        words = [w.lower() for w in words]
    if strip_set is not None:
        words = [strip_chars(w, strip_set) for w in words]
        words = [w for w in words if w]
    if use_words_aug:
        extra = []
        for g in group_sizes:
            extra += [join_char.join(words[i:i + g]) for i in range(len(words) - g + 1)]
        words = words + extra
    return words


def three_level_split(text):
    """§2.3: lines on "\\n", segments on "\\t", words on " "."""
    return [[split_on_whitespace(seg) for seg in line.split("\t")] for line in text.split("\n")]


def three_level_merge(lines):
    """§2.3: words joined by " ", empty segments dropped, segments joined by "\\t", empty lines dropped."""
    merged = []
    for line in lines:
        segs = [" ".join(words) for words in line if words]
        if segs:
            merged.append("\t".join(segs))
    return "\n".join(merged)


def in_range(value, lo, hi, min_closed=True, max_closed=True, reversed_range=False):
    """§1.4: closed/open bounds, a null bound skipped; reversed flips both closednesses, then negates."""
    if reversed_range:
        min_closed, max_closed = not min_closed, not max_closed
    ok = True
    if lo is not None:
        ok = ok and (value >= lo if min_closed else value > lo)
    if hi is not None:
        ok = ok and (value <= hi if max_closed else value < hi)
    return not ok if reversed_range else ok


def range_of(p, lo_name, lo_default, hi_name, hi_default):
    return dict(lo=p.get(lo_name, lo_default), hi=p.get(hi_name, hi_default),
                min_closed=p.get("min_closed_interval", True), max_closed=p.get("max_closed_interval", True),
                reversed_range=p.get("reversed_range", False))


def load_word_lists(directory, kind):
    """§2.6: every *.json whose name contains `kind`, {lang: [words]}, lists of a language concatenated; an
    `all` key with every language's words when the files have none."""
    lists = {}
    for name in sorted(os.listdir(directory)):
        if name.endswith(".json") and kind in name:
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                for lang, words in json.load(f).items():
                    lists.setdefault(lang, []).extend(words)
    if "all" not in lists:
        lists["all"] = [w for words in list(lists.values()) for w in words]
    return lists


def get_path(sample, dotted):
    """§1.1 / §5 specified_*_field_filter: walk a dotted key; a missing key reads as null (Arrow unification)."""
    value = sample
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


# =============================================================================================================
# Filters (§5). Each returns (stats dict, keep) for one sample.


class Filter:
    def __init__(self, op, params, words_dir):
        self.op, self.p, self.words_dir = op, dict(params), words_dir
        p = self.p
        if op in ("flagged_words_filter", "stopwords_filter"):
            kind = "flagged_words" if op == "flagged_words_filter" else "stopwords"
            self.words = set(load_word_lists(p[kind + "_dir"], kind)[p.get("lang", "en")])
        if op == "text_length_filter":
            self.key, self.rng = "text_len", range_of(p, "min_len", 10, "max_len", MAXSIZE)
        elif op == "words_num_filter":
            self.key, self.rng = "num_words", range_of(p, "min_num", 10, "max_num", MAXSIZE)
        elif op == "alphanumeric_filter":
            self.key, self.rng = "alnum_ratio", range_of(p, "min_ratio", 0.25, "max_ratio", MAXSIZE)
        elif op == "average_line_length_filter":
            self.key, self.rng = "avg_line_length", range_of(p, "min_len", 10, "max_len", MAXSIZE)
        elif op == "maximum_line_length_filter":
            self.key, self.rng = "max_line_length", range_of(p, "min_len", 10, "max_len", MAXSIZE)
        elif op == "character_repetition_filter":
            self.key, self.rng = "char_rep_ratio", range_of(p, "min_ratio", 0.0, "max_ratio", 0.5)
        elif op == "word_repetition_filter":
            self.key, self.rng = "word_rep_ratio", range_of(p, "min_ratio", 0.0, "max_ratio", 0.5)
        elif op == "special_characters_filter":
            self.key, self.rng = "special_char_ratio", range_of(p, "min_ratio", 0.0, "max_ratio", 0.25)
        elif op == "flagged_words_filter":
            self.key, self.rng = "flagged_words_ratio", range_of(p, "min_ratio", 0.0, "max_ratio", 0.045)
        elif op == "stopwords_filter":
            self.key, self.rng = "stopwords_ratio", range_of(p, "min_ratio", 0.3, "max_ratio", 1.0)
        elif op in ("specified_field_filter", "specified_numeric_field_filter"):
            self.key = p.get("field_key", "")
            self.rng = range_of(p, "min_value", -MAXSIZE, "max_value", MAXSIZE)
        elif op == "suffix_filter":
            self.key = None
        elif op == "general_field_filter":
            self.key = "general_field_filter_condition"
            self.condition = p.get("filter_condition", "")
            # Parsed as written (DataJuicer strips only to test for emptiness): a leading blank is Python's
            # IndentationError, a SyntaxError, so the op cannot be built.
            self.tree = ast.parse(self.condition, mode="eval") if self.condition.strip() else None
        else:
            raise ValueError("no oracle for " + op)

    def stat(self, text):
        op, p = self.op, self.p
        if op == "text_length_filter":
            return len(text)
        if op == "words_num_filter":
            return len(words_refinement(split_on_whitespace(text, True, True), strip_set=SPECIAL_CHARACTERS))
        if op == "alphanumeric_filter":
            return sum(1 for c in text if c.isalnum()) / len(text) if text else 0.0
        if op == "average_line_length_filter":
            lines = text.splitlines()
            return len(text) / len(lines) if lines else 0.0
        if op == "maximum_line_length_filter":
            lines = text.splitlines()
            return max(len(line) for line in lines) if lines else 0
        if op == "character_repetition_filter":
            n = p.get("rep_len", 10)
            freq = {}
            for i in range(len(text) - n + 1):
                g = text[i:i + n]
                freq[g] = freq.get(g, 0) + 1
            if not freq:
                return 0.0
            counts = sorted(freq.values(), reverse=True)
            singles = sum(1 for c in counts if c == 1)
            k = min(int(math.sqrt(len(counts))), len(counts) - singles)
            return sum(counts[:k]) / sum(counts)
        if op == "word_repetition_filter":
            n = p.get("rep_len", 10)
            words = words_refinement(split_on_whitespace(text, True, True), lower_case=True,
                                     strip_set=SPECIAL_CHARACTERS)
            freq = {}
            for i in range(len(words) - n + 1):
                g = " ".join(words[i:i + n])
                freq[g] = freq.get(g, 0) + 1
            if not freq:
                return 0.0
            return sum(c for c in freq.values() if c > 1) / sum(freq.values())
        if op == "special_characters_filter":
            return sum(1 for c in text if c in SPECIAL_CHARACTERS) / len(text) if text else 0.0
        if op in ("flagged_words_filter", "stopwords_filter"):
            words = words_refinement(split_on_whitespace(text, True, True), lower_case=True,
                                     strip_set=SPECIAL_CHARACTERS, use_words_aug=p.get("use_words_aug", False),
                                     group_sizes=p.get("words_aug_group_sizes", [2]),
                                     join_char=p.get("words_aug_join_char", ""))
            if not words:
                return 0.0
            return min(1.0, sum(1 for w in words if w in self.words) / len(words))
        raise AssertionError(op)

    def run(self, sample, text):
        """(the sample's stats for this op's key, keep). A stat the sample already carries is used as it is,
        never recomputed (§1.3)."""
        op, p = self.op, self.p
        cached = sample.get("__dj__stats__") or {}
        if op == "general_field_filter":
            if self.tree is None:
                return {}, True
            if self.key in cached:
                value = cached[self.key]
            else:
                try:
                    value = eval_condition(self.tree.body, dict(sample, __dj__stats__=cached))
                except SampleError:
                    return None, None
            return {self.key: value}, bool(value)
        if op == "suffix_filter":
            suffixes = p.get("suffixes", [])
            suffixes = [suffixes] if isinstance(suffixes, str) else suffixes
            # A record without __dj__suffix__ gets its file's suffix (".jsonl" for the one input file here):
            # DataJuicer's loader value; docs/compatibility.md ("suffix_filter") says how sluice decides it.
            suffix = sample["__dj__suffix__"] if "__dj__suffix__" in sample else ".jsonl"
            keep = True if not suffixes else suffix in suffixes
            return {}, (not keep if p.get("reversed_range", False) else keep)
        if op == "specified_field_filter":
            value = cached[self.key] if self.key in cached else get_path(sample, self.key)
            targets = p.get("target_value", [])
            if not self.key or not targets:
                keep = True
            else:
                values = value if isinstance(value, list) else [value]
                keep = all(v in targets for v in values)
            return {self.key: value}, (not keep if p.get("reversed_range", False) else keep)
        if op == "specified_numeric_field_filter":
            value = cached[self.key] if self.key in cached else get_path(sample, self.key)
            if not self.key:
                return {self.key: value}, True
            numeric = False
            if value:
                try:
                    float(value)
                    numeric = True
                except ValueError:
                    pass
            if not numeric:
                return {self.key: value}, False
            r = self.rng
            return {self.key: value}, in_range(float(value), r["lo"], r["hi"], r["min_closed"], r["max_closed"],
                                               r["reversed_range"])
        value = cached[self.key] if self.key in cached else self.stat(text)
        r = self.rng
        return {self.key: value}, in_range(value, r["lo"], r["hi"], r["min_closed"], r["max_closed"],
                                           r["reversed_range"])


class SampleError(Exception):
    """The op raises on this sample: under skip_op_error it is dropped, with no stats and no trace (§1.5)."""


COMPARE = {ast.Lt: lambda a, b: a < b, ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b,
           ast.GtE: lambda a, b: a >= b, ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b}


def eval_condition(node, sample):
    """§5 general_field_filter: literals, names (top-level fields), attribute access (nested dict lookup, null
    if missing), comparison chains (any null link makes the chain false) and and/or, each a bool (Python's
    all / any over the operands' truthiness, short-circuit); comparing incomparable types raises. A bare
    name or literal as the whole condition is its own value. Anything else raises."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return sample.get(node.id)
    if isinstance(node, ast.Attribute):
        value = eval_condition(node.value, sample)
        return value.get(node.attr) if isinstance(value, dict) else None
    if isinstance(node, ast.BoolOp):
        values = (eval_condition(v, sample) for v in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Compare):
        left = eval_condition(node.left, sample)
        rights = [eval_condition(c, sample) for c in node.comparators]
        for op, right in zip(node.ops, rights):
            if left is None or right is None:
                return False
            if type(op) not in COMPARE:
                raise SampleError(type(op).__name__)
            try:
                if not COMPARE[type(op)](left, right):
                    return False
            except TypeError as e:
                raise SampleError(str(e))
            left = right
        return True
    raise SampleError(type(node).__name__)


# =============================================================================================================
# Mappers (§4). Each maps a text to a list of texts (one, except text_chunk_mapper).


def expand_macro(text):
    macros = {}
    for m in regex.finditer(NEWCOMMAND_PATTERN, text, flags=regex.MULTILINE):
        macros[m.group(1)] = m.group(2)
    for m in regex.finditer(DEF_PATTERN, text, flags=regex.MULTILINE):
        macros[m.group(1)] = m.group(2)
    for name, value in macros.items():
        # The name and the one character after it that is not [a-zA-Z0-9] are matched, and that character is
        # put back after the value: matches do not overlap, so in "\x\x." only the first \x expands (the
        # second one's backslash was the first one's following character). §4 reads either way; DataJuicer's
        # source matches the following character as a group and puts it back.
        text = regex.sub(regex.escape(name) + r"([^a-zA-Z0-9])", lambda m, v=value: v + m.group(1), text)
    return text


def remove_repeat_sentences(text, lowercase, ignore_special, min_len):
    def split_sentences(line):
        line = regex.sub(r"([.。！!？\?])([^’”])", r"\1\n\2", line)
        line = regex.sub(r"(\.{6})([^’”])", r"\1\n\2", line)
        line = regex.sub(r"(\…{2})([^’”])", r"\1\n\2", line)
        line = regex.sub(r"([.。!！？\?\.{6}\…{2}][’”])([^’”])", r"\1\n\2", line)
        return line.split("\n")

    seen = set()
    out_lines = []
    for line in text.split("\n"):
        kept = ""
        if line:
            for sentence in split_sentences(line):
                key = sentence.strip()
                if lowercase:
                    key = key.lower()
                if ignore_special:
                    key = regex.sub(r"[^a-zA-Z0-9\u4e00-\u9fa5\n\t ]", "", key)
                if len(key) < min_len:
                    kept += sentence
                elif key not in seen:
                    seen.add(key)
                    kept += sentence
        out_lines.append(kept)
    return "\n".join(out_lines)


def text_chunks(text, p):
    max_len, pattern, overlap = p.get("max_len"), p.get("split_pattern", "\n\n"), p.get("overlap_len", 0)
    if max_len is None:
        pieces = re.split("(" + pattern + ")", text)
        if None in pieces:
            # A group of the pattern that took no part in a match is None in re.split's list, and None.strip()
            # raises: the sample fails, and a failed sample is dropped (skip_op_error; sluice drops only that
            # sample where DataJuicer drops its batch, docs/compatibility.md).
            return []
        return [t for t in pieces if t.strip()]
    chunks = []
    if pattern is None:
        if len(text) <= max_len:
            return [text]
        start = 0
        while start < len(text):
            chunks.append(text[start:start + max_len])
            start += max_len - overlap
        return chunks
    while True:  # the spec's recursion, as a loop
        if len(text) <= max_len:
            chunks.append(text)
            return chunks
        prefix = text[:max_len]
        matches = list(re.finditer(pattern, prefix))
        if matches:
            chunks.append(prefix[:matches[-1].start()])
            text = text[matches[-1].end():]
        else:
            chunks.append(prefix)
            text = text[max_len - overlap:]


def make_mapper(op, p):
    """A function text -> [texts] for the mapper `op` with parameters `p`."""
    if op in ("clean_email_mapper", "clean_links_mapper", "clean_ip_mapper"):
        default = {"clean_email_mapper": EMAIL_PATTERN, "clean_links_mapper": LINKS_PATTERN,
                   "clean_ip_mapper": IP_PATTERN}[op]
        pattern = p.get("pattern")
        rx = regex.compile(default if pattern is None else unwrap_raw(pattern), flags=regex.DOTALL)
        repl = p.get("repl", "")
        return lambda t: [rx.sub(repl, t)]
    if op == "clean_copyright_mapper":
        def clean_copyright(t):
            m = regex.search(COPYRIGHT_COMMENT, t)
            if m:
                # "contains copyright (case-insensitive)": the regex module's IGNORECASE (§2.2), under which
                # 'İ' matches 'i' but 'ı' does not (str.lower() would differ on 'İ').
                if regex.search("copyright", m.group(0), flags=regex.IGNORECASE):
                    t = t[:m.start()] + t[m.end():]
                return t
            lines = t.split("\n")
            skip = 0
            for line in lines:
                if line.startswith("//") or line.startswith("#") or line.startswith("--") or not line:
                    skip += 1
                else:
                    break
            return "\n".join(lines[skip:]) if skip else t
        return lambda t: [clean_copyright(t)]
    if op == "punctuation_normalization_mapper":
        return lambda t: ["".join(PUNCTUATION_MAP.get(c, c) for c in t)]
    if op == "whitespace_normalization_mapper":
        return lambda t: ["".join(" " if c in VARIOUS_WHITESPACES else c for c in t.strip())]
    if op == "remove_long_words_mapper":
        lo, hi = p.get("min_len", 1), p.get("max_len", MAXSIZE)

        def keep(w):
            return lo <= len(w) <= hi or lo <= len(strip_chars(w, SPECIAL_CHARACTERS)) <= hi
        return lambda t: [three_level_merge([[[w for w in seg if keep(w)] for seg in line]
                                             for line in three_level_split(t)])]
    if op == "remove_words_with_incorrect_substrings_mapper":
        subs = p.get("substrings")
        subs = ["http", "www", ".com", "href", "//"] if subs is None else subs

        def keep(w):
            w = strip_chars(w, SPECIAL_CHARACTERS)
            return not any(s in w for s in subs)
        return lambda t: [three_level_merge([[[w for w in seg if keep(w)] for seg in line]
                                             for line in three_level_split(t)])]
    if op == "remove_specific_chars_mapper":
        chars = p.get("chars_to_remove", "◆●■►▼▲▴∆▻▷❖♡□")
        if not chars:
            return lambda t: [t]
        rx = regex.compile("[" + "|".join(chars) + "]", flags=regex.DOTALL)
        return lambda t: [rx.sub("", t)]
    if op == "replace_content_mapper":
        patterns, repls = p.get("pattern"), p.get("repl", "")
        if patterns is None:
            return lambda t: [t]
        patterns = [patterns] if isinstance(patterns, str) else patterns
        rxs = [regex.compile(unwrap_raw(x), flags=regex.DOTALL) for x in patterns]

        def replace(t):
            for i, rx in enumerate(rxs):
                t = rx.sub(repls[i] if isinstance(repls, list) else repls, t)
            return t
        return lambda t: [replace(t)]
    if op == "remove_non_chinese_character_mapper":
        cls = "[^\u4e00-\u9fa5"
        if p.get("keep_alphabet", True):
            cls += "A-Za-z"
        if p.get("keep_number", True):
            cls += "0-9"
        cls += ".， ,\\-。%《*》/•、&＆(—)（+）：？!！“”·]+" if p.get("keep_punc", True) else "]"
        rx = regex.compile(cls, flags=regex.DOTALL)
        return lambda t: [rx.sub("", t)]
    if op == "remove_table_text_mapper":
        lo, hi = p.get("min_col", 2), p.get("max_col", 20)
        rxs = [regex.compile(r"(?<=\n)((\S+?)([ |\t](\S+?)){%d}\n+){2,}" % i) for i in range(lo - 1, hi)]

        def remove_tables(t):
            for rx in rxs:
                t = rx.sub("", t)
            return t
        return lambda t: [remove_tables(t)]
    if op == "remove_header_mapper":
        rx = regex.compile(HEADER_PATTERN, flags=regex.DOTALL)
        # Without a header the text is returned unchanged whatever drop_no_head says (§4, quirk 2).
        return lambda t: [rx.sub(r"\2", t) if rx.search(t) else t]
    if op == "remove_comments_mapper":
        inline, multiline = p.get("inline", True), p.get("multiline", True)

        def remove_comments(t):
            if inline:
                t = regex.sub(r"[^\\]%.+$", "", t, flags=regex.MULTILINE)
            if multiline:
                t = regex.sub(r"^%.*\n?", "", t, flags=regex.MULTILINE)
            return t
        return lambda t: [remove_comments(t)]
    if op == "remove_bibliography_mapper":
        rx = regex.compile(BIBLIOGRAPHY_PATTERN, flags=regex.DOTALL)
        return lambda t: [rx.sub("", t)]
    if op == "expand_macro_mapper":
        return lambda t: [expand_macro(t)]
    if op == "remove_repeat_sentences_mapper":
        args = (p.get("lowercase", False), p.get("ignore_special_character", True),
                p.get("min_repeat_sentence_length", 2))
        return lambda t: [remove_repeat_sentences(t, *args)]
    if op == "text_chunk_mapper":
        return lambda t: text_chunks(t, p)
    raise ValueError("no oracle for " + op)


def is_filter(op):
    return op.endswith("_filter")


# =============================================================================================================
# Op configurations: (name, op, params). WORDS stands for the word-list directory prepare writes.
WORDS = "@WORDS@"

CONFIGS = [
    ("text_length", "text_length_filter", {}),
    ("text_length_50_3000", "text_length_filter", {"min_len": 50, "max_len": 3000}),
    ("text_length_reversed", "text_length_filter", {"min_len": 50, "max_len": 3000, "reversed_range": True}),
    ("text_length_open", "text_length_filter",
     {"min_len": 10, "max_len": 100, "min_closed_interval": False, "max_closed_interval": False}),
    ("words_num", "words_num_filter", {}),
    ("words_num_zh", "words_num_filter", {"lang": "zh", "tokenization": False, "min_num": 3, "max_num": 500}),
    ("words_num_reversed", "words_num_filter", {"min_num": 5, "max_num": 100, "reversed_range": True}),
    ("alphanumeric", "alphanumeric_filter", {}),
    ("alphanumeric_bounds", "alphanumeric_filter", {"tokenization": False, "min_ratio": 0.5, "max_ratio": 0.9}),
    ("alphanumeric_reversed_open", "alphanumeric_filter",
     {"min_ratio": 0.5, "max_ratio": 0.75, "reversed_range": True, "min_closed_interval": False}),
    ("average_line_length", "average_line_length_filter", {}),
    ("average_line_length_bounds", "average_line_length_filter", {"min_len": 20, "max_len": 120}),
    ("maximum_line_length", "maximum_line_length_filter", {}),
    ("maximum_line_length_bounds", "maximum_line_length_filter",
     {"min_len": 5, "max_len": 200, "max_closed_interval": False}),
    ("character_repetition", "character_repetition_filter", {}),
    ("character_repetition_1", "character_repetition_filter", {"rep_len": 1, "max_ratio": 0.4}),
    ("character_repetition_3", "character_repetition_filter", {"rep_len": 3, "min_ratio": 0.1, "max_ratio": 0.3}),
    ("character_repetition_50", "character_repetition_filter", {"rep_len": 50}),
    ("word_repetition", "word_repetition_filter", {}),
    ("word_repetition_1", "word_repetition_filter", {"rep_len": 1}),
    ("word_repetition_2_zh", "word_repetition_filter",
     {"lang": "zh", "tokenization": False, "rep_len": 2, "max_ratio": 0.3}),
    ("word_repetition_5_reversed", "word_repetition_filter", {"rep_len": 5, "max_ratio": 0.2, "reversed_range": True}),
    ("special_characters", "special_characters_filter", {}),
    ("special_characters_reversed", "special_characters_filter",
     {"min_ratio": 0.1, "max_ratio": 0.5, "reversed_range": True}),
    ("flagged_words_en", "flagged_words_filter", {"flagged_words_dir": WORDS}),
    ("flagged_words_zh_aug", "flagged_words_filter",
     {"flagged_words_dir": WORDS, "lang": "zh", "use_words_aug": True, "max_ratio": 0.01}),
    ("flagged_words_zh_aug23", "flagged_words_filter",
     {"flagged_words_dir": WORDS, "lang": "zh", "use_words_aug": True, "words_aug_group_sizes": [2, 3],
      "words_aug_join_char": "_", "max_ratio": 0.02}),
    ("flagged_words_all", "flagged_words_filter", {"flagged_words_dir": WORDS, "lang": "all", "max_ratio": 0.0}),
    ("stopwords_en", "stopwords_filter", {"stopwords_dir": WORDS}),
    ("stopwords_zh_aug", "stopwords_filter",
     {"stopwords_dir": WORDS, "lang": "zh", "use_words_aug": True, "min_ratio": 0.1}),
    ("stopwords_all", "stopwords_filter", {"stopwords_dir": WORDS, "lang": "all", "min_ratio": 0.05,
                                           "max_ratio": 0.5}),
    ("suffix_list", "suffix_filter", {"suffixes": [".txt", ".md"]}),
    ("suffix_str", "suffix_filter", {"suffixes": ".jsonl"}),
    ("suffix_reversed", "suffix_filter", {"suffixes": [".txt"], "reversed_range": True}),
    ("specified_field_lang", "specified_field_filter", {"field_key": "meta.lang", "target_value": ["en", "zh"]}),
    ("specified_field_tags", "specified_field_filter", {"field_key": "meta.tags", "target_value": ["a", "b"]}),
    ("specified_field_num", "specified_field_filter",
     {"field_key": "meta.num", "target_value": [0, 1, 2.0, 3, None]}),
    ("specified_field_flag", "specified_field_filter", {"field_key": "meta.flag", "target_value": [1]}),
    ("specified_field_reversed", "specified_field_filter",
     {"field_key": "meta.lang", "target_value": ["en"], "reversed_range": True}),
    ("specified_numeric_num", "specified_numeric_field_filter",
     {"field_key": "meta.num", "min_value": 0, "max_value": 100}),
    ("specified_numeric_num_2p53", "specified_numeric_field_filter",
     {"field_key": "meta.num", "min_value": 1, "max_value": 9007199254740992}),
    ("specified_numeric_ratio", "specified_numeric_field_filter", {"field_key": "meta.ratio"}),
    ("specified_numeric_str", "specified_numeric_field_filter",
     {"field_key": "meta.numstr", "min_value": -10, "max_value": 1000000}),
    ("specified_numeric_str_reversed", "specified_numeric_field_filter",
     {"field_key": "meta.numstr", "min_value": 0, "max_value": 100, "reversed_range": True}),
    ("specified_numeric_flag", "specified_numeric_field_filter", {"field_key": "meta.flag", "min_value": 1}),
    # Conditions over the typed meta fields (one type per field, as an Arrow column): exact int / float
    # comparison beyond 2^53, chains, null links, str vs number (a TypeError: the sample fails), short-circuit,
    # Python literal spellings, stats read from an earlier run.
    ("general_field_num_ratio", "general_field_filter",
     {"filter_condition": "meta.num > 2 and meta.ratio <= 3.14"}),
    ("general_field_chain_or", "general_field_filter",
     {"filter_condition": "1 < meta.num <= 100 or meta.lang == 'zh'"}),
    ("general_field_big_int_float", "general_field_filter",
     {"filter_condition": "meta.num == 9007199254740992.0 or meta.num >= 9.223372036854776e18"}),
    ("general_field_big_int_int", "general_field_filter",
     {"filter_condition": "meta.num == 9007199254740993 or meta.num > 9223372036854775806"}),
    ("general_field_float_int", "general_field_filter",
     {"filter_condition": "meta.ratio == 0 or meta.ratio > 1e299 or meta.ratio == 100"}),
    ("general_field_strings", "general_field_filter",
     {"filter_condition": "'a' <= meta.lang < 'f' or meta.lang == '' or text >= '\u6570'"}),
    ("general_field_bool", "general_field_filter", {"filter_condition": "meta.flag == 1 and meta.flag"}),
    ("general_field_bool_order", "general_field_filter", {"filter_condition": "meta.flag < 1"}),
    ("general_field_type_error", "general_field_filter", {"filter_condition": "meta.lang > 1"}),
    ("general_field_short_circuit", "general_field_filter",
     {"filter_condition": "meta.flag or meta.num > 0 and meta.lang < 5"}),
    ("general_field_null_links", "general_field_filter",
     {"filter_condition": "meta.missing == meta.missing or meta.num != None or None == None"}),
    ("general_field_lists", "general_field_filter",
     {"filter_condition": "meta.tags == meta.tags and meta.tags != 1"}),
    ("general_field_stats", "general_field_filter",
     {"filter_condition": "__dj__stats__.text_len > 5 or __dj__stats__.num_words == 3"}),
    ("general_field_literals", "general_field_filter",
     {"filter_condition": "meta.num == 0x64 or meta.num == 1_0 or meta.ratio == .5 or meta.num == 1e2 "
                          "or meta.lang == \"\\x65n\" or meta.lang == '\\N{LATIN SMALL LETTER Z}\\150'  # comment"}),
    ("general_field_true", "general_field_filter", {"filter_condition": "1 < 2 < 3"}),
    ("general_field_empty", "general_field_filter", {"filter_condition": ""}),
    ("clean_email", "clean_email_mapper", {}),
    ("clean_email_repl", "clean_email_mapper", {"repl": "<EMAIL>"}),
    ("clean_email_raw_pattern", "clean_email_mapper", {"pattern": "r'[a-z]+@[a-z]+'", "repl": "E"}),
    ("clean_links", "clean_links_mapper", {}),
    ("clean_links_repl", "clean_links_mapper", {"repl": "<LINK>"}),
    ("clean_links_pattern", "clean_links_mapper", {"pattern": "https?://\\S+", "repl": "L"}),
    ("clean_ip", "clean_ip_mapper", {}),
    ("clean_ip_repl", "clean_ip_mapper", {"repl": "<IP>"}),
    ("clean_copyright", "clean_copyright_mapper", {}),
    ("punctuation_normalization", "punctuation_normalization_mapper", {}),
    ("whitespace_normalization", "whitespace_normalization_mapper", {}),
    ("remove_long_words", "remove_long_words_mapper", {}),
    ("remove_long_words_3_15", "remove_long_words_mapper", {"min_len": 3, "max_len": 15}),
    ("remove_long_words_128", "remove_long_words_mapper", {"max_len": 128}),
    ("remove_specific_chars", "remove_specific_chars_mapper", {}),
    ("remove_specific_chars_vowels", "remove_specific_chars_mapper", {"chars_to_remove": "aeiouAEIOU"}),
    ("remove_specific_chars_list", "remove_specific_chars_mapper", {"chars_to_remove": ["。", "，", "abc"]}),
    ("remove_specific_chars_caret", "remove_specific_chars_mapper", {"chars_to_remove": "^a"}),
    ("remove_specific_chars_class", "remove_specific_chars_mapper", {"chars_to_remove": ["\\s"]}),
    ("remove_specific_chars_empty", "remove_specific_chars_mapper", {"chars_to_remove": ""}),
    ("remove_repeat_sentences", "remove_repeat_sentences_mapper", {}),
    ("remove_repeat_sentences_lower", "remove_repeat_sentences_mapper",
     {"lowercase": True, "ignore_special_character": False, "min_repeat_sentence_length": 5}),
    ("remove_incorrect_substrings", "remove_words_with_incorrect_substrings_mapper", {}),
    ("remove_incorrect_substrings_list", "remove_words_with_incorrect_substrings_mapper",
     {"substrings": ["com", "算子"]}),
    ("remove_incorrect_substrings_zh", "remove_words_with_incorrect_substrings_mapper",
     {"lang": "zh", "tokenization": False, "substrings": ["的", "x", "ー"]}),
    ("replace_content_digits", "replace_content_mapper", {"pattern": "\\d+", "repl": "<N>"}),
    ("replace_content_groups", "replace_content_mapper",
     {"pattern": ["(\\w+)@(\\w+)", "[aeiou]"], "repl": ["\\2 at \\1", "*"]}),
    ("replace_content_raw", "replace_content_mapper", {"pattern": "r'\\s+'", "repl": " "}),
    ("replace_content_words", "replace_content_mapper", {"pattern": "\\b\\w+\\b", "repl": "W"}),
    ("replace_content_nonword_class", "replace_content_mapper", {"pattern": "[\\W\\d]+", "repl": "_"}),
    ("replace_content_whole", "replace_content_mapper", {"pattern": "\\b(\\p{Lu})(\\p{Ll}*)\\b", "repl": "<\\g<0>|\\2>"}),
    ("remove_non_chinese", "remove_non_chinese_character_mapper", {}),
    ("remove_non_chinese_none", "remove_non_chinese_character_mapper",
     {"keep_alphabet": False, "keep_number": False, "keep_punc": False}),
    ("remove_non_chinese_alpha_punc", "remove_non_chinese_character_mapper",
     {"keep_alphabet": True, "keep_number": False, "keep_punc": True}),
    ("remove_non_chinese_number", "remove_non_chinese_character_mapper",
     {"keep_alphabet": False, "keep_number": True, "keep_punc": False}),
    ("remove_table_text", "remove_table_text_mapper", {}),
    ("remove_table_text_3_5", "remove_table_text_mapper", {"min_col": 3, "max_col": 5}),
    ("remove_table_text_2_2", "remove_table_text_mapper", {"min_col": 2, "max_col": 2}),
    ("remove_header", "remove_header_mapper", {}),
    ("remove_header_keep", "remove_header_mapper", {"drop_no_head": False}),
    ("remove_comments", "remove_comments_mapper", {}),
    ("remove_comments_multiline_only", "remove_comments_mapper", {"inline": False}),
    ("remove_comments_inline_only", "remove_comments_mapper", {"multiline": False}),
    ("remove_bibliography", "remove_bibliography_mapper", {}),
    ("expand_macro", "expand_macro_mapper", {}),
    ("text_chunk_pattern", "text_chunk_mapper", {}),
    ("text_chunk_comma", "text_chunk_mapper", {"split_pattern": ","}),
    ("text_chunk_optional_group", "text_chunk_mapper", {"split_pattern": "(;)|(,)|\\."}),
    ("text_chunk_len", "text_chunk_mapper", {"max_len": 300, "split_pattern": None}),
    ("text_chunk_len_overlap", "text_chunk_mapper", {"max_len": 300, "overlap_len": 50, "split_pattern": None}),
    ("text_chunk_both", "text_chunk_mapper", {"max_len": 500, "overlap_len": 20}),
    ("text_chunk_both_sentence", "text_chunk_mapper", {"max_len": 200, "split_pattern": "[.。!?]\\s*"}),
    ("text_chunk_both_words", "text_chunk_mapper", {"max_len": 120, "split_pattern": "\\w\\W+\\b"}),
    ("text_chunk_nonspace_class", "text_chunk_mapper", {"max_len": 80, "split_pattern": "[^\\S\\n]+"}),
]

# =============================================================================================================
# Known differences. Each entry: (config-name regex, predicate over the input record, reason). A difference is
# allowed only when an entry matches it; every reason cites docs/compatibility.md.
def _unicode15(record):
    return record["src"] == "unicode15"


ALLOWED = [
    (".*", _unicode15,
     "docs/compatibility.md 'Unicode versions': characters assigned in Unicode 15 are unassigned to Python "
     "3.11's str methods but letters to the regex module; sluice's predicates (ICU 72) and regexes (PCRE2 "
     "10.42) know the opposite versions"),
]


def allowed(config, record):
    for name_rx, pred, reason in ALLOWED:
        if re.fullmatch(name_rx, config) and pred(record):
            return reason
    return None


# =============================================================================================================
# The corpus


def vector_strings():
    """Every string inside the inputs and expected outputs of DataJuicer's op vectors, deduplicated."""
    out, seen = [], set()

    def walk(v):
        if isinstance(v, str):
            if v not in seen:
                seen.add(v)
                out.append(v)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
    with open(os.path.join(SHARED, "conformance", "dj_op_vectors.jsonl"), encoding="utf-8") as f:
        for line in f:
            v = json.loads(line)
            walk(v.get("input"))
            walk(v.get("expected"))
    return out


def stdlib_code(limit=60, max_bytes=60000):
    """Modules of Python's standard library, in name order, smaller than max_bytes."""
    lib = sysconfig.get_paths()["stdlib"]
    out = []
    for name in sorted(os.listdir(lib)):
        path = os.path.join(lib, name)
        if name.endswith(".py") and os.path.isfile(path) and os.path.getsize(path) < max_bytes:
            with open(path, encoding="utf-8") as f:
                out.append(f.read())
            if len(out) == limit:
                break
    return out


LATEX_PIECES = [
    "\\newcommand{\\ours}{\\textsc{Sluice}}\n",
    "\\newcommand*{\\etal}{\\textit{et al.}}\n",
    "\\newcommand{\\theHalgorithm}{\\arabic{algorithm}}\n",
    "\\newcommand{\\cmark}{\\ding{51}\\xspace}%\n",
    "\\newcommand\\Zerocost{0}\n",
    "\\newcommand{\\vect}[1]{\\mathbf{#1}}\n",
    "\\def\\R{\\mathbb{R}}\n",
    "\\def \\eps {\\varepsilon}\n",
    "\\def\\x{x}\n",
    "\\documentclass{article}\n\\usepackage{amsmath}\n",
    "\\title{On data}\n\\author{A. Author}\n\\begin{document}\n\\maketitle\n",
    "\\begin{abstract}We study \\ours{} and \\ours\\ours. \\end{abstract}\n",
    "\\section{Introduction}\nText with \\ours, \\etal and $\\R^n$, \\eps-close, \\x\\x.\n",
    "\\section*{Related work}\nMore text 50% of the time \\% escaped. % a comment\n",
    "% a full-line comment\n%\n",
    "\\subsection[short]{A long title}\nContent.\n",
    "\\subsubsection{Deeper}\nabc%def\n",
    "\\chapter{Chapter}\n",
    "\\part{Part one}\n",
    "\\paragraph{Para}\\subparagraph{Sub}\n",
    "\\paragraph{Lonely paragraph}\n",
    "\\sectionx{not a section}\n",
    "\\bibliographystyle{plain}\n",
    "\\bibliography{refs}\n",
    "\\appendix\n\\section{Proofs}\n",
    "\\begin{thebibliography}{9}\n\\bibitem{a} A.\n\\end{thebibliography}\n",
    "\\begin{references}\nR\n\\end{references}\n",
    "\\begin{REFERENCES}\nR\n\\end{REFERENCES}\n",
    "\\end{document}\n",
    "Cost \\Zerocost, mark \\cmark, vector \\vect{v}.\n",
    "数据\\section{中文标题}内容\n",
    "\\ours",
]


def latex_docs(rng, vectors):
    docs = [v for v in vectors if "\\" in v and ("section" in v or "newcommand" in v or "%" in v
                                                 or "bibliography" in v or "appendix" in v or "def" in v)]
    for _ in range(150):
        docs.append("".join(rng.choice(LATEX_PIECES) for _ in range(rng.randint(1, 12))))
    return docs


LINE_BREAKS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
OTHER_DIGITS = "٠١٢٣٤٥٦٧٨٩۰۱۲۳४५६০১২੦૧୨௩౪೫൬๗໘༩၀႑០᠑᥆᧐᪀᭐᮰᱀꘠꣐꤀꧐꩐꯰０１２３４５６７８９𝟎𝟙𝟤𝟯𝟺①②③²³¹¼½Ⅷↂ〇"
EMOJI = ["😊", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇨🇳", "🇺🇸", "❤️", "☺", "⌚", "🧑‍💻", "1️⃣", "#️⃣", "©", "™", "🀄"]
# Code points unassigned in every Unicode version up to 16.0 (Python's unicodedata and the regex module and
# ICU may each have a different version; these are Cn in all of them).
UNASSIGNED = ([0x0378, 0x0379, 0x0380, 0x038B, 0x038D, 0x03A2, 0x0557, 0x05C8, 0x2FE0, 0x2FEF, 0xFFF0, 0xFFFE,
               0xFFFF, 0xFDD0, 0xFDEF, 0x1FFFE, 0x40000, 0x4FFFD, 0xE0080, 0xE00FF, 0x10FFFF])


def category_table():
    """Code points grouped by Python's general category (surrogates left out: not valid UTF-8); Cn only from
    UNASSIGNED, and nothing assigned after Unicode 14 (Python 3.11's unicodedata) -- see `unicode15`."""
    table = {}
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        cat = unicodedata.category(chr(cp))
        if cat == "Cn":
            continue
        table.setdefault(cat, []).append(chr(cp))
    table["Cn"] = [chr(c) for c in UNASSIGNED]
    return table


def torture(rng, n):
    cats = category_table()
    cat_names = sorted(cats)
    special = sorted(SPECIAL_CHARACTERS)
    cjk = [chr(c) for c in range(0x4E00, 0x9FA6)] + [chr(c) for c in range(0x3400, 0x3440)] + ["⼏", "⺇", "𠀀"]
    fullwidth = [chr(c) for c in range(0xFF01, 0xFF5F)]
    combining = [chr(c) for c in range(0x0300, 0x0370)] + ["\u20dd", "\u0e31", "\u093f", "\ufe0f", "\u200d"]
    spaces = sorted(VARIOUS_WHITESPACES | {"\u1680", "\ufeff", "\x1f", "\u180e"})
    words = ("the of and to in is a data com www http href sluice Ünïcödé İstanbul straße ǅemal "
             "ΣΊΣΥΦΟΣ café naïve 数据 清洗 的 是 了 中文 算子 ー ツ 一 上 士 नमस्ते हिन्दी ไทย été "
             "a‿b x‍y").split()

    def piece():
        kind = rng.randrange(14)
        if kind == 0:
            c = rng.choice(cat_names)
            return "".join(rng.choice(cats[c]) for _ in range(rng.randint(1, 6)))
        if kind == 1:
            return rng.choice(LINE_BREAKS)
        if kind == 2:
            return "".join(rng.choice(cjk) for _ in range(rng.randint(1, 8)))
        if kind == 3:
            return rng.choice(EMOJI)
        if kind == 4:
            return "".join(rng.choice(fullwidth) for _ in range(rng.randint(1, 4)))
        if kind == 5:
            return "".join(rng.choice(special) for _ in range(rng.randint(1, 4)))
        if kind == 6:
            return "".join(rng.choice(OTHER_DIGITS) for _ in range(rng.randint(1, 4)))
        if kind == 7:
            return rng.choice("aeioumnk数") + "".join(rng.choice(combining) for _ in range(rng.randint(1, 3)))
        if kind == 8:
            return rng.choice(spaces) * rng.randint(1, 3)
        if kind == 9:
            return "".join(rng.choice("abcdefghij0123456789-_.") for _ in range(rng.randint(20, 200)))
        if kind == 10:
            return (" ".join(rng.choice(words) for _ in range(rng.randint(1, 4))) + rng.choice(" \n\t.")) \
                * rng.randint(2, 8)
        if kind == 11:
            return rng.choice(["a@b.com", "x.y+z@ex-ample.org", "Foo@Example.COM", "http://a.b/c?d=(e)",
                               "www.example.com", "1.2.3.256", "300.1.1.1", "fe80:0:0:0:0:0:0:1",
                               "https://例子.中国/路径", "abc.def@x.yz", "ftp://x", "mailto:a@b.c"])
        if kind == 12:
            return rng.choice([". ", "。", "！", "?", "……", "......", "”", "’", "6”", "! ", "? "])
        return rng.choice(words) + " "

    texts = ["", " ", "\n", "\t", "\u3000", "\r\n", "\n\n\n", " \t \n \u2028 ", "a", "数", "😊", "\x85",
             "\u2029", "\x0b", "\x1c", "\u00a0", "\u200b", "\ufeff", "１", "Ⅷ", "İ", "ẞ", "\x00", "a\x00b",
             # clean_copyright_mapper: case-insensitive 'copyright' beyond ASCII, repeated and nested comments
             "/* COPYRıGHT x */\nint a;", "/* copyrİght */b", "/* ＣＯＰＹＲＩＧＨＴ */c", "/* (c) */ x /* (c) */",
             "/* Copyright A */ x /* Copyright A */", "/** a ** Copyright **/ /* b */", "/* a *//* Copyright */",
             "// c\n# d\n-- e\n\ncode\n// f", "//only\n#comments\n", "/* unterminated copyright"]
    while len(texts) < n:
        texts.append("".join(piece() for _ in range(rng.randint(1, 40))))
    return texts


# Characters assigned in Unicode 15.0 but not in 14.0 (Python 3.11's unicodedata): letters to Python 3.12+,
# unassigned to Python 3.11. Kept in their own records so that a version-dependent result is visible as such.
UNICODE15 = ["\U00011F04", "\U0001E4D0", "\U00031350", "\U0001F6DC", "\u0CF3", "\U0001E030", "\U0001D2C0"]


def build_corpus():
    rng = random.Random(20251122)
    records = []

    def add(source, text, **extra):
        records.append(dict({"id": len(records), "src": source, "text": text}, **extra))

    with open(os.path.join(SRC, "examples", "demo", "data.jsonl"), encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i % 2 == 0:  # every other record: 1000 documents keep the test well under a minute
                add("demo", json.loads(line)["text"])
    vectors = vector_strings()
    for t in vectors:
        add("vectors", t)
    for t in stdlib_code():
        add("code", t)
    for t in latex_docs(rng, vectors):
        add("latex", t)
    for t in torture(rng, 1500):
        add("torture", t)
    for i in range(len(UNICODE15)):
        add("unicode15", "x" + UNICODE15[i] + " " + "".join(UNICODE15) + "\n" + UNICODE15[i] * 3)
    # Typed fields for the field filters (one type per field across records, as an Arrow column has).
    langs = ["en", "zh", "fr", "", "EN"]
    nums = [0, 1, 2, 3, -1, 100, 101, 9007199254740993, 9007199254740992, 9223372036854775807,
            -9223372036854775807, 42]
    ratios = [0.0, 0.5, -0.0, 1e-300, 3.14, 1e300, 2.5e-5, 100.0]
    numstrs = ["13.5", " 7 ", "1_000", "١٢", "inf", "-Infinity", "nan", "1e400", "0x10", "", "abc", "0", "０",
               "1,5", "+3", ".5", "5.", "1e-3", "\u3000 12", "-11", "1000000", "1000001", "٣.٥", "-0", "\x1c5",
               "5\x1f", "\x855", "1e٣", "１_０", "²", "5\u200b", "𝟓e1", "-nan", "1__0", "_1", "1_"]
    tags = [["a"], ["a", "b"], [], ["b", "c"], ["a", None], ["a", "a"]]
    for r in records:
        i = r["id"]
        meta = {}
        if i % 7 != 3:
            meta["lang"] = langs[i % len(langs)]
        if i % 5 != 4:
            meta["num"] = nums[i % len(nums)]
        if i % 6 != 5:
            meta["ratio"] = ratios[i % len(ratios)]
        if i % 9 != 8:
            meta["numstr"] = numstrs[i % len(numstrs)]
        if i % 4 != 3:
            meta["tags"] = tags[i % len(tags)]
        if i % 8 != 7:
            meta["flag"] = i % 3 == 0
        r["meta"] = meta
        if i % 13 == 0:  # stats from an earlier run: every filter must reuse its key's value (§1.3)
            r["__dj__stats__"] = {"text_len": 7, "num_words": 3, "alnum_ratio": 0.5, "char_rep_ratio": 0.9,
                                  "word_rep_ratio": 0, "special_char_ratio": 0.3, "avg_line_length": 12.5,
                                  "max_line_length": 300, "flagged_words_ratio": 0.04, "stopwords_ratio": 0.31,
                                  "meta.num": 50, "meta.lang": "en", "meta.numstr": "٣"}
            if i % 26 == 0:
                r["__dj__stats__"]["general_field_filter_condition"] = i % 52 == 0
        if i % 10 == 1:
            r["__dj__suffix__"] = [".txt", ".md", ".jsonl", "txt", ".TXT"][(i // 10) % 5]
    return records


WORD_LISTS = {
    "stopwords": {"en": ["the", "of", "and", "to", "in", "is", "a", "i", "The", "straße", "İstanbul"],
                  "zh": ["的", "是", "了", "在", "和", "数据", "是的", "一"]},
    "flagged_words": {"en": ["spam", "viagra", "sex", "xxx", "porn", "casino", "ツ"],
                      "zh": ["卖淫女", "打飞机", "三级片", "赌博", "清洗", "数据清洗", "中文_算子"]},
}

# =============================================================================================================
# Commands


def cmd_prepare(work):
    os.makedirs(os.path.join(work, "recipes"), exist_ok=True)
    os.makedirs(os.path.join(work, "words"), exist_ok=True)
    for kind, lists in WORD_LISTS.items():
        with open(os.path.join(work, "words", kind + ".json"), "w", encoding="utf-8") as f:
            json.dump(lists, f, ensure_ascii=False)
    with open(os.path.join(work, "input.jsonl"), "w", encoding="utf-8") as f:
        for r in build_corpus():
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    words = os.path.join(work, "words")
    with open(os.path.join(work, "configs.txt"), "w") as names:
        for name, op, params in CONFIGS:
            params = {k: (words if v == WORDS else v) for k, v in params.items()}
            lines = ["dataset_path: " + os.path.join(work, "input.jsonl"),
                     "export_path: " + os.path.join(work, "out", name, "out.jsonl"),
                     "np: 2", "process:",
                     # JSON is YAML: parameters are written as a flow mapping, UTF-8, escapes as JSON spells them.
                     "  - %s: %s" % (op, json.dumps(params, ensure_ascii=False))]
            if is_filter(op):
                lines[3:3] = ["keep_stats_in_res_ds: true", "open_tracer: true", "trace_num: 1000000000"]
            with open(os.path.join(work, "recipes", name + ".yaml"), "w", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
            names.write(name + "\n")


class Raw(str):
    """A number's token exactly as sluice wrote it."""


def parse_raw(line):
    return json.loads(line, parse_float=Raw, parse_int=Raw)


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [line for line in f if line.strip()]


def find_trace(work, name, op):
    root = os.path.join(work, "out", name)
    for job in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        path = os.path.join(root, job, "trace", "filter-%s.jsonl" % op)
        if os.path.exists(path):
            return path
    return None


def same_value(expected, got_raw):
    """(equal, note): exact value and type equality of a stat; note = the JSON spelling differs only."""
    got = json.loads(json.dumps(got_raw)) if not isinstance(got_raw, Raw) else None
    if isinstance(got_raw, Raw):
        token = str(got_raw)
        is_int_token = not any(c in token for c in ".eE") and token not in ("NaN", "Infinity", "-Infinity")
        if isinstance(expected, bool) or not isinstance(expected, (int, float)):
            return False, None
        if isinstance(expected, int) != is_int_token:
            return False, None  # 5 where DataJuicer writes 5.0, or the reverse
        value = int(token) if is_int_token else float(token)
        if value != expected:
            return False, None
        return True, (None if token == json.dumps(expected) else "%s written as %s" % (json.dumps(expected), token))
    return (type(expected) is type(got) and expected == got) if not isinstance(expected, (dict, list)) \
        else json.dumps(expected, sort_keys=True) == json.dumps(got, sort_keys=True), None


def cmd_compare(work):
    records = build_corpus()
    by_id = {r["id"]: r for r in records}
    words = os.path.join(work, "words")
    n_configs = n_records = n_diffs = n_allowed = 0
    notes = {}
    failed_configs = []
    only = re.compile(os.environ.get("DJ_ORACLE_ONLY", ".*"))  # a subset of the configs, while debugging
    for name, op, params in CONFIGS:
        if not only.fullmatch(name):
            continue
        params = {k: (words if v == WORDS else v) for k, v in params.items()}
        n_configs += 1
        diffs = []  # (id, what, expected, got)
        out_lines = read_jsonl(os.path.join(work, "out", name, "out.jsonl"))
        if not os.path.exists(os.path.join(work, "out", name, "out.jsonl")):
            diffs.append((None, "sluice wrote no export", None, None))
        if is_filter(op):
            f = Filter(op, params, words)
            trace = find_trace(work, name, op)
            dropped_lines = read_jsonl(trace) if trace else []
            got = {}
            for kept, lines in ((True, out_lines), (False, dropped_lines)):
                for line in lines:
                    s = parse_raw(line)
                    rid = int(s["id"])
                    if rid in got:
                        diffs.append((rid, "record written twice", None, None))
                    got[rid] = (kept, s.get("__dj__stats__"))
            for r in records:
                n_records += 1
                stats, keep = f.run(r, r["text"])
                if keep is None:  # the op fails on this sample: dropped, neither exported nor traced
                    if r["id"] in got:
                        diffs.append((r["id"], "kept or traced a sample the op fails on", None, got[r["id"]]))
                    continue
                if r["id"] not in got:
                    diffs.append((r["id"], "record missing from export and trace", keep, None))
                    continue
                g_keep, g_stats = got[r["id"]]
                if g_keep != keep:
                    diffs.append((r["id"], "kept" if not keep else "dropped", keep, g_keep))
                for key, value in stats.items():
                    g_value = (g_stats or {}).get(key, KeyError)
                    if g_value is KeyError:
                        diffs.append((r["id"], "stats[%s] missing" % key, value, g_stats))
                        continue
                    equal, note = same_value(value, g_value)
                    if not equal:
                        diffs.append((r["id"], "stats[%s]" % key, value, g_value))
                    elif note:
                        notes.setdefault(name, []).append((r["id"], note))
        else:
            mapper = make_mapper(op, params)
            got = {}
            for line in out_lines:
                s = json.loads(line)
                got.setdefault(s["id"], []).append(s["text"])
            for r in records:
                n_records += 1
                expected = mapper(r["text"])
                g = got.get(r["id"], [])
                if g != expected:
                    diffs.append((r["id"], "text", expected if op == "text_chunk_mapper" else expected[0],
                                  g if op == "text_chunk_mapper" else (g[0] if len(g) == 1 else g)))
        real = []
        for d in diffs:
            reason = allowed(name, by_id[d[0]]) if d[0] is not None else None
            if reason:
                n_allowed += 1
            else:
                real.append(d)
        n_diffs += len(real)
        if real:
            failed_configs.append(name)
            print("FAIL %s (%s %s): %d differences" % (name, op, json.dumps(params, ensure_ascii=False), len(real)))
            for rid, what, exp, got_v in real[:int(os.environ.get("DJ_ORACLE_SHOW", "4"))]:
                src = by_id[rid] if rid is not None else {}
                print("  id %s (%s) %s: text=%s" % (rid, src.get("src"), what, ascii(src.get("text", ""))[:600]))
                if is_filter(op):
                    print("    meta=%s" % ascii(src.get("meta")))
                print("    oracle: %s" % ascii(exp)[:600])
                print("    sluice: %s" % ascii(got_v)[:600])
    for name, items in notes.items():
        print("NOTE %s: %d stats equal in value but spelled differently, e.g. id %s: %s"
              % (name, len(items), items[0][0], items[0][1]))
    print("%d configs, %d records compared, %d differences (%d more allowed by the allow-list)"
          % (n_configs, n_records, n_diffs, n_allowed))
    if failed_configs:
        print("failing configs: " + " ".join(failed_configs))
    return 1 if n_diffs else 0


def cmd_selftest():
    """The oracle on DataJuicer's own vectors for the ops it implements (mode process, no model, no asset)."""
    ops = {op for _, op, _ in CONFIGS}
    passed = failed = 0
    with open(os.path.join(SHARED, "conformance", "dj_op_vectors.jsonl"), encoding="utf-8") as fh:
        for line in fh:
            v = json.loads(line)
            if v["op"] not in ops or v.get("mode", "process") != "process" or v.get("expected") is None \
                    or v.get("expected_error") or any(not r.startswith("lib:regex") for r in v.get("requires", [])):
                continue
            p = dict(v["params"])
            if is_filter(v["op"]):
                if p.get("tokenization"):
                    continue
                f = Filter(v["op"], p, None)
                out = []
                for s in v["input"]:
                    s = json.loads(json.dumps(s))
                    text = s.get("text", "")
                    stats, keep = f.run(s, text)
                    if keep is None:
                        continue
                    s.setdefault("__dj__stats__", {}).update(stats)
                    if keep:
                        out.append(s)
                fields = v.get("compare_fields") or ["text"]
                got = [[get_path(s, k) for k in fields] for s in out]
                want = [[get_path(s, k) for k in fields] for s in v["expected"]]
            else:
                if p.get("tokenization"):
                    continue
                m = make_mapper(v["op"], p)
                got = [t for s in v["input"] for t in m(s["text"])]
                want = [s["text"] for s in v["expected"]]
            if got == want:
                passed += 1
            else:
                failed += 1
                print("FAIL %s %s\n  want %s\n  got  %s" % (v["op"], v.get("source"), ascii(want)[:400],
                                                            ascii(got)[:400]))
    print("selftest: %d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


def run_cli(name, prepare, compare, selftest):
    """The command line both oracles share: prepare WORKDIR | compare WORKDIR | selftest."""
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "prepare" and len(sys.argv) == 3:
        prepare(sys.argv[2])
    elif cmd == "compare" and len(sys.argv) == 3:
        sys.exit(compare(sys.argv[2]))
    elif cmd == "selftest":
        sys.exit(selftest())
    else:
        sys.exit("usage: %s prepare WORKDIR | compare WORKDIR | selftest" % name)


if __name__ == "__main__":
    run_cli("dj_oracle.py", cmd_prepare, cmd_compare, cmd_selftest)
