// Selectors (ops/selector/selectors.cc) beyond DataJuicer's vectors: ties, values of every JSON type,
// stats_to_number, Python equality in grouping, the n == 0 / n > N cases of random_selector, the cases
// where DataJuicer's selector fails (construction or run), and the engine's path: keep bits in input
// order, the same whatever the fingerprint blocks (partitioning) or the memory budget (spilled sorts),
// checked against brute-force references.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <random>

#include "op_harness.h"
#include "temp_dir.h"

namespace sluice {
namespace {

using testing::Dataset;
using testing::MakeOp;
using testing::MemoryFingerprints;
using testing::ParamList;
using testing::S;
using testing::I;
using testing::D;
using testing::B;
using testing::L;

// Runs `op` over records {"id": i, ...fields} built from `values` (JSON texts of field `v`, or of the
// whole remainder of the record when it starts with '"'), and returns the ids of the output in
// DataJuicer's order.
std::vector<int> RunSel(const std::string& name, const ParamList& params, const std::vector<std::string>& records) {
  auto op = MakeOp(name, params);
  Dataset ds;
  for (size_t i = 0; i < records.size(); ++i) {
    std::string err;
    std::string json = "{\"id\":" + std::to_string(i) + ",\"text\":\"t" + std::to_string(i) + "\"" +
                       (records[i].empty() ? "" : "," + records[i]) + "}";
    EXPECT_EQ(ds.Add(json, &err), ParseStatus::kOk) << json << ": " << err;
  }
  ds.Run(*op);
  return ds.Ids();
}

// Records {"v": value} for each JSON value.
std::vector<std::string> Values(const std::vector<std::string>& vs) {
  std::vector<std::string> r;
  for (const auto& v : vs) r.push_back(v == "<missing>" ? "" : "\"v\":" + v);
  return r;
}
// Records {"m": {"v": value}}.
std::vector<std::string> Nested(const std::vector<std::string>& vs) {
  std::vector<std::string> r;
  for (const auto& v : vs) r.push_back(v == "<missing>" ? "\"m\":{}" : "\"m\":{\"v\":" + v + "}");
  return r;
}

using Ids = std::vector<int>;

ErrorKind KindOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.kind();
  }
  return ErrorKind::kInternal;  // "no error" reads as kInternal: no test expects that kind
}

TEST(TopkSelector, TiesGoToTheLowerIndexAndOutputIsByValue) {
  auto vs = Values({"5", "7", "7", "3", "7", "3"});
  EXPECT_EQ(RunSel("topk_specified_field_selector", {{"field_key", S("v")}, {"topk", I(2)}}, vs), (Ids{1, 2}));
  EXPECT_EQ(RunSel("topk_specified_field_selector", {{"field_key", S("v")}, {"topk", I(4)}}, vs), (Ids{1, 2, 4, 0}));
  EXPECT_EQ(RunSel("topk_specified_field_selector", {{"field_key", S("v")}, {"topk", I(3)}, {"reverse", B(false)}}, vs),
            (Ids{3, 5, 0}));
  // topk beyond N: everything, by value.
  EXPECT_EQ(RunSel("topk_specified_field_selector", {{"field_key", S("v")}, {"topk", I(60)}, {"reverse", B(false)}}, vs),
            (Ids{3, 5, 0, 1, 2, 4}));
}

TEST(TopkSelector, FalsyTopRatioFallsBackToTopkAndIntTruncates) {
  auto vs = Values({"1", "2", "3", "4", "5"});
  auto run = [&](ParamList p) {
    p.emplace_back("field_key", S("v"));
    return RunSel("topk_specified_field_selector", p, vs);
  };
  EXPECT_EQ(run({{"top_ratio", D(0)}, {"topk", I(2)}}), (Ids{4, 3}));         // 0 is falsy: topk
  EXPECT_EQ(run({{"top_ratio", D(0)}}), (Ids{0, 1, 2, 3, 4}));               // neither: unchanged
  EXPECT_EQ(run({}), (Ids{0, 1, 2, 3, 4}));
  EXPECT_EQ(run({{"top_ratio", D(0.1)}}), (Ids{}));                          // int(0.5) == 0: nothing
  EXPECT_EQ(run({{"top_ratio", D(0.59)}}), (Ids{4, 3}));                     // int(2.95) == 2
  EXPECT_EQ(run({{"top_ratio", D(0.8)}, {"topk", I(1)}}), (Ids{4}));         // the smaller applies
  EXPECT_EQ(run({{"top_ratio", D(0.4)}, {"topk", I(3)}}), (Ids{4, 3}));
  EXPECT_EQ(RunSel("topk_specified_field_selector", {{"topk", I(1)}}, vs), (Ids{0, 1, 2, 3, 4}));  // empty key
  EXPECT_EQ(RunSel("topk_specified_field_selector", {{"field_key", S("v")}, {"topk", I(1)}}, Values({"1"})), (Ids{0}));
}

