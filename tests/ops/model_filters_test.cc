// Model-based filters (language_id_score_filter, perplexity_filter, `tokenization: true` of the word filters)
// with tiny models trained here, at test time, by Debian's CLIs: `fasttext supervised` (en/fr/zh language id)
// and `spm_train` (SentencePiece on real text of examples/demo), plus a trigram ARPA model counted from the
// pieces by tests/ops/model_filters_ref.py. Nothing is downloaded. The same script is the independent
// reference: KenLM-style back-off scoring in float32, and DataJuicer's perplexity / num_words /
// word_rep_ratio formulas over spm_encode's pieces. The model lookup (SLUICE_MODELS_DIR, op parameters, the
// messages when a model is missing) is checked too.
#include <gtest/gtest.h>

#include <simdjson.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "core/error.h"
#include "core/json_writer.h"
#include "kenlm_binary_writer.h"
#include "ops/text/model_files.h"
#include "ops/text/ngram_lm.h"
#include "ops/text/sentencepiece_tokenizer.h"
#include "op_harness.h"
#include "temp_dir.h"
#include "tool_fixtures.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using testing::Dataset;
using testing::MakeOp;
using testing::ParamList;
using testing::S;
using testing::Lines;
using testing::ScopedEnv;
using testing::Shell;


void WriteFile(const fs::path& p, const std::string& data) {
  std::ofstream(p, std::ios::binary) << data;
}

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// A deterministic pseudo-random sequence (the corpora must not change between runs).
struct Lcg {
  uint64_t s;
  uint32_t Next(uint32_t n) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(s >> 33) % n;
  }
};

class ModelFiltersTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { error_ = Build(); }
  static void TearDownTestSuite() { tmp_.reset(); }
  void SetUp() override {
    if (!error_.empty()) GTEST_FAIL() << error_;
  }

  static fs::path Path(const std::string& name) { return fs::path(tmp_->path()) / name; }

  // The texts (one per line, no line breaks) the reference comparisons run on: real text plus edge cases.
  static std::vector<std::string> Texts() {
    std::vector<std::string> t = corpus_;
    t.resize(std::min<size_t>(t.size(), 250));
    for (const char* extra : {"", "a", "Today is Sunday and it's a happy day!", "emoji表情测试下😊，😸31231",
                              "，。、„”“«»１」「《》´∶：？！（）；–—．～’…━〈〉【】％►", "the the the the the the the",
                              "Hello   World\tagain  ", "ÉCOLE Straße İstanbul ΣΊΣΥΦΟΣ"})
      t.push_back(extra);
    return t;
  }

  static std::string ShowOp(const std::string& op, const ParamList& params, const std::string& text,
                            const char* key) {
    Dataset ds;
    std::string json;
    AppendJsonString(json, text);
    ds.Add("{\"text\":" + json + "}");
    auto f = MakeOp(op, params);
    ds.Run(*f, true);
    simdjson::dom::parser parser;
    std::string out = ds.Json(0);
    auto stats = parser.parse(out)["__dj__stats__"][key];
    return simdjson::minify(stats.value());
  }

  static std::string error_;
  static std::optional<testing::TempDir> tmp_;
  static std::vector<std::string> corpus_;

 private:
  static std::string Build() {
    for (const char* tool : {"fasttext", "spm_train", "spm_encode", "python3"})
      if (Shell(std::string("command -v ") + tool + " >/dev/null 2>&1") != 0)
        return std::string("the test needs the '") + tool +
               "' command (Debian packages fasttext, sentencepiece, python3; scripts/install-deps.sh installs them)";
    try {
      tmp_.emplace("sluice-model-filters");
    } catch (const std::exception& e) {
      return e.what();
    }

    // Real English text: the first records of the demo data, one line each.
    simdjson::dom::parser parser;
    std::ifstream demo(std::string(SLUICE_SOURCE_DIR) + "/examples/demo/data.jsonl");
    std::string line, corpus;
    while (corpus_.size() < 800 && std::getline(demo, line)) {
      std::string_view t;
      if (parser.parse(line)["text"].get(t)) continue;
      std::string one(t);
      for (char& c : one)
        if (c == '\n' || c == '\r') c = ' ';
      corpus_.push_back(one);
      corpus += one + "\n";
    }
    if (corpus_.size() < 500) return "could not read the demo corpus (examples/demo/data.jsonl)";
    WriteFile(Path("corpus.txt"), corpus);

    std::string log = Path("train.log").string();
    if (Shell("spm_train --input=" + Path("corpus.txt").string() + " --model_prefix=" + Path("en").string() +
            " --vocab_size=1000 --model_type=unigram --character_coverage=1.0 --num_threads=1"
            " --hard_vocab_limit=false >" + log + " 2>&1") != 0)
      return "spm_train failed, see " + log;
    if (Shell("spm_encode --model=" + Path("en.model").string() + " --output_format=piece <" +
            Path("corpus.txt").string() + " >" + Path("corpus.pieces").string()) != 0)
      return "spm_encode failed";
    if (Shell("python3 " + Quote(RefScript()) + " lm " + Path("corpus.pieces").string() + " " +
            Path("en.arpa").string()) != 0)
      return "model_filters_ref.py lm failed";

    // Language id: English from the corpus, French and Chinese generated from small word lists.
    const char* fr[] = {"le", "la", "les", "un", "une", "et", "est", "dans", "pour", "avec", "nous", "vous", "sont",
                        "sur", "pas", "plus", "très", "être", "avoir", "fait", "été", "cette", "mais", "où",
                        "français", "maison", "jour", "temps", "monde", "école", "beaucoup", "aujourd'hui"};
    const char* zh[] = {"我", "你", "他", "的", "是", "在", "有", "这", "个", "们", "中", "国", "来", "到", "说",
                        "时", "年", "大", "和", "要", "会", "出", "生", "学", "天", "测", "试", "欢", "迎"};
    Lcg rng{42};
    std::string lid;
    for (size_t i = 0; i < 400; ++i) {
      std::string en = corpus_[i].substr(0, 200);
      lid += "__label__en " + en + "\n";
      std::string f, z;
      size_t n = 6 + rng.Next(10);
      for (size_t k = 0; k < n; ++k) f += std::string(k ? " " : "") + fr[rng.Next(std::size(fr))];
      for (size_t k = 0; k < n; ++k) z += std::string(k && rng.Next(4) == 0 ? " " : "") + zh[rng.Next(std::size(zh))];
      lid += "__label__fr " + f + "\n__label__zh " + z + "\n";
    }
    WriteFile(Path("lid.txt"), lid);
    if (Shell("fasttext supervised -input " + Path("lid.txt").string() + " -output " + Path("lid").string() +
            " -dim 16 -epoch 20 -lr 0.5 -minn 1 -maxn 3 -bucket 20000 -thread 1 -verbose 0 >" + log + " 2>&1") != 0)
      return "fasttext supervised failed, see " + log;
    return "";
  }

  static std::string RefScript() { return std::string(SLUICE_SOURCE_DIR) + "/tests/ops/model_filters_ref.py"; }
};

std::string ModelFiltersTest::error_;
std::optional<testing::TempDir> ModelFiltersTest::tmp_;
std::vector<std::string> ModelFiltersTest::corpus_;

// --- the n-gram scorer ---------------------------------------------------------------------------------

constexpr const char* kHandArpa =
    "\n\\data\\\nngram 1=4\nngram 2=3\n\n"
    "\\1-grams:\n-99\t<s>\t-0.5\n-0.5\ta\t-0.25\n-0.75\tb\t-0.125\n-1.0\t</s>\n\n"
    "\\2-grams:\n-0.25\t<s> a\n-0.5\ta b\n-0.125\tb </s>\n\n\\end\\\n";

