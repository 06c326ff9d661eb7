// Input resolution and fingerprinting: `dataset_path` (files, directories, globs, or a list of them) to
// an ordered list of JSONL files, each with a fingerprint (size, mtime, and an XXH3 of sampled blocks) so
// a resume can tell that the input changed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/env.h"

namespace sluice {

struct InputFile {
  std::string path;  // absolute
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t sample_hash = 0;  // XXH3 over the first, middle and last 64 KiB
};

// Directories contribute their *.jsonl, *.json (+ .gz / .zst) files, recursively, sorted by path.
// Throws kInput naming the path when something does not exist or a pattern matches nothing.
std::vector<InputFile> ResolveInputs(Env* env, const std::vector<std::string>& dataset_paths);

uint64_t SampleHash(Env* env, const std::string& path, uint64_t size);

}  // namespace sluice
