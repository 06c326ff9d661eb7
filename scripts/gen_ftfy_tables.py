#!/usr/bin/env python3
"""Generates src/ops/text/ftfy_tables.cc, the data behind sluice's native ftfy.fix_text (ftfy 6.3.1 defaults).

Usage: python3 scripts/gen_ftfy_tables.py > src/ops/text/ftfy_tables.cc

Everything here is data: code point sets and byte tables. The single-byte codecs come from Python's own
codecs (made "sloppy" the way ftfy describes its sloppy-windows-125x codecs: bytes a codec leaves undefined
decode as Latin-1, and byte 0x1A stands for U+FFFD); the HTML entities from html.entities.html5; the width
map from unicodedata's NFKC. The mojibake character categories and the "badness" / UTF-8-detector
patterns are ftfy's published heuristic (ftfy/badness.py, ftfy/chardata.py of ftfy 6.3.1), restated as
sets and sequences of sets; the C++ matcher (ftfy.cc) tests every pattern at every position, which is
what a boolean regex search over their alternation does.
"""
import html
import html.entities
import sys
import unicodedata

# The encodings fix_encoding tries, in ftfy's order (chardata.CHARMAP_ENCODINGS).
CHARMAPS = [
    ("latin-1", "latin-1", False),
    ("sloppy-windows-1252", "cp1252", True),
    ("sloppy-windows-1251", "cp1251", True),
    ("sloppy-windows-1250", "cp1250", True),
    ("sloppy-windows-1253", "cp1253", True),
    ("sloppy-windows-1254", "cp1254", True),
    ("sloppy-windows-1257", "cp1257", True),
    ("iso-8859-2", "iso8859_2", False),
    ("macroman", "mac_roman", False),
    ("cp437", "cp437", False),
]


def decode_table(codec, sloppy):
    table = []
    for b in range(256):
        try:
            ch = bytes([b]).decode(codec)
        except UnicodeDecodeError:
            assert sloppy
            ch = chr(b)
        table.append(ord(ch))
    if sloppy:
        table[0x1A] = 0xFFFD
    return table


def chars(spec):
    """A set from a regex-class-like spec: single characters and 'a-z' ranges."""
    out = set()
    i = 0
    while i < len(spec):
        if i + 2 < len(spec) and spec[i + 1] == "-":
            out.update(chr(c) for c in range(ord(spec[i]), ord(spec[i + 2]) + 1))
            i += 3
        else:
            out.add(spec[i])
            i += 1
    return out


N = lambda name: unicodedata.lookup(name)  # noqa: E731

