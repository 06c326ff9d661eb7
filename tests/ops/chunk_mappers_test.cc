// text_chunk_mapper: DataJuicer's three chunking modes (code point lengths), re.split's group pieces,
// Python's empty-match rule, and the construction errors.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "op_harness.h"

namespace sluice {
namespace {

using testing::MakeOp;
using testing::ParamList;
using testing::I;
using testing::S;
using Strings = std::vector<std::string>;

Strings Chunks(const ParamList& p, const std::string& text) {
  auto op = MakeOp("text_chunk_mapper", p);
  Strings out;
  static_cast<ExpandingMapper&>(*op).Split(text, out);
  return out;
}

TEST(TextChunkMapper, SplitOnPatternKeepsNonBlankSeparators) {
  EXPECT_EQ(Chunks({{"split_pattern", S(",")}}, "a,b,,c"), (Strings{"a", ",", "b", ",", ",", "c"}));
  EXPECT_EQ(Chunks({{"split_pattern", S("\\n\\n")}}, "p1\n\np2\n\n\n\n  \n\np3"), (Strings{"p1", "p2", "p3"}));
  // groups of the pattern are pieces too (re.split); one that took no part in a match is None there, which
  // DataJuicer fails to strip: a sample error
  EXPECT_EQ(Chunks({{"split_pattern", S("(x)(\\d*)")}}, "1x2y"), (Strings{"1", "x2", "x", "2", "y"}));
  EXPECT_EQ(Chunks({{"split_pattern", S("(x)")}}, "1x2"), (Strings{"1", "x", "x", "2"}));
  EXPECT_THROW(Chunks({{"split_pattern", S("(x)|y")}}, "1x2y3"), Error);
  EXPECT_THROW(Chunks({{"split_pattern", S("(x)|(y)")}}, "1y"), Error);
  // an empty match splits between characters, but not twice at one place
  EXPECT_EQ(Chunks({{"split_pattern", S("z*")}}, "ab"), (Strings{"a", "b"}));
}

// DataJuicer splits with stdlib re, not the regex module: \s includes \x1c-\x1f (then dropped as blank
// pieces), and a vowel sign is not \w, so \W+ cuts inside Devanagari words.
TEST(TextChunkMapper, SplitPatternIsStdlibRe) {
  EXPECT_EQ(Chunks({{"split_pattern", S("\\s+")}}, "a\x1c" "b c"), (Strings{"a", "b", "c"}));
  EXPECT_EQ(Chunks({{"split_pattern", S("\\W+")}}, "नमस्ते ab"), (Strings{"नमस", "्", "त", "े ", "ab"}));
  ParamList p = {{"max_len", I(4)}, {"split_pattern", S("\\s")}};
  EXPECT_EQ(Chunks(p, "ab\x1f" "cdef"), (Strings{"ab", "cdef"}));
  EXPECT_THROW(Chunks({{"split_pattern", S("\\p{P}")}}, "a.b"), Error);  // re has no \p{..}
}

TEST(TextChunkMapper, WindowsInCodePoints) {
  ParamList p = {{"max_len", I(3)}, {"overlap_len", I(1)}, {"split_pattern", ParamValue()}};
  EXPECT_EQ(Chunks(p, "abc"), (Strings{"abc"}));
  EXPECT_EQ(Chunks(p, "数据清洗工具"), (Strings{"数据清", "清洗工", "工具"}));
  EXPECT_EQ(Chunks(p, "abcdefg"), (Strings{"abc", "cde", "efg", "g"}));
}

TEST(TextChunkMapper, PatternWithinMaxLenThenForcedCuts) {
  ParamList p = {{"max_len", I(5)}, {"overlap_len", I(1)}, {"split_pattern", S(" ")}};
  // the last space in the first 5 characters is consumed; without one, cut and overlap
  EXPECT_EQ(Chunks(p, "ab cd ef"), (Strings{"ab", "cd ef"}));
  EXPECT_EQ(Chunks(p, "abcdefgh"), (Strings{"abcde", "efgh"}));
  EXPECT_EQ(Chunks(p, " abcdefgh"), (Strings{"", "abcde", "efgh"}));  // an empty chunk is kept
  // a pattern that can only match empty at the start makes no progress: an error for that sample
  EXPECT_THROW(Chunks({{"max_len", I(3)}, {"split_pattern", S("^")}}, "abcdef"), Error);
}

TEST(TextChunkMapper, ConstructionErrors) {
  for (const ParamList& p : {ParamList{{"max_len", ParamValue()}, {"split_pattern", ParamValue()}},
                             ParamList{{"max_len", I(4)}, {"overlap_len", I(4)}},
                             ParamList{{"max_len", I(0)}},
                             ParamList{{"tokenizer", S("gpt-4o")}, {"max_len", I(4)}}}) {
    try {
      MakeOp("text_chunk_mapper", p);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUsage) << e.what();
    }
  }
}

}  // namespace
}  // namespace sluice
