#include "engine/executor.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <new>
#include <optional>
#include <random>
#include <system_error>

#include <simdjson.h>

#include "core/fault_injection.h"
#include "core/json_writer.h"
#include "core/record.h"
#include "core/threads.h"
#include "engine/commit.h"
#include "engine/export_journal.h"
#include "engine/trace.h"
#include "io/atomic_file.h"
#include "io/codec.h"
#include "io/line_reader.h"

namespace sluice {
namespace {

// What a partition's attempt throws when another partition's failure aborted the job: it says nothing about
// this partition, so the summary names the failure that caused the abort instead.
struct JobAborted : Error {
  JobAborted() : Error(ErrorKind::kJobFailed, "job aborted") {}
};

// Output is handed to the sink in blocks this large: small enough that the bytes just serialized are still
// in L2 cache when write() copies them.
constexpr size_t kFlushBytes = 128 << 10;

// Checkpoints and stage outputs are written once and read once, so their compression is on the critical path
// and their size is not kept: zstd level 1 (2.4x on the benchmark corpus) instead of 3 (2.9x) took the C4
// recipe end to end from 2.0 to 1.6 s of CPU per 100 MB, where level 3 had been 30% of all samples.
constexpr int kIntermediateCompressionLevel = 1;
constexpr int kExportCompressionLevel = 3;  // as ExportJournal's

// Lines before byte `offset` of a plain file: only computed to report a bad record's line number.

uint64_t LinesBefore(Env* env, const std::string& path, uint64_t offset) {
  std::string buf(4 << 20, '\0');
  uint64_t lines = 0, pos = 0;
  while (pos < offset) {
    size_t n = env->ReadAt(path, pos, std::min<uint64_t>(buf.size(), offset - pos), buf.data());
    if (n == 0) break;
    lines += static_cast<uint64_t>(std::count(buf.data(), buf.data() + n, '\n'));
    pos += n;
  }
  return lines;
}

// Fingerprint files: the per-partition output of a deduplicator's first phase, in the partition's output
// order. Layout: "SLUICEFP", u32 version (2), u32 fingerprint size, u32 op name length, the op name, then
// count x size bytes, then u64 count. The count is a trailer so that the fingerprints stream to the file as
// they are made: version 1 kept them in memory until the count was known in front, 512 bytes per record
// for a minhash of 64 bands, 12x a partition of short records (a 2 GB peak for 127 MB of input at np 2).
// Written atomically before the stage output's manifest, so a committed stage output always has its
// fingerprints; the header lets the decision check it reads what it expects (a version 1 file left by an
// older sluice is "not a fingerprint file": its partition is run again).
constexpr std::string_view kFingerprintMagic = "SLUICEFP";
constexpr uint32_t kFingerprintVersion = 2;
// Fingerprints are handed to the file in blocks of about this size.
constexpr size_t kFingerprintFlushBytes = 1 << 20;

template <typename T>
void PutLe(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // the formats are little-endian, as every host sluice builds for
  out.append(b, sizeof(T));
}

std::string FingerprintHeader(std::string_view op, uint32_t size) {
  std::string h(kFingerprintMagic);
  PutLe(h, kFingerprintVersion);
  PutLe(h, size);
  PutLe(h, static_cast<uint32_t>(op.size()));
  h.append(op);
  return h;
}

// Checks a fingerprint file's header and trailer against the op and its size; sets *count and *offset (of
// the data).
bool ReadFingerprintHeader(Env* env, const std::string& path, std::string_view op, uint32_t size, uint64_t* count,
                           uint64_t* offset, std::string* why) {
  if (!env->FileExists(path)) {
    *why = "missing";
    return false;
  }
  std::string h(kFingerprintMagic.size() + 12 + op.size(), '\0');
  size_t got = env->ReadAt(path, 0, h.size(), h.data());
  uint32_t version = 0, fsize = 0, name_len = 0;
  std::memcpy(&version, h.data() + 8, 4);
  std::memcpy(&fsize, h.data() + 12, 4);
  std::memcpy(&name_len, h.data() + 16, 4);
  *offset = h.size();
  *count = 0;
  const uint64_t file_size = env->FileSize(path);
  char trailer[8] = {};
  if (file_size >= *offset + sizeof(trailer) &&
      env->ReadAt(path, file_size - sizeof(trailer), sizeof(trailer), trailer) == sizeof(trailer))
    std::memcpy(count, trailer, sizeof(trailer));
  if (got != h.size() || h.compare(0, 8, kFingerprintMagic) != 0 || version != kFingerprintVersion) *why = "not a fingerprint file";
  else if (name_len != op.size() || h.compare(20, op.size(), op) != 0 || fsize != size)
    *why = fmt::format("written by another op or fingerprint size (expected {}, {} bytes)", op, size);
  else if (file_size < *offset + sizeof(trailer) || size == 0 || (file_size - *offset - sizeof(trailer)) / size != *count ||
           (file_size - *offset - sizeof(trailer)) % size != 0)
    *why = "size disagrees with its count";
  else return true;
  return false;
}

// The fingerprints of the partitions a decision covers, read in order through one buffer.
class FileFingerprints : public FingerprintSource {
 public:
  struct Part {
    std::string path;
    uint64_t offset = 0, count = 0;
  };
  FileFingerprints(Env* env, std::vector<Part> parts, size_t size) : env_(env), parts_(std::move(parts)), size_(size) {
    for (const Part& p : parts_) total_ += p.count;
  }
  uint64_t count() const override { return total_; }
  void Scan(const BlockFn& f) override {
    const size_t per_block = std::max<size_t>(1, (1 << 20) / std::max<size_t>(size_, 1));
    buf_.resize(per_block * size_);
    uint64_t first = 0;
    for (const Part& p : parts_) {
      auto file = env_->NewRandomAccessFile(p.path);
      for (uint64_t i = 0; i < p.count;) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(per_block, p.count - i));
        size_t bytes = n * size_;
        if (file->ReadAt(p.offset + i * size_, bytes, reinterpret_cast<char*>(buf_.data())) != bytes)
          Fail(ErrorKind::kInput, "fingerprint file '{}' is short", p.path);
        f(first, buf_.data(), n);
        first += n;
        i += n;
      }
    }
  }

 private:
  Env* env_;
  std::vector<Part> parts_;
  size_t size_;
  uint64_t total_ = 0;
  std::vector<uint8_t> buf_;
};

// A size in MiB from the environment variable `name`, in bytes: `fallback` when unset or empty, capped at
// `max`; anything but a positive number is refused. The executor reads its settings when it is made, so
// that a bad value is refused before any work, not at the first barrier or the first long line.
uint64_t MebibytesSetting(Env* env, const char* name, uint64_t fallback, uint64_t max) {
  std::optional<std::string> v = env->GetEnvVar(name);
  if (!v || v->empty()) return fallback;
  char* end = nullptr;
  double mb = std::strtod(v->c_str(), &end);
  if (end == v->c_str() || *end != '\0' || !(mb > 0)) Fail(ErrorKind::kUsage, "{} must be a positive number, got '{}'", name, *v);
  const double bytes = mb * (1 << 20);
  return bytes >= static_cast<double>(max) ? max : static_cast<uint64_t>(bytes);
}

// The decision's memory budget: kDedupMemoryBudget unless SLUICE_DEDUP_MEMORY_MB says otherwise.
uint64_t DedupMemoryBudget(Env* env) { return MebibytesSetting(env, "SLUICE_DEDUP_MEMORY_MB", kDedupMemoryBudget, UINT64_MAX); }

// A worker's output buffer past this capacity (it held a huge record) is given back after its flush.
constexpr size_t kKeptOutputCapacity = 4 << 20;

}  // namespace

uint64_t MaxRecordBytesSetting(Env* env) { return MebibytesSetting(env, "SLUICE_MAX_RECORD_MB", MaxRecordBytes(), MaxRecordBytes()); }

void CheckEnvironmentSettings(Env* env) {
  MaxRecordBytesSetting(env);
  DedupMemoryBudget(env);
}