# ftfy 6.3.1 badness.MOJIBAKE_CATEGORIES.
CAT = {
    "common": {N(n) for n in ["NO-BREAK SPACE", "SOFT HYPHEN", "MIDDLE DOT", "ACUTE ACCENT", "EN DASH", "EM DASH",
                              "HORIZONTAL BAR", "HORIZONTAL ELLIPSIS", "RIGHT SINGLE QUOTATION MARK"]},
    "c1": chars("\x80-\x9f"),
    "bad": {N(n) for n in ["BROKEN BAR", "CURRENCY SIGN", "DIAERESIS", "NOT SIGN", "MACRON", "CEDILLA",
                           "LATIN SMALL LETTER F WITH HOOK", "MODIFIER LETTER CIRCUMFLEX ACCENT", "CARON", "BREVE",
                           "OGONEK", "SMALL TILDE", "DAGGER", "DOUBLE DAGGER", "PER MILLE SIGN", "REVERSED NOT SIGN",
                           "LOZENGE", "REPLACEMENT CHARACTER", "FEMININE ORDINAL INDICATOR",
                           "MASCULINE ORDINAL INDICATOR"]},
    "law": {N("PILCROW SIGN"), N("SECTION SIGN")},
    "currency": {N(n) for n in ["CENT SIGN", "POUND SIGN", "YEN SIGN", "PESETA SIGN", "EURO SIGN"]},
    "start_punctuation": {N(n) for n in ["INVERTED EXCLAMATION MARK", "LEFT-POINTING DOUBLE ANGLE QUOTATION MARK",
                                         "INVERTED QUESTION MARK", "COPYRIGHT SIGN", "GREEK TONOS",
                                         "GREEK DIALYTIKA TONOS", "LEFT SINGLE QUOTATION MARK",
                                         "SINGLE LOW-9 QUOTATION MARK", "LEFT DOUBLE QUOTATION MARK",
                                         "DOUBLE LOW-9 QUOTATION MARK", "BULLET",
                                         "SINGLE LEFT-POINTING ANGLE QUOTATION MARK"]} | {"\uf8ff"},
    "end_punctuation": {N(n) for n in ["REGISTERED SIGN", "RIGHT-POINTING DOUBLE ANGLE QUOTATION MARK",
                                       "DOUBLE ACUTE ACCENT", "RIGHT DOUBLE QUOTATION MARK",
                                       "SINGLE RIGHT-POINTING ANGLE QUOTATION MARK", "TRADE MARK SIGN"]},
    "numeric": {N(n) for n in ["SUPERSCRIPT TWO", "SUPERSCRIPT THREE", "SUPERSCRIPT ONE", "PLUS-MINUS SIGN",
                               "VULGAR FRACTION ONE QUARTER", "VULGAR FRACTION ONE HALF",
                               "VULGAR FRACTION THREE QUARTERS", "MULTIPLICATION SIGN", "MICRO SIGN", "DIVISION SIGN",
                               "FRACTION SLASH", "PARTIAL DIFFERENTIAL", "INCREMENT", "N-ARY PRODUCT",
                               "N-ARY SUMMATION", "SQUARE ROOT", "INFINITY", "INTERSECTION", "INTEGRAL",
                               "ALMOST EQUAL TO", "NOT EQUAL TO", "IDENTICAL TO", "LESS-THAN OR EQUAL TO",
                               "GREATER-THAN OR EQUAL TO", "NUMERO SIGN"]},
    "kaomoji": chars("Ò-ÖÙ-Üò-öø-ü") | {N(n) for n in ["LATIN CAPITAL LETTER O WITH DOUBLE ACUTE",
                                                        "LATIN CAPITAL LETTER O WITH MACRON",
                                                        "LATIN CAPITAL LETTER U WITH MACRON",
                                                        "LATIN CAPITAL LETTER U WITH OGONEK", "DEGREE SIGN"]},
    "upper_accented": chars("\xc0-\xd1") | {N("LATIN CAPITAL " + n) for n in [
        "LETTER O WITH STROKE", "LETTER U WITH DIAERESIS", "LETTER Y WITH ACUTE", "LETTER A WITH BREVE",
        "LETTER A WITH MACRON", "LETTER A WITH OGONEK", "LETTER C WITH ACUTE", "LETTER C WITH CARON",
        "LETTER D WITH CARON", "LETTER D WITH STROKE", "LETTER E WITH OGONEK", "LETTER E WITH CARON",
        "LETTER E WITH MACRON", "LETTER E WITH DOT ABOVE", "LETTER G WITH BREVE", "LETTER G WITH CEDILLA",
        "LETTER I WITH DOT ABOVE", "LETTER I WITH MACRON", "LETTER K WITH CEDILLA", "LETTER L WITH ACUTE",
        "LETTER L WITH CARON", "LETTER L WITH STROKE", "LETTER L WITH CEDILLA", "LETTER N WITH ACUTE",
        "LETTER N WITH CARON", "LETTER N WITH CEDILLA", "LIGATURE OE", "LETTER R WITH CARON", "LETTER S WITH ACUTE",
        "LETTER S WITH CEDILLA", "LETTER S WITH CARON", "LETTER T WITH CEDILLA", "LETTER T WITH CARON",
        "LETTER U WITH RING ABOVE", "LETTER U WITH DOUBLE ACUTE", "LETTER Y WITH DIAERESIS", "LETTER Z WITH ACUTE",
        "LETTER Z WITH DOT ABOVE", "LETTER Z WITH CARON"]} | {N("CYRILLIC CAPITAL LETTER GHE WITH UPTURN")},
    "lower_accented": {N("LATIN SMALL LETTER SHARP S")} | chars("\xe0-\xf1") | {N("LATIN SMALL " + n) for n in [
        "LETTER A WITH BREVE", "LETTER A WITH OGONEK", "LETTER A WITH MACRON", "LETTER C WITH ACUTE",
        "LETTER C WITH CARON", "LETTER D WITH CARON", "LETTER D WITH STROKE", "LETTER E WITH OGONEK",
        "LETTER E WITH CARON", "LETTER E WITH MACRON", "LETTER E WITH DOT ABOVE", "LETTER G WITH BREVE",
        "LETTER G WITH CEDILLA", "LETTER I WITH OGONEK", "LETTER I WITH MACRON", "LETTER K WITH CEDILLA",
        "LETTER L WITH ACUTE", "LETTER L WITH CARON", "LETTER L WITH STROKE", "LETTER L WITH CEDILLA", "LIGATURE OE",
        "LETTER R WITH ACUTE", "LETTER S WITH ACUTE", "LETTER S WITH CEDILLA", "LETTER S WITH CARON",
        "LETTER T WITH CARON", "LETTER U WITH DIAERESIS", "LETTER Z WITH ACUTE", "LETTER Z WITH DOT ABOVE",
        "LETTER Z WITH CARON", "LIGATURE FI", "LIGATURE FL"]} | {N("CYRILLIC SMALL LETTER GHE WITH UPTURN")},
    "upper_common": {N("LATIN CAPITAL LETTER THORN")} | chars("\u0391-\u03a9") | {N("GREEK CAPITAL LETTER " + n) for n in [
        "ALPHA WITH TONOS", "EPSILON WITH TONOS", "ETA WITH TONOS", "IOTA WITH TONOS", "OMICRON WITH TONOS",
        "UPSILON WITH TONOS", "OMEGA WITH TONOS", "IOTA WITH DIALYTIKA", "UPSILON WITH DIALYTIKA"]}
        | chars("\u0401-\u042f"),
    "lower_common": chars("\u03b1-\u03c9") | {N("GREEK SMALL LETTER " + n) for n in [
        "ALPHA WITH TONOS", "EPSILON WITH TONOS", "ETA WITH TONOS", "IOTA WITH TONOS",
        "UPSILON WITH DIALYTIKA AND TONOS"]} | chars("\u0430-\u045f"),
    "box": chars("│┌┐┘├┤┬┼") | chars("\u2550-\u256c") | chars("▀▄█▌▐░▒▓"),
}
assert N("BOX DRAWINGS DOUBLE HORIZONTAL") == "\u2550" and N("BOX DRAWINGS DOUBLE VERTICAL AND HORIZONTAL") == "\u256c"
assert N("CYRILLIC CAPITAL LETTER IO") == "\u0401" and N("CYRILLIC SMALL LETTER DZHE") == "\u045f"


