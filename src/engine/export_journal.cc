#include "engine/export_journal.h"

#include <filesystem>

#include <fmt/format.h>

#include "core/error.h"
#include "core/fault_injection.h"
#include "io/atomic_file.h"

namespace sluice {

// Receives the (possibly compressed) bytes of one partition and routes them: into memory while the
// partition is ahead of its turn, straight into the journal once it is the head, into a result file of its
// own when the memory limit is reached first.
class ExportJournal::Sink : public OutputSink {
 public:
  Sink(ExportJournal& j, size_t p) : j_(j), p_(p), target_(*this), writer_(target_, j.opt_.codec, 3), buffer_(j.TakeBuffer()) {}
  ~Sink() override {
    if (!committed_ && mode_ == Mode::kDirect) j_.RollBack(offset_);
    j_.ReturnBuffer(std::move(buffer_));
  }
  void Write(std::string_view d) override { writer_.Write(d); }
  void Commit(const Counters& c, std::string_view crash_point) override;
  std::string Location() const override { return mode_ == Mode::kFile ? j_.opt_.result_paths[p_] : j_.opt_.export_path; }

 private:
  class Target : public WritableFile {
   public:
    explicit Target(Sink& s) : s_(s) {}
    void Append(std::string_view d) override { s_.Route(d); }
    void Sync() override {}
    void Close() override {}

   private:
    Sink& s_;
  };
  enum class Mode { kBuffer, kDirect, kFile };

  void Route(std::string_view d);

