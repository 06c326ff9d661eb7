// Word and sentence mappers (src/ops/mapper/word_mappers.cc): the spec's edge cases as a table, parameter
// validation, per-document state, and a golden test on the real documents in ../shared/seeds.
//
// Expected outputs (and the golden MD5s) come from a Python model of datajuicer-ops.md §2.3/§4 that runs
// DataJuicer's patterns with the `regex` module; the C++ ops were cross-checked against that model on
// thousands of random and real texts. remove_words_with_incorrect_substrings_mapper with `tokenization:
// true` runs with a tiny SentencePiece model trained here by `spm_train` and is compared, on a few hundred
// real texts, with a Python model of the spec fed by `spm_encode`'s pieces.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <simdjson.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "core/error.h"
#include "core/json_writer.h"
#include "op_harness.h"
#include "temp_dir.h"
#include "tool_fixtures.h"
#include "ops/text/md5.h"
#include "ops/text/model_files.h"

namespace sluice {
namespace {

using testing::MakeOp;
using testing::ParamList;
using testing::I;
using testing::B;
using testing::S;
using testing::L;
using testing::ScopedEnv;
using testing::Shell;


// One row per edge case; Map must report a change exactly when the text changes.
TEST(WordMappers, Cases) {
  const std::vector<testing::MapperCase> cases = {
      // remove_long_words_mapper: three-level split/merge; the length test also on the stripped word.
      {"remove_long_words_mapper", {}, "  a  b \t\t c \n\n d  ", "a b\tc\nd"},
      {"remove_long_words_mapper", {}, "", ""},
      {"remove_long_words_mapper", {}, "already normalized\tsegment\nline", "already normalized\tsegment\nline"},
      {"remove_long_words_mapper", {{"min_len", I(3)}}, "a on the\tx y\nzz\nword", "the\nword"},
      {"remove_long_words_mapper", {{"min_len", I(3)}, {"max_len", I(15)}}, "novel eqeqweqwewqenhq😊😠 method", "novel eqeqweqwewqenhq😊😠 method"},
      {"remove_long_words_mapper", {{"max_len", I(4)}}, "éééé ééééé", "éééé"},
      {"remove_long_words_mapper", {{"max_len", I(2)}}, "a\rb ab\r \u3000ab \u3000abc", "ab\r \u3000ab"},
      {"remove_long_words_mapper", {{"min_len", I(5)}, {"max_len", I(2)}}, "nothing survives here", ""},
      {"remove_long_words_mapper", {{"min_len", I(2)}, {"max_len", I(3)}}, "(a) ((a)) 一a一 a😊 👨\u200D👩\u200D👧", "(a) 一a一 a😊 👨\u200D👩\u200D👧"},
      // remove_words_with_incorrect_substrings_mapper: the substring test is on the stripped word.
      {"remove_words_with_incorrect_substrings_mapper", {}, "see https://x.com now", "see now"},
      {"remove_words_with_incorrect_substrings_mapper", {}, "//abc a//b ..http www. WWW HTTP://X x.comma", "//abc WWW"},
      {"remove_words_with_incorrect_substrings_mapper", {}, "no  bad   words\t\there", "no bad words\there"},
      {"remove_words_with_incorrect_substrings_mapper", {{"substrings", L({"com", "算子"})}}, "根据算子使用 请用百度www.baidu.com进行搜索 好的", "好的"},
      {"remove_words_with_incorrect_substrings_mapper", {{"substrings", L({})}}, " spaces  only \n\n", "spaces only"},
      {"remove_words_with_incorrect_substrings_mapper", {{"substrings", L({""})}}, "every word goes", ""},
      // remove_non_chinese_character_mapper: only U+4E00..U+9FA5 and the flagged ASCII / punctuation.
      {"remove_non_chinese_character_mapper", {}, "⼏几⺇", "几"},
      {"remove_non_chinese_character_mapper", {}, "中\n文\t字 ok, 1.5%!", "中文字 ok, 1.5%!"},
      {"remove_non_chinese_character_mapper", {}, "䷿一龥龦", "一龥"},
      {"remove_non_chinese_character_mapper", {{"keep_punc", B(false)}}, "中 文，字", "中文字"},
      {"remove_non_chinese_character_mapper", {{"keep_alphabet", B(false)}, {"keep_number", B(false)}}, "abc中123文·“引”（注）", "中文·“引”（注）"},
      {"remove_non_chinese_character_mapper", {}, "纯中文", "纯中文"},
      // remove_table_text_mapper: >= 2 rows after a '\n', each ended by '\n', same number of cells.
      {"remove_table_text_mapper", {}, "x\na b\nc d\nend", "x\nend"},
      {"remove_table_text_mapper", {}, "a b\nc d\nend", "a b\nc d\nend"},
      {"remove_table_text_mapper", {}, "x\na b\nc d", "x\na b\nc d"},
      {"remove_table_text_mapper", {}, "x\na b\nc d e\nend", "x\na b\nc d e\nend"},
      {"remove_table_text_mapper", {}, "x\na|b\nc|d\nend", "x\nend"},
      {"remove_table_text_mapper", {}, "x\na b\n\nc d\n\n\nend", "x\nend"},
      {"remove_table_text_mapper", {}, "x\na b c\n1 2\n3 4\nd e f\nend", "x\nend"},
      {"remove_table_text_mapper", {{"max_col", I(2)}}, "x\na b c\nd e f\nend", "x\na b c\nd e f\nend"},
      {"remove_table_text_mapper", {}, "x\na||b\nc d\nend", "x\nend"},
      {"remove_table_text_mapper", {}, "x\n||\nc d\nend", "x\n||\nc d\nend"},
      {"remove_table_text_mapper", {}, "x\na\u3000b\nc d\nend", "x\na\u3000b\nc d\nend"},
      {"remove_table_text_mapper", {}, "x\na\x1c""b c\nd e\nend", "x\nend"},
      {"remove_table_text_mapper", {}, "x\na  b\nc d\nend", "x\na  b\nc d\nend"},
      {"remove_table_text_mapper", {}, "x\na b\r\nc d\r\nend", "x\na b\r\nc d\r\nend"},
      {"remove_table_text_mapper", {}, "x\na b\nc d\n", "x\n"},
      // remove_repeat_sentences_mapper: the four break substitutions, keys across the whole document.
      {"remove_repeat_sentences_mapper", {}, "Hello there. Hello there. Bye.", "Hello there. Bye."},
      {"remove_repeat_sentences_mapper", {}, "Hello there.\nHello there.\n\nok", "Hello there.\n\n\nok"},
      {"remove_repeat_sentences_mapper", {}, "Hi, you! Hi you!", "Hi, you!"},
      {"remove_repeat_sentences_mapper", {{"ignore_special_character", B(false)}}, "Hi, you! Hi you!", "Hi, you! Hi you!"},
      {"remove_repeat_sentences_mapper", {}, "Hello World. hello world.", "Hello World. hello world."},
      {"remove_repeat_sentences_mapper", {{"lowercase", B(true)}}, "Hello World. hello world.", "Hello World."},
      {"remove_repeat_sentences_mapper", {}, "Ok. Ok. Ok.", "Ok."},
      {"remove_repeat_sentences_mapper", {{"min_repeat_sentence_length", I(3)}}, "Ok. Ok. Ok.", "Ok. Ok. Ok."},
      {"remove_repeat_sentences_mapper", {}, "好的。\u3000好的。好的", "好的。"},
      {"remove_repeat_sentences_mapper", {}, "他说6”好的好的。他说6”好的好的。", "他说6”好的好的。"},
      {"remove_repeat_sentences_mapper", {}, "等等……好的好的……好的好的", "等等……好的好的……"},
      {"remove_repeat_sentences_mapper", {}, "Wait...... wait...... wait", "Wait...... wait....."},
      {"remove_repeat_sentences_mapper", {}, "a!!b a!!b", "a!!b a!!b"},
      {"remove_repeat_sentences_mapper", {}, "“你好。”他说。“你好。”她说。", "“你好。”他说。她说。"},
      {"remove_repeat_sentences_mapper", {}, "", ""},
      {"remove_repeat_sentences_mapper", {}, "\n\n", "\n\n"},
  };
  testing::ExpectMapperCases(cases);
}

ErrorKind KindOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.kind();
  }
  return ErrorKind::kInternal;  // "no error"
}

