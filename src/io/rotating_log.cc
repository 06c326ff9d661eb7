#include "io/rotating_log.h"

#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "core/json_writer.h"
#include "io/atomic_file.h"
#include "io/codec.h"

namespace sluice {
namespace fs = std::filesystem;

RotatingLog::RotatingLog(Env* env, std::string path, RotatingLogOptions opt)
    : env_(env), path_(std::move(path)), opt_(opt) {
  if (opt_.backup_count < 0) opt_.backup_count = 0;
  fs::path p(path_);
  env_->CreateDirs(p.parent_path().string());
  lock_path_ = (p.parent_path() / ("." + p.filename().string() + ".lock")).string();
  env_->NewWritableFile(lock_path_, /*append=*/true);  // exists from now on: its size is the generation
  FinishLeftovers();
  std::lock_guard<std::mutex> lk(mu_);
  OpenLocked();
}

RotatingLog::~RotatingLog() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (compressor_.joinable()) compressor_.join();
}

std::string RotatingLog::Rotated(int i, bool gz) const { return fmt::format("{}.{}{}", path_, i, gz ? ".gz" : ""); }

void RotatingLog::OpenLocked() {
  try {
    generation_ = env_->FileSize(lock_path_);
  } catch (const Error&) {
    generation_ = 0;  // the lock file was removed under us: LockFile recreates it at the next rotation
  }
  file_ = env_->NewWritableFile(path_, /*append=*/true);
  size_ = env_->FileSize(path_);
}

void RotatingLog::Append(std::string_view record) {
  std::lock_guard<std::mutex> lk(mu_);
  ThrowIfFailedLocked();
  // One stat per record: another process rotated the file away (its size grew by a byte per rotation).
  uint64_t gen = generation_;
  try {
    gen = env_->FileSize(lock_path_);
  } catch (const Error&) {
  }
  if (gen != generation_) OpenLocked();
  if (opt_.max_bytes > 0 && size_ > 0 && size_ + record.size() > opt_.max_bytes) RotateLocked(record.size());
  file_->Append(record);
  size_ += record.size();
}

void RotatingLog::RotateLocked(uint64_t incoming) {
  // At most one rotated file waits for compression; it must be path.1.gz before path.1 is shifted.
  std::unique_lock<std::mutex> lk(mu_, std::adopt_lock);
  cv_.wait(lk, [&] { return !pending_; });
  lk.release();
  {
    auto lock = env_->LockFile(lock_path_, /*wait=*/true);
    // Another process may have rotated while we waited: then only reopen, and rotate only if still full.
    OpenLocked();
    if (size_ == 0 || size_ + incoming <= opt_.max_bytes) return;
    const int n = opt_.backup_count;
    std::vector<RotatedFile> old = ListRotated();  // newest first
    for (auto it = old.rbegin(); it != old.rend(); ++it) {
      if (it->index >= n) env_->RemoveFile(Rotated(it->index, it->gz));
      else env_->RenameFile(Rotated(it->index, it->gz), Rotated(it->index + 1, it->gz));
    }
    if (n == 0) env_->RemoveFile(path_);
    else env_->RenameFile(path_, Rotated(1, false));
    env_->NewWritableFile(lock_path_, /*append=*/true)->Append("r");  // next generation
    OpenLocked();
  }
  if (opt_.backup_count == 0) return;
  pending_ = true;
  if (!compressor_.joinable()) compressor_ = std::thread([this] { CompressorLoop(); });
  cv_.notify_all();
}

void RotatingLog::CompressorLoop() {
  std::unique_lock<std::mutex> lk(mu_);
  while (true) {
    cv_.wait(lk, [&] { return pending_ || stop_; });
    if (!pending_) return;
    lk.unlock();
    std::string err;
    try {
      CompressAll();
    } catch (const std::exception& e) {
      err = e.what();
    }
    lk.lock();
    pending_ = false;
    if (!err.empty() && error_.empty()) error_ = err;
    cv_.notify_all();
  }
}

std::vector<RotatingLog::RotatedFile> RotatingLog::ListRotated() const {
  fs::path p(path_);
  std::string prefix = p.filename().string() + ".";
  std::vector<RotatedFile> out;
  for (const auto& name : env_->ListDir(p.parent_path().string())) {
    if (!name.starts_with(prefix)) continue;
    std::string_view rest = std::string_view(name).substr(prefix.size());
    bool gz = rest.ends_with(".gz");
    if (gz) rest.remove_suffix(3);
    if (rest.empty() || rest.size() > 9 || rest.find_first_not_of("0123456789") != std::string_view::npos || rest[0] == '0')
      continue;
    out.push_back({std::stoi(std::string(rest)), gz});
  }
  std::sort(out.begin(), out.end(), [](const RotatedFile& a, const RotatedFile& b) { return a.index < b.index; });
  return out;
}