TEST(TopkSelector, SingleLevelKeyComparesRawNumbersExactly) {
  // 2**53 + 1 (an int) is larger than 2.0**53 (a float), as in Python; a double comparison would tie.
  auto vs = Values({"9007199254740992.0", "9007199254740993", "true", "18446744073709551615"});
  EXPECT_EQ(RunSel("topk_specified_field_selector", {{"field_key", S("v")}, {"topk", I(4)}}, vs), (Ids{3, 1, 0, 2}));
  // null or a dict cannot be ordered (Python's TypeError); strings and lists are not supported.
  for (const char* bad : {"null", "<missing>", "{\"a\":1}", "\"abc\"", "[1]"}) {
    auto with = Values({"1", bad, "2"});
    EXPECT_EQ(KindOf([&] { RunSel("topk_specified_field_selector", {{"field_key", S("v")}, {"topk", I(1)}}, with); }),
              ErrorKind::kData)
        << bad;
    // ...unless nothing is compared: int(n) == 0.
    EXPECT_EQ(RunSel("topk_specified_field_selector", {{"field_key", S("v")}, {"top_ratio", D(0.2)}}, with), (Ids{})) << bad;
  }
}

TEST(TopkSelector, DottedKeyUsesStatsToNumber) {
  // Strings as Python's float(), lists as numpy's mean, the rest unusable (-maxsize when reverse, else
  // +maxsize, compared exactly: -9223372036854775807 > -2.0**63).
  auto vs = Nested({"\"12\"", "[1, 2, 3]", "null", "\"abc\"", "\" \\u0661\\u0663 \"", "\"1_000\"", "[[1, 2], [3, 4]]",
                    "[[1], [2, 3]]", "{\"x\": 5}", "[]", "<missing>", "-9223372036854775808.0", "\"-inf\"", "true",
                    "\"1e400\"", "\"0x10\"", "\"1__0\"", "[true, 2.5]", "[\"1\", 2]"});
  // values: 12, 2, U, U, 13, 1000, 2.5, U, U, U, U, -2**63, -inf, 1, inf, U, U, 1.75, U
  EXPECT_EQ(RunSel("topk_specified_field_selector", {{"field_key", S("m.v")}, {"topk", I(9)}}, vs),
            (Ids{14, 5, 4, 0, 6, 1, 17, 13, 2}));
  EXPECT_EQ(RunSel("topk_specified_field_selector", {{"field_key", S("m.v")}, {"topk", I(19)}}, vs),
            (Ids{14, 5, 4, 0, 6, 1, 17, 13, 2, 3, 7, 8, 9, 10, 15, 16, 18, 11, 12}));
  EXPECT_EQ(RunSel("topk_specified_field_selector", {{"field_key", S("m.v")}, {"topk", I(6)}, {"reverse", B(false)}}, vs),
            (Ids{12, 11, 13, 17, 1, 6}));
  EXPECT_EQ(RunSel("topk_specified_field_selector", {{"field_key", S("m.v")}, {"topk", I(19)}, {"reverse", B(false)}}, vs),
            (Ids{12, 11, 13, 17, 1, 6, 0, 4, 5, 2, 3, 7, 8, 9, 10, 15, 16, 18, 14}));
}

TEST(TopkSelector, StatsAndTextAreTheCurrentOnes) {
  // __dj__stats__ keys read the stats earlier filters computed; the text key the current text.
  Dataset ds;
  for (const char* t : {"abc", "abcdefgh", "a", "abcdef"}) ds.Add(std::string("{\"text\":\"") + t + "\"}");
  auto len = MakeOp("text_length_filter", {{"min_len", I(0)}});
  ds.Run(*len);
  auto op = MakeOp("topk_specified_field_selector", {{"field_key", S("__dj__stats__.text_len")}, {"topk", I(2)}});
  ds.Run(*op);
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_NE(ds.Json(0).find("\"abcdefgh\""), std::string::npos);
  EXPECT_NE(ds.Json(1).find("\"abcdef\""), std::string::npos);
}

