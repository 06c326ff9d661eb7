// Op cases beyond the DataJuicer vectors: range semantics (§1.4), stats caching (§1.3), parameter
// validation, tokenization rejection, edge inputs, and pathological inputs for the regex mappers.
#include <gtest/gtest.h>

#include <chrono>

#include "core/error.h"
#include "core/json_writer.h"
#include "op_harness.h"

namespace sluice {
namespace {

using testing::Dataset;
using testing::MakeOp;
using testing::ParamList;
using testing::B;
using testing::D;
using testing::I;
using testing::S;

std::string Json(std::string_view text) {
  std::string j = "{\"text\":";
  AppendJsonString(j, text);
  j += "}";
  return j;
}

// Texts that survive `op` run over `texts` as one dataset.
std::vector<std::string> Survivors(const std::string& op_name, const ParamList& params, const std::vector<std::string>& texts) {
  auto op = MakeOp(op_name, params);
  Dataset ds;
  for (const auto& t : texts) EXPECT_EQ(ds.Add(Json(t)), ParseStatus::kOk);
  ds.Run(*op);
  std::vector<std::string> out;
  for (size_t i = 0; i < ds.size(); ++i) out.push_back(ds[i].text(0));
  return out;
}

std::string MapText(const std::string& op_name, const ParamList& params, std::string text, bool* changed = nullptr) {
  auto op = MakeOp(op_name, params);
  bool c = static_cast<Mapper&>(*op).Map(text);
  if (changed) *changed = c;
  return text;
}


ErrorKind KindOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.kind();
  }
  return ErrorKind::kInternal;  // "no error"
}

TEST(Ranges, ClosedOpenReversedAndNullBounds) {
  std::vector<std::string> t = {"12345", "1234567", "1234567890"};  // lengths 5, 7, 10
  EXPECT_EQ(Survivors("text_length_filter", {{"min_len", I(5)}, {"max_len", I(10)}}, t), t);
  EXPECT_EQ(Survivors("text_length_filter", {{"min_len", I(5)}, {"max_len", I(10)}, {"min_closed_interval", B(false)}}, t),
            (std::vector<std::string>{"1234567", "1234567890"}));
  EXPECT_EQ(Survivors("text_length_filter", {{"min_len", I(5)}, {"max_len", I(10)}, {"max_closed_interval", B(false)}}, t),
            (std::vector<std::string>{"12345", "1234567"}));
  // reversed_range flips closedness, then negates: keeps v <= 5 or v >= 10 here.
  EXPECT_EQ(Survivors("text_length_filter", {{"min_len", I(5)}, {"max_len", I(10)}, {"reversed_range", B(true)}}, t),
            (std::vector<std::string>{"12345", "1234567890"}));
  EXPECT_EQ(Survivors("text_length_filter", {{"min_len", I(6)}, {"max_len", I(9)}, {"reversed_range", B(true)}}, t),
            (std::vector<std::string>{"12345", "1234567890"}));
  // A null bound is no bound; the default upper bound is sys.maxsize.
  EXPECT_EQ(Survivors("text_length_filter", {{"min_len", ParamValue()}, {"max_len", I(7)}}, t),
            (std::vector<std::string>{"12345", "1234567"}));
  EXPECT_EQ(Survivors("words_num_filter", {{"min_num", I(1)}}, {"a", "", "!!"}), std::vector<std::string>{"a"});
}

TEST(Ranges, Defaults) {
  // alphanumeric_filter default [0.25, sys.maxsize]; words_num_filter default [10, sys.maxsize].
  EXPECT_EQ(Survivors("alphanumeric_filter", {}, {"ab!!!!!!!", "ab!!!!!!", ""}), std::vector<std::string>{"ab!!!!!!"});
  EXPECT_EQ(Survivors("words_num_filter", {}, {"a b c d e f g h i", "a b c d e f g h i j"}),
            std::vector<std::string>{"a b c d e f g h i j"});
  EXPECT_EQ(Survivors("average_line_length_filter", {}, {"123456789", "1234567890", ""}),
            std::vector<std::string>{"1234567890"});
}