TEST(WordMappers, InvalidParametersAreUsageErrors) {
  auto make = [](const char* op, ParamList p) { return [=] { MakeOp(op, p); }; };
  EXPECT_EQ(KindOf(make("remove_table_text_mapper", {{"min_col", I(1)}})), ErrorKind::kUsage);
  EXPECT_EQ(KindOf(make("remove_table_text_mapper", {{"max_col", I(21)}})), ErrorKind::kUsage);
  EXPECT_EQ(KindOf(make("remove_table_text_mapper", {{"min_col", I(21)}, {"max_col", I(20)}})), ErrorKind::kUsage);
  EXPECT_EQ(KindOf(make("remove_words_with_incorrect_substrings_mapper", {{"substrings", S("http")}})),
            ErrorKind::kUsage);
  EXPECT_EQ(KindOf(make("remove_long_words_mapper", {{"max_len", ParamValue()}})), ErrorKind::kUsage);
  EXPECT_EQ(KindOf(make("remove_long_words_mapper", {{"min_len", S("3")}})), ErrorKind::kUsage);
  EXPECT_EQ(KindOf(make("remove_repeat_sentences_mapper", {{"lowercase", I(1)}})), ErrorKind::kUsage);
  // Bounds DataJuicer accepts stay accepted.
  EXPECT_EQ(KindOf(make("remove_table_text_mapper", {{"min_col", I(20)}, {"max_col", I(2)}})), ErrorKind::kInternal);
  EXPECT_EQ(KindOf(make("remove_words_with_incorrect_substrings_mapper", {{"lang", S("zh")}})), ErrorKind::kInternal);
}

