#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "io/env.h"
#include "io/uncached_file.h"

namespace sluice {
namespace {

[[noreturn]] void IoFail(ErrorKind kind, const char* what, const std::string& path) {
  int e = errno;
  Fail(kind, "{} '{}': {}", what, path, std::strerror(e));
}

class PosixWritableFile : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }
  void Append(std::string_view data) override {
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      ssize_t w = ::write(fd_, p, left);
      if (w < 0) {
        if (errno == EINTR) continue;
        IoFail(ErrorKind::kOutput, "cannot write", path_);
      }
      p += w;
      left -= static_cast<size_t>(w);
    }
    // Start writeback of what is written so far every few MiB (as RocksDB's bytes_per_sync): the disk
    // works while we keep producing, and the fdatasync of a commit only waits for the last stretch.
    unsynced_ += data.size();
    if (unsynced_ >= kWritebackBytes) {
      ::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
      unsynced_ = 0;
    }
  }
  void Sync() override {
    if (::fdatasync(fd_) != 0) IoFail(ErrorKind::kOutput, "cannot sync", path_);
    unsynced_ = 0;
  }
  void Truncate(uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) IoFail(ErrorKind::kOutput, "cannot truncate", path_);
    // With O_APPEND the next write lands at the new end anyway; a file opened to overwrite (no O_APPEND)
    // keeps its offset, and would write past the end, leaving a hole.
    if (::lseek(fd_, static_cast<off_t>(size), SEEK_SET) < 0) IoFail(ErrorKind::kOutput, "cannot seek", path_);
  }
  void Close() override {
    if (fd_ >= 0 && ::close(fd_) != 0) {
      fd_ = -1;
      IoFail(ErrorKind::kOutput, "cannot close", path_);
    }
    fd_ = -1;
  }
  int fd() const { return fd_; }

 private:
  static constexpr uint64_t kWritebackBytes = 4 << 20;
  std::string path_;
  int fd_;
  uint64_t unsynced_ = 0;
};

// SIGBUS from a mapped input that shrank: the mappings live, in slots the handler reads without locks.
struct MappedSlot {
  std::atomic<uintptr_t> begin{0}, end{0};
  char path[480];
};
constexpr int kMappedSlots = 256;
MappedSlot g_mapped[kMappedSlots];
std::atomic<bool> g_sigbus_installed{false};
struct sigaction g_sigbus_previous;

void OnSigbus(int sig, siginfo_t* info, void* ctx) {
  uintptr_t a = reinterpret_cast<uintptr_t>(info->si_addr);
  for (auto& s : g_mapped) {
    if (a >= s.begin.load(std::memory_order_acquire) && a < s.end.load(std::memory_order_acquire)) {
      // Only async-signal-safe calls: write(2) and _exit(2).
      const char pre[] = "sluice: error: input file '";
      const char post[] = "' shrank while the job was reading it (files must not change during a run; start the job anew)\n";
      (void)!::write(2, pre, sizeof pre - 1);
      (void)!::write(2, s.path, ::strnlen(s.path, sizeof s.path));
      (void)!::write(2, post, sizeof post - 1);
      ::_exit(ExitCode(ErrorKind::kInput));
    }
  }
  // Not ours: let the previous disposition have it.
  ::sigaction(SIGBUS, &g_sigbus_previous, nullptr);
  ::raise(sig);
}

class PosixMappedRange : public MappedRange {
 public:
  PosixMappedRange(void* base, size_t base_len, const char* data, size_t n, int slot)
      : base_(base), base_len_(base_len), data_(data), n_(n), slot_(slot) {}
  ~PosixMappedRange() override {
    if (slot_ >= 0) {
      g_mapped[slot_].end.store(0, std::memory_order_release);
      g_mapped[slot_].begin.store(0, std::memory_order_release);
    }
    ::munmap(base_, base_len_);
  }
  const char* data() const override { return data_; }
  size_t size() const override { return n_; }
  void Release(size_t upto) override {
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    size_t end = (static_cast<size_t>(data_ - static_cast<const char*>(base_)) + std::min(upto, n_)) / page * page;
    if (end > released_) {
      ::madvise(static_cast<char*>(base_) + released_, end - released_, MADV_DONTNEED);
      released_ = end;
    }
  }

 private:
  void* base_;
  size_t base_len_;
  const char* data_;
  size_t n_;
  int slot_;
  size_t released_ = 0;
};

std::mutex g_slot_mu;  // serializes claiming slots (the handler never takes it)