struct Executor::Impl {
  static inline const std::atomic<bool> kNeverStop{false};
  Executor& ex;
  Env* env;
  const Recipe& recipe;
  const Pipeline& pipeline;
  const Plan& plan;
  const JobPaths& paths;
  EventLog& events;
  std::vector<Stage> stages;
  std::vector<bool> checkpoint_after;  // per op index: a checkpoint is written after it
  std::vector<uint32_t> fingerprint_size;  // per stage ending in a deduplicator: its fingerprint size
  uint64_t dedup_memory = 0;               // a decision's memory budget (DedupMemoryBudget)
  uint64_t max_record = 0;                 // MaxRecordBytesSetting
  Codec export_codec, inter_codec;
  std::vector<PartitionReport> reports;
  std::vector<Counters> final_counters;
  std::mutex mu;
  std::atomic<bool> abort{false};
  const std::atomic<bool>& stop;  // Executor::SetStopFlag
  JobProgress& prog;
  std::vector<size_t> abandoned;  // under mu
  // The single-file export, written while the last stage runs; null for a sharded export, which is cut
  // by row counts known only at the end and so is assembled from result files.
  std::unique_ptr<ExportJournal> journal;

  explicit Impl(Executor& e)
      : ex(e), env(e.env_), recipe(e.recipe_), pipeline(e.pipeline_), plan(e.plan_), paths(e.paths_),
        events(e.events_), stop(e.stop_ != nullptr ? *e.stop_ : kNeverStop), prog(e.progress_) {
    stages = MakeStages(pipeline);
    dedup_memory = DedupMemoryBudget(env);
    max_record = MaxRecordBytesSetting(env);
    size_t n = pipeline.ops.size();
    checkpoint_after.assign(n, false);
    for (size_t i = 0; i < n; ++i) {
      const std::string& name = pipeline.ops[i].def->name;
      switch (recipe.checkpoint) {
        case CheckpointStrategy::kEveryOp: checkpoint_after[i] = true; break;
        case CheckpointStrategy::kEveryNOps: checkpoint_after[i] = (i + 1) % recipe.checkpoint_n_ops == 0; break;
        case CheckpointStrategy::kManual:
          checkpoint_after[i] = std::find(recipe.checkpoint_op_names.begin(), recipe.checkpoint_op_names.end(), name) !=
                                recipe.checkpoint_op_names.end();
          break;
        case CheckpointStrategy::kEveryPartition:
        case CheckpointStrategy::kDisabled: break;
      }
    }
    // An expanding mapper ends its segment: its output (several records per input) is persisted, and the
    // ops after it read those records.
    for (size_t i = 0; i + 1 < n; ++i)
      if (pipeline.ops[i].def->expands) checkpoint_after[i] = true;
    // A stage ending in a deduplicator always persists its output: the barrier needs it.
    fingerprint_size.assign(stages.size(), 0);
    for (size_t k = 0; k < stages.size(); ++k) {
      if (!stages[k].barrier) continue;
      const ResolvedOp& r = pipeline.ops[stages[k].op_end - 1];
      checkpoint_after[stages[k].op_end - 1] = true;
      fingerprint_size[k] = static_cast<uint32_t>(static_cast<Deduplicator&>(*r.def->create(r.params)).fingerprint_size());
    }
    // The last op's "checkpoint" is the partition result itself.
    if (n > 0 && !stages.back().barrier) checkpoint_after[n - 1] = false;
    export_codec = CodecForPath(paths.export_path);
    inter_codec = recipe.intermediate_compression == "zstd" ? Codec::kZstd
                  : recipe.intermediate_compression == "gzip" ? Codec::kGzip : Codec::kNone;
    reports.resize(plan.partitions.size());
    final_counters.resize(plan.partitions.size());
  }

  std::string PartDir(size_t p) const { return fmt::format("{}/partition_{:06d}", paths.checkpoint_dir, p); }
  std::string CheckpointPath(size_t p, size_t op) const {
    return fmt::format("{}/op_{:03d}_{}.jsonl{}", PartDir(p), op, pipeline.ops[op].def->name, CodecExtension(inter_codec));
  }
  std::string FingerprintPath(size_t p, size_t op) const { return fmt::format("{}/op_{:03d}_fingerprints.bin", PartDir(p), op); }
  std::string SpillDir(size_t stage) const { return fmt::format("{}/stage_{}_spill", paths.checkpoint_dir, stage); }
  std::string KeepPath(size_t p, size_t stage) const { return fmt::format("{}/stage_{}_keep.bin", PartDir(p), stage); }
  std::string DecisionPath(size_t stage) const { return fmt::format("{}/stage_{}_decision.json", paths.metadata_dir, stage); }
  std::string DuplicateTracePath(size_t stage) const { return fmt::format("{}/stage_{}_trace.jsonl", paths.metadata_dir, stage); }
  std::string SegmentTracePath(size_t p, size_t b, size_t e) const {
    return fmt::format("{}/trace_ops_{:03d}_{:03d}.tsv", PartDir(p), b, e);
  }
  // The segment [b, e) RunStage runs op i in: segments end after a checkpointed op and at the stage end.
  std::pair<size_t, size_t> SegmentOf(size_t i) const {
    const Stage* st = nullptr;
    for (const auto& s : stages)
      if (i >= s.op_begin && i < s.op_end) st = &s;
    auto cut_after = [&](size_t j) { return checkpoint_after[j] && j + 1 < st->op_end; };
    size_t b = i;
    while (b > st->op_begin && !cut_after(b - 1)) --b;
    size_t e = i;
    while (e + 1 < st->op_end && !cut_after(e)) ++e;
    return {b, e + 1};
  }
  std::string ResultPath(size_t p) const {
    return fmt::format("{}/partition_{:06d}.jsonl{}", paths.results_dir, p, CodecExtension(export_codec));
  }
  bool IsLastStage(size_t k) const { return k + 1 == stages.size(); }
  std::string StageOutputPath(size_t p, size_t k) const {
    return IsLastStage(k) ? ResultPath(p) : CheckpointPath(p, stages[k].op_end - 1);
  }
  std::string RangeText(size_t p) const {
    const auto& r = plan.partitions[p];
    return fmt::format("{}:[{},{})", plan.files[r.file].path, r.begin, r.end);
  }
  uint64_t Weight(size_t p) const { return plan.partitions[p].end - plan.partitions[p].begin; }
  bool Stopping() const { return stop.load(std::memory_order_relaxed); }
  // A stop request cut partition p's work short: it stays pending (neither completed nor failed).
  void Abandon(size_t p) {
    std::lock_guard<std::mutex> lock(mu);
    abandoned.push_back(p);
  }
  Counters FreshCounters() const {
    Counters c;
    c.ops.resize(pipeline.ops.size());
    return c;
  }

  double Backoff(int attempt) {
    double base = recipe.retry_base_seconds;
    double d = recipe.retry_backoff == RetryBackoff::kExponential ? base * std::pow(2.0, attempt)
               : recipe.retry_backoff == RetryBackoff::kLinear    ? base * (attempt + 1)
                                                                   : base;
    d = std::min(d, 300.0);
    static thread_local std::mt19937_64 rng(std::random_device{}());
    return d * std::uniform_real_distribution<double>(0.8, 1.2)(rng);  // jitter: +-20%
  }

  // Per-worker state: op instances, parser, scratch buffers.
  struct Worker {
    OpChain chain;
    RecordParser parser;
    Sample sample;
    std::string out, error;
    std::string side;        // the final output's stats side lines (AppendSideLine), beside `out`
    bool side_on = false;    // this segment writes the final output: a side line per record
    uint64_t side_rows = 0;  // of them, lines with stats or meta of the record's own
    std::vector<std::string> pieces;  // an expanding mapper's output texts
    std::string location;  // where the last committed partition result went
    std::optional<size_t> failed_op;  // the expanding mapper whose error failed the attempt
    uint64_t credited = 0;  // work of the current attempt already added to prog.work_done
    explicit Worker(const Pipeline& p) : chain(p), parser(p.text_keys) {}
  };