// Op instances are reused across records: nothing of one document may leak into the next.
TEST(WordMappers, StateIsPerDocument) {
  auto op = MakeOp("remove_repeat_sentences_mapper");
  auto& m = static_cast<Mapper&>(*op);
  std::string many;
  for (int i = 0; i < 500; ++i) many += "Sentence number " + std::to_string(i % 250) + ". ";
  std::string expected;
  for (int i = 0; i < 250; ++i) expected += (i ? " " : "") + std::string("Sentence number ") + std::to_string(i) + ".";
  expected += " ";
  for (int round = 0; round < 3; ++round) {
    std::string t = many;
    EXPECT_TRUE(m.Map(t));
    EXPECT_EQ(t, expected);
    t = "Sentence number 7. Other.";
    EXPECT_FALSE(m.Map(t));
  }
  auto table = MakeOp("remove_table_text_mapper");
  std::string t = "x\na b\nc d\nend";
  EXPECT_TRUE(static_cast<Mapper&>(*table).Map(t));
  t = "y\nab\ncd\nend";
  EXPECT_FALSE(static_cast<Mapper&>(*table).Map(t));
}

struct Golden {
  const char* seed;
  const char* op;
  ParamList params;
  size_t bytes;
  const char* md5;
};

// Real documents (Chinese and English Markdown with tables, code and lists), every op; outputs pinned by
// size and MD5. On a mismatch the output is written next to the test's temp dir for diffing.
TEST(WordMappers, GoldenOnSeedDocuments) {
  const std::vector<Golden> golden = {
      {"000_3745a414c4301d54.txt", "remove_long_words_mapper", {{"min_len", I(3)}, {"max_len", I(20)}}, 6965, "6c8b13ba2bcc55d47b2c8116e2525b8a"},
      {"000_3745a414c4301d54.txt", "remove_words_with_incorrect_substrings_mapper", {}, 11317, "e54095184c9b288d05b6459d3c3ccf63"},
      {"000_3745a414c4301d54.txt", "remove_non_chinese_character_mapper", {}, 10719, "6539b8a534cc380be9ae081d436b984d"},
      {"000_3745a414c4301d54.txt", "remove_non_chinese_character_mapper", {{"keep_alphabet", B(false)}, {"keep_number", B(false)}, {"keep_punc", B(false)}}, 3477, "6bd26fcc43f4776108494db4ff1fb03c"},
      {"000_3745a414c4301d54.txt", "remove_table_text_mapper", {}, 9981, "4ec4cd8946dd66c348c0d127f11732e7"},
      {"000_3745a414c4301d54.txt", "remove_repeat_sentences_mapper", {}, 11366, "b8a7a988aeabab421d80de8a7ad1fb54"},
      {"000_3745a414c4301d54.txt", "remove_repeat_sentences_mapper", {{"lowercase", B(true)}, {"ignore_special_character", B(false)}, {"min_repeat_sentence_length", I(5)}}, 11620, "4c6bbcbca494beb7e50241aba8fe7c17"},
      {"001_52dbaf6f81e6e114.txt", "remove_long_words_mapper", {{"min_len", I(3)}, {"max_len", I(20)}}, 12292, "66902fa4b379390b87e876e042343c8d"},
      {"001_52dbaf6f81e6e114.txt", "remove_words_with_incorrect_substrings_mapper", {}, 16601, "0f4511e6f86ed8d947374549c85fe493"},
      {"001_52dbaf6f81e6e114.txt", "remove_non_chinese_character_mapper", {}, 15302, "62cc4034e93578c4fd35637cca866271"},
      {"001_52dbaf6f81e6e114.txt", "remove_non_chinese_character_mapper", {{"keep_alphabet", B(false)}, {"keep_number", B(false)}, {"keep_punc", B(false)}}, 8646, "2a809c6b462363787f0465b0974b95ae"},
      {"001_52dbaf6f81e6e114.txt", "remove_table_text_mapper", {}, 10542, "441cdbf5c1b4b933670c997396ba42db"},
      {"001_52dbaf6f81e6e114.txt", "remove_repeat_sentences_mapper", {}, 15796, "487be105008ca815b242ebec99a6bb57"},
      {"001_52dbaf6f81e6e114.txt", "remove_repeat_sentences_mapper", {{"lowercase", B(true)}, {"ignore_special_character", B(false)}, {"min_repeat_sentence_length", I(5)}}, 15918, "ce6f762d07a15c62a640e206d331ab74"},
      {"002_9440e94c8b9ca581.txt", "remove_long_words_mapper", {{"min_len", I(3)}, {"max_len", I(20)}}, 5389, "e3bde0bb5f05baca9490229cd45ae6cc"},
      {"002_9440e94c8b9ca581.txt", "remove_words_with_incorrect_substrings_mapper", {}, 7188, "45560999c730c9c6007afc38b677ed68"},
      {"002_9440e94c8b9ca581.txt", "remove_non_chinese_character_mapper", {}, 6118, "d762caa0f115940fabf1f571fdc5708c"},
      {"002_9440e94c8b9ca581.txt", "remove_non_chinese_character_mapper", {{"keep_alphabet", B(false)}, {"keep_number", B(false)}, {"keep_punc", B(false)}}, 2970, "e659aebee857789b880df969eadda5a9"},
      {"002_9440e94c8b9ca581.txt", "remove_table_text_mapper", {}, 4942, "1ac83410c62482d81ea7f2d3efea4d03"},
      {"002_9440e94c8b9ca581.txt", "remove_repeat_sentences_mapper", {}, 7280, "19416197fa865e0ffbad913d353348bc"},
      {"002_9440e94c8b9ca581.txt", "remove_repeat_sentences_mapper", {{"lowercase", B(true)}, {"ignore_special_character", B(false)}, {"min_repeat_sentence_length", I(5)}}, 7553, "90ece0bc71f18c04b7d3cdf9307d8274"},
      {"003_f0fee1d4bec4bb14.txt", "remove_long_words_mapper", {{"min_len", I(3)}, {"max_len", I(20)}}, 16430, "90566eb6b487de3e5568dc1c7b463dd9"},
      {"003_f0fee1d4bec4bb14.txt", "remove_words_with_incorrect_substrings_mapper", {}, 19156, "1ab02ea6c1d81cc1f0bf9327ee6cc1a6"},
      {"003_f0fee1d4bec4bb14.txt", "remove_non_chinese_character_mapper", {}, 17366, "8b24a6680a83cd61f32d8746a079dc42"},
      {"003_f0fee1d4bec4bb14.txt", "remove_non_chinese_character_mapper", {{"keep_alphabet", B(false)}, {"keep_number", B(false)}, {"keep_punc", B(false)}}, 0, "d41d8cd98f00b204e9800998ecf8427e"},
      {"003_f0fee1d4bec4bb14.txt", "remove_table_text_mapper", {}, 16943, "e9eebbff2c4967f60198098e79727714"},
      {"003_f0fee1d4bec4bb14.txt", "remove_repeat_sentences_mapper", {}, 18313, "72341d44fae3572649b6064af6f6e4e4"},
      {"003_f0fee1d4bec4bb14.txt", "remove_repeat_sentences_mapper", {{"lowercase", B(true)}, {"ignore_special_character", B(false)}, {"min_repeat_sentence_length", I(5)}}, 18388, "95bc31788c03940855e76f50c7ef3076"},
      {"004_315147a9e2ac19ee.txt", "remove_long_words_mapper", {{"min_len", I(3)}, {"max_len", I(20)}}, 6157, "7575b3f3c5ff9b24835675bc2d46b093"},
      {"004_315147a9e2ac19ee.txt", "remove_words_with_incorrect_substrings_mapper", {}, 8901, "c6ffc4706cfe3cc8cc6103b45e319e9b"},
      {"004_315147a9e2ac19ee.txt", "remove_non_chinese_character_mapper", {}, 8016, "4f5bfcd00f9e37693d9e1b678e0b2a34"},
      {"004_315147a9e2ac19ee.txt", "remove_non_chinese_character_mapper", {{"keep_alphabet", B(false)}, {"keep_number", B(false)}, {"keep_punc", B(false)}}, 3240, "5bf79bcaf9a89444d5da575731525460"},
      {"004_315147a9e2ac19ee.txt", "remove_table_text_mapper", {}, 7094, "2b185c3deb57835a01bbd0980c2bfcd0"},
      {"004_315147a9e2ac19ee.txt", "remove_repeat_sentences_mapper", {}, 8468, "ee4b768997225f945cd82d01bf87a272"},
      {"004_315147a9e2ac19ee.txt", "remove_repeat_sentences_mapper", {{"lowercase", B(true)}, {"ignore_special_character", B(false)}, {"min_repeat_sentence_length", I(5)}}, 8372, "49dd36e2b6eb42c8897c7edb0e853c21"},
  };
  for (const Golden& g : golden) {
    std::string path = std::string(SLUICE_SOURCE_DIR) + "/../shared/seeds/" + g.seed;
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in.good()) << path;
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    auto op = MakeOp(g.op, g.params);
    static_cast<Mapper&>(*op).Map(text);
    if (text.size() != g.bytes || text::Md5Hex(text) != g.md5) {
      std::string out = ::testing::TempDir() + "golden_" + g.op + "_" + g.seed;
      std::ofstream(out, std::ios::binary) << text;
      ADD_FAILURE() << g.op << " on " << g.seed << ": " << text.size() << " bytes, md5 " << text::Md5Hex(text)
                    << "; expected " << g.bytes << " bytes, md5 " << g.md5 << " (output written to " << out << ")";
    }
  }
}

