// text::BpeTokenizer (Hugging Face tokenizer.json, byte-level BPE) on tiny tokenizers written here, and
// alphanumeric_filter's `tokenization: true` on top of it. The expected tokens are worked out by hand from
// huggingface/tokenizers' algorithm (added_vocabulary.rs, pre_tokenizers/byte_level.rs, models/bpe/word.rs);
// no tokenizers library is available to compare with, and the real GPT-NeoX tokenizer.json is not shipped.
//
// DataJuicer's own test (tests/ops/filter/test_alphanumeric_filter.py::test_token_case, also a vector of
// shared/conformance/dj_op_vectors.jsonl) runs tokenization=True, min_ratio=1.5 with the real
// EleutherAI/pythia-6.9b-deduped tokenizer and keeps only "Today is Sund Sund Sund Sunda and it's a happy
// day!\nYou know" and "Do you need a cup of coffee?" of its six texts; it needs that tokenizer.json (see
// docs/compatibility.md) and is counted as rejected by the conformance test, which runs without models.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <simdjson.h>

#include "core/error.h"
#include "core/json_writer.h"
#include "op_harness.h"
#include "temp_dir.h"
#include "tool_fixtures.h"
#include "ops/text/bpe_tokenizer.h"
#include "ops/text/model_files.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using testing::Dataset;
using testing::MakeOp;
using testing::ParamList;
using testing::B;
using testing::S;
using testing::ScopedEnv;
using text::BpeTokenizer;
using Strings = std::vector<std::string>;

// GPT-2's bytes_to_unicode, written out again from its definition: printable Latin-1 bytes map to
// themselves, the other 68 to U+0100.. in byte order.
std::string ByteChar(unsigned char b) {
  auto direct = [](int x) { return (x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE); };
  char32_t cp = b;
  if (!direct(b)) {
    cp = 256;
    for (int x = 0; x < b; ++x) cp += !direct(x);
  }
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// The byte-level form of UTF-8 text (how its tokens are spelled in the vocab).
std::string BL(std::string_view utf8) {
  std::string s;
  for (char c : utf8) s += ByteChar(static_cast<unsigned char>(c));
  return s;
}

struct Spec {
  // Merges in rank order, "left right" in byte-level spelling; their results join the vocab.
  Strings merges = {"Ġ t", "e l", "h e", "Ġt he", "a a", "aa aa", "Ġ Ġ", "' s", "1 2", "Ã ©", "c a", "ca f", "caf Ã©"};
  bool merges_as_pairs = false;
  std::string added = "[]";
  std::string normalizer = R"({"type":"NFC"})";
  std::string pre_tokenizer = R"({"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true})";
  std::string model_type = "BPE";
  std::string model_extra;  // more model fields, each followed by a comma
  Strings extra_vocab;
  std::string bytes;  // the bytes whose characters are in the vocab; empty = all 256
};

std::string Quote(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

std::string Json(const Spec& spec) {
  Strings vocab;
  if (spec.bytes.empty()) {
    for (int b = 0; b < 256; ++b) vocab.push_back(ByteChar(static_cast<unsigned char>(b)));
  } else {
    for (char b : spec.bytes) vocab.push_back(ByteChar(static_cast<unsigned char>(b)));
  }
  std::string merges;
  for (const auto& m : spec.merges) {
    size_t sp = m.find(' ');
    if (sp != std::string::npos && m.find(' ', sp + 1) == std::string::npos) {
      std::string joined = m.substr(0, sp) + m.substr(sp + 1);
      if (std::find(vocab.begin(), vocab.end(), joined) == vocab.end()) vocab.push_back(joined);
    }
    merges += merges.empty() ? "" : ",";
    merges += spec.merges_as_pairs ? "[" + Quote(m.substr(0, sp)) + "," + Quote(m.substr(sp + 1)) + "]" : Quote(m);
  }
  for (const auto& v : spec.extra_vocab) vocab.push_back(v);
  std::string vocab_json;
  for (size_t i = 0; i < vocab.size(); ++i) {
    if (i) vocab_json += ',';
    vocab_json += Quote(vocab[i]);
    vocab_json += ':';
    vocab_json += std::to_string(i);
  }
  return R"({"version":"1.0","truncation":null,"padding":null,"added_tokens":)" + spec.added +
         R"(,"normalizer":)" + spec.normalizer + R"(,"pre_tokenizer":)" + spec.pre_tokenizer +
         R"(,"post_processor":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true},)"
         R"("decoder":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true},)"
         R"("model":{"type":")" + spec.model_type + R"(","dropout":null,"unk_token":null,)" +
         R"("continuing_subword_prefix":null,"end_of_word_suffix":null,)" + spec.model_extra +
         R"("vocab":{)" + vocab_json + R"(},"merges":[)" + merges + "]}}";
}

std::shared_ptr<const BpeTokenizer> Make(const Spec& spec = {}, text::BpeTokenizerOptions opt = {}) {
  return BpeTokenizer::FromJson(Json(spec), "test/tokenizer.json", opt);
}

Strings Tokens(const BpeTokenizer& t, std::string_view text) {
  Strings out;
  t.Tokenize(text, out);
  EXPECT_EQ(t.CountTokens(text), out.size()) << text;
  return out;
}

Strings PreTokens(const BpeTokenizer& t, std::string_view text) {
  Strings out;
  t.PreTokens(text, out);
  return out;
}

std::string UsageError(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kUsage) return e.what();
    return std::string("wrong kind: ") + e.what();
  }
  return "no error";
}

