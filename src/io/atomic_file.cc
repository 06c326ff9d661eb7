#include "io/atomic_file.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <filesystem>

namespace sluice {

size_t FormatTemporaryName(std::string_view target, int64_t pid, uint64_t n, char* out, size_t cap) {
  if (pid <= 0 || cap <= target.size() + kTemporaryMarker.size()) return 0;
  char* end = out + cap - 1;  // the terminator's place
  char* p = std::copy(target.begin(), target.end(), out);
  p = std::copy(kTemporaryMarker.begin(), kTemporaryMarker.end(), p);
  // std::to_chars of an integer is pure computation (no locale, no allocation).
  auto r = std::to_chars(p, end, static_cast<uint64_t>(pid));
  if (r.ec != std::errc() || r.ptr == end) return 0;
  *r.ptr = '-';
  r = std::to_chars(r.ptr + 1, end, n);
  if (r.ec != std::errc()) return 0;
  *r.ptr = '\0';
  return static_cast<size_t>(r.ptr - out);
}

AtomicFile::AtomicFile(Env* env, std::string path) : env_(env), path_(std::move(path)) {
  static std::atomic<uint64_t> counter{0};
  tmp_.resize(path_.size() + kTemporaryNameExtra);
  tmp_.resize(FormatTemporaryName(path_, ::getpid(), counter.fetch_add(1), tmp_.data(), tmp_.size()));
  file_ = env_->NewWritableFile(tmp_, false);
}

AtomicFile::~AtomicFile() {
  if (!committed_) {
    file_.reset();
    try {
      env_->RemoveFile(tmp_);
    } catch (...) {
    }
  }
}

void AtomicFile::Commit() {
  file_->Sync();
  file_->Close();
  env_->RenameFile(tmp_, path_);
  env_->SyncDir(std::filesystem::path(path_).parent_path().string());
  committed_ = true;
}

void WriteFileAtomic(Env* env, const std::string& path, std::string_view content) {
  AtomicFile f(env, path);
  f.file().Append(content);
  f.Commit();
}

std::string ReadFile(Env* env, const std::string& path) {
  uint64_t size = env->FileSize(path);
  std::string out(size, '\0');
  size_t n = env->ReadAt(path, 0, size, out.data());
  out.resize(n);
  return out;
}

namespace {

// Whether no process runs as `pid` any more (none has it, or it exited and awaits its reaping), and it is
// not this one: the files it was writing are abandoned. (A temporary's name holds only the pid, not the
// start time, so a reused pid keeps its files: they linger, never go wrongly.)
bool ProcessGone(Env* env, int64_t pid) {
  if (pid == env->ProcessId()) return false;
  std::optional<Env::ProcessInfo> info = env->GetProcessInfo(pid);
  return !info || info->state == 'Z';
}

}  // namespace

std::vector<std::string> RemoveAbandonedTemporaries(Env* env, const std::string& dir, bool recursive,
                                                    const std::function<bool(std::string_view target_name)>& ours) {
  std::vector<std::string> removed;
  for (const std::string& name : env->ListDir(dir)) {
    std::string path = dir + "/" + name;
    // "<target>.tmp-<pid>-<n>" (FormatTemporaryName): the last ".tmp-", then two decimal numbers joined by '-'.
    size_t at = name.rfind(kTemporaryMarker);
    if (at != std::string::npos && at > 0) {
      std::string_view rest = std::string_view(name).substr(at + kTemporaryMarker.size());
      size_t dash = rest.find('-');
      auto digits = [](std::string_view v) { return !v.empty() && v.find_first_not_of("0123456789") == std::string_view::npos; };
      if (dash != std::string_view::npos && digits(rest.substr(0, dash)) && digits(rest.substr(dash + 1)) && dash <= 18) {
        int64_t pid = std::stoll(std::string(rest.substr(0, dash)));
        if (ours(std::string_view(name).substr(0, at)) && ProcessGone(env, pid)) {
          env->RemoveFile(path);
          removed.push_back(std::move(path));
        }
        continue;
      }
    }
    if (recursive && name.find('.') == std::string::npos) {
      auto below = RemoveAbandonedTemporaries(env, path, true, ours);
      removed.insert(removed.end(), below.begin(), below.end());
    }
  }
  return removed;
}

}  // namespace sluice