def cats(*names):
    out = set()
    for n in names:
        out |= CAT[n]
    return out


ASCII_LETTERS = chars("a-zA-Z")
LOWER = chars("a-z")
# Pattern elements: ("set", set) | ("char", c) | ("space",) = \s | ("word",) = \w | ("dot",) = . |
# ("start",) = ^ (zero width).
S = lambda *parts: ("set", set().union(*[p if isinstance(p, set) else chars(p) for p in parts]))  # noqa: E731
C = lambda c: ("char", c)  # noqa: E731
SPACE, WORD, DOT, START = ("space",), ("word",), ("dot",), ("start",)

MOJI9 = ("bad", "lower_accented", "upper_accented", "box", "start_punctuation", "end_punctuation", "currency",
         "numeric", "law")
ARABIC = cats("common", "currency", "bad", "numeric", "start_punctuation") | chars("ŸŠ®°µ»")
CYR_MID = cats("c1", "bad", "start_punctuation", "end_punctuation", "currency") | chars("°µ")
GREEK_MID = cats("c1", "bad", "start_punctuation", "end_punctuation", "currency") | chars("°")

# badness.BADNESS_RE, one entry per alternative (`\s?` expanded into its two fixed-length forms).
BADNESS = [
    [S(CAT["c1"])],
    [S(cats(*MOJI9)), S(CAT["bad"])],
    [S(ASCII_LETTERS), S(cats("lower_common", "upper_common")), S(CAT["bad"])],
    [S(CAT["bad"]), S(cats(*MOJI9[1:]))],
    [S(cats("lower_accented", "lower_common", "box", "end_punctuation", "currency", "numeric")),
     S(CAT["upper_accented"])],
    [S(cats("box", "end_punctuation", "currency", "numeric")), S(CAT["lower_accented"])],
    [S(cats("lower_accented", "box", "end_punctuation")), S(CAT["currency"])],
    [SPACE, S(CAT["upper_accented"]), S(CAT["currency"])],
    [S(cats("upper_accented", "box")), S(cats("numeric", "law"))],
    [S(cats("lower_accented", "upper_accented", "box", "currency", "end_punctuation")), S(CAT["start_punctuation"]),
     S(CAT["numeric"])],
    [S(cats("lower_accented", "upper_accented", "currency", "numeric", "box", "law")), S(CAT["end_punctuation"]),
     S(CAT["start_punctuation"])],
    [S(cats("currency", "numeric", "box")), S(CAT["start_punctuation"])],
    [S(LOWER), S(CAT["upper_accented"]), S(cats("start_punctuation", "currency"))],
    [S(CAT["box"]), S(CAT["kaomoji"])],
    [S(cats("lower_accented", "upper_accented", "currency", "numeric", "start_punctuation", "end_punctuation",
            "law")), S(CAT["box"])],
    [S(CAT["box"]), S(CAT["end_punctuation"])],
    [S(cats("lower_accented", "upper_accented")), S(cats("start_punctuation", "end_punctuation")), WORD],
    [S("Œœ"), ("notletter",)],
    [S(CAT["upper_accented"]), C("°")],
    [S("ÂÃÎÐ"), S(chars("€œŠš¢£Ÿž\xa0\xad®©°·»–—´") | cats("start_punctuation", "end_punctuation"))],
    [C("×"), S("²³")],
    [S("ØÙ"), S(ARABIC), S("ØÙ"), S(ARABIC)],
    [C("à"), S("²µ¹¼½¾")],
    [C("√"), S("±∂†≠®™´≤≥¥µø")],
    [C("≈"), S("°¢")],
    [C("‚"), C("Ä"), S("ìîïòôúùû†°¢π")],
    [C("‚"), S("âó"), S("àä°ê")],
    [C("в"), C("Ђ")],
    [S("ВГРС"), S(CYR_MID), S("ВГРС")],
    [C("Г"), C("ў"), C("В"), C("Ђ"), C("В"), DOT, S(chars("A-Za-z "))],
    [C("Ã"), S("\xa0¡")],
    [S(LOWER), S("ÃÂ"), S(" ")],
    [S(LOWER), SPACE, S("ÃÂ"), S(" ")],
    [START, S("ÃÂ"), S(" ")],
    [S(LOWER | chars(".,?!") | CAT["end_punctuation"]), C("Â"),
     S(chars(" ") | cats("start_punctuation", "end_punctuation"))],
    [C("β"), C("€"), S("™\xa0Ά\xad®°")],
    [S("ΒΓΞΟ"), S(GREEK_MID), S("ΒΓΞΟ")],
    [C("ā"), C("€")],
]