// --- remove_words_with_incorrect_substrings_mapper with tokenization: true -------------------------------

namespace fs = std::filesystem;

// DataJuicer's tokenized variant from the pieces of each text (one line of spm_encode --output_format=piece
// each; the texts as JSON lines): words = pieces with '▁' removed; a word goes if strip(word,
// SPECIAL_CHARACTERS) contains a substring; if one went, the text is ''.join(kept words), else unchanged
// (datajuicer-ops.md §4). Prints the result of each text as a JSON string. Written from the spec, not from
// sluice's code.
constexpr const char* kSubstringsRef = R"PY(
import json, sys
special_file, substrings, texts_file, pieces_file = sys.argv[1:5]
strip = ''.join(chr(int(c, 16)) for c in json.load(open(special_file, encoding='utf-8'))['codepoints'])
substrings = json.loads(substrings)
texts = [json.loads(l) for l in open(texts_file, encoding='utf-8')]
pieces = [l.rstrip('\n') for l in open(pieces_file, encoding='utf-8', newline='\n')]
assert len(texts) == len(pieces)
for text, line in zip(texts, pieces):
    words = [p.replace('\u2581', '') for p in (line.split(' ') if line else [])]
    kept = [w for w in words if all(s not in w.strip(strip) for s in substrings)]
    print(json.dumps(''.join(kept) if len(kept) != len(words) else text))
)PY";

