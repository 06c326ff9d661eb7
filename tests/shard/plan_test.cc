// Planning: key encoding and order, near-equal contiguous ranges over the distinct keys, re-planning
// around completed ranges, the key scan's type decision and errors, and plan.json round trips.
#include "shard/plan.h"

#include "core/error.h"
#include "shard_fixture.h"

namespace sluice::shard {
namespace {

std::vector<std::string> IntKeys(std::vector<int64_t> v) {
  std::vector<std::string> out;
  for (auto k : v) out.push_back(*EncodeKey(KeyType::kInt, std::to_string(k)));
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> Texts(KeyType t, const std::vector<ShardRange>& r) {
  std::vector<std::string> out;
  for (const auto& s : r) out.push_back(KeyText(t, s.range.low) + "-" + (s.range.unbounded ? "" : KeyText(t, s.range.high)) + ":" + std::to_string(s.keys));
  return out;
}

TEST(Keys, IntEncodingKeepsNumericOrder) {
  EXPECT_LT(*EncodeKey(KeyType::kInt, "-5"), *EncodeKey(KeyType::kInt, "3"));
  EXPECT_LT(*EncodeKey(KeyType::kInt, "9"), *EncodeKey(KeyType::kInt, "10"));
  EXPECT_EQ(KeyText(KeyType::kInt, *EncodeKey(KeyType::kInt, "-9223372036854775808")), "-9223372036854775808");
  EXPECT_EQ(KeyText(KeyType::kInt, *EncodeKey(KeyType::kInt, "007")), "7");
  for (const char* bad : {"", "1.5", "1e3", " 1", "+1", "x", "99999999999999999999"}) EXPECT_FALSE(EncodeKey(KeyType::kInt, bad)) << bad;
  // Strings: bytes, not numbers and not locale.
  EXPECT_LT(*EncodeKey(KeyType::kString, "10"), *EncodeKey(KeyType::kString, "9"));
  EXPECT_LT(*EncodeKey(KeyType::kString, "B"), *EncodeKey(KeyType::kString, "a"));
  EXPECT_EQ(FileSafe("a/b_c d"), "a%2Fb%5Fc%20d");
  EXPECT_NE(FileSafe(std::string(100, 'x') + "1"), FileSafe(std::string(100, 'x') + "2"));
  EXPECT_LE(FileSafe(std::string(300, '/')).size(), 70u);
}

TEST(SplitKeys, NearEqualContiguousRanges) {
  auto keys = IntKeys({0, 1, 2, 3, 5, 8, 9, 20, 21, 22});
  EXPECT_EQ(Texts(KeyType::kInt, SplitKeys(keys, 3, KeyType::kInt, {}, 0)),
            (std::vector<std::string>{"0-5:4", "5-20:3", "20-23:3"}));
  // Never more ranges than keys.
  EXPECT_EQ(SplitKeys(IntKeys({4, 7}), 5, KeyType::kInt, {}, 0).size(), 2u);
  // String keys: the last range has no upper bound.
  std::vector<std::string> s = {"a", "b", "c"};
  EXPECT_EQ(Texts(KeyType::kString, SplitKeys(s, 2, KeyType::kString, {}, 0)), (std::vector<std::string>{"a-c:2", "c-:1"}));
}

TEST(SplitKeys, ReplanSplitsOnlyUncoveredKeysAroundKeptRanges) {
  auto keys = IntKeys({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  KeyRange kept{*EncodeKey(KeyType::kInt, "4"), *EncodeKey(KeyType::kInt, "8")};
  auto r = SplitKeys(keys, 2, KeyType::kInt, {kept}, 5);
  // 8 free keys in 2 chunks of 4 (0-3, 8-11), the first ending where the kept range starts.
  EXPECT_EQ(Texts(KeyType::kInt, r), (std::vector<std::string>{"0-4:4", "8-12:4"}));
  EXPECT_EQ(r[0].index, 5);
  // One chunk spanning the kept range is cut in two there.
  EXPECT_EQ(Texts(KeyType::kInt, SplitKeys(keys, 1, KeyType::kInt, {kept}, 0)), (std::vector<std::string>{"0-4:4", "8-12:4"}));
  // Every key covered by exactly one range, kept or new.
  for (int n = 1; n <= 9; ++n) {
    auto ranges = SplitKeys(keys, n, KeyType::kInt, {kept}, 0);
    for (const auto& k : keys) {
      int hits = kept.Contains(k);
      for (const auto& s : ranges) hits += s.range.Contains(k);
      EXPECT_EQ(hits, 1) << n;
    }
  }
  EXPECT_TRUE(SplitKeys(IntKeys({4, 5}), 3, KeyType::kInt, {kept}, 0).empty());
}

struct ScanTest : TempDirTest {};

TEST_F(ScanTest, FirstKeyDecidesTheTypeAndLaterKeysMustAgree) {
  auto s = ScanKeys(Env::Default(), Write("a.csv", "id,x\n10,a\n9,b\n10,c\n-1,d\n"), "id", std::nullopt);
  EXPECT_EQ(s.type, KeyType::kInt);
  EXPECT_EQ(s.rows, 4u);
  EXPECT_EQ(s.keys, IntKeys({-1, 9, 10}));
  EXPECT_EQ(s.fingerprint.size, 24u);
  EXPECT_EQ(s.fingerprint.xxh3, FingerprintFile(Env::Default(), dir + "/a.csv").xxh3);
  std::string p = Write("b.csv", "id,x\n10,a\n9,b\nabc,c\n");
  try {
    ScanKeys(Env::Default(), p, "id", std::nullopt);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kData);
    EXPECT_NE(std::string(e.what()).find(p + ":4: key 'abc' of column 'id' is not an integer"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--key-type string"), std::string::npos);
  }
  auto str = ScanKeys(Env::Default(), p, "id", KeyType::kString);
  EXPECT_EQ(str.keys, (std::vector<std::string>{"10", "9", "abc"}));
  EXPECT_EQ(ScanKeys(Env::Default(), Write("c.csv", "id\nx1\n5\n"), "id", std::nullopt).type, KeyType::kString);
  try {
    ScanKeys(Env::Default(), Write("h.csv", "id,x\n"), "id", std::nullopt);
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no records"), std::string::npos);
  }
}

TEST(PlanJson, RoundTrips) {
  for (KeyType t : {KeyType::kInt, KeyType::kString}) {
    Plan p;
    p.input = "/x/t.csv";
    p.key_column = "data_id";
    p.key_type = t;
    p.fingerprint = {123, 456, "00ff"};
    p.rows = 10;
    p.distinct_keys = 3;
    p.num_workers = 2;
    p.shards = SplitKeys(t == KeyType::kInt ? IntKeys({1, 2, 3}) : std::vector<std::string>{"a", "b", "c"}, 2, t, {}, 0);
    Plan q = Plan::Parse(p.ToJson(), "plan.json");
    EXPECT_EQ(q.ToJson(), p.ToJson());
    EXPECT_EQ(q.shards.back().range.unbounded, t == KeyType::kString);
  }
  EXPECT_THROW(Plan::Parse("{\"input\":1}", "plan.json"), Error);
}

}  // namespace
}  // namespace sluice::shard