  // Runs stage `k` of partition `p` from its last valid checkpoint. Throws on failure.
  void RunStage(Worker& w, size_t p, size_t k, int attempt) {
    const Stage& st = stages[k];
    const size_t n_ops = pipeline.ops.size();
    std::string why;
    Manifest m;
    // Resume point: the latest valid checkpoint inside this stage (the stage's own end excluded).
    size_t start = st.op_begin;
    Counters counters = FreshCounters();
    std::string source_path;  // empty: the input range, or the previous stage's output
    size_t last_inner = st.barrier ? st.op_end - 1 : st.op_end;
    for (size_t c = last_inner; c-- > st.op_begin;) {
      if (!checkpoint_after[c]) continue;
      std::string path = CheckpointPath(p, c);
      ManifestState s = LoadManifest(env, path, plan.recipe_hash, n_ops, true, &m, &why);
      if (s == ManifestState::kValid) {
        start = c + 1;
        counters = m.counters;
        source_path = path;
        events.Emit("checkpoint_load", fmt::format("partition {} resumes after op {} ({})", p, c, pipeline.ops[c].def->name),
                    [&](JsonWriter& j) {
                      j.Field("partition_id", static_cast<uint64_t>(p)).Field("operation_idx", static_cast<uint64_t>(c));
                      j.Field("operation_name", pipeline.ops[c].def->name).Field("checkpoint_path", path);
                      j.Field("rows", counters.rows);
                    });
        break;
      }
      if (s == ManifestState::kCorrupt) {
        events.Emit("checkpoint_invalid", fmt::format("partition {}: checkpoint after op {} not used: {}", p, c, why),
                    [&](JsonWriter& j) {
                      j.Field("partition_id", static_cast<uint64_t>(p)).Field("operation_idx", static_cast<uint64_t>(c));
                      j.Field("checkpoint_path", path).Field("error_message", why);
                    });
      }
    }
    const std::vector<uint8_t>* keep = nullptr;
    std::vector<uint8_t> keep_bytes;
    if (source_path.empty() && k > 0) {
      // Start of a stage after a barrier: the previous stage's output, filtered by the global decision.
      source_path = StageOutputPath(p, k - 1);
      if (LoadManifest(env, source_path, plan.recipe_hash, n_ops, true, &m, &why) != ManifestState::kValid)
        Fail(ErrorKind::kInput, "stage {} output of partition {} is not usable: {}", k - 1, p, why.empty() ? "its manifest is missing" : why);
      counters = m.counters;
      std::string kp = KeepPath(p, k - 1);
      std::string kb = ReadFile(env, kp);
      keep_bytes.assign(kb.begin(), kb.end());
      if (keep_bytes.size() != counters.rows)
        Fail(ErrorKind::kInput, "dedup decision '{}' has {} entries for {} rows", kp, keep_bytes.size(), counters.rows);
      keep = &keep_bytes;
      uint64_t kept = static_cast<uint64_t>(std::count(keep_bytes.begin(), keep_bytes.end(), 1));
      counters.ops[st.op_begin - 1].out = kept;  // the deduplicator's drops
    }
    if (start == st.op_begin && k == 0) counters = FreshCounters();

    // Segments: [start, end) cut after each checkpointed op; the last ends at the stage end.
    size_t seg_begin = start;
    bool first_segment = true;
    while (true) {
      size_t seg_end = seg_begin;
      while (seg_end < st.op_end && !(checkpoint_after[seg_end] && seg_end + 1 < st.op_end)) ++seg_end;
      if (seg_end < st.op_end) ++seg_end;  // include the checkpointed op
      seg_end = std::min(seg_end, st.op_end);
      bool stage_end = seg_end == st.op_end;
      bool final_output = stage_end && IsLastStage(k);
      std::string dest = stage_end ? StageOutputPath(p, k) : CheckpointPath(p, seg_end - 1);
      RunSegment(w, p, attempt, seg_begin, seg_end, source_path, keep, first_segment && k == 0 && source_path.empty(),
                 dest, final_output, st.barrier && stage_end, counters);
      first_segment = false;
      keep = nullptr;
      // A checkpointed op inside the stage, or the end of a stage before a barrier: its output is the
      // checkpoint after the stage's last op (the deduplicator), which the next stage starts from.
      if (seg_end != st.op_end ? checkpoint_after[seg_end - 1] : !IsLastStage(k)) {
        events.Emit("checkpoint_save", fmt::format("partition {}: checkpoint after op {} ({})", p, seg_end - 1,
                                                   pipeline.ops[seg_end - 1].def->name),
                    [&](JsonWriter& j) {
                      j.Field("partition_id", static_cast<uint64_t>(p)).Field("operation_idx", static_cast<uint64_t>(seg_end - 1));
                      j.Field("operation_name", pipeline.ops[seg_end - 1].def->name).Field("checkpoint_path", dest);
                      j.Field("rows", counters.rows).Field("bytes", env->FileSize(dest));
                    });
      }
      source_path = dest;
      if (stage_end) break;
      seg_begin = seg_end;
    }
    if (IsLastStage(k)) final_counters[p] = counters;
  }