TEST(TextLength, CountsEscapedTextWithoutDecodingIt) {
  // text_len is counted on the input bytes while no op has read the text, and must equal Python's len of
  // the decoded text: "a\nb" 3, "\u00e9" 1, a surrogate pair 1, "\\" 1, raw multi-byte UTF-8 one each.
  auto op = MakeOp("text_length_filter", {{"min_len", I(0)}});
  Dataset ds;
  ds.Add(R"({"text":"a\nb"})");
  ds.Add(R"({"text":"\u00e9\ud83d\ude00\\x"})");
  ds.Add("{\"text\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\\t\"}");
  ds.Add(R"({"text":""})");
  ds.Run(*op);
  ASSERT_EQ(ds.size(), 4u);
  EXPECT_EQ(ds.Json(0), R"({"text":"a\nb","__dj__stats__":{"text_len":3}})");
  EXPECT_EQ(ds.Json(1), R"({"text":"\u00e9\ud83d\ude00\\x","__dj__stats__":{"text_len":4}})");
  EXPECT_EQ(ds.Json(2), "{\"text\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\\t\",\"__dj__stats__\":{\"text_len\":7}}");
  EXPECT_EQ(ds.Json(3), R"({"text":"","__dj__stats__":{"text_len":0}})");
  // After a mapper has decoded (and here rewritten) the text, the count is of the new text.
  auto lower = MakeOp("whitespace_normalization_mapper", {});
  Dataset ds2;
  ds2.Add(R"({"text":"  x\u3000y  "})");
  ds2.Run(*lower);
  ds2.Run(*op);
  EXPECT_EQ(ds2.Json(0), R"({"text":"x y","__dj__stats__":{"text_len":3}})");
}

TEST(StatsCaching, ExistingStatIsNeverRecomputed) {
  // The cached text_len (3) decides, not the real length; the stats member stays byte-identical.
  auto op = MakeOp("text_length_filter", {{"min_len", I(10)}});
  Dataset ds;
  ds.Add(R"({"text":"a long enough text","__dj__stats__":{"text_len":3}})");
  ds.Add(R"({"text":"short","__dj__stats__":{"text_len":50}})");
  ds.Add(R"({"text":"another long text","__dj__stats__":{"other":1}})");
  ds.Run(*op);
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_EQ(ds.Json(0), R"({"text":"short","__dj__stats__":{"text_len":50}})");
  EXPECT_EQ(ds.Json(1), R"({"text":"another long text","__dj__stats__":{"other":1,"text_len":17}})");
}

TEST(StatsCaching, SameKeySharedAcrossInstances) {
  // Two character_repetition_filter instances with different rep_len share char_rep_ratio (§1.3).
  auto first = MakeOp("character_repetition_filter", {{"rep_len", I(1)}});
  auto second = MakeOp("character_repetition_filter", {{"rep_len", I(3)}, {"max_ratio", D(1.0)}});
  Dataset ds;
  ds.Add(Json("aaaa bbbb"));
  ds.Run(*first, true);
  std::string after_first = ds.Json(0);
  ds.Run(*second, true);
  EXPECT_EQ(ds.Json(0), after_first);
  // Every filter of this family honours the cache, even with a cached value it would never compute.
  for (const char* name : {"alphanumeric_filter", "average_line_length_filter", "maximum_line_length_filter",
                           "words_num_filter", "word_repetition_filter", "character_repetition_filter",
                           "text_length_filter"}) {
    auto op = MakeOp(name);
    Dataset d2;
    d2.Add(R"({"text":"x","__dj__stats__":{"alnum_ratio":-1,"avg_line_length":-1,"max_line_length":-1,"num_words":-1,"word_rep_ratio":-1,"char_rep_ratio":-1,"text_len":-1}})");
    d2.Run(*op, true);
    EXPECT_FALSE(d2[0].stats_changed) << name;
  }
}

TEST(StatsCaching, NonNumericCachedStatIsAnError) {
  auto op = MakeOp("text_length_filter");
  Dataset ds;
  ds.Add(R"({"text":"abc","__dj__stats__":{"text_len":"3"}})");
  EXPECT_EQ(KindOf([&] { ds.Run(*op); }), ErrorKind::kInput);
}

