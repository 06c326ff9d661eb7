// clean_html_mapper and chinese_convert_mapper beyond the DataJuicer vectors: HTML5 text extraction
// rules, the no-markup fast path against the parser, OpenCC modes, data files and the masked 1.1.6 entries,
// and golden outputs on real text.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "core/error.h"
#include "op_harness.h"
#include "ops/text/html_text.h"

namespace sluice {

std::unique_ptr<Op> MakeChineseConvertMapperForTesting(const Params& p, std::string_view data_dir);

namespace {

using testing::MakeOp;
using testing::ParamList;
using testing::S;

std::string MapText(Op& op, std::string text, bool* changed = nullptr) {
  bool c = static_cast<Mapper&>(op).Map(text);
  if (changed) *changed = c;
  return text;
}


struct Case {
  std::string in, want;
};

TEST(MarkupCleanHtml, Html5TextRules) {
  const std::vector<Case> cases = {
      // Only <body> text counts: head content (title, style in head) is dropped, comments never count.
      {"<html><head><title>T</title><style>p{}</style></head><body>x<!-- c -->y</body></html>", "xy"},
      {"<title>T</title>body", "body"},
      // <script>/<style> inside body are text nodes of the body.
      {"<p>a<script>var x = 1 < 2;</script><style>b{}</style>c", "avar x = 1 < 2;b{}c"},
      // Entities: named (with and without ';' where HTML5 allows), numeric, hex, and a bare '&'.
      {"a&amp;b &lt;&gt; &copy 2&nbsp;x &#65;&#x42; & ;", "a&b <> \u00a9 2\u00a0x AB & ;"},
      // HTML5 preprocessing turns CR and CRLF into LF.
      {"<p>a\r\nb\rc</p>", "a\nb\nc"},
      // Leading whitespace before the first content is dropped, later whitespace (incl. after </html>) kept.
      {" \t\n\f<p> a </p> ", " a  "},
      {"<html><body>x</body></html>\n", "x\n"},
      // The newline right after <pre> is dropped by the parser.
      {"<pre>\nline</pre>", "line"},
      // List markers: only the exact lowercase tags are rewritten, then parsed.
      {"<ul><li>a</li><li>b</li></ul>", "\n*a\n*b"},
      {"<LI>a</LI><li class=x>b", "ab"},
      {"<ol><li>one</li></ol>", "*\n*one"},
      // The replacements run one after another: removing </li> can form </ol>, which the next step removes
      // (its '</' would otherwise be text-less markup anyway), and <li> formed late stays a tag.
      {"</</li>ol>x", "x"},
      {"<<li>li>x", "<\n*li>x"},
      // Not tags: '<' + non-letter stays text.
      {"a < b and 1<2 <3", "a < b and 1<2 <3"},
      {"<p>x</p><br>y<hr/>", "xy"},
      // Foreign content: CDATA text is kept.
      {"<svg><![CDATA[raw<]]></svg>", "raw<"},
      {"<table><tr><td>1</td><td>2</td></tr></table>tail", "12tail"},
      // Controls and noncharacters are kept (parse errors only), also private-use characters near them.
      {"<p>a\x01" "b\x0b" "c\x7f\u0085\u0092\ufdd0\uffff\U0010FFFE</p>",
       "a\x01" "b\x0b" "c\x7f\u0085\u0092\ufdd0\uffff\U0010FFFE"},
      {"<p>\U000F0041\U000F1000\U000F1000\U000F0001\x01</p>", "\U000F0041\U000F1000\U000F1000\U000F0001\x01"},
      // Numeric references to C1 controls map through windows-1252 (HTML5), others stay.
      {"&#x92;&#150;&#x81;", "\u2019\u2013\u0081"},
  };
  auto op = MakeOp("clean_html_mapper");
  for (const auto& c : cases) EXPECT_EQ(MapText(*op, c.in), c.want) << c.in;
}

TEST(MarkupCleanHtml, FramesetDocumentIsAnError) {
  auto op = MakeOp("clean_html_mapper");
  EXPECT_THROW(MapText(*op, "<html><frameset><frame src=a></frameset></html>"), Error);
  EXPECT_EQ(MapText(*op, "x<frameset>"), "x");  // content before it: the frameset is ignored
}

TEST(MarkupCleanHtml, ChangedFlag) {
  auto op = MakeOp("clean_html_mapper");
  bool changed = true;
  EXPECT_EQ(MapText(*op, "plain text", &changed), "plain text");
  EXPECT_FALSE(changed);
  EXPECT_EQ(MapText(*op, "<b>x</b>", &changed), "x");
  EXPECT_TRUE(changed);
  EXPECT_EQ(MapText(*op, "a &amp b", &changed), "a & b");
  EXPECT_TRUE(changed);
}

// The fast path (no '<', '&', CR, NUL: strip leading HTML whitespace) must agree with parsing.
TEST(MarkupCleanHtml, FastPathAgreesWithParser) {
  const std::vector<std::string> alphabet = {" ", "\t", "\n", "\f", "\v", "a", "Z", "=", "\"", ">", "/", "!",
                                             "\u00e9", "\u00a0", "\u3000", "\U0001F600", "\u200b", "\x01", "\x7f"};
  std::mt19937 rng(7);
  auto op = MakeOp("clean_html_mapper");
  html::BodyTextExtractor parser;
  std::string parsed;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string text;
    int len = static_cast<int>(rng() % 12);
    for (int k = 0; k < len; ++k) text += alphabet[rng() % alphabet.size()];
    ASSERT_TRUE(parser.BodyText(text, parsed));
    EXPECT_EQ(MapText(*op, text), parsed) << "input: " << ::testing::PrintToString(text);
  }
}

TEST(MarkupCleanHtml, ExtractorIsReusableAcrossLargeAndSmallDocuments) {
  html::BodyTextExtractor parser;
  std::string big, out;
  for (int i = 0; i < 20000; ++i) big += "<div><span>w" + std::to_string(i) + "</span></div>";
  ASSERT_TRUE(parser.BodyText(big, out));
  EXPECT_EQ(out.substr(0, 6), "w0w1w2");
  EXPECT_EQ(out.size(), big.size() - 20000 * std::string("<div><span></span></div>").size());
  ASSERT_TRUE(parser.BodyText("<p>small</p>", out));
  EXPECT_EQ(out, "small");
}

// A real HTML e-mail (SpamAssassin public corpus, spam-2/00618), pinned.
TEST(MarkupCleanHtml, GoldenSpamAssassinMail) {
  const std::string mail = R"(<HTML><HEAD><TITLE>Free Card Search</TITLE>
<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=iso-8859-1">
</HEAD><BODY BGCOLOR="#000000"><div align="center">
<a href="http://mbf.%61%66%66%69%6c%69%61%74%65%6e%65%74%74%2e%63%6f%6d/fcard/">
<IMG SRC="http://mbf.%61%66%66%69%6c%69%61%74%65%6e%65%74%74%2e%63%6f%6d/fcard/ad/new_fcard.jpg" WIDTH=523 HEIGHT=373 border="0"></a> 
</div><TABLE WIDTH=523 BORDER=0 CELLPADDING=0 CELLSPACING=0 align="center">
<TR><td colspan=7 align=left><br><font color="white" size="1" face="arial">
Sincerely,<BR><B>Your New Offers Staff</B><BR></FONT>
<FONT SIZE="-2"><A HREF="mailto:montage@btamail.net.cn?subject=Remove">Remove</A></FONT>
</td></tr></TABLE></BODY></HTML>
)";
  // The text of <head> is gone; the newline after <TABLE> stays a (whitespace) child of the table, the one
  // after </HTML> is appended to <body> (HTML5 "after after body" mode).
  const std::string want = "\n\n \n\n\nSincerely,Your New Offers Staff\nRemove\n\n";
  auto op = MakeOp("clean_html_mapper");
  EXPECT_EQ(MapText(*op, mail), want);
}

