// Recipe: a DataJuicer-format YAML recipe (datajuicer-ops.md §7, datajuicer-executor.md §4-§6) parsed
// and checked before any work starts.
//
// LoadRecipe reads the YAML, applies command-line overrides (`--checkpoint.n_ops 3`, dotted paths into
// the nested sections), and fills a Recipe with defaults. Every key is known: an unknown key is a kUsage
// error with a did-you-mean suggestion. DataJuicer keys that steer only DataJuicer's own machinery (Ray,
// HF caches) are accepted and listed as such in README.md ("Recipe reference"); keys whose feature sluice does not have
// yet are rejected with a message saying so, never silently ignored. Op names and op parameters are
// checked one layer up (ops/pipeline.h), against the op registry.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/params.h"

namespace sluice {

struct RecipeOp {
  std::string name;
  std::vector<std::pair<std::string, ParamValue>> params;
  int line = 0;  // 1-based line in the recipe file, for errors
};

enum class CheckpointStrategy { kEveryOp, kEveryPartition, kEveryNOps, kManual, kDisabled };
enum class RetryBackoff { kExponential, kLinear, kFixed };
enum class RetentionPolicy { kKeepAll, kKeepFailedOnly, kCleanupAll };
enum class BadRecordPolicy { kError, kSkip, kQuarantine };

const char* CheckpointStrategyName(CheckpointStrategy s);
const char* RetentionPolicyName(RetentionPolicy p);
const char* RetryBackoffName(RetryBackoff b);
const char* BadRecordPolicyName(BadRecordPolicy p);

struct Recipe {
  std::string config_path;  // absolute path of the recipe file
  std::string config_name;  // file stem, sanitized for job ids
  std::string project_name = "hello_world";

  std::vector<std::string> dataset_paths;  // files, directories or globs; may contain placeholders
  std::string export_path;
  uint64_t export_shard_size = 0;  // bytes; 0 = one file
  std::vector<std::string> text_keys = {"text"};
  std::vector<RecipeOp> process;
  bool skip_op_error = true;
  bool keep_stats_in_res_ds = false;
  bool keep_hashes_in_res_ds = false;
  int np = 4;
  bool np_given = false;
  BadRecordPolicy on_bad_record = BadRecordPolicy::kError;

  // tracer (DataJuicer's open_tracer): per-op samples written to <job_dir>/trace/ (engine/trace.h)
  bool open_tracer = false;
  std::vector<std::string> op_list_to_trace;  // op names; empty = every op
  int64_t trace_num = 10;                     // samples (or duplicate pairs) per op

  std::string job_id;  // empty: generated
  std::string work_dir, event_log_dir, checkpoint_dir;  // raw, placeholders unresolved; empty = default

  // partition
  int64_t partition_records = 0;       // partition.size (records per partition); 0 = unset
  double partition_max_size_mb = 64;   // partition.max_size_mb
  bool partition_max_size_given = false;  // set in the recipe or on the command line (wins over auto_configure)
  // partition.auto_configure / resource_optimization.auto_configure: np and partition size chosen from the
  // machine and a sample of the input (engine/auto_config.h); the keys below name the media fields it counts.
  bool auto_configure = false;
  std::string image_key = "images", audio_key = "audios", video_key = "videos";
  int64_t partition_count = 0;         // partition.mode manual + num_of_partitions; 0 = unset

  // checkpoint
  CheckpointStrategy checkpoint = CheckpointStrategy::kEveryPartition;
  int64_t checkpoint_n_ops = 1;
  std::vector<std::string> checkpoint_op_names;

  // fault tolerance
  bool retries_enabled = true;
  int64_t max_retries = 3;
  RetryBackoff retry_backoff = RetryBackoff::kExponential;
  double retry_base_seconds = 1.0;  // unit of the backoff schedule (tests shorten it)
  bool allow_partial = false;

  // event logging
  bool event_logging = true;
  double max_log_size_mb = 100;
  int64_t log_backup_count = 5;

  // intermediate storage
  std::string intermediate_compression = "zstd";  // zstd | gzip | none (the format is JSONL)
  bool preserve_intermediate_data = false;
  bool cleanup_on_success = false;
  RetentionPolicy retention = RetentionPolicy::kKeepAll;
  std::optional<int64_t> max_retention_days;

  // Settings accepted but without effect, explained ("file:line: ..."); printed before a run starts.
  std::vector<std::string> warnings;

  // Canonical JSON of everything that decides the output bytes (ops with resolved params are added by
  // the pipeline); a resume compares it member by member to say what changed.
  std::vector<std::pair<std::string, std::string>> OutputSettings() const;
};

struct Override {
  std::string key;    // dotted: "checkpoint.n_ops", "np", "job_id"
  std::string value;  // YAML scalar text
};

// Throws kUsage (unknown key, wrong type, bad value) or kInput (file missing / unreadable YAML).
Recipe LoadRecipe(const std::string& path, const std::vector<Override>& overrides);

// A recipe path with its placeholders (datajuicer-executor.md §1.2) filled in: every "{work_dir}" becomes
// `work_dir`, every "{job_id}" `job_id`.
std::string SubstituteJobPlaceholders(const std::string& path, const std::string& work_dir, const std::string& job_id);

}  // namespace sluice
