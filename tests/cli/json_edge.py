#!/usr/bin/env python3
"""Differential test of how sluice reads JSONL, against Python's json module (tests/cli/json_edge_test.sh).

DataJuicer reads a record wherever Python's `json.loads` of the UTF-8-decoded line gives a dict with a
string text (strict UTF-8, strict control characters, Python's default recursion and integer-digit limits).
The generator below writes a few hundred lines, each with one edge of JSON or UTF-8 (escapes, surrogates,
overlong and other invalid UTF-8, noncharacters, U+2028, BOM, CR/CRLF, NUL, NaN, huge numbers, nesting,
duplicate and escaped keys, text of another type, non-object lines, blank lines, a last line without a
newline), then a few hundred mixing several. Python decides what each line is; where sluice deliberately
decides otherwise (docs/compatibility.md, "Input records") the case names the difference (DIFFS) and sluice
must follow the documented rule. Then, for three recipes (a filter keeping everything, two text mappers, a
filter keeping its stats) and the three `on_bad_record` modes, over plain, .gz and .zst input:

- a kept record is the input line byte for byte (trailing whitespace dropped) where nothing changed; where
  something changed (the text, the stats, removed reserved members) the output parses with json.loads to
  what Python gets after the op's change, its members in input order and every other member's key and
  value byte-identical;
- skip and quarantine drop exactly the lines sluice must refuse, quarantine keeps their exact bytes, and the
  summary counts them (bad lines, null texts);
- the default mode fails with exit 3 and `file:line: cause` for each bad line put in a file of good ones,
  with the same line number for every codec.

Usage: json_edge.py SLUICE WORKDIR
"""
import gzip
import json
import os
import random
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

SLUICE, WORK = sys.argv[1], sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ops"))
import dj_oracle  # noqa: E402  (the mappers' character tables)

FAILS = 0
PASSES = 0


def ok(what):
    global PASSES
    PASSES += 1
    print("ok -", what)


def bad(what):
    global FAILS
    FAILS += 1
    print("FAIL -", what)


def check(cond, what):
    (ok if cond else bad)(what)
    return cond


# ---------------------------------------------------------------------------------------------------------
# The generator: (label, bytes) cases; a case's bytes may span several lines.

CASES = []
_id = [0]


def case(label, raw):
    CASES.append((label, raw))


def rec(text=b"plain", extra=b"", key=b'"text"', pre=b"", post=b""):
    """One record: `text` is the raw JSON body of the text string (no quotes), or with `key=None` the text
    member is left out; `extra` more members, written after it."""
    _id[0] += 1
    members = [b'"id":' + str(_id[0]).encode()]
    if key is not None:
        members.append(key + b':"' + text + b'"')
    if extra:
        members.append(extra)
    return pre + b"{" + b",".join(members) + b"}" + post


def rec_text_value(value, extra=b""):
    """A record whose text member's value is the raw JSON `value` (any type)."""
    _id[0] += 1
    return b'{"id":' + str(_id[0]).encode() + b',"text":' + value + (b"," + extra if extra else b"") + b"}"


# Text bodies (raw, escaped as they stand in the line) Python reads; several give the mappers work.
TEXT_OK = [
    b"", b"a", b"plain ascii text", b"   padded   ", b"\\u3000ideographic space\\u3000",
    b"a\\nb\\tc\\\"d\\\\e\\/f\\bg\\fh\\ri", b"\\u00e9\\u00E9\\u00c9", b"nul \\u0000 inside",
    b"\\u0001\\u0002\\u001f\\u007f", b"pair \\ud83d\\ude00 \\uD83D\\uDE00", b"max \\udbff\\udfff",
    b"\\u2028\\u2029 separators", b"\\ufeff escaped bom", b"nonchar \\uffff \\ufffe \\ufdd0",
    b"\\u0085 next line", b"\\/\\/slashes\\/", "caf\u00e9 na\u00efve \u6570\u636e".encode(),
    "emoji \U0001F600 \U0001F469\u200d\U0001F4BB".encode(), "raw \u2028 and \u2029 separators".encode(),
    "raw noncharacters \uffff \ufffe \ufdd0 \U0010ffff \U0001fffe".encode(),
    "raw bom \ufeff inside".encode(), "raw del \x7f and nbsp \u00a0".encode(), "raw next line \u0085".encode(),
    "boundaries \u0080\u07ff\u0800\ud7ff\ue000\U00010000".encode(),
    "\uff0c\u3002\uff01\u201c\u201d\u2026 punctuation".encode(), "\u2014dash\u2013 \u300a\u300b".encode(),
    "\\uff0c escaped punctuation \\u2026".encode(), b"\\u3000 \\u2003 mixed\\u200bwidths\\u00a0",
    "  \\t leading and trailing \u3000 ".encode(), b"x" * 5000, ("\u4e2d" * 3000).encode(),
    b"\\\\u00e9 is not an escape", b"quote \\\" inside \\\"", b"ends with backslash \\\\",
]