// A tiny SentencePiece model trained by `spm_train` on the first 800 records of examples/demo (one line
// each); the texts the comparison runs on (real English text and the lines of the seed documents, which
// hold URLs, code and Chinese) with spm_encode's pieces of them.
class TokenizedIncorrectSubstrings : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { error_ = Build(); }
  static void TearDownTestSuite() { tmp_.reset(); }
  void SetUp() override {
    if (!error_.empty()) GTEST_FAIL() << error_;
  }

  static std::string Path(const std::string& name) { return tmp_->path() + "/" + name; }

  // Map's result on `text` with tokenization through the tiny model, and whether it reported a change.
  static std::pair<std::string, bool> Run(const std::string& text, ParamList params = {}) {
    params.emplace_back("tokenization", B(true));
    params.emplace_back("tokenizer_model", S(Path("en.model")));
    auto op = MakeOp("remove_words_with_incorrect_substrings_mapper", params);
    std::string t = text;
    bool changed = static_cast<Mapper&>(*op).Map(t);
    return {t, changed};
  }

  static std::string error_;
  static std::optional<testing::TempDir> tmp_;
  static std::vector<std::string> texts_;

 private:
  static std::string Build() {
    try {
      tmp_.emplace("sluice-word-mappers-tok");
    } catch (const std::exception& e) {
      return e.what();
    }
    std::string err = testing::BuildTokenizerFixture(
        tmp_->path(), 60,
        {"", "   ", "see https://x.com now", "请用百度www.baidu.com进行搜索", "a  b\tc", "ＦＵＬＬ　ｗｉｄｔｈ www.x.com",
         "▁literal▁marker http"},
        &texts_);
    if (!err.empty()) return err;
    std::string json;
    for (const auto& t : texts_) {
      AppendJsonString(json, t);
      json += "\n";
    }
    std::ofstream(Path("texts.jsonl"), std::ios::binary) << json;
    std::ofstream(Path("substrings_ref.py"), std::ios::binary) << kSubstringsRef;
    return "";
  }
};