# chardata.UTF8_CLUES, derived from the codecs: the characters that bytes C2-DF, E0-EF, F0/F3 and 80-BF decode
# to in Latin-1 and the sloppy windows-125x codecs ftfy 6.3.1 lists there (its generated list is exactly this
# union); a space may stand for byte A0 in a continuation position.
CLUE_CODECS = [("latin-1", False), ("cp1252", True), ("cp1250", True), ("cp1251", True), ("cp1253", True),
               ("cp1254", True), ("cp1257", True)]


def clue_set(byte_values):
    out = set()
    for codec, sloppy in CLUE_CODECS:
        t = decode_table(codec, sloppy)
        out |= {chr(t[b]) for b in byte_values}
    return out


UTF8_FIRST2 = clue_set(range(0xC2, 0xE0))
UTF8_FIRST3 = clue_set(range(0xE0, 0xF0))
UTF8_FIRST4 = clue_set([0xF0, 0xF3])
UTF8_CONT = clue_set(range(0x80, 0xC0)) | {" "}
UTF8_CONT_STRICT = UTF8_CONT - set(" \u2013\u2014\u2015\u2018\u2019\u201a\u201c\u201d\u201e\u2022\u2026")


def cpp_str(s):
    out = '"'
    for b in s.encode("utf-8"):
        if b == 0x22 or b == 0x5C:
            out += "\\" + chr(b)
        elif 0x20 <= b < 0x7F:
            out += chr(b)
        else:
            out += "\\x%02x" % b
    out += '"'
    # A hex escape followed by a hex digit would run on: split the literal there.
    fixed, i = "", 0
    while i < len(out):
        fixed += out[i]
        if out[i] == "\\" and out[i + 1] == "x":
            fixed += out[i + 1:i + 4]
            i += 4
            if i < len(out) - 1 and out[i] in "0123456789abcdefABCDEF":
                fixed += '" "'
            continue
        i += 1
    return fixed


