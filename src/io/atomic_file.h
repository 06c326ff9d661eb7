// Atomic files: a file that appears at its path complete and durable, or not at all.
//
// AtomicFile writes to a unique temporary name beside the target; Commit() syncs the data, renames it
// over the target and syncs the directory, so after Commit returns the file survives a crash and before
// it nothing is visible at the target path. An uncommitted AtomicFile removes its temporary file. The
// temporary's name is formatted in one place (FormatTemporaryName), which the process wrapper shares, and
// RemoveAbandonedTemporaries removes those a crashed writer left.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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

// The temporary an AtomicFile of process `pid` writes, as its `n`-th, for `target`: "<target>.tmp-<pid>-<n>",
// written to `out` with a terminating NUL. Returns its length, 0 if pid is not positive or it does not fit
// in `cap` bytes (kTemporaryNameExtra more than the target always suffice). Allocates nothing and makes no
// system call, so a forked child may call it (the process wrapper names its status file's temporary so,
// io/process.h). RemoveAbandonedTemporaries parses the same form.
size_t FormatTemporaryName(std::string_view target, int64_t pid, uint64_t n, char* out, size_t cap);
inline constexpr std::string_view kTemporaryMarker = ".tmp-";
inline constexpr size_t kTemporaryNameExtra = kTemporaryMarker.size() + 20 + 1 + 20 + 1;  // two uint64s, '-', NUL

// A crash or SIGKILL between an AtomicFile's creation and its Commit leaves its temporary file
// ("<target>.tmp-<pid>-<n>") behind, where a reader of the directory (a glob over export shards, `cat` of
// the quarantine) would take it for data. RemoveAbandonedTemporaries removes, in `dir` (and, with
// `recursive`, in its subdirectories: entries without a '.' in their name, as the job directory's are), the
// temporaries whose target's file name `ours` accepts and whose writer process is gone; a live writer's
// are kept. Returns the paths removed.
std::vector<std::string> RemoveAbandonedTemporaries(Env* env, const std::string& dir, bool recursive,
                                                    const std::function<bool(std::string_view target_name)>& ours);
// Whole-file read; throws kInput naming the path if it cannot be read.
std::string ReadFile(Env* env, const std::string& path);

}  // namespace sluice
