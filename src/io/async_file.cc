#include "io/async_file.h"

#include <algorithm>

namespace sluice {
namespace {
// Small enough to still be in the shared cache when the writer copies it into the page cache.
constexpr size_t kChunk = 256 << 10;
constexpr size_t kWakeBytes = 4 * kChunk;
}  // namespace

AsyncWritableFile::AsyncWritableFile(std::unique_ptr<WritableFile> base, size_t max_queued)
    : base_(std::move(base)), max_queued_(std::max(max_queued, 2 * kWakeBytes)), writer_([this] { Loop(); }) {}

AsyncWritableFile::~AsyncWritableFile() {
  std::unique_lock<std::mutex> lk(mu_);
  if (!open_chunk_.empty()) {
    queued_bytes_ += open_chunk_.size();
    queue_.push_back(std::move(open_chunk_));
  }
  stop_ = true;
  cv_.notify_one();
  lk.unlock();
  writer_.join();
}

void AsyncWritableFile::ThrowIfFailed() {
  if (error_) std::rethrow_exception(error_);
}

void AsyncWritableFile::Append(std::string_view data) {
  if (failed_.load(std::memory_order_relaxed)) {
    std::lock_guard<std::mutex> lk(mu_);
    ThrowIfFailed();
  }
  while (!data.empty()) {
    if (open_chunk_.capacity() < kChunk) {
      std::lock_guard<std::mutex> lk(mu_);
      if (!spare_.empty()) {
        open_chunk_ = std::move(spare_.back());
        spare_.pop_back();
      }
      open_chunk_.reserve(kChunk);
    }
    size_t n = std::min(data.size(), kChunk - open_chunk_.size());
    open_chunk_.append(data.substr(0, n));
    data.remove_prefix(n);
    if (open_chunk_.size() < kChunk) break;
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [&] { return error_ || queued_bytes_ + open_chunk_.size() <= max_queued_; });
    ThrowIfFailed();
    queued_bytes_ += open_chunk_.size();
    queue_.push_back(std::move(open_chunk_));
    open_chunk_ = std::string();
    // Wake the writer for a batch, not for every chunk: each wake-up is a futex call and a context switch.
    if (!busy_ && queued_bytes_ >= kWakeBytes) cv_.notify_one();
  }
}

void AsyncWritableFile::Flush() {
  std::unique_lock<std::mutex> lk(mu_);
  if (!open_chunk_.empty()) {
    queued_bytes_ += open_chunk_.size();
    queue_.push_back(std::move(open_chunk_));
    open_chunk_ = std::string();
  }
  cv_.notify_one();
  done_cv_.wait(lk, [&] { return queue_.empty() && !busy_; });
  ThrowIfFailed();
}

void AsyncWritableFile::Sync() {
  Flush();
  base_->Sync();
}

void AsyncWritableFile::Close() {
  Flush();
  base_->Close();
}

// Same rule as the uncached file's writer Loop (io/uncached_file.cc): nothing is written after a failure. Not
// shared: its items are aligned buffers at offsets reused from a free list, and a Truncate clears its error.
void AsyncWritableFile::Loop() {
  std::unique_lock<std::mutex> lk(mu_);
  while (true) {
    cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_, and nothing left
    std::string chunk = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    bool failed = error_ != nullptr;
    lk.unlock();
    std::exception_ptr err;
    if (!failed) {  // after a failed write nothing more is written: the file would have a hole
      try {
        base_->Append(chunk);
      } catch (...) {
        err = std::current_exception();
      }
    }
    lk.lock();
    if (err) {
      error_ = err;
      failed_.store(true, std::memory_order_relaxed);
    }
    queued_bytes_ -= chunk.size();
    busy_ = false;
    chunk.clear();
    if (spare_.size() < 4) spare_.push_back(std::move(chunk));
    done_cv_.notify_all();
  }
}

}  // namespace sluice
