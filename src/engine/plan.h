// Plan: what a job will do, computed once and stored in the job directory (metadata/dataset_mapping.json)
// so every run and every resume of the job works on identical partitions.
//
// Partitions are byte ranges of the input files cut at line boundaries (a compressed file is one
// partition: it cannot be entered in the middle); no input byte is copied to make them. Stages split the
// op list at dataset-level ops (deduplicators and selectors, ops/op.h IsDatasetLevel): a stage ends with
// one whose global decision is taken once all partitions have finished the stage (a barrier), and is
// applied at the start of the next stage (there is always one: the last stage, possibly without ops, is
// never a barrier). The plan
// records the recipe's canonical settings, the resolved ops and the input fingerprint; a resume compares
// them and refuses with an explanation of what changed.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/recipe.h"
#include "engine/input.h"
#include "io/env.h"
#include "ops/pipeline.h"

namespace sluice {

struct PartitionRange {
  uint32_t file = 0;
  uint64_t begin = 0, end = 0;  // byte range in the (compressed) file
};

struct Stage {
  size_t op_begin = 0, op_end = 0;  // ops [op_begin, op_end)
  bool barrier = false;             // op_end - 1 is a deduplicator or a selector
};

std::vector<Stage> MakeStages(const Pipeline& pipeline);

struct Plan {
  std::string recipe_hash;  // hex XXH3-128 of settings + ops
  std::vector<std::pair<std::string, std::string>> settings;
  std::vector<std::string> ops;  // canonical JSON per op
  std::vector<InputFile> files;
  std::vector<PartitionRange> partitions;
  double created_at = 0;

  std::string ToJson() const;
  static Plan FromJson(const std::string& json, const std::string& path);
};

// Fingerprints only (no partitioning): cheap, used to check a resume.
Plan MakePlanHeader(const Recipe& recipe, const Pipeline& pipeline, std::vector<InputFile> files);
// Header plus partitions. `workers`: the worker threads the run will have (np capped at the CPUs); the
// partition count is rounded up to a multiple of it (docs/partitioning.md). Not part of the header: a resume
// on another machine keeps the stored partitions.
Plan MakePlan(Env* env, const Recipe& recipe, const Pipeline& pipeline, std::vector<InputFile> files, int workers);
// The rounding up to a multiple of the workers adds parts only while parts stay at least this large (a small
// input is done at once however it is cut, and a part costs files).
inline constexpr uint64_t kMinRoundingPart = 1 << 20;

// "" when `fresh` may resume `stored`; otherwise one line per difference (setting, op, input file).
std::string ExplainDifference(const Plan& stored, const Plan& fresh);

}  // namespace sluice