  void RunSegment(Worker& w, size_t p, int attempt, size_t b, size_t e, const std::string& source_path,
                  const std::vector<uint8_t>* keep, bool from_input, const std::string& dest, bool final_output,
                  bool write_fingerprints, Counters& counters) {
    env->CreateDirs(std::filesystem::path(dest).parent_path().string());
    double t0 = env->MonotonicSeconds();
    for (size_t i = b; i < e; ++i) {
      events.Emit("op_start", fmt::format("op {} ({}) starts on partition {}", i, pipeline.ops[i].def->name, p),
                  [&](JsonWriter& j) {
                    j.Field("partition_id", static_cast<uint64_t>(p)).Field("operation_idx", static_cast<uint64_t>(i));
                    j.Field("operation_name", pipeline.ops[i].def->name).Field("attempt", attempt);
                  });
    }
    const PartitionRange& range = plan.partitions[p];
    const std::string& in_path = plan.files[range.file].path;
    std::unique_ptr<ByteSource> src = from_input ? OpenByteSource(env, in_path, range.begin, range.end)
                                                 : OpenWholeFile(env, source_path);
    LineReader reader(std::move(src), RecordPadding(), 256 << 10, max_record);
    w.sample.source_file = in_path;  // in every stage: suffix_filter reads the input file's suffix
    // The final output has a stats side part (engine/export_journal.h), committed with it.
    std::unique_ptr<OutputSink> out = final_output && journal
                                          ? journal->Open(p)
                                          : std::make_unique<CommittedFile>(env, dest, final_output ? export_codec : inter_codec,
                                                                            plan.recipe_hash,
                                                                            final_output ? kExportCompressionLevel : kIntermediateCompressionLevel,
                                                                            final_output);
    w.side_on = final_output;
    w.side_rows = 0;
    w.side.clear();
    // The deduplicator ending the stage: its fingerprints go to the fingerprint file, in output order.
    Deduplicator* dedup = write_fingerprints ? &static_cast<Deduplicator&>(w.chain.op(e - 1)) : nullptr;
    // An expanding mapper is always its segment's last op (see checkpoint_after): it is run here, not by the chain.
    ExpandingMapper* expander = pipeline.ops[e - 1].def->expands ? &static_cast<ExpandingMapper&>(w.chain.op(e - 1)) : nullptr;
    std::string fingerprints;  // not yet handed to fp_file
    std::unique_ptr<AtomicFile> fp_file;
    if (dedup) {
      fp_file = std::make_unique<AtomicFile>(env, FingerprintPath(p, e - 1));
      fp_file->file().Append(FingerprintHeader(dedup->name(), static_cast<uint32_t>(dedup->fingerprint_size())));
    }
    std::unique_ptr<AtomicFile> quarantine;
    uint64_t bad_here = 0;
    std::string first_bad;
    SerializeOptions so;
    so.keep_stats = !final_output || recipe.keep_stats_in_res_ds;
    so.stats_column = final_output && pipeline.adds_stats;  // every exported record has the column, {} if no stat
    // DataJuicer's loader adds `__dj__suffix__` when the recipe has suffix_filter: added in the first pass
    // that writes the record, so checkpoints carry it (and its place before `__dj__stats__`) too.
    const std::string suffix = pipeline.adds_suffix ? DjFileSuffix(in_path) : std::string();
    so.suffix = suffix;
    if (from_input) counters = FreshCounters();
    w.chain.ResetCounters();
    w.chain.ResetTrace();
    uint64_t rows_out = 0, index = 0;
    int64_t base_line = -1;
    std::string_view line;
    w.out.clear();
    // Progress of a segment reading the input: lines and bytes read, and its share of the stage's work.
    uint64_t lines_credited = 0, bytes_credited = 0;
    const uint64_t weight = Weight(p);
    const size_t stage_ops = std::max<size_t>(1, stages[0].op_end - stages[0].op_begin);
    const bool plain = CodecForPath(in_path) == Codec::kNone;  // compressed: bytes read are not the range's
    auto credit = [&] {
      uint64_t l = reader.line_number(), by = reader.bytes_consumed();
      prog.rows.fetch_add(l - lines_credited, std::memory_order_relaxed);
      prog.bytes.fetch_add(by - bytes_credited, std::memory_order_relaxed);
      if (plain) {
        uint64_t share = std::min(weight - w.credited, (by - bytes_credited) * (e - b) / stage_ops);
        prog.work_done.fetch_add(share, std::memory_order_relaxed);
        w.credited += share;
      }
      lines_credited = l;
      bytes_credited = by;
    };
    const bool plain_source = CodecForPath(from_input ? in_path : source_path) == Codec::kNone;
    auto next_line = [&] {
      try {
        return reader.Next(line);
      } catch (const LineTooLong& e) {
        // A plain input range starts inside its file: its line numbers continue those before it.
        uint64_t base = from_input && plain_source ? LinesBefore(env, in_path, range.begin) : 0;
        Fail(ErrorKind::kData, "{}:{}: line longer than {} bytes, the longest record sluice reads ({})",
             from_input ? in_path : source_path, base + e.line(), e.limit(),
             e.limit() < MaxRecordBytes() ? "SLUICE_MAX_RECORD_MB" : "the JSON parser's limit");
      }
    };
    while (next_line()) {
      if (abort.load(std::memory_order_relaxed)) throw JobAborted();
      if (stop.load(std::memory_order_relaxed)) Fail(ErrorKind::kJobFailed, "stopped on request");
      uint64_t idx = index++;
      if (from_input && (idx & 4095) == 4095) credit();
      if (keep != nullptr && (idx >= keep->size() || (*keep)[idx] == 0)) continue;
      ParseStatus ps = w.parser.Parse(line, w.sample, w.error);
      if (ps == ParseStatus::kBlank) continue;
      if (from_input) {
        if (ps == ParseStatus::kBad) {
          if (base_line < 0) base_line = CodecForPath(in_path) == Codec::kNone ? static_cast<int64_t>(LinesBefore(env, in_path, range.begin)) : 0;
          std::string where = fmt::format("{}:{}", in_path, base_line + static_cast<int64_t>(reader.line_number()));
          if (recipe.on_bad_record == BadRecordPolicy::kError)
            Fail(ErrorKind::kData, "{}: {} (set on_bad_record: skip or quarantine to drop such lines)", where, w.error);
          ++counters.bad;
          ++bad_here;
          if (first_bad.empty()) first_bad = where + ": " + w.error;
          if (recipe.on_bad_record == BadRecordPolicy::kQuarantine) {
            if (!quarantine) {
              env->CreateDirs(paths.quarantine_dir);
              quarantine = std::make_unique<AtomicFile>(env, fmt::format("{}/partition_{:06d}.jsonl", paths.quarantine_dir, p));
            }
            quarantine->file().Append(line);
            quarantine->file().Append("\n");
          }
          continue;
        }
        ++counters.rows_in;
        if (ps == ParseStatus::kNullText) {
          ++counters.null_text;
          continue;
        }
      } else if (ps != ParseStatus::kOk) {
        Fail(ErrorKind::kInput, "'{}': unreadable checkpoint record: {}", source_path, w.error);
      }
      if (!w.chain.Run(w.sample, b, expander ? e - 1 : e)) continue;
      if (expander) {
        rows_out += Expand(w, *expander, e - 1, so);
      } else {
        Emit(w, so);
        if (dedup) {
          fingerprints.append(dedup->fingerprint());
          if (fingerprints.size() >= kFingerprintFlushBytes) {
            fp_file->file().Append(fingerprints);
            fingerprints.clear();
          }
        }
        ++rows_out;
      }
      if (w.out.size() >= kFlushBytes) {
        out->Write(w.out);
        w.out.clear();
        if (w.side_on) {
          out->WriteSide(w.side);
          w.side.clear();
        }
        // A huge record grew the buffers: keeping them would hold its size for the rest of the job.
        if (w.out.capacity() > kKeptOutputCapacity) std::string().swap(w.out);
        if (w.side.capacity() > kKeptOutputCapacity) std::string().swap(w.side);
      }
    }
    out->Write(w.out);
    w.out.clear();
    if (w.side_on) {
      out->WriteSide(w.side);
      w.side.clear();
      counters.side_rows = w.side_rows;
    }
    if (from_input) credit();
    for (size_t i = b; i < e; ++i) {
      auto& c = w.chain.counters()[i];
      counters.ops[i].in += c.in;
      counters.ops[i].out += c.out;
      counters.ops[i].errors += c.errors;
    }
    counters.rows = rows_out;
    if (quarantine) quarantine->Commit();
    if (std::any_of(pipeline.traced.begin() + static_cast<ptrdiff_t>(b), pipeline.traced.begin() + static_cast<ptrdiff_t>(e),
                    [](bool t) { return t; })) {
      env->CreateDirs(PartDir(p));
      WriteSegmentTrace(env, SegmentTracePath(p, b, e), pipeline, w.chain, b, e);
    }
    if (dedup) {
      PutLe(fingerprints, rows_out);
      fp_file->file().Append(fingerprints);
      fp_file->Commit();
    }
    out->Commit(counters, final_output ? "result_commit" : "checkpoint_commit");
    if (final_output) w.location = out->Location();
    double dt = env->MonotonicSeconds() - t0;
    events.Log(LogLevel::kDebug,
               fmt::format("partition {} attempt {}: {} on {}: {} rows out to {} in {:.3f}s", p, attempt,
                           b == e ? std::string("no op (the dedup decision applied)")  // a stage after a final deduplicator
                                  : fmt::format("ops {}..{} ({}{})", b, e - 1, pipeline.ops[b].def->name,
                                                e - b > 1 ? " .. " + pipeline.ops[e - 1].def->name : ""),
                           from_input ? RangeText(p) : source_path, rows_out, final_output ? w.location : dest, dt));
    if (bad_here > 0) {
      events.Emit("bad_records", fmt::format("partition {}: {} bad input lines {} (first: {})", p, bad_here,
                                             recipe.on_bad_record == BadRecordPolicy::kQuarantine ? "quarantined" : "skipped", first_bad),
                  [&](JsonWriter& j) {
                    j.Field("partition_id", static_cast<uint64_t>(p)).Field("count", bad_here);
                    j.Field("policy", BadRecordPolicyName(recipe.on_bad_record)).Field("error_message", first_bad);
                  });
    }
    for (size_t i = b; i < e; ++i) {
      const auto& c = w.chain.counters()[i];
      events.Emit("op_complete", fmt::format("op {} ({}) on partition {}: {} -> {} rows", i, pipeline.ops[i].def->name, p, c.in, c.out),
                  [&](JsonWriter& j) {
                    j.Field("partition_id", static_cast<uint64_t>(p)).Field("operation_idx", static_cast<uint64_t>(i));
                    j.Field("operation_name", pipeline.ops[i].def->name).Field("status", "success");
                    j.Field("input_rows", c.in).Field("output_rows", c.out).Field("error_rows", c.errors);
                    // Per-op clocks cost ~4% on a fused chain: duration is the segment's, shared by its ops.
                    j.Field("duration", dt).Field("segment_first_op", static_cast<uint64_t>(b));
                    j.Field("segment_last_op", static_cast<uint64_t>(e - 1)).Field("attempt", attempt);
                    if (!c.first_error.empty()) j.Field("error_message", c.first_error);
                  });
    }
  }

