// Punkt sentence tokenizer (ops/text/punkt.h) and sentence_split_mapper. Expected sentences come from NLTK 3.8
// (Debian 12's python3-nltk) run with the same hand-built parameters by tests/ops/punkt_ref.py; they cover
// abbreviations (also after a '-'), initials, ellipses, numbers, collocations, the orthographic heuristic,
// sentence starters, closing quotes and brackets after a break, text without a final period, and runs of
// spaces and newlines between sentences. The model lookup and its errors are checked too.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "op_harness.h"
#include "ops/text/model_files.h"
#include "ops/text/punkt.h"
#include "punkt_fixture.h"
#include "temp_dir.h"
#include "tool_fixtures.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
using testing::ExpectMapperCases;
using testing::MakeOp;
using testing::S;
using testing::ScopedEnv;

// The parameters of tests/ops/punkt_ref.py (ortho flags: 2 beginning upper, 4 middle upper, 32 middle lower).
testing::PunktTabSpec RefSpec() {
  return {{"u.s", "mr", "dr", "st", "etc", "vs", "jan", "p.m", "e.g"},
          {{"corp", "group"}},
          {"however", "the"},
          {{"the", 2 | 32}, {"pork", 32}, {"tolkien", 4}, {"however", 0}, {"continued", 32}, {"and", 32}}};
}

// The parameters are written once per process; the directory is removed when the test binary ends.
fs::path RefDir() {
  struct Dir {
    testing::TempDir tmp{"sluice-punkt-test"};
    Dir() { testing::WritePunktTab(fs::path(tmp.path()) / "punkt_tab" / "english", RefSpec()); }
  };
  static const Dir dir;
  return dir.tmp.path();
}

struct Case {
  std::string text;
  std::vector<std::string> sentences;
};

const std::vector<Case> kNltkCases = {
    {"Smithfield employs 3,700 people at its plant in Sioux Falls, South Dakota. The plant slaughters 19,500 pigs a day — 5 percent of U.S. pork.", {"Smithfield employs 3,700 people at its plant in Sioux Falls, South Dakota.", "The plant slaughters 19,500 pigs a day — 5 percent of U.S. pork."}},
    {"J. R. R. Tolkien wrote books. He died in 1973.", {"J. R. R. Tolkien wrote books.", "He died in 1973."}},
    {"Wait... What happened? Nothing!", {"Wait... What happened?", "Nothing!"}},
    {"The value is 3.5 today. It was 2. Then it rose.", {"The value is 3.5 today.", "It was 2.", "Then it rose."}},
    {"He said \"Stop.\" Then he left. (He was angry.) She stayed.", {"He said \"Stop.\"", "Then he left.", "(He was angry.)", "She stayed."}},
    {"Mr. Smith met Dr. Jones at St. Mary's. They talked.", {"Mr. Smith met Dr. Jones at St. Mary's.", "They talked."}},
    {"Acme Corp. Group sells. Done.", {"Acme Corp. Group sells.", "Done."}},
    {"Acme Corp. Holdings sells. Done.", {"Acme Corp.", "Holdings sells.", "Done."}},
    {"He works at Acme etc. The boss left.", {"He works at Acme etc.", "The boss left."}},
    {"We met vs. However we left.", {"We met vs.", "However we left."}},
    {"First sentence. Second without end", {"First sentence.", "Second without end"}},
    {"One.  Two.\n\nThree.\n  Four   ", {"One.", "Two.", "Three.", "Four"}},
    {"Johann S. Bach composed. Music followed.", {"Johann S. Bach composed.", "Music followed."}},
    {"Chapter 3. continued here. Next.", {"Chapter 3. continued here.", "Next."}},
    {"Really?!\" she asked. 'Yes!' he said.", {"Really?!\"", "she asked.", "'Yes!'", "he said."}},
    {"Ex-Mr. Brown came. Fine.", {"Ex-Mr. Brown came.", "Fine."}},
    {"He paused... and then went on. End.", {"He paused... and then went on.", "End."}},
    {"", {}},
    {"   \n ", {}},
    {"Él llegó a las 3 p.m. El día fue largo. ¿Qué pasó? Nada.", {"Él llegó a las 3 p.m. El día fue largo.", "¿Qué pasó?", "Nada."}},
    {"(How does it deal with this parenthesis?)  \"It should be part of the previous sentence.\" \"(And the same with this one.)\" ('And this one!') \"('(And (this)) '?)\" [(and this. )]", {"(How does it deal with this parenthesis?)", "\"It should be part of the previous sentence.\"", "\"(And the same with this one.)\"", "('And this one!')", "\"('(And (this)) '?)\"", "[(and this. )]"}},
    {"Very bad acting!!! I promise.", {"Very bad acting!!!", "I promise."}},
    {"He said \"no.\"--then left. Ok.", {"He said \"no.\"", "--then left.", "Ok."}},
    {"e.g. this one. Is it? Yes.", {"e.g. this one.", "Is it?", "Yes."}},
    {"Ends with a period.", {"Ends with a period."}},
    {"A. B. C. D.", {"A. B. C. D."}},
};