TEST(BpeTokenizer, ByteLevelAlphabet) {
  EXPECT_EQ(ByteChar(' '), "Ġ");
  EXPECT_EQ(ByteChar('\n'), "Ċ");
  EXPECT_EQ(ByteChar('\t'), "ĉ");
  EXPECT_EQ(ByteChar(0xAD), "Ń");
  EXPECT_EQ(ByteChar(0x00), "Ā");
  auto t = Make();
  EXPECT_EQ(Tokens(*t, "a\nb"), (Strings{"a", "Ċ", "b"}));
  EXPECT_EQ(Tokens(*t, " "), (Strings{"Ġ"}));
  EXPECT_EQ(Tokens(*t, "x\t"), (Strings{"x", "ĉ"}));
  EXPECT_EQ(Tokens(*t, "\xC2\xAD"), (Strings{"Â", "Ń"}));  // U+00AD: two bytes, two characters
  EXPECT_EQ(Tokens(*t, "😊"), (Strings{"ð", "Ł", "ĺ", "Ĭ"}));  // GPT-2's famous "ðŁĺĬ"
  EXPECT_EQ(Tokens(*t, "é"), (Strings{"Ã©"}));  // merge "Ã ©"
  EXPECT_EQ(Tokens(*t, ""), Strings{});
  EXPECT_EQ(t->CountTokens(""), 0u);
}

TEST(BpeTokenizer, MergesApplyInRankOrderLeftmostFirst) {
  for (bool pairs : {false, true}) {
    Spec spec;
    spec.merges_as_pairs = pairs;
    auto t = Make(spec);
    // "e l" (rank 1) is before "h e" (rank 2): "hel" is h + el, not he + l.
    EXPECT_EQ(Tokens(*t, "hel"), (Strings{"h", "el"}));
    EXPECT_EQ(Tokens(*t, "he"), (Strings{"he"}));
    // Ġ t (0), h e (2), Ġt he (3).
    EXPECT_EQ(Tokens(*t, " the"), (Strings{"Ġthe"}));
    EXPECT_EQ(Tokens(*t, "the"), (Strings{"t", "he"}));
    // Equal ranks merge leftmost first; new pairs then compete by rank.
    EXPECT_EQ(Tokens(*t, "aaa"), (Strings{"aa", "a"}));
    EXPECT_EQ(Tokens(*t, "aaaa"), (Strings{"aaaa"}));
    EXPECT_EQ(Tokens(*t, "aaaaa"), (Strings{"aaaa", "a"}));
    EXPECT_EQ(Tokens(*t, "café"), (Strings{"cafÃ©"}));
    EXPECT_EQ(Tokens(*t, "12"), (Strings{"12"}));
    EXPECT_EQ(Tokens(*t, "123"), (Strings{"12", "3"}));
  }
  // 101 symbols merge with the heap (more than 48): 25 x "aaaa" + "a".
  auto t = Make();
  Strings want(25, "aaaa");
  want.push_back("a");
  EXPECT_EQ(Tokens(*t, std::string(101, 'a')), want);
  // A pair listed twice keeps its last rank (tokenizers collects the merges into a HashMap).
  Spec spec;
  spec.merges = {"h e", "e l", "h e"};
  EXPECT_EQ(Tokens(*Make(spec), "hel"), (Strings{"h", "el"}));
}

