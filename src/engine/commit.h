// The commit protocol: how a partition's records become durable, and how a later run knows they are.
//
// Every piece of output a later run may reuse (a checkpoint, a stage output, a partition result) is
// committed in two steps: first the data, made durable (fdatasync, and rename for a file of its own); then
// a manifest `<data path>.manifest.json`, written atomically, holding the byte count, the XXH3 of the data
// and the partition's counters. The manifest is the commit record: data without a valid manifest, or whose
// size or checksum disagrees with it, does not exist for sluice (and is reported, not silently dropped).
// A manifest either names a data file of its own, or (export_offset set) a byte range of the export
// journal (engine/export_journal.h), so a result that went straight into the export is not stored twice.
// A partition result of the final stage also carries its part of the stats side file (DataJuicer's
// `<export>_stats.jsonl`, datajuicer-ops.md §8): a second data file (StatsSidePath) or journal range, made
// durable with the first and recorded in the same manifest, so the two files can never disagree.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/async_file.h"
#include "io/atomic_file.h"
#include "io/codec.h"
#include "io/env.h"
#include "ops/pipeline.h"

namespace sluice {

// Per-partition counters, carried through checkpoints and stage outputs in their manifests so that a
// resumed partition reports the same totals as an uninterrupted one.
struct Counters {
  uint64_t rows_in = 0, bad = 0, null_text = 0, rows = 0;
  uint64_t side_rows = 0;  // final stage: rows whose side line holds stats or meta of their own (AppendSideLine)
  std::vector<OpCounters> ops;
};

// The stats side file's part of a partition result.
struct SideManifest {
  uint64_t file_bytes = 0, xxh3 = 0, raw_bytes = 0;
  std::optional<uint64_t> offset;  // set with export_offset: [offset, offset + file_bytes) of the side journal
};

struct Manifest {
  uint64_t file_bytes = 0, xxh3 = 0, raw_bytes = 0;
  std::optional<uint64_t> export_offset;  // set: the data is [offset, offset + file_bytes) of the export journal
  std::optional<SideManifest> side;       // set: the result has a side part (final stage)
  Counters counters;
};

// The side file of a JSONL data file: `.jsonl` in its name replaced by `_stats.jsonl` (DataJuicer's rule for
// the export, `result.jsonl` -> `result_stats.jsonl`; a codec extension stays: `out_stats.jsonl.zst`).
std::string StatsSidePath(const std::string& data_path);

// Shard `shard` of `n` of a sharded export (export_shard_size): DataJuicer's `<stem>-<i>-of-<n><suffix>`,
// both numbers zero-padded to len(str(n)) + 1 digits, where `result.jsonl.zst` has stem `result` and suffix
// `.jsonl.zst`. IsExportShardName: whether a file name beside the export has that form (any i and n).
std::string ExportShardPath(const std::string& export_path, uint64_t shard, uint64_t n);
bool IsExportShardName(const std::string& export_path, std::string_view name);

enum class ManifestState { kAbsent, kValid, kCorrupt };

std::string ManifestPath(const std::string& data_path);

// Writes `m` as the manifest of `data_path`, atomically.
void WriteManifest(Env* env, const std::string& data_path, const std::string& recipe_hash, const Manifest& m);

// Reads the manifest of `data_path` and checks that it belongs to this recipe. Looks at no data.
ManifestState ReadManifest(Env* env, const std::string& data_path, const std::string& recipe_hash, size_t n_ops,
                           Manifest* m, std::string* why);

// ReadManifest, plus: the manifest names a file of its own (and a side file, if it has a side part), which
// has the recorded size and (with `verify_data`) checksum. `verify_data` is for anything this process did not write itself.
ManifestState LoadManifest(Env* env, const std::string& data_path, const std::string& recipe_hash, size_t n_ops,
                           bool verify_data, Manifest* m, std::string* why);

// XXH3-64 of bytes [offset, offset + length) of a file; fewer bytes if the file is shorter (the caller compares sizes).
uint64_t HashFileRange(Env* env, const std::string& path, uint64_t offset, uint64_t length);

// Streaming XXH3-64 of everything appended, so a checksum costs no second read.
class StreamHash {
 public:
  StreamHash();
  ~StreamHash();
  StreamHash(const StreamHash&) = delete;
  StreamHash& operator=(const StreamHash&) = delete;
  void Update(std::string_view d);
  uint64_t digest() const;
  uint64_t bytes() const { return bytes_; }

 private:
  void* state_;
  uint64_t bytes_ = 0;
};

// Where a segment's records go. Destroyed without Commit, it leaves nothing behind that could be taken
// for committed data.
class OutputSink {
 public:
  virtual ~OutputSink() = default;
  virtual void Write(std::string_view jsonl) = 0;  // whole lines
  // Lines of the stats side file, one per record written (only on a sink made with a side part).
  virtual void WriteSide(std::string_view jsonl) = 0;
  // Makes the records durable, then records them (the manifest). `crash_point` names the test hook
  // reached between the two (core/fault_injection.h).
  virtual void Commit(const Counters& c, std::string_view crash_point) = 0;
  virtual std::string Location() const = 0;  // for events: a path, or "path@offset"
};

// An OutputSink that commits to a file of its own (checkpoints, stage outputs, results of sharded exports),
// and with `side` to a side file (StatsSidePath) as well: both are made durable before the manifest.
// The records are compressed, hashed and written on a background thread (io/async_file.h): a checkpoint's
// zstd and the kernel's copy into the page cache then overlap with the worker producing the next records
// (at np 1 they were a fifth of the worker's time on the C4 recipe). A write error surfaces in Commit at
// the latest, before anything is recorded.
class CommittedFile : public OutputSink {
 public:
  CommittedFile(Env* env, std::string path, Codec codec, const std::string& recipe_hash, int level = 3, bool side = false);
  ~CommittedFile() override;
  void Write(std::string_view d) override;
  void WriteSide(std::string_view d) override;
  void Commit(const Counters& c, std::string_view crash_point) override;
  std::string Location() const override { return path_; }
  // The manifest written by Commit.
  const Manifest& manifest() const { return manifest_; }

 private:
  class Hashing;
  class Compressing;
  Env* env_;
  std::string path_;
  std::string recipe_hash_;
  AtomicFile file_;
  std::unique_ptr<Hashing> hashing_;
  std::unique_ptr<CompressedWriter> writer_;
  std::unique_ptr<AsyncWritableFile> async_;  // feeds writer_; declared after it, so destroyed first
  struct Side;
  std::unique_ptr<Side> side_;
  Manifest manifest_;
};

}  // namespace sluice
