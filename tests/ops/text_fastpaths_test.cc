// The vectorized text paths of the C4 filters against their one-item-at-a-time definitions, on random texts
// built to hit block edges (64-byte blocks, characters straddling them, words running across them):
//   * CountNonSpecialWords against ForEachWord + HasNonSpecial, every separator option;
//   * character_repetition_filter against a std::map count of the code-point n-grams (every path: ASCII
//     with n < 8, 8..16 (vector buckets) and > 16, non-ASCII);
//   * clean_links_mapper's default path (trigger scan with exact pre-checks, anchored attempts) against a
//     plain left-to-right PCRE2 search of the same (rewritten) pattern, on link-rich random texts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "op_harness.h"
#include "ops/text/special_chars.h"
#include "ops/text/utf8.h"
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