TEST_F(ModelFiltersTest, NgramLmScoresAHandWrittenArpa) {
  WriteFile(Path("hand.arpa"), kHandArpa);
  auto lm = text::NgramLm::Load(Path("hand.arpa").string());
  EXPECT_EQ(lm->order(), 2);
  // p(a|<s>) + p(b|a) + p(</s>|b), all bigrams.
  EXPECT_EQ(lm->ScoreSentence("a b"), -0.875f);
  EXPECT_EQ(lm->ScoreSentence("  a\tb "), -0.875f);  // bytes.split(): runs of ASCII whitespace
  // bo(<s>) + p(b), bo(b) + p(a), bo(a) + p(</s>).
  EXPECT_EQ(lm->ScoreSentence("b a"), -3.125f);
  // No <unk> in the file: KenLM's -100, with no back-off of its own.
  EXPECT_EQ(lm->ScoreSentence("c"), -101.5f);
  EXPECT_EQ(lm->ScoreSentence(""), -1.5f);
}

TEST_F(ModelFiltersTest, NgramLmMatchesThePythonReferenceOnManySentences) {
  // Sentences: the corpus' own pieces (mostly seen n-grams) and shuffled pieces with unknown words mixed in.
  std::vector<std::string> lines = Lines([] {
    std::ifstream in(Path("corpus.pieces"));
    return std::string(std::istreambuf_iterator<char>(in), {});
  }());
  ASSERT_GT(lines.size(), 500u);
  std::vector<std::string> sentences(lines.begin(), lines.begin() + 300);
  Lcg rng{7};
  for (int i = 0; i < 300; ++i) {
    std::vector<std::string> words;
    std::istringstream w(lines[rng.Next(static_cast<uint32_t>(lines.size()))]);
    for (std::string x; w >> x;) words.push_back(x);
    std::string s;
    for (size_t k = 0; k < 3 + rng.Next(30) && !words.empty(); ++k)
      s += (k ? " " : "") + (rng.Next(10) == 0 ? std::string("zz_unknown") : words[rng.Next(words.size())]);
    sentences.push_back(s);
  }
  std::string all;
  for (const auto& s : sentences) all += s + "\n";
  WriteFile(Path("sentences.txt"), all);
  std::string out;
  ASSERT_EQ(Shell("python3 " + Quote(std::string(SLUICE_SOURCE_DIR) + "/tests/ops/model_filters_ref.py") + " score " +
                    Path("en.arpa").string() + " " + Path("sentences.txt").string(),
                &out),
            0);
  std::vector<std::string> want = Lines(out);
  ASSERT_EQ(want.size(), sentences.size());
  auto lm = text::NgramLm::Load(Path("en.arpa").string());
  EXPECT_EQ(lm->order(), 3);
  size_t mismatches = 0;
  for (size_t i = 0; i < sentences.size(); ++i) {
    double got = lm->ScoreSentence(sentences[i]);
    if (got != std::stod(want[i]) && ++mismatches <= 5)
      ADD_FAILURE() << "sentence " << i << " '" << sentences[i] << "': sluice " << got << ", reference " << want[i];
  }
  EXPECT_EQ(mismatches, 0u) << "of " << sentences.size();
}

TEST_F(ModelFiltersTest, NgramLmRejectsTruncatedKenlmBinaryAndMalformedFiles) {
  // Only the magic text of a KenLM binary file (ngram_lm_binary_test.cc covers the binary reader).
  WriteFile(Path("bin.arpa.bin"), std::string("mmap lm http://kheafield.com/code format version 5\n\0\0\0", 56));
  try {
    text::NgramLm::Load(Path("bin.arpa.bin").string());
    ADD_FAILURE() << "a truncated KenLM binary file was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage);
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(Path("bin.arpa.bin").string()), std::string::npos) << e.what();
  }
  std::string bad = kHandArpa;
  bad.replace(bad.find("ngram 2=3"), 9, "ngram 2=4");
  WriteFile(Path("bad.arpa"), bad);
  try {
    text::NgramLm::Load(Path("bad.arpa").string());
    ADD_FAILURE() << "a wrong n-gram count was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage);
    EXPECT_NE(std::string(e.what()).find("line"), std::string::npos) << e.what();
  }
}

// --- SentencePiece, perplexity_filter and the tokenized word filters against the reference -----------

