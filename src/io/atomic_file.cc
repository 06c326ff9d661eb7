#include "io/atomic_file.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>

#include <fmt/format.h>

namespace sluice {

AtomicFile::AtomicFile(Env* env, std::string path) : env_(env), path_(std::move(path)) {
  static std::atomic<uint64_t> counter{0};
  tmp_ = fmt::format("{}.tmp-{}-{}", path_, ::getpid(), counter.fetch_add(1));
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

}  // namespace sluice
