// AsyncWritableFile: a WritableFile whose Append returns as soon as the bytes are queued; one background
// thread writes them, in order, to the file underneath. The kernel's copy into the page cache (on the
// machines we measured, as costly as parsing the same bytes) then overlaps with producing the next bytes.
//
// Contract: bytes reach the underlying file in Append order. At most `max_queued` bytes wait; Append blocks
// beyond that. Flush() returns once everything appended has been written (not synced); Sync() is Flush()
// plus the underlying Sync(). A write error of the background thread is raised (kOutput) by the next
// Append, Flush, Sync or Close, and every later one: nothing appended after a failed write is written.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "io/env.h"

namespace sluice {

class AsyncWritableFile : public WritableFile {
 public:
  explicit AsyncWritableFile(std::unique_ptr<WritableFile> base, size_t max_queued = 8 << 20);
  ~AsyncWritableFile() override;  // writes what is queued (errors are dropped: call Flush to see them)
  AsyncWritableFile(const AsyncWritableFile&) = delete;
  AsyncWritableFile& operator=(const AsyncWritableFile&) = delete;

  void Append(std::string_view data) override;
  void Sync() override;
  void Close() override;
  void Flush();

 private:
  void Loop();
  void ThrowIfFailed();  // under mu_

  std::unique_ptr<WritableFile> base_;
  size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;       // to the writer: work or stop
  std::condition_variable done_cv_;  // to producers: room, or idle
  std::deque<std::string> queue_;
  std::deque<std::string> spare_;  // written chunks, reused so producing allocates nothing
  std::string open_chunk_;         // being filled by Append; queued when full or on Flush
  size_t queued_bytes_ = 0;
  bool busy_ = false, stop_ = false;
  std::exception_ptr error_;
  std::atomic<bool> failed_{false};  // error_ is set: lets Append check without the lock
  std::thread writer_;
};

}  // namespace sluice