// The textbook algorithm: merge the lowest-ranked adjacent pair, leftmost among equals, until none merges.
Strings ReferenceBpe(const std::string& word, const Strings& merges) {
  std::map<std::pair<std::string, std::string>, size_t> rank;
  for (size_t r = 0; r < merges.size(); ++r) {
    size_t sp = merges[r].find(' ');
    rank[{merges[r].substr(0, sp), merges[r].substr(sp + 1)}] = r;
  }
  Strings sym;
  for (char c : word) sym.push_back(std::string(1, c));
  for (;;) {
    size_t best = SIZE_MAX, at = 0;
    for (size_t k = 0; k + 1 < sym.size(); ++k) {
      auto it = rank.find({sym[k], sym[k + 1]});
      if (it != rank.end() && it->second < best) best = it->second, at = k;
    }
    if (best == SIZE_MAX) return sym;
    sym[at] += sym[at + 1];
    sym.erase(sym.begin() + static_cast<ptrdiff_t>(at) + 1);
  }
}

TEST(BpeTokenizer, HeapAndLinearMergesAgreeWithTheTextbookAlgorithm) {
  Spec spec;
  spec.merges = {"a a", "e l", "h e", "l l", "aa aa", "he ll", "a h", "l e", "ah a", "hell a", "el a", "aa a"};
  auto linear = Make(spec, {1000});
  auto heap = Make(spec, {0});
  std::mt19937 rng(7);
  const char alphabet[] = "aehl";
  for (int n = 0; n < 3000; ++n) {
    std::string w(1 + rng() % 120, 'a');
    for (char& c : w) c = alphabet[rng() % 4];
    Strings want = ReferenceBpe(w, spec.merges);
    ASSERT_EQ(Tokens(*linear, w), want) << w;
    ASSERT_EQ(Tokens(*heap, w), want) << w;
  }
}

TEST(BpeTokenizer, PreTokenizerRegex) {
  Spec spec;
  spec.normalizer = "null";
  auto t = Make(spec);
  auto pre = [&](std::string_view s) { return PreTokens(*t, s); };
  // tokenizers' own byte_level.rs examples.
  EXPECT_EQ(pre("Hello my friend, how is your day going?"),
            (Strings{"Hello", " my", " friend", ",", " how", " is", " your", " day", " going", "?"}));
  EXPECT_EQ(pre("Hello there\nHello there"), (Strings{"Hello", " there", "\n", "Hello", " there"}));
  EXPECT_EQ(pre("Hello there" + std::string(7, ' ') + "dear"), (Strings{"Hello", " there", std::string(6, ' '), " dear"}));
  // \s+(?!\S): a whitespace run before a non-space gives its last character to the next match (which takes it
  // only if it is ' '); at the end the whole run is one match.
  EXPECT_EQ(pre("a  \n b"), (Strings{"a", "  \n", " b"}));
  EXPECT_EQ(pre("end  "), (Strings{"end", "  "}));
  EXPECT_EQ(pre("  x"), (Strings{" ", " x"}));
  EXPECT_EQ(pre("\t\tx"), (Strings{"\t", "\t", "x"}));
  EXPECT_EQ(pre("\n\n"), (Strings{"\n\n"}));
  EXPECT_EQ(pre(" "), (Strings{" "}));
  // Contractions (lower case only, before any other alternative).
  EXPECT_EQ(pre("it's I'll we're they've I'm he'd don't"),
            (Strings{"it", "'s", " I", "'ll", " we", "'re", " they", "'ve", " I", "'m", " he", "'d", " don", "'t"}));
  EXPECT_EQ(pre("IT'S"), (Strings{"IT", "'", "S"}));
  EXPECT_EQ(pre("''s"), (Strings{"''", "s"}));
  EXPECT_EQ(pre("x 's"), (Strings{"x", " '", "s"}));
  EXPECT_EQ(pre("'r"), (Strings{"'", "r"}));
  EXPECT_EQ(pre("rock'n'roll"), (Strings{"rock", "'", "n", "'", "roll"}));
  // Numbers: \p{N} is Nd, Nl and No.
  EXPECT_EQ(pre("abc123def 4567 x2"), (Strings{"abc", "123", "def", " 4567", " x", "2"}));
  EXPECT_EQ(pre("3.14"), (Strings{"3", ".", "14"}));
  EXPECT_EQ(pre("½²Ⅷ x½ ٣٤"), (Strings{"½²Ⅷ", " x", "½", " ٣٤"}));
  // Letters beyond ASCII; marks are not \p{L}.
  EXPECT_EQ(pre("naïve Привет 東京"), (Strings{"naïve", " Привет", " 東京"}));
  EXPECT_EQ(pre("x\xCC\x81"), (Strings{"x", "\xCC\x81"}));
  // Everything else in runs.
  EXPECT_EQ(pre("hi!!! ...ok"), (Strings{"hi", "!!!", " ...", "ok"}));
  EXPECT_EQ(pre("😊😊 x"), (Strings{"😊😊", " x"}));
  // \s is Oniguruma's: U+0009..U+000D, U+0085 and Z* (NBSP, U+3000, ...), not U+001C..U+001F or U+200B; only
  // ' ' (U+0020) joins the next word.
  EXPECT_EQ(pre("a\u00A0b"), (Strings{"a", "\u00A0", "b"}));
  EXPECT_EQ(pre("a \u00A0b"), (Strings{"a", " ", "\u00A0", "b"}));
  EXPECT_EQ(pre("a\u3000\u3000b"), (Strings{"a", "\u3000", "\u3000", "b"}));
  EXPECT_EQ(pre("a\u0085b"), (Strings{"a", "\u0085", "b"}));
  EXPECT_EQ(pre("a\x1f b"), (Strings{"a", "\x1f", " b"}));
  EXPECT_EQ(pre("a \x1f"), (Strings{"a", " \x1f"}));
  EXPECT_EQ(pre("a\u200Bb"), (Strings{"a", "\u200B", "b"}));
  EXPECT_EQ(pre(""), Strings{});
}