// ---------------------------------------------------------------------------------------------------------

TEST(MarkupChineseConvert, ModesAndParameters) {
  EXPECT_EQ(MapText(*MakeOp("chinese_convert_mapper"), "简体字"), "簡體字");  // default s2t
  for (const char* mode : {"s2t", "t2s", "s2tw", "tw2s", "s2hk", "hk2s", "s2twp", "tw2sp", "t2tw", "tw2t", "hk2t",
                           "t2hk", "t2jp", "jp2t"})
    EXPECT_NO_THROW(MakeOp("chinese_convert_mapper", {{"mode", S(mode)}})) << mode;
  for (const char* bad : {"S2T", "s2j", "", "s2t.json"}) {
    try {
      MakeOp("chinese_convert_mapper", {{"mode", S(bad)}});
      ADD_FAILURE() << "accepted mode " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUsage);
      EXPECT_NE(std::string(e.what()).find("s2twp"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(MakeOp("chinese_convert_mapper", {{"mode", ParamValue()}}), Error);
}

TEST(MarkupChineseConvert, MissingConfigurationFileIsNamed) {
  ParamList given = {{"mode", S("s2hk")}};
  Params p = Params::Resolve("chinese_convert_mapper", FullParamSpecs(*FindOp("chinese_convert_mapper")), given);
  try {
    MakeChineseConvertMapperForTesting(p, "/nonexistent/opencc");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/opencc/s2hk.json"), std::string::npos) << e.what();
  }
}

TEST(MarkupChineseConvert, TextOutsideTheDictionariesIsKept) {
  auto op = MakeOp("chinese_convert_mapper", {{"mode", S("s2t")}});
  bool changed = true;
  EXPECT_EQ(MapText(*op, "plain ASCII, 123 $#@", &changed), "plain ASCII, 123 $#@");
  EXPECT_FALSE(changed);
  EXPECT_EQ(MapText(*op, "", &changed), "");
  EXPECT_EQ(MapText(*op, "caf\u00e9 \U0001F600 \uff01", &changed), "caf\u00e9 \U0001F600 \uff01");
  EXPECT_FALSE(changed);
  EXPECT_EQ(MapText(*op, "汉字\nabc 汉字"), "漢字\nabc 漢字");
  // OpenCC reads its input as a C string: it stops at a NUL (DataJuicer calls the same library).
  EXPECT_EQ(MapText(*op, std::string("汉\0字", 7)), "漢");
}

// Only the space/newline-delimited pieces with non-ASCII text go through OpenCC; the result equals the
// whole-text conversion (expected values from Debian's `opencc` command on the whole text), including keys
// that mix ASCII and CJK (U盘 -> 隨身碟).
TEST(MarkupChineseConvert, PiecewiseEqualsWholeText) {
  const std::string in = "SQL注入 and U盘 with 鼠标, e.g. 软件。\n汉字 abc 信息 A型";
  EXPECT_EQ(MapText(*MakeOp("chinese_convert_mapper", {{"mode", S("s2twp")}}), in),
            "SQL注入 and 隨身碟 with 滑鼠, e.g. 軟體。\n漢字 abc 資訊 A型");
  EXPECT_EQ(MapText(*MakeOp("chinese_convert_mapper", {{"mode", S("s2t")}}), in),
            "SQL注入 and U盤 with 鼠標, e.g. 軟件。\n漢字 abc 信息 A型");
}

// Debian's OpenCC 1.1.6 maps 信息安全 <-> 資訊保安 in its Taiwan phrase tables; 1.1.9 (DataJuicer's) does
// not. The entries are hidden, so the shorter phrases apply.
TEST(MarkupChineseConvert, StaleTaiwanPhrasesAreHidden) {
  EXPECT_EQ(MapText(*MakeOp("chinese_convert_mapper", {{"mode", S("s2twp")}}), "信息安全"), "資訊安全");
  EXPECT_EQ(MapText(*MakeOp("chinese_convert_mapper", {{"mode", S("s2twp")}}), "信息安全局"), "資訊安全域性");
  EXPECT_EQ(MapText(*MakeOp("chinese_convert_mapper", {{"mode", S("tw2sp")}}), "資訊保安"), "信息保安");
  // Other phrases of the same tables are untouched.
  EXPECT_EQ(MapText(*MakeOp("chinese_convert_mapper", {{"mode", S("s2twp")}}), "信息"), "資訊");
  EXPECT_EQ(MapText(*MakeOp("chinese_convert_mapper", {{"mode", S("tw2sp")}}), "資訊"), "信息");
}

TEST(MarkupChineseConvert, SharedConverterAcrossThreads) {
  const std::string in = "我们的软件工程师在网络上发布了一个新的应用程序，用户可以通过鼠标和键盘操作。";
  const std::string want = "我們的軟體工程師在網路上釋出了一個新的應用程式，使用者可以透過滑鼠和鍵盤操作。";
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      auto op = MakeOp("chinese_convert_mapper", {{"mode", S("s2twp")}});
      for (int i = 0; i < 200; ++i)
        if (MapText(*op, in) != want) ++bad;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
}

// Real text: the opening of 桃花源記 (Tao Yuanming), pinned in both directions of the main modes.
TEST(MarkupChineseConvert, GoldenClassicalProse) {
  const std::string simplified =
      "晋太元中，武陵人捕鱼为业。缘溪行，忘路之远近。忽逢桃花林，夹岸数百步，中无杂树，芳草鲜美，落英缤纷。"
      "渔人甚异之，复前行，欲穷其林。";
  const std::string traditional =
      "晉太元中，武陵人捕魚爲業。緣溪行，忘路之遠近。忽逢桃花林，夾岸數百步，中無雜樹，芳草鮮美，落英繽紛。"
      "漁人甚異之，復前行，欲窮其林。";
  EXPECT_EQ(MapText(*MakeOp("chinese_convert_mapper", {{"mode", S("s2t")}}), simplified), traditional);
  EXPECT_EQ(MapText(*MakeOp("chinese_convert_mapper", {{"mode", S("t2s")}}), traditional), simplified);
  EXPECT_EQ(MapText(*MakeOp("chinese_convert_mapper", {{"mode", S("tw2sp")}}),
                    "我們的軟體工程師在網路上發布了一個新的應用程式，使用者可以透過滑鼠和鍵盤操作。"),
            "我们的软件工程师在网络上发布了一个新的应用程序，用户可以通过鼠标和键盘操作。");
}

}  // namespace
}  // namespace sluice