TEST(FieldSelectors, DataJuicersFailuresOnThePath) {
  // The last key missing reads as null; a level above it missing, null or not a dict fails (DataJuicer's
  // AttributeError), and so does a key no sample has (its assert).
  std::vector<std::string> recs = {"\"m\":{\"v\":1}", "\"m\":{}", "\"m\":{\"v\":2}"};
  EXPECT_EQ(RunSel("topk_specified_field_selector", {{"field_key", S("m.v")}, {"topk", I(3)}}, recs), (Ids{2, 0, 1}));
  for (const char* broken : {"\"m\":null", "\"m\":\"x\"", "\"n\":1"}) {
    std::vector<std::string> r = {"\"m\":{\"v\":1}", broken, "\"m\":{\"v\":2}"};
    for (const char* op : {"topk_specified_field_selector", "range_specified_field_selector",
                           "frequency_specified_field_selector", "tags_specified_field_selector"}) {
      ParamList p = {{"field_key", S("m.v")}, {"topk", I(1)}, {"lower_rank", I(1)}, {"upper_rank", I(2)},
                     {"target_tags", L({"a"})}};
      ParamList own;
      for (auto& [k, v] : p)
        for (const auto& spec : FindOp(op)->params)
          if (spec.name == k) own.emplace_back(k, v);
      EXPECT_EQ(KindOf([&] { RunSel(op, own, r); }), ErrorKind::kData) << op << " " << broken;
      EXPECT_EQ(KindOf([&] { RunSel(op, own, Values({"1", "2"})); }), ErrorKind::kData) << op << ": no sample has m";
      EXPECT_EQ(KindOf([&] { RunSel(op, own, Nested({"<missing>", "<missing>"})); }), ErrorKind::kData) << op;
    }
  }
}

TEST(RangeSelector, BoundsTiesAndOrder) {
  auto run = [](ParamList p, const std::vector<std::string>& vs) {
    p.emplace_back("field_key", S("v"));
    return RunSel("range_specified_field_selector", p, vs);
  };
  // All equal: the `upper` first, then of those the upper - lower with the lowest indices.
  EXPECT_EQ(run({{"lower_rank", I(1)}, {"upper_rank", I(3)}}, Values({"5", "5", "5", "5"})), (Ids{0, 1}));
  // Ranks beyond N: upper = min(N, 10); a lower bound beyond N leaves nothing.
  EXPECT_EQ(run({{"lower_rank", I(1)}, {"upper_rank", I(10)}}, Values({"1", "4", "2", "3"})), (Ids{1, 3, 2}));
  EXPECT_EQ(run({{"lower_rank", I(10)}, {"upper_rank", I(20)}}, Values({"1", "4", "2", "3"})), (Ids{}));
  // A missing lower or upper bound: unchanged.
  EXPECT_EQ(run({{"upper_rank", I(2)}}, Values({"3", "1", "2"})), (Ids{0, 1, 2}));
  EXPECT_EQ(run({{"lower_percentile", D(0.5)}}, Values({"3", "1", "2"})), (Ids{0, 1, 2}));
  // lower = max(int(0.34 * 6) = 2, lower_rank 1), upper = min(int(0.99 * 6) = 5, upper_rank 6) -> values
  // ranked 3..5 ascending, output descending.
  auto vs = Values({"60", "10", "50", "20", "40", "30"});
  EXPECT_EQ(run({{"lower_percentile", D(0.34)}, {"upper_percentile", D(0.99)}, {"lower_rank", I(1)}, {"upper_rank", I(6)}}, vs),
            (Ids{2, 4, 5}));
  // upper < lower: upper = lower, nothing.
  EXPECT_EQ(run({{"lower_rank", I(4)}, {"upper_rank", I(2)}}, vs), (Ids{}));
  // Unusable values are -maxsize (stats_to_number's default reverse): the smallest.
  EXPECT_EQ(run({{"lower_rank", I(1)}, {"upper_rank", I(2)}}, Values({"\"x\"", "null", "[]", "0"})), (Ids{0}));
  // Ties at the boundary with other values around them.
  auto t = Values({"1", "2", "2", "3", "2", "2", "4"});  // ascending: 1(0) 2(1) 2(2) 2(4) 2(5) 3(3) 4(6)
  EXPECT_EQ(run({{"lower_rank", I(2)}, {"upper_rank", I(5)}}, t), (Ids{1, 2, 4}));
  EXPECT_EQ(run({{"lower_rank", I(3)}, {"upper_rank", I(6)}}, t), (Ids{3, 1, 2}));
}