void RotatingLog::CompressAll() {
  auto lock = env_->LockFile(lock_path_, /*wait=*/true);
  // Every uncompressed rotated file, not only path.1: another process may have shifted ours meanwhile.
  std::vector<RotatedFile> files = ListRotated();
  for (const auto& f : files) {
    if (f.gz) continue;
    std::string raw = Rotated(f.index, false), gz = Rotated(f.index, true);
    if (env_->FileExists(gz)) {  // compressed before a crash that came before the raw file's removal
      env_->RemoveFile(raw);
      continue;
    }
    AtomicFile out(env_, gz);
    CompressedWriter w(out.file(), Codec::kGzip, 6);
    auto src = OpenWholeFile(env_, raw);
    std::vector<char> buf(1 << 20);
    for (size_t n; (n = src->Read(buf.data(), buf.size())) > 0;) w.Write(std::string_view(buf.data(), n));
    w.Finish();
    out.Commit();  // fsync, rename, directory sync: the .gz is durable before the raw file goes
    env_->RemoveFile(raw);
  }
}

void RotatingLog::FinishLeftovers() {
  {
    auto lock = env_->LockFile(lock_path_, /*wait=*/true);
    // Temporary .gz files of a compression a crash interrupted (none is running: it would hold the lock).
    fs::path p(path_);
    std::string prefix = p.filename().string() + ".";
    for (const auto& name : env_->ListDir(p.parent_path().string()))
      if (name.starts_with(prefix) && name.find(".gz.tmp-") != std::string::npos)
        env_->RemoveFile((p.parent_path() / name).string());
    // Files beyond backup_count (it was larger in an earlier run) are dropped, as retention says.
    for (const auto& f : ListRotated())
      if (f.index > opt_.backup_count) env_->RemoveFile(Rotated(f.index, f.gz));
  }
  CompressAll();
}

void RotatingLog::ThrowIfFailedLocked() {
  if (error_.empty()) return;
  std::string e = std::move(error_);
  error_.clear();  // reported once; the uncompressed file stays and later rotations go on
  Fail(ErrorKind::kOutput, "cannot compress rotated log of '{}': {}", path_, e);
}

void RotatingLog::Drain() {
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait(lk, [&] { return !pending_; });
  ThrowIfFailedLocked();
}

const char* LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "DEBUG";
    case LogLevel::kInfo: return "INFO";
    case LogLevel::kWarning: return "WARNING";
    case LogLevel::kError: return "ERROR";
  }
  return "INFO";
}

namespace {

int LevelNumber(LogLevel level) {  // loguru's numbers
  switch (level) {
    case LogLevel::kDebug: return 10;
    case LogLevel::kInfo: return 20;
    case LogLevel::kWarning: return 30;
    case LogLevel::kError: return 40;
  }
  return 20;
}

// Local time "YYYY-MM-DD HH:MM:SS.mmm", as loguru's default format.
std::string LocalTime(double t, bool iso) {
  std::time_t secs = static_cast<std::time_t>(t);
  int ms = static_cast<int>((t - static_cast<double>(secs)) * 1000);
  if (ms > 999) ms = 999;
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, iso ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
  std::string s = fmt::format("{}.{:03d}", buf, ms);
  if (iso) {
    std::strftime(buf, sizeof buf, "%z", &tm);
    std::string z = buf;  // +0200 -> +02:00
    if (z.size() == 5) z.insert(3, ":");
    s += z;
  }
  return s;
}

}  // namespace

std::string Logger::FormatLine(double epoch_seconds, std::string_view level, std::string_view message) {
  std::string line = fmt::format("{} | {:<8} | ", LocalTime(epoch_seconds, false), level);
  for (char c : message) {
    if (c == '\n') line += "\\n";
    else if (c != '\r') line += c;
  }
  line += '\n';
  return line;
}

Logger::Logger(Env* env, LoggerOptions opt) : env_(env), opt_(std::move(opt)) {
  fs::path name(opt_.name);
  std::string stem = name.stem().string(), ext = name.extension().string();
  auto open = [&](const std::string& file) {
    return std::make_unique<RotatingLog>(env_, (fs::path(opt_.dir) / file).string(), opt_.rotation);
  };
  main_ = open(opt_.name);
  debug_ = open(stem + "_DEBUG" + ext);
  warning_ = open(stem + "_WARNING" + ext);
  error_ = open(stem + "_ERROR" + ext);
}

Logger::~Logger() = default;

void Logger::Log(LogLevel level, std::string_view message) {
  double now = env_->NowSeconds();
  std::string line = FormatLine(now, LogLevelName(level), message);
  if (level >= opt_.main_level) main_->Append(line);
  RotatingLog* own = level == LogLevel::kDebug ? debug_.get() : level == LogLevel::kWarning ? warning_.get()
                     : level == LogLevel::kError ? error_.get() : nullptr;
  if (own == nullptr) return;
  JsonWriter w;
  w.BeginObject().Field("text", line).Key("record").BeginObject();
  w.Key("level").BeginObject().Field("name", LogLevelName(level)).Field("no", LevelNumber(level)).EndObject();
  w.Field("message", message).Field("name", "sluice");
  w.Key("process").BeginObject().Field("id", static_cast<int64_t>(::getpid())).Field("name", "sluice").EndObject();
  w.Key("thread").BeginObject().Field("id", static_cast<int64_t>(::gettid())).EndObject();
  w.Key("time").BeginObject().Field("repr", LocalTime(now, true)).Field("timestamp", now).EndObject();
  w.EndObject().EndObject();
  std::string json = w.Take();
  json += '\n';
  own->Append(json);
}

void Logger::Drain() {
  for (auto* f : {main_.get(), debug_.get(), warning_.get(), error_.get()}) f->Drain();
}

}  // namespace sluice
