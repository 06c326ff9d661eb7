// Reading an attempt's log without holding it in memory (the Ray dashboard OOM in
// ../shared/reference/job-manager-and-scheduler.md §4): which byte range a request means (an offset and
// length, or the last N lines found by scanning backwards from the end in fixed blocks), and copying that
// range out in bounded chunks. The file may grow while it is read; a range is fixed when it is computed.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "io/env.h"

namespace sluice::manager {

struct LogRange {
  uint64_t file_size = 0;  // when the range was computed
  uint64_t offset = 0, length = 0;
};

// [offset, offset + length) clipped to the file and to `max_length`. A missing file is empty.
LogRange ByteRange(Env* env, const std::string& path, uint64_t offset, uint64_t length, uint64_t max_length);
// The last `lines` lines (a final line without '\n' counts), at most `max_length` bytes of them.
LogRange TailRange(Env* env, const std::string& path, uint64_t lines, uint64_t max_length);
// Reads [offset, offset + length) in 64 KiB blocks, passing each to `sink` (false from it stops).
// Returns false if the file is shorter than asked or `sink` stopped.
bool CopyRange(Env* env, const std::string& path, uint64_t offset, uint64_t length, const std::function<bool(const char*, size_t)>& sink);

}  // namespace sluice::manager