TEST(BpeTokenizer, NfcNormalizer) {
  auto nfc = Make();
  EXPECT_EQ(PreTokens(*nfc, "cafe\xCC\x81"), (Strings{"caf\u00E9"}));
  EXPECT_EQ(Tokens(*nfc, "cafe\xCC\x81"), (Strings{"cafÃ©"}));
  EXPECT_EQ(PreTokens(*nfc, "\u212B"), (Strings{"\u00C5"}));  // ANGSTROM SIGN -> A WITH RING
  EXPECT_EQ(PreTokens(*nfc, "x\xCC\x81"), (Strings{"x", "\xCC\x81"}));  // nothing to compose with
  Spec spec;
  spec.normalizer = "null";
  EXPECT_EQ(PreTokens(*Make(spec), "cafe\xCC\x81"), (Strings{"cafe", "\xCC\x81"}));
  spec.normalizer = R"({"type":"Sequence","normalizers":[{"type":"NFC"}]})";
  EXPECT_EQ(PreTokens(*Make(spec), "cafe\xCC\x81"), (Strings{"caf\u00E9"}));
}

std::string Added(const std::string& content, bool special, bool normalized, const std::string& flags = "") {
  static int id = 1000;
  return R"({"id":)" + std::to_string(id++) + R"(,"content":)" + Quote(content) + R"(,"single_word":)" +
         (flags.find('w') != std::string::npos ? "true" : "false") + R"(,"lstrip":)" +
         (flags.find('l') != std::string::npos ? "true" : "false") + R"(,"rstrip":)" +
         (flags.find('r') != std::string::npos ? "true" : "false") + R"(,"normalized":)" +
         (normalized ? "true" : "false") + R"(,"special":)" + (special ? "true" : "false") + "}";
}

std::shared_ptr<const BpeTokenizer> WithAddedTokens() {
  Spec spec;
  spec.added = "[" + Added("<|endoftext|>", true, false) + "," + Added("<|end", true, false) + "," +
               Added("  ", false, true) + "," + Added("[MASK]", true, false, "lr") + "," + Added("<w>", false, false, "w") +
               "," + Added("e\xCC\x81!", false, true) + "," + Added("o\xCC\x81?", false, false) + "]";
  return Make(spec);
}