int ClaimSlot(const std::string& path, uintptr_t begin, uintptr_t end) {
  std::lock_guard<std::mutex> lock(g_slot_mu);
  if (!g_sigbus_installed.exchange(true)) {
    struct sigaction sa {};
    sa.sa_sigaction = OnSigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGBUS, &sa, &g_sigbus_previous);
  }
  for (int i = 0; i < kMappedSlots; ++i) {
    if (g_mapped[i].end.load(std::memory_order_acquire) != 0) continue;
    std::snprintf(g_mapped[i].path, sizeof g_mapped[i].path, "%s", path.c_str());
    g_mapped[i].begin.store(begin, std::memory_order_release);
    g_mapped[i].end.store(end, std::memory_order_release);
    return i;
  }
  return -1;
}

class PosixRandomAccessFile : public RandomAccessFile {
 public:
  explicit PosixRandomAccessFile(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) IoFail(ErrorKind::kInput, "cannot open", path_);
  }
  ~PosixRandomAccessFile() override { ::close(fd_); }
  size_t ReadAt(uint64_t offset, size_t n, char* buf) override {
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_, buf + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        IoFail(ErrorKind::kInput, "cannot read", path_);
      }
      if (r == 0) break;
      done += static_cast<size_t>(r);
    }
    return done;
  }
  std::unique_ptr<MappedRange> Map(uint64_t offset, size_t n, Access access) override {
    struct stat st {};
    if (n == 0 || ::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode) || offset + n > static_cast<uint64_t>(st.st_size)) return nullptr;
    const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    uint64_t start = offset / page * page;
    size_t len = static_cast<size_t>(offset + n - start);
    void* base = ::mmap(nullptr, len, PROT_READ, MAP_SHARED, fd_, static_cast<off_t>(start));
    if (base == MAP_FAILED) return nullptr;  // e.g. a file system without mmap: read instead
    ::madvise(base, len, access == Access::kRandom ? MADV_RANDOM : MADV_SEQUENTIAL);
    uintptr_t b = reinterpret_cast<uintptr_t>(base);
    int slot = ClaimSlot(path_, b, b + len);
    if (slot < 0) {  // more live mappings than slots: a shrinking file would not be named, so read instead
      ::munmap(base, len);
      return nullptr;
    }
    return std::make_unique<PosixMappedRange>(base, len, static_cast<const char*>(base) + (offset - start), n, slot);
  }

 private:
  std::string path_;
  int fd_;
};

class PosixFileLock : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

 private:
  int fd_;
};

