#!/usr/bin/env python3
"""A differential fuzz of sluice's regular expressions against Python (ctest cli.regex_oracle_test).

Contract:
  regex_oracle.py run SLUICE WORKDIR [--seed S] [--patterns N] [--re-patterns M] [--jobs J] [--verbose]
      Generates N patterns in the `regex` module's dialect (with a replacement template each) and M in stdlib
      re's, from a seeded grammar of the dialect (below), and texts for each. The `regex` patterns go through
      replace_content_mapper (DataJuicer: regex.compile(pattern, DOTALL), then pattern.sub(repl, text)); the
      re patterns through text_chunk_mapper's split_pattern (re.split / re.finditer, with and without
      max_len). For each it checks that sluice refuses the recipe at load exactly when Python refuses the
      pattern (or the template), and that every text comes out as Python computes it (a text on which Python
      raises: the sample is dropped). Then the character classes: a sample of every property name the regex
      module knows, the POSIX classes and class escapes, alone and in sets, with and without (?i), on a sample
      of all code points. Prints one line per difference and `N passed, M failed` (a check is one pattern's
      acceptance, one text's result or one class); exit 1 on a failure.
  regex_oracle.py classes SLUICE WORKDIR [--full]   the class check alone; --full: every name, every code point
      (minutes).
  regex_oracle.py show [--seed S] [--patterns N] [--re-patterns M]
      Prints the generated cases (to reproduce one by hand).

Python is /usr/bin/python3's `regex` (Debian 12: 2022.10.31) and `re` (3.11), the versions DataJuicer runs
on here. Python is the reference, except where it gives up (a 2 s timeout, MemoryError) or where PCRE2 gives up
on catastrophic backtracking that the regex module avoids (the sample fails with an error there, as sluice's
events and summary say): those cases are skipped and counted. A sluice refusal of a pattern Python accepts passes only where REFUSED_BY_DESIGN names it
(docs/compatibility.md, "Regular expressions", lists the same).

How sluice is driven, so that one process checks many patterns: the patterns are first loaded with
`sluice run --dry-run` in batches (a recipe of many replace_content_mapper ops, cut after the op a refusal
names by its recipe line); the patterns both sides accept then run MAX_KEYS to a recipe, op k reading and
writing the field t<k> of records that carry all of them (a case on which Python raises runs alone, since
sluice drops the whole record). text_chunk_mapper turns a record into several, so each re pattern is one small
run.
"""
import argparse
import concurrent.futures
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import unicodedata
import warnings

import regex

warnings.simplefilter("ignore")  # re's FutureWarnings ("Possible nested set") on generated patterns

# ============================================================================================================
# Building blocks of patterns and texts

ASCII_LITERALS = "abcxyzABCXZ019_ ,;:'\"!@%&=<>~/`"
OTHER_LITERALS = [
    "é", "É", "ß", "ñ", "ü", "µ", "ª", "¹", "²", "½", "×", "ÿ", "\u00a0", "\u0085",
    "ſ", "\u212a", "İ", "ı", "Σ", "σ", "ς", "ǅ", "ﬁ", "ẞ", "а", "α", "Ω", "中", "文", "日", "한", "あ", "ア",
    "\u0301", "\u0308", "\u200d", "\u200b", "\u2028", "\u2029", "\u1680", "\u3000", "\u2003", "\u202f",
    "\ufeff", "٣", "४", "４", "①", "Ⅷ", "〇", "\U0001d7d8", "😀", "👍", "\U0001f3fd", "\U00010400",
    "\U00010428", "\U0001d518", "€", "$", "\x1c", "\x1f", "\x7f", "\u0130", "\U0001f1fa", "\U0001f1f8",
    "\u1100", "\u1161", "\u11a8", "\uac00", "\u0600", "\u0903", "\u0915", "ー", "、", "\u212b", "\u0390",
    "\u1fd3", "\ufb05", "\ufb06",
]
META_ESCAPES = [".", "*", "+", "?", "(", ")", "[", "]", "{", "}", "|", "^", "$", "\\", "-", "/", "#", " ",
                ",", "&", "~", "é", "中", "😀", "_", "'", "\"", "<", ">", "=", "!", ":", "%", "@"]