TEST(BpeTokenizer, AddedTokensAreSplitOutBeforePreTokenization) {
  auto t = WithAddedTokens();
  EXPECT_EQ(Tokens(*t, "a<|endoftext|>b"), (Strings{"a", "<|endoftext|>", "b"}));
  EXPECT_EQ(Tokens(*t, "<|endoftext|>"), (Strings{"<|endoftext|>"}));
  EXPECT_EQ(PreTokens(*t, " <|endoftext|> the"), (Strings{" ", "<|endoftext|>", " the"}));
  EXPECT_EQ(Tokens(*t, " <|endoftext|> the"), (Strings{"Ġ", "<|endoftext|>", "Ġthe"}));
  // Leftmost-longest.
  EXPECT_EQ(PreTokens(*t, "<|end<|endoftext|>x"), (Strings{"<|end", "<|endoftext|>", "x"}));
  // Whitespace-run added tokens (as GPT-NeoX's) take the spaces before the pre-tokenizer sees them.
  EXPECT_EQ(PreTokens(*t, "the  end"), (Strings{"the", "  ", "end"}));
  EXPECT_EQ(t->CountTokens("the  end"), 6u);  // t he | "  " | e n d
  EXPECT_EQ(PreTokens(*t, "a   b"), (Strings{"a", "  ", " b"}));
  EXPECT_EQ(PreTokens(*t, "a    b"), (Strings{"a", "  ", "  ", "b"}));
}

TEST(BpeTokenizer, AddedTokenFlags) {
  auto t = WithAddedTokens();
  // lstrip / rstrip take the surrounding whitespace into the token.
  EXPECT_EQ(Tokens(*t, "a  [MASK]  b"), (Strings{"a", "  [MASK]  ", "b"}));
  // single_word: not after or before a word character.
  EXPECT_EQ(PreTokens(*t, "x<w> <w>"), (Strings{"x", "<", "w", ">", " ", "<w>"}));
  EXPECT_EQ(PreTokens(*t, "<w>x"), (Strings{"<", "w", ">", "x"}));
  EXPECT_EQ(PreTokens(*t, "<w>"), (Strings{"<w>"}));
  // normalized: true matches the NFC text (its content is normalized too); false matches the raw text only.
  EXPECT_EQ(PreTokens(*t, "caf\u00E9!"), (Strings{"caf", "\u00E9!"}));
  EXPECT_EQ(PreTokens(*t, "cafe\xCC\x81!"), (Strings{"caf", "\u00E9!"}));
  EXPECT_EQ(PreTokens(*t, "no\xCC\x81?"), (Strings{"n", "o\xCC\x81?"}));
  EXPECT_EQ(PreTokens(*t, "n\u00F3?"), (Strings{"n\u00F3", "?"}));
}

TEST(BpeTokenizer, UnknownBytesAndUnkToken) {
  Spec spec;
  spec.bytes = "ab";
  spec.merges = {};
  spec.extra_vocab = {"<unk>"};
  // Without unk_token an unknown character is dropped (Ġ, and both bytes of é, here).
  EXPECT_EQ(Tokens(*Make(spec), "a\u00E9 b"), (Strings{"a", "b"}));
  std::string json = Json(spec);
  auto with = [&](bool fuse) {
    std::string j = json;
    j.replace(j.find(R"("unk_token":null)"), 16, R"("unk_token":"<unk>","fuse_unk":)" + std::string(fuse ? "true" : "false"));
    return BpeTokenizer::FromJson(j, "test/tokenizer.json");
  };
  EXPECT_EQ(Tokens(*with(false), "a\u00E9 b"), (Strings{"a", "<unk>", "<unk>", "<unk>", "b"}));
  EXPECT_EQ(Tokens(*with(true), "a\u00E9 b"), (Strings{"a", "<unk>", "<unk>", "b"}));
}

TEST(BpeTokenizer, IgnoreMergesPrefixSpaceAndNoRegex) {
  Spec spec;
  spec.extra_vocab = {BL("hello"), BL(" world")};
  EXPECT_EQ(Tokens(*Make(spec), "hello world"), (Strings{"h", "el", "l", "o", "Ġ", "w", "o", "r", "l", "d"}));
  spec.model_extra = R"("ignore_merges":true,)";
  EXPECT_EQ(Tokens(*Make(spec), "hello world"), (Strings{"hello", "Ġworld"}));
  spec = Spec();
  spec.pre_tokenizer = R"({"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true})";
  auto prefix = Make(spec);
  EXPECT_EQ(PreTokens(*prefix, "hello world"), (Strings{" hello", " world"}));
  EXPECT_EQ(PreTokens(*prefix, " x"), (Strings{" x"}));
  EXPECT_EQ(Tokens(*prefix, "the"), (Strings{"Ġthe"}));
  spec.pre_tokenizer = R"({"type":"Sequence","pretokenizers":[{"type":"ByteLevel","add_prefix_space":false,"use_regex":false}]})";
  EXPECT_EQ(PreTokens(*Make(spec), "hello world!"), (Strings{"hello world!"}));
}

