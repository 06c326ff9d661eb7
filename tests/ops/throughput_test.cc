// Single-core throughput of the text-cleaning hot path: 4 mappers + 7 filters (stats only, so every op
// sees every record), on records cut from the reference documents and seeds in ../shared (English and
// Chinese markdown with links). Disabled by default (timing is not a unit test); run with
//   ./build-ops/ops_tests --gtest_also_run_disabled_tests --gtest_filter='*Throughput*'
// Prints MB/s overall and per op. The target is >= 100 MB/s per core for the whole chain.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/json_writer.h"
#include "op_harness.h"

namespace sluice {
namespace {

std::vector<std::string> LoadCorpus() {
  std::vector<std::string> docs;
  for (const char* dir : {"/reference", "/seeds"}) {
    for (const auto& e : std::filesystem::directory_iterator(std::string(SLUICE_SHARED_DIR) + dir)) {
      std::ifstream in(e.path());
      std::stringstream ss;
      ss << in.rdbuf();
      docs.push_back(ss.str());
    }
  }
  // Records of about 3 KB, cut at paragraph boundaries.
  std::vector<std::string> records;
  for (const auto& d : docs) {
    size_t start = 0;
    while (start < d.size()) {
      size_t cut = d.find("\n\n", start + 3000);
      if (cut == std::string::npos) cut = d.size();
      records.push_back(d.substr(start, cut - start));
      start = cut;
    }
  }
  return records;
}

TEST(Throughput, DISABLED_MappersAndFilters) {
  std::vector<std::string> records = LoadCorpus();
  size_t corpus_bytes = 0;
  for (const auto& r : records) corpus_bytes += r.size();
  ASSERT_GT(corpus_bytes, 100000u);

  std::vector<std::string> names = {"clean_links_mapper", "clean_email_mapper", "whitespace_normalization_mapper",
                                    "punctuation_normalization_mapper", "words_num_filter", "alphanumeric_filter",
                                    "character_repetition_filter", "word_repetition_filter",
                                    "average_line_length_filter", "maximum_line_length_filter", "text_length_filter"};
  std::vector<std::unique_ptr<Op>> ops;
  for (const auto& n : names) ops.push_back(testing::MakeOp(n));

  // Parse every record once; each round restores the text and clears the stats.
  testing::Dataset ds;
  for (const auto& r : records) {
    std::string json = "{\"text\":";
    AppendJsonString(json, r);
    json += "}";
    ASSERT_EQ(ds.Add(json), ParseStatus::kOk);
  }
  // Best round per op: the build machine is shared, so the minimum is the stable number.
  std::vector<double> per_op(ops.size(), 1e30);
  const int rounds = 30;
  using Clock = std::chrono::steady_clock;
  for (int round = 0; round < rounds; ++round) {
    std::vector<double> this_round(ops.size(), 0.0);
    for (size_t i = 0; i < ds.size(); ++i) {
      Sample& s = ds[i];
      s.texts[0].value = records[i];
      s.stats.Clear();
      for (size_t k = 0; k < ops.size(); ++k) {
        auto t0 = Clock::now();
        Op& op = *ops[k];
        if (op.kind() == OpKind::kMapper)
          static_cast<Mapper&>(op).Map(s.texts[0].value);
        else
          static_cast<Filter&>(op).ComputeStats(s);
        this_round[k] += std::chrono::duration<double>(Clock::now() - t0).count();
      }
    }
    for (size_t k = 0; k < ops.size(); ++k) per_op[k] = std::min(per_op[k], this_round[k]);
  }
  double total = 0;
  for (double t : per_op) total += t;
  double mb = static_cast<double>(corpus_bytes) / 1e6;
  std::printf("corpus: %zu records, %.2f MB; best of %d rounds per op\n", records.size(), mb, rounds);
  for (size_t k = 0; k < ops.size(); ++k)
    std::printf("  %-34s %9.1f MB/s\n", names[k].c_str(), mb / per_op[k]);
  std::printf("  %-34s %9.1f MB/s\n", "whole chain", mb / total);
}

}  // namespace
}  // namespace sluice