TEST(FrequencySelector, GroupsByPythonEquality) {
  // 1 == 1.0 == True; a missing value is null; "1" is its own group.
  auto vs = Values({"1", "\"1\"", "1.0", "null", "true", "<missing>", "\"a\""});
  auto run = [&](ParamList p) {
    p.emplace_back("field_key", S("v"));
    return RunSel("frequency_specified_field_selector", p, vs);
  };
  EXPECT_EQ(run({{"topk", I(1)}}), (Ids{0, 2, 4}));
  EXPECT_EQ(run({{"topk", I(2)}}), (Ids{0, 2, 4, 3, 5}));
  // Ascending, ties by first appearance: "1" (index 1) before "a" (index 6).
  EXPECT_EQ(run({{"topk", I(2)}, {"reverse", B(false)}}), (Ids{1, 6}));
  // top_ratio over the 4 distinct values: int(0.5 * 4) = 2; 0 falls back to topk; neither: unchanged.
  EXPECT_EQ(run({{"top_ratio", D(0.5)}}), (Ids{0, 2, 4, 3, 5}));
  EXPECT_EQ(run({{"top_ratio", D(0)}, {"topk", I(1)}}), (Ids{0, 2, 4}));
  EXPECT_EQ(run({{"top_ratio", D(0.2)}}), (Ids{}));
  EXPECT_EQ(run({}), (Ids{0, 1, 2, 3, 4, 5, 6}));
  // Lists and dicts fail DataJuicer's assertion, even when nothing would be selected.
  for (const char* bad : {"[1]", "{\"a\":1}"})
    EXPECT_EQ(KindOf([&] { RunSel("frequency_specified_field_selector", {{"field_key", S("v")}}, Values({"1", bad})); }),
              ErrorKind::kData);
  // -0.0 == 0 and big integers.
  EXPECT_EQ(RunSel("frequency_specified_field_selector", {{"field_key", S("v")}, {"topk", I(1)}},
                Values({"5", "-0.0", "0", "18446744073709551615", "1.8446744073709552e19", "0.0"})),
            (Ids{1, 2, 5}));
}