# Other members Python reads.
EXTRA_OK = [
    b'"n":0', b'"n":-0', b'"n":-1.5e-3', b'"n":1E2', b'"n":1e+2', b'"n":0.0e-0',
    b'"n":123456789012345678901234567890', b'"n":-98765432109876543210987654321',
    b'"n":1e400', b'"n":-1e400', b'"n":1.5e-400', b'"n":0.1000000000000000000000000000000000000001',
    b'"b":true', b'"b":false', b'"z":null', b'"a":[]', b'"o":{}', b'"a":[1,[2,[3,{"k":[null]}]]]',
    b'"meta":{"lang":"en","tags":["x","y"]}', b'"\\u0069d2":"escaped key"', "\"cl\u00e9\":\"raw key\"".encode(),
    b'"":"empty key"', b'"s":"\\ud83d\\ude00"', b'"s":"\\u0000"', "\"s\":\"\u2028\"".encode(),
    "\"s\":\"\U0010ffff\uffff\"".encode(), b'"Text":"another key"', b'"texts":"another key"',
    b'"text2":"x"', b'"deep":' + b"[" * 200 + b"]" * 200, b'"id":"duplicate id"',
    b'"s":"' + b"\\u00e9" * 500 + b'"', b'"w" : [ 1 , 2 ]', b'"a\\"b":"escaped quote in a key"',
]

# Other members Python refuses (or, for DIFFS, reads where sluice refuses).
EXTRA_BAD = [
    b'"n":01', b'"n":1.', b'"n":.5', b'"n":+1', b'"n":-', b'"n":1e', b'"n":1e+', b'"n":0x10', b'"n":1_000',
    b'"n":--1', b'"n":-01', b'"n":1.e5', b'"n":NaN', b'"n":Infinity', b'"n":-Infinity', b'"n":nan', b'"n":inf',
    b'"b":tru', b'"b":True', b'"z":NULL', b'"z":nul', b'"u":undefined', b'"a":[1,]', b'"o":{"k":1,}',
    b'"o":{"k" 1}', b'"o":{k:1}', b"'s':1", b'"s":\'x\'', b'"a":[1 2]', b'"o":{1:2}',
    b'"s":"\\x41"', b'"s":"\\a"', b'"s":"\\\'"', b'"s":"\\U0041"', b'"s":"\\u12"', b'"s":"\\u12G4"',
    b'"s":"\\ud800"', b'"s":"\\udc00"', b'"s":"\\ud800x"', b'"s":"\\ud800\\u0041"', b'"s":"\\ud800\\ud800"',
    b'"s":"\\uDFFF\\uD800"', b'"\\ud800":1', b'"a":["\\udbff"]',
    b'"s":"\x01"', b'"s":"\x1f"', b'"s":"tab\there"', b'"s":"cr\rhere"', b'"s":"nul\x00here"', b'"k\x00":1',
    b'"s":"\x80"', b'"s":"\xbf"', b'"s":"\xc0\x80"', b'"s":"\xc1\xbf"', b'"s":"\xc3"', b'"s":"\xe0\x80\x80"',
    b'"s":"\xe0\x9f\xbf"', b'"s":"\xed\xa0\x80"', b'"s":"\xed\xbf\xbf"', b'"s":"\xed\xa0\xbd\xed\xb8\x80"',
    b'"s":"\xf0\x80\x80\x80"', b'"s":"\xf4\x90\x80\x80"', b'"s":"\xf5\x80\x80\x80"', b'"s":"\xf8\x88\x80\x80\x80"',
    b'"s":"\xfe"', b'"s":"\xff"', b'"s":"\xe2\x82"', b'"k\xff":1', b'"deep":' + b"[" * 1025 + b"]" * 1025,
    b'"n":' + b"7" * 4301, b'"deep":' + b"[" * 1000 + b"]" * 1000,
]

# Text bodies Python refuses (or DIFFS).
TEXT_BAD = [
    b"\\ud800", b"\\udc00 low", b"lone \\uD800 high", b"\\ud800\\ud800", b"bad \\x escape", b"\\u12",
    b"raw \x01 control", b"raw\ttab", b"caf\xe9 latin-1", b"\xed\xa0\x80 utf-8 surrogate",
    b"\xc0\xaf overlong", b"\xe0\x80\xaf overlong", b"\xf0\x80\x80\xaf overlong", b"\xf4\x90\x80\x80 too big",
    b"nul\x00raw", b"truncated \xe2\x82",
]


