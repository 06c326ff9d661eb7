// Auto-configuration: np (workers) and partition size from the machine (engine/resources.h) and a sample
// of the input, for `partition.auto_configure` / `resource_optimization.auto_configure` and `sluice plan`.
// docs/partitioning.md has every input, formula and constant; this header declares the three steps.
//
// SampleInput reads the first records of the input files (deterministic: the same bytes on every call),
// bounded in bytes and records, and learns record size, text length (UTF-8 bytes and code points, not
// DataJuicer's 1 byte per char), media counts per record and modality (text / image / audio / video /
// multimodal from text_keys and the image/audio/video keys). Decide is a pure function of resources,
// sample and the explicit settings: a value the user gave (recipe or command line) or the stored plan of
// a resumed job wins and is reported as such, with the value auto-configuration would have chosen beside
// it. Unlike DataJuicer's optimizer (datajuicer-executor.md §9) the input is sampled once, no constant
// "complexity" enters, and the per-modality memory costs are actually used.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/json_writer.h"
#include "engine/input.h"
#include "engine/resources.h"
#include "io/env.h"

namespace sluice {

enum class Modality { kText, kImage, kAudio, kVideo, kMultimodal };
constexpr int kModalityCount = 5;
const char* ModalityName(Modality m);

// The per-modality table (docs/partitioning.md): decoded memory per media item (DataJuicer's per-sample
// estimates, §9.2) and the most records a partition of that modality holds (DataJuicer's max sizes, §9.3).
struct ModalityProfile {
  Modality modality;
  uint64_t memory_per_item;  // bytes an op holds per image / audio / video while it works; 0 for text
  int64_t max_records;       // records per partition; 0 = no cap (text streams record by record)
};
const ModalityProfile& ProfileOf(Modality m);

struct SampleKeys {
  std::vector<std::string> text_keys = {"text"};
  std::string image_key = "images", audio_key = "audios", video_key = "videos";
};

struct SampleLimits {
  uint64_t max_bytes = 4 << 20;  // over all files
  uint64_t max_records = 2000;
};

struct InputSample {
  uint64_t files = 0, total_bytes = 0;
  uint64_t plain_bytes = 0;       // of files that can be cut into byte ranges
  uint64_t compressed_files = 0;  // .gz/.zst: one partition each
  uint64_t files_sampled = 0, records = 0, bad_lines = 0;
  uint64_t sampled_bytes = 0;  // of the sampled records, newlines included
  double mean_record_bytes = 0, record_bytes_cv = 0;  // cv: standard deviation / mean
  uint64_t max_record_bytes = 0;
  double mean_text_bytes = 0, mean_text_chars = 0;  // over the text_keys of a record, summed
  double images_per_record = 0, audios_per_record = 0, videos_per_record = 0;
  uint64_t records_by_modality[kModalityCount] = {};
  Modality modality = Modality::kText;         // most frequent (DataJuicer's primary modality)
  Modality sizing_modality = Modality::kText;  // the present modality with the smallest record cap
  double media_bytes_per_record = 0;           // Σ items × memory_per_item, averaged

  void ToJson(JsonWriter& w) const;
};

InputSample SampleInput(Env* env, const std::vector<InputFile>& files, const SampleKeys& keys, SampleLimits limits = {});

enum class Source { kAuto, kDefault, kRecipe, kCommandLine, kStoredPlan };
const char* SourceName(Source s);

// What the user fixed; Decide never overrides these.
struct AutoRequest {
  bool enabled = false;                 // auto_configure; off: recipe values are used, recommendations shown
  int np = 4;
  Source np_source = Source::kDefault;  // kRecipe / kCommandLine when given
  double max_size_mb = 64;
  Source size_source = Source::kDefault;
  int64_t partition_records = 0;        // partition.size; 0 = unset
  Source records_source = Source::kDefault;
  int64_t partition_count = 0;          // partition.mode manual + num_of_partitions
  // A resumed job: its stored plan's partitions are used as they are.
  std::optional<uint64_t> stored_max_partition_bytes;
  uint64_t stored_partitions = 0;
};

struct Choice {
  double value = 0;
  Source source = Source::kAuto;
  double recommended = 0;  // what auto-configuration alone picks
  std::string reason;
};

struct AutoDecision {
  Choice np;
  Choice max_size_mb;       // partition byte target, MiB
  Choice partition_records;  // 0 = no record cap
  uint64_t estimated_partitions = 0;
  uint64_t memory_budget = 0;       // bytes the workers may use together
  double expansion = 0;             // bytes of memory per byte of partition input
  uint64_t worker_memory = 0;       // estimated per worker at the chosen size
  std::string gpu_reason;
  std::vector<std::string> notes;
};

AutoDecision Decide(const Resources& res, const InputSample& sample, const AutoRequest& req);

// The whole record: resources, sample, request, decision and the constants used (one JSON object).
// `extra` adds members at the end (`sluice plan` adds the partition count of the plan it cut).
std::string AutoConfigJson(const Resources& res, const InputSample& sample, const AutoRequest& req, const AutoDecision& d,
                           const std::function<void(JsonWriter&)>& extra = nullptr);

}  // namespace sluice
