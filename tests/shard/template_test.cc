// Worker command templates: placeholders replaced, other braces kept, unknown placeholders refused.
#include "shard/template.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace sluice::shard {
namespace {

TEST(Template, ReplacesPlaceholdersAndKeepsOtherBraces) {
  std::map<std::string, std::string> v{{"low", "0"}, {"high", "10"}, {"shard", "3"}, {"out", "/o/r.csv"}, {"input", "/i.csv"}, {"output_dir", "/o"}};
  EXPECT_EQ(ExpandTemplate("--range={low}:{high}", v), "--range=0:10");
  EXPECT_EQ(ExpandTemplate("{\"a\": {shard}} {} {x-y}", v), "{\"a\": 3} {} {x-y}");
  CheckTemplate("{out}{input}{output_dir}", "the worker command");
  try {
    CheckTemplate("--lo {lo}", "the worker command");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage);
    EXPECT_NE(std::string(e.what()).find("unknown placeholder {lo} in the worker command '--lo {lo}'"), std::string::npos) << e.what();
  }
  EXPECT_EQ(ShellQuote("a/b.py"), "a/b.py");
  EXPECT_EQ(ShellQuote("it's x"), "'it'\\''s x'");
  EXPECT_EQ(ShellQuote(""), "''");
}

}  // namespace
}  // namespace sluice::shard
