// The vectorized text paths of the C4 filters against their one-item-at-a-time definitions, on random texts
// built to hit block edges (64-byte blocks, characters straddling them, words running across them):
//   * CountNonSpecialWords against ForEachWord + HasNonSpecial, every separator option;
//   * character_repetition_filter against a std::map count of the code-point n-grams (every path: ASCII
//     with n < 8, 8..16 (vector buckets) and > 16, non-ASCII);
//   * the shared per-record analysis (ops/text/analysis.h): its line counts against the filters' own
//     ones; an OpChain gives each stretch between mappers a fresh epoch, so a mapper that changes the text
//     invalidates what earlier filters computed and a later filter sees the new text; nothing is shared
//     outside a chain;
//   * fix_unicode_mapper's bulk copy of lines no step looks at keeps the '<' rule of HTML unescaping;
//   * clean_links_mapper's default path (trigger scan with exact pre-checks, anchored attempts) against a
//     plain left-to-right PCRE2 search of the same (rewritten) pattern, on link-rich random texts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/json_writer.h"
#include "core/record.h"
#include "op_harness.h"
#include "ops/pipeline.h"
#include "ops/text/analysis.h"
#include "ops/text/pystr.h"
#include "ops/text/special_chars.h"
#include "core/utf8.h"
#include "ops/text/words.h"

namespace sluice {
std::string DefaultLinksRewrittenPatternForTesting();
}