# Escapes outside a class: (text, hint characters that make a match likely).
COMMON_ESCAPES = [
    ("\\w", "a_é"), ("\\W", " -"), ("\\s", " \t\u0085"), ("\\S", "ab"), ("\\d", "1٣"), ("\\D", "a"),
    ("\\t", "\t"), ("\\n", "\n"), ("\\r", "\r"), ("\\f", "\f"), ("\\v", "\v"), ("\\a", "\a"),
    ("\\0", "\0"), ("\\01", "\x01"), ("\\012", "\n"), ("\\101", "A"), ("\\177", "\x7f"), ("\\18", ""),
    ("\\x41", "A"), ("\\xe9", "é"), ("\\x0a", "\n"), ("\\xA0", "\u00a0"), ("\\u00e9", "é"), ("\\u4e2d", "中"),
    ("\\u2028", "\u2028"), ("\\U0001F600", "😀"), ("\\U00000041", "A"),
    ("\\N{LATIN SMALL LETTER E WITH ACUTE}", "é"), ("\\N{EM DASH}", "—"), ("\\N{space}", " "),
    ("\\N{LINE FEED}", "\n"), ("\\N{NO SUCH NAME}", ""), ("\\N{GRINNING FACE}", "😀"),
    ("\\A", ""), ("\\Z", ""), ("\\b", ""), ("\\B", ""),
    # malformed or unknown in both dialects
    ("\\x4", ""), ("\\u12", ""), ("\\U0011FFFF", ""), ("\\q", ""), ("\\e", ""), ("\\Q", ""), ("\\E", ""),
    ("\\R", ""), ("\\X", ""), ("\\h", ""), ("\\H", ""), ("\\V", ""), ("\\z", ""), ("\\G", ""), ("\\K", ""),
    ("\\c", ""), ("\\C", ""), ("\\L", ""), ("\\l", ""), ("\\o{101}", ""), ("\\x{41}", ""), ("\\k<n>", ""),
    ("\\i", ""), ("\\j", ""), ("\\y", ""), ("\\Y", ""), ("\\O", ""), ("\\T", ""), ("\\F", ""), ("\\I", ""),
    ("\\J", ""),
]
REGEX_ONLY_ESCAPES = [
    ("\\m", "a"), ("\\M", "a"), ("\\p{L}", "aé中"), ("\\pL", "a"), ("\\pN", "1"), ("\\P{L}", "1 "),
    ("\\p{Lu}", "AÉ"), ("\\p{Ll}", "aß"), ("\\p{Lt}", "ǅ"), ("\\p{N}", "1①"), ("\\p{Nd}", "1٣"),
    ("\\p{No}", "²①"), ("\\p{P}", ",!"), ("\\p{S}", "$€"), ("\\p{Z}", " \u00a0"), ("\\p{Zs}", " "),
    ("\\p{Mn}", "\u0301"), ("\\p{Cc}", "\x1c"), ("\\p{Cf}", "\u200d"), ("\\p{Han}", "中"),
    ("\\p{Latin}", "aé"), ("\\p{Greek}", "α"), ("\\p{Cyrillic}", "а"), ("\\p{Script=Han}", "中"),
    ("\\p{sc=Latin}", "a"), ("\\p{Alphabetic}", "a"), ("\\p{White_Space}", " "), ("\\p{^L}", "1"),
    ("\\P{^L}", "a"), ("\\p{L&}", "a"), ("\\p{LC}", "a"), ("\\p{Any}", "a"), ("\\p{Common}", "1 "),
    ("\\p{Inherited}", "\u0301"), ("\\p{Hangul}", "한"), ("\\p{Lowercase}", "a"), ("\\p{Uppercase}", "A"),
    ("\\p{Emoji}", "😀"), ("\\p{InBasicLatin}", "a"), ("\\p{Block=Greek}", "α"), ("\\p{IsLatin}", "a"),
    ("\\p{Word}", "a"), ("\\p{Digit}", "1"), ("\\p{Alnum}", "a"), ("\\p{Punct}", ","), ("\\p{Xan}", "a"),
    ("\\p{Lu", ""), ("\\p{}", ""), ("\\p{Nope}", ""), ("\\pX", ""), ("\\p", "p"), ("\\P", "P"),
    ("\\g", "g"), ("\\N", "N"), ("\\px", "px"), ("\\p{gc=Lu}", "A"), ("\\p{General_Category=Nd}", "1"),
    ("\\p{Ideographic}", "中"), ("\\p{Dash}", "-"), ("\\p{Hex_Digit}", "a"), ("\\p{ASCII}", "a"),
    ("\\p{Assigned}", "a"), ("\\p{Lm}", "ー"), ("\\p{Nl}", "Ⅷ"), ("\\p{Sk}", "^"), ("\\p{Cn}", "\U000e0080"),
    ("\\X", ""),
]
# Items inside a class: (text, hints).
CLASS_ITEMS = [
    ("a-z", "ak"), ("A-Z", "K"), ("0-9", "5"), ("α-ω", "β"), ("一-龥", "中"), ("\\x00-\\x1f", "\x1c"),
    ("\\u0100-\\u017f", "ſ"), ("\\x41-\\x5a", "Q"), ("a-\\x7a", "q"), ("\\w", "a_"), ("\\W", " "),
    ("\\s", " "), ("\\S", "x"), ("\\d", "٣"), ("\\D", "x"), ("\\-", "-"), ("\\]", "]"), ("\\[", "["),
    ("\\\\", "\\"), ("\\^", "^"), ("\\b", "\b"), ("\\n", "\n"), ("\\t", "\t"), ("\\x41", "A"), ("\\u00e9", "é"),
    ("\\U0001F600", "😀"), ("\\N{EM DASH}", "—"), ("\\0", "\0"), ("\\101", "A"), ("\\.", "."), ("\\ ", " "),
    ("[:alpha:]", "a"), ("[:digit:]", "1"), ("[:space:]", " "), ("[:word:]", "_"), ("[:punct:]", ","),
    ("[:alnum:]", "a"), ("[:upper:]", "A"), ("[:lower:]", "a"), ("[:^alpha:]", "1"), ("[:xdigit:]", "f"),
    ("[:ascii:]", "a"), ("[:blank:]", " "), ("[:cntrl:]", "\x1c"), ("[:graph:]", "a"), ("[:print:]", "a"),
    ("[:nope:]", ""), ("[.a.]", "a"), ("[=a=]", "a"), ("&&", "&"), ("--", "-"), ("~~", "~"), ("||", "|"),
    ("[", "["), (".", "."), ("$", "$"), ("|", "|"), ("(", "("), ("*", "*"), ("#", "#"), (" ", " "),
    ("z-a", ""), ("\\q", ""), ("\\A", ""), ("\\Z", ""), ("\\B", ""), ("\\1", ""), ("\\8", ""), ("\\x4", ""),
]
REGEX_ONLY_CLASS_ITEMS = [
    ("\\p{L}", "a"), ("\\pN", "1"), ("\\P{L}", "1"), ("\\p{Han}", "中"), ("\\p{Lu}", "A"), ("\\m", ""),
    ("\\g", ""), ("\\N", ""), ("\\p", ""), ("\\G", ""), ("\\K", ""),
]
QUANTIFIERS = ["*", "+", "?", "{2}", "{1,}", "{,2}", "{0,1}", "{1,3}", "{0}", "{,}", "{2,1}", "{ 1}", "{1,2,3}",
               "{a}", "{}", "{,0}", "{3,3}", "{00,02}"]
