// Env: every file-system, process and clock access sluice makes goes through this interface (as LevelDB's
// Env), so tests can substitute one that fails chosen operations (tests/engine/).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/gpu.h"

namespace sluice {

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual void Append(std::string_view data) = 0;  // throws kOutput on failure (e.g. ENOSPC)
  virtual void Sync() = 0;                         // fdatasync
  virtual void Close() = 0;
  // Cuts the file to `size` bytes (no more than written so far); the next Append continues there. Only the
  // files of Env::NewWritableFile (either mode) and Env::NewUncachedWritableFile support it; others throw.
  virtual void Truncate(uint64_t size);
};

// A read-only mapping of bytes of a file. Reading a page of it after the file shrank below that page
// raises SIGBUS; the POSIX Env turns that into an exit with a message naming the file (input files must
// not change while a job reads them: plan.h fingerprints them).
class MappedRange {
 public:
  virtual ~MappedRange() = default;  // unmaps
  virtual const char* data() const = 0;
  virtual size_t size() const = 0;
  // Takes the pages wholly inside [0, upto) out of this process's resident set (they stay in the page
  // cache and read back if touched again), so a sequential reader's RSS does not grow with the file.
  virtual void Release(size_t upto) = 0;
};

// An open file for positional reads (one open per file, not per read).
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to n bytes at offset into buf; returns bytes read (0 at EOF). Throws kInput on error.
  virtual size_t ReadAt(uint64_t offset, size_t n, char* buf) = 0;
  // How a mapping will be read: front to back (input ranges: read-ahead), or at random (a model's hash
  // tables: no read-ahead).
  enum class Access { kSequential, kRandom };
  // Maps [offset, offset + n), which must lie inside the file; nullptr where this file cannot be mapped
  // (then read it). The default maps nothing, so an Env that injects read faults sees every read.
  // Mapping saves the read() copy, a tenth of a simple recipe's time (docs/benchmarks.md).
  virtual std::unique_ptr<MappedRange> Map(uint64_t offset, size_t n, Access access) { return nullptr; }
};

class FileLock {
 public:
  virtual ~FileLock() = default;  // releases
};

class Env {
 public:
  virtual ~Env() = default;
  static Env* Default();

  // Reads up to n bytes at offset into buf; returns bytes read (0 at EOF). Throws kInput on error.
  virtual size_t ReadAt(const std::string& path, uint64_t offset, size_t n, char* buf) = 0;
  // Throws kInput naming the path if it cannot be opened.
  virtual std::unique_ptr<RandomAccessFile> NewRandomAccessFile(const std::string& path) = 0;
  virtual std::unique_ptr<WritableFile> NewWritableFile(const std::string& path, bool append) = 0;
  // For a large file written once, front to back (the export): appends to `path` (creating it) around the
  // page cache (O_DIRECT), which on the machines we measured costs a tenth of the CPU time of copying the
  // bytes into the cache (docs/benchmarks.md). Appends are staged in an aligned buffer, so they reach the
  // file at the latest on Sync, Truncate or Close, not when Append returns. Where the file system or
  // device refuses direct I/O this is a plain buffered file. The default is NewWritableFile(path, true),
  // so an Env that injects faults into NewWritableFile covers these files too.
  virtual std::unique_ptr<WritableFile> NewUncachedWritableFile(const std::string& path) {
    return NewWritableFile(path, true);
  }
  virtual bool FileExists(const std::string& path) = 0;
  virtual uint64_t FileSize(const std::string& path) = 0;
  virtual int64_t FileMtimeNs(const std::string& path) = 0;
  virtual void RenameFile(const std::string& from, const std::string& to) = 0;  // atomic replace
  virtual void RemoveFile(const std::string& path) = 0;                         // missing is fine
  virtual void RemoveTree(const std::string& path) = 0;
  virtual void CreateDirs(const std::string& path) = 0;
  virtual void SyncDir(const std::string& path) = 0;
  virtual std::vector<std::string> ListDir(const std::string& path) = 0;  // names, sorted
  // Appends bytes [offset, offset + length) of `src` (length kWholeFile: to its end) to `dst`, as an
  // in-kernel copy where the file system allows. Throws kInput if `src` is shorter.
  static constexpr uint64_t kWholeFile = ~uint64_t{0};
  virtual void AppendFileTo(const std::string& src, WritableFile& dst, uint64_t offset = 0, uint64_t length = kWholeFile) = 0;
  // Cuts a file to `size` bytes (discarding an uncommitted tail); a writer opened with append continues there.
  virtual void TruncateFile(const std::string& path, uint64_t size) = 0;
  // Advisory lock (flock) across processes: exclusive, or shared with other shared holders (readers of a
  // directory that one exclusive owner may otherwise take over); nullptr if `wait` is false and it is held
  // in a conflicting mode.
  enum class LockMode { kExclusive, kShared };
  virtual std::unique_ptr<FileLock> LockFile(const std::string& path, bool wait, LockMode mode = LockMode::kExclusive) = 0;