TEST(TagsSelector, StringMembershipInInputOrder) {
  auto vs = Nested({"\"happy\"", "1", "\"sad\"", "null", "\"Happy\"", "<missing>", "\"happy\""});
  EXPECT_EQ(RunSel("tags_specified_field_selector", {{"field_key", S("m.v")}, {"target_tags", L({"happy", "1", "sad"})}}, vs),
            (Ids{0, 2, 6}));
  EXPECT_EQ(RunSel("tags_specified_field_selector", {{"field_key", S("m.v")}, {"target_tags", L({})}}, vs), (Ids{}));
  EXPECT_EQ(RunSel("tags_specified_field_selector", {{"target_tags", L({})}}, vs), (Ids{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(KindOf([&] {
              RunSel("tags_specified_field_selector", {{"field_key", S("m.v")}, {"target_tags", L({"a"})}},
                  Nested({"\"a\"", "[\"a\"]"}));
            }),
            ErrorKind::kData);
}

TEST(Selectors, ConstructionErrors) {
  auto usage = [](const std::string& op, const ParamList& p) { return KindOf([&] { MakeOp(op, p); }) == ErrorKind::kUsage; };
  EXPECT_TRUE(usage("tags_specified_field_selector", {{"field_key", S("v")}}));  // target_tags null: set(None)
  EXPECT_TRUE(usage("tags_specified_field_selector", {{"target_tags", S("happy")}}));
  EXPECT_TRUE(usage("tags_specified_field_selector", {{"target_tags", ParamValue::List({I(1)})}}));
  EXPECT_TRUE(usage("topk_specified_field_selector", {{"topk", I(0)}}));
  EXPECT_TRUE(usage("topk_specified_field_selector", {{"top_ratio", D(1.5)}}));
  EXPECT_TRUE(usage("topk_specified_field_selector", {{"top_ratio", D(-0.1)}}));
  EXPECT_TRUE(usage("frequency_specified_field_selector", {{"topk", I(-2)}}));
  EXPECT_TRUE(usage("range_specified_field_selector", {{"lower_rank", I(0)}}));
  EXPECT_TRUE(usage("range_specified_field_selector", {{"upper_percentile", D(2)}}));
  EXPECT_TRUE(usage("random_selector", {{"select_num", I(0)}}));
  EXPECT_TRUE(usage("random_selector", {{"select_ratio", D(1.01)}}));
  EXPECT_TRUE(usage("random_selector", {{"select_ratio", D(0)}}));  // DataJuicer samples None and fails
  EXPECT_FALSE(usage("random_selector", {{"select_ratio", D(0)}, {"select_num", I(3)}}));
  EXPECT_FALSE(usage("tags_specified_field_selector", {{"target_tags", L({"a"})}}));
  EXPECT_STREQ(OpKindName(FindOp("random_selector")->kind), "selector");
}

// ---- the engine's path: Decide over fingerprints ----

// Fingerprints of `records` (JSON objects) for `op`.
std::vector<uint8_t> FingerprintsOf(Deduplicator& d, const std::vector<std::string>& records) {
  Dataset ds;
  for (const auto& r : records) ds.Add(r);
  std::vector<uint8_t> out;
  for (size_t i = 0; i < ds.size(); ++i) {
    d.Fingerprint(ds[i]);
    auto f = d.fingerprint();
    out.insert(out.end(), f.begin(), f.end());
  }
  return out;
}

struct Decision {
  std::vector<bool> keep;
  std::vector<uint64_t> order;
};

Decision Decide(Op& op, const std::vector<uint8_t>& fps, size_t block, uint64_t memory, const std::string& scratch) {
  auto& sel = dynamic_cast<Selector&>(op);
  MemoryFingerprints src(fps, sel.fingerprint_size(), block);
  DedupContext ctx;
  ctx.env = Env::Default();
  ctx.scratch_dir = scratch;
  ctx.memory_bytes = memory;
  Decision d;
  d.keep.assign(src.count(), false);
  sel.Select(src, ctx, d.keep, &d.order);
  std::vector<bool> keep2(src.count(), false);
  MemoryFingerprints src2(fps, sel.fingerprint_size(), block);
  sel.Decide(src2, ctx, keep2);
  EXPECT_EQ(keep2, d.keep) << "Decide and Select disagree";
  return d;
}

class SelectorDecisions : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937_64 rng(5);
    for (int i = 0; i < 5000; ++i) {
      int v = static_cast<int>(rng() % 700);  // many ties
      values_.push_back(v);
      records_.push_back("{\"text\":\"x\",\"m\":{\"v\":" + std::to_string(v) + ",\"g\":\"g" + std::to_string(v % 97) + "\"}}");
    }
  }

  // The same decision whatever the blocks or the budget (a small one spills sorted runs).
  Decision Check(const std::string& name, const ParamList& p) {
    auto op = MakeOp(name, p);
    auto fps = FingerprintsOf(static_cast<Deduplicator&>(*op), records_);
    Decision ref = Decide(*op, fps, 4096, kDedupMemoryBudget, scratch_);
    for (size_t block : {1, 7, 1000}) {
      Decision d = Decide(*op, fps, block, 40 << 10, scratch_);
      EXPECT_EQ(d.keep, ref.keep) << name << " block " << block;
      EXPECT_EQ(d.order, ref.order) << name << " block " << block;
    }
    EXPECT_FALSE(std::filesystem::exists(scratch_) && !std::filesystem::is_empty(scratch_)) << "spill files left";
    return ref;
  }

  testing::TempDir tmp_{"sluice-selectors"};
  std::string scratch_ = tmp_.path() + "/scratch";  // not made here: a spilling decision creates it
  std::vector<int> values_;
  std::vector<std::string> records_;
};

TEST_F(SelectorDecisions, TopkAgainstStableSort) {
  for (bool reverse : {true, false}) {
    Decision d = Check("topk_specified_field_selector", {{"field_key", S("m.v")}, {"topk", I(1234)}, {"reverse", B(reverse)}});
    std::vector<uint64_t> idx(values_.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](uint64_t a, uint64_t b) {
      return reverse ? values_[a] > values_[b] : values_[a] < values_[b];
    });
    idx.resize(1234);
    EXPECT_EQ(d.order, idx);
    EXPECT_EQ(std::count(d.keep.begin(), d.keep.end(), true), 1234);
  }
}