class PosixEnv : public Env {
 public:
  size_t ReadAt(const std::string& path, uint64_t offset, size_t n, char* buf) override {
    return PosixRandomAccessFile(path).ReadAt(offset, n, buf);
  }
  std::unique_ptr<RandomAccessFile> NewRandomAccessFile(const std::string& path) override {
    return std::make_unique<PosixRandomAccessFile>(path);
  }
  std::unique_ptr<WritableFile> NewWritableFile(const std::string& path, bool append) override {
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) IoFail(ErrorKind::kOutput, "cannot create", path);
    return std::make_unique<PosixWritableFile>(path, fd);
  }
  std::unique_ptr<WritableFile> NewUncachedWritableFile(const std::string& path) override {
    return OpenUncachedWritableFile(path);
  }
  bool FileExists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }
  uint64_t FileSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) IoFail(ErrorKind::kInput, "cannot stat", path);
    return static_cast<uint64_t>(st.st_size);
  }
  int64_t FileMtimeNs(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) IoFail(ErrorKind::kInput, "cannot stat", path);
    return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  }
  void RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) IoFail(ErrorKind::kOutput, "cannot rename to", to);
  }
  void RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) IoFail(ErrorKind::kOutput, "cannot remove", path);
  }
  void RemoveTree(const std::string& path) override {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (ec) Fail(ErrorKind::kOutput, "cannot remove '{}': {}", path, ec.message());
  }
  void CreateDirs(const std::string& path) override {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) Fail(ErrorKind::kOutput, "cannot create directory '{}': {}", path, ec.message());
  }
  void SyncDir(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) IoFail(ErrorKind::kOutput, "cannot open directory", path);
    ::fsync(fd);
    ::close(fd);
  }
  std::vector<std::string> ListDir(const std::string& path) override {
    std::vector<std::string> out;
    DIR* d = ::opendir(path.c_str());
    if (d == nullptr) return out;
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") out.push_back(std::move(n));
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
  }
  void AppendFileTo(const std::string& src, WritableFile& dst, uint64_t offset, uint64_t length) override {
    auto* pd = dynamic_cast<PosixWritableFile*>(&dst);
    int in = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) IoFail(ErrorKind::kInput, "cannot open", src);
    struct stat st;
    if (::fstat(in, &st) != 0) {
      ::close(in);
      IoFail(ErrorKind::kInput, "cannot stat", src);
    }
    uint64_t size = static_cast<uint64_t>(st.st_size);
    if (length == kWholeFile) length = offset <= size ? size - offset : 0;
    if (offset > size || size - offset < length) {
      ::close(in);
      Fail(ErrorKind::kInput, "'{}' has {} bytes, cannot copy [{}, {})", src, size, offset, offset + length);
    }
    loff_t off = static_cast<loff_t>(offset);
    uint64_t left = length;
    if (pd != nullptr) {
      while (left > 0) {
        ssize_t n = ::copy_file_range(in, &off, pd->fd(), nullptr, left, 0);
        if (n <= 0) break;  // fall back to read/write below (e.g. EXDEV on old kernels)
        left -= static_cast<uint64_t>(n);
      }
    }
    std::string buf(1 << 20, '\0');
    while (left > 0) {
      ssize_t r = ::pread(in, buf.data(), std::min<uint64_t>(buf.size(), left), off);
      if (r <= 0) {
        ::close(in);
        IoFail(ErrorKind::kInput, "cannot read", src);
      }
      dst.Append(std::string_view(buf.data(), static_cast<size_t>(r)));
      left -= static_cast<uint64_t>(r);
      off += r;
    }
    ::close(in);
  }
  void TruncateFile(const std::string& path, uint64_t size) override {
    if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) IoFail(ErrorKind::kOutput, "cannot truncate", path);
  }
  std::unique_ptr<FileLock> LockFile(const std::string& path, bool wait, LockMode mode = LockMode::kExclusive) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) IoFail(ErrorKind::kOutput, "cannot open lock file", path);
    while (::flock(fd, (mode == LockMode::kShared ? LOCK_SH : LOCK_EX) | (wait ? 0 : LOCK_NB)) != 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      if (e == EWOULDBLOCK) return nullptr;
      errno = e;
      IoFail(ErrorKind::kOutput, "cannot lock", path);
    }
    return std::make_unique<PosixFileLock>(fd);
  }
  double NowSeconds() override {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  }
  double MonotonicSeconds() override {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  void SleepSeconds(double s) override { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }
};

}  // namespace

void WritableFile::Truncate(uint64_t size) {
  Fail(ErrorKind::kInternal, "this file cannot be truncated (to {} bytes)", size);
}

std::optional<std::string> Env::GetEnvVar(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

int Env::AffinityCpuCount() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return 0;
  return CPU_COUNT(&set);
}

uint64_t Env::PhysicalMemoryBytes() {
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
}

GpuInventory Env::ListGpus() { return ProbeNvml(GetEnvVar("SLUICE_NVML_LIBRARY").value_or("libnvidia-ml.so.1")); }

int64_t Env::ProcessId() { return ::getpid(); }

std::optional<Env::ProcessInfo> Env::GetProcessInfo(int64_t pid) {
  if (pid <= 0) return std::nullopt;
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[1024];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  // "pid (comm) state f4 ... f22 ...": comm may hold spaces and parentheses, so fields count from the last ')'.
  std::string_view s(buf, static_cast<size_t>(n));
  size_t close = s.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  ProcessInfo info;
  int field = 2;
  for (size_t i = close + 1; i < s.size();) {
    while (i < s.size() && s[i] == ' ') ++i;
    size_t j = s.find(' ', i);
    if (j == std::string_view::npos) j = s.size();
    if (i == j) break;
    ++field;
    if (field == 3) info.state = s[i];
    if (field == 22) {
      info.start_ticks = std::strtoull(std::string(s.substr(i, j - i)).c_str(), nullptr, 10);
      return info;
    }
    i = j;
  }
  return std::nullopt;
}

std::string Env::HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "";
  return name;
}

std::string Env::BootId() {
  int fd = ::open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  char buf[64];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  std::string id(buf, n > 0 ? static_cast<size_t>(n) : 0);
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  return id;
}

int Env::SignalProcess(int64_t pid, int sig) {
  if (pid <= 0) return ESRCH;  // kill(0 or -n) would signal process groups
  return ::kill(static_cast<pid_t>(pid), sig) == 0 ? 0 : errno;
}

int Env::TerminalColumns(int fd) {
  if (!::isatty(fd)) return 0;
  struct winsize ws {};
  return ::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
}

Env* Env::Default() {
  static PosixEnv env;
  return &env;
}

}  // namespace sluice