TEST(BpeTokenizer, RejectsWhatItDoesNotImplement) {
  auto rejects = [](const Spec& spec, const std::string& what) {
    std::string e = UsageError([&] { Make(spec); });
    EXPECT_NE(e.find("test/tokenizer.json"), std::string::npos) << e;
    EXPECT_NE(e.find(what), std::string::npos) << e;
  };
  Spec s;
  s.model_type = "WordPiece";
  rejects(s, "WordPiece");
  s = Spec();
  s.normalizer = R"({"type":"Lowercase"})";
  rejects(s, "Lowercase");
  s.normalizer = R"({"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"NFKC"}]})";
  rejects(s, "NFKC");
  s = Spec();
  s.pre_tokenizer = R"({"type":"Metaspace","replacement":"▁"})";
  rejects(s, "Metaspace");
  s.pre_tokenizer = "null";
  rejects(s, "pre_tokenizer");
  s.pre_tokenizer = R"({"type":"Sequence","pretokenizers":[{"type":"Split"},{"type":"ByteLevel"}]})";
  rejects(s, "Sequence");
  s = Spec();
  s.merges.push_back("Ġ zz");
  rejects(s, "\"zz\" is not in model.vocab");
  s = Spec();
  s.merges.push_back("a b c");
  rejects(s, "merge 13");
  s = Spec();
  s.model_extra = R"("byte_fallback":true,)";
  rejects(s, "byte_fallback");
  std::string j = Json(Spec());
  j.replace(j.find(R"("dropout":null)"), 14, R"("dropout":0.1)");
  EXPECT_NE(UsageError([&] { BpeTokenizer::FromJson(j, "x.json"); }).find("dropout"), std::string::npos);
  j = Json(Spec());
  j.replace(j.find(R"("continuing_subword_prefix":null)"), 32, R"("continuing_subword_prefix":"##")");
  EXPECT_NE(UsageError([&] { BpeTokenizer::FromJson(j, "x.json"); }).find("continuing_subword_prefix"), std::string::npos);
  EXPECT_NE(UsageError([&] { BpeTokenizer::FromJson("{", "x.json"); }).find("x.json: not valid JSON"), std::string::npos);
  EXPECT_NE(UsageError([] { BpeTokenizer::Load("/nonexistent/tokenizer.json"); }).find("/nonexistent/tokenizer.json"),
            std::string::npos);
}

class TokenizerFiles : public ::testing::Test {
 protected:
  void SetUp() override { file_ = tmp_.Write("tokenizer.json", Json(Spec())); }
  testing::TempDir tmp_{"sluice-bpe"};
  fs::path dir_{tmp_.path()};
  std::string file_;
};

TEST_F(TokenizerFiles, LoadIsSharedAndSafeToUseFromManyThreads) {
  auto a = BpeTokenizer::Load(file_), b = BpeTokenizer::Load(file_);
  EXPECT_EQ(a.get(), b.get());
  Strings texts = {"Hello there, the aaa café!", "it's 12 o'clock\n\n  ", std::string(300, 'a') + " the",
                   "naïve Привет 東京 😊", "cafe\xCC\x81 e\xCC\x81"};
  std::vector<size_t> want;
  for (const auto& t : texts) want.push_back(a->CountTokens(t));
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&, k] {
      for (int round = 0; round < 2000; ++round)
        for (size_t i = 0; i < texts.size(); ++i) bad[k] += a->CountTokens(texts[i]) != want[i];
    });
  for (auto& th : threads) th.join();
  for (int k = 0; k < 4; ++k) EXPECT_EQ(bad[k], 0);
}


