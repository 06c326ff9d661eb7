// Merging the shards' result files into one table, with proof that every key of the plan is covered once.
//
// Only the result files of the current plan's shards are read (each shard's recorded path, from the
// --result-pattern template), never whatever matches a glob. Without every shard completed nothing is
// merged (merge_summary.json says which are missing or failed) unless allow_partial. Each file must be the
// one recorded when its shard completed (same XXH3-64), in the output's format, with the same header, and
// every key in it must lie in its shard's range (a worker that wrote another shard's keys would otherwise
// duplicate or shadow them). Rows are sorted by key (the plan's order: numeric or by bytes) and
// de-duplicated on it: the first row of a key in its file is kept, later ones are counted as dropped.
//
// Streaming: a file is read once, in runs of at most run_bytes that are sorted in memory and spilled to
// tmp_dir when the file is larger, then k-way merged; shards are written in range order, which is key
// order because ranges are disjoint. The output and merge_summary.json are written atomically; tmp_dir is
// removed whether the merge succeeds or fails (a crash leaves it to the next scheduler, which removes it).
//
// The coverage proof itself is made when a shard completes (VerifyResult): a result whose keys are not
// exactly the planned input's keys of its range fails the attempt, so a merge of completed shards covers
// every key of the input once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/env.h"
#include "shard/plan.h"
#include "shard/state.h"

namespace sluice::shard {

// Reads a shard's result file and checks it before the shard may count as completed: a table with the key
// column in which every key is of the plan's type and lies in the shard's range, and whose distinct keys
// are exactly `input_keys`' keys in that range (`input_keys`: the planned input's distinct keys, sorted and
// encoded). So a worker that wrote too few keys, another range's keys or keys the input does not have is a
// failed attempt (retried), never a gap or an overlap in the merged table. Rows per key may repeat (the
// merge keeps the first). Returns its rows, size and XXH3-64. Throws kData naming the file (and the line
// of a bad key), kInput if it cannot be read.
ShardResult VerifyResult(Env* env, const std::string& path, const Plan& plan, const ShardRange& range,
                         const std::vector<std::string>& input_keys);

struct MergeShard {
  ShardRange range;
  ShardStatus status = ShardStatus::kPending;
  std::optional<ShardResult> result;  // set when completed
};

struct MergeOptions {
  std::string output, summary_path, tmp_dir;
  bool allow_partial = false;
  size_t run_bytes = 64 << 20;
};

struct MergeReport {
  bool merged = false;
  uint64_t rows = 0, duplicates = 0;
  std::vector<std::string> missing, failed;  // range labels
};

// Throws kData for a result file that breaks the rules above (naming the file and line), kState for one
// that changed since its shard completed.
MergeReport MergeResults(Env* env, const Plan& plan, const std::vector<MergeShard>& shards, const MergeOptions& opt);

}  // namespace sluice::shard