def generate():
    for t in TEXT_OK:
        case("text " + t[:30].decode("utf-8", "replace"), rec(t))
        # The same text with punctuation the mapper changes, so that it is written back.
        case("text, changed " + t[:30].decode("utf-8", "replace"), rec(t + "\uff0c".encode()))
    for e in EXTRA_OK:
        case("member " + e[:40].decode("utf-8", "replace"), rec(b"with a member\\u2026", e))
    for e in EXTRA_BAD:
        case("bad member " + repr(e[:40]), rec(b"good text", e))
    for t in TEXT_BAD:
        case("bad text " + repr(t[:30]), rec(t))
    # Text of every JSON type, and missing.
    for v in [b"null", b"5", b"1.5", b"true", b"false", b"[]", b'["a"]', b"{}", b'{"a":"b"}', b'""']:
        case("text value " + v.decode(), rec_text_value(v))
    case("no text member", rec(key=None, extra=b'"content":"x"'))
    case("text only in a nested object", rec(key=None, extra=b'"meta":{"text":"nested"}'))
    # Keys: escaped, case, duplicates.
    case("escaped text key t\\u0065xt", rec(b"escaped key\\uff0c", key=b'"t\\u0065xt"'))
    case("escaped text key \\u0074\\u0065\\u0078\\u0074", rec(b"all escaped", key=b'"\\u0074\\u0065\\u0078\\u0074"'))
    case("text key in another case", rec(b"x", key=b'"Text"'))
    case("text twice", rec(b"first\\uff0c", b'"text":"second\\u3002 and longer"'))
    case("text twice, the second escaped", rec(b"first", b'"t\\u0065xt":"second\\uff01"'))
    case("text twice: null then a string", rec_text_value(b"null", b'"text":"later\\u2026"'))
    case("text twice: a string then null", rec(b"first", b'"text":null'))
    case("text twice: a number then a string", rec_text_value(b"5", b'"text":"string wins"'))
    case("text twice: a string then a number", rec(b"first", b'"text":5'))
    case("text twice, then a third time", rec(b"one", b'"text":"two","x":1,"text":"three\\uff1f"'))
    case("text twice with a bad escape in the first", rec(b"\\q", b'"text":"ok"'))
    case("other key twice", rec(b"x", b'"k":1,"k":2'))
    # Reserved members.
    case("stats member", rec(b"with stats", b'"__dj__stats__":{"text_len":10}'))
    case("stats member first", rec_text_value(b'"x"').replace(b'{"id"', b'{"__dj__stats__":{"text_len":1},"id"', 1))
    case("meta member", rec(b"with meta\\uff0c", b'"__dj__meta__":{"a":[1]}'))
    case("stats null", rec(b"stats null", b'"__dj__stats__":null'))
    case("stats member under an escaped key", rec(b"escaped stats key", b'"__dj__st\\u0061ts__":{"text_len":2}'))
    # Whitespace around and inside the record.
    case("leading spaces", rec(b"lead", pre=b"   "))
    case("leading tab", rec(b"lead", pre=b"\t"))
    case("trailing spaces and tabs", rec(b"trail", post=b" \t "))
    case("CRLF", rec(b"crlf\\uff0c", post=b"\r"))
    case("CR CR LF", rec(b"crcrlf", post=b"\r\r"))
    case("spaces between tokens", b'{ "id" : 0 , "text" : "spaced\\uff0c" , "x" : [ 1 , { "a" : null } ] }')
    case("tabs and CR between tokens", b'{\t"id":\r0,\r\t"text"\t:\r"ws"\t}')
    for ws in [b"\x0b", b"\x0c", b"\xc2\xa0", b"\x1c", b"\x00", "\u3000".encode(), b"\xef\xbb\xbf"]:
        case("non-JSON whitespace before " + repr(ws), rec(b"x", pre=ws))
        case("non-JSON whitespace after " + repr(ws), rec(b"x", post=ws))
    # Lines that are not one object.
    for v in [b"[1]", b"[]", b'"x"', b"null", b"1", b"true", b"1.5", b'""', b"{}", b'[{"text":"a"}]', b"\x00",
              b"\x0c", b"\xef\xbb\xbf", b"\xef\xbb\xbf{}"]:
        case("top-level " + v.decode(), v)
    case("trailing content", rec(b"a", post=b" x"))
    case("trailing content after a non-ASCII text", rec("\u00e9\u6570 ".encode(), post=b"\t1"))
    case("trailing content after a text of another type", rec_text_value(b"5") + b" x")
    case("trailing content after a record without text", rec(key=None, post=b"x"))
    case("trailing content after a malformed object", rec(b"a", b'"n":01', post=b" x"))
    case("trailing content after NaN", rec(b"a", b'"n":NaN', post=b" x"))
    case("trailing string", rec(b"a", post=b'"s"'))
    case("two objects", rec(b"a") + rec(b"b"))
    case("trailing comma after the object", rec(b"a", post=b","))
    case("closing brace twice", rec(b"a", post=b"}"))
    case("closing bracket", rec(b"a", post=b"]"))
    case("truncated object", rec(b"a")[:-1])
    case("unterminated string", b'{"text":"never closed}')
    case("object split by a raw newline in a string", rec(b"first half\nsecond half"))
    case("CR as the only line break", rec(b"a") + b"\r" + rec(b"b"))
    case("comment", rec(b"a", post=b" // comment"))
    case("block comment", b"/* c */" + rec(b"a"))
    case("NaN as the text", rec_text_value(b"NaN"))
    # Blank lines.
    for blank in [b"", b" ", b"\t", b"\r", b"  \t \r"]:
        case("blank line " + repr(blank), blank)
    # Nesting.
    for depth in [10, 500, 1000, 1025, 100000]:
        case("nesting %d" % depth, rec(b"nested", b'"x":' + b'{"a":' * depth + b"1" + b"}" * depth))
    case("a long text", rec(b"long \\u00e9\\uff0c " * 20000))