std::string TokenizedIncorrectSubstrings::error_;
std::optional<testing::TempDir> TokenizedIncorrectSubstrings::tmp_;
std::vector<std::string> TokenizedIncorrectSubstrings::texts_;

TEST_F(TokenizedIncorrectSubstrings, MatchesThePythonReferenceOnRealText) {
  // substrings as JSON for the reference; null is the default list.
  for (const char* substrings : {"null", R"(["com", "算子"])", R"(["e"])", R"(["the", "▁", "//"])", R"([""])"}) {
    std::string json = std::string(substrings) == "null" ? R"(["http", "www", ".com", "href", "//"])" : substrings;
    std::string out;
    ASSERT_EQ(Shell("python3 " + Path("substrings_ref.py") + " " + SLUICE_SHARED_DIR +
                        "/conformance/dj_special_characters.json '" + json + "' " + Path("texts.jsonl") + " " +
                        Path("texts.pieces"),
                    &out),
              0);
    std::istringstream lines(out);
    ParamList params;
    if (std::string(substrings) != "null") {
      simdjson::dom::parser parser;
      std::vector<std::string> subs;
      for (auto v : parser.parse(json).get_array()) subs.emplace_back(std::string_view(v));
      params.emplace_back("substrings", L(subs));
    }
    size_t mismatches = 0, changed = 0;
    simdjson::dom::parser parser;
    for (size_t i = 0; i < texts_.size(); ++i) {
      std::string want_json;
      ASSERT_TRUE(std::getline(lines, want_json)) << "the reference printed too few lines";
      std::string want(std::string_view(parser.parse(want_json).get_string()));
      auto [got, got_changed] = Run(texts_[i], params);
      changed += got_changed;
      if ((got != want || got_changed != (want != texts_[i])) && ++mismatches <= 5)
        ADD_FAILURE() << substrings << " text " << i << " '" << texts_[i] << "':\n sluice    '" << got
                      << "' (changed " << got_changed << ")\n reference '" << want << "'";
    }
    EXPECT_EQ(mismatches, 0u) << substrings << ", of " << texts_.size();
    EXPECT_GT(changed, 10u) << substrings << ": a trivial comparison";
  }
}

TEST_F(TokenizedIncorrectSubstrings, SpacesGoOnlyWhenAWordGoes) {
  // Nothing dropped: the text stays as it is, spaces, tabs and all (unlike the whitespace variant).
  EXPECT_EQ(Run("a  b\tc  "), std::make_pair(std::string("a  b\tc  "), false));
  // A word dropped: the kept pieces are concatenated without their markers, so no space is left. The pieces
  // are ▁see ▁the ▁ www . ex a mp le . com ▁p age ▁to day: only "www" goes (".com" is in no piece).
  EXPECT_EQ(Run("see the  www.example.com page today"), std::make_pair(std::string("seethe.example.compagetoday"), true));
  // Everything dropped: "".
  EXPECT_EQ(Run("some words", {{"substrings", L({""})}}), std::make_pair(std::string(), true));
  EXPECT_EQ(Run("", {{"substrings", L({""})}}), std::make_pair(std::string(), false));
}

TEST_F(TokenizedIncorrectSubstrings, ModelsAreFoundByLangOrFailAtConstruction) {
  const char* op = "remove_words_with_incorrect_substrings_mapper";
  fs::path models = Path("models");
  fs::create_directories(models);
  fs::copy_file(Path("en.model"), models / "en.sp.model", fs::copy_options::overwrite_existing);
  {
    ScopedEnv env(text::kModelsDirEnv, "");
    ::unsetenv(text::kModelsDirEnv);
    try {
      MakeOp(op, {{"tokenization", B(true)}, {"lang", S("zh")}});
      ADD_FAILURE() << "constructed without a model";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUsage);
      EXPECT_NE(std::string(e.what()).find("zh.sp.model"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("tokenizer_model"), std::string::npos) << e.what();
    }
  }
  ScopedEnv env(text::kModelsDirEnv, models.string());
  EXPECT_EQ(KindOf([&] { MakeOp(op, {{"tokenization", B(true)}}); }), ErrorKind::kInternal);
  // The model found by lang is the one given explicitly.
  auto by_lang = MakeOp(op, {{"tokenization", B(true)}});
  std::string t = "see https://x.com now";
  ASSERT_TRUE(static_cast<Mapper&>(*by_lang).Map(t));
  EXPECT_EQ(t, Run("see https://x.com now").first);
}

}  // namespace
}  // namespace sluice