TEST(Stats, ComputedValues) {
  auto stats = [](const std::string& op, const ParamList& p, const std::string& text) {
    auto o = MakeOp(op, p);
    Dataset ds;
    ds.Add(Json(text));
    ds.Run(*o, true);
    return ds.Json(0);
  };
  EXPECT_EQ(stats("average_line_length_filter", {}, "a=1\nb\nc=1+2+3+5\nd=6"),
            R"({"text":"a=1\nb\nc=1+2+3+5\nd=6","__dj__stats__":{"avg_line_length":4.75}})");
  EXPECT_EQ(stats("average_line_length_filter", {}, ""), R"({"text":"","__dj__stats__":{"avg_line_length":0.0}})");
  EXPECT_EQ(stats("maximum_line_length_filter", {}, "ab\r\ncde\u2028f"),
            "{\"text\":\"ab\\r\\ncde\u2028f\",\"__dj__stats__\":{\"max_line_length\":3}}");
  EXPECT_EQ(stats("alphanumeric_filter", {}, "①²Ⅷ１!"), R"({"text":"①²Ⅷ１!","__dj__stats__":{"alnum_ratio":0.8}})");
  EXPECT_EQ(stats("words_num_filter", {}, "a ... 一 b\tc\nd\re"),
            R"({"text":"a ... 一 b\tc\nd\re","__dj__stats__":{"num_words":4}})");
  // Words a b a b a b a b c: 8 word 2-grams, "a b" x4, "b a" x3, "b c" x1 -> 7/8.
  EXPECT_EQ(stats("word_repetition_filter", {{"rep_len", I(2)}}, "A b, a B a b. a b c"),
            R"({"text":"A b, a B a b. a b c","__dj__stats__":{"word_rep_ratio":0.875}})");
  EXPECT_EQ(stats("word_repetition_filter", {{"rep_len", I(5)}}, "only four words here"),
            R"({"text":"only four words here","__dj__stats__":{"word_rep_ratio":0.0}})");
  // "aaaa": 2-grams aa x3 -> U=1, k=min(1, 1)=1 -> 3/3.
  EXPECT_EQ(stats("character_repetition_filter", {{"rep_len", I(2)}}, "aaaa"),
            R"({"text":"aaaa","__dj__stats__":{"char_rep_ratio":1.0}})");
  // "abab c": 2-grams ab x2, ba, b_, _c -> U=4, S=3, k=min(2,1)=1 -> 2/5; the same on CJK code points.
  EXPECT_EQ(stats("character_repetition_filter", {{"rep_len", I(2)}}, "abab c"),
            R"({"text":"abab c","__dj__stats__":{"char_rep_ratio":0.4}})");
  EXPECT_EQ(stats("character_repetition_filter", {{"rep_len", I(2)}}, "中文中文 字"),
            R"({"text":"中文中文 字","__dj__stats__":{"char_rep_ratio":0.4}})");
  EXPECT_EQ(stats("character_repetition_filter", {}, "short"), R"({"text":"short","__dj__stats__":{"char_rep_ratio":0.0}})");
}

TEST(Stats, CharacterRepetitionPathsAgree) {
  // ASCII texts use exact 16-byte keys, mixed texts split ASCII and non-ASCII n-grams, long n-grams hash:
  // the same text with one non-ASCII character appended (which adds exactly n fresh n-grams only when it
  // is really new) must be consistent with a direct count.
  std::string base;
  for (int i = 0; i < 300; ++i) base += "the cat sat on the mat " + std::to_string(i % 7) + ' ';
  for (int n : {1, 3, 7, 8, 10, 16, 17, 25}) {
    for (const std::string& text : {base, base + "é", "é" + base}) {
      // Reference: count with std::map on code-point n-grams.
      std::vector<std::string> cps;
      for (size_t i = 0; i < text.size();) {
        size_t l = (static_cast<unsigned char>(text[i]) < 0x80) ? 1 : 2;
        cps.push_back(text.substr(i, l));
        i += l;
      }
      std::map<std::string, int> freq;
      size_t grams = cps.size() >= static_cast<size_t>(n) ? cps.size() - n + 1 : 0;
      for (size_t i = 0; i < grams; ++i) {
        std::string g;
        for (int k = 0; k < n; ++k) g += cps[i + k];
        ++freq[g];
      }
      std::vector<int> f;
      size_t singles = 0;
      for (auto& [g, c] : freq) {
        f.push_back(c);
        singles += c == 1;
      }
      std::sort(f.rbegin(), f.rend());
      size_t k = std::min(static_cast<size_t>(std::sqrt(static_cast<double>(f.size()))), f.size() - singles);
      double want = 0;
      for (size_t j = 0; j < k; ++j) want += f[j];
      want = grams ? want / static_cast<double>(grams) : 0.0;

      auto op = MakeOp("character_repetition_filter", {{"rep_len", I(n)}});
      Dataset ds;
      ds.Add(Json(text));
      ds.Run(*op, true);
      EXPECT_EQ(ds[0].stats.Find("char_rep_ratio")->d, want) << "n=" << n;
    }
  }
}