def generate_mixed(n, seed):
    r = random.Random(seed)
    for i in range(n):
        text = r.choice(TEXT_OK)
        if r.random() < 0.3:
            text += r.choice([b" \\uff0c", "\u2026 ".encode(), b"  ", b"\\t"])
        members = [b'"text":"' + text + b'"']
        for _ in range(r.randint(0, 3)):
            members.append(r.choice(EXTRA_OK))
        label = "mixed %d" % i
        roll = r.random()
        if roll < 0.2:
            members.append(r.choice(EXTRA_BAD))
            label += " (bad member)"
        elif roll < 0.3:
            members[0] = b'"text":"' + r.choice(TEXT_BAD) + b'"'
            label += " (bad text)"
        elif roll < 0.4:
            members.append(b'"text":"' + r.choice(TEXT_OK) + b'"')
            label += " (text twice)"
        elif roll < 0.45:
            members.append(r.choice([b'"__dj__stats__":{"text_len":3}', b'"__dj__meta__":{"m":1}']))
        r.shuffle(members)
        _id[0] += 1
        members.insert(r.randint(0, len(members)), b'"id":' + str(_id[0]).encode())
        sep = r.choice([b",", b", ", b" ,\t"])
        line = r.choice([b"", b" ", b"\t"]) + b"{" + sep.join(members) + b"}" + r.choice([b"", b"", b" ", b"\r", b"\t\r"])
        case(label, line)


# ---------------------------------------------------------------------------------------------------------
# The oracle: what Python's json makes of a line, and what sluice must do with it.

# Documented deliberate differences (docs/compatibility.md, "Input records"): Python reads, sluice refuses,
# or the other way round.
DIFFS = {
    "blank": "an empty or whitespace-only line is skipped (Python refuses it)",
    "nan": "NaN / Infinity are refused (Python reads them)",
    "lone surrogate": "a lone surrogate escape is refused (Python reads it)",
    "digits": "an integer of more than 4300 digits is read (Python refuses it by default)",
    "depth": "nesting up to 1024 levels is read (Python's recursion limit stops at about 1000)",
    "not an object": "a line that is not a JSON object is refused (Python reads any JSON value)",
    "text type": "a text that is not a string or null is refused",
    "no text": "a record without the text key is refused (DataJuicer's schema would read null)",
}


# Python's defaults, which decide what DataJuicer reads; the test itself runs with higher ones (main), to
# compare records nested deeper than Python reads.
PY_RECURSION_LIMIT, PY_INT_DIGITS = sys.getrecursionlimit(), sys.get_int_max_str_digits()


class Verdict:
    def __init__(self, kind, obj=None, cause=None, diff=None):
        self.kind = kind  # ok, null, bad, blank
        self.obj = obj
        self.cause = cause  # a regex for sluice's message (bad)
        self.diff = diff


def walk_strings(v):
    """Every string and key in `v` (iteratively: records nest deeper than Python's recursion limit)."""
    stack = [v]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            yield v
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())


