#include "engine/export_journal.h"

#include <filesystem>

#include <fmt/format.h>

#include "core/error.h"
#include "core/fault_injection.h"
#include "io/atomic_file.h"

namespace sluice {

// Receives the (possibly compressed) bytes of one partition, per stream, and routes them: into memory while
// the partition is ahead of its turn, straight into the journals once it is the head, into result files of
// its own when the memory limit is reached first. Both streams always share one route, so one manifest
// describes them.
class ExportJournal::Sink : public OutputSink {
 public:
  Sink(ExportJournal& j, size_t p) : j_(j), p_(p) {
    for (size_t s = 0; s < j.n_streams_; ++s) parts_[s] = std::make_unique<Part>(*this, s, j.opt_.codec, j.TakeBuffer());
  }
  ~Sink() override {
    if (!committed_ && mode_ == Mode::kDirect) {
      uint64_t offsets[kMaxStreams] = {};
      for (size_t s = 0; s < j_.n_streams_; ++s) offsets[s] = parts_[s]->offset;
      j_.RollBack(offsets);
    }
    for (size_t s = 0; s < j_.n_streams_; ++s) j_.ReturnBuffer(std::move(parts_[s]->buffer));
  }
  void Write(std::string_view d) override { parts_[0]->writer.Write(d); }
  void WriteSide(std::string_view d) override {
    if (j_.n_streams_ < 2) Fail(ErrorKind::kInternal, "the export journal has no side file");
    parts_[1]->writer.Write(d);
  }
  void Commit(const Counters& c, std::string_view crash_point) override;
  std::string Location() const override { return mode_ == Mode::kFile ? j_.opt_.result_paths[p_] : j_.opt_.export_path; }

 private:
  class Target : public WritableFile {
   public:
    Target(Sink& s, size_t stream) : s_(s), stream_(stream) {}
    void Append(std::string_view d) override { s_.Route(stream_, d); }
    void Sync() override {}
    void Close() override {}

   private:
    Sink& s_;
    size_t stream_;
  };
  struct Part {
    Part(Sink& s, size_t stream, Codec codec, std::string&& buf) : target(s, stream), writer(target, codec, 3), buffer(std::move(buf)) {}
    Target target;
    CompressedWriter writer;
    StreamHash hash;
    std::string buffer;
    std::unique_ptr<AtomicFile> file;
    uint64_t offset = 0;  // kDirect: where this partition starts in the stream's journal
  };
  enum class Mode { kBuffer, kDirect, kFile };

  void Route(size_t s, std::string_view d);