FLAG_LETTERS = "imsx"
TEXT_WORDS = ["abc", "foo bar", "Ab1", "123", "x_y", "naïve", "数据", "ΣΑΣ", "straße", "STRASSE", "İstanbul",
              "e\u0301", "١٢٣", "a\r\nb", "\r\n", "\n\n", "  ", "a.b", "(x)", "[y]", "ﬁne", "K\u212ak",
              "😀👍\U0001f3fd", "\U00010400\U00010428", "a\u2028b", "\u0085", "x\u200dy", "aaaa", "ab" * 4,
              "\ufeffz", "-_-", "ǅǆǄ", "$12.50", "#tag", "{2}", "\\", "a\n"]
TEXT_CHARS = list("abcxyzABCXZ0129_ .,-!?()[]{}\\$^*+|#/:'\"\t\n\r\x0b\x0c\x07\x00\x1c\x1d\x1e\x1f\x08") \
    + OTHER_LITERALS


class PatternGen:
    """One random pattern in the `regex` module's dialect (re=False) or stdlib re's (re=True)."""

    def __init__(self, rng, re_dialect):
        self.r = rng
        self.re = re_dialect
        self.groups = 0
        self.names = []
        self.hints = []
        self.open = []  # group numbers still open (a reference to one of them is a different case)

    def pick(self, items):
        return items[self.r.randrange(len(items))]

    def pattern(self):
        r = self.r
        x = r.random()
        if x >= 0.2 and x < 0.24:  # a global flag in the middle of the pattern, between two atoms
            depth = self.pick([1, 2])
            head = "".join(self.quantified(depth) for _ in range(r.randint(1, 3)))
            return head + "(?%s)" % self.pick(FLAG_LETTERS) + self.alt(depth)
        body = self.alt(self.pick([1, 1, 2, 2, 3]))
        if x < 0.15:
            body = "(?%s)" % "".join(sorted(r.sample(FLAG_LETTERS, r.randint(1, 2)))) + body
        elif x < 0.2:
            body = self.pick(["(?u)", "(?a)", "(?L)", "(?V1)", "(?V0)", "(?f)", "(?w)", "(?r)", "(?b)", "(?e)",
                              "(?-i)", "(?i-s)", "(?", "(?z)", "(?ai)"]) + body
        return body

    def alt(self, depth):
        n = 1 if self.r.random() < 0.7 else self.r.randint(2, 3)
        branches = [self.seq(depth) for _ in range(n)]
        if n > 1 and self.r.random() < 0.1:
            branches[self.r.randrange(n)] = ""
        return "|".join(branches)

    def seq(self, depth):
        return "".join(self.quantified(depth) for _ in range(self.r.randint(1, 4)))

    def quantified(self, depth):
        atom, quantifiable = self.atom(depth)
        r = self.r
        if (quantifiable and r.random() < 0.3) or r.random() < 0.02:
            q = self.pick(QUANTIFIERS[:9]) if r.random() < 0.85 else self.pick(QUANTIFIERS)
            y = r.random()
            if y < 0.2:
                q += "?"
            elif y < 0.27:
                q += "+"
            atom += q
        return atom

    def literal(self):
        r = self.r
        x = r.random()
        if x < 0.55:
            c = self.pick(ASCII_LITERALS)
        elif x < 0.85:
            c = self.pick(OTHER_LITERALS)
            if c in "\ufeff":
                c = "é"
        else:
            c = self.pick(META_ESCAPES)
            self.hints.append(c)
            return "\\" + c
        self.hints.append(c)
        return c

    def escape(self):
        pool = COMMON_ESCAPES + ([] if self.re else REGEX_ONLY_ESCAPES)
        if self.r.random() < 0.7:  # mostly the well-formed ones
            pool = [e for e in pool if e[1] or e[0] in ("\\A", "\\Z", "\\b", "\\B", "\\m", "\\M")]
        text, hints = self.pick(pool)
        self.hints.extend(hints)
        return text

    def char_class(self):
        r = self.r
        items = []
        pool = CLASS_ITEMS + ([] if self.re else REGEX_ONLY_CLASS_ITEMS)
        for _ in range(r.randint(1, 4)):
            x = r.random()
            if x < 0.35:
                c = self.literal()
                if c in ("]", "\\", "[", "^", "-"):
                    c = "\\" + c
                items.append(c)
            else:
                text, hints = self.pick(pool if r.random() < 0.3 else pool[:46])
                self.hints.extend(hints)
                items.append(text)
        body = "".join(items)
        y = r.random()
        if y < 0.08:
            body = "]" + body
            self.hints.append("]")
        elif y < 0.14:
            body = body + "^"
        elif y < 0.2:
            body = "-" + body
        elif y < 0.24:
            body = body + "-"
        neg = "^" if r.random() < 0.3 else ""
        if r.random() < 0.02:
            return "[" + neg + body  # unterminated
        return "[" + neg + body + "]"

    def group_name(self):
        return self.pick(["n", "word", "g1", "_x", "Name", "n2"])

    def atom(self, depth):
        r = self.r
        choices = ["lit"] * 30 + ["esc"] * 14 + ["class"] * 14 + ["dot"] * 5 + ["anchor"] * 5
        if depth > 0:
            choices += ["group"] * 10 + ["look"] * 4 + ["scoped"] * 3 + ["special"] * 2
        if self.groups:
            choices += ["backref"] * 4
        choices += ["comment"]
        kind = self.pick(choices)
        if kind == "lit":
            return self.literal(), True
        if kind == "esc":
            e = self.escape()
            return e, e not in ("\\A", "\\Z", "\\b", "\\B", "\\m", "\\M")
        if kind == "class":
            return self.char_class(), True
        if kind == "dot":
            return ".", True
        if kind == "anchor":
            return self.pick(["^", "$", "^", "$", "\\A", "\\Z"]), False
        if kind == "comment":
            return self.pick(["(?#note)", "(?#a)b)", "(?#)"]), False
        if kind == "group":
            x = r.random()
            if x < 0.45:
                self.groups += 1
                self.open.append(self.groups)
                inner = self.alt(depth - 1)
                self.open.pop()
                return "(" + inner + ")", True
            if x < 0.7:
                return "(?:" + self.alt(depth - 1) + ")", True
            name = self.group_name()
            if name in self.names and r.random() < 0.8:
                name += str(len(self.names))
            self.groups += 1
            self.open.append(self.groups)
            form = "(?P<%s>" if self.re or r.random() < 0.7 else "(?<%s>"
            inner = self.alt(depth - 1)
            self.open.pop()
            self.names.append(name)
            return form % name + inner + ")", True
        if kind == "look":
            head = self.pick(["(?=", "(?!", "(?<=", "(?<!"])
            return head + self.alt(depth - 1) + ")", r.random() < 0.1
        if kind == "scoped":
            flags = self.pick(["i", "s", "m", "x", "-i", "i-s", "-s", "im", "-x", "a", "u", "L"])
            return "(?%s:" % flags + self.alt(depth - 1) + ")", True
        if kind == "special":
            head = self.pick(["(?>", "(?|", "(?(1)", "(?(n)", "(?P>n)", "(?R)", "(?1)", "(?&n)", "(?'n'", "(*FAIL)",
                              "(*ACCEPT)", "(?C)", "(?+1)"])
            if head.endswith(")"):
                return head, False
            return head + self.alt(depth - 1) + (("|" + self.alt(depth - 1)) if head.startswith("(?(") else "") + ")", True
        # a backreference
        n = r.randint(1, self.groups)
        if r.random() < 0.05:
            n = self.groups + 1  # to a group that does not exist (yet)
        if n in self.open and r.random() < 0.8:
            n = min([g for g in range(1, self.groups + 1) if g not in self.open] or [n])
        forms = ["\\%d" % n, "\\g<%d>" % n]
        if not self.re:
            forms += ["(?P=%d)" % n]
        if self.names:
            name = self.pick(self.names)
            forms += ["(?P=%s)" % name] * 2 + (["\\g<%s>" % name] * 2 if not self.re else [])
        return self.pick(forms), True