def main():
    w = sys.stdout.write
    w("// GENERATED by scripts/gen_ftfy_tables.py from Python %s's codecs, html.entities.html5 and unicodedata\n"
      "// (Unicode %s), plus ftfy 6.3.1's mojibake categories restated as data in that script. Do not edit:\n"
      "// change the script and run `python3 scripts/gen_ftfy_tables.py > src/ops/text/ftfy_tables.cc`.\n"
      % (sys.version.split()[0], unicodedata.unidata_version))
    w('#include "ops/text/ftfy_tables.h"\n\nnamespace sluice::ftfy::tables {\n\n')

    # --- single-byte codecs
    decs = [decode_table(codec, sloppy) for _, codec, sloppy in CHARMAPS]
    w("const char* const kCharmapNames[kNumCharmaps] = {%s};\n" % ", ".join('"%s"' % n for n, _, _ in CHARMAPS))
    w("const bool kCharmapSloppy[kNumCharmaps] = {%s};\n" % ", ".join("true" if s else "false" for _, _, s in CHARMAPS))
    w("const char32_t kCharmapDecode[kNumCharmaps][256] = {\n")
    for t in decs:
        w("    {%s},\n" % ", ".join("0x%X" % c for c in t))
    w("};\n\n")
    enc = {}
    for k, (_, _, sloppy) in enumerate(CHARMAPS):
        seen = {}
        for b, c in enumerate(decs[k]):
            if c < 0x80 and c == b:
                continue  # ASCII maps to itself in every codec (CharmapEncode handles it)
            assert c not in seen, (CHARMAPS[k], hex(c))  # a unique byte per character
            seen[c] = b
            enc.setdefault(c, [0] * len(CHARMAPS))[k] = b
    w("const CharmapEntry kCharmapEncode[] = {\n")
    for c in sorted(enc):
        w("    {0x%X, {%s}},\n" % (c, ", ".join("0x%02X" % b for b in enc[c])))
    w("};\nconst size_t kCharmapEncodeSize = sizeof(kCharmapEncode) / sizeof(kCharmapEncode[0]);\n\n")

    # --- character classes: one bit per distinct set used by a pattern, plus the UTF-8 clue sets
    classes = []

    def class_bit(s):
        fs = frozenset(s)
        if fs not in classes:
            classes.append(fs)
        return classes.index(fs)

    for name, s in [("kFirst2", UTF8_FIRST2), ("kFirst3", UTF8_FIRST3), ("kFirst4", UTF8_FIRST4),
                    ("kCont", UTF8_CONT), ("kContStrict", UTF8_CONT_STRICT)]:
        w("const int %s = %d;\n" % (name, class_bit(s)))
    w("\n")
    patterns = []
    for alt in BADNESS:
        elems = []
        key = -1
        for i, e in enumerate(alt):
            if e[0] == "set":
                elems.append("{Elem::kClass, %d}" % class_bit(e[1]))
                if key < 0 and all(ord(c) >= 0x80 for c in e[1]):
                    key = i
            elif e[0] == "char":
                elems.append("{Elem::kChar, 0x%X}" % ord(e[1]))
                if key < 0 and ord(e[1]) >= 0x80:
                    key = i
            else:
                elems.append("{Elem::k%s, 0}" % {"space": "Space", "word": "Word", "dot": "Dot", "start": "Start",
                                                 "notletter": "NotAsciiLetter"}[e[0]])
        assert key >= 0, alt  # every pattern needs a non-ASCII character: the pre-scan relies on it
        patterns.append((key, elems))
    assert len(classes) <= 64, len(classes)
    w("const Pattern kBadness[] = {\n")
    for key, elems in patterns:
        w("    {%d, %d, {%s}},\n" % (len(elems), key, ", ".join(elems)))
    w("};\nconst size_t kBadnessSize = sizeof(kBadness) / sizeof(kBadness[0]);\n\n")

    masks = {}
    for bit, fs in enumerate(classes):
        for c in fs:
            masks[ord(c)] = masks.get(ord(c), 0) | (1 << bit)
    distinct = [0] + sorted({m for m in masks.values()})
    assert len(distinct) <= 256
    w("const uint64_t kClassMasks[] = {\n")
    for i in range(0, len(distinct), 6):
        w("    %s,\n" % ", ".join("0x%XULL" % m for m in distinct[i:i + 6]))
    w("};\n")
    w("const uint8_t kClassIndex[kClassDirect] = {\n")
    idx = [distinct.index(masks.get(c, 0)) for c in range(kClassDirect)]
    for i in range(0, kClassDirect, 32):
        w("    %s,\n" % ",".join(str(v) for v in idx[i:i + 32]))
    w("};\n")
    far = sorted(c for c in masks if c >= kClassDirect)
    w("const ClassEntry kClassFar[] = {%s};\n" % ", ".join("{0x%X, 0x%XULL}" % (c, masks[c]) for c in far))
    w("const size_t kClassFarSize = %d;\n\n" % len(far))

    # --- HTML entities (chardata.HTML_ENTITIES): the html5 names that end in ';', plus upper-cased forms of
    # lower-case names when the upper-cased name is not an entity itself (their value upper-cased too).
    ents = {}
    for name, ch in html.entities.html5.items():
        if name.endswith(";"):
            ents["&" + name] = ch
            if name == name.lower():
                upper = "&" + name.upper()
                if html.unescape(upper) == upper:
                    ents[upper] = ch.upper()
    w("const Entity kEntities[] = {\n")
    for name in sorted(ents, key=lambda s: s.encode()):
        w("    {%s, %s},\n" % (cpp_str(name), cpp_str(ents[name])))
    w("};\nconst size_t kEntitiesSize = sizeof(kEntities) / sizeof(kEntities[0]);\n\n")

    # --- chardata.WIDTH_MAP: U+3000 and U+FF01..U+FFEF to their NFKC forms
    w("const char* const kWidthMap[0xFFF0 - 0xFF01] = {\n")
    for c in range(0xFF01, 0xFFF0):
        alt = unicodedata.normalize("NFKC", chr(c))
        w("    %s,\n" % (cpp_str(alt) if alt != chr(c) else "nullptr"))
    w("};\n\n}  // namespace sluice::ftfy::tables\n")


kClassDirect = 0x2600

if __name__ == "__main__":
    main()
