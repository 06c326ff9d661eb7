// Atomic files: a file that appears at its path complete and durable, or not at all.
//
// AtomicFile writes to a unique temporary name beside the target; Commit() syncs the data, renames it
// over the target and syncs the directory, so after Commit returns the file survives a crash and before
// it nothing is visible at the target path. An uncommitted AtomicFile removes its temporary file.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "io/env.h"

namespace sluice {

class AtomicFile {
 public:
  AtomicFile(Env* env, std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  WritableFile& file() { return *file_; }
  const std::string& path() const { return path_; }
  void Commit();

 private:
  Env* env_;
  std::string path_, tmp_;
  std::unique_ptr<WritableFile> file_;
  bool committed_ = false;
};

void WriteFileAtomic(Env* env, const std::string& path, std::string_view content);
// Whole-file read; throws kInput naming the path if it cannot be read.
std::string ReadFile(Env* env, const std::string& path);

}  // namespace sluice
