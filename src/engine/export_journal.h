// ExportJournal: the single-file export, assembled in partition order while the final stage runs, so that
// each output byte is written once (no results-then-concatenate copy).
//
// The journal is a file beside the export, `<export_path>.<job_id>.partial`, holding the results of
// partitions 0..head-1 back to back. The worker running partition `head` appends straight into it. A
// worker running a later partition buffers its output in memory (up to `buffer_cap` bytes); when done it
// hands the buffer over to wait for its turn (at most `pending_cap` bytes wait in memory), and past either
// limit it commits a result file of its own, which the journal copies in when its turn comes. A partition
// enters the journal by: append, fdatasync, then its manifest with export_offset (engine/commit.h). Buffers
// waiting in memory are not committed: a crash loses them and the resume recomputes them.
//
// Recover() keeps the longest prefix of partitions whose manifests match the journal's bytes (checksums
// verified), cuts everything after it off, and takes committed result files as done. A rerun of a job
// whose journal was already renamed into the export verifies the export instead: complete, nothing to
// do; otherwise its verified prefix is copied back into a new journal. Finish() renames the journal into
// the export. After a partition fails for good the journal stops growing at it; later partitions become
// result files, appended by Finish() only for an allow_partial export, and kept for the resume.
//
// One process owns the journal (the job lock). Partitions committed by other processes, as a later
// multi-process mode will do, are result files, which the journal absorbs like spilled ones.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/commit.h"
#include "io/async_file.h"
#include "io/codec.h"
#include "io/env.h"

namespace sluice {

class ExportJournal {
 public:
  struct Options {
    std::string export_path;
    std::string journal_path;
    std::string recipe_hash;
    std::vector<std::string> result_paths;  // per partition: its result file; the manifest lives beside it
    size_t n_ops = 0;
    Codec codec = Codec::kNone;
    uint64_t buffer_cap = 64 << 20;   // per partition being written ahead of its turn
    uint64_t pending_cap = 128 << 20;  // finished partitions waiting in memory, all together
  };
  struct Recovery {
    size_t prefix_partitions = 0;  // committed in the journal (or in the finished export)
    uint64_t prefix_bytes = 0;
    size_t result_files = 0;      // committed as result files of their own
    bool export_complete = false;  // the export exists and holds every partition: nothing to do
    std::vector<std::string> discarded;  // manifests found unusable, and why
  };

  ExportJournal(Env* env, Options opt);
  ~ExportJournal();
  ExportJournal(const ExportJournal&) = delete;
  ExportJournal& operator=(const ExportJournal&) = delete;

  // Call once, before any Open().
  Recovery Recover();
  // The manifest of partition p if it is committed (in the journal or as a result file).
  std::optional<Manifest> Committed(size_t p);
  // The sink for partition p's final records. One open sink per partition at a time.
  std::unique_ptr<OutputSink> Open(size_t p);
  // Partition p failed for good in this run: the journal will not grow past it.
  void MarkFailed(size_t p);
  // Writes the export from the committed partitions `done` (ascending) and returns its path.
  std::string Finish(const std::vector<size_t>& done);

 private:
  class Sink;
  enum class State { kNone, kBuffer, kFile, kJournal };
  struct Entry {
    State state = State::kNone;
    std::string buffer;  // kBuffer: the partition's final bytes
    Manifest manifest;   // kBuffer (export_offset unset), kFile, kJournal
  };

  void Drain();  // under mu_: moves finished partitions at the head into the journal, in order
  void AppendRaw(std::string_view d);  // by the journal's current writer only
  // Buffers keep their capacity from partition to partition: a fresh 64 MiB buffer per partition costs
  // page faults (kernel time) on every byte. Live buffers are bounded as pending bytes are, so is the pool.
  std::string TakeBuffer();
  void ReturnBuffer(std::string&& b);  // leaves `b` empty
  void RollBack(uint64_t offset) noexcept;
  // Commits `bytes` as partition p's result file (data, then manifest).
  void WriteResultFile(size_t p, std::string_view bytes, Manifest m, std::string_view crash_point);

  Env* env_;
  Options opt_;
  std::mutex mu_;
  std::vector<Entry> entries_;
  // Appends return once queued; a background thread writes (io/async_file.h), so the page-cache copy of
  // the export overlaps with the workers producing it.
  std::unique_ptr<AsyncWritableFile> file_;
  // head_ advances (under mu_, release) only after the journal holds every partition before it; the worker
  // of partition head_ is then the journal's only writer and may append without mu_.
  std::atomic<size_t> head_{0};
  std::atomic<uint64_t> size_{0};
  uint64_t pending_bytes_ = 0;
  size_t first_failed_ = SIZE_MAX;
  bool export_complete_ = false;
  std::atomic<bool> broken_{false};  // a failed attempt's bytes could not be cut off
  std::mutex pool_mu_;
  std::vector<std::string> pool_;
};

}  // namespace sluice