REPLS = ["", "X", "<\\g<0>>", "\\n", "\\\\", "\\t", "\\0", "\\012", "\\101", "\\q", "\\-", "\\é", "\\x41",
         "\\u00e9", "\\U0001F600", "\\N{EM DASH}", "\\N{space}", "\\N{NOPE}", "\\g<-1>", "\\g<01>", "\\g<1",
         "\\", "$1", "\\$", "\\ ", "\\b", "\\a", "\\v", "\\f", "\\r", "\\07", "\\377", "\\400", "\\777",
         "é中😀", "\\\\1", "\\00", "\\08", "\\g<0>\\g<0>", "\\x4", "\\u12", "\\&", "\\{", "\\N", "\\g", "\\p",
         "\\E", "\\Q", "\\8", "\\99"]


def make_repl(rng, gen):
    x = rng.random()
    if gen.groups and x < 0.38:
        n = rng.randint(1, gen.groups)
        forms = ["[\\%d]" % n, "\\g<%d>" % n, "\\%d\\%d" % (n, n), "\\%d0" % n, "\\g<%d>0" % n]
        if gen.names:
            forms.append("(\\g<%s>)" % rng.choice(gen.names))
        return rng.choice(forms)
    if x < 0.4:
        return "[\\%d]" % rng.randint(1, 3)
    return rng.choice(REPLS)


def make_texts(rng, hints, count):
    texts = []
    for k in range(count):
        parts = []
        for _ in range(rng.randint(0, 12) if k else 0):
            x = rng.random()
            if x < 0.45 and hints:
                parts.append(rng.choice(hints))
            elif x < 0.75:
                parts.append(rng.choice(TEXT_CHARS))
            else:
                parts.append(rng.choice(TEXT_WORDS))
        texts.append("".join(parts))
    return texts


def generate(seed, n_regex, n_re):
    """[(dialect, pattern, repl or chunk params, texts)], deterministic for a seed."""
    rng = random.Random(seed)
    cases, seen = [], set()
    while len(cases) < n_regex + n_re:
        dialect = "regex" if len(cases) < n_regex else "re"
        gen = PatternGen(rng, dialect == "re")
        pattern = gen.pattern()
        if pattern in seen or len(pattern) < 1 or (len(pattern) > 2 and pattern[0] == "r" and pattern[1] in "'\""):
            continue
        seen.add(pattern)
        texts = make_texts(rng, gen.hints, 7)
        if dialect == "regex":
            cases.append(("regex", pattern, make_repl(rng, gen), texts))
        else:
            cases.append(("re", pattern, rng.choice([None, None, 6, 12]), texts))
    return cases