  ExportJournal& j_;
  size_t p_;
  std::unique_ptr<Part> parts_[kMaxStreams];
  Mode mode_ = Mode::kBuffer;
  uint64_t buffered_ = 0;  // kBuffer: bytes held, all streams
  bool committed_ = false;
};

void ExportJournal::Sink::Route(size_t s, std::string_view d) {
  Part& part = *parts_[s];
  part.hash.Update(d);
  if (mode_ == Mode::kBuffer && j_.head_.load(std::memory_order_acquire) == p_ && !j_.broken_.load()) {
    // Our turn: everything before us is in the journals, and nobody else writes to them until we commit.
    mode_ = Mode::kDirect;
    for (size_t t = 0; t < j_.n_streams_; ++t) {
      parts_[t]->offset = j_.streams_[t].size.load(std::memory_order_relaxed);
      j_.AppendRaw(t, parts_[t]->buffer);
      j_.ReturnBuffer(std::move(parts_[t]->buffer));
    }
  }
  switch (mode_) {
    case Mode::kDirect: j_.AppendRaw(s, d); break;
    case Mode::kFile: part.file->file().Append(d); break;
    case Mode::kBuffer:
      if (buffered_ + d.size() <= j_.opt_.buffer_cap) {
        // Reserve the whole cap at once (an untouched reservation costs no memory): growing by doubling
        // would copy the buffer and fault in fresh pages each time, which at np 2 cost a third of the run.
        if (s == 0 && part.buffer.capacity() < j_.opt_.buffer_cap) part.buffer.reserve(j_.opt_.buffer_cap);
        part.buffer.append(d);
        buffered_ += d.size();
        break;
      }
      for (size_t t = 0; t < j_.n_streams_; ++t) {
        parts_[t]->file = std::make_unique<AtomicFile>(j_.env_, j_.ResultPath(p_, t));
        parts_[t]->file->file().Append(parts_[t]->buffer);
        j_.ReturnBuffer(std::move(parts_[t]->buffer));
      }
      part.file->file().Append(d);
      mode_ = Mode::kFile;
      break;
  }
}

void ExportJournal::Sink::Commit(const Counters& c, std::string_view crash_point) {
  for (size_t s = 0; s < j_.n_streams_; ++s) parts_[s]->writer.Finish();
  Manifest m;
  m.file_bytes = parts_[0]->hash.bytes();
  m.xxh3 = parts_[0]->hash.digest();
  m.raw_bytes = parts_[0]->writer.raw_bytes();
  if (j_.n_streams_ > 1) m.side = SideManifest{parts_[1]->hash.bytes(), parts_[1]->hash.digest(), parts_[1]->writer.raw_bytes(), {}};
  m.counters = c;
  Env* env = j_.env_;
  const std::string& path = j_.opt_.result_paths[p_];
  switch (mode_) {
    case Mode::kDirect: {
      CrashPoint(crash_point);
      for (size_t s = j_.n_streams_; s-- > 0;) j_.streams_[s].file->Sync();
      CrashPoint("manifest_commit");
      m.export_offset = parts_[0]->offset;
      if (m.side) m.side->offset = parts_[1]->offset;
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
      for (size_t s = j_.n_streams_; s-- > 0;) parts_[s]->file->Commit();
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
                            (p_ < j_.first_failed_ && j_.pending_bytes_ + buffered_ <= j_.opt_.pending_cap);
      if (wait_in_memory) {
        Entry& e = j_.entries_[p_];
        e.state = State::kBuffer;
        e.manifest = m;
        j_.pending_bytes_ += buffered_;
        for (size_t s = 0; s < j_.n_streams_; ++s) e.buffer[s] = std::move(parts_[s]->buffer);
        j_.Drain();  // appends it now if its turn has come
        break;
      }
      lk.unlock();
      std::string bufs[kMaxStreams];
      for (size_t s = 0; s < j_.n_streams_; ++s) bufs[s] = std::move(parts_[s]->buffer);
      j_.WriteResultFile(p_, bufs, m, crash_point);
      for (size_t s = 0; s < j_.n_streams_; ++s) j_.ReturnBuffer(std::move(bufs[s]));
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

ExportJournal::ExportJournal(Env* env, Options opt)
    : env_(env), opt_(std::move(opt)), n_streams_(opt_.side_journal_path.empty() ? 1 : 2), entries_(opt_.result_paths.size()) {
  streams_[0].final_path = opt_.export_path;
  streams_[0].journal_path = opt_.journal_path;
  streams_[1].final_path = opt_.side_path;
  streams_[1].journal_path = opt_.side_journal_path;
}
ExportJournal::~ExportJournal() = default;

std::string ExportJournal::ResultPath(size_t p, size_t s) const {
  return s == 0 ? opt_.result_paths[p] : StatsSidePath(opt_.result_paths[p]);
}

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

void ExportJournal::AppendRaw(size_t s, std::string_view d) {
  streams_[s].file->Append(d);
  streams_[s].size.fetch_add(d.size(), std::memory_order_relaxed);
}

void ExportJournal::RollBack(const uint64_t* offsets) noexcept {
  // A failed attempt of the head partition: cut its bytes off so the retry starts at the same offsets.
  std::string why;
  if (CutBack(offsets, &why)) return;
  std::lock_guard<std::mutex> lk(mu_);
  Break(std::move(why));
}

bool ExportJournal::CutBack(const uint64_t* offsets, std::string* why) noexcept {
  try {
    for (size_t s = 0; s < n_streams_; ++s) {
      streams_[s].file->Truncate(offsets[s]);
      streams_[s].size.store(offsets[s]);
    }
    return true;
  } catch (const std::exception& e) {
    *why = e.what();
  } catch (...) {
    *why = "unknown error";
  }
  return false;
}

void ExportJournal::Break(std::string why) {
  // A journal now has bytes no manifest accounts for; appending after them would misplace every later
  // partition. Stop using it: later partitions become result files and Finish refuses.
  broken_reason_ = std::move(why);
  broken_.store(true);
  first_failed_ = std::min(first_failed_, head_.load());
}

void ExportJournal::WriteResultFile(size_t p, const std::string* bytes, Manifest m, std::string_view crash_point) {
  std::unique_ptr<AtomicFile> f[kMaxStreams];
  for (size_t s = 0; s < n_streams_; ++s) {
    f[s] = std::make_unique<AtomicFile>(env_, ResultPath(p, s));
    f[s]->file().Append(bytes[s]);
  }
  CrashPoint(crash_point);
  for (size_t s = n_streams_; s-- > 0;) f[s]->Commit();
  CrashPoint("manifest_commit");
  m.export_offset.reset();
  if (m.side) m.side->offset.reset();
  WriteManifest(env_, opt_.result_paths[p], opt_.recipe_hash, m);
}

void ExportJournal::Drain() noexcept {
  // After a failed append, later commits try again, up to append_retries times; Finish always tries.
  if (!append_error_.empty() && !finishing_ && append_failures_ > opt_.append_retries) return;
  while (!broken_.load()) {
    size_t h = head_.load(std::memory_order_relaxed);
    if (h >= entries_.size()) break;
    Entry& e = entries_[h];
    if (e.state != State::kBuffer && e.state != State::kFile) break;
    uint64_t offsets[kMaxStreams] = {};
    for (size_t s = 0; s < n_streams_; ++s) offsets[s] = streams_[s].size.load();
    // Partition h's bytes stay where they wait (memory, result file) until its manifest names the journal.
    try {
      for (size_t s = 0; s < n_streams_; ++s) {
        if (e.state == State::kBuffer) {
          AppendRaw(s, e.buffer[s]);
        } else {
          env_->AppendFileTo(ResultPath(h, s), *streams_[s].file, 0, Bytes(e.manifest, s));
          streams_[s].size.fetch_add(Bytes(e.manifest, s));
        }
      }
      CrashPoint("result_commit");
      for (size_t s = n_streams_; s-- > 0;) streams_[s].file->Sync();
      CrashPoint("manifest_commit");
      Manifest m = e.manifest;
      m.export_offset = offsets[0];
      if (m.side) m.side->offset = offsets[1];
      WriteManifest(env_, opt_.result_paths[h], opt_.recipe_hash, m);
      e.manifest = std::move(m);
    } catch (const std::exception& ex) {
      // Partition h's failure, not the caller's: the caller's own commit is complete, and throwing would
      // fail (and retry) it. Cut h's bytes off; h keeps waiting, and the next Drain or Finish tries again.
      append_error_ = fmt::format("cannot append partition {} to the export journal: {}", h, ex.what());
      ++append_failures_;
      if (opt_.on_append_failed) {
        try {
          opt_.on_append_failed(h, append_failures_, append_error_, !finishing_);
        } catch (const std::exception&) {
          // The event log may be on the same full disk; Finish still reports the error.
        }
      }
      std::string why;
      if (!CutBack(offsets, &why)) Break(std::move(why));
      return;
    }
    append_error_.clear();
    for (size_t s = 0; s < n_streams_; ++s) {
      if (e.state == State::kBuffer) {
        pending_bytes_ -= e.buffer[s].size();
        ReturnBuffer(std::move(e.buffer[s]));
      } else {
        try {
          env_->RemoveFile(ResultPath(h, s));
        } catch (const std::exception&) {
          // Harmless: the manifest now names the journal, and Recover removes the copy.
        }
      }
    }
    e.state = State::kJournal;
    head_.store(h + 1, std::memory_order_release);
  }
}

ExportJournal::Recovery ExportJournal::Recover() {
  std::lock_guard<std::mutex> lk(mu_);
  Recovery r;
  // Per stream: the journal, else the published file (a finished job run again), else nothing.
  std::string source[kMaxStreams];
  uint64_t source_size[kMaxStreams] = {}, expected[kMaxStreams] = {};
  for (size_t s = 0; s < n_streams_; ++s) {
    const Stream& st = streams_[s];
    source[s] = env_->FileExists(st.journal_path) ? st.journal_path : env_->FileExists(st.final_path) ? st.final_path : "";
    source_size[s] = source[s].empty() ? 0 : env_->FileSize(source[s]);
  }
  auto matches = [&](const Manifest& m) {
    if (n_streams_ > 1 && !m.side) return false;  // written without a side part
    for (size_t s = 0; s < n_streams_; ++s) {
      uint64_t offset = s == 0 ? *m.export_offset : *m.side->offset, n = Bytes(m, s);
      uint64_t hash = s == 0 ? m.xxh3 : m.side->xxh3;
      if (offset != expected[s] || n > source_size[s] - expected[s] || HashFileRange(env_, source[s], expected[s], n) != hash)
        return false;
    }
    return true;
  };
  bool in_prefix = true;
  for (size_t p = 0; p < entries_.size(); ++p) {
    const std::string& path = opt_.result_paths[p];
    Manifest m;
    std::string why;
    ManifestState st = ReadManifest(env_, path, opt_.recipe_hash, opt_.n_ops, &m, &why);
    if (st == ManifestState::kValid && m.export_offset) {
      if (in_prefix && matches(m)) {
        entries_[p].state = State::kJournal;
        entries_[p].manifest = m;
        for (size_t s = 0; s < n_streams_; ++s) {
          expected[s] += Bytes(m, s);
          env_->RemoveFile(ResultPath(p, s));  // a result file already copied in, if a crash left it
        }
        ++r.prefix_partitions;
        continue;
      }
      // Bytes past a gap, or bytes that do not match: only a rerun can tell what belongs there.
      r.discarded.push_back(fmt::format("partition {}: its bytes in '{}' do not match its manifest", p,
                                        source[0].empty() ? opt_.journal_path : source[0]));
      env_->RemoveFile(ManifestPath(path));
      in_prefix = false;
      continue;
    }
    in_prefix = false;
    if (st == ManifestState::kValid) st = LoadManifest(env_, path, opt_.recipe_hash, opt_.n_ops, true, &m, &why);
    if (st == ManifestState::kValid && n_streams_ > 1 && !m.side) {
      st = ManifestState::kCorrupt;
      why = "it has no side part";
    }
    if (st == ManifestState::kValid) {
      entries_[p].state = State::kFile;
      entries_[p].manifest = m;
      ++r.result_files;
    } else if (st == ManifestState::kCorrupt) {
      r.discarded.push_back(fmt::format("partition {}: result '{}' not used: {}", p, path, why));
    }
  }
  r.prefix_bytes = expected[0];
  head_.store(r.prefix_partitions);
  bool complete = r.prefix_partitions == entries_.size();
  for (size_t s = 0; s < n_streams_; ++s) {
    streams_[s].size.store(expected[s]);
    complete = complete && source_size[s] == expected[s];
  }
  // Published: the export was renamed, and the side journal renamed too (side_always) or kept (copied out).
  complete = complete && source[0] == opt_.export_path;
  if (complete && n_streams_ > 1) {
    if (opt_.side_always) complete = source[1] == opt_.side_path;
    else complete = source[1] == opt_.side_journal_path && (!PublishSide() || env_->FileExists(opt_.side_path));
  }
  if (complete) {
    export_complete_ = r.export_complete = true;
    if (n_streams_ > 1 && PublishSide()) side_file_ = opt_.side_path;
    return r;
  }
  for (size_t s = 0; s < n_streams_; ++s) {
    Stream& st = streams_[s];
    env_->CreateDirs(std::filesystem::path(st.journal_path).parent_path().string());
    if (source[s] == st.journal_path) env_->TruncateFile(st.journal_path, expected[s]);
    std::unique_ptr<WritableFile> f = env_->NewUncachedWritableFile(st.journal_path);
    if (source[s] != st.journal_path && expected[s] > 0) env_->AppendFileTo(source[s], *f, 0, expected[s]);
    f->Sync();
    st.file = std::move(f);
    env_->SyncDir(std::filesystem::path(st.journal_path).parent_path().string());
  }
  Drain();
  return r;
}

bool ExportJournal::PublishSide() const {
  if (n_streams_ < 2) return false;
  if (opt_.side_always) return true;
  for (const Entry& e : entries_)
    if ((e.state == State::kJournal || e.state == State::kFile || e.state == State::kBuffer) && e.manifest.counters.side_rows > 0)
      return true;
  return false;
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
  SpillWaiting(first_failed_ + 1);  // they can no longer reach the journal in this run
}

void ExportJournal::SpillWaiting(size_t from) {
  for (size_t q = from; q < entries_.size(); ++q) {
    Entry& e = entries_[q];
    if (e.state != State::kBuffer) continue;
    try {
      WriteResultFile(q, e.buffer, e.manifest, "result_commit");
    } catch (const std::exception&) {
      continue;  // it waits in memory still: an allow_partial Finish appends it from there, a resume recomputes it
    }
    for (size_t s = 0; s < n_streams_; ++s) {
      pending_bytes_ -= e.buffer[s].size();
      ReturnBuffer(std::move(e.buffer[s]));
    }
    e.state = State::kFile;
  }
}

std::string ExportJournal::Finish(const std::vector<size_t>& done) {
  std::lock_guard<std::mutex> lk(mu_);
  if (export_complete_) return opt_.export_path;
  finishing_ = true;
  Drain();  // a waiting partition whose append failed is tried once more
  if (broken_.load()) Fail(ErrorKind::kOutput, "the export journal '{}' could not be rolled back after a failed write ({}); run again to resume", opt_.journal_path, broken_reason_);
  if (!append_error_.empty()) {
    SpillWaiting(head_.load());  // what waits in memory is kept for the resume, where the disk allows
    Fail(ErrorKind::kOutput, "{} (tried {} times); the export journal '{}' keeps the partitions before it: run again to resume",
         append_error_, append_failures_, opt_.journal_path);
  }
  size_t head = head_.load();
  for (size_t p : done) {
    if (p < head) continue;
    // Only after failures (an allow_partial export): these stay result files, for the resume.
    Entry& e = entries_[p];
    for (size_t s = 0; s < n_streams_; ++s) {
      if (e.state == State::kBuffer) {
        AppendRaw(s, e.buffer[s]);
      } else if (e.state == State::kFile) {
        env_->AppendFileTo(ResultPath(p, s), *streams_[s].file, 0, Bytes(e.manifest, s));
      } else {
        Fail(ErrorKind::kInternal, "partition {} is reported done but is not committed", p);
      }
    }
  }
  CrashPoint("export_write");
  for (size_t s = n_streams_; s-- > 0;) {
    streams_[s].file->Sync();
    streams_[s].file->Close();
  }
  // The side file first: a crash before the export's rename leaves a journal, which the rerun finishes.
  if (PublishSide()) {
    if (opt_.side_always) {
      env_->RenameFile(opt_.side_journal_path, opt_.side_path);
    } else {
      AtomicFile f(env_, opt_.side_path);
      env_->AppendFileTo(opt_.side_journal_path, f.file(), 0, env_->FileSize(opt_.side_journal_path));
      f.Commit();
    }
    env_->SyncDir(std::filesystem::path(opt_.side_path).parent_path().string());
    side_file_ = opt_.side_path;
  }
  env_->RenameFile(opt_.journal_path, opt_.export_path);
  env_->SyncDir(std::filesystem::path(opt_.export_path).parent_path().string());
  export_complete_ = true;
  return opt_.export_path;
}

}  // namespace sluice
