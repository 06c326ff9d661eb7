// The shard plan: which half-open key ranges the input is split into, persisted as <out>/plan.json so that
// every rerun works on the same ranges (and a worker's own partial progress stays valid).
//
// ScanKeys streams the input table once, keeping only the distinct keys of the key column (memory grows
// with the number of distinct keys, never with the table) and fingerprinting the file (size, mtime and
// XXH3-64 of every byte) in the same pass. SplitKeys cuts the sorted distinct keys into `n` runs of
// near-equal count (the first n % K get one more; never more runs than keys) and gives each run the range
// from its first key up to the next run's first key, the last one up to the largest key + 1 (an int key)
// or without an upper bound (a string key): every key of the table falls in exactly one range.
//
// A re-plan (--replan) keeps the ranges of completed shards and splits only the keys outside them, so a
// run is additionally cut wherever a kept range lies between two of its keys; new ranges never overlap
// kept ones.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/env.h"
#include "shard/key.h"

namespace sluice::shard {

struct InputFingerprint {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  std::string xxh3;  // hex XXH3-64 of the whole file
  // Same content: size and hash (a touched but unchanged file is the same input).
  bool SameContent(const InputFingerprint& o) const { return size == o.size && xxh3 == o.xxh3; }
};

struct ShardRange {
  int index = 0;
  KeyRange range;
  uint64_t keys = 0;  // distinct keys of the input in the range when it was planned
};

struct Plan {
  std::string input;  // absolute path
  std::string key_column;
  KeyType key_type = KeyType::kInt;
  InputFingerprint fingerprint;
  uint64_t rows = 0, distinct_keys = 0;
  int num_workers = 0;             // the --num-workers it was (last) planned with
  std::vector<ShardRange> shards;  // by index, ranges sorted and disjoint

  std::string ToJson() const;
  // Throws kState naming `path` if `json` is not a plan.
  static Plan Parse(const std::string& json, const std::string& path);
};

struct KeyScan {
  KeyType type = KeyType::kInt;
  std::vector<std::string> keys;  // distinct, encoded, sorted
  uint64_t rows = 0;
  InputFingerprint fingerprint;
};

// Reads the whole input. With no `type` given, the first key decides: an integer makes the column int
// (every later key must be one too: the error names the line and suggests --key-type string), anything
// else string. Throws kData for a malformed or empty table, naming the file and line.
KeyScan ScanKeys(Env* env, const std::string& path, const std::string& key_column, std::optional<KeyType> type);

// The fingerprint of `path` (reads it all to hash it).
InputFingerprint FingerprintFile(Env* env, const std::string& path);

// Ranges for the `keys` (sorted, distinct, encoded) outside `keep` (sorted, disjoint), numbered from
// `first_index`. Empty when every key is kept.
std::vector<ShardRange> SplitKeys(const std::vector<std::string>& keys, int n, KeyType type,
                                  const std::vector<KeyRange>& keep, int first_index);

}  // namespace sluice::shard