TEST_F(TokenizerFiles, AlphanumericFilterCountsLettersPerToken) {
  ParamList p = {{"tokenization", B(true)}, {"tokenizer_model", S(file_)}, {"min_ratio", ParamValue::Double(1.5)}};
  auto op = MakeOp("alphanumeric_filter", p);
  Dataset ds;
  // Letters / tokens: "the" 3 / (t, he); "aaaa" 4 / 1; "aaa aaa" 6 / (aa, a, Ġ, aa, a); "12!" 0 / (12, !);
  // "" 0 tokens -> 0.0; "é" 1 / 1; the cached value is kept.
  for (const char* t : {R"({"text":"the"})", R"({"text":"aaaa"})", R"({"text":"aaa aaa"})", R"({"text":"12!"})",
                        R"({"text":""})", R"({"text":"é"})",
                        R"({"text":"aaa aaa","__dj__stats__":{"alpha_token_ratio":2.0}})"})
    ASSERT_EQ(ds.Add(t), ParseStatus::kOk) << t;
  ds.Run(*op, true);
  Strings got;
  for (size_t i = 0; i < ds.size(); ++i) got.push_back(ds.Json(i));
  EXPECT_EQ(got, (Strings{R"({"text":"the","__dj__stats__":{"alpha_token_ratio":1.5}})",
                          R"({"text":"aaaa","__dj__stats__":{"alpha_token_ratio":4.0}})",
                          R"({"text":"aaa aaa","__dj__stats__":{"alpha_token_ratio":1.2}})",
                          R"({"text":"12!","__dj__stats__":{"alpha_token_ratio":0.0}})",
                          R"({"text":"","__dj__stats__":{"alpha_token_ratio":0.0}})",
                          R"({"text":"é","__dj__stats__":{"alpha_token_ratio":1.0}})",
                          R"({"text":"aaa aaa","__dj__stats__":{"alpha_token_ratio":2.0}})"}));
  Dataset keep;
  for (const char* t : {R"({"text":"the"})", R"({"text":"aaaa"})", R"({"text":"aaa aaa"})", R"({"text":"12!"})",
                        R"({"text":""})", R"({"text":"é"})",
                        R"({"text":"aaa aaa","__dj__stats__":{"alpha_token_ratio":2.0}})"})
    ASSERT_EQ(keep.Add(t), ParseStatus::kOk);
  keep.Run(*op);
  Strings kept;
  for (auto& s : keep.samples()) kept.push_back(s->texts[0].value());
  EXPECT_EQ(kept, (Strings{"the", "aaaa", "aaa aaa"}));
  // Without tokenization the character ratio is unchanged.
  auto plain = MakeOp("alphanumeric_filter", {{"tokenizer_model", S(file_)}});
  Dataset one;
  ASSERT_EQ(one.Add(R"({"text":"ab!!"})"), ParseStatus::kOk);
  one.Run(*plain, true);
  EXPECT_EQ(one.Json(0), R"({"text":"ab!!","__dj__stats__":{"alnum_ratio":0.5}})");
}

TEST_F(TokenizerFiles, AlphanumericFilterFindsTheTokenizerOrFailsAtConstruction) {
  ParamList tok = {{"tokenization", B(true)}};
  {
    ScopedEnv env(text::kModelsDirEnv, "");
    ::unsetenv(text::kModelsDirEnv);
    std::string e = UsageError([&] { MakeOp("alphanumeric_filter", tok); });
    EXPECT_NE(e.find("EleutherAI/pythia-6.9b-deduped/tokenizer.json"), std::string::npos) << e;
    EXPECT_NE(e.find("SLUICE_MODELS_DIR"), std::string::npos) << e;
    EXPECT_NE(e.find("tokenizer_model"), std::string::npos) << e;
    EXPECT_EQ(UsageError([&] { MakeOp("alphanumeric_filter", {}); }), "no error");
  }
  {
    fs::create_directories(dir_ / "EleutherAI/pythia-6.9b-deduped");
    fs::copy_file(file_, dir_ / "EleutherAI/pythia-6.9b-deduped/tokenizer.json");
    ScopedEnv env(text::kModelsDirEnv, "/nonexistent:" + dir_.string());
    EXPECT_EQ(UsageError([&] { MakeOp("alphanumeric_filter", tok); }), "no error");
  }
  std::string bad = (dir_ / "bad.json").string();
  std::ofstream(bad) << R"({"model":{"type":"Unigram","vocab":[]}})";
  std::string e = UsageError([&] { MakeOp("alphanumeric_filter", {{"tokenization", B(true)}, {"tokenizer_model", S(bad)}}); });
  EXPECT_NE(e.find(bad), std::string::npos) << e;
  EXPECT_NE(e.find("Unigram"), std::string::npos) << e;
}

