#include "manager/log_range.h"

#include <algorithm>
#include <vector>

#include "core/error.h"

namespace sluice::manager {
namespace {
constexpr size_t kBlock = 64 << 10;

uint64_t SizeOf(Env* env, const std::string& path) { return env->FileExists(path) ? env->FileSize(path) : 0; }
}  // namespace

LogRange ByteRange(Env* env, const std::string& path, uint64_t offset, uint64_t length, uint64_t max_length) {
  LogRange r;
  r.file_size = SizeOf(env, path);
  r.offset = std::min(offset, r.file_size);
  r.length = std::min({length, r.file_size - r.offset, max_length});
  return r;
}

LogRange TailRange(Env* env, const std::string& path, uint64_t lines, uint64_t max_length) {
  LogRange r;
  r.file_size = SizeOf(env, path);
  uint64_t start = r.file_size;
  if (lines > 0 && r.file_size > 0) {
    auto f = env->NewRandomAccessFile(path);
    std::vector<char> buf(kBlock);
    uint64_t end = r.file_size;  // scan [.., end) backwards
    uint64_t seen = 0;
    bool skip_last = true;  // the file's final '\n' ends the last line, it does not start one
    start = 0;
    while (end > 0) {
      uint64_t from = end > kBlock ? end - kBlock : 0;
      size_t n = f->ReadAt(from, static_cast<size_t>(end - from), buf.data());
      bool found = false;
      for (size_t i = n; i-- > 0;) {
        if (buf[i] != '\n') {
          skip_last = false;
          continue;
        }
        if (skip_last) {
          skip_last = false;
          continue;
        }
        if (++seen == lines) {
          start = from + i + 1;
          found = true;
          break;
        }
      }
      if (found || r.file_size - from >= max_length) {
        if (!found) start = from;
        break;
      }
      end = from;
    }
  }
  r.offset = std::max(start, r.file_size > max_length ? r.file_size - max_length : 0);
  r.length = r.file_size - r.offset;
  return r;
}

bool CopyRange(Env* env, const std::string& path, uint64_t offset, uint64_t length, const std::function<bool(const char*, size_t)>& sink) {
  auto f = env->NewRandomAccessFile(path);
  std::vector<char> buf(std::min<uint64_t>(kBlock, std::max<uint64_t>(length, 1)));
  while (length > 0) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(length, buf.size()));
    size_t n = f->ReadAt(offset, want, buf.data());
    if (n == 0 || !sink(buf.data(), n)) return false;
    offset += n;
    length -= n;
  }
  return true;
}

}  // namespace sluice::manager