# ============================================================================================================
# Python's results (DataJuicer's code paths)

TIMEOUT = "timeout"
BACKTRACK = "backtrack"


def py_regex_case(pattern, repl, texts):
    """('refused', message) | ('ok', [result or ('error', message) or TIMEOUT per text])."""
    try:
        compiled = regex.compile(pattern, regex.DOTALL)
    except Exception as e:  # regex.error, and the odd ValueError / OverflowError / IndexError
        return "refused", "pattern: %s: %s" % (type(e).__name__, e)
    try:
        regex.regex._compile_replacement_helper(compiled, repl)
    except Exception as e:  # raised by every sub() call, matching or not
        return "refused", "repl: %s: %s" % (type(e).__name__, e)
    results = []
    for t in texts:
        try:
            results.append(compiled.sub(repl, t, timeout=2))
        except (TimeoutError, MemoryError, RecursionError):
            # Python gives up (catastrophic backtracking, endless left recursion): not a reference result
            results.append(TIMEOUT)
        except Exception as e:  # a group reference the pattern lacks, raised at the first match
            results.append(("error", "%s: %s" % (type(e).__name__, e)))
    return "ok", results


def py_chunks(pattern, max_len, text, finditer=None):
    """DataJuicer's text_chunk_mapper with split_pattern=pattern (datajuicer-ops.md §4); None: the sample fails.
    finditer(pattern, text): the match loop (Python's re.finditer unless given)."""
    finditer = finditer or re.finditer
    if max_len is None:
        pieces, last = [], 0
        for m in finditer("(" + pattern + ")", text):  # re.split, separators and groups kept
            pieces.append(text[last:m.start()])
            pieces.extend(m.groups())
            last = m.end()
        pieces.append(text[last:])
        if None in pieces:
            return None
        return [t for t in pieces if t.strip()]
    chunks = []
    while True:
        if len(text) <= max_len:
            chunks.append(text)
            return chunks
        prefix = text[:max_len]
        matches = list(finditer(pattern, prefix))
        if matches:
            if matches[-1].end() == 0:
                return None  # DataJuicer recurses on the same text until RecursionError
            chunks.append(prefix[:matches[-1].start()])
            text = text[matches[-1].end():]
        else:
            chunks.append(prefix)
            text = text[max_len:]


def py_re_case(pattern, max_len, texts):
    try:
        re.compile("(" + pattern + ")" if max_len is None else pattern)
    except Exception as e:
        return "refused", "%s: %s" % (type(e).__name__, e)
    return "ok", [py_chunks(pattern, max_len, t) for t in texts]


# ============================================================================================================
# Driving sluice


