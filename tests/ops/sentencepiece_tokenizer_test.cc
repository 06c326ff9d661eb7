// SentencePieceTokenizer (src/ops/text/sentencepiece_tokenizer.h) where the library fails to encode a text.
//
// DataJuicer tokenizes with the Python binding's encode_as_pieces, which drops the library's error status: a
// text SentencePiece fails on comes back as no pieces, without an error, and the op goes on with no words.
// SentencePiece 0.1.97's word model trained with --treat_whitespace_as_suffix fails on a text whose first word
// is a control symbol such as "<s>" ("all normalized characters are not consumed"; spm_encode stops there with
// an error). sluice must see no pieces as well, not fail the sample. The whole tokenized pipeline is compared
// with the Python module in cli.dj_tokenized_oracle_test; this pins the one behaviour close to the tokenizer.
#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <string>

#include "op_harness.h"
#include "ops/text/sentencepiece_tokenizer.h"
#include "temp_dir.h"
#include "tool_fixtures.h"

namespace sluice {
namespace {

using testing::B;
using testing::Dataset;
using testing::I;
using testing::L;
using testing::MakeOp;
using testing::S;
using testing::Shell;

class SentencePieceEncodeFailure : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_.emplace("sluice-sp-fail");
    if (Shell("command -v spm_train >/dev/null 2>&1") != 0) {
      error_ = "the test needs spm_train (Debian package sentencepiece; scripts/install-deps.sh)";
      return;
    }
    std::ofstream(Model("train.txt")) << "the quick brown fox jumps over the lazy dog\n"
                                         "a lazy dog sleeps in the sun\nthe fox and the dog are friends\n";
    if (Shell("spm_train --input=" + Model("train.txt") + " --model_prefix=" + Model("word") +
              " --model_type=word --treat_whitespace_as_suffix=true --vocab_size=15 --num_threads=1"
              " --minloglevel=2 >" + Model("train.log") + " 2>&1") != 0)
      error_ = "spm_train failed, see " + Model("train.log");
  }
  static void TearDownTestSuite() { dir_.reset(); }
  void SetUp() override {
    if (!error_.empty()) GTEST_FAIL() << error_;
  }
  static std::string Model(const std::string& name) { return dir_->path() + "/" + name; }

  static std::optional<testing::TempDir> dir_;
  static std::string error_;
};

std::optional<testing::TempDir> SentencePieceEncodeFailure::dir_;
std::string SentencePieceEncodeFailure::error_;

TEST_F(SentencePieceEncodeFailure, TextTheLibraryFailsOnHasNoPieces) {
  // The library itself fails on it (spm_encode's exit status), so the case is a real failure of the library.
  std::ofstream(Model("bad.txt")) << "<s> the dog\n";
  ASSERT_NE(Shell("spm_encode --model=" + Model("word.model") + " --input=" + Model("bad.txt") +
                  " >/dev/null 2>&1"),
            0);
  auto tok = text::SentencePieceTokenizer::Load(Model("word.model"));
  text::SentencePieceTokenizer::Pieces pieces;
  tok->Encode("the dog", pieces);
  ASSERT_GT(pieces.size(), 0u);
  EXPECT_NO_THROW(tok->Encode("<s> the dog", pieces));
  EXPECT_EQ(pieces.size(), 0u);
  EXPECT_EQ(tok->EncodeShared("</s> the dog").size(), 0u);
  tok->Encode("the lazy dog", pieces);  // the scratch is usable again
  EXPECT_GT(pieces.size(), 0u);
}

TEST_F(SentencePieceEncodeFailure, OpsSeeNoWordsAndKeepTheSample) {
  const std::string json = R"({"text":"<s> the quick dog"})";
  // words_num_filter: 0 words (DataJuicer: len([]) == 0), so the sample is kept by [0, 5] and not failed.
  {
    Dataset ds;
    ASSERT_EQ(ds.Add(json), ParseStatus::kOk);
    auto op = MakeOp("words_num_filter", {{"tokenization", B(true)}, {"tokenizer_model", S(Model("word.model"))},
                                          {"min_num", I(0)}, {"max_num", I(5)}});
    ds.Run(*op);
    ASSERT_EQ(ds.size(), 1u);
    EXPECT_NE(ds.Json(0).find(R"("num_words":0)"), std::string::npos) << ds.Json(0);
  }
  // remove_words_with_incorrect_substrings_mapper: no piece is dropped, so the text stays as it is.
  {
    auto op = MakeOp("remove_words_with_incorrect_substrings_mapper",
                     {{"tokenization", B(true)}, {"tokenizer_model", S(Model("word.model"))},
                      {"substrings", L({"q"})}});
    std::string text = "<s> the quick dog";
    EXPECT_FALSE(static_cast<Mapper&>(*op).Map(text));
    EXPECT_EQ(text, "<s> the quick dog");
  }
}

}  // namespace
}  // namespace sluice
