#include "io/uncached_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "core/error.h"

namespace sluice {
namespace {

constexpr size_t kAlign = 4096;       // the largest logical block size of common devices
constexpr size_t kBufBytes = 4 << 20;  // one transfer: large enough to keep the device busy
constexpr size_t kBuffers = 4;         // one being filled, up to three in flight
constexpr size_t kHugePage = 2 << 20;

// memcpy into a staging buffer that the CPU never reads again (the device copies it by DMA): non-temporal
// stores skip reading each destination line into the cache before overwriting it, which made the copy into
// the cold 4 MiB buffers the largest copy of a text_length run. The sfence orders the stores before the
// buffer is handed to the writer thread.
void CopyToStaging(char* dst, const char* src, size_t n) {
#if defined(__AVX2__)
  if (n >= 4096) {
    size_t head = (32 - (reinterpret_cast<uintptr_t>(dst) & 31)) & 31;
    std::memcpy(dst, src, head);
    dst += head, src += head, n -= head;
    for (; n >= 128; dst += 128, src += 128, n -= 128) {
      __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
      __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 32));
      __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 64));
      __m256i d = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 96));
      _mm256_stream_si256(reinterpret_cast<__m256i*>(dst), a);
      _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + 32), b);
      _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + 64), c);
      _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + 96), d);
    }
    _mm_sfence();
  }
#endif
  std::memcpy(dst, src, n);
}

[[noreturn]] void IoFail(const char* what, const std::string& path, int err) {
  Fail(ErrorKind::kOutput, "{} '{}': {}", what, path, std::strerror(err));
}

// The staged bytes are the file's bytes from base_ (a multiple of kAlign) on; a buffer that fills up holds
// whole blocks only and goes to the writer thread. The partial last block stays staged after it is written
// padded, so the next transfer rewrites that block with the bytes that follow it.
class UncachedWritableFile : public WritableFile {
 public:
  UncachedWritableFile(std::string path, int fd, bool direct) : path_(std::move(path)), fd_(fd), direct_(direct) {
    try {
      cur_ = NewBuffer();
      struct stat st;
      if (::fstat(fd_, &st) != 0) IoFail("cannot stat", path_, errno);
      LoadTail(static_cast<uint64_t>(st.st_size));
    } catch (...) {
      ::close(fd_);
      for (char* b : all_) std::free(b);
      throw;
    }
  }
  ~UncachedWritableFile() override {
    if (fd_ >= 0) {
      try {
        WriteTail();
      } catch (...) {
        // As after a crash: nothing unsynced was recorded as durable.
      }
    }
    StopWriter();
    if (fd_ >= 0) ::close(fd_);
    for (char* b : all_) std::free(b);
  }

