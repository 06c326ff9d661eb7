// fix_unicode_mapper / native ftfy (src/ops/text/ftfy.h): one table per fix step, the whole fix_text on
// ftfy's documented examples, the segment rules, parameters, and a golden test on real text.
//
// Expected values are ftfy 6.3.1's behaviour: its documented examples, and outputs cross-checked against
// a Python model of fix_text built on Python's re / codecs / html / unicodedata (see the op's report).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "op_harness.h"
#include "ops/text/ftfy.h"
#include "ops/text/ftfy_tables.h"
#include "core/utf8.h"

namespace sluice {
namespace {

using ftfy::Fixer;
using ftfy::Normalization;

struct Case {
  std::string in, want;
};

template <typename Step>
void CheckStep(const char* name, const std::vector<Case>& cases, Step step) {
  for (const Case& c : cases) {
    std::string s = c.in;
    bool changed = step(s);
    EXPECT_EQ(s, c.want) << name << " of \"" << c.in << "\"";
    EXPECT_EQ(changed, c.in != c.want) << name << " of \"" << c.in << "\"";
  }
}

std::string FixText(std::string s, Normalization n = Normalization::kNFC) {
  Fixer f(n);
  f.FixText(s);
  return s;
}

TEST(FtfyStep, UnescapeHtml) {
  std::string tmp;
  CheckStep("unescape_html",
            {
                {"&lt;tag&gt;", "<tag>"},
                {"&Jscr;ohn &HilbertSpace;ancock", "𝒥ohn ℋancock"},
                {"P&eacute;rez P&EACUTE;REZ", "Pérez PÉREZ"},
                {"BUNDESSTRA&SZLIG;E", "BUNDESSTRASSE"},               // upper-cased value of ß
                {"&ntilde; &Ntilde; &NTILDE; &nTILDE;", "ñ Ñ Ñ &nTILDE;"},  // mixed case is not an entity
                {"this&not that &amp &AMP;", "this&not that &amp &"},  // needs the ';'
                {"&#x2019; &#8217; &#X41;", "’ ’ A"},
                {"&#128; &#x92; &#0; &#1; &#xD800; &#99999999;", "€ ’ \xEF\xBF\xBD  \xEF\xBF\xBD \xEF\xBF\xBD"},
                {"&#59; &#x; &#12ab; &#xZZ; &bogus;", "&#59; &#x; &#12ab; &#xZZ; &bogus;"},
                {"&amp;lt;", "&lt;"},  // one pass; fix_text's rounds go on to "<"
                {"&aaaaaaaaaaaaaaaaaaaaaaaaa;", "&aaaaaaaaaaaaaaaaaaaaaaaaa;"},  // 25 characters: not a token
                {"no entities", "no entities"},
            },
            [&](std::string& s) { return ftfy::UnescapeHtml(s, tmp); });
}

TEST(FtfyStep, FixEncoding) {
  std::u32string tmp;
  CheckStep("fix_encoding",
            {
                {"sÃ³", "só"},
                {"Ãºnico", "único"},
                {"âœ” No problems", "✔ No problems"},
                {"This â€” should be an em dash", "This — should be an em dash"},
                {"voilÃ le travail", "voilà le travail"},  // restore_byte_a0 keeps the space after "à"
                {"Ã la mode", "à la mode"},
                {"fÃ cil", "fà cil"},
                {"This text is sad .â\xC2\x81”.", "This text is sad .⁔."},
                {"Ã\u00a0Â²Â\u00a0_Ã\u00a0Â²Â\u00a0", "ಠ_ಠ"},  // two layers
                {"The Mona Lisa doesnÃƒÂ¢Ã¢â€šÂ¬Ã¢â€žÂ¢t have eyebrows.", "The Mona Lisa doesn’t have eyebrows."},
                {"â€œ like this â€�", "“ like this �"},  // lossy: U+FFFD stood for a byte
                {"This text was never UTF-8 at all\xC2\x85", "This text was never UTF-8 at all…"},
                {"uÌˆnicode", "u\u0308nicode"},  // composed later, by normalization
                {"Ð¿Ñ€Ð¸Ð²ÐµÑ‚", "привет"},  // UTF-8 read as windows-1252
                {"РїСЂРёРІРµС‚", "привет"},  // UTF-8 read as windows-1251
                {"schÃ¶n and “clean” text", "schön and “clean” text"},
                {"This text is fine already :þ", "This text is fine already :þ"},
                {"not such a fan of Charlotte Brontë…”", "not such a fan of Charlotte Brontë…”"},
                {"AHÅ™, the new sofa from IKEA®", "AHÅ™, the new sofa from IKEA®"},
                {"Ελληνικά, русский, 中文, 😀", "Ελληνικά, русский, 中文, 😀"},
                {"plain ASCII", "plain ASCII"},
            },
            [&](std::string& s) { return ftfy::FixEncoding(s, tmp); });
}

TEST(FtfyStep, IsBad) {
  EXPECT_TRUE(ftfy::IsBad("âœ”"));
  EXPECT_TRUE(ftfy::IsBad("\xC2\x81"));   // any C1 control
  EXPECT_TRUE(ftfy::IsBad("Ã la"));       // at the start, before a space
  EXPECT_TRUE(ftfy::IsBad("a Ã€ b"));
  EXPECT_FALSE(ftfy::IsBad("café crème"));
  EXPECT_FALSE(ftfy::IsBad("“quoted” — ok"));
  EXPECT_TRUE(ftfy::IsBad("x Ã y"));       // "Ã " after a lower-case letter (and a space)
  EXPECT_FALSE(ftfy::IsBad("1 Ã y"));
  EXPECT_FALSE(ftfy::IsBad("中文"));
}

TEST(FtfyStep, FixCharacters) {
  std::string tmp;
  CheckStep("c1/ligatures/width/quotes/line breaks",
            {
                {"\xC2\x80 \xC2\x92 \xC2\x81", "€ ' \xC2\x81"},  // C1 as windows-1252 (then uncurled); 0x81 has none
                {"ﬂuﬃeﬆ ﬁ ﬅ Ĳ ǅ", "fluffiest fi ſt IJ Dž"},
                {"ŉ", "'n"},  // ligature, then its U+02BC is uncurled
                {"ＬＯＵＤ　ＮＯＩＳＥＳ", "LOUD NOISES"},
                {"Ｕﾀｰﾝ", "Uターン"},
                {"，！？：；（）", ",!?:;()"},
                {"“here’s a test” ‘‛‟„ ʼ", "\"here's a test\" ''\"\" '"},
                {"a\r\nb\rc\u2028d\u2029e\r", "a\nb\nc\nd\ne\n"},
                {"« guillemets » stay", "« guillemets » stay"},
            },
            [&](std::string& s) { return ftfy::FixCharacters(s, tmp); });
}

TEST(FtfyStep, RemoveControls) {
  std::string tmp;
  CheckStep("terminal escapes / control characters",
            {
                {"\x1b[36;44mI'm blue\x1b[0m", "I'm blue"},
                {"\x1b[ not an escape \x1b", "[ not an escape "},
                {std::string("a\0b\x07" "c\x0b" "d\x7f" "e\x1f" "f", 12), "abcdef"},
                {"\ufeffa\u206ab\ufff9c\ufffcd", "abcd"},
                {"tab\tlf\nff\fcr\r", "tab\tlf\nff\fcr\r"},
                {"zero\u200bwidth \u200e marks \U000E0041 tags", "zero\u200bwidth \u200e marks \U000E0041 tags"},
            },
            [&](std::string& s) { return ftfy::RemoveControls(s, tmp); });
}

TEST(FtfyStep, Normalization) {
  EXPECT_EQ(FixText("e\u0301"), "é");
  EXPECT_EQ(FixText("é", Normalization::kNFD), "e\u0301");
  EXPECT_EQ(FixText("x² ℌ", Normalization::kNFKC), "x2 H");
  EXPECT_EQ(FixText("x² ℌ"), "x² ℌ");
  EXPECT_EQ(FixText("ǅ", Normalization::kNFKD), "Dz\u030c");
}

TEST(FtfyFixText, DocumentedExamples) {
  const std::vector<Case> cases = {
      {"âœ” No problems", "✔ No problems"},
      {"&macr;\\_(ã\xC2\x83\xC2\x84)_/&macr;", "¯\\_(ツ)_/¯"},
      {"Broken text&hellip; it&#x2019;s ﬂubberiﬁc!", "Broken text… it's flubberific!"},
      {"ＬＯＵＤ　ＮＯＩＳＥＳ", "LOUD NOISES"},
      {"HTML entities &lt;3", "HTML entities <3"},
      {"<em>HTML entities &lt;3</em>", "<em>HTML entities &lt;3</em>"},
      {"\x01\x1b[36;44mI&#x92;m blue, da ba dee da ba doo&#133;\x1b[0m", "I'm blue, da ba dee da ba doo…"},
      {"\ufeffParty like\nit&rsquo;s 1999!", "Party like\nit's 1999!"},
      {"&amp;lt;", "<"},  // rounds repeat until nothing changes
      {"â€œ like this â€�", "\" like this �"},
      {"The Mona Lisa doesnÃƒÂ¢Ã¢â€šÂ¬Ã¢â€žÂ¢t have eyebrows.", "The Mona Lisa doesn't have eyebrows."},
      {"No problems", "No problems"},
      {"阿里巴巴", "阿里巴巴"},
      {"", ""},
  };
  for (const Case& c : cases) EXPECT_EQ(FixText(c.in), c.want) << c.in;
}

TEST(FtfyFixText, SegmentsAndUnescapeSwitch) {
  // HTML unescaping stops at the first line containing '<' and stays off for the rest of the text.
  EXPECT_EQ(FixText("a &amp; b\n<p> &amp;\n&amp; c"), "a & b\n<p> &amp;\n&amp; c");
  // Each line is fixed on its own: mojibake on one line does not decide another's encoding.
  EXPECT_EQ(FixText("sÃ³\nAHÅ™ IKEA®\n"), "só\nAHÅ™ IKEA®\n");
  // A '\r' line break inside one segment stays in that segment's rounds.
  EXPECT_EQ(FixText("sÃ³\rbien\r\n"), "só\nbien\n");
}

TEST(FtfyFixText, ReportsChangeAndLeavesCleanTextAlone) {
  Fixer f(Normalization::kNFC);
  std::string clean = "Plain ASCII text, with newlines\nand tabs\tand form feeds\f. Ampersands & co; 中文 naïve";
  std::string copy = clean;
  EXPECT_FALSE(f.FixText(copy));
  EXPECT_EQ(copy, clean);
  std::string dirty = "curly ’quote’";
  EXPECT_TRUE(f.FixText(dirty));
  EXPECT_EQ(dirty, "curly 'quote'");
}

TEST(FixUnicodeMapper, Parameters) {
  for (const char* n : {"NFC", "nfkc", "NFD", "nfkd", ""}) {
    auto op = testing::MakeOp("fix_unicode_mapper", {{"normalization", ParamValue::String(n)}});
    std::string text = "ﬁ e\u0301";
    EXPECT_TRUE(static_cast<Mapper&>(*op).Map(text)) << n;
  }
  auto op = testing::MakeOp("fix_unicode_mapper");
  std::string text = "Ｘ²";
  static_cast<Mapper&>(*op).Map(text);
  EXPECT_EQ(text, "X²");  // default NFC keeps the superscript
  try {
    testing::MakeOp("fix_unicode_mapper", {{"normalization", ParamValue::String("NFX")}});
    FAIL() << "invalid normalization accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage);
  }
}

// FNV-1a, to pin long outputs.
uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// Golden test on real text: the seed documents of ../shared/seeds as they are, and garbled as UTF-8 read
// with (sloppy) windows-1252. Hashes pinned from this implementation and checked against the Python model.
TEST(FtfyGolden, SeedDocuments) {
  const std::string dir = std::string(SLUICE_SHARED_DIR) + "/seeds";
  if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << dir << " not found";
  struct Golden {
    const char* file;
    uint64_t fixed, fixed_mojibake;
  };
  const Golden golden[] = {
      {"000_3745a414c4301d54.txt", 0x14d990dabd909735ull, 0x14d990dabd909735ull},
      {"001_52dbaf6f81e6e114.txt", 0x42eb0cbcc2676ff6ull, 0x42eb0cbcc2676ff6ull},
      {"002_9440e94c8b9ca581.txt", 0xcc64f0c4d6468bc2ull, 0x6130e54c695dc660ull},
      {"003_f0fee1d4bec4bb14.txt", 0x7f63b36fec7b2bb8ull, 0x7f63b36fec7b2bb8ull},
      {"004_315147a9e2ac19ee.txt", 0xb139d2167187f957ull, 0xb139d2167187f957ull},
  };
  Fixer f(Normalization::kNFC);
  for (const Golden& g : golden) {
    std::ifstream in(dir + "/" + g.file, std::ios::binary);
    ASSERT_TRUE(in.good()) << g.file;
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str(), garbled;
    for (unsigned char b : text) utf8::Append(garbled, ftfy::tables::kCharmapDecode[1][b]);
    f.FixText(text);
    f.FixText(garbled);
    EXPECT_EQ(Fnv1a(text), g.fixed) << g.file;
    EXPECT_EQ(Fnv1a(garbled), g.fixed_mojibake) << g.file;
  }
}

}  // namespace
}  // namespace sluice
