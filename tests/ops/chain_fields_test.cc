// The field filters inside a chain: they read fields by name, and a field that is a text key of the chain
// (any op's) is current only in its slot, where a mapper may have rewritten it; the rest of the record is
// the input line. DataJuicer's filters see the sample dict, so every field as the ops before left it
// (datajuicer-ops.md §1.2; general_field_filter's names are the sample's fields, whatever its text_key).
// Found by the chain oracle (tests/ops/dj_chain_oracle.py, ctest cli.dj_chain_test).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/recipe.h"
#include "core/record.h"
#include "ops/pipeline.h"
#include "op_harness.h"

namespace sluice {
namespace {

using testing::ParamList;
using testing::S;

// Which of `records` a recipe of `ops` (resolved as the engine resolves them) keeps, with their stats.
std::vector<std::string> RunChain(const std::vector<std::string>& text_keys,
                                  const std::vector<std::pair<std::string, ParamList>>& ops,
                                  const std::vector<std::string>& records) {
  Recipe rc;
  rc.config_path = "chain.yaml";
  rc.text_keys = text_keys;
  for (const auto& [name, params] : ops) rc.process.push_back({name, params, 1});
  Pipeline p = ResolvePipeline(rc);
  OpChain chain(p);
  RecordParser parser(p.text_keys);
  std::vector<std::string> kept;
  for (const std::string& json : records) {
    std::string buf = json + std::string(RecordPadding(), ' ');
    Sample s;
    std::string err;
    EXPECT_EQ(parser.Parse(std::string_view(buf.data(), json.size()), s, err), ParseStatus::kOk) << err;
    if (!chain.Run(s, 0, p.ops.size())) continue;
    std::string out;
    SerializeOptions so;
    so.keep_stats = true;
    SerializeSample(s, so, out);
    out.pop_back();
    kept.push_back(out);
  }
  return kept;
}

const std::vector<std::string> kTwo = {R"({"id":1,"text":"hello","alt":"zzz"})", R"({"id":2,"text":"hello","alt":"aaa"})"};

TEST(ChainFieldFilters, SeeATextAMapperOnAnotherTextKeyRewrote) {
  const std::pair<std::string, ParamList> to_a = {"replace_content_mapper",
                                                  {{"pattern", S("z")}, {"repl", S("a")}, {"text_key", S("alt")}}};
  EXPECT_EQ(RunChain({"text"}, {to_a, {"general_field_filter", {{"filter_condition", S("alt < 'b'")}}}}, kTwo),
            (std::vector<std::string>{
                R"({"id":1,"text":"hello","alt":"aaa","__dj__stats__":{"general_field_filter_condition":true}})",
                R"({"id":2,"text":"hello","alt":"aaa","__dj__stats__":{"general_field_filter_condition":true}})"}));
  EXPECT_EQ(RunChain({"text"}, {to_a, {"specified_field_filter", {{"field_key", S("alt")}, {"target_value", testing::L({"aaa"})}}}},
                     kTwo),
            (std::vector<std::string>{R"({"id":1,"text":"hello","alt":"aaa","__dj__stats__":{"alt":"aaa"}})",
                                      R"({"id":2,"text":"hello","alt":"aaa","__dj__stats__":{"alt":"aaa"}})"}));
  // A mapper on the filter's own text key, the recipe's default one.
  EXPECT_EQ(RunChain({"alt"}, {{"replace_content_mapper", {{"pattern", S("z")}, {"repl", S("a")}}},
                               {"general_field_filter", {{"filter_condition", S("alt == 'aaa'")}}}},
                     kTwo)
                .size(),
            2u);
}

TEST(ChainFieldFilters, ReadTheFieldANameSaysWhateverTheRecipesTextKeys) {
  // `text` is the sample's field `text`, not the op's default text (here `alt`, the recipe's first text key).
  const std::vector<std::string> records = {R"({"id":1,"text":"","alt":"x"})", R"({"id":2,"text":"t","alt":""})"};
  EXPECT_EQ(RunChain({"alt"}, {{"general_field_filter", {{"filter_condition", S("text != ''")}}}}, records),
            (std::vector<std::string>{R"({"id":2,"text":"t","alt":"","__dj__stats__":{"general_field_filter_condition":true}})"}));
  EXPECT_EQ(RunChain({"alt", "text"}, {{"specified_field_filter", {{"field_key", S("text")}, {"target_value", testing::L({""})}}}},
                     records),
            (std::vector<std::string>{R"({"id":1,"text":"","alt":"x","__dj__stats__":{"text":""}})"}));
  // The op's own text key given explicitly still reads its slot.
  EXPECT_EQ(RunChain({"text"}, {{"general_field_filter", {{"filter_condition", S("alt == ''")}, {"text_key", S("alt")}}}},
                     records)
                .size(),
            1u);
}

}  // namespace
}  // namespace sluice
