// The vectorized text paths of the C4 filters against their one-item-at-a-time definitions, on random texts
// built to hit block edges (64-byte blocks, characters straddling them, words running across them):
//   * CountNonSpecialWords against ForEachWord + HasNonSpecial, every separator option.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "ops/text/special_chars.h"
#include "ops/text/utf8.h"
#include "ops/text/words.h"

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

}  // namespace
}  // namespace sluice::text
