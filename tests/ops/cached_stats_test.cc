// A cached integer stat (`__dj__stats__`, datajuicer-ops.md §1.3) is range-checked as DataJuicer's Python
// checks it: an int of any size compared exactly with the thresholds. An integer beyond int64 was an op
// error ("not a number"), and an int64 beyond 2^53 was rounded to a double first, so 2^53 + 1 passed a bound
// of 2^53. Each expectation below is what Python's `min <= v <= max` (or its reversed_range form) gives.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "op_harness.h"

namespace sluice {
namespace {

using testing::B;
using testing::D;
using testing::Dataset;
using testing::I;
using testing::MakeOp;
using testing::ParamList;

// The `id`s of the records `op` with `params` keeps, each record {"id":k,"text":"x","__dj__stats__":{key: v}}
// for the k-th value (raw JSON).
std::vector<int> Kept(const char* op_name, const ParamList& params, const char* key, const std::vector<std::string>& values) {
  auto op = MakeOp(op_name, params);
  Dataset ds;
  for (size_t k = 0; k < values.size(); ++k) {
    std::string line = "{\"id\":" + std::to_string(k) + ",\"text\":\"x\",\"__dj__stats__\":{\"" + key + "\":" + values[k] + "}}";
    EXPECT_EQ(ds.Add(line), ParseStatus::kOk) << line;
  }
  ds.Run(*op);
  return ds.Ids();
}

// Float thresholds: 2**64 + 1 <= 2.0**64 is False in Python, 2**64 - 1 (a uint64) and 2**64 itself pass.
TEST(CachedStats, IntegersBeyondInt64AgainstAFloatBound) {
  const std::vector<std::string> values = {"18446744073709551617", "18446744073709551616", "18446744073709551615",
                                           "-99999999999999999999999", "99999999999999999999999"};
  ParamList p = {{"min_ratio", D(-18446744073709551616.0)}, {"max_ratio", D(18446744073709551616.0)}};
  EXPECT_EQ(Kept("alphanumeric_filter", p, "alnum_ratio", values), (std::vector<int>{1, 2}));
  // Open bounds: 2**64 itself fails max_ratio too.
  p.push_back({"max_closed_interval", B(false)});
  EXPECT_EQ(Kept("alphanumeric_filter", p, "alnum_ratio", values), (std::vector<int>{2}));
  // reversed_range keeps the complement, the closedness flipped first (§1.4).
  ParamList r = {{"min_ratio", D(-18446744073709551616.0)}, {"max_ratio", D(18446744073709551616.0)},
                 {"reversed_range", B(true)}};
  EXPECT_EQ(Kept("alphanumeric_filter", r, "alnum_ratio", values), (std::vector<int>{0, 1, 3, 4}));
  // A fractional bound: 3 > 2.5, 2 < 2.5, whatever size the integer is written in.
  ParamList f = {{"min_ratio", D(2.5)}, {"max_ratio", D(1e30)}};
  EXPECT_EQ(Kept("alphanumeric_filter", f, "alnum_ratio", {"2", "3", "-1", "100000000000000000000000000000"}),
            (std::vector<int>{1, 3}));
}

// text_length_filter's integer bounds (held as doubles, exact up to 2^53): a cached int64 just past 2^53
// is not rounded onto the bound, and an integer beyond int64 is compared, not refused.
TEST(CachedStats, TextLengthFilterComparesCachedIntegersExactly) {
  const std::vector<std::string> values = {"9007199254740993", "9007199254740992", "99999999999999999999999",
                                           "-99999999999999999999999", "7"};
  EXPECT_EQ(Kept("text_length_filter", {{"min_len", I(5)}, {"max_len", I(9007199254740992)}}, "text_len", values),
            (std::vector<int>{1, 4}));
  // The default max_len (sys.maxsize): beyond-int64 values fail it, as Python's int comparison fails them.
  EXPECT_EQ(Kept("text_length_filter", {{"min_len", I(5)}}, "text_len", values), (std::vector<int>{0, 1, 4}));
  EXPECT_EQ(Kept("text_length_filter", {{"min_len", I(5)}, {"max_len", I(10)}, {"reversed_range", B(true)}}, "text_len",
                 values),
            (std::vector<int>{0, 1, 2, 3}));
}

// What is not a number stays an op error, as Python's comparison of a str with a float raises TypeError.
TEST(CachedStats, NonNumbersAreStillRefused) {
  for (const char* v : {"\"5\"", "[1]", "null", "{}"}) {
    auto op = MakeOp("text_length_filter", {{"min_len", I(5)}});
    Dataset ds;
    ASSERT_EQ(ds.Add(std::string(R"({"text":"x","__dj__stats__":{"text_len":)") + v + "}}"), ParseStatus::kOk) << v;
    EXPECT_THROW(ds.Run(*op), Error) << v;
  }
}

}  // namespace
}  // namespace sluice