def py_loads(s, lifted):
    """json.loads(s), and every NaN/Infinity and every key and string value (those of members a later
    duplicate replaced included) it read."""
    consts, strings = [], []

    def pairs(members):
        for k, v in members:
            strings.append(k)
            if isinstance(v, str):
                strings.append(v)
        return dict(members)

    def load():
        obj = json.loads(s, parse_constant=lambda c: consts.append(c) or float(c), object_pairs_hook=pairs)
        return obj, consts, strings + list(walk_strings(obj))
    limit, digits = sys.getrecursionlimit(), sys.get_int_max_str_digits()
    sys.setrecursionlimit(20000 if lifted else PY_RECURSION_LIMIT)
    sys.set_int_max_str_digits(0 if lifted else PY_INT_DIGITS)
    try:
        return load()
    finally:
        sys.setrecursionlimit(limit)
        sys.set_int_max_str_digits(digits)


def outside_strings(line):
    """(index, byte) of each byte of a line outside its JSON strings (quotes included in the strings)."""
    in_str = esc = False
    for i, c in enumerate(line):
        if in_str:
            if esc:
                esc = False
            elif c == 0x5C:
                esc = True
            elif c == 0x22:
                in_str = False
        elif c == 0x22:
            in_str = True
        else:
            yield i, c


def nesting(line):
    """The deepest nesting of a line (the record object is level 1)."""
    depth = best = 0
    for _, c in outside_strings(line):
        if c in (0x5B, 0x7B):
            depth += 1
            best = max(best, depth)
        elif c in (0x5D, 0x7D):
            depth -= 1
    return best


def verdict(line):
    if not line.strip(b" \t\r"):
        return Verdict("blank", diff="blank")
    try:
        s = line.decode("utf-8")
    except UnicodeDecodeError:
        return Verdict("bad", cause=r"invalid UTF-8")
    diff = None
    try:
        obj, consts, strings = py_loads(s, False)
    except RecursionError:
        if nesting(line) > 1025:
            return Verdict("bad", cause=r"JSON nested too deeply")
        obj, consts, strings = py_loads(s, True)
        diff = "depth"
    except ValueError as e:
        if isinstance(e, json.JSONDecodeError) and e.msg == "Extra data":
            # Python read a first value and refuses what follows it. Sluice judges that value's JSON alone
            # first: where it refuses it (not an object, or a documented difference such as NaN) that is the
            # cause, else the content after it, at Python's column (also when the object lacks a string
            # text: Python never returns it).
            start = len(s) - len(s.lstrip(" \t\n\r"))
            first = verdict(s[:json.JSONDecoder().raw_decode(s, start)[1]].encode())
            if first.kind == "bad" and first.diff not in ("no text", "text type"):
                return first
            return Verdict("bad", cause=r"trailing content after the JSON object at column %d(?!\d)" % e.colno)
        if "Exceeds the limit" not in str(e):
            return Verdict("bad", cause=r"malformed JSON|unterminated JSON string|expected a JSON object")
        obj, consts, strings = py_loads(s, True)
        diff = "digits"
    if consts:
        return Verdict("bad", cause=r"malformed JSON literal \(NaN and Infinity are not JSON", diff="nan")
    if not isinstance(obj, dict):
        return Verdict("bad", cause=r"expected a JSON object per line", diff="not an object")
    if any(0xD800 <= ord(c) <= 0xDFFF for st in strings for c in st):
        return Verdict("bad", cause=r"malformed JSON string \(lone surrogate escape \\u[dD][89a-fA-F]", diff="lone surrogate")
    if "text" not in obj:
        return Verdict("bad", cause=r"missing text key 'text'", diff="no text")
    t = obj["text"]
    if t is None:
        return Verdict("null", obj, diff=diff)
    if not isinstance(t, str):
        kind = {bool: "boolean", int: "number", float: "number", list: "array", dict: "object"}[type(t)]
        return Verdict("bad", cause=r"text key 'text' holds a JSON %s, not a string" % kind, diff="text type")
    return Verdict("ok", obj, diff=diff)


# ---------------------------------------------------------------------------------------------------------
# Byte-level view of a valid record: its top-level members as (raw key, raw value), whitespace trimmed.

def members(line):
    line = line.strip(b" \t\r")
    assert line[:1] == b"{" and line[-1:] == b"}", line[:80]
    out, depth, start, key = [], 0, 1, None
    for i, c in outside_strings(line[:-1]):
        if i == 0:
            continue
        if c in (0x5B, 0x7B):
            depth += 1
        elif c in (0x5D, 0x7D):
            depth -= 1
        elif depth == 0 and c == 0x3A and key is None:
            key, start = line[start:i].strip(b" \t\r"), i + 1
        elif depth == 0 and c == 0x2C:
            out.append((key, line[start:i].strip(b" \t\r")))
            key, start = None, i + 1
    if key is not None:
        out.append((key, line[start:len(line) - 1].strip(b" \t\r")))
    return out