  void Append(std::string_view data) override {
    while (!data.empty()) {
      if (cur_ == nullptr) WaitIdle();  // a failed write took the buffer: raises its error
      size_t n = std::min(data.size(), kBufBytes - fill_);
      CopyToStaging(cur_ + fill_, data.data(), n);
      fill_ += n;
      data.remove_prefix(n);
      if (fill_ == kBufBytes) Submit();
    }
  }
  void Sync() override {
    WriteTail();
    if (::fdatasync(fd_) != 0) IoFail("cannot sync", path_, errno);
  }
  // Also the way back from a failed write (the export journal's rollback of a failed attempt). Bytes of the
  // failed transfer past `size` are discarded anyway; those before it are still in its buffer and are
  // written again (a rollback lands in the failed transfer's first block, whose space the file already
  // has). Transfers after the failed one were never written: a `size` in them cannot be reached.
  void Truncate(uint64_t size) override {
    {
      std::unique_lock<std::mutex> lk(mu_);
      done_cv_.wait(lk, [&] { return queue_.empty() && !busy_; });
      if (error_) {
        if (size > failed_at_ && size - failed_at_ > kBufBytes) std::rethrow_exception(error_);
        if (size > failed_at_) {
          if (cur_ != nullptr) free_.push_back(cur_);
          cur_ = failed_buf_;
          failed_buf_ = nullptr;
          base_ = failed_at_;
          fill_ = static_cast<size_t>(size - failed_at_);
        }
        if (failed_buf_ != nullptr) free_.push_back(failed_buf_);
        failed_buf_ = nullptr;
        error_ = nullptr;
        failed_at_ = UINT64_MAX;
      }
      if (cur_ == nullptr) {  // the failed Submit that raised the error left no buffer staged
        cur_ = free_.back();
        free_.pop_back();
      }
    }
    if (size > base_ + fill_) Fail(ErrorKind::kInternal, "cannot truncate '{}' to {} bytes: it has {}", path_, size, base_ + fill_);
    bool staged = size >= base_;
    if (staged) {  // the staged bytes before `size` were never written: write them; they stay staged
      fill_ = static_cast<size_t>(size - base_);
      WriteTail();
    }
    // Also past a block written earlier (padding, or a transfer beyond `size`).
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) IoFail("cannot truncate", path_, errno);
    if (!staged) LoadTail(size);
  }
  void Close() override {
    if (fd_ < 0) return;
    WriteTail();
    StopWriter();
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) IoFail("cannot close", path_, errno);
  }

 private:
  struct Transfer {
    char* buf;
    uint64_t offset;
  };

  // Aligned to 2 MiB and backed by transparent huge pages where the kernel allows it: two page faults per
  // buffer instead of 1,024 (the faults of the 32 MiB an export and its stats file stage were 3% of a
  // text_length run), and fewer TLB misses for the stores into it.
  char* NewBuffer() {
    void* p = nullptr;
    if (::posix_memalign(&p, kHugePage, kBufBytes) != 0) Fail(ErrorKind::kOutput, "cannot allocate the write buffer of '{}'", path_);
    ::madvise(p, kBufBytes, MADV_HUGEPAGE);  // advice only: without THP the buffer is simply made of small pages
    all_.push_back(static_cast<char*>(p));
    return static_cast<char*>(p);
  }

  // Stages the bytes of the partial last block of a file `size` bytes long. Nothing is in flight.
  void LoadTail(uint64_t size) {
    base_ = size & ~uint64_t{kAlign - 1};
    fill_ = static_cast<size_t>(size - base_);
    size_t got = 0;
    while (got < fill_) {
      // A direct read is block-sized too; it returns the bytes up to the end of the file.
      ssize_t r = ::pread(fd_, cur_ + got, direct_ ? kAlign - got : fill_ - got, static_cast<off_t>(base_ + got));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && errno == EINVAL && direct_) {
        DropDirect();
        continue;
      }
      if (r < 0) IoFail("cannot read back the end of", path_, errno);
      if (r == 0) Fail(ErrorKind::kOutput, "'{}' shrank while it was being written", path_);
      got += static_cast<size_t>(r);
    }
  }

  // cur_ is full: it goes to the writer thread, and a free buffer (or a new one, up to kBuffers) is staged.
  void Submit() {
    std::unique_lock<std::mutex> lk(mu_);
    if (error_) std::rethrow_exception(error_);
    if (!writer_.joinable()) {
      try {
        writer_ = std::thread([this] { Loop(); });
      } catch (const std::system_error&) {
        // The system refused a thread (a limit on threads or memory): the caller writes the buffer, nothing
        // being in flight, and asks for the thread again at the next. Queued without a writer, the buffer
        // was never written and Truncate, Sync and Close waited for it forever.
        lk.unlock();
        Write(cur_, kBufBytes, base_);
        base_ += kBufBytes;
        fill_ = 0;
        return;
      }
    }
    queue_.push_back({cur_, base_});
    cur_ = nullptr;
    base_ += kBufBytes;
    fill_ = 0;
    work_cv_.notify_one();
    if (free_.empty() && all_.size() < kBuffers) {
      cur_ = NewBuffer();
      return;
    }
    done_cv_.wait(lk, [&] { return !free_.empty() || error_; });
    if (error_) std::rethrow_exception(error_);
    cur_ = free_.back();
    free_.pop_back();
  }

  // Until nothing is in flight; then raises the writer's error, if any.
  void WaitIdle() {
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [&] { return queue_.empty() && !busy_; });
    if (error_) std::rethrow_exception(error_);
  }

  // Writes the staged bytes, the partial last block zero-padded, and cuts the file back to its length.
  void WriteTail() {
    WaitIdle();
    size_t n = (fill_ + kAlign - 1) & ~(kAlign - 1);
    if (n == 0) return;
    std::memset(cur_ + fill_, 0, n - fill_);
    Write(cur_, n, base_);
    if (n > fill_ && ::ftruncate(fd_, static_cast<off_t>(base_ + fill_)) != 0) IoFail("cannot truncate", path_, errno);
    size_t whole = fill_ & ~(kAlign - 1);
    size_t keep = fill_ - whole;
    if (keep > 0 && whole > 0) std::memmove(cur_, cur_ + whole, keep);
    base_ += whole;
    fill_ = keep;
  }

  // One whole transfer, by the writer thread or (nothing in flight) the caller.
  void Write(const char* buf, size_t n, uint64_t offset) {
    size_t done = 0;
    while (done < n) {
      ssize_t w = ::pwrite(fd_, buf + done, n - done, static_cast<off_t>(offset + done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && errno == EINVAL && direct_) {  // the device wants larger blocks than kAlign
        DropDirect();
        continue;
      }
      if (w < 0) IoFail("cannot write", path_, errno);
      if (w == 0) IoFail("cannot write", path_, EIO);
      done += static_cast<size_t>(w);
    }
    // Buffered: start writeback now (as RocksDB's bytes_per_sync), so a Sync waits only for the last stretch.
    if (!direct_) ::sync_file_range(fd_, static_cast<off_t>(offset), static_cast<off_t>(n), SYNC_FILE_RANGE_WRITE);
  }

  void DropDirect() {
    int flags = ::fcntl(fd_, F_GETFL);
    if (flags < 0 || ::fcntl(fd_, F_SETFL, flags & ~O_DIRECT) != 0) IoFail("cannot write", path_, errno);
    direct_ = false;
  }

  // Same rule as AsyncWritableFile::Loop (io/async_file.cc): nothing is written after a failure. Not shared:
  // its items are owned strings recycled through spare_, and its error stays (here Truncate clears failed_at_).
  void Loop() {
    std::unique_lock<std::mutex> lk(mu_);
    while (true) {
      work_cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      Transfer t = queue_.front();
      queue_.pop_front();
      busy_ = true;
      bool failed = error_ != nullptr;
      lk.unlock();
      std::exception_ptr err;
      if (!failed) {  // after a failed write nothing more is written: the file would have a hole
        try {
          Write(t.buf, kBufBytes, t.offset);
        } catch (...) {
          err = std::current_exception();
        }
      }
      lk.lock();
      if (err) {
        error_ = err;
        failed_at_ = t.offset;
        failed_buf_ = t.buf;  // kept for Truncate
      } else {
        free_.push_back(t.buf);
      }
      busy_ = false;
      done_cv_.notify_all();
    }
  }

  void StopWriter() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    work_cv_.notify_one();
    if (writer_.joinable()) writer_.join();
  }

  std::string path_;
  int fd_;
  bool direct_;              // changed only while nothing is in flight; mu_ orders it between the threads
  std::vector<char*> all_;   // every buffer, freed at the end
  char* cur_ = nullptr;      // the staging buffer; nullptr after a failed Submit
  uint64_t base_ = 0;        // file offset of cur_[0], a multiple of kAlign
  size_t fill_ = 0;          // staged bytes: the file's length is base_ + fill_
  std::mutex mu_;
  std::condition_variable work_cv_;  // to the writer: a transfer, or stop
  std::condition_variable done_cv_;  // to the caller: a free buffer, or idle
  std::deque<Transfer> queue_;
  std::vector<char*> free_;
  bool busy_ = false, stop_ = false;
  std::exception_ptr error_;
  uint64_t failed_at_ = UINT64_MAX;  // file offset of the transfer that failed (error_)
  char* failed_buf_ = nullptr;       // its bytes
  std::thread writer_;
};

}  // namespace

std::unique_ptr<WritableFile> OpenUncachedWritableFile(const std::string& path, bool allow_direct) {
  int flags = O_RDWR | O_CREAT | O_CLOEXEC;  // read: the partial last block is staged again on open
  int fd = allow_direct ? ::open(path.c_str(), flags | O_DIRECT, 0644) : -1;
  bool direct = fd >= 0;
  if (fd < 0 && (errno == EINVAL || !allow_direct)) fd = ::open(path.c_str(), flags, 0644);  // no direct I/O here
  if (fd < 0) IoFail("cannot create", path, errno);
  return std::make_unique<UncachedWritableFile>(path, fd, direct);
}

}  // namespace sluice