  // Op `i`, an expanding mapper, on the sample the chain passed: serializes one record per piece into w.out
  // (a null text passes as one record) and returns how many. An op error drops the sample (skip_op_error)
  // or fails the partition, as in OpChain::Run.
  // Writes the sample to w.out and, in the final output, its stats side line to w.side.
  void Emit(Worker& w, const SerializeOptions& so) {
    // A record larger than the buffer's room gets exactly its size (plus slack for changed fields): the
    // string's doubling would take twice a huge record, on top of the input line itself.
    const size_t need = w.sample.line.size() + 1;
    if (need > kFlushBytes && w.out.capacity() - w.out.size() < need) w.out.reserve(w.out.size() + need + need / 8);
    SerializeSample(w.sample, so, w.out);
    if (w.side_on) w.side_rows += AppendSideLine(w.sample, pipeline.adds_stats, pipeline.adds_meta, w.side);
  }

  uint64_t Expand(Worker& w, ExpandingMapper& x, size_t i, const SerializeOptions& so) {
    OpCounters& c = w.chain.counters()[i];
    ++c.in;
    TextField& tf = w.sample.texts[static_cast<size_t>(x.slot())];
    if (tf.is_null) {
      Emit(w, so);
      ++c.out;
      return 1;
    }
    try {
      x.Split(tf.value(), w.pieces);
    } catch (const std::exception& e) {
      if (!pipeline.ops[i].skip_op_error) {
        w.failed_op = i;
        Fail(ErrorKind::kJobFailed, "op '{}' (#{}) failed: {}", x.name(), i, e.what());
      }
      ++c.errors;
      if (c.first_error.empty()) c.first_error = e.what();
      return 0;
    }
    std::string trace_suffix;
    SerializeOptions trace_so;
    if (w.chain.WantsTrace(i)) trace_so = OpRecordView(pipeline, i, w.sample, trace_suffix);
    for (auto& piece : w.pieces) {
      tf.mutable_value().swap(piece);
      tf.changed = true;
      Emit(w, so);
      if (w.chain.WantsTrace(i)) {  // DataJuicer traces a batch mapper's first output samples
        std::string row;
        SerializeSample(w.sample, trace_so, row);
        if (!row.empty() && row.back() == '\n') row.pop_back();
        w.chain.AddTrace(i, std::move(row));
      }
    }
    c.out += w.pieces.size();
    return w.pieces.size();
  }

  // Runs stage k for one partition with retries. Returns false if it failed for good.
  bool RunWithRetries(Worker& w, size_t p, size_t k) {
    PartitionReport& rep = reports[p];
    if (rep.status == PartitionReport::Status::kFailed) return false;
    Manifest m;
    std::string why;
    std::string out_path = StageOutputPath(p, k);
    bool committed = false;
    if (IsLastStage(k) && journal) {
      std::optional<Manifest> jm = journal->Committed(p);
      if (jm) m = *jm;
      committed = jm.has_value();
    } else {
      ManifestState s = LoadManifest(env, out_path, plan.recipe_hash, pipeline.ops.size(), true, &m, &why);
      committed = s == ManifestState::kValid && (IsLastStage(k) ? m.side.has_value() : FingerprintsValid(p, k, m.counters.rows));
      if (s == ManifestState::kCorrupt)  // torn, corrupt or another recipe's: redone, and said so
        events.Emit("checkpoint_invalid", fmt::format("partition {}: stage {} output not used: {}", p, k, why), [&](JsonWriter& j) {
          j.Field("partition_id", static_cast<uint64_t>(p)).Field("stage", static_cast<uint64_t>(k));
          j.Field("operation_idx", static_cast<uint64_t>(stages[k].op_end - 1)).Field("checkpoint_path", out_path);
          j.Field("error_message", why);
        });
    }
    if (committed) {
      prog.work_total.fetch_sub(Weight(p), std::memory_order_relaxed);
      prog.stage_done.fetch_add(1, std::memory_order_relaxed);
      if (IsLastStage(k)) {
        prog.done.fetch_add(1, std::memory_order_relaxed);
        final_counters[p] = m.counters;
        rep.reused = true;
        rep.status = PartitionReport::Status::kCompleted;
        events.Emit("partition_skipped", fmt::format("partition {} already committed", p), [&](JsonWriter& j) {
          j.Field("partition_id", static_cast<uint64_t>(p)).Field("output_path", m.export_offset ? paths.export_path : out_path);
          j.Field("input_rows", m.counters.rows_in).Field("output_rows", m.counters.rows);
        });
      }
      return true;
    }
    auto lock = env->LockFile(fmt::format("{}/partition_{:06d}.lock", paths.locks_dir, p), true);
    for (int attempt = 0;; ++attempt) {
      if (abort) return false;
      if (Stopping()) {
        if (attempt > 0) Abandon(p);  // it was waiting to retry
        return false;
      }
      rep.attempts = attempt + 1;
      w.failed_op.reset();
      w.chain.ResetCounters();  // and its failed_op
      w.credited = 0;
      double t0 = env->MonotonicSeconds();
      events.Emit("partition_start", fmt::format("partition {}/{} stage {} attempt {}", p + 1, plan.partitions.size(), k, attempt + 1),
                  [&](JsonWriter& j) {
                    j.Field("partition_id", static_cast<uint64_t>(p)).Field("stage", static_cast<uint64_t>(k));
                    j.Field("attempt", attempt + 1).Key("partition_meta").BeginObject();
                    j.Field("file", plan.files[plan.partitions[p].file].path).Field("begin", plan.partitions[p].begin);
                    j.Field("end", plan.partitions[p].end).EndObject();
                  });
      try {
        CrashPoint("partition_start");
        if (FaultPoint("partition_start") || FaultPoint(fmt::format("partition_start:{}", p)))
          Fail(ErrorKind::kInput, "injected I/O fault (SLUICE_FAIL_AT) at the start of partition {}", p);
        try {
          RunStage(w, p, k, attempt + 1);
        } catch (const std::bad_alloc&) {
          // A limit on the process (ulimit -v, a cgroup with swap off) or a record too large to hold: retried,
          // as memory other workers held may be free by then, and named if it fails for good.
          Fail(ErrorKind::kJobFailed, "out of memory running {}: lower np or partition.max_size_mb, or allow the process more memory",
               RangeText(p));
        } catch (const std::system_error& e) {  // a reader's or writer's thread refused (EAGAIN), or a lock
          Fail(ErrorKind::kJobFailed, "running {}: {} (a limit on threads or memory?)", RangeText(p), e.what());
        }
        double dt = env->MonotonicSeconds() - t0;
        rep.seconds += dt;
        prog.work_done.fetch_add(Weight(p) - w.credited, std::memory_order_relaxed);
        prog.stage_done.fetch_add(1, std::memory_order_relaxed);
        if (IsLastStage(k)) {
          rep.status = PartitionReport::Status::kCompleted;
          prog.done.fetch_add(1, std::memory_order_relaxed);
        }
        const Counters& c = final_counters[p];  // meaningful for the last stage only
        events.Emit("partition_complete", fmt::format("partition {} stage {} done in {:.3f}s", p, k, dt), [&](JsonWriter& j) {
          j.Field("partition_id", static_cast<uint64_t>(p)).Field("stage", static_cast<uint64_t>(k));
          j.Field("status", "success").Field("duration", dt).Field("attempt", attempt + 1);
          if (IsLastStage(k)) j.Field("input_rows", c.rows_in).Field("output_rows", c.rows).Field("output_path", w.location);
        });
        return true;
      } catch (const Error& e) {
        prog.work_done.fetch_sub(w.credited, std::memory_order_relaxed);
        if (Stopping()) {  // abandoned: what the attempt wrote is uncommitted, as after a crash
          Abandon(p);
          return false;
        }
        bool permanent = e.kind() == ErrorKind::kData || e.kind() == ErrorKind::kUsage || e.kind() == ErrorKind::kInternal;
        bool retry = !permanent && attempt < recipe.max_retries && !abort;
        double delay = retry ? Backoff(attempt) : 0;
        events.Emit("partition_failed", fmt::format("partition {} attempt {} failed: {}{}", p, attempt + 1, e.what(),
                                                    retry ? fmt::format(" (retrying in {:.2f}s)", delay) : ""),
                    [&](JsonWriter& j) {
                      j.Field("partition_id", static_cast<uint64_t>(p)).Field("stage", static_cast<uint64_t>(k));
                      j.Field("status", "failed").Field("attempt", attempt + 1).Field("retry_count", attempt);
                      j.Field("error_message", e.what()).Field("will_retry", retry);
                      // The op whose error failed the attempt; null for I/O, bad input or injected faults.
                      std::optional<size_t> op = w.failed_op ? w.failed_op : w.chain.failed_op();
                      if (op) j.Field("operation_idx", static_cast<uint64_t>(*op)).Field("operation_name", pipeline.ops[*op].def->name);
                      else j.Key("operation_idx").Null().Key("operation_name").Null();
                      if (retry) j.Field("retry_backoff", RetryBackoffName(recipe.retry_backoff)).Field("retry_in_seconds", delay);
                    });
        // The central log: a failed attempt that is retried is a warning, a partition failed for good an error.
        events.Log(retry ? LogLevel::kWarning : LogLevel::kError,
                   fmt::format("partition {} stage {} attempt {} failed{}: {}", p, k, attempt + 1,
                               retry ? fmt::format(" (retrying in {:.2f}s)", delay) : "", e.what()));
        if (!retry) {
          prog.failed.fetch_add(1, std::memory_order_relaxed);
          prog.work_total.fetch_sub(Weight(p) * (stages.size() - k), std::memory_order_relaxed);  // no later stage either
          if (IsLastStage(k) && journal) journal->MarkFailed(p);
          rep.status = PartitionReport::Status::kFailed;
          rep.error = e.what();
          rep.error_kind = e.kind();
          rep.aborted = dynamic_cast<const JobAborted*>(&e) != nullptr;
          if (e.kind() == ErrorKind::kData) abort = true;  // bad input will not get better
          return false;
        }
        prog.retried.fetch_add(1, std::memory_order_relaxed);
        for (double left = delay; left > 0 && !Stopping(); left -= 0.05) env->SleepSeconds(std::min(left, 0.05));
      }
    }
  }