TEST_F(ModelFiltersTest, PerplexityAndTokenizedWordFiltersMatchThePythonReference) {
  std::vector<std::string> texts = Texts();
  std::string all;
  for (const auto& t : texts) all += t + "\n";
  WriteFile(Path("texts.txt"), all);
  ASSERT_EQ(Shell("spm_encode --model=" + Path("en.model").string() + " --output_format=piece <" +
                Path("texts.txt").string() + " >" + Path("texts.pieces").string()),
            0);
  std::string out, pieces_text;
  {
    std::ifstream in(Path("texts.pieces"));
    pieces_text.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_EQ(Shell("python3 " + Quote(std::string(SLUICE_SOURCE_DIR) + "/tests/ops/model_filters_ref.py") +
                    " filters " + Path("en.arpa").string() + " " + SLUICE_SHARED_DIR +
                    "/conformance/dj_special_characters.json 2 " + Path("texts.pieces").string(),
                &out),
            0);
  std::vector<std::string> want = Lines(out), want_pieces = Lines(pieces_text);
  ASSERT_EQ(want.size(), texts.size());
  ASSERT_EQ(want_pieces.size(), texts.size());

  auto tok = text::SentencePieceTokenizer::Load(Path("en.model").string());
  text::SentencePieceTokenizer::Pieces pieces;
  ParamList sp = {{"tokenization", ParamValue::Bool(true)}, {"tokenizer_model", S(Path("en.model").string())}};
  ParamList ppl = {{"tokenizer_model", S(Path("en.model").string())}, {"lm_model", S(Path("en.arpa").string())}};
  ParamList rep = sp;
  rep.emplace_back("rep_len", ParamValue::Int(2));
  simdjson::dom::parser parser;
  size_t mismatches = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    tok->Encode(texts[i], pieces);
    std::string joined;
    for (size_t k = 0; k < pieces.size(); ++k) joined += (k ? " " : "") + std::string(pieces[k]);
    auto ref = parser.parse(want[i]);
    std::string ref_ppl = simdjson::minify(ref["perplexity"].value());
    std::string ref_num = simdjson::minify(ref["num_words"].value());
    double ref_rep = double(ref["word_rep_ratio"].get_double());
    std::string got_ppl = ShowOp("perplexity_filter", ppl, texts[i], "perplexity");
    std::string got_num = ShowOp("words_num_filter", sp, texts[i], "num_words");
    double got_rep = std::stod(ShowOp("word_repetition_filter", rep, texts[i], "word_rep_ratio"));
    bool ok = joined == want_pieces[i] && std::stod(got_ppl) == std::stod(ref_ppl) && got_num == ref_num &&
              got_rep == ref_rep;
    if (!ok && ++mismatches <= 5)
      ADD_FAILURE() << "text " << i << " '" << texts[i] << "':\n pieces " << joined << "\n spm_encode "
                    << want_pieces[i] << "\n perplexity " << got_ppl << " / " << ref_ppl << ", num_words "
                    << got_num << " / " << ref_num << ", word_rep_ratio " << got_rep << " / " << ref_rep;
  }
  EXPECT_EQ(mismatches, 0u) << "of " << texts.size();
}

TEST_F(ModelFiltersTest, SharedEncodingsFollowTheTextAndTheModel) {
  auto en = text::SentencePieceTokenizer::Load(Path("en.model").string());
  EXPECT_EQ(en, text::SentencePieceTokenizer::Load(Path("en.model").string()));  // one instance per file
  fs::copy_file(Path("en.model"), Path("other.model"), fs::copy_options::overwrite_existing);
  auto other = text::SentencePieceTokenizer::Load(Path("other.model").string());
  auto join = [](const text::SentencePieceTokenizer::Pieces& p) {
    std::string s;
    for (size_t i = 0; i < p.size(); ++i) s += std::string(i ? " " : "") + std::string(p[i]);
    return s;
  };
  text::SentencePieceTokenizer::Pieces a, b;
  en->Encode("Hello world", a);
  en->Encode("Goodbye moon", b);
  std::string want_a = join(a), want_b = join(b);
  EXPECT_EQ(join(en->EncodeShared("Hello world")), want_a);
  EXPECT_EQ(join(en->EncodeShared("Hello world")), want_a);
  EXPECT_EQ(join(en->EncodeShared("Goodbye moon")), want_b);
  EXPECT_EQ(join(other->EncodeShared("Goodbye moon")), want_b);
  EXPECT_EQ(join(en->EncodeShared("Hello world")), want_a);
}