def key_name(raw_key):
    return json.loads(raw_key)


# ---------------------------------------------------------------------------------------------------------
# The recipes and what DataJuicer's op does to a record.

def punct(t):
    return "".join(dj_oracle.PUNCTUATION_MAP.get(c, c) for c in t)


def ws(t):
    return "".join(" " if c in dj_oracle.VARIOUS_WHITESPACES else c for c in t.strip())


CODECS = ["plain", "gz", "zst"]
MIN_LEN = 3
RECIPES = {
    # name: (process lines, extra top-level lines, text function or None, keeps stats, filter bound)
    "keep_all": (["  - text_length_filter:", "      min_len: 0"], [], None, False, None),
    "mappers": (["  - punctuation_normalization_mapper:", "  - whitespace_normalization_mapper:"], [],
                lambda t: ws(punct(t)), False, None),
    "stats": (["  - text_length_filter:", "      min_len: %d" % MIN_LEN], ["keep_stats_in_res_ds: true"], None, True,
              MIN_LEN),
}


def expected_output(name, obj, line):
    """(keep, expected object, expected member list) for a valid record under recipe `name`. Members are
    (raw key, raw value or None: compare by value, decoded value)."""
    _, _, fn, keep_stats, min_len = RECIPES[name]
    mem = members(line)
    names = [key_name(k) for k, _ in mem]
    text = obj["text"]
    out = dict(obj)
    exp = []
    last_text = max(i for i, n in enumerate(names) if n == "text")
    changed = False
    if fn is not None:
        new = fn(text)
        if new != text:
            out["text"], changed = new, True
    stats_value = None
    if min_len is not None:
        stats = obj.get("__dj__stats__")
        cached = isinstance(stats, dict) and "text_len" in stats
        stats_value = dict(stats) if isinstance(stats, dict) else {}
        if not cached:
            stats_value["text_len"] = len(text)
            changed = True
        if stats_value["text_len"] < min_len:
            return False, None, None
    for i, (k, v) in enumerate(mem):
        n = names[i]
        if n in ("__dj__stats__", "__dj__meta__") and not keep_stats:
            changed = True
            continue
        if i == last_text and out["text"] != text:
            exp.append((k, None, out["text"]))
        elif n == "__dj__stats__" and stats_value is not None:
            exp.append((k, None, stats_value))
        else:
            exp.append((k, v, None))
    if keep_stats:
        if "__dj__stats__" not in obj:
            exp.append((b'"__dj__stats__"', None, stats_value))
            out["__dj__stats__"] = stats_value
        elif stats_value is not None:
            out["__dj__stats__"] = stats_value
    else:
        out.pop("__dj__stats__", None)
        out.pop("__dj__meta__", None)
    return True, (out if changed else None), exp


# ---------------------------------------------------------------------------------------------------------
# Running sluice.

def write_input(path, lines, codec, final_newline=True):
    data = b"\n".join(lines) + (b"\n" if final_newline else b"")
    if codec == "gz":
        path += ".gz"
        with gzip.open(path, "wb") as f:
            f.write(data)
    elif codec == "zst":
        path += ".zst"
        subprocess.run(["zstd", "-q", "-f", "-o", path, "-"], input=data, check=True)
    else:
        with open(path, "wb") as f:
            f.write(data)
    return path


def recipe(path, data, export, name, extra=(), np=2):
    process, top, *_ = RECIPES[name]
    with open(path, "w") as f:
        f.write("dataset_path: %s\nexport_path: %s\nnp: %d\npartition:\n  max_size_mb: 0.05\n" % (data, export, np))
        f.write("fault_tolerance:\n  retry_base_seconds: 0.01\n")
        for line in list(top) + list(extra):
            f.write(line + "\n")
        f.write("process:\n" + "\n".join(process) + "\n")