  // Whether stage k's fingerprint file of partition p is complete, for `rows` rows, from this op.
  bool FingerprintsValid(size_t p, size_t k, uint64_t rows) {
    size_t op = stages[k].op_end - 1;
    uint64_t count = 0, offset = 0;
    std::string why;
    return ReadFingerprintHeader(env, FingerprintPath(p, op), pipeline.ops[op].def->name, fingerprint_size[k], &count,
                                 &offset, &why) &&
           count == rows;
  }

  // The global decision of stage k's deduplicator over the fingerprints of `parts`, in input order (the
  // op's Decide: ops/op.h), written as one keep file per partition and then the decision record, which
  // commits it. A crash before the record leaves only files a rerun overwrites.
  void Decide(size_t k, const std::vector<size_t>& parts) {
    auto lock = env->LockFile(fmt::format("{}/stage_{}.lock", paths.locks_dir, k), true);
    size_t op = stages[k].op_end - 1;
    if (env->FileExists(DecisionPath(k))) {
      std::vector<size_t> covered;
      simdjson::dom::parser parser;
      simdjson::dom::array arr;
      std::string json = ReadFile(env, DecisionPath(k));
      if (!parser.parse(json)["partitions"].get(arr))
        for (auto v : arr) covered.push_back(static_cast<size_t>(uint64_t(v)));
      if (covered == parts) {
        // Decided before (by this or another process) over the same partitions. Without its keep files (a
        // retention policy removed the checkpoints after the job finished, and this run redid stage k) it
        // is made again: the same fingerprints give the same decision.
        if (std::all_of(parts.begin(), parts.end(), [&](size_t p) { return env->FileExists(KeepPath(p, k)); })) return;
      } else {
        // Decided without some partition (it had failed, allow_partial): who comes first may change for
        // everything after the barrier, so all of it is invalid, down to the results.
        events.Emit("dedup_decision_stale",
                    fmt::format("op {} ({}): the decision covered {} partition(s), now {}: later stages are recomputed", op,
                                pipeline.ops[op].def->name, covered.size(), parts.size()),
                    [&](JsonWriter& j) {
                      j.Field("operation_idx", static_cast<uint64_t>(op)).Field("stage", static_cast<uint64_t>(k));
                      j.Field("covered_partitions", static_cast<uint64_t>(covered.size())).Field("partitions", static_cast<uint64_t>(parts.size()));
                    });
        for (size_t p = 0; p < plan.partitions.size(); ++p) {
          for (size_t c = op + 1; c < pipeline.ops.size(); ++c) env->RemoveFile(ManifestPath(CheckpointPath(p, c)));
          env->RemoveFile(ManifestPath(ResultPath(p)));
        }
        for (size_t j = k; j < stages.size(); ++j) env->RemoveFile(DecisionPath(j));  // later barriers too
      }
    }
    double t0 = env->MonotonicSeconds();
    const std::string& name = pipeline.ops[op].def->name;
    events.Emit("dedup_decision_start", fmt::format("global decision of op {} ({})", op, name),
                [&](JsonWriter& j) { j.Field("operation_idx", static_cast<uint64_t>(op)).Field("stage", static_cast<uint64_t>(k)); });
    auto inst = pipeline.ops[op].def->create(pipeline.ops[op].params);
    auto& dedup = static_cast<Deduplicator&>(*inst);
    const uint32_t size = static_cast<uint32_t>(dedup.fingerprint_size());
    std::vector<FileFingerprints::Part> files;
    for (size_t p : parts) {
      FileFingerprints::Part part{FingerprintPath(p, op)};
      std::string why;
      if (!ReadFingerprintHeader(env, part.path, name, size, &part.count, &part.offset, &why))
        Fail(ErrorKind::kInput, "fingerprint file '{}' is not usable: {}", part.path, why);
      files.push_back(std::move(part));
    }
    FileFingerprints fps(env, files, size);
    DedupContext ctx;
    ctx.env = env;
    ctx.scratch_dir = SpillDir(k);
    ctx.memory_bytes = dedup_memory;
    env->RemoveTree(ctx.scratch_dir);  // runs a killed decision left behind
    std::vector<bool> keep(fps.count(), false);
    DuplicatePairs dups(pipeline.traced[op] ? pipeline.trace_num : 0);
    if (pipeline.traced[op]) ctx.on_duplicate = [&](uint64_t dropped, uint64_t kept) { dups.Add(dropped, kept); };
    DedupStats stats;
    if (pipeline.ops[op].keeps_all) keep.assign(keep.size(), true);  // ResolvedOp::keeps_all
    else stats = dedup.Decide(fps, ctx, keep);
    env->RemoveTree(ctx.scratch_dir);
    if (pipeline.traced[op]) {
      std::vector<std::string> outputs;
      std::vector<uint64_t> counts;
      for (size_t i = 0; i < parts.size(); ++i) {
        outputs.push_back(StageOutputPath(parts[i], k));
        counts.push_back(files[i].count);
      }
      std::string lines;
      for (const auto& entry : DuplicateEntries(env, dups.pairs(), outputs, counts))
        lines += fmt::format("{}\t{}\n", op, entry);  // the segment trace format (engine/trace.h)
      WriteFileAtomic(env, DuplicateTracePath(k), lines);
    }
    uint64_t total = fps.count(), kept = 0, at = 0;
    std::string bytes;
    for (size_t i = 0; i < parts.size(); ++i) {
      bytes.assign(files[i].count, '\0');
      for (uint64_t r = 0; r < files[i].count; ++r, ++at)
        if (keep[at]) {
          bytes[r] = 1;
          ++kept;
        }
      WriteFileAtomic(env, KeepPath(parts[i], k), bytes);
      CrashPoint("dedup_keep_commit");
    }
    JsonWriter w;
    w.BeginObject().Field("stage", static_cast<uint64_t>(k)).Field("operation_idx", static_cast<uint64_t>(op));
    w.Field("operation_name", name).Field("fingerprint_size", static_cast<uint64_t>(size));
    w.Field("input_rows", total).Field("kept_rows", kept);
    w.Field("memory_budget_bytes", ctx.memory_bytes).Field("passes", stats.passes);
    w.Field("spill_runs", stats.spill_runs).Field("spill_bytes", stats.spill_bytes).Key("partitions").BeginArray();
    for (size_t p : parts) w.Uint(p);
    w.EndArray().EndObject();
    WriteFileAtomic(env, DecisionPath(k), w.Take() + "\n");
    events.Emit("dedup_decision_complete", fmt::format("op {} keeps {} of {} rows", op, kept, total), [&](JsonWriter& j) {
      j.Field("operation_idx", static_cast<uint64_t>(op)).Field("stage", static_cast<uint64_t>(k));
      j.Field("input_rows", total).Field("output_rows", kept);
      j.Field("duration", env->MonotonicSeconds() - t0).Field("passes", stats.passes);
      j.Field("spill_runs", stats.spill_runs).Field("spill_bytes", stats.spill_bytes);
    });
  }