TEST_F(ModelFiltersTest, PerplexityFilterKeepsByRangeAndReusesCachedStats) {
  ParamList p = {{"tokenizer_model", S(Path("en.model").string())}, {"lm_model", S(Path("en.arpa").string())}};
  const std::string junk = "zq xv qq zz \xF0\x9F\x98\x8A \xE2\xBC\x8F \xE2\xBA\x87 xq";
  double real_ppl = std::stod(ShowOp("perplexity_filter", p, corpus_[3], "perplexity"));
  double junk_ppl = std::stod(ShowOp("perplexity_filter", p, junk, "perplexity"));
  ASSERT_LT(real_ppl, junk_ppl);
  p.emplace_back("max_ppl", ParamValue::Double((real_ppl + junk_ppl) / 2));
  Dataset ds;
  for (const std::string& t : {corpus_[3], junk}) {
    std::string j;
    AppendJsonString(j, t);
    ds.Add("{\"text\":" + j + "}");
  }
  ds.Add("{\"text\":\"anything\",\"__dj__stats__\":{\"perplexity\":5.0}}");
  ds.Add("{\"text\":\"\"}");
  auto f = MakeOp("perplexity_filter", p);
  ds.Run(*f);
  ASSERT_EQ(ds.size(), 3u) << ds.Json(1);
  EXPECT_NE(ds.Json(1).find("\"perplexity\":5.0"), std::string::npos) << ds.Json(1);
  EXPECT_NE(ds.Json(2).find("\"perplexity\":0.0"), std::string::npos) << ds.Json(2);  // no lines: 0
}

TEST_F(ModelFiltersTest, PerplexityFilterReadsKenlmBinaryModels) {
  std::string arpa;
  {
    std::ifstream in(Path("en.arpa"));
    arpa.assign(std::istreambuf_iterator<char>(in), {});
  }
  ParamList from_arpa = {{"tokenizer_model", S(Path("en.model").string())}, {"lm_model", S(Path("en.arpa").string())}};
  for (auto type : {testing::kenlm::kProbing, testing::kenlm::kRestProbing, testing::kenlm::kTrie,
                    testing::kenlm::kArrayTrie, testing::kenlm::kQuantTrie, testing::kenlm::kQuantArrayTrie}) {
    testing::kenlm::Options opt;
    opt.type = type;
    std::string bin = Path("en" + std::to_string(type) + ".arpa.bin").string();
    WriteFile(bin, testing::kenlm::WriteBinary(testing::kenlm::ParseArpa(arpa), opt));
    ParamList from_bin = {{"tokenizer_model", S(Path("en.model").string())}, {"lm_model", S(bin)}};
    bool quantized = type == testing::kenlm::kQuantTrie || type == testing::kenlm::kQuantArrayTrie;
    for (size_t i = 0; i < 40; ++i) {
      std::string got = ShowOp("perplexity_filter", from_bin, corpus_[i], "perplexity");
      std::string want = ShowOp("perplexity_filter", from_arpa, corpus_[i], "perplexity");
      if (!quantized) EXPECT_EQ(got, want) << "type " << type << ": " << corpus_[i];
      else EXPECT_NEAR(std::stod(got), std::stod(want), 0.2 * std::stod(want)) << "type " << type << ": " << corpus_[i];
    }
  }
}

// --- language_id_score_filter ---------------------------------------------------------------------------

