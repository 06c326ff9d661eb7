// Unit tests for the shared text primitives in src/ops/text/: Python string semantics, SPECIAL_CHARACTERS,
// word splitting/refinement, MD5, the regex wrapper (dialect translation, replacement templates, raw-string
// wrapper) and the n-gram counters. Expected values were checked against CPython 3.11 / the `regex` module.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "ops/text/md5.h"
#include "ops/text/ngram_counter.h"
#include "ops/text/pystr.h"
#include "ops/text/regex.h"
#include "ops/text/special_chars.h"
#include "core/utf8.h"
#include "ops/text/words.h"

namespace sluice::text {
namespace {

std::string U8(char32_t cp) {
  std::string s;
  utf8::Append(s, cp);
  return s;
}

std::vector<std::string> Lines(std::string_view s) {
  std::vector<std::string_view> v;
  SplitLines(s, v);
  return {v.begin(), v.end()};
}

TEST(PyStr, SplitLinesSeparators) {
  // Every boundary kind, "\r\n" once, no empty last line after a trailing boundary; \x1f is not one.
  std::string s = "a\x1c" "b\x1d" "c\x1e" "d\x1f" "f\u0085g\u2028h\u2029i\r\nj\rk\x0bl\x0cm\n";
  std::vector<std::string> want = {"a", "b", "c", "d\x1f" "f", "g", "h", "i", "j", "k", "l", "m"};
  EXPECT_EQ(Lines(s), want);
  EXPECT_TRUE(Lines("").empty());
  EXPECT_EQ(Lines("\n"), std::vector<std::string>{""});
  EXPECT_EQ(Lines("a\n\nb"), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(Lines("a\r\r\nb"), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(Lines("x\r"), std::vector<std::string>{"x"});
  // Not boundaries: U+2027, NEL look-alikes.
  EXPECT_EQ(Lines("a\u2027b\u00C5c").size(), 1u);
}

TEST(PyStr, StripWhitespaceSet) {
  for (char32_t c : std::vector<char32_t>{0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x2005,
                     0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000}) {
    EXPECT_TRUE(IsPySpace(c)) << std::hex << static_cast<uint32_t>(c);
    std::string padded = U8(c);
    padded += 'x';
    padded += U8(c);
    EXPECT_EQ(PyStrip(padded), "x") << std::hex << static_cast<uint32_t>(c);
  }
  for (char32_t c : std::vector<char32_t>{0x200B, 0xFEFF, 0x180E, 0x00, 0x08, 0x2060}) {
    EXPECT_FALSE(IsPySpace(c)) << std::hex << static_cast<uint32_t>(c);
    std::string t = U8(c);
    t += 'x';
    EXPECT_EQ(PyStrip(t), t);
  }
  EXPECT_EQ(PyStrip(" \t\x1c\x1f\u00A0\u3000x\u200B\uFEFF"), "x\u200B\uFEFF");
  EXPECT_EQ(PyStrip("   "), "");
  EXPECT_EQ(PyStrip(""), "");
}

TEST(PyStr, IsAlnumIsAlpha) {
  struct Case {
    char32_t c;
    bool alnum, alpha;
  };
  for (auto [c, alnum, alpha] : std::vector<Case>{{U'①', true, false},  {U'²', true, false},  {U'Ⅷ', true, false},
                                                  {U'１', true, false}, {U'〇', true, false}, {U'中', true, true},
                                                  {U'一', true, true},  {0x1F60A, false, false}, {U'!', false, false},
                                                  {0x301, false, false}, {U'a', true, true},  {U'Z', true, true},
                                                  {U'7', true, false},  {U'٣', true, false}, {U'é', true, true},
                                                  {U'_', false, false}, {U' ', false, false}, {0x20000, true, true},
                                                  {U'，', false, false}}) {
    EXPECT_EQ(IsPyAlnum(c), alnum) << std::hex << static_cast<uint32_t>(c);
    EXPECT_EQ(IsPyAlpha(c), alpha) << std::hex << static_cast<uint32_t>(c);
  }
}

TEST(PyStr, Lower) {
  auto lower = [](std::string_view s) {
    std::string out;
    PyLowerAppend(s, out);
    return out;
  };
  EXPECT_EQ(lower("İ"), "i\xCC\x87");  // full mapping: i + U+0307
  EXPECT_EQ(lower("ΑΣ"), "ας");        // final sigma
  EXPECT_EQ(lower("ΣΑ"), "σα");
  EXPECT_EQ(lower("A Σ"), "a σ");
  EXPECT_EQ(lower("ΑΣ."), "ας.");
  EXPECT_EQ(lower("ΑΣ'Α"), "ασ'α");  // apostrophe is case-ignorable: a cased letter follows
  EXPECT_EQ(lower("Hello WORLD, ÀÉÎ ẞ Ǆ"), "hello world, àéî ß ǆ");
  EXPECT_EQ(lower("ABCDEFGHIJKLMNOPQRSTUVWXYZ@[`{"), "abcdefghijklmnopqrstuvwxyz@[`{");
}

TEST(SpecialChars, Membership) {
  size_t n = 0;
  for (char32_t c = 0; c < 0x110000; ++c) n += IsSpecialChar(c);
  EXPECT_EQ(n, kSpecialCharacterCount);
  for (char32_t c : std::vector<char32_t>{U'一', U'士', U'上', U'ー', U'ン', U'ه', U'Г', U'ı', U'π', U'ø', U' ', U'0', U'9', U'#', U'*', U'!',
                     U'~', U'\t', U'\n', U'«', U'…', U'’', U'，', 0x1F60A, 0x1F44D, 0xFEFF, 0x200B, 0x85})
    EXPECT_TRUE(IsSpecialChar(c)) << std::hex << static_cast<uint32_t>(c);
  for (char32_t c : std::vector<char32_t>{U'a', U'Z', U'中', U'二', U'é', U'č', 0x4E01, 0x2F800, 0x20000, 0x10FFFF})
    EXPECT_FALSE(IsSpecialChar(c)) << std::hex << static_cast<uint32_t>(c);
  EXPECT_TRUE(IsSpecialChar(U'‘'));  // U+2018 is in the extra list
  EXPECT_TRUE(IsSpecialChar(U'\r'));
}

TEST(Words, SplitOnWhitespace) {
  auto split = [](std::string_view s, bool nl, bool tab) {
    std::vector<std::string> out;
    ForEachWord(s, nl, tab, [&](std::string_view w) { out.emplace_back(w); });
    return out;
  };
  EXPECT_EQ(split("  a b\tc\nd\re\u3000f\u00A0g  ", true, true),
            (std::vector<std::string>{"a", "b", "c", "d\re\u3000f\u00A0g"}));
  EXPECT_EQ(split("a\nb\tc d", false, false), (std::vector<std::string>{"a\nb\tc", "d"}));
  EXPECT_TRUE(split("", true, true).empty());
  EXPECT_TRUE(split(" \n\t ", true, true).empty());
  // Long inputs go through the 32-byte block path: compare with a byte-at-a-time split.
  std::string long_text;
  for (int i = 0; i < 500; ++i) long_text += std::string(static_cast<size_t>(i % 7), 'x') + " \n\t"[i % 3] + (i % 5 ? "" : "  ");
  std::vector<std::string> want;
  std::string cur;
  for (char c : long_text) {
    if (c == ' ' || c == '\n' || c == '\t') {
      if (!cur.empty()) want.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) want.push_back(cur);
  EXPECT_EQ(split(long_text, true, true), want);
}

TEST(Words, StripAndRefine) {
  EXPECT_EQ(StripSpecial("...hello!!"), "hello");
  EXPECT_EQ(StripSpecial("一二一"), "二");  // U+4E00 is special, U+4E8C is not
  EXPECT_EQ(StripSpecial("😊hi😊"), "hi");
  EXPECT_EQ(StripSpecial("!?"), "");
  EXPECT_EQ(StripSpecial("a.b"), "a.b");
  EXPECT_TRUE(HasNonSpecial("..a.."));
  EXPECT_FALSE(HasNonSpecial("，。！"));
  EXPECT_TRUE(HasNonSpecial("，中。"));

  RefineOptions opt;
  opt.lower_case = true;
  opt.strip_special = true;
  WordList w;
  RefineWords("Hello, WORLD!  ... \t ΑΣ İx 😊\nFoo-Bar", opt, w);
  std::vector<std::string> got;
  for (size_t i = 0; i < w.size(); ++i) got.emplace_back(w[i]);
  EXPECT_EQ(got, (std::vector<std::string>{"hello", "world", "ας", "i\xCC\x87x", "foo-bar"}));
  EXPECT_EQ(w.Joined(0, 2), "hello world");
  EXPECT_EQ(w.Joined(1, 5), "world ας i\xCC\x87x foo-bar");

  opt.lower_case = false;
  opt.use_words_aug = true;
  opt.aug_group_sizes = {2, 3};
  RefineWords("a b c", opt, w);
  got.clear();
  for (size_t i = 0; i < w.size(); ++i) got.emplace_back(w[i]);
  EXPECT_EQ(w.base_size(), 3u);
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b", "c", "ab", "bc", "abc"}));
}

// RefineWords reads ASCII words of up to 16 bytes through a 16-byte mask of their non-special bytes and
// everything else byte by byte / code point by code point. Both must give what the definition gives:
// split, lower() each word, strip SPECIAL_CHARACTERS from both ends, drop empty words.
TEST(Words, RefineFastPathMatchesDefinition) {
  std::vector<std::string> words;
  // Every ASCII byte (but the separators) at the start, inside and at the end of words of every length
  // around the 16-byte limit.
  for (int c = 1; c < 0x80; ++c) {
    if (c == ' ' || c == '\n' || c == '\t') continue;
    std::string ch(1, static_cast<char>(c));
    for (size_t len : {1, 2, 7, 8, 9, 15, 16, 17, 18}) {
      std::string mid(len > 1 ? len - 1 : 0, 'Q');
      words.push_back(ch + mid);
      words.push_back(mid + ch);
      if (len > 2) words.push_back(mid.substr(0, len / 2) + ch + mid.substr(len / 2));
      words.push_back(std::string(len, static_cast<char>(c)));
    }
  }
  for (const char* w : {"", "x", "...", "..A..", "((Hello))", "-1.5e3", "a.b", "ÉCOLE,", "«word»", "“Quote”", "word’s",
                        "—", "…ok…", "😊x😊", "ΑΣ.", "İx", "0123456789abcdefG", "ABCDEFGHIJKLMNOP", "ABCDEFGHIJKLMNOPQ",
                        "!!!!!!!!!!!!!!!!", "!!!!!!!!!!!!!!!!!", "x\xC2\xA0y", "\xC2\xA0", "\r", "a\rb", "\x0b\x0c"})
    words.push_back(w);
  std::string text;
  for (size_t i = 0; i < words.size(); ++i) text += words[i] + (i % 7 == 0 ? "\n" : i % 11 == 0 ? "\t  " : " ");
  std::vector<std::string> want;
  ForEachWord(text, true, true, [&](std::string_view w) {
    std::string lower;
    PyLowerAppend(w, lower);
    std::string_view stripped = StripSpecial(lower);
    if (!stripped.empty()) want.emplace_back(stripped);
  });
  RefineOptions opt;
  opt.lower_case = true;
  opt.strip_special = true;
  opt.hash_words = true;
  WordList got;
  for (int round = 0; round < 2; ++round) {  // the second round reuses the buffers
    RefineWords(text, opt, got);
    ASSERT_EQ(got.size(), want.size());
    std::map<std::string, uint64_t> hash_of;
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got[i], want[i]) << i;
      auto [it, fresh] = hash_of.emplace(want[i], got.hash(i));
      EXPECT_EQ(it->second, got.hash(i)) << "equal words must hash alike: " << want[i];
    }
    std::string joined;
    for (size_t i = 0; i < want.size(); ++i) joined += (i ? " " : "") + want[i];
    EXPECT_EQ(got.Joined(0, want.size()), joined);
  }
  // Without lowercasing or stripping the words are the split pieces.
  RefineWords(text, RefineOptions{}, got);
  size_t pieces = 0;
  ForEachWord(text, true, true, [&](std::string_view w) { EXPECT_EQ(got[pieces++], w); });
  EXPECT_EQ(got.size(), pieces);
}

// CountLinesAndCodePoints counts boundaries 32 bytes at a time with a 2-byte look-ahead and the rest one
// by one: every boundary kind (and look-alikes that are not boundaries) at every offset around the block
// edges, at the end or not, must count as splitlines() and len() do.
TEST(PyStr, CountLinesMatchesSplitLines) {
  std::vector<std::string> marks = {"\n", "\r", "\r\n", "\n\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\x1b",
                                    "\t", "\xC2\x85", "\xC2\xA0", "\xE2\x80\xA8", "\xE2\x80\xA9", "\xE2\x80\x99",
                                    "\xE2\x80\xAA", "\xE3\x80\x80", "é", "😊"};
  std::vector<std::string_view> lines;
  for (const auto& m : marks) {
    for (size_t len = 0; len <= 70; len += (len < 40 ? 1 : 7)) {
      for (size_t at = 0; at <= len; ++at) {
        std::string filler(len, 'x');
        std::string s = filler.substr(0, at) + m + filler.substr(at);
        for (const std::string& t : {s, s + "\r", s + m + m}) {
          SplitLines(t, lines);
          LineAndCodePointCount c = CountLinesAndCodePoints(t);
          EXPECT_EQ(c.lines, lines.size()) << testing::PrintToString(t);
          EXPECT_EQ(c.code_points, utf8::CodePointCount(t)) << testing::PrintToString(t);
        }
      }
    }
  }
  EXPECT_EQ(CountLinesAndCodePoints("").lines, 0u);
}

// PyLowerTo lowercases 32 ASCII bytes at a time and the rest per character: a non-ASCII character at any
// offset around the block boundaries must not change the result.
TEST(PyStr, LowerBlocksAndCharacters) {
  const std::string ascii = "The QUICK brown Fox @[`{ JUMPS over THE lazy DOG 0123456789 AZaz";
  std::string want_ascii;
  for (char c : ascii) want_ascii += (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  for (size_t len = 0; len <= ascii.size(); ++len) {
    for (size_t at = 0; at <= len; ++at) {
      std::string in = ascii.substr(0, at) + "ÀÉ" + ascii.substr(at, len - at);
      std::string want = want_ascii.substr(0, at) + "àé" + want_ascii.substr(at, len - at);
      std::string out;
      PyLowerAppend(in, out);
      EXPECT_EQ(out, want) << len << " " << at;
    }
  }
}

TEST(Md5, KnownDigests) {
  EXPECT_EQ(Md5Hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(Md5Hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(Md5Hex("The quick brown fox jumps over the lazy dog"), "9e107d9d372bb6826bd81d3542a419d6");
  EXPECT_EQ(Md5Hex("你好，世界"), "dbefd3ada018615b35588a01e216ae6e");
  std::string big(1000000, 'a');
  EXPECT_EQ(Md5Hex(big), "7707d6ae4e027c70eea2a935c2296f21");
  // Streaming in uneven pieces gives the same digest.
  Md5 m;
  for (size_t at = 0, step = 1; at < big.size(); at += step, step = step * 3 % 257 + 1)
    m.Update(std::string_view(big).substr(at, step));
  uint8_t d[16], e[16];
  m.Final(d);
  Md5Digest(big, e);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(d), 16), std::string(reinterpret_cast<char*>(e), 16));
}

std::string Sub(std::string_view pattern, std::string_view repl, std::string_view text, uint32_t flags = kRegexDotAll) {
  Regex re = Regex::Python(pattern, flags);
  ReplTemplate t(repl, re);
  std::string out;
  if (re.ReplaceAll(text, t, out) == 0) return std::string(text);
  return out;
}

// True if f() throws a usage error (kUsage: what refuses a recipe at load).
template <class F>
bool ThrowsUsage(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.kind() == ErrorKind::kUsage;
  }
  return false;
}
// True if the pattern is refused when it is compiled.
bool Refused(std::string_view p, uint32_t flags = kRegexDotAll) {
  return ThrowsUsage([&] { Regex::Python(p, flags); });
}

TEST(Regex, ReplaceTemplates) {
  EXPECT_EQ(Sub(R"((\w+)@(\w+))", R"(\2 at \1)", "mail bob@example now"), "mail example at bob now");
  EXPECT_EQ(Sub(R"((\w+)@(\w+))", R"(\g<2>/\g<0>)", "bob@ex"), "ex/bob@ex");
  EXPECT_EQ(Sub(R"((?P<user>\w+)@)", R"(<\g<user>>)", "bob@ex"), "<bob>ex");
  EXPECT_EQ(Sub(R"((a)(b)?)", R"([\2|\1])", "ac"), "[|a]c");  // unmatched group -> ""
  EXPECT_EQ(Sub("a", R"(\n\t\\\x41\101\0)", "a"), std::string("\n\t\\AA") + '\0');
  EXPECT_EQ(Sub("a", R"(\-)", "a"), R"(\-)");  // other escapes stay
  EXPECT_EQ(Sub("x*", "-", "abxd"), "-a-b--d-");  // Python 3.7+ empty-match rules
  EXPECT_EQ(Sub("(?=x)|x", "-", "abxd"), "ab--d");
  EXPECT_EQ(Sub("b", "", "abc"), "ac");
  EXPECT_EQ(Sub("z", "", "abc"), "abc");
  EXPECT_EQ(Sub("é", "e", "café é"), "cafe e");
  EXPECT_EQ(Sub(".", "-", "a\nb"), "---");  // DOTALL
  EXPECT_EQ(Sub(".", "-", "a\nb", kRegexNone), "-\n-");
}

TEST(Regex, TemplateAndPatternErrors) {
  auto usage = [](auto&& f) { return ThrowsUsage(f); };
  EXPECT_TRUE(usage([] { Sub("a", R"(\q)", "a"); }));
  EXPECT_TRUE(usage([] { Sub("(a)", R"(\2)", "a"); }));
  EXPECT_TRUE(usage([] { Sub("(a)", R"(\g<name>)", "a"); }));
  EXPECT_TRUE(usage([] { Sub("a", "\\", "a"); }));
  EXPECT_TRUE(usage([] { Sub("(a", "", "a"); }));
  EXPECT_TRUE(usage([] { Sub("[a", "", "a"); }));
}

TEST(Regex, PythonDialect) {
  // \w includes combining marks (Python), \W excludes them; \s includes U+0085; \b uses Python's \w.
  EXPECT_EQ(Sub(R"(\w+)", "W", "cafe\xCC\x81 x"), "W W");
  EXPECT_EQ(Sub(R"(\W)", "_", "e\xCC\x81!"), "e\xCC\x81_");
  EXPECT_EQ(Sub(R"(\s)", "_", "a\u0085b\u1680c\x1c"), "a_b_c\x1c");
  EXPECT_EQ(Sub(R"(\S+)", "X", "ab\u0085cd"), "X\u0085X");
  EXPECT_EQ(Sub(R"(\bk)", "K", "a\xCC\x81k k"), "a\xCC\x81k K");
  EXPECT_EQ(Sub(R"(²)", "2", "x²"), "x2");
  EXPECT_EQ(Sub(R"(\w)", "W", "²‿ⓐ"), "²WW");  // No is not \w in Python; Pc and Other_Alphabetic are
  EXPECT_EQ(Sub(R"([\W\d]+)", "_", "ab12!?cd"), "ab_cd");
  EXPECT_EQ(Sub(R"([^\W\d]+)", "_", "ab12!?cd"), "_12!?_");
  EXPECT_EQ(Sub(R"([\W^]+)", "_", "a^b c"), "a_b_c");
  EXPECT_EQ(Sub(R"(a{,2})", "-", "aaa"), "---");  // {,n} means {0,n}: "aa", "a", then an empty match at the end
  EXPECT_EQ(Sub(R"(\Z)", "!", "a\n"), "a\n!");  // end of string only
  EXPECT_EQ(Sub(R"(\u00e9)", "e", "é"), "e");
  EXPECT_EQ(Sub(R"(\v)", "V", "a\x0b\n"), "aV\n");
  EXPECT_EQ(Sub(R"(\d+)", "D", "1٣３x"), "Dx");  // Unicode digits
}

TEST(Regex, StdlibReDialect) {
  // text_chunk_mapper's stdlib re: \w is str.isalnum() or '_' (No yes; marks, Pc, So no), \s is str.isspace()
  // (\x1c-\x1f too), \S inside a class complements that, '[' in a class is literal (no POSIX classes).
  const uint32_t re = kRegexDotAll | kRegexStdlibRe;
  EXPECT_EQ(Sub(R"(\w)", "W", "²‿ⓐ", re), "W‿ⓐ");
  EXPECT_EQ(Sub(R"(\w+)", "W", "cafe\xCC\x81 x", re), "W\xCC\x81 W");
  EXPECT_EQ(Sub(R"(\bx)", "X", "e\xCC\x81x x", re), "e\xCC\x81X X");
  EXPECT_EQ(Sub(R"(\s)", "_", "a\x1c" "b\u0085c\u180e", re), "a_b_c\u180e");
  EXPECT_EQ(Sub(R"([^\S\n]+)", "_", "a \x1f\nb", re), "a_\nb");
  EXPECT_EQ(Sub(R"([\S])", "X", " a\x1c", re), " X\x1c");
  EXPECT_EQ(Sub(R"([\W\S])", "_", "a b", re), "___");
  EXPECT_EQ(Sub(R"([^\W\S])", "_", "a b", re), "a b");  // no character is both a word character and a space
  EXPECT_EQ(Sub(R"([^\W\d]+)", "_", "ab12!?cd", re), "_12!?_");
  EXPECT_EQ(Sub(R"([[:alpha:]])", "_", "a] b", re), "_ b");
  // the same patterns in the regex module's dialect
  EXPECT_EQ(Sub(R"(\w)", "W", "²‿ⓐ"), "²WW");
  EXPECT_EQ(Sub(R"(\s)", "_", "a\x1c" "b"), "a\x1c" "b");
  auto usage = [&](const char* p) { return Refused(p, re); };
  EXPECT_TRUE(usage(R"(\p{L})"));  // re's "bad escape \p"
  EXPECT_TRUE(usage(R"([\A])"));
  EXPECT_TRUE(usage(R"(\h)"));
  EXPECT_EQ(Sub(R"(\N{DIGIT ONE}[\N{line feed}])", "_", "1\n1x", re), "_1x");  // re reads \N{...} too
  EXPECT_TRUE(usage(R"(\N)"));  // re: "missing {"
  EXPECT_TRUE(usage(R"(\N{DIGIT ONE)"));  // re: "missing }"
  EXPECT_TRUE(usage(R"((a)(?P=1))"));  // re: "bad character in group name"
}

TEST(Regex, RegexModuleEscapes) {
  // The regex module's own escapes: \m / \M start and end a word; \xHH takes exactly two hex digits.
  EXPECT_EQ(Sub(R"(\m\w)", "<", "ab cd"), "<b <d");
  EXPECT_EQ(Sub(R"(\w\M)", ">", "ab cd"), "a> c>");
  EXPECT_EQ(Sub(R"(\x41)", "_", "BAB"), "B_B");
  EXPECT_EQ(Sub(R"(\h)", "_", "a\tb c"), "a_b_c");
  // What the regex module refuses ("bad escape", "incomplete escape"), though PCRE2 would take it.
  for (const char* p : {R"(\Q)", R"(\e)", R"(\H)", R"(\V)", R"(\C)", R"(\E)", R"(\x4)", R"(\x{41})", R"([\m])", R"([\Z])", R"([\e])"})
    EXPECT_TRUE(Refused(p)) << p;
  for (const char* p : {R"(\h)", R"(\K)", R"(\G)", R"(\X)", R"([\h])", R"(\m)"}) EXPECT_FALSE(Refused(p)) << p;
}

TEST(Regex, RegexModuleReferencesNamesAndLiterals) {
  // \g<N> / \g<name> are backreferences in the regex module; PCRE2 would run them as subroutine calls, which
  // match any two word characters here. (?P=N) takes a number too.
  EXPECT_EQ(Sub(R"((\w)\g<1>)", "#", "ab aa cd cc"), "ab # cd #");
  EXPECT_EQ(Sub(R"((\w)\g<01>)", "#", "ab aa"), "ab #");
  EXPECT_EQ(Sub(R"((?P<x>\w)\g<x>)", "#", "ab aa cd cc"), "ab # cd #");
  EXPECT_EQ(Sub(R"((\w)(?P=1))", "#", "ab aa"), "ab #");
  // Without its <...>, \g is a literal g; \p and \P are letters unless a property follows; so is a bare \N.
  EXPECT_EQ(Sub(R"(a\g)", "#", "ag a\\g"), "# a\\g");
  EXPECT_EQ(Sub(R"((a)\g<1)", "#", "ag<1 aa"), "# aa");
  EXPECT_EQ(Sub(R"(\px|\P1)", "#", "px P1 ax"), "# # ax");
  EXPECT_EQ(Sub(R"(\p{)", "#", "p{L"), "#L");
  EXPECT_EQ(Sub(R"(\pl)", "#", "pl a"), "# a");  // l is no one-letter category: literal "pl"
  EXPECT_EQ(Sub(R"(\pL+)", "#", "ab1"), "#1");
  EXPECT_EQ(Sub(R"([\p\N])", "#", "pNa"), "##a");
  EXPECT_EQ(Sub(R"(\N{|\N)", "#", "N{ N"), "# #");
  // \N{NAME}: character names in any case, algorithmic names, and Python's name aliases.
  EXPECT_EQ(Sub(R"(\N{LATIN SMALL LETTER E WITH ACUTE})", "e", "caf\u00e9"), "cafe");
  EXPECT_EQ(Sub(R"(\N{digit one}\N{HANGUL SYLLABLE GA}\N{CJK UNIFIED IDEOGRAPH-4E00})", "#", "x1\uac00\u4e00"), "x#");
  EXPECT_EQ(Sub(R"([\N{LINE FEED}\N{ZWSP}\N{byte order mark}]+)", "_", "a\n\u200b\ufeffb"), "a_b");
  for (const char* p : {R"(\N{BOGUS})", R"(\N{})", R"(\N{DIGIT ONE })", R"(\N{EM})", R"((a)\g<2>)", R"(\g<x>)", R"([\g])"})
    EXPECT_TRUE(Refused(p)) << p;
}

// The cases below were found by the differential fuzz against Python (tests/ops/regex_oracle.py,
// ctest cli.regex_oracle_test); each expectation is what Python's regex module (2022.10.31) or re (3.11) gives.

TEST(Regex, MultilineCaretAfterAFinalNewline) {
  // Python's (?m)^ also matches after a newline that ends the text; PCRE2's only with PCRE2_ALT_CIRCUMFLEX.
  EXPECT_EQ(Sub("(?m)^", ">", "a\nb\n"), ">a\n>b\n>");
  EXPECT_EQ(Sub("(?m)$", "<", "a\n"), "a<\n<");
  EXPECT_EQ(Sub("(?m)^", ">", "a\n", kRegexDotAll | kRegexStdlibRe), ">a\n>");
}

TEST(Regex, InlineFlagsHoldForTheWholePattern) {
  // The regex module (V0): a flag group without ':' holds for the whole pattern wherever it stands.
  EXPECT_EQ(Sub("a(?i)b", "#", "ab aB AB Ab"), "# # # #");
  EXPECT_EQ(Sub("(a(?s).)", "#", "a\n", kRegexNone), "#");
  EXPECT_EQ(Sub("(?i)a(?-i:b)", "#", "Ab AB"), "# AB");
  // ... and may not turn a flag off; stdlib re takes them only at the start.
  EXPECT_TRUE(Refused("(?-i)a"));
  EXPECT_TRUE(Refused("(?i-s)a"));
  EXPECT_TRUE(Refused("a(?i)b", kRegexStdlibRe));
  EXPECT_TRUE(Refused("((?i)a)", kRegexStdlibRe));  // how text_chunk_mapper wraps a split_pattern "(?i)a"
  EXPECT_EQ(Sub("(?i)(?s)a.", "#", "A\n", kRegexNone | kRegexStdlibRe), "#");
}

TEST(Regex, VerboseModeAsPythonReadsIt) {
  // The regex module skips every str.isspace() character and #-comments, also inside escapes and quantifiers,
  // but not inside a set; stdlib re skips ASCII white space between items only.
  EXPECT_EQ(Sub("(?x)a b\u2003c # comment", "#", "abc a b c"), "# a b c");
  EXPECT_EQ(Sub("(?x)\\x 41", "#", "AB"), "#B");
  EXPECT_EQ(Sub("(?x)a+ ?", "#", "aaa"), "###");
  EXPECT_EQ(Sub("(?x)[ a]", "#", " ab"), "##b");
  EXPECT_EQ(Sub("(?x:a b) c", "#", "ab c"), "#");
  EXPECT_EQ(Sub("a(?x) b", "#", "ab a b"), "# a b");
  EXPECT_EQ(Sub("(?x)(?-x: a)", "#", " aa"), "#a");
  EXPECT_EQ(Sub("(?x)a\u2003b", "#", "a\u2003b ab", kRegexDotAll | kRegexStdlibRe), "# ab");
  EXPECT_TRUE(Refused("(?x)a+ ?", kRegexStdlibRe));  // re: "multiple repeat"
}

TEST(Regex, PosixClassesOfTheRegexModule) {
  EXPECT_EQ(Sub("[[:digit:]]", "#", "1\u0663"), "#\u0663");                 // ASCII digits only
  EXPECT_EQ(Sub("[[:alpha:]]", "#", "a\u0345\u2167_"), "###_");             // Alphabetic
  EXPECT_EQ(Sub("[[:alnum:]]", "#", "a1\u0663"), "##\u0663");
  EXPECT_EQ(Sub("[[:punct:]]", "#", "!\u00a2$\u24b6"), "###\u24b6");        // P and S, not Alphabetic
  EXPECT_EQ(Sub("[[:word:]]+", "#", "x\u200dy z"), "# #");                   // the regex module's \w
  EXPECT_EQ(Sub("[[:blank:]]", "#", "\t \u180e"), "##\u180e");
  EXPECT_EQ(Sub("[[:graph:]]", "#", "a \u200b\u0378"), "# #\u0378");
  EXPECT_EQ(Sub("[[:print:]]", "#", "a \n"), "##\n");
  EXPECT_EQ(Sub("[[:^alpha:]]", "#", "a1"), "a#");
  EXPECT_EQ(Sub("[[:Greek:]]", "#", "a\u03b1"), "a#");                      // any property name
  // stdlib re has no POSIX classes: '[' in a set is a character, and a set may start with ':'
  EXPECT_EQ(Sub("[[:punct:]]", "#", "[:p]", kRegexDotAll | kRegexStdlibRe), "[:#");
}

TEST(Regex, PropertiesAsTheRegexModuleReadsThem) {
  EXPECT_EQ(Sub(R"(\p{Han})", "#", "\u4e2d\u3002\u3001"), "#\u3002\u3001");  // Script, not Script_Extensions
  EXPECT_EQ(Sub(R"(\p{scx=Han})", "#", "\u4e2d\u3002"), "##");
  EXPECT_EQ(Sub(R"(\p{Common})", "#", "\u3002a1"), "#a#");
  EXPECT_EQ(Sub(R"(\p{L&})", "#", "a\u4e2d1"), "##1");                          // L&: every letter
  EXPECT_EQ(Sub(R"(\p{InBasicLatin})", "#", "a\u00e9"), "#\u00e9");             // blocks
  EXPECT_EQ(Sub(R"(\p{Block=Greek})", "#", "\u03b1\u1f00"), "#\u1f00");
  EXPECT_EQ(Sub(R"(\p{Jamo})", "#", "\u1100\uac00"), "#\uac00");              // a block, not ICU's script code
  EXPECT_EQ(Sub(R"(\p{IsGreek})", "#", "\u03b1a"), "#a");
  EXPECT_EQ(Sub(R"(\p{gc=Lu})", "#", "aA"), "a#");
  EXPECT_EQ(Sub(R"(\p{Assigned})", "#", "a\u0378"), "#\u0378");
  EXPECT_EQ(Sub(R"(\p{Word})", "#", "a\u200d "), "## ");
  EXPECT_EQ(Sub(R"(\p{Alphabetic=No})", "#", "a1"), "a#");
  EXPECT_EQ(Sub(R"(\p{Bidi_M})", "#", "(\u2201a"), "##a");                     // PCRE2 10.42 lacks U+2201
  EXPECT_EQ(Sub(R"(\p{Kawi})", "#", "\U00011f04a"), "#a");                     // a Unicode 15.0 script
  EXPECT_EQ(Sub(R"(\p{Hrkt})", "#", "\u30a2"), "\u30a2");                      // a script no character has
  EXPECT_EQ(Sub(R"(\p{H})", "#", "\t\u180e\u00a0"), "###");
  EXPECT_EQ(Sub(R"(\h)", "#", "\t\u180e\u00a0"), "#\u180e#");
  for (const char* p : {R"(\p{Xan})", R"(\p{Xwd})", R"(\p{Nope})", R"([[:nope:]])"}) EXPECT_TRUE(Refused(p)) << p;
}

TEST(Regex, CaseInsensitivePropertiesAndSets) {
  // A property on its own: Lu, Ll, Lt mean any cased letter, Uppercase and Lowercase mean Cased, the others
  // stay case-sensitive; as a member of a set with others, the characters whose other case is in it match.
  EXPECT_EQ(Sub(R"((?i)\p{Lu})", "#", "aA1"), "##1");
  EXPECT_EQ(Sub(R"((?i)\p{Lowercase})", "#", "aA1"), "##1");
  EXPECT_EQ(Sub(R"((?i)[[:upper:]])", "#", "\ufb01A^"), "##^");
  EXPECT_EQ(Sub(R"((?i)[[:upper:]^])", "#", "\ufb01A^"), "\ufb01##");
  EXPECT_EQ(Sub(R"((?i)\p{ASCII})", "#", "\u017f\u212ak"), "\u017f\u212a#");
  EXPECT_EQ(Sub(R"((?i)\p{InBasicLatin})", "#", "\u017fk"), "\u017f#");
  EXPECT_EQ(Sub(R"((?i)[\p{ASCII}\xe9])", "#", "\u017f\u212a\u00b5"), "##\u00b5");
}

TEST(Regex, DottedAndDotlessI) {
  // Under (?i) the regex module pairs i with U+0130 and I with U+0131 (PCRE2: i with I only); re makes the four
  // one class, and also pairs U+0390 / U+1FD3, U+03B0 / U+1FE3, U+FB05 / U+FB06.
  EXPECT_EQ(Sub("(?i)i", "#", "iI\u0130\u0131"), "###\u0131");
  EXPECT_EQ(Sub("(?i)I", "#", "iI\u0130\u0131"), "##\u0130#");
  EXPECT_EQ(Sub("(?i)\u0130", "#", "iI\u0130\u0131"), "#I#\u0131");
  EXPECT_EQ(Sub("(?i)[a-z]+", "#", "iI\u0130\u0131"), "#\u0131");
  EXPECT_EQ(Sub("(?i)[^i]", "#", "iI\u0130\u0131"), "iI\u0130#");
  const uint32_t re = kRegexDotAll | kRegexStdlibRe;
  EXPECT_EQ(Sub("(?i)i", "#", "iI\u0130\u0131", re), "####");
  EXPECT_EQ(Sub("(?i)\u0390", "#", "\u1fd3", re), "#");
  EXPECT_EQ(Sub("(?i)[\ufb05]", "#", "\ufb06", re), "#");
}

TEST(Regex, GraphemeClusters) {
  // \X by UAX #29 on Unicode 15.0 (PCRE2 10.42 keeps two adjacent emoji together).
  EXPECT_EQ(Sub(R"(\X)", "<\\g<0>>", "\U0001f600\U0001f44d\U0001f3fde\u0301\r\n\U0001f1fa\U0001f1f8"),
            "<\U0001f600><\U0001f44d\U0001f3fd><e\u0301><\r\n><\U0001f1fa\U0001f1f8>");
}

TEST(Regex, QuantifiersAsTheRegexModuleReadsThem) {
  EXPECT_EQ(Sub("^*a", "#", "a"), "#");  // a repeated anchor (PCRE2 refuses the quantifier)
  EXPECT_EQ(Sub(R"(\b+a)", "#", "a ba"), "# ba");
  EXPECT_EQ(Sub("(?=a)*a", "#", "a"), "#");
  EXPECT_EQ(Sub("(?:a|ab){1}+c", "#", "abc"), "#");  // {1} is dropped with its +: not atomic
  EXPECT_TRUE(Refused("^*", kRegexStdlibRe));        // re: "nothing to repeat"
  EXPECT_TRUE(Refused("a{e}"));                      // the regex module's fuzzy matching
  EXPECT_TRUE(Refused("a{ex}"));                     // its "expected }"
}

TEST(Regex, RefusedAsPythonRefusesThem) {
  // Python refuses these; PCRE2 would give each a meaning of its own.
  for (const char* p : {"(?C)a", "(*ACCEPT)a", "(*CR)a", "(*MARK:x)", R"(\R)", "(?'n'a)", "(?+1)(a)", R"([\8])",
                        R"(a\10)", R"((a\1))", "(a(?P=1))", R"(\k<n>)", "(?P>n)", R"(\L<x>)", "(?u)(?a)x"})
    EXPECT_TRUE(Refused(p)) << p;
  for (const char* p : {"(?P<n>a)(?P=n", R"((a)\2)", "(?<n>a)", R"([a-\w])", R"([\w-a])", "(?L)a", "(?au)a", "(?)a"})
    EXPECT_TRUE(Refused(p, kRegexStdlibRe)) << p;
  EXPECT_TRUE(Refused("(?<=a|bc)x", kRegexStdlibRe));  // re: look-behind of fixed width only
}

TEST(Regex, AcceptedAsPythonAcceptsThem) {
  EXPECT_EQ(Sub(R"(\g<0>)", "#", "g<0>"), "#");  // not a reference: the letter g
  EXPECT_EQ(Sub(R"((a)\g<-1>)", "#", "ag<-1>"), "#");
  EXPECT_EQ(Sub("(?P<\u00e9t\u00e9>a)\\g<\u00e9t\u00e9>", "<\\g<\u00e9t\u00e9>>", "aa"), "<a>");  // any identifier
  EXPECT_EQ(Sub(R"(\ud800|a)", "#", "ab"), "#b");  // a surrogate matches nothing in UTF-8 text
  EXPECT_EQ(Sub(R"([\ud800-\udfffa])", "#", "ab"), "#b");
  EXPECT_EQ(Sub(R"((?#a\)b)c)", "#", "c"), "#");  // a comment skips escaped characters
  EXPECT_EQ(Sub(R"(\2(a)(b))", "#", "ab"), "ab");  // a forward reference
  EXPECT_EQ(Sub(R"([\777]\400)", "#", "\u01ff\u0100"), "#");
  EXPECT_EQ(Sub("(?a:\\d\\w+)", "#", "1\u0663 1a\u00e9", kRegexDotAll | kRegexStdlibRe), "1\u0663 #\u00e9");  // re's ASCII flag
}

TEST(Regex, TemplatesOfTheRegexModule) {
  EXPECT_EQ(Sub("a", R"(\N{EM DASH}\N{latin small letter b})", "a"), "\u2014b");
  EXPECT_EQ(Sub("a", R"(\400\777\08)", "a"), std::string("\u0100\u01ff") + '\0' + "8");
  const Regex re = Regex::Python("(a)", kRegexDotAll);
  for (const char* t : {R"(\N{CJK UNIFIED IDEOGRAPH-4E00})", R"(\N)", R"(\N{BOGUS})", R"(\g<1)"})
    EXPECT_TRUE(ThrowsUsage([&] { ReplTemplate tt(t, re); })) << t;
}

TEST(Regex, SearchAfterAnEmptyMatch) {
  // After an empty match at p, Python's finditer and split take the leftmost match that is not that same empty
  // match: re.finditer(r"\v{,2}?A*", "\vA") gives (0,0), (0,2), (2,2); re.finditer("x*", "ax") (0,0), (1,2), (2,2).
  Regex re = Regex::Python(R"(\v{,2}?A*)", kRegexStdlibRe);
  size_t b = 0, e = 0;
  ASSERT_TRUE(re.Search("\x0b" "A", 0, &b, &e));
  EXPECT_EQ(b, 0u);
  EXPECT_EQ(e, 0u);  // lazy: the empty match first
  ASSERT_TRUE(re.Search("\x0b" "A", 0, &b, &e, /*not_empty_at_start=*/true));
  EXPECT_EQ(b, 0u);
  EXPECT_EQ(e, 2u);  // then "\vA" at the same position, as re.finditer gives it
  Regex x = Regex::Python("x*", kRegexStdlibRe);
  ASSERT_TRUE(x.Search("ax", 0, &b, &e, true));
  EXPECT_EQ(b, 1u);
  EXPECT_EQ(e, 2u);
}

TEST(Regex, RefusedByDesign) {
  // Python accepts these; PCRE2 cannot do them the same way (docs/compatibility.md, "Regular expressions").
  for (const char* p : {"(?<=a+)b", "(?a)x", "(?b)x", "(?w)x", "(?V1)x", "(?P<n>a)(?P<n>b)", R"((\r?\K){2})",
                        R"(\p{Other_Alphabetic})", R"((?<=a\K)b)", "(a|b(?1))", "((?1))", "(?R)?x", "(?P<n>a)(?&n)"})
    EXPECT_TRUE(Refused(p)) << p;
  EXPECT_TRUE(Refused("(?ai)a", kRegexStdlibRe));
}

TEST(Regex, RawStringWrapper) {
  EXPECT_EQ(StripRawStringWrapper("r'abc'"), "abc");
  EXPECT_EQ(StripRawStringWrapper("r\"a\\d\""), "a\\d");
  EXPECT_EQ(StripRawStringWrapper("r''"), "");
  EXPECT_EQ(StripRawStringWrapper("r'"), "r'");
  EXPECT_EQ(StripRawStringWrapper("r'abc\""), "r'abc\"");
  EXPECT_EQ(StripRawStringWrapper("abc"), "abc");
  EXPECT_EQ(StripRawStringWrapper("'abc'"), "'abc'");
}

TEST(NgramCounter, ExactCountsAcrossRecords) {
  // All ids hash alike: counts must still be exact (equality decides).
  std::vector<std::string> keys = {"a", "b", "a", "c", "a", "b", "d"};
  NgramCounter c;
  for (int record = 0; record < 3; ++record) {
    c.Reset(keys.size());
    for (size_t i = 0; i < keys.size(); ++i)
      c.Add(static_cast<uint32_t>(i), 42, [&](uint32_t x, uint32_t y) { return keys[x] == keys[y]; });
    EXPECT_EQ(c.distinct(), 4u);
    EXPECT_EQ(c.singles(), 2u);
    std::multiset<uint32_t> rep;
    c.ForEachRepeatedCount([&](uint32_t n) { rep.insert(n); });
    EXPECT_EQ(rep, (std::multiset<uint32_t>{3, 2}));
  }
  Ngram16Counter d;
  d.Reset(5);
  for (uint64_t k : {1, 2, 1, 1, 3}) d.Add(k, 7);
  EXPECT_EQ(d.distinct(), 3u);
  EXPECT_EQ(d.singles(), 2u);
}

TEST(NgramCounter, Ngram16CountsExactlyUnderHashCollisions) {
  // Keys built so that every one has the same Hash(a, b): they all probe the same slots, and only the
  // exact key comparison keeps their counts apart.
  const uint64_t kC = 0xC2B2AE3D27D4EB4Full;
  auto colliding = [&](uint64_t i) {
    uint64_t b = 1000 + i;  // b >> 29 is the same for all
    uint64_t a = 0x1234 ^ (1000 * kC) ^ (b * kC);
    return std::pair<uint64_t, uint64_t>{a, b};
  };
  for (uint64_t i = 0; i < 20; ++i)
    ASSERT_EQ(Ngram16Counter::Hash(colliding(i).first, colliding(i).second), Ngram16Counter::Hash(colliding(0).first, colliding(0).second));
  Ngram16Counter d;
  for (int record = 0; record < 3; ++record) {
    std::vector<uint64_t> ids = {0, 1, 0, 2, 3, 0, 1, 4, 5, 5, 5, 5, 6};
    d.Reset(ids.size());
    for (uint64_t i : ids) d.Add(colliding(i).first, colliding(i).second);
    EXPECT_EQ(d.distinct(), 7u);
    EXPECT_EQ(d.singles(), 4u);
    std::multiset<uint32_t> rep;
    d.ForEachRepeatedCount([&](uint32_t n) { rep.insert(n); });
    EXPECT_EQ(rep, (std::multiset<uint32_t>{3, 2, 4}));
  }
}

TEST(NgramCounter, RepeatPrefilterKeepsEveryRepeat) {
  // Hashes with repeats of several multiplicities (3+ catches saturation bugs) and many singletons.
  std::vector<uint64_t> h;
  for (uint64_t i = 0; i < 5000; ++i) h.push_back(i * 0x9E3779B97F4A7C15ull);
  for (int k = 0; k < 5; ++k) h.push_back(h[7]);
  h.push_back(h[100]);
  for (int k = 0; k < 3; ++k) h.push_back(h[4000]);
  RepeatPrefilter f;
  for (int round = 0; round < 2; ++round) {
    const std::vector<uint32_t>& c = f.Candidates(h.data(), h.size());
    std::set<uint32_t> cand(c.begin(), c.end());
    EXPECT_TRUE(std::is_sorted(c.begin(), c.end()));
    EXPECT_LE(c.size(), h.size());
    std::map<uint64_t, int> freq;
    for (uint64_t x : h) ++freq[x];
    for (size_t i = 0; i < h.size(); ++i)
      if (freq[h[i]] > 1) {
        EXPECT_TRUE(cand.count(static_cast<uint32_t>(i))) << i;
      }
    EXPECT_LT(c.size(), h.size() / 3);  // mostly singletons are set aside
  }
}

// The vector path counts 64 bytes per step: every length and alignment around the block edges, with
// 1- to 4-byte characters in every position, must agree with decoding one character at a time.
TEST(Utf8, CodePointCountMatchesDecoding) {
  const std::vector<std::string> chars = {"a", "\xc3\xa9", "\xe6\x95\xb0", "\xf0\x9f\x98\x80", "\n", "\x7f"};
  for (size_t len = 0; len < 300; ++len) {
    for (size_t variant = 0; variant < chars.size(); ++variant) {
      std::string t;
      size_t expected = 0;
      for (size_t k = 0; t.size() < len; ++k, ++expected) t += chars[(k * (variant + 1) + len) % chars.size()];
      size_t decoded = 0;
      for (size_t i = 0; i < t.size(); ++decoded) utf8::Next(t, i);
      ASSERT_EQ(decoded, expected);
      for (size_t off = 0; off < 4 && off <= t.size(); ++off) {
        std::string_view v(t.data() + off, t.size() - off);
        size_t want = 0;
        for (unsigned char c : v) want += (c & 0xC0) != 0x80;
        ASSERT_EQ(utf8::CodePointCount(v), want) << "len " << len << " variant " << variant << " offset " << off;
      }
      ASSERT_EQ(utf8::CodePointCount(t), expected) << "len " << len << " variant " << variant;
    }
  }
}

}  // namespace
}  // namespace sluice::text