  void OpenJournal() {
    ExportJournal::Options o;
    o.export_path = paths.export_path;
    o.journal_path = paths.export_journal;
    o.recipe_hash = plan.recipe_hash;
    for (size_t p = 0; p < plan.partitions.size(); ++p) o.result_paths.push_back(ResultPath(p));
    o.n_ops = pipeline.ops.size();
    o.codec = export_codec;
    // At most np partitions in flight plus np waiting are held, each within BufferCap of the partition size:
    // about 2 x np x partition size, the memory bound of issue 2 (plus 1/16 and 1 MiB each of slack).
    double mb = recipe.partition_max_size_mb > 0 ? recipe.partition_max_size_mb : 64;
    o.buffer_cap = ExportJournal::BufferCap(static_cast<uint64_t>(std::clamp(mb, 1.0, 1024.0) * (1 << 20)));
    o.pending_cap = o.buffer_cap * static_cast<uint64_t>(std::max(1, ex.np_));
    // The stats side file: beside the export when an op adds its column, else (published only if the input
    // carried stats or meta) its journal stays in the job directory.
    o.side_path = StatsSidePath(paths.export_path);
    o.side_always = pipeline.adds_stats || pipeline.adds_meta;
    o.side_journal_path = o.side_always ? o.side_path + paths.export_journal.substr(paths.export_path.size())
                                        : fmt::format("{}/stats_side.jsonl{}", paths.results_dir, CodecExtension(export_codec));
    o.append_retries = static_cast<int>(recipe.max_retries);
    o.on_append_failed = [this](size_t p, int tries, const std::string& error, bool will_retry) {
      events.Emit("export_append_failed",
                  fmt::format("partition {}: append to the export failed (try {}){}: {}", p, tries,
                              will_retry ? ", tried again later" : "", error),
                  [&](JsonWriter& j) {
                    j.Field("partition_id", static_cast<uint64_t>(p)).Field("attempt", tries);
                    j.Field("error_message", error).Field("will_retry", will_retry);
                  });
      events.Log(will_retry ? LogLevel::kWarning : LogLevel::kError, fmt::format("partition {}: {}", p, error));
    };
    journal = std::make_unique<ExportJournal>(env, std::move(o));
    ExportJournal::Recovery r = journal->Recover();
    for (const auto& d : r.discarded)
      events.Emit("checkpoint_invalid", d, [&](JsonWriter& j) { j.Field("error_message", d); });
    if (r.prefix_partitions + r.result_files > 0 || !r.discarded.empty()) {
      events.Emit("export_journal_recovered",
                  fmt::format("{} partition(s) already in the export ({} bytes), {} as result files{}", r.prefix_partitions,
                              r.prefix_bytes, r.result_files, r.export_complete ? "; the export is complete" : ""),
                  [&](JsonWriter& j) {
                    j.Field("partitions_in_export", static_cast<uint64_t>(r.prefix_partitions)).Field("bytes", r.prefix_bytes);
                    j.Field("result_files", static_cast<uint64_t>(r.result_files)).Field("export_complete", r.export_complete);
                  });
    }
  }

  std::vector<std::string> Export(const std::vector<size_t>& parts) {
    std::vector<std::string> files;
    std::filesystem::path ep(paths.export_path);
    env->CreateDirs(ep.parent_path().string());
    if (recipe.export_shard_size == 0) {
      if (!journal) OpenJournal();  // the job stopped before its last stage (allow_partial after an abort)
      files.push_back(journal->Finish(parts));
      return files;
    }
    // Shards: DataJuicer's count min(bytes / shard_size + 1, rows), contiguous row ranges.
    uint64_t rows = 0, bytes = 0, side_rows = 0;
    for (size_t p : parts) {
      Manifest m;
      std::string why;
      LoadManifest(env, ResultPath(p), plan.recipe_hash, pipeline.ops.size(), false, &m, &why);
      rows += m.counters.rows;
      bytes += m.raw_bytes;
      side_rows += m.counters.side_rows;
    }
    // One stats side file for all shards (DataJuicer names it after export_path), from the results' side parts.
    if (pipeline.adds_stats || pipeline.adds_meta || side_rows > 0) {
      AtomicFile side(env, StatsSidePath(paths.export_path));
      for (size_t p : parts) env->AppendFileTo(StatsSidePath(ResultPath(p)), side.file());
      side.Commit();
    }
    uint64_t n = std::max<uint64_t>(1, std::min<uint64_t>(bytes / recipe.export_shard_size + 1, rows));
    Codec codec = CodecForPath(paths.export_path);
    uint64_t shard = 0, in_shard = 0;
    auto shard_rows = [&](uint64_t i) { return rows / n + (i < rows % n ? 1 : 0); };
    std::unique_ptr<AtomicFile> f;
    std::unique_ptr<CompressedWriter> cw;
    auto open = [&]() {
      std::string path = ExportShardPath(paths.export_path, shard, n);
      f = std::make_unique<AtomicFile>(env, path);
      cw = std::make_unique<CompressedWriter>(f->file(), codec, kExportCompressionLevel);
      files.push_back(path);
    };
    auto close = [&]() {
      cw->Finish();
      cw.reset();
      f->Commit();
      f.reset();
    };
    open();
    for (size_t p : parts) {
      LineReader r(OpenWholeFile(env, ResultPath(p)), 0);
      std::string_view line;
      while (r.Next(line)) {
        if (in_shard == shard_rows(shard) && shard + 1 < n) {
          close();
          ++shard;
          in_shard = 0;
          open();
        }
        cw->Write(line);
        cw->Write("\n");
        ++in_shard;
      }
    }
    close();
    while (++shard < n) {  // rows < shards cannot happen (n <= rows), but keep every promised file
      open();
      close();
    }
    return files;
  }