TEST_F(ModelFiltersTest, LanguageIdMatchesTheFastTextCli) {
  std::vector<std::string> texts = {"Today is Sunday and it's a happy day!", "nous sommes dans la maison avec vous",
                                    "我们来到中国的学校", "", "12345"};
  for (size_t i = 600; texts.size() < 30 && i < corpus_.size(); ++i)
    if (std::all_of(corpus_[i].begin(), corpus_[i].end(), [](char c) { return (c & 0x80) == 0; }))
      texts.push_back(corpus_[i]);
  std::string all;
  for (const auto& t : texts) all += t + "\n";
  // The CLI is given what DataJuicer's binding gives fastText: the lowercased line (ASCII texts here).
  std::string lowered;
  for (char c : all) lowered += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  WriteFile(Path("lid_in.txt"), lowered);
  std::string out;
  ASSERT_EQ(Shell("fasttext predict-prob " + Path("lid.bin").string() + " " + Path("lid_in.txt").string() + " 1", &out),
            0);
  std::vector<std::string> want = Lines(out);
  ASSERT_EQ(want.size(), texts.size());
  ParamList p = {{"model_path", S(Path("lid.bin").string())}};
  for (size_t i = 0; i < texts.size(); ++i) {
    std::istringstream w(want[i]);
    std::string label;
    double prob = 0;
    w >> label >> prob;
    EXPECT_EQ(ShowOp("language_id_score_filter", p, texts[i], "lang"), "\"" + label.substr(9) + "\"") << texts[i];
    EXPECT_NEAR(std::stod(ShowOp("language_id_score_filter", p, texts[i], "lang_score")), prob, 1e-5) << texts[i];
  }
  EXPECT_EQ(ShowOp("language_id_score_filter", p, texts[0], "lang"), "\"en\"");
  EXPECT_EQ(ShowOp("language_id_score_filter", p, texts[1], "lang"), "\"fr\"");
  EXPECT_EQ(ShowOp("language_id_score_filter", p, texts[2], "lang"), "\"zh\"");
  // DataJuicer's preprocessing: lowercase, '\n' -> ' '.
  EXPECT_EQ(ShowOp("language_id_score_filter", p, "TODAY IS SUNDAY\nAND IT'S A HAPPY DAY!", "lang_score"),
            ShowOp("language_id_score_filter", p, "today is sunday and it's a happy day!", "lang_score"));
}

TEST_F(ModelFiltersTest, LanguageIdKeepRules) {
  auto run = [&](ParamList p) {
    p.emplace_back("model_path", S(Path("lid.bin").string()));
    Dataset ds;
    ds.Add("{\"text\":\"Today is Sunday and it's a happy day, we went to the park with the children.\"}");
    ds.Add("{\"text\":\"nous sommes dans la maison avec vous\"}");
    ds.Add("{\"text\":\"我们来到中国的学校\"}");
    ds.Add("{\"text\":\"cached\",\"__dj__stats__\":{\"lang\":\"fr\",\"lang_score\":0.5}}");
    auto f = MakeOp("language_id_score_filter", p);
    ds.Run(*f);
    std::string kept;
    for (size_t i = 0; i < ds.size(); ++i) kept += ds.Json(i).substr(9, 4) + "|";
    return kept;
  };
  EXPECT_EQ(run({{"lang", S("en")}, {"min_score", ParamValue::Double(0.5)}}), "Toda|");
  EXPECT_EQ(run({{"lang", ParamValue::List({S("en"), S("zh")})}, {"min_score", ParamValue::Double(0.5)}}),
            "Toda|\xE6\x88\x91\xE4|");
  EXPECT_EQ(run({{"lang", S("")}, {"min_score", ParamValue::Double(0.5)}}), "Toda|nous|\xE6\x88\x91\xE4|cach|");
  EXPECT_EQ(run({{"lang", S("")}, {"min_score", ParamValue::Double(0.5)}, {"min_closed_interval", ParamValue::Bool(false)}}),
            "Toda|nous|\xE6\x88\x91\xE4|");
  // reversed_range inverts the score test only: fr with 0.5 < 0.9 is kept, the language test still applies.
  EXPECT_EQ(run({{"lang", S("fr")}, {"min_score", ParamValue::Double(0.9)}, {"reversed_range", ParamValue::Bool(true)}}),
            "cach|");
}

// --- model lookup ---------------------------------------------------------------------------------------