TEST(Punkt, MatchesNltk) {
  auto params = std::make_shared<const text::PunktParameters>(text::LoadPunktTab((RefDir() / "punkt_tab/english").string()));
  text::PunktSentenceTokenizer punkt(params);
  for (const Case& c : kNltkCases) {
    std::vector<std::string> got;
    for (auto s : punkt.Tokenize(c.text)) got.emplace_back(s);
    EXPECT_EQ(got, c.sentences) << "text: " << c.text;
  }
}

TEST(Punkt, ParametersDecideTheBreaks) {
  // Without "u.s" as an abbreviation, "U.S." ends a sentence; without the collocation, "Corp." does.
  testing::PunktTabSpec spec = RefSpec();
  spec.abbrev_types = {};
  spec.collocations = {};
  fs::path dir = RefDir() / "bare";
  testing::WritePunktTab(dir, spec);
  text::PunktSentenceTokenizer punkt(std::make_shared<const text::PunktParameters>(text::LoadPunktTab(dir.string())));
  EXPECT_EQ(punkt.Tokenize("It is U.S. pork. Yes."),
            (std::vector<std::string_view>{"It is U.S.", "pork.", "Yes."}));
  EXPECT_EQ(punkt.Tokenize("Acme Corp. Group sells."), (std::vector<std::string_view>{"Acme Corp.", "Group sells."}));
}

TEST(Punkt, LoadRejectsMalformedFiles) {
  fs::path dir = RefDir() / "bad";
  testing::WritePunktTab(dir, RefSpec());
  { std::ofstream(dir / "ortho_context.tab") << "the\tx\n"; }
  EXPECT_THROW(text::LoadPunktTab(dir.string()), Error);
  testing::WritePunktTab(dir, RefSpec());
  { std::ofstream(dir / "collocations.tab") << "onlyone\n"; }
  EXPECT_THROW(text::LoadPunktTab(dir.string()), Error);
}

TEST(SentenceSplitMapper, JoinsSentencesWithNewlines) {
  ScopedEnv env(text::kModelsDirEnv, RefDir().string());
  ExpectMapperCases({
      {"sentence_split_mapper", {}, "One.  Two.\n\nThree.\n  Four   ", "One.\nTwo.\nThree.\nFour"},
      {"sentence_split_mapper", {}, "It is U.S. pork. Yes.", "It is U.S. pork.\nYes."},
      {"sentence_split_mapper", {}, "No break here", "No break here"},
      {"sentence_split_mapper", {}, "   \n ", ""},
  });
}

TEST(SentenceSplitMapper, ModelLookupAndErrors) {
  auto usage_error = [](const testing::ParamList& params) -> std::string {
    try {
      MakeOp("sentence_split_mapper", params);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUsage);
      return e.what();
    }
    ADD_FAILURE() << "no error";
    return "";
  };
  {
    ScopedEnv env(text::kModelsDirEnv, (RefDir() / "nowhere").string());
    std::string msg = usage_error({});
    EXPECT_NE(msg.find("punkt_tab/english/abbrev_types.txt"), std::string::npos) << msg;
    // punkt_model takes the directory, not a file path.
    EXPECT_NE(msg.find("give the punkt_tab language directory (e.g. .../punkt_tab/english) with the op parameter punkt_model"),
              std::string::npos) << msg;
    EXPECT_EQ(msg.find("give its path"), std::string::npos) << msg;
    // French is looked up under its own name.
    EXPECT_NE(usage_error({{"lang", S("fr")}}).find("punkt_tab/french/"), std::string::npos);
    EXPECT_NE(usage_error({{"lang", S("de")}}).find("not one of en, fr, pt, es"), std::string::npos);
    // An explicit directory works without SLUICE_MODELS_DIR.
    auto op = MakeOp("sentence_split_mapper", {{"punkt_model", S((RefDir() / "punkt_tab/english").string())}});
    std::string t = "Mr. Smith came. He left.";
    EXPECT_TRUE(static_cast<Mapper&>(*op).Map(t));
    EXPECT_EQ(t, "Mr. Smith came.\nHe left.");
  }
  // A directory lacking a file is refused, naming it.
  fs::path partial = RefDir() / "partial" / "punkt_tab" / "english";
  testing::WritePunktTab(partial, RefSpec());
  fs::remove(partial / "sent_starters.txt");
  std::string msg = usage_error({{"punkt_model", S(partial.string())}});
  EXPECT_NE(msg.find("sent_starters.txt"), std::string::npos) << msg;
}

}  // namespace
}  // namespace sluice