  // Assembles <job_dir>/trace/ from the segment and decision traces of the partitions in `parts`
  // (engine/trace.h).
  void WriteTrace(const std::vector<size_t>& parts) {
    std::string dir = paths.job_dir + "/trace";
    env->CreateDirs(dir);
    size_t files = 0;
    std::vector<std::string> incomplete;
    for (size_t i = 0; i < pipeline.ops.size(); ++i) {
      if (!pipeline.traced[i]) continue;
      std::vector<std::string> entries;
      bool complete = true;
      if (pipeline.ops[i].def->kind == OpKind::kDeduplicator) {
        size_t k = 0;
        while (stages[k].op_end != i + 1) ++k;
        if (env->FileExists(DuplicateTracePath(k))) ReadSegmentTrace(env, DuplicateTracePath(k), i, pipeline.trace_num, entries);
        else complete = false;
      } else {
        auto [b, e] = SegmentOf(i);
        for (size_t p : parts) {
          std::string path = SegmentTracePath(p, b, e);
          if (!env->FileExists(path)) {
            complete = false;
            continue;
          }
          ReadSegmentTrace(env, path, i, pipeline.trace_num, entries);
        }
      }
      std::string path = dir + "/" + TraceFileName(pipeline, i);
      if (!complete) incomplete.push_back(pipeline.ops[i].def->name);
      if (entries.empty() || (!complete && env->FileExists(path))) continue;
      std::string out;
      for (const auto& e : entries) out += e + "\n";
      WriteFileAtomic(env, path, out);
      ++files;
    }
    events.Emit("trace_written", fmt::format("tracer: {} file(s) in {}", files, dir), [&](JsonWriter& j) {
      j.Field("trace_dir", dir).Field("files", static_cast<uint64_t>(files));
    });
    if (!incomplete.empty()) {
      std::string names;
      for (const auto& n : incomplete) names += (names.empty() ? "" : ", ") + n;
      events.Emit("trace_incomplete",
                  fmt::format("tracer: some partitions of {} ran before the tracer was on or their traces were cleaned up; "
                              "their samples are missing from the trace",
                              names),
                  [&](JsonWriter& j) { j.Field("ops", names); });
    }
  }

  JobReport Run() {
    JobReport report;
    double t0 = env->MonotonicSeconds();
    for (const auto& d : {paths.checkpoint_dir, paths.results_dir, paths.metadata_dir, paths.locks_dir})
      env->CreateDirs(d);
    std::vector<size_t> alive(plan.partitions.size());
    for (size_t i = 0; i < alive.size(); ++i) alive[i] = i;
    prog.partitions = plan.partitions.size();
    prog.stages = stages.size();
    for (size_t p = 0; p < plan.partitions.size(); ++p) prog.work_total += Weight(p) * stages.size();
    int threads = std::max(1, std::min<int>(ex.np_, static_cast<int>(std::max<size_t>(1, alive.size()))));
    bool stopped = false;
    for (size_t k = 0; k < stages.size() && !abort; ++k) {
      prog.stage = k;
      prog.stage_done = 0;
      if (IsLastStage(k) && recipe.export_shard_size == 0) {
        OpenJournal();  // only now: a stale dedup decision (Decide) may just have invalidated results
        for (size_t p = 0, i = 0; p < plan.partitions.size(); ++p) {  // lost in an earlier stage (allow_partial)
          if (i < alive.size() && alive[i] == p) ++i;
          else journal->MarkFailed(p);
        }
      }
      std::atomic<size_t> next{0}, finished{0};
      // An error outside a partition's own handling (the event log on a full disk, memory) ends the stage:
      // the other workers stop, and it is raised once they have (instead of std::terminate on a pool thread).
      RunOnThreads(
          static_cast<size_t>(threads),
          [&] {
            Worker w(pipeline);
            while (!Stopping()) {
              size_t i = next.fetch_add(1);
              if (i >= alive.size() || abort) break;
              if (RunWithRetries(w, alive[i], k)) ++finished;
            }
          },
          [&] { abort = true; });
      std::vector<size_t> ok;
      for (size_t p : alive)
        if (reports[p].status != PartitionReport::Status::kFailed) ok.push_back(p);
      bool failures = ok.size() != alive.size();
      // Stopped: unless the last stage got through (nothing left but the export), end here.
      if (Stopping() && (!IsLastStage(k) || finished + (alive.size() - ok.size()) < alive.size())) {
        stopped = true;
        break;
      }
      if (failures && !recipe.allow_partial) break;
      alive = ok;
      if (stages[k].barrier && !abort) Decide(k, alive);
    }
    report.partitions = reports;
    for (size_t i = 0; i < pipeline.ops.size(); ++i) report.ops.push_back({pipeline.ops[i].def->name, 0, 0, 0});
    size_t failed = 0;
    std::vector<size_t> done;
    // The job's error is the first partition that failed on its own, not one stopped by the abort it caused
    // (which may have a lower index: the abort races with the other workers).
    auto is_cause = [&](const PartitionReport& r) { return r.status == PartitionReport::Status::kFailed && !r.aborted; };
    const bool has_cause = std::any_of(reports.begin(), reports.end(), is_cause);
    for (size_t p = 0; p < reports.size(); ++p) {
      auto& r = report.partitions[p];
      if (r.status == PartitionReport::Status::kCompleted) {
        done.push_back(p);
        const Counters& c = final_counters[p];
        r.rows_in = c.rows_in;
        r.rows_out = c.rows;
        r.bad_records = c.bad;
        r.null_text = c.null_text;
        report.rows_in += c.rows_in;
        report.rows_out += c.rows;
        report.bad_records += c.bad;
        report.null_text += c.null_text;
        for (size_t i = 0; i < c.ops.size() && i < report.ops.size(); ++i) {
          report.ops[i].in += c.ops[i].in;
          report.ops[i].out += c.ops[i].out;
          report.ops[i].errors += c.ops[i].errors;
        }
      } else {
        ++failed;
        report.missing_ranges.push_back(RangeText(p));
        if (r.status == PartitionReport::Status::kFailed && report.error.empty() && (is_cause(r) || !has_cause)) {
          report.error = fmt::format("partition {} ({}) failed after {} attempt(s): {}", p, RangeText(p), r.attempts, r.error);
          // Bad data and an unwritable output keep their own exit codes (3, 4): what to do about them does not
          // depend on which partition met them first, or on whether a retry was left.
          report.error_kind = r.error_kind == ErrorKind::kData || r.error_kind == ErrorKind::kOutput ? r.error_kind : ErrorKind::kJobFailed;
        }
      }
    }
    if (stopped) {
      report.status = "stopped";
      report.abandoned = abandoned;
      std::sort(report.abandoned.begin(), report.abandoned.end());
    } else if (failed == 0 || recipe.allow_partial) {
      report.export_files = Export(done);
      if (pipeline.tracing()) WriteTrace(done);
      report.status = failed == 0 ? "completed" : "completed_with_failures";
      if (failed > 0 && report.error.empty()) report.error = fmt::format("{} partition(s) did not complete", failed);
    } else {
      report.status = "failed";
      if (report.error.empty()) report.error = fmt::format("{} partition(s) did not complete", failed);
    }
    report.seconds = env->MonotonicSeconds() - t0;
    return report;
  }
};

Executor::Executor(Env* env, const Recipe& recipe, const Pipeline& pipeline, const Plan& plan, JobPaths paths,
                   EventLog& events, int np)
    : env_(env), recipe_(recipe), pipeline_(pipeline), plan_(plan), paths_(std::move(paths)), events_(events), np_(np) {}

JobReport Executor::Run() {
  // Memory that cannot be had outside a partition's own handling (a decision, the export): a job failure
  // naming the cause, not std::terminate (exit 134, "terminate called after throwing std::bad_alloc").
  try {
    Impl impl(*this);
    return impl.Run();
  } catch (const std::bad_alloc&) {
    Fail(ErrorKind::kJobFailed, "out of memory (a memory allocation failed outside a partition): lower np or "
                                "partition.max_size_mb, or allow the process more memory");
  } catch (const std::system_error& e) {
    Fail(ErrorKind::kJobFailed, "{} (a limit on threads or memory?)", e.what());
  }
}

}  // namespace sluice