std::string UsageError(const std::string& op, const ParamList& p) {
  try {
    MakeOp(op, p);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kUsage) return e.what();
    return std::string("wrong kind: ") + e.what();
  }
  return "no error";
}

TEST_F(ModelFiltersTest, MissingModelsFailAtConstructionNamingTheFile) {
  ScopedEnv env(text::kModelsDirEnv, "");
  ::unsetenv(text::kModelsDirEnv);
  std::string e = UsageError("language_id_score_filter", {});
  EXPECT_NE(e.find("lid.176.bin"), std::string::npos) << e;
  EXPECT_NE(e.find("SLUICE_MODELS_DIR"), std::string::npos) << e;
  EXPECT_NE(e.find("model_path"), std::string::npos) << e;
  e = UsageError("perplexity_filter", {{"lang", S("de")}});
  EXPECT_NE(e.find("de.sp.model"), std::string::npos) << e;
  e = UsageError("words_num_filter", {{"tokenization", ParamValue::Bool(true)}, {"lang", S("zh")}});
  EXPECT_NE(e.find("zh.sp.model"), std::string::npos) << e;
  EXPECT_NE(e.find("tokenizer_model"), std::string::npos) << e;
  e = UsageError("word_repetition_filter", {{"tokenization", ParamValue::Bool(true)},
                                            {"tokenizer_model", S(Path("nope.model").string())}});
  EXPECT_NE(e.find(Path("nope.model").string()), std::string::npos) << e;
  // Not a model at all.
  e = UsageError("language_id_score_filter", {{"model_path", S(Path("corpus.txt").string())}});
  EXPECT_NE(e.find("corpus.txt"), std::string::npos) << e;
  e = UsageError("words_num_filter", {{"tokenization", ParamValue::Bool(true)}, {"tokenizer_model", S(Path("corpus.txt").string())}});
  EXPECT_NE(e.find("corpus.txt"), std::string::npos) << e;
  // Without tokenization no model is needed.
  EXPECT_EQ(UsageError("words_num_filter", {{"lang", S("zh")}}), "no error");
}

TEST_F(ModelFiltersTest, ModelsDirectoryHoldsDataJuicersFileNames) {
  fs::path models = Path("models");
  fs::create_directories(models);
  fs::copy_file(Path("lid.bin"), models / "lid.176.bin", fs::copy_options::overwrite_existing);
  fs::copy_file(Path("en.model"), models / "en.sp.model", fs::copy_options::overwrite_existing);
  // DataJuicer's <lang>.arpa.bin is a KenLM binary file (probing, as CCNet builds it).
  {
    std::ifstream in(Path("en.arpa"));
    WriteFile(models / "en.arpa.bin",
              testing::kenlm::WriteBinary(testing::kenlm::ParseArpa(std::string(std::istreambuf_iterator<char>(in), {})), {}));
  }
  ScopedEnv env(text::kModelsDirEnv, "/nonexistent:" + models.string());
  EXPECT_EQ(UsageError("language_id_score_filter", {}), "no error");
  EXPECT_EQ(UsageError("perplexity_filter", {}), "no error");
  EXPECT_EQ(UsageError("words_num_filter", {{"tokenization", ParamValue::Bool(true)}}), "no error");
  EXPECT_EQ(UsageError("word_repetition_filter", {{"tokenization", ParamValue::Bool(true)}}), "no error");
  std::string e = UsageError("perplexity_filter", {{"lang", S("fr")}});
  EXPECT_NE(e.find((models / "fr.sp.model").string()), std::string::npos) << e;
  EXPECT_NE(e.find("/nonexistent/fr.sp.model"), std::string::npos) << e;
  // The same result through the directory as through explicit paths.
  ParamList explicit_paths = {{"tokenizer_model", S(Path("en.model").string())}, {"lm_model", S(Path("en.arpa").string())}};
  EXPECT_EQ(ShowOp("perplexity_filter", {}, corpus_[5], "perplexity"),
            ShowOp("perplexity_filter", explicit_paths, corpus_[5], "perplexity"));
}

}  // namespace
}  // namespace sluice