  // Machine facts for engine/resources.h (files under /proc and /sys are read with ReadAt). They have
  // POSIX defaults so an Env written for file faults need not forward them; a test fakes them by override.
  virtual std::optional<std::string> GetEnvVar(const std::string& name);  // nullopt when unset
  virtual int AffinityCpuCount();         // CPUs in this process's sched_getaffinity mask; 0 if unknown
  virtual uint64_t PhysicalMemoryBytes();  // sysconf(_SC_PHYS_PAGES) x page size; 0 if unknown
  // The GPUs (io/gpu.h): ProbeNvml of $SLUICE_NVML_LIBRARY, else libnvidia-ml.so.1. A test presents any
  // inventory (memory, UUIDs, a failed probe) by override; resources, the manager and shard read it here.
  // Not forwarded by EnvWrapper: the default reads this Env's GetEnvVar, so a wrapper's variables pick the library.
  virtual GpuInventory ListGpus();

  // Processes, for the job's pid file and `sluice stop` (job/stop.h), and the terminal of the progress
  // display. POSIX defaults, as above; a test fakes a recycled pid, another host or a reboot by override.
  struct ProcessInfo {
    uint64_t start_ticks = 0;  // /proc/<pid>/stat field 22: start time, clock ticks after boot
    char state = '?';          // field 3: R, S, D, T, Z (exited, not yet reaped), ...
  };
  virtual int64_t ProcessId();                                     // getpid()
  virtual std::optional<ProcessInfo> GetProcessInfo(int64_t pid);  // nullopt: no such process
  virtual std::string HostName();                                  // gethostname(); "" if unknown
  virtual std::string BootId();  // /proc/sys/kernel/random/boot_id (changes at each boot); "" if unknown
  virtual int SignalProcess(int64_t pid, int sig);  // kill(2): 0, or its errno (ESRCH, EPERM)
  virtual int TerminalColumns(int fd);  // 0 if `fd` is not a terminal, else its width (80 if unknown)

  virtual double NowSeconds() = 0;  // wall clock, epoch seconds
  virtual double MonotonicSeconds() = 0;
  virtual void SleepSeconds(double s) = 0;
};

// An Env that forwards every call to another (as LevelDB's EnvWrapper): a test overrides only what it fakes.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}
  Env* target() const { return target_; }
  size_t ReadAt(const std::string& path, uint64_t offset, size_t n, char* buf) override { return target_->ReadAt(path, offset, n, buf); }
  std::unique_ptr<RandomAccessFile> NewRandomAccessFile(const std::string& path) override { return target_->NewRandomAccessFile(path); }
  std::unique_ptr<WritableFile> NewWritableFile(const std::string& path, bool append) override {
    return target_->NewWritableFile(path, append);
  }
  bool FileExists(const std::string& path) override { return target_->FileExists(path); }
  uint64_t FileSize(const std::string& path) override { return target_->FileSize(path); }
  int64_t FileMtimeNs(const std::string& path) override { return target_->FileMtimeNs(path); }
  void RenameFile(const std::string& from, const std::string& to) override { target_->RenameFile(from, to); }
  void RemoveFile(const std::string& path) override { target_->RemoveFile(path); }
  void RemoveTree(const std::string& path) override { target_->RemoveTree(path); }
  void CreateDirs(const std::string& path) override { target_->CreateDirs(path); }
  void SyncDir(const std::string& path) override { target_->SyncDir(path); }
  std::vector<std::string> ListDir(const std::string& path) override { return target_->ListDir(path); }
  void AppendFileTo(const std::string& src, WritableFile& dst, uint64_t offset, uint64_t length) override {
    target_->AppendFileTo(src, dst, offset, length);
  }
  void TruncateFile(const std::string& path, uint64_t size) override { target_->TruncateFile(path, size); }
  std::unique_ptr<FileLock> LockFile(const std::string& path, bool wait, LockMode mode = LockMode::kExclusive) override {
    return target_->LockFile(path, wait, mode);
  }
  std::optional<std::string> GetEnvVar(const std::string& name) override { return target_->GetEnvVar(name); }
  int AffinityCpuCount() override { return target_->AffinityCpuCount(); }
  uint64_t PhysicalMemoryBytes() override { return target_->PhysicalMemoryBytes(); }
  int64_t ProcessId() override { return target_->ProcessId(); }
  std::optional<ProcessInfo> GetProcessInfo(int64_t pid) override { return target_->GetProcessInfo(pid); }
  std::string HostName() override { return target_->HostName(); }
  std::string BootId() override { return target_->BootId(); }
  int SignalProcess(int64_t pid, int sig) override { return target_->SignalProcess(pid, sig); }
  int TerminalColumns(int fd) override { return target_->TerminalColumns(fd); }
  double NowSeconds() override { return target_->NowSeconds(); }
  double MonotonicSeconds() override { return target_->MonotonicSeconds(); }
  void SleepSeconds(double s) override { target_->SleepSeconds(s); }

 private:
  Env* target_;
};

}  // namespace sluice
