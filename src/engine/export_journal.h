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
// A failed write is the failure of the partition whose bytes it carried, and is cut off the journal again
// (WritableFile::Truncate). The head partition's own appends fail its attempt, which the engine retries.
// An append of a partition that waited for its turn happens on another partition's commit, which has
// succeeded: that partition keeps waiting and its append is tried again (Options::on_append_failed tells
// of each failure); Finish() fails if its last try fails too. A journal that could not be cut back is
// never appended to again, and Finish() refuses: no export is ever published with a partition missing.
//
// One process owns the journal (the job lock). Partitions committed by other processes, as a later
// multi-process mode will do, are result files, which the journal absorbs like spilled ones.
//
// The stats side file (Options::side; DataJuicer's `<export>_stats.jsonl`, datajuicer-ops.md §8) rides on
// the same mechanism as a second stream: each sink takes the partition's side lines (WriteSide) beside its
// records, buffers, spills (to StatsSidePath of the result file) and appends them exactly as it does the
// records, and the partition's one manifest records both ranges (Manifest::side), written only after both
// are durable. Recovery keeps a partition only if both ranges verify, so the export and the side file hold
// the same partitions, in the same order, line for line. Whether the side file is published is decided in
// Finish: always with side_always (an op of the recipe adds the column), otherwise only if some partition
// has side_rows (the input carried stats or meta); its journal then lives in the job directory
// (side_journal_path) and is copied out when needed, so that an unpublished one still serves a rerun.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/commit.h"
#include "io/codec.h"
#include "io/env.h"

namespace sluice {

class ExportJournal {
 public:
  // How much output of a partition of `partition_bytes` input may wait in memory before it spills to a result
  // file (Options::buffer_cap). A partition ends at the first line break after its size limit and mappers may
  // lengthen text a little: the slack keeps such a partition in memory instead of writing it to a result file
  // and copying it into the export later (twice the I/O of the partitions around it). The memory model of
  // auto-configuration (engine/auto_config.cc) counts the same bytes.
  static constexpr uint64_t kBufferSlackDivisor = 16;  // a sixteenth of the partition size
  static constexpr uint64_t kBufferSlackBytes = 1 << 20;
  static constexpr uint64_t BufferCap(uint64_t partition_bytes) {
    return partition_bytes + partition_bytes / kBufferSlackDivisor + kBufferSlackBytes;
  }

  struct Options {
    std::string export_path;
    std::string journal_path;
    std::string recipe_hash;
    std::vector<std::string> result_paths;  // per partition: its result file; the manifest lives beside it
    size_t n_ops = 0;
    Codec codec = Codec::kNone;
    uint64_t buffer_cap = 64 << 20;   // per partition being written ahead of its turn (both streams)
    uint64_t pending_cap = 128 << 20;  // finished partitions waiting in memory, all together
    // The side stream: empty side_journal_path means none. Its result files are StatsSidePath(result path).
    std::string side_path;          // where the side file is published
    std::string side_journal_path;  // renamed to side_path (side_always) or copied there (published later)
    bool side_always = false;
    int append_retries = 3;  // tries of a failed append by later commits (fault_tolerance.max_retries)
    // Told of each failed append of a waiting partition (Drain), with the tries so far and whether another
    // will come (a later commit or Finish) or this was Finish's last; called under the journal's lock.
    std::function<void(size_t partition, int tries, const std::string& error, bool will_retry)> on_append_failed;
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
  // Writes the export (and the side file, if it is published) from the committed partitions `done`
  // (ascending) and returns the export's path.
  std::string Finish(const std::vector<size_t>& done);
  // After Finish: the published side file, or "" when there is none.
  const std::string& side_file() const { return side_file_; }

 private:
  class Sink;
  enum class State { kNone, kBuffer, kFile, kJournal };
  static constexpr size_t kMaxStreams = 2;  // 0: the records, 1: the side file
  struct Entry {
    State state = State::kNone;
    std::string buffer[kMaxStreams];  // kBuffer: the partition's final bytes, per stream
    Manifest manifest;                // kBuffer (export_offset unset), kFile, kJournal
  };
  struct Stream {
    std::string final_path, journal_path;
    // Env::NewUncachedWritableFile: appends return once copied; a background thread writes around the
    // page cache, so writing the export costs the workers one copy of the bytes.
    std::unique_ptr<WritableFile> file;
    std::atomic<uint64_t> size{0};
  };

  std::string ResultPath(size_t p, size_t s) const;
  static uint64_t Bytes(const Manifest& m, size_t s) { return s == 0 ? m.file_bytes : m.side->file_bytes; }
  bool PublishSide() const;  // under mu_, at Finish

  // Under mu_: moves finished partitions at the head into the journal, in order. A failed append is the
  // appended partition's, never the caller's: it is cut off again and recorded in append_error_, and the
  // partition waits on; Finish fails with that error if its last try fails too.
  void Drain() noexcept;
  void AppendRaw(size_t s, std::string_view d);  // by the journal's current writer only
  // Buffers keep their capacity from partition to partition: a fresh 64 MiB buffer per partition costs
  // page faults (kernel time) on every byte. Live buffers are bounded as pending bytes are, so is the pool.
  std::string TakeBuffer();
  void ReturnBuffer(std::string&& b);  // leaves `b` empty
  void RollBack(const uint64_t* offsets) noexcept;  // per stream
  bool CutBack(const uint64_t* offsets, std::string* why) noexcept;  // false: could not, and why
  void Break(std::string why);  // under mu_: the journal has bytes no manifest accounts for
  void SpillWaiting(size_t from);  // under mu_: partitions from `from` on that wait in memory become result files
  // Commits `bytes` (per stream) as partition p's result files (data, then manifest).
  void WriteResultFile(size_t p, const std::string* bytes, Manifest m, std::string_view crash_point);

  Env* env_;
  Options opt_;
  size_t n_streams_;
  std::mutex mu_;
  std::vector<Entry> entries_;
  Stream streams_[kMaxStreams];
  // head_ advances (under mu_, release) only after the journal holds every partition before it; the worker
  // of partition head_ is then the journal's only writer and may append without mu_.
  std::atomic<size_t> head_{0};
  uint64_t pending_bytes_ = 0;
  std::string side_file_;
  size_t first_failed_ = SIZE_MAX;
  bool export_complete_ = false;
  std::atomic<bool> broken_{false};  // a failed attempt's bytes could not be cut off
  std::string broken_reason_;         // why (under mu_)
  std::string append_error_;          // under mu_: Drain's last failed append, until one succeeds
  int append_failures_ = 0;           // under mu_
  bool finishing_ = false;            // under mu_: Finish's Drain, the last try
  std::mutex pool_mu_;
  std::vector<std::string> pool_;
};

}  // namespace sluice