TEST(Params, TokenizationAndValidation) {
  // alphanumeric_filter needs pythia's tokenizer.json and the word filters <lang>.sp.model, which no models
  // directory provides here.
  for (auto [op, why] : {std::pair{"alphanumeric_filter", "pythia-6.9b-deduped/tokenizer.json"},
                         std::pair{"words_num_filter", "en.sp.model"}, std::pair{"word_repetition_filter", "en.sp.model"}}) {
    try {
      MakeOp(op, {{"tokenization", B(true)}});
      ADD_FAILURE() << op << " accepted tokenization: true";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUsage);
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  }
  EXPECT_NO_THROW(MakeOp("words_num_filter", {{"lang", S("zh")}}));
  EXPECT_NO_THROW(MakeOp("word_repetition_filter", {{"lang", S("anything")}}));
  EXPECT_EQ(KindOf([] { MakeOp("character_repetition_filter", {{"rep_len", I(0)}}); }), ErrorKind::kUsage);
  EXPECT_EQ(KindOf([] { MakeOp("word_repetition_filter", {{"rep_len", I(-1)}}); }), ErrorKind::kUsage);
  EXPECT_EQ(KindOf([] { MakeOp("clean_links_mapper", {{"pattern", S("(unclosed")}}); }), ErrorKind::kUsage);
  EXPECT_EQ(KindOf([] { MakeOp("clean_email_mapper", {{"repl", S("\\1")}}); }), ErrorKind::kUsage);
  EXPECT_EQ(KindOf([] { MakeOp("clean_links_mapper", {{"repl", S("\\2")}}); }), ErrorKind::kUsage);
  EXPECT_EQ(KindOf([] { MakeOp("text_length_filter", {{"min_len", S("ten")}}); }), ErrorKind::kUsage);
  // Defaults as DataJuicer's class defaults.
  const OpDef* d = FindOp("alphanumeric_filter");
  Params p = Params::Resolve(d->name, FullParamSpecs(*d), {});
  EXPECT_EQ(p.GetNumber("min_ratio"), 0.25);
  EXPECT_EQ(p.GetNumber("max_ratio"), 9223372036854775807.0);
  d = FindOp("words_num_filter");
  p = Params::Resolve(d->name, FullParamSpecs(*d), {});
  EXPECT_EQ(p.GetInt("min_num"), 10);
  EXPECT_EQ(p.GetInt("max_num"), INT64_MAX);
  EXPECT_EQ(p.GetString("lang"), "en");
}

TEST(Filters, NullTextIsAnErrorForThatSample) {
  auto op = MakeOp("text_length_filter");
  Dataset ds("meta.body");
  ASSERT_EQ(ds.Add(R"({"meta":{"body":"x"}})"), ParseStatus::kOk);
  ds[0].texts[0].is_null = true;  // as for a secondary text key that is null in this record
  EXPECT_EQ(KindOf([&] { ds.Run(*op); }), ErrorKind::kInput);
}

TEST(Mappers, Whitespace) {
  bool changed = true;
  EXPECT_EQ(MapText("whitespace_normalization_mapper", {}, "plain text", &changed), "plain text");
  EXPECT_FALSE(changed);
  EXPECT_EQ(MapText("whitespace_normalization_mapper", {}, " \u3000 a\u200bb\tc\u00a0\n\u2028d\u0085 "),
            "a b c \n\u2028d");
  EXPECT_EQ(MapText("whitespace_normalization_mapper", {}, "\u200bx\ufeff"), " x\ufeff");  // not stripped first
  EXPECT_EQ(MapText("whitespace_normalization_mapper", {}, "   "), "");
  EXPECT_EQ(MapText("whitespace_normalization_mapper", {}, "a  \u2002\u2002b"), "a    b");  // no collapsing
}

