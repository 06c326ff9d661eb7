// CompareIntegerWithDouble against Python's int/float comparison at its edges: the int64 and uint64 bounds,
// 2^53 (past it a double cannot hold every integer), negative values, fractions, zero's sign, infinities
// and NaN. The expected orders are Python's (`2**64 + 1 > 2.0**64` is True).
#include "core/exact_compare.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace sluice {
namespace {

const char* Order(std::partial_ordering o) {
  if (o == std::partial_ordering::unordered) return "unordered";
  return o < 0 ? "<" : o > 0 ? ">" : "==";
}

TEST(ExactCompare, BigIntegersAgainstDoublesAsPython) {
  const double inf = std::numeric_limits<double>::infinity();
  const double p64 = 18446744073709551616.0, p63 = 9223372036854775808.0;
  struct Case {
    const char* integer;
    double d;
    const char* order;
  } cases[] = {
      {"18446744073709551617", p64, ">"},  // 2**64 + 1 > 2.0**64: a double conversion would make them equal
      {"18446744073709551616", p64, "=="},
      {"18446744073709551615", p64, "<"},  // 2**64 - 1 < 2.0**64: the same rounding would make them equal
      {"9223372036854775808", p63, "=="},
      {"9223372036854775809", p63, ">"},
      {"9223372036854775807", p63, "<"},
      {"-9223372036854775809", -p63, "<"},
      {"-9223372036854775808", -p63, "=="},
      {"-18446744073709551617", -p64, "<"},
      {"-18446744073709551615", -p64, ">"},
      {"99999999999999999999999", 1e23, ">"},  // 1e23 is 99999999999999991611392
      {"99999999999999991611392", 1e23, "=="},
      {"99999999999999991611391", 1e23, "<"},
      {"1", 1.5, "<"},
      {"2", 1.5, ">"},
      {"-1", -1.5, ">"},
      {"-2", -1.5, "<"},
      {"1", 0.5, ">"},
      {"0", 0.5, "<"},
      {"0", -0.5, ">"},
      {"0", 0.0, "=="},
      {"0", -0.0, "=="},
      {"-0", 0.0, "=="},
      {"-0", 0.5, "<"},
      {"5", -3.0, ">"},
      {"-5", 3.0, "<"},
      {"99999999999999999999999", inf, "<"},
      {"-99999999999999999999999", inf, "<"},
      {"99999999999999999999999", -inf, ">"},
      {"-99999999999999999999999", -inf, ">"},
      {"1", std::nan(""), "unordered"},
      {"99999999999999999999999", std::nan(""), "unordered"},
  };
  for (const auto& c : cases) {
    ASSERT_TRUE(IsJsonInteger(c.integer)) << c.integer;
    EXPECT_STREQ(Order(CompareIntegerWithDouble(c.integer, c.d)), c.order) << c.integer << " vs " << c.d;
  }
  // The largest double (309 integral digits, all of them compared), one above and below it, and 10**309.
  const double max = std::numeric_limits<double>::max();
  const std::string dbl_max =
      "179769313486231570814527423731704356798070567525844996598917476803157260780028538760589558632766878171540"
      "458953514382464234321326889464182768467546703537516986049910576551282076245490090389328944075868508455133"
      "942304583236903222948165808559332123348274797826204144723168738177180919299881250404026184124858368";
  EXPECT_STREQ(Order(CompareIntegerWithDouble(dbl_max, max)), "==");
  EXPECT_STREQ(Order(CompareIntegerWithDouble(dbl_max.substr(0, 308) + "9", max)), ">");
  EXPECT_STREQ(Order(CompareIntegerWithDouble(dbl_max.substr(0, 308) + "7", max)), "<");
  EXPECT_STREQ(Order(CompareIntegerWithDouble("-" + dbl_max.substr(0, 308) + "9", -max)), "<");
  EXPECT_STREQ(Order(CompareIntegerWithDouble("1" + std::string(309, '0'), max)), ">");
  EXPECT_STREQ(Order(CompareIntegerWithDouble("1" + std::string(309, '0'), inf)), "<");
}

TEST(ExactCompare, Int64BeyondTwoTo53IsNotRounded) {
  // 2**53 + 1 > 2.0**53 in Python; as a double it would equal it.
  EXPECT_STREQ(Order(CompareIntegerWithDouble(int64_t{9007199254740993}, 9007199254740992.0)), ">");
  EXPECT_STREQ(Order(CompareIntegerWithDouble(int64_t{-9007199254740993}, -9007199254740992.0)), "<");
  EXPECT_STREQ(Order(CompareIntegerWithDouble(int64_t{9007199254740992}, 9007199254740992.0)), "==");
  EXPECT_STREQ(Order(CompareIntegerWithDouble(std::numeric_limits<int64_t>::max(), 9223372036854775808.0)), "<");
  EXPECT_STREQ(Order(CompareIntegerWithDouble(std::numeric_limits<int64_t>::min(), -9223372036854775808.0)), "==");
  EXPECT_STREQ(Order(CompareIntegerWithDouble(int64_t{3}, 2.5)), ">");
  EXPECT_STREQ(Order(CompareIntegerWithDouble(int64_t{3}, std::nan(""))), "unordered");
}

// The 128-bit overload (field filters' ints) agrees with the decimal-text one everywhere it is defined.
TEST(ExactCompare, Int128AgreesWithTheDecimalText) {
  const __int128 two64 = static_cast<__int128>(1) << 64, max128 = ~(static_cast<__int128>(1) << 127);
  struct Case { __int128 i; const char* text; };
  const Case cases[] = {{0, "0"}, {-1, "-1"}, {two64 + 1, "18446744073709551617"}, {two64 - 1, "18446744073709551615"},
                        {-two64 - 1, "-18446744073709551617"}, {max128, "170141183460469231731687303715884105727"},
                        {-max128 - 1, "-170141183460469231731687303715884105728"}};
  const double ds[] = {0.0, -0.0, 0.5, -1.0, 18446744073709551616.0, -18446744073709551616.0, 0x1p127, -0x1p127,
                       0x1p126 + 0x1p74, 1e300, -1e300, std::numeric_limits<double>::infinity(),
                       -std::numeric_limits<double>::infinity(), std::nan("")};
  for (const Case& c : cases)
    for (double d : ds)
      EXPECT_STREQ(Order(CompareIntegerWithDouble(c.i, d)), Order(CompareIntegerWithDouble(std::string_view(c.text), d)))
          << c.text << " vs " << d;
  // 2**64 + 1 > 2.0**64 in Python; rounded to a double it would be equal.
  EXPECT_STREQ(Order(CompareIntegerWithDouble(two64 + 1, 18446744073709551616.0)), ">");
  EXPECT_STREQ(Order(CompareIntegerWithDouble(-max128 - 1, -0x1p127)), "==");
  EXPECT_STREQ(Order(CompareIntegerWithDouble(max128, 0x1p127)), "<");
}

TEST(ExactCompare, IsJsonIntegerFollowsJsonsGrammar) {
  for (const char* t : {"0", "-0", "7", "-12", "18446744073709551617"}) EXPECT_TRUE(IsJsonInteger(t)) << t;
  for (const char* t : {"", "-", "01", "-01", "1.0", "1e5", "+1", "1 ", "\"1\"", "true"}) EXPECT_FALSE(IsJsonInteger(t)) << t;
}

}  // namespace
}  // namespace sluice
