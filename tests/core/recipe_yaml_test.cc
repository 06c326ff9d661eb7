// LoadRecipe's reading of YAML values: scalars resolve as DataJuicer's loader (jsonargparse over PyYAML,
// YAML 1.1) resolves them, checked on the exact ParamValue (type and value, including what the dry-run's JSON
// cannot show: infinities, NaN, integers beyond int64). tests/cli/recipe_yaml_test.sh checks the same rules
// end to end against PyYAML itself. Table-driven.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/error.h"
#include "core/recipe.h"
#include "temp_dir.h"

namespace sluice {
namespace {

using T = ParamValue::Type;

// The value of the single op parameter `v` of a one-op recipe.
ParamValue Read(testing::TempDir& dir, const std::string& yaml_value) {
  std::string path = dir.Write("r.yaml", "dataset_path: in.jsonl\nexport_path: out.jsonl\nprocess:\n  - some_op:\n      v: " +
                                             yaml_value + "\n");
  Recipe rc = LoadRecipe(path, {});
  EXPECT_EQ(rc.process.size(), 1u);
  EXPECT_EQ(rc.process[0].params.size(), 1u);
  return rc.process[0].params.at(0).second;
}

// The message LoadRecipe refuses a recipe with ("" if it loads).
std::string Refusal(testing::TempDir& dir, const std::string& text) {
  std::string path = dir.Write("r.yaml", text);
  try {
    LoadRecipe(path, {});
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage) << e.what();
    return e.what();
  }
  return "";
}

struct Case {
  const char* yaml;
  T type;
  double number;     // kInt / kDouble / kBool (1 or 0)
  const char* text;  // kString
};

TEST(RecipeYaml, ScalarsResolveAsYaml11WithJsonargparsesFloats) {
  testing::TempDir dir("sluice-recipe-yaml");
  const Case cases[] = {
      {"017", T::kInt, 15, ""},           {"-017", T::kInt, -15, ""},          {"0x1F", T::kInt, 31, ""},
      {"0b101", T::kInt, 5, ""},          {"1_000", T::kInt, 1000, ""},        {"1:30", T::kInt, 90, ""},
      {"-1:00:01", T::kInt, -3601, ""},   {"0", T::kInt, 0, ""},               {"+7", T::kInt, 7, ""},
      {"0o17", T::kString, 0, "0o17"},    {"09", T::kString, 0, "09"},         {"1e-3", T::kDouble, 0.001, ""},
      {"2e5", T::kDouble, 200000, ""},    {".5", T::kDouble, 0.5, ""},         {"1.", T::kDouble, 1, ""},
      {"1_0.5", T::kDouble, 10.5, ""},    {"1:30.5", T::kDouble, 90.5, ""},    {"-.5", T::kString, 0, "-.5"},
      {".5e3", T::kString, 0, ".5e3"},    {".5e+3", T::kDouble, 500, ""},      {"!!float 3", T::kDouble, 3, ""},
      {"!!int '0x10'", T::kInt, 16, ""},  {"!!str 5", T::kString, 0, "5"},     {"'017'", T::kString, 0, "017"},
      {"Yes", T::kBool, 1, ""},           {"ON", T::kBool, 1, ""},             {"Off", T::kBool, 0, ""},
      {"NO", T::kBool, 0, ""},            {"y", T::kString, 0, "y"},           {"!!bool yes", T::kBool, 1, ""},
      {"2024-01-01", T::kString, 0, "2024-01-01"},
      {"9223372036854775807", T::kInt, 9223372036854775807.0, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.yaml);
    ParamValue v = Read(dir, c.yaml);
    ASSERT_EQ(v.type(), c.type);
    if (c.type == T::kString) {
      EXPECT_EQ(v.as_string(), c.text);
    } else if (c.type == T::kBool) {
      EXPECT_EQ(v.as_bool(), c.number != 0);
    } else if (c.type == T::kInt) {
      EXPECT_EQ(static_cast<double>(v.as_int()), c.number);
    } else {
      EXPECT_EQ(v.as_number(), c.number);
    }
  }
  EXPECT_EQ(Read(dir, "9223372036854775807").as_int(), INT64_MAX);
  EXPECT_EQ(Read(dir, "-9223372036854775808").as_int(), INT64_MIN);
}

TEST(RecipeYaml, NonFiniteAndHugeNumbers) {
  testing::TempDir dir("sluice-recipe-yaml");
  for (const char* s : {".inf", "+.Inf", "1e400", "!!float .INF"}) {
    ParamValue v = Read(dir, s);
    ASSERT_EQ(v.type(), T::kDouble) << s;
    EXPECT_EQ(v.as_number(), INFINITY) << s;
  }
  EXPECT_EQ(Read(dir, "-.INF").as_number(), -INFINITY);
  EXPECT_TRUE(std::isnan(Read(dir, ".NaN").as_number()));
  // Python keeps 2**63 exact; sluice holds it as the nearest double, which no int parameter accepts.
  ParamValue big = Read(dir, "9223372036854775808");
  ASSERT_EQ(big.type(), T::kDouble);
  EXPECT_EQ(big.as_number(), 9223372036854775808.0);
  EXPECT_EQ(Read(dir, "-.nan").as_string(), "-.nan");  // not in the float pattern: text, as in PyYAML
}

TEST(RecipeYaml, MergeKeysAndAliases) {
  testing::TempDir dir("sluice-recipe-yaml");
  std::string path = dir.Write("r.yaml",
                               "dataset_path: in.jsonl\nexport_path: out.jsonl\nprocess:\n"
                               "  - a: &a {x: 1, y: 2}\n"
                               "  - b: &b {y: 3, z: 4}\n"
                               "  - c:\n      <<: [*a, *b]\n      x: 9\n"
                               "  - d: *a\n");
  Recipe rc = LoadRecipe(path, {});
  ASSERT_EQ(rc.process.size(), 4u);
  EXPECT_EQ(ParamValue::Map(rc.process[2].params).ToJson(), R"({"y":2,"z":4,"x":9})");
  EXPECT_EQ(ParamValue::Map(rc.process[3].params).ToJson(), R"({"x":1,"y":2})");
}

struct Bad {
  const char* text;
  const char* message;  // a substring of the refusal, file:line included
};

TEST(RecipeYaml, RefusalsNameFileLineAndCause) {
  testing::TempDir dir("sluice-recipe-yaml");
  const std::string head = "dataset_path: in.jsonl\nexport_path: out.jsonl\n";
  const Bad cases[] = {
      {"process:\n  - op:\n      v: =\n", "r.yaml:5: a plain '=' is YAML 1.1's value key"},
      {"process:\n  - op:\n      v: !!float abc\n", "r.yaml:5: !!float 'abc' is not a number"},
      {"process:\n  - op:\n      v: !!int 1.5\n", "r.yaml:5: !!int '1.5' is not a YAML 1.1 integer"},
      {"process:\n  - op:\n      v: !!bool maybe\n", "r.yaml:5: !!bool 'maybe' is not a YAML 1.1 boolean"},
      {"process:\n  - op:\n      v: !!binary aGk=\n", "r.yaml:5: YAML tag '!!binary' is not supported"},
      {"process:\n  - op:\n      v: !custom x\n", "r.yaml:5: YAML tag '!custom' is not supported"},
      {"process:\n  - op:\n      v: 0b_\n", "r.yaml:5: '0b_' is not an integer"},
      {"process:\n  - op:\n      v: 1\n      v: 2\n", "r.yaml:6: op 'op': parameter 'v' is given twice"},
      {"process:\n  - op:\n      v: {a: 1, a: 2}\n", "r.yaml:5: key 'a' of this mapping is given twice"},
      {"process:\n  - op:\n      <<: 5\n", "r.yaml:5: a merge key ('<<') must name a mapping"},
      {"<<: {np: 2}\n", "r.yaml:3: a YAML merge key ('<<') is supported in op parameters only"},
      {"np: 1\nnp: 2\n", "r.yaml:4: recipe key 'np' appears twice"},
      {"---\nnp: 1\n", "r.yaml:4: a second YAML document"},
      {"project_name: 017\n", "r.yaml:3: 'project_name' must be a string; YAML reads '017' as the integer 15: quote it"},
      {"job_id: yes\n", "r.yaml:3: 'job_id' must be a string; YAML reads 'yes' as the boolean true"},
      {"text_keys: [a, 1.5]\n", "r.yaml:3: 'text_keys' must be a string; YAML reads '1.5' as the number 1.5"},
      {"op_fusion: ON\n", "r.yaml:3: recipe key 'op_fusion' is not supported by sluice yet"},
  };
  for (const Bad& c : cases) {
    std::string msg = Refusal(dir, head + c.text);
    EXPECT_NE(msg.find(c.message), std::string::npos) << c.text << "\n  got: " << msg;
  }
  EXPECT_EQ(Refusal(dir, head + "op_fusion: Off\ntext_keys: 'on'\nproject_name: '017'\n"), "");
}

TEST(RecipeYaml, CommandLineValuesForStringKeysAreText) {
  testing::TempDir dir("sluice-recipe-yaml");
  std::string path = dir.Write("r.yaml", "dataset_path: in.jsonl\nexport_path: out.jsonl\n");
  // DataJuicer keeps a command-line value for a str key as typed (`--job_id 017` is the id "017") and reads
  // an all-digit one for a number as decimal (`--partition.size 017` is 17, unlike `size: 017` in the file).
  Recipe rc = LoadRecipe(path, {{"job_id", "017"}, {"partition.size", "017"}, {"checkpoint.n_ops", "0x10"}});
  EXPECT_EQ(rc.job_id, "017");
  EXPECT_EQ(rc.partition_records, 17);
  EXPECT_EQ(rc.checkpoint_n_ops, 16);
}

}  // namespace
}  // namespace sluice