TEST(Mappers, Punctuation) {
  bool changed = true;
  EXPECT_EQ(MapText("punctuation_normalization_mapper", {}, "ascii, only.", &changed), "ascii, only.");
  EXPECT_FALSE(changed);
  EXPECT_EQ(MapText("punctuation_normalization_mapper", {}, "‘中文’，测试—完．…１"), "‘中文',测试 - 完. ...\"");
}

TEST(Mappers, EmailAndLinks) {
  EXPECT_EQ(MapText("clean_email_mapper", {}, "a x@Example.COM b@c.de."), "a x@Example.COM .");
  EXPECT_EQ(MapText("clean_email_mapper", {{"repl", S("<\\g<0>>")}}, "mail a.b+c@d-e.fg now"), "mail <a.b+c@d-e.fg> now");
  EXPECT_EQ(MapText("clean_email_mapper", {{"pattern", S("r'\\w+@\\w+'")}, {"repl", S("E")}}, "x ab@cd."), "x E.");
  EXPECT_EQ(MapText("clean_email_mapper", {}, "a@b.com@c.org"), "@c.org");
  EXPECT_EQ(MapText("clean_links_mapper", {}, "see (https://x.org/a_(b)) and www.y.com."), "see () and .");
  EXPECT_EQ(MapText("clean_links_mapper", {{"repl", S("<\\1>")}}, "go to http://a.b/c!"), "go to <http://a.b/c>!");
  EXPECT_EQ(MapText("clean_links_mapper", {{"pattern", S("r\"\\d+\"")}, {"repl", S("#")}}, "a1b22"), "a#b#");
  bool changed = true;
  EXPECT_EQ(MapText("clean_links_mapper", {}, "no links: here. really/", &changed), "no links: here. really/");
  EXPECT_FALSE(changed);
}

TEST(Mappers, PathologicalInputsStayLinear) {
  // Runs of characters that may not end a link used to make the URL regex backtrack exponentially.
  auto t0 = std::chrono::steady_clock::now();
  std::string bangs = "http://" + std::string(200000, '!');
  EXPECT_EQ(MapText("clean_links_mapper", {}, bangs), bangs);
  std::string dots = "x http://a" + std::string(100000, '.') + " y";
  EXPECT_EQ(MapText("clean_links_mapper", {}, dots), "x " + std::string(100000, '.') + " y");
  std::string ws(100000, 'w');
  EXPECT_EQ(MapText("clean_links_mapper", {}, ws), ws);
  std::string local(100000, 'a');
  EXPECT_EQ(MapText("clean_email_mapper", {}, local + "@"), local + "@");
  EXPECT_EQ(MapText("clean_email_mapper", {}, local + "@b.c"), "");
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(secs, 5.0);
}

TEST(Dedup, DocumentDeduplicator) {
  EXPECT_EQ(Survivors("document_deduplicator", {}, {" a b ", "a b", "a b\n", "A b", "a  b"}),
            (std::vector<std::string>{" a b ", "A b", "a  b"}));
  EXPECT_EQ(Survivors("document_deduplicator", {{"lowercase", B(true)}}, {"A b", "a B", "ΑΣ", "ας"}),
            (std::vector<std::string>{"A b", "ΑΣ"}));
  // ignore_non_character drops \s, \d (Unicode) and ASCII punctuation, but not CJK punctuation.
  EXPECT_EQ(Survivors("document_deduplicator", {{"ignore_non_character", B(true)}},
                      {"a-b 1", "ab٣", "a\u0085b!", "a，b", "ab，"}),
            (std::vector<std::string>{"a-b 1", "a，b", "ab，"}));
  EXPECT_EQ(Survivors("document_deduplicator", {}, {"only"}), std::vector<std::string>{"only"});
}

}  // namespace
}  // namespace sluice