TEST_F(TokenizerFiles, TokenNumFilterCountsTokensWithoutSpecialOnes) {
  // "the" -> (t, he); "aaa aaa" -> (aa, a, Ġ, aa, a); "" -> none; the cached value is kept.
  auto op = MakeOp("token_num_filter", {{"hf_tokenizer", S(file_)}, {"min_num", ParamValue::Int(2)}, {"max_num", ParamValue::Int(4)}});
  Dataset ds;
  for (const char* t : {R"({"text":"the"})", R"({"text":"aaa aaa"})", R"({"text":""})",
                        R"({"text":"aaa aaa","__dj__stats__":{"num_token":3}})"})
    ASSERT_EQ(ds.Add(t), ParseStatus::kOk) << t;
  ds.Run(*op, true);
  Strings got;
  for (size_t i = 0; i < ds.size(); ++i) got.push_back(ds.Json(i));
  EXPECT_EQ(got, (Strings{R"({"text":"the","__dj__stats__":{"num_token":2}})", R"({"text":"aaa aaa","__dj__stats__":{"num_token":5}})",
                          R"({"text":"","__dj__stats__":{"num_token":0}})", R"({"text":"aaa aaa","__dj__stats__":{"num_token":3}})"}));
  Dataset keep;
  for (const char* t : {R"({"text":"the"})", R"({"text":"aaa aaa"})", R"({"text":""})"}) ASSERT_EQ(keep.Add(t), ParseStatus::kOk);
  keep.Run(*op);
  ASSERT_EQ(keep.size(), 1u);
  EXPECT_EQ(keep.samples()[0]->texts[0].value(), "the");
  // The hub id is looked up as <id>/tokenizer.json in the models directories; a directory works too.
  fs::create_directories(dir_ / "EleutherAI/pythia-6.9b-deduped");
  fs::copy_file(file_, dir_ / "EleutherAI/pythia-6.9b-deduped/tokenizer.json");
  {
    ScopedEnv env(text::kModelsDirEnv, dir_.string());
    EXPECT_EQ(UsageError([&] { MakeOp("token_num_filter", {}); }), "no error");
  }
  EXPECT_EQ(UsageError([&] { MakeOp("token_num_filter", {{"hf_tokenizer", S((dir_ / "EleutherAI/pythia-6.9b-deduped").string())}}); }),
            "no error");
  ScopedEnv none(text::kModelsDirEnv, "/nonexistent");
  std::string e = UsageError([&] { MakeOp("token_num_filter", {}); });
  EXPECT_NE(e.find("/nonexistent/EleutherAI/pythia-6.9b-deduped/tokenizer.json"), std::string::npos) << e;
  EXPECT_NE(e.find("hf_tokenizer"), std::string::npos) << e;
}

// Throughput of CountTokens: SLUICE_BPE_BENCH_TOKENIZER=<tokenizer.json> (e.g. GPT-NeoX's) and
// SLUICE_BPE_BENCH_TEXT=<jsonl with "text"> (default bench/data/corpus_20mb.jsonl), run with
// --gtest_also_run_disabled_tests --gtest_filter='*BpeThroughput*'.
TEST(BpeTokenizer, DISABLED_BpeThroughput) {
  const char* tok = std::getenv("SLUICE_BPE_BENCH_TOKENIZER");
  if (tok == nullptr) GTEST_SKIP() << "SLUICE_BPE_BENCH_TOKENIZER is not set";
  const char* env_text = std::getenv("SLUICE_BPE_BENCH_TEXT");
  std::string path = env_text ? env_text : std::string(SLUICE_SOURCE_DIR) + "/bench/data/corpus_20mb.jsonl";
  auto t = BpeTokenizer::Load(tok);
  Strings texts;
  size_t bytes = 0;
  std::ifstream in(path);
  simdjson::dom::parser parser;
  for (std::string line; std::getline(in, line) && bytes < (50u << 20);) {
    std::string_view s;
    if (parser.parse(line)["text"].get(s)) continue;
    texts.emplace_back(s);
    bytes += s.size();
  }
  ASSERT_GT(bytes, 0u) << path;
  auto start = std::chrono::steady_clock::now();
  std::clock_t cpu_start = std::clock();  // CPU time: the wall clock of a shared machine overstates it
  size_t tokens = 0;
  for (const auto& s : texts) tokens += t->CountTokens(s);
  double cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%zu texts, %.1f MB, %zu tokens (%.2f bytes/token) in %.2f s CPU (%.2f s wall): %.1f MB/s, %.2f M "
              "tokens/s of CPU time\n",
              texts.size(), bytes / 1e6, tokens, double(bytes) / double(tokens), cpu, sec, bytes / 1e6 / cpu,
              tokens / 1e6 / cpu);
}

}  // namespace
}  // namespace sluice