namespace sluice::text {
namespace {

// Random texts from pieces that matter to word counting and line splitting: separators, ASCII special and
// non-special characters, non-ASCII special ones (’ U+2019, NBSP, emoji, Cyrillic Г U+0413, Ⓜ U+24C2) and
// non-special ones (é, г, CJK, U+2028), line breaks of every kind, long words.
std::vector<std::string> RandomTexts(uint64_t seed, size_t count) {
  const std::vector<std::string> atoms = {
      " ",  " ",  "  ", "\n", "\t", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "a", "word", "Hello", ".", ",", "'", "--",
      "0",  "42", "$",  "_",  "~",  "\xe2\x80\x99", "\xc2\xa0", "\xf0\x9f\x98\x80", "\xd0\x93", "\xe2\x93\x82",
      "\xc3\xa9", "\xd0\xb3", "\xe4\xb8\xad", "\xe2\x80\xa8", "\xc2\x85", "\xe2\x80\xa9", "\xef\xbc\x81",
      std::string(70, 'x'), "...", "!?", std::string("\0", 1)};
  std::mt19937_64 rng(seed);
  std::vector<std::string> texts = {"", " ", "a", "\n\n", std::string(64, 'a'), std::string(63, ' ') + "\xc3\xa9"};
  for (size_t n = 0; n < count; ++n) {
    std::string t;
    size_t len = rng() % 200;
    for (size_t k = 0; k < len; ++k) t += atoms[rng() % atoms.size()];
    texts.push_back(std::move(t));
  }
  return texts;
}

TEST(TextFastPaths, CountNonSpecialWordsMatchesPerWordDefinition) {
  for (const std::string& t : RandomTexts(1, 3000))
    for (bool nl : {true, false})
      for (bool tab : {true, false}) {
        size_t want = 0;
        ForEachWord(t, nl, tab, [&](std::string_view w) { want += HasNonSpecial(w); });
        ASSERT_EQ(CountNonSpecialWords(t, nl, tab), want) << "new_line " << nl << " tab " << tab << ": " << t;
      }
}

// char_rep_ratio by the contract (character_filters.cc), from a std::map of the n-grams.
double CharRepReference(const std::string& t, size_t n) {
  std::vector<std::string> cps;
  for (size_t i = 0; i < t.size();) {
    size_t at = i;
    utf8::Next(t, i);
    cps.push_back(t.substr(at, i - at));
  }
  if (cps.size() < n) return 0.0;
  std::map<std::string, size_t> freq;
  for (size_t i = 0; i + n <= cps.size(); ++i) {
    std::string g;
    for (size_t k = 0; k < n; ++k) g += cps[i + k];
    ++freq[g];
  }
  std::vector<size_t> f;
  size_t singles = 0;
  for (const auto& [g, c] : freq) {
    f.push_back(c);
    singles += c == 1;
  }
  std::sort(f.rbegin(), f.rend());
  size_t k = std::min(static_cast<size_t>(std::sqrt(static_cast<double>(f.size()))), f.size() - singles);
  size_t top = 0;
  for (size_t j = 0; j < k; ++j) top += f[j];
  return static_cast<double>(top) / static_cast<double>(cps.size() - n + 1);
}

TEST(TextFastPaths, CharacterRepetitionMatchesAMapCount) {
  std::mt19937_64 rng(3);
  const std::vector<std::string> ascii = {"ab", "a", "b", "abc", " ", "the ", "x", "\n"};
  const std::vector<std::string> mixed = {"ab", "a", "\xc3\xa9", "\xe4\xb8\xad", " ", "\xf0\x9f\x98\x80", "b"};
  for (size_t n : {1, 2, 5, 7, 8, 9, 10, 15, 16, 17, 30}) {
    auto op = testing::MakeOp("character_repetition_filter", {{"rep_len", ParamValue::Int(static_cast<int64_t>(n))}});
    for (int rep = 0; rep < 150; ++rep) {
      const auto& atoms = rep % 3 == 2 ? mixed : ascii;
      std::string t;
      size_t len = rng() % 400;
      for (size_t k = 0; k < len; ++k) t += atoms[rng() % atoms.size()];
      testing::Dataset ds;
      std::string json = "{\"text\":\"";
      for (char c : t) json += c == '\n' ? std::string("\\n") : std::string(1, c);
      json += "\"}";
      ASSERT_EQ(ds.Add(json), ParseStatus::kOk);
      static_cast<Filter&>(*op).ComputeStats(ds[0]);
      const StatValue* v = ds[0].stats.Find("char_rep_ratio");
      ASSERT_NE(v, nullptr);
      ASSERT_EQ(v->AsNumber(), CharRepReference(t, n)) << "rep_len " << n << ": " << t;
    }
  }
}

// A sample whose text is t, through the real parser.
struct OneSample {
  std::string buf;
  Sample s;
  explicit OneSample(const std::string& t, RecordParser& parser) {
    std::string json = "{\"text\":";
    AppendJsonString(json, t);
    json += "}";
    buf = json + std::string(RecordPadding(), ' ');
    std::string err;
    if (parser.Parse(std::string_view(buf.data(), json.size()), s, err) != ParseStatus::kOk) throw std::runtime_error(err);
  }
};

TEST(TextAnalysis, LinesMatchTheFiltersOwnCounts) {
  RecordParser parser({"text"});
  const std::vector<std::string> pieces = {"a", "bb", "\xc3\xa9", "\xe4\xb8\xad", " ", "\n", "\r", "\r\n", "\x0b", "\x0c",
                                           "\x1c", "\x1d", "\x1e", "\xc2\x85", "\xe2\x80\xa8", "\xe2\x80\xa9", "x"};
  std::mt19937_64 rng(9);
  for (int n = 0; n < 3000; ++n) {
    std::string t;
    size_t len = rng() % 120;
    for (size_t k = 0; k < len; ++k) t += pieces[rng() % pieces.size()];
    OneSample one(t, parser);
    EXPECT_EQ(TextAnalysis::Of(one.s, 0), nullptr) << "no sharing outside a chain";
    AnalysisScope scope(one.s);
    TextAnalysis* a = TextAnalysis::Of(one.s, 0);
    ASSERT_NE(a, nullptr);
    auto want = CountLinesAndCodePoints(one.s.texts[0].value());
    size_t longest = 0;
    ForEachLine(one.s.texts[0].value(), [&](std::string_view l) { longest = std::max(longest, utf8::CodePointCount(l)); });
    ASSERT_EQ(a->lines().n, want.lines) << t;
    ASSERT_EQ(a->lines().code_points, want.code_points) << t;
    ASSERT_EQ(a->lines().longest, longest) << t;
    ASSERT_EQ(a->is_ascii(), IsAscii(one.s.texts[0].value()));
    std::string lower;
    PyLowerAppend(one.s.texts[0].value(), lower);
    ASSERT_EQ(a->lowered(), lower);
  }
}

// A mapper that rewrites the text in place (same buffer, same size): only the epoch tells a later filter
// that the text changed.
class InPlaceMapper : public Mapper {
 public:
  InPlaceMapper() : Mapper("test_in_place_mapper") {}
  bool Map(std::string& text) override {
    size_t x = text.find('x');
    if (x == std::string::npos) return false;
    text[x] = '\n';
    return true;
  }
};

TEST(TextAnalysis, EpochsDecideWhatIsShared) {
  RecordParser parser({"text"});
  OneSample one("aaaxbb", parser);
  AnalysisScope scope(one.s);
  EXPECT_EQ(TextAnalysis::Of(one.s, 0)->lines().longest, 6u);
  InPlaceMapper().Map(one.s.texts[0].mutable_value());
  // Within an epoch the text is assumed unchanged (the chain renews the epoch after every mapper).
  EXPECT_EQ(TextAnalysis::Of(one.s, 0)->lines().longest, 6u);
  scope.Renew();
  EXPECT_EQ(TextAnalysis::Of(one.s, 0)->lines().longest, 3u);
  EXPECT_EQ(TextAnalysis::Of(one.s, 1), nullptr) << "no such slot";

  // In a chain: average_line_length_filter computes the shared line counts, the mapper changes the text in
  // place, maximum_line_length_filter must see the new text.
  OpDef def{"test_in_place_mapper", OpKind::kMapper, "test", {}, [](const Params&) { return std::make_unique<InPlaceMapper>(); }};
  Pipeline p;
  p.text_keys = {"text"};
  for (const OpDef* d : {FindOp("average_line_length_filter"), static_cast<const OpDef*>(&def), FindOp("maximum_line_length_filter")}) {
    ResolvedOp r;
    r.def = d;
    r.params = Params::Resolve(d->name, FullParamSpecs(*d), d->kind == OpKind::kFilter ? testing::ParamList{{"min_len", ParamValue::Int(0)}} : testing::ParamList{});
    r.text_key = "text";
    p.ops.push_back(std::move(r));
  }
  p.traced.assign(p.ops.size(), false);
  OpChain chain(p);
  OneSample two("aaaaaaaxbb", parser);
  ASSERT_TRUE(chain.Run(two.s, 0, p.ops.size()));
  EXPECT_EQ(two.s.texts[0].value(), "aaaaaaa\nbb");
  EXPECT_EQ(two.s.stats.Find("avg_line_length")->AsNumber(), 10.0);
  EXPECT_EQ(two.s.stats.Find("max_line_length")->AsNumber(), 7);
}

TEST(TextAnalysis, AMapperInvalidatesWhatEarlierFiltersComputed) {
  // average_line_length_filter computes the shared line counts; clean_links_mapper then shortens the
  // longest line; maximum_line_length_filter must see the new text, not the cached counts.
  Pipeline p;
  p.text_keys = {"text"};
  auto add = [&](const std::string& name, const testing::ParamList& params = {}) {
    ResolvedOp r;
    r.def = FindOp(name);
    r.params = Params::Resolve(name, FullParamSpecs(*r.def), params);
    r.text_key = "text";
    p.ops.push_back(std::move(r));
  };
  add("average_line_length_filter");
  add("clean_links_mapper");
  add("maximum_line_length_filter");
  add("words_num_filter", {{"min_num", ParamValue::Int(1)}});
  add("word_repetition_filter");
  p.traced.assign(p.ops.size(), false);
  OpChain chain(p);
  RecordParser parser(p.text_keys);
  OneSample one("see http://example.com/a/very/long/path/indeed here\nshort line", parser);
  ASSERT_TRUE(chain.Run(one.s, 0, p.ops.size()));
  EXPECT_EQ(one.s.analysis_epoch, 0u) << "the chain clears the epoch when it returns";
  EXPECT_EQ(one.s.texts[0].value(), "see  here\nshort line");
  EXPECT_EQ(one.s.stats.Find("avg_line_length")->AsNumber(), (51.0 + 1 + 10) / 2);  // before the mapper
  EXPECT_EQ(one.s.stats.Find("max_line_length")->AsNumber(), 10);                    // after it: "short line"
  EXPECT_EQ(one.s.stats.Find("num_words")->AsNumber(), 4);

  // The same filters on a chain without a mapper share one analysis and give the filters' own values.
  const std::vector<std::pair<std::string, testing::ParamList>> filters = {
      {"average_line_length_filter", {{"min_len", ParamValue::Int(0)}}},
      {"maximum_line_length_filter", {{"min_len", ParamValue::Int(0)}}},
      {"character_repetition_filter", {{"rep_len", ParamValue::Int(2)}, {"max_ratio", ParamValue::Double(1.0)}}},
      {"word_repetition_filter", {{"rep_len", ParamValue::Int(1)}, {"max_ratio", ParamValue::Double(1.0)}}}};
  Pipeline q;
  q.text_keys = {"text"};
  for (const auto& [name, params] : filters) {
    ResolvedOp r;
    r.def = FindOp(name);
    r.params = Params::Resolve(name, FullParamSpecs(*r.def), params);
    r.text_key = "text";
    q.ops.push_back(std::move(r));
  }
  q.traced.assign(q.ops.size(), false);
  OpChain qc(q);
  for (const char* t : {"a\nbb\r\nccc a a", "", "x\xe2\x80\xa8yy", "\xc3\x89T\xc3\xa9 \xce\xa3 \xce\xa3" "A \xc3\x89t\xc3\xa9"}) {
    OneSample alone(t, parser), chained(t, parser);
    for (const auto& [name, params] : filters) {
      auto op = testing::MakeOp(name, params);
      static_cast<Filter&>(*op).ComputeStats(alone.s);
    }
    ASSERT_TRUE(qc.Run(chained.s, 0, q.ops.size())) << t;
    std::string x, y;
    alone.s.stats.AppendJson(x);
    chained.s.stats.AppendJson(y);
    EXPECT_EQ(x, y) << t;
  }
}

TEST(TextFastPaths, FixUnicodeSkippedLinesStillEndHtmlUnescaping) {
  auto op = testing::MakeOp("fix_unicode_mapper");
  auto fix = [&](std::string t) {
    static_cast<Mapper&>(*op).Map(t);
    return t;
  };
  // The '<' line is copied in bulk (nothing in it to fix); unescaping stops from it on.
  EXPECT_EQ(fix("a &amp; b\nplain <c\nmore plain\nd &amp; e\n"), "a & b\nplain <c\nmore plain\nd &amp; e\n");
  EXPECT_EQ(fix("plain\nx &amp; y \xe2\x80\x99\n<\n&amp;"), "plain\nx & y '\n<\n&amp;");
  EXPECT_EQ(fix("no\nentities\n\xe2\x80\x9cq\xe2\x80\x9d"), "no\nentities\n\"q\"");
  EXPECT_EQ(fix(std::string(100, 'a') + "\n&lt;\n"), std::string(100, 'a') + "\n<\n");
}

TEST(TextFastPaths, CleanLinksDefaultPathMatchesAPlainRegexSearch) {
  const std::vector<std::string> atoms = {
      " ", " ", "\n", "http", "https", "ftp", "mailto", "://", ":/", ":", ":x", ": ", "/", "//", "www", "WWW", "www1",
      "www123", "www1234", "ww", "w", ".", ".com", ".org", ".c", ".co.uk", "example", "a", "Z", "9", "%", "%20", "-",
      "_", "(", ")", "(x)", "((y))", "<", ">", "!", "?", ",", ";", "'", "\"", "[", "]", "{", "}", "`", "&", "=", "#",
      "\xc4\xb0", "\xc5\xbf", "\xe2\x84\xaa", "\xc3\xa9", "\xc2\xab", "\xe2\x80\x9d", "\xd9\xa3", "x.y/",
      "ab.cde/", "abcde.fghij/", "1/2", "a:b", "a:1", "Note:", "@"};
  std::mt19937_64 rng(11);
  auto fast = testing::MakeOp("clean_links_mapper", {{"repl", ParamValue::String("<\\1>")}});
  auto plain = testing::MakeOp("clean_links_mapper", {{"pattern", ParamValue::String(DefaultLinksRewrittenPatternForTesting())},
                                                      {"repl", ParamValue::String("<\\1>")}});
  int changed = 0;
  for (int n = 0; n < 20000; ++n) {
    std::string t;
    size_t len = rng() % 40;
    for (size_t k = 0; k < len; ++k) t += atoms[rng() % atoms.size()];
    std::string a = t, b = t;
    bool ca = static_cast<Mapper&>(*fast).Map(a), cb = static_cast<Mapper&>(*plain).Map(b);
    ASSERT_EQ(a, b) << t;
    ASSERT_EQ(ca, cb) << t;
    changed += ca;
  }
  EXPECT_GT(changed, 5000) << "the texts should be rich in links";
}

}  // namespace
}  // namespace sluice::text