def run(recipe_path, *args):
    p = subprocess.run([SLUICE, "run", recipe_path, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stderr.decode("utf-8", "replace")


def read_lines(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data == b"" or data.endswith(b"\n"), path
    return data.split(b"\n")[:-1]


def compare_output(name, recs, out_lines, where):
    """recs: the (label, line, verdict) of the input's valid records in order."""
    expected = []
    for label, line, v in recs:
        if v.kind != "ok":
            continue
        keep, obj, exp = expected_output(name, v.obj, line)
        if keep:
            expected.append((label, line, obj, exp))
    if not check(len(out_lines) == len(expected), "%s: %d records out, %d expected" % (where, len(out_lines), len(expected))):
        return
    errors = []
    same = sum(obj is None for _, _, obj, _ in expected)
    for (label, line, obj, exp), out in zip(expected, out_lines):
        if obj is None:
            if out != line.rstrip(b" \t\r"):
                errors.append("%s: unchanged record not byte-identical: %r -> %r" % (label, line[:120], out[:120]))
            continue
        try:
            got = py_loads(out.decode("utf-8"), True)[0]
        except ValueError as e:
            errors.append("%s: output does not parse (%s): %r" % (label, e, out[:120]))
            continue
        if got != obj:
            errors.append("%s: output %r, expected %r" % (label, str(got)[:200], str(obj)[:200]))
            continue
        mem = members(out)
        if len(mem) != len(exp):
            errors.append("%s: %d members out, %d expected: %r" % (label, len(mem), len(exp), out[:200]))
            continue
        for (k, v), (ek, ev, eval_) in zip(mem, exp):
            if k != ek or (ev is not None and v != ev) or (ev is None and json.loads(v) != eval_):
                errors.append("%s: member %r: %r, expected %r %r" % (label, ek, v[:80], ev and ev[:80], eval_))
                break
    check(not errors, "%s: every kept record as Python's op makes it (%d unchanged, byte-identical; %d changed, "
          "other members byte-identical)%s" % (where, same, len(expected) - same, "".join("\n    " + e for e in errors[:10])))


def main():
    sys.setrecursionlimit(20000)
    generate()
    generate_mixed(260, 1)
    # A BOM at the start of the file makes line 1 bad (Python: "Unexpected UTF-8 BOM"); the last line has no
    # newline. A case spanning several lines is judged line by line.
    bom = ("BOM at the start of the file", b"\xef\xbb\xbf" + rec(b"after a bom"))
    last = ("last line without a newline", rec(b"last line, no newline\\uff0c"))
    lines = [(label, part, verdict(part)) for label, raw in [bom] + CASES + [last] for part in raw.split(b"\n")]
    count = {k: sum(v.kind == k for _, _, v in lines) for k in ("ok", "bad", "null", "blank")}
    print("# %d cases, %d lines: %d records, %d bad, %d null texts, %d blank; documented differences: %s" % (
        len(CASES) + 2, len(lines), count["ok"], count["bad"], count["null"], count["blank"],
        ", ".join("%s %d" % (d, sum(v.diff == d for _, _, v in lines)) for d in DIFFS)))
    check(count["ok"] >= 200 and count["bad"] >= 150 and lines[0][2].kind == "bad",
          "the generator covers enough of both (and Python refuses the BOM)")
    bad_lines = [l for _, l, v in lines if v.kind == "bad"]

    os.chdir(WORK)
    pool = ThreadPoolExecutor(6)  # sluice runs wait on fsync more than they compute
    runs, data_of, dry_runs = {}, {}, {}
    for codec in CODECS:
        data = data_of[codec] = write_input("edge_%s.jsonl" % codec, [l for _, l, _ in lines], codec, final_newline=False)
        for name in RECIPES:
            for mode in ["skip", "quarantine"]:
                out_dir = "o_%s_%s_%s" % (codec, name, mode)
                recipe(out_dir + ".yaml", data, out_dir + "/out.jsonl", name, ["on_bad_record: " + mode])
                runs[(codec, name, mode)] = pool.submit(run, out_dir + ".yaml", "--job_id", "j")
        dry_runs[codec] = pool.submit(subprocess.run, [SLUICE, "run", out_dir + ".yaml", "--dry-run"],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    # The default mode: each bad line, put at line 3 of a file of good records, fails the job with exit 3
    # naming the file, line 3 and the cause (the BOM: line 1); compressed, each single-edge one. One recipe
    # suffices: records are read before any op.
    seen = set()
    fail_cases = [c for c in lines if c[2].kind == "bad" and c[1] not in seen and not seen.add(c[1])]
    fail_runs = []
    for i, (label, l, v) in enumerate(fail_cases):
        body, at = ([l, rec(b"filler")], 1) if i == 0 else ([rec(b"filler"), rec(b"filler \\uff0c"), l, rec(b"f")], 3)
        for codec in CODECS if not label.startswith("mixed") else ["plain"]:
            data = write_input("fail_%d_%s.jsonl" % (i, codec), body, codec)
            recipe("fail_%d_%s.yaml" % (i, codec), data, "of/out_%d_%s.jsonl" % (i, codec), "keep_all", np=1)
            pat = re.escape(data) + ":%d: (%s)" % (at, v.cause)
            fail_runs.append((codec, label, l, pat, pool.submit(run, "fail_%d_%s.yaml" % (i, codec))))

    # And a file of only the valid lines runs in the default mode, with the skip mode's output; with a bad
    # line after them, it fails naming that line, counted across partitions (plain) and past the reader's
    # first blocks (compressed: the long text is 400 KB).
    good = [l for _, l, v in lines if v.kind != "bad"]
    data = write_input("good.jsonl", good, "plain")
    recipe("good.yaml", data, "og/out.jsonl", "mappers")
    good_run = pool.submit(run, "good.yaml")
    for codec in CODECS:
        data = write_input("late_%s.jsonl" % codec, good + [lines[0][1]], codec)
        # np 2: the partitions before the bad line run beside the failing one, and the job still reports the
        # bad line (exit 3), not a partition its abort stopped.
        recipe("late_%s.yaml" % codec, data, "ol/out_%s.jsonl" % codec, "keep_all")
        pat = re.escape(data) + ":%d: (%s)" % (len(good) + 1, lines[0][2].cause)
        fail_runs.append((codec, "a bad line after all the valid ones", lines[0][1], pat,
                          pool.submit(run, "late_%s.yaml" % codec)))

    for (codec, name, mode), fut in runs.items():
        where = "%s %s %s" % (codec, name, mode)
        out_dir = "o_%s_%s_%s" % (codec, name, mode)
        rc, err = fut.result()
        if not check(rc == 0, "%s: exit 0 (got %d: %s)" % (where, rc, err[-300:])):
            continue
        compare_output(name, lines, read_lines(out_dir + "/out.jsonl"), where)
        with open(out_dir + "/j/job_summary.json") as f:
            summary = json.load(f)
        got = [summary.get(k) for k in ("bad_records", "null_text_dropped", "input_rows")]
        want = [len(bad_lines), count["null"], count["ok"] + count["null"]]
        check(got == want, "%s: the summary counts bad lines, null texts, input rows: %s (expected %s)" % (where, got, want))
        # Each partition's bad_records event names its first bad line: file:line: cause, the line counted
        # from the start of the file whatever partition it is in.
        wrong, events = [], 0
        with open(out_dir + "/j/events.jsonl") as f:
            for e in map(json.loads, f):
                if e["event_type"] != "bad_records":
                    continue
                events += 1
                m = re.match(r"(.*):(\d+): (.*)$", e["error_message"])
                n = int(m.group(2)) if m else 0
                if not m or m.group(1) != os.path.abspath(data_of[codec]) or not 0 < n <= len(lines) or \
                        lines[n - 1][2].kind != "bad" or not re.match(lines[n - 1][2].cause, m.group(3)):
                    wrong.append(e["error_message"][:200])
        check(events > 0 and not wrong, "%s: %d bad_records events, each naming a bad line by file:line: cause%s" % (
            where, events, "".join("\n    " + w for w in wrong[:5])))
        qdir = out_dir + "/j/quarantine"
        if mode == "quarantine":
            got = []
            for q in sorted(os.listdir(qdir)):
                got += read_lines(os.path.join(qdir, q))
            missing = [l for l in bad_lines if l not in got]
            extra = [l for l in got if l not in bad_lines]
            check(got == bad_lines, "%s: quarantine holds exactly the bad lines, in order (%d of %d; missing %r; extra %r)" % (
                where, len(got), len(bad_lines), missing[:3], extra[:3]))
        else:
            check(not os.path.exists(qdir), "%s: no quarantine" % where)

    # --dry-run reads the same lines the same way.
    want = "records: %d read (the first 1000 of each file), %d valid, %d bad" % (
        len(lines) - count["blank"], count["ok"] + count["null"], count["bad"])
    for codec, fut in dry_runs.items():
        out = fut.result().stdout.decode()
        check(want in out, "%s: --dry-run counts the lines as the run does (%s)" % (
            codec, ([l for l in out.split("\n") if "records:" in l] or [out[-200:]])[0]))

    failures = {c: [] for c in CODECS}
    tried = {c: sum(r[0] == c for r in fail_runs) for c in CODECS}
    for codec, label, l, pat, fut in fail_runs:
        rc, err = fut.result()
        if rc != 3 or not re.search(pat, err):
            failures[codec].append("%s %r: exit %d, %s" % (label, l[:60], rc, err.strip().split("\n")[0][-240:]))
    for codec, f in failures.items():
        check(not f, "%s: the default mode fails each of %d bad lines with exit 3 and file:line: cause%s" % (
            codec, tried[codec], "".join("\n    " + e for e in f[:12])))

    rc, err = good_run.result()
    if check(rc == 0, "default mode: the valid lines alone run (exit %d: %s)" % (rc, err[-300:])):
        compare_output("mappers", lines, read_lines("og/out.jsonl"), "default mode, valid lines only")
    pool.shutdown()
    print("%d passed, %d failed" % (PASSES, FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