  ExportJournal& j_;
  size_t p_;
  Target target_;
  CompressedWriter writer_;
  Mode mode_ = Mode::kBuffer;
  StreamHash hash_;
  std::string buffer_;
  uint64_t offset_ = 0;  // kDirect: where this partition starts in the journal
  std::unique_ptr<AtomicFile> file_;
  bool committed_ = false;
};

void ExportJournal::Sink::Route(std::string_view d) {
  hash_.Update(d);
  if (mode_ == Mode::kBuffer && j_.head_.load(std::memory_order_acquire) == p_ && !j_.broken_.load()) {
    // Our turn: everything before us is in the journal, and nobody else writes to it until we commit.
    mode_ = Mode::kDirect;
    offset_ = j_.size_.load(std::memory_order_relaxed);
    j_.AppendRaw(buffer_);
    j_.ReturnBuffer(std::move(buffer_));
  }
  switch (mode_) {
    case Mode::kDirect: j_.AppendRaw(d); break;
    case Mode::kFile: file_->file().Append(d); break;
    case Mode::kBuffer:
      if (buffer_.size() + d.size() <= j_.opt_.buffer_cap) {
        buffer_.append(d);
        break;
      }
      file_ = std::make_unique<AtomicFile>(j_.env_, j_.opt_.result_paths[p_]);
      file_->file().Append(buffer_);
      file_->file().Append(d);
      j_.ReturnBuffer(std::move(buffer_));
      mode_ = Mode::kFile;
      break;
  }
}

void ExportJournal::Sink::Commit(const Counters& c, std::string_view crash_point) {
  writer_.Finish();
  Manifest m;
  m.file_bytes = hash_.bytes();
  m.xxh3 = hash_.digest();
  m.raw_bytes = writer_.raw_bytes();
  m.counters = c;
  Env* env = j_.env_;
  const std::string& path = j_.opt_.result_paths[p_];
  switch (mode_) {
    case Mode::kDirect: {
      CrashPoint(crash_point);
      j_.file_->Sync();
      CrashPoint("manifest_commit");
      m.export_offset = offset_;
      WriteManifest(env, path, j_.opt_.recipe_hash, m);
      std::lock_guard<std::mutex> lk(j_.mu_);
      Entry& e = j_.entries_[p_];
      e.state = State::kJournal;
      e.manifest = m;
      j_.head_.store(p_ + 1, std::memory_order_release);
      j_.Drain();
      break;
    }
    case Mode::kFile: {
      CrashPoint(crash_point);
      file_->Commit();
      CrashPoint("manifest_commit");
      WriteManifest(env, path, j_.opt_.recipe_hash, m);
      std::lock_guard<std::mutex> lk(j_.mu_);
      Entry& e = j_.entries_[p_];
      e.state = State::kFile;
      e.manifest = m;
      j_.Drain();
      break;
    }
    case Mode::kBuffer: {
      std::unique_lock<std::mutex> lk(j_.mu_);
      bool wait_in_memory = j_.head_.load() == p_ ||
                            (p_ < j_.first_failed_ && j_.pending_bytes_ + buffer_.size() <= j_.opt_.pending_cap);
      if (wait_in_memory) {
        Entry& e = j_.entries_[p_];
        e.state = State::kBuffer;
        e.manifest = m;
        j_.pending_bytes_ += buffer_.size();
        e.buffer = std::move(buffer_);
        j_.Drain();  // appends it now if its turn has come
        break;
      }
      lk.unlock();
      j_.WriteResultFile(p_, buffer_, m, crash_point);
      j_.ReturnBuffer(std::move(buffer_));
      lk.lock();
      Entry& e = j_.entries_[p_];
      e.state = State::kFile;
      e.manifest = m;
      j_.Drain();
      break;
    }
  }
  committed_ = true;
}

ExportJournal::ExportJournal(Env* env, Options opt) : env_(env), opt_(std::move(opt)), entries_(opt_.result_paths.size()) {}
ExportJournal::~ExportJournal() = default;

std::string ExportJournal::TakeBuffer() {
  std::lock_guard<std::mutex> lk(pool_mu_);
  if (pool_.empty()) return {};
  std::string b = std::move(pool_.back());
  pool_.pop_back();
  return b;
}

void ExportJournal::ReturnBuffer(std::string&& b) {
  if (b.capacity() < (64 << 10)) return;
  b.clear();
  std::lock_guard<std::mutex> lk(pool_mu_);
  pool_.push_back(std::move(b));
  b = std::string();
}

void ExportJournal::AppendRaw(std::string_view d) {
  file_->Append(d);
  size_.fetch_add(d.size(), std::memory_order_relaxed);
}

void ExportJournal::RollBack(uint64_t offset) noexcept {
  // A failed attempt of the head partition: cut its bytes off so the retry starts at the same offset.
  try {
    file_->Flush();
    env_->TruncateFile(opt_.journal_path, offset);
    size_.store(offset);
  } catch (...) {
    // The journal now has bytes no manifest accounts for; appending after them would misplace every later
    // partition. Stop using it: later partitions become result files and Finish refuses.
    std::lock_guard<std::mutex> lk(mu_);
    broken_.store(true);
    first_failed_ = std::min(first_failed_, head_.load());
  }
}

void ExportJournal::WriteResultFile(size_t p, std::string_view bytes, Manifest m, std::string_view crash_point) {
  AtomicFile f(env_, opt_.result_paths[p]);
  f.file().Append(bytes);
  CrashPoint(crash_point);
  f.Commit();
  CrashPoint("manifest_commit");
  m.export_offset.reset();
  WriteManifest(env_, opt_.result_paths[p], opt_.recipe_hash, m);
}

void ExportJournal::Drain() {
  while (!broken_.load()) {
    size_t h = head_.load(std::memory_order_relaxed);
    if (h >= entries_.size()) break;
    Entry& e = entries_[h];
    if (e.state != State::kBuffer && e.state != State::kFile) break;
    uint64_t offset = size_.load();
    if (e.state == State::kBuffer) {
      AppendRaw(e.buffer);
      pending_bytes_ -= e.buffer.size();
      ReturnBuffer(std::move(e.buffer));
    } else {
      file_->Flush();
      env_->AppendFileTo(opt_.result_paths[h], file_->base(), 0, e.manifest.file_bytes);
      size_.fetch_add(e.manifest.file_bytes);
    }
    CrashPoint("result_commit");
    file_->Sync();
    CrashPoint("manifest_commit");
    bool had_file = e.state == State::kFile;
    e.manifest.export_offset = offset;
    WriteManifest(env_, opt_.result_paths[h], opt_.recipe_hash, e.manifest);
    if (had_file) env_->RemoveFile(opt_.result_paths[h]);
    e.state = State::kJournal;
    head_.store(h + 1, std::memory_order_release);
  }
}

ExportJournal::Recovery ExportJournal::Recover() {
  std::lock_guard<std::mutex> lk(mu_);
  Recovery r;
  const std::string& journal = opt_.journal_path;
  std::string source = env_->FileExists(journal) ? journal : env_->FileExists(opt_.export_path) ? opt_.export_path : "";
  uint64_t source_size = source.empty() ? 0 : env_->FileSize(source);
  uint64_t expected = 0;
  bool in_prefix = true;
  for (size_t p = 0; p < entries_.size(); ++p) {
    const std::string& path = opt_.result_paths[p];
    Manifest m;
    std::string why;
    ManifestState s = ReadManifest(env_, path, opt_.recipe_hash, opt_.n_ops, &m, &why);
    if (s == ManifestState::kValid && m.export_offset) {
      if (in_prefix && *m.export_offset == expected && m.file_bytes <= source_size - expected &&
          HashFileRange(env_, source, expected, m.file_bytes) == m.xxh3) {
        entries_[p].state = State::kJournal;
        entries_[p].manifest = m;
        expected += m.file_bytes;
        ++r.prefix_partitions;
        env_->RemoveFile(path);  // a result file already copied in, if a crash left it
        continue;
      }
      // Bytes past a gap, or bytes that do not match: only a rerun can tell what belongs there.
      r.discarded.push_back(fmt::format("partition {}: its bytes in '{}' do not match its manifest", p, source.empty() ? journal : source));
      env_->RemoveFile(ManifestPath(path));
      in_prefix = false;
      continue;
    }
    in_prefix = false;
    if (s == ManifestState::kValid) s = LoadManifest(env_, path, opt_.recipe_hash, opt_.n_ops, true, &m, &why);
    if (s == ManifestState::kValid) {
      entries_[p].state = State::kFile;
      entries_[p].manifest = m;
      ++r.result_files;
    } else if (s == ManifestState::kCorrupt) {
      r.discarded.push_back(fmt::format("partition {}: result '{}' not used: {}", p, path, why));
    }
  }
  r.prefix_bytes = expected;
  head_.store(r.prefix_partitions);
  size_.store(expected);
  if (source == opt_.export_path && r.prefix_partitions == entries_.size() && source_size == expected) {
    export_complete_ = r.export_complete = true;
    return r;
  }
  env_->CreateDirs(std::filesystem::path(journal).parent_path().string());
  // Appending (O_APPEND) is what makes RollBack's truncation safe: the next write lands at the new end.
  if (source == journal) env_->TruncateFile(journal, expected);
  std::unique_ptr<WritableFile> f = env_->NewWritableFile(journal, true);
  if (source != journal && expected > 0) env_->AppendFileTo(opt_.export_path, *f, 0, expected);
  f->Sync();
  file_ = std::make_unique<AsyncWritableFile>(std::move(f));
  env_->SyncDir(std::filesystem::path(journal).parent_path().string());
  Drain();
  return r;
}

std::optional<Manifest> ExportJournal::Committed(size_t p) {
  std::lock_guard<std::mutex> lk(mu_);
  const Entry& e = entries_[p];
  if (e.state == State::kJournal || e.state == State::kFile) return e.manifest;
  return std::nullopt;
}

std::unique_ptr<OutputSink> ExportJournal::Open(size_t p) { return std::make_unique<Sink>(*this, p); }

void ExportJournal::MarkFailed(size_t p) {
  std::lock_guard<std::mutex> lk(mu_);
  first_failed_ = std::min(first_failed_, p);
  // Partitions after it can no longer reach the journal in this run: make them durable now.
  for (size_t q = first_failed_ + 1; q < entries_.size(); ++q) {
    Entry& e = entries_[q];
    if (e.state != State::kBuffer) continue;
    WriteResultFile(q, e.buffer, e.manifest, "result_commit");
    pending_bytes_ -= e.buffer.size();
    ReturnBuffer(std::move(e.buffer));
    e.state = State::kFile;
  }
}

std::string ExportJournal::Finish(const std::vector<size_t>& done) {
  std::lock_guard<std::mutex> lk(mu_);
  if (export_complete_) return opt_.export_path;
  if (broken_.load()) Fail(ErrorKind::kOutput, "the export journal '{}' could not be rolled back after a failed write; run again to resume", opt_.journal_path);
  size_t head = head_.load();
  for (size_t p : done) {
    if (p < head) continue;
    // Only after failures (an allow_partial export): these stay result files, for the resume.
    Entry& e = entries_[p];
    if (e.state == State::kBuffer)
      AppendRaw(e.buffer);
    else if (e.state == State::kFile) {
      file_->Flush();
      env_->AppendFileTo(opt_.result_paths[p], file_->base(), 0, e.manifest.file_bytes);
    }
    else
      Fail(ErrorKind::kInternal, "partition {} is reported done but is not committed", p);
  }
  CrashPoint("export_write");
  file_->Sync();
  file_->Close();
  env_->RenameFile(opt_.journal_path, opt_.export_path);
  env_->SyncDir(std::filesystem::path(opt_.export_path).parent_path().string());
  export_complete_ = true;
  return opt_.export_path;
}

}  // namespace sluice