TEST_F(SelectorDecisions, RangeAgainstDataJuicersTwoSteps) {
  Decision d = Check("range_specified_field_selector", {{"field_key", S("m.v")}, {"lower_rank", I(1500)}, {"upper_rank", I(3100)}});
  std::vector<uint64_t> idx(values_.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](uint64_t a, uint64_t b) { return values_[a] < values_[b]; });
  idx.resize(3100);  // nsmallest(upper)
  std::stable_sort(idx.begin(), idx.end(), [&](uint64_t a, uint64_t b) { return values_[a] > values_[b]; });
  idx.resize(1600);  // then nlargest(upper - lower) of those, in their order
  EXPECT_EQ(d.order, idx);
}

TEST_F(SelectorDecisions, FrequencyAgainstGroupCounts) {
  Decision d = Check("frequency_specified_field_selector", {{"field_key", S("m.g")}, {"top_ratio", D(0.1)}});
  // 97 groups: int(9.7) = 9 largest groups, ties by first appearance.
  std::vector<int> first(97, -1), size(97, 0);
  for (size_t i = 0; i < values_.size(); ++i) {
    int g = values_[i] % 97;
    if (first[g] < 0) first[g] = static_cast<int>(i);
    ++size[g];
  }
  std::vector<int> groups(97);
  std::iota(groups.begin(), groups.end(), 0);
  std::sort(groups.begin(), groups.end(), [&](int a, int b) { return size[a] != size[b] ? size[a] > size[b] : first[a] < first[b]; });
  std::vector<uint64_t> want;
  for (int k = 0; k < 9; ++k)
    for (size_t i = 0; i < values_.size(); ++i)
      if (values_[i] % 97 == groups[k]) want.push_back(i);
  EXPECT_EQ(d.order, want);
}

TEST_F(SelectorDecisions, RandomExactCountSeededAndUniform) {
  Decision d = Check("random_selector", {{"select_num", I(137)}});
  EXPECT_EQ(d.order.size(), 137u);
  EXPECT_TRUE(std::is_sorted(d.order.begin(), d.order.end()));  // input order
  // Spread over the whole input, not a prefix.
  EXPECT_GT(d.order.back(), 4000u);
  EXPECT_LT(d.order.front(), 1000u);
  Decision r = Check("random_selector", {{"select_ratio", D(0.5)}, {"select_num", I(4999)}});  // int(2500.0)
  EXPECT_EQ(r.order.size(), 2500u);
}

TEST(RandomSelector, FallbacksKeepEverything) {
  auto vs = Values({"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
  Ids all = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  EXPECT_EQ(RunSel("random_selector", {{"select_ratio", D(0.05)}}, vs), all);        // n == 0: the whole dataset
  EXPECT_EQ(RunSel("random_selector", {{"select_num", I(10)}}, vs), all);            // n == N: unshuffled
  EXPECT_EQ(RunSel("random_selector", {{"select_num", I(100)}}, vs), all);           // n > N: each sample once
  EXPECT_EQ(RunSel("random_selector", {}, vs), all);                                  // nothing given
  EXPECT_EQ(RunSel("random_selector", {{"select_ratio", D(0.3)}}, vs).size(), 3u);  // int(3.0000000000000004)
  EXPECT_EQ(RunSel("random_selector", {{"select_ratio", D(0.29)}, {"select_num", I(5)}}, vs).size(), 2u);
  EXPECT_EQ(RunSel("random_selector", {{"select_ratio", D(0)}, {"select_num", I(4)}}, vs).size(), 4u);
  // The same samples every time.
  EXPECT_EQ(RunSel("random_selector", {{"select_num", I(4)}}, vs), RunSel("random_selector", {{"select_num", I(4)}}, vs));
}

}  // namespace
}  // namespace sluice