def yaml_str(s):
    """A YAML double-quoted scalar that reads back as exactly s."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif 0x20 <= o < 0x7f:
            out.append(ch)
        elif o < 0x100:
            out.append("\\x%02x" % o)
        elif o < 0x10000:
            out.append("\\u%04x" % o)
        else:
            out.append("\\U%08x" % o)
    out.append('"')
    return "".join(out)


def write_recipe(path, data, export, ops, extra=()):
    """Writes a recipe of `ops` ([(name, [(key, yaml value)])]); returns the line number of each op."""
    lines = ["project_name: regex_oracle", "dataset_path: " + data, "export_path: " + export, "np: 1",
             "text_keys: t0", "checkpoint:", "  strategy: disabled"]
    lines += list(extra)
    lines.append("process:")
    op_lines = []
    for op, params in ops:
        op_lines.append(len(lines) + 1)
        lines.append("  - %s:" % op)
        for k, v in params:
            lines.append("      %s: %s" % (k, v))
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return op_lines


def run_sluice(sluice, args, cwd):
    p = subprocess.run([sluice] + args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    return p.returncode, p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")


def replace_op(i, pattern, repl):
    return ("replace_content_mapper", [("pattern", yaml_str(pattern)), ("repl", yaml_str(repl)),
                                       ("text_key", "t%d" % i)])


def sluice_acceptance(sluice, work, cases, jobs):
    """{case index: None (sluice loads it) | sluice's message}: batches of patterns loaded with --dry-run, each
    refusal (which names the recipe line of its op) cutting the batch after the refused op."""
    data = os.path.join(work, "dry.jsonl")
    with open(data, "w") as f:
        f.write(json.dumps({"t0": "x"}) + "\n")

    def batch(tag, pending):
        result = {}
        while pending:
            recipe = os.path.join(work, "dry_%s.yaml" % tag)
            op_lines = write_recipe(recipe, data, os.path.join(work, "dry_%s.jsonl" % tag),
                                    [replace_op(0, cases[i][1], cases[i][2]) for i in pending])
            rc, out = run_sluice(sluice, ["run", recipe, "--dry-run"], work)
            if rc == 0:
                result.update({i: None for i in pending})
                break
            m = re.search(re.escape(recipe) + r":(\d+):", out)
            line = int(m.group(1)) if m else -1
            k = max([j for j, l in enumerate(op_lines) if l <= line] or [-1])
            if k < 0:  # not attributable to one op (should not happen): the batch's first pattern takes it
                k = 0
            result[pending[k]] = " ".join(out.split())
            result.update({i: None for i in pending[:k]})  # loaded before the refused one
            pending = pending[k + 1:]
        return result

    chunks = [list(range(len(cases)))[j::jobs] for j in range(jobs)]
    result = {}
    with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
        for r in ex.map(lambda a: batch(str(a[0]), a[1]), enumerate(chunks)):
            result.update(r)
    return result


MAX_KEYS = 8  # text keys a recipe may use


# PCRE2's errors for a match that exceeds its backtracking limits (the sample fails: Error(kInput)).
BACKTRACK_LIMIT = re.compile(r"matching failed on this text \((match|depth|heap) limit exceeded")


def sluice_replace(sluice, work, cases, batches, jobs):
    """Runs the accepted `regex` cases, a batch (at most MAX_KEYS cases) to a recipe (op k on field t<k>):
    {case index: [text result, or None where the record was dropped]}. A case whose op exceeds PCRE2's
    backtracking limits on some text (catastrophic backtracking, which Python's regex may avoid) maps to
    BACKTRACK, and its batch runs again without it, so that the records it dropped count for the others."""

    def run(batch, d):
        os.makedirs(d, exist_ok=True)
        n_texts = max(len(cases[i][3]) for i in batch)
        data = os.path.join(d, "in.jsonl")
        with open(data, "w", encoding="utf-8") as f:
            for j in range(n_texts):
                rec = {"id": j}
                for k, i in enumerate(batch):
                    texts = cases[i][3]
                    rec["t%d" % k] = texts[j] if j < len(texts) else ""
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        recipe = os.path.join(d, "r.yaml")
        export = os.path.join(d, "out.jsonl")
        write_recipe(recipe, data, export, [replace_op(k, cases[i][1], cases[i][2]) for k, i in enumerate(batch)])
        rc, out = run_sluice(sluice, ["run", recipe], d)
        if rc != 0:
            raise SystemExit("sluice run of %s failed (exit %d): %s" % (recipe, rc, out[-2000:]))
        limited = set()
        for job in os.listdir(d):
            events = os.path.join(d, job, "events.jsonl")
            if os.path.exists(events):
                with open(events, encoding="utf-8") as f:
                    for line in f:
                        ev = json.loads(line)
                        if BACKTRACK_LIMIT.search(ev.get("error_message") or ""):
                            limited.add(batch[ev["operation_idx"]])
        got = {}
        with open(export, encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                got[rec["id"]] = rec
        return limited, {i: [got[j]["t%d" % k] if j in got else None for j in range(len(cases[i][3]))]
                         for k, i in enumerate(batch)}

    def one(batch_no):
        batch = batches[batch_no]
        limited, got = run(batch, os.path.join(work, "replace%d" % batch_no))
        if limited:
            rest = [i for i in batch if i not in limited]
            got = run(rest, os.path.join(work, "replace%d_again" % batch_no))[1] if rest else {}
            got.update({i: BACKTRACK for i in limited})
        return got

    result = {}
    with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
        for r in ex.map(one, range(len(batches))):
            result.update(r)
    return result


def sluice_chunks(sluice, work, case_id, pattern, max_len, texts):
    """One text_chunk_mapper run: ('refused', message) or ('ok', [chunks per text, [] when none])."""
    d = os.path.join(work, "re%d" % case_id)
    os.makedirs(d, exist_ok=True)
    data = os.path.join(d, "in.jsonl")
    with open(data, "w", encoding="utf-8") as f:
        for j, t in enumerate(texts):
            f.write(json.dumps({"id": j, "t0": t}, ensure_ascii=False) + "\n")
    params = [("split_pattern", yaml_str(pattern))]
    if max_len is not None:
        params.append(("max_len", str(max_len)))
    recipe = os.path.join(d, "r.yaml")
    export = os.path.join(d, "out.jsonl")
    write_recipe(recipe, data, export, [("text_chunk_mapper", params)])
    rc, out = run_sluice(sluice, ["run", recipe], d)
    if rc == 2:
        return "refused", " ".join(out.split())
    if rc != 0:
        return "failed", "exit %d: %s" % (rc, " ".join(out.split())[-600:])
    got = [[] for _ in texts]
    with open(export, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            got[rec["id"]].append(rec["t0"])
    return "ok", got


# ============================================================================================================
# Deliberate differences: sluice refuses these though Python accepts them (docs/compatibility.md, "Regular
# expressions"). Each is (what, a regular expression over sluice's message).
REFUSED_BY_DESIGN = [
    ("a repl group reference to a group the pattern lacks (Python raises at the first match)",
     r"invalid group reference \d+ in repl"),
    ("a look-behind of variable length (PCRE2 needs each branch of fixed length)",
     r"lookbehind assertion is not fixed length"),
    ("the regex module's flags without a PCRE2 counterpart", r"the regex module's flag \(\?(a|b|e|f|L|p|r|w|V1)\)"),
    ("one group name for two groups (the regex module makes them one group)", r"group name '[^']*' is used twice"),
    ("\\K inside a look-around", r"\\K is not allowed in lookarounds"),
    ("\\K inside a repeated capture group", r"\\K inside a repeated group that captures"),
    ("the contributory Other_* properties", r"property O[A-Z]* is not supported"),
    ("recursion and group calls", r"recursion and group calls .* are not supported"),
    ("stdlib re's (?a) with (?i) (ASCII-only case folding)", r"the ASCII flag \(\?a\) together with \(\?i\)"),
]


def by_design(message):
    for what, rx in REFUSED_BY_DESIGN:
        if re.search(rx, message):
            return what
    return None


# ============================================================================================================
# Character classes, checked on every code point: each property name the regex module knows (general
# categories, scripts, blocks, binary properties), the POSIX classes and the class escapes, with and without
# (?i), as `sub(item, "", text of all code points)`.

def class_items(full, rng):
    core = regex._regex_core
    names = sorted(core.PROPERTIES["GC"][1]) + sorted(core.PROPERTIES["SCRIPT"][1]) + \
        sorted(core.PROPERTIES["BLOCK"][1]) + sorted(k for k, (_, v) in core.PROPERTIES.items()
                                                     if set(v) == core._BINARY_VALUES)
    if not full:
        names = rng.sample(names, 60)
    items = ["\\p{%s}" % n for n in names]
    items += ["\\P{%s}" % n for n in names[::7]]
    items += ["[[:%s:]]" % n for n in ("alpha", "digit", "alnum", "punct", "xdigit", "upper", "lower", "space",
                                      "word", "blank", "cntrl", "graph", "print", "ascii", "^alpha", "^punct",
                                      "Greek", "L", "^Lu")]
    items += ["\\w", "\\W", "\\s", "\\S", "\\d", "\\D", "\\h", ".", "\\X", "[\\w\\p{P}]", "[^\\W\\d]", "[a\\W]",
              "[^a\\S\\p{Lu}]", "[[:punct:]a-f]", "[^[:punct:]a-f]", "[\\x00-\\x7f]",
              "[a-z]", "[^a-z]", "[i]", "[^i]", "[I]", "[\\u0130\\u0131]", "i", "I", "\\u0130", "\\u0131", "k", "s",
              "\\xdf", "\\u03c3", "[\\u0100-\\u0180]", "\\p{Script=Greek}", "\\p{scx=Han}", "\\p{Block=Greek}",
              "\\p{gc=Lu}", "\\p{Alphabetic=No}", "\\p{InBasicLatin}", "\\p{IsGreek}", "\\p{IsAlphabetic}",
              "[\\p{Lu}^]", "[^\\p{Ll}^]", "[[:upper:]^]", "[[:lower:]\\d]", "[\\p{ASCII}\\xe9]", "[\\p{Greek}\\p{Latin}]",
              "[\\p{Lt}\\p{Nd}]", "[\\p{Uppercase}_]", "[^\\p{InBasicLatin}\\xe9]", "[\\p{L}\\p{Cased}]"]
    return items + ["(?i)" + it for it in items]


def all_code_points(full):
    """All code points Python 3.11's Unicode 14.0 assigns (and the unassigned ones), less those Unicode 15.0
    assigned: the regex module has 15.0's tables, PCRE2 10.42 14.0's (docs/compatibility.md, "Unicode
    versions")."""
    chars = []
    step = 1 if full else 23
    for c in range(0x110000):
        if 0xD800 <= c < 0xE000 or (c >= 0x3000 and c % step):
            continue
        chars.append(chr(c))
    text = "".join(chars)
    new15 = set(regex.findall(r"\P{Cn}", "".join(c for c in text if unicodedata.category(c) == "Cn")))
    return "".join(c for c in text if c not in new15 and c not in UNICODE_15_CHANGES)


# Characters whose properties changed between Unicode 14.0 and 15.0 (the regex module has 15.0's tables, PCRE2
# 10.42 has 14.0's): Alphabetic gained U+0C04 ... (Other_Alphabetic), Lowercase U+10FC ... (Other_Lowercase).
UNICODE_15_CHANGES = set("\u0c04\u0f82\u0f83\U00011080\U00011081\u10fc\ua7f2\ua7f3\ua7f4\uab69")


def check_classes(sluice, work, full, seed, jobs, verbose):
    rng = random.Random(seed)
    items = class_items(full, rng)
    text = all_code_points(full)
    passed, failed, refused = 0, 0, 0
    accepted = sluice_acceptance(sluice, work, [("regex", it, "", [text]) for it in items], jobs)
    runnable = []
    for k, it in enumerate(items):
        try:
            want = regex.sub(it, "", text, flags=regex.DOTALL)
        except regex.error as e:
            if accepted[k] is None:
                failed += 1
                print("FAIL class %s: Python refuses it (%s), sluice loads it" % (show(it), e))
            else:
                passed += 1
            continue
        if accepted[k] is not None:
            why = by_design(accepted[k])
            if why or "is not supported" in accepted[k] or "unknown property name" in accepted[k]:
                refused += 1
                if verbose:
                    print("refused: class %s: %s" % (show(it), accepted[k][-160:]))
                continue
            failed += 1
            print("FAIL class %s: Python accepts it, sluice refuses it: %s" % (show(it), accepted[k][-200:]))
            continue
        runnable.append((k, it, want))
    cases = [("regex", it, "", [text]) for _, it, _ in runnable]
    batches = [list(range(j, min(j + MAX_KEYS, len(cases)))) for j in range(0, len(cases), MAX_KEYS)]
    got = sluice_replace(sluice, work, cases, batches, jobs) if cases else {}
    for j, (k, it, want) in enumerate(runnable):
        g = got[j][0] if got[j] != BACKTRACK else "(PCRE2 backtracking limit)"
        if g == want:
            passed += 1
            continue
        failed += 1
        g = g or ""
        left_py, left_sl = set(want), set(g)
        py_only = sorted(left_sl - left_py)   # Python matched (removed) it, sluice kept it
        sl_only = sorted(left_py - left_sl)   # sluice matched it, Python kept it
        print("FAIL class %s: matched by Python only: %s; by sluice only: %s" % (
            show(it), " ".join("U+%04X" % ord(c) for c in py_only[:12]) + (" (%d)" % len(py_only) if py_only else ""),
            " ".join("U+%04X" % ord(c) for c in sl_only[:12]) + (" (%d)" % len(sl_only) if sl_only else "")))
    return passed, failed, refused


def show(s):
    return ascii(s)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["run", "show", "classes"])
    ap.add_argument("sluice", nargs="?")
    ap.add_argument("work", nargs="?")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--patterns", type=int, default=450)
    ap.add_argument("--re-patterns", type=int, default=80)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--full", action="store_true", help="classes: every property name and code point")
    a = ap.parse_args()
    cases = generate(a.seed, a.patterns, a.re_patterns)
    if a.cmd == "show":
        for i, (dialect, pattern, extra, texts) in enumerate(cases):
            print(i, dialect, show(pattern), show(extra), show(texts))
        return 0
    work = a.work or tempfile.mkdtemp(prefix="regex_oracle.")
    os.makedirs(work, exist_ok=True)
    sluice = os.path.abspath(a.sluice)
    passed, failed, by_design_count, skipped, backtracked = 0, 0, 0, 0, 0
    if a.cmd == "classes" or a.patterns:
        os.makedirs(os.path.join(work, "classes"), exist_ok=True)
        p_, f_, r_ = check_classes(sluice, os.path.join(work, "classes"), a.full, a.seed, a.jobs, a.verbose)
        passed, failed, by_design_count = p_, f_, r_
        if a.cmd == "classes":
            print("%d passed, %d failed (%d refusals by design)" % (passed, failed, by_design_count))
            return 1 if failed else 0

    def fail(i, what, py, got):
        nonlocal failed
        failed += 1
        c = cases[i]
        print("FAIL case %d (%s) pattern %s %s %s: %s\n    python: %s\n    sluice: %s" % (
            i, c[0], show(c[1]), "repl" if c[0] == "regex" else "max_len", show(c[2]), what, show(py), show(got)))

    # --- the regex module, through replace_content_mapper
    rx = [i for i, c in enumerate(cases) if c[0] == "regex"]
    py = {i: py_regex_case(cases[i][1], cases[i][2], cases[i][3]) for i in rx}
    accepted = sluice_acceptance(sluice, work, [cases[i] for i in rx], a.jobs) if rx else {}
    accepted = {rx[k]: v for k, v in accepted.items()}
    to_run = []
    for i in rx:
        status, detail = py[i]
        msg = accepted[i]
        if status == "refused":
            if msg is None:
                fail(i, "Python refuses it, sluice loads it", detail, "loaded")
            else:
                passed += 1
            continue
        if msg is not None:
            why = by_design(msg)
            if why:
                by_design_count += 1
                if a.verbose:
                    print("by design: case %d %s: %s" % (i, show(cases[i][1]), why))
                continue
            fail(i, "Python accepts it, sluice refuses it", "accepted", msg)
            continue
        passed += 1
        if any(r == TIMEOUT for r in detail):
            skipped += 1
            continue
        to_run.append(i)
    if to_run:
        # A case that fails on some text (Python raises: DataJuicer drops the sample) runs alone, so that the
        # record sluice drops for it takes no other case's result with it.
        solo = [i for i in to_run if any(isinstance(r, tuple) for r in py[i][1])]
        rest = [i for i in to_run if i not in solo]
        batches = [[i] for i in solo] + [rest[k:k + MAX_KEYS] for k in range(0, len(rest), MAX_KEYS)]
        got = sluice_replace(sluice, work, cases, batches, a.jobs)
        for i in to_run:
            if got[i] == BACKTRACK:  # PCRE2 gave up on catastrophic backtracking (a sample error, not silent)
                backtracked += 1
                if a.verbose:
                    print("backtracking limit: case %d %s" % (i, show(cases[i][1])))
                continue
            for j, (want, g) in enumerate(zip(py[i][1], got[i])):
                if isinstance(want, tuple):  # Python raises on this text: the sample is dropped
                    if g is None:
                        passed += 1
                    else:
                        fail(i, "text %d: Python raises, sluice keeps the sample" % j, want, g)
                elif want == g:
                    passed += 1
                else:
                    fail(i, "text %d %s" % (j, show(cases[i][3][j])), want, g)

    # --- stdlib re, through text_chunk_mapper
    rei = [i for i, c in enumerate(cases) if c[0] == "re"]

    def one(i):
        return i, sluice_chunks(sluice, work, i, cases[i][1], cases[i][2], cases[i][3])

    with concurrent.futures.ThreadPoolExecutor(a.jobs) as ex:
        results = dict(ex.map(one, rei))
    for i in rei:
        pattern, max_len, texts = cases[i][1], cases[i][2], cases[i][3]
        status, detail = py_re_case(pattern, max_len, texts)
        gstatus, gdetail = results[i]
        if status == "refused" or gstatus != "ok":
            if status == gstatus == "refused":
                passed += 1
            elif status == "ok" and gstatus == "refused" and by_design(gdetail):
                by_design_count += 1
            else:
                fail(i, "load", detail if status == "refused" else "accepted", gdetail if gstatus != "ok" else "loaded")
            continue
        passed += 1
        for j, want in enumerate(detail):
            g = gdetail[j]
            if want is None:
                want = []  # the sample fails: dropped
            if want == g:
                passed += 1
            else:
                fail(i, "text %d %s" % (j, show(texts[j])), want, g)
    print("%d passed, %d failed (%d refusals by design, %d patterns skipped where Python times out or runs out "
          "of memory, %d where PCRE2 hits its backtracking limit)" % (
              passed, failed, by_design_count, skipped, backtracked))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
