#include "engine/executor.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_set>

#include <simdjson.h>

#include "core/fault_injection.h"
#include "core/json_writer.h"
#include "core/record.h"
#include "engine/commit.h"
#include "engine/export_journal.h"
#include "io/atomic_file.h"
#include "io/codec.h"
#include "io/line_reader.h"

namespace sluice {
namespace {

// Output is handed to the sink in blocks this large: small enough that the bytes just serialized are still
// in L2 cache when write() copies them.
constexpr size_t kFlushBytes = 128 << 10;

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

}  // namespace

struct Executor::Impl {
  Executor& ex;
  Env* env;
  const Recipe& recipe;
  const Pipeline& pipeline;
  const Plan& plan;
  const JobPaths& paths;
  EventLog& events;
  std::vector<Stage> stages;
  std::vector<bool> checkpoint_after;  // per op index: a checkpoint is written after it
  Codec export_codec, inter_codec;
  std::vector<PartitionReport> reports;
  std::vector<Counters> final_counters;
  std::mutex mu;
  std::atomic<bool> abort{false};
  // The single-file export, written while the last stage runs; null for a sharded export, which is cut
  // by row counts known only at the end and so is assembled from result files.
  std::unique_ptr<ExportJournal> journal;

  explicit Impl(Executor& e)
      : ex(e), env(e.env_), recipe(e.recipe_), pipeline(e.pipeline_), plan(e.plan_), paths(e.paths_),
        events(e.events_) {
    stages = MakeStages(pipeline);
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
    // A stage ending in a deduplicator always persists its output: the barrier needs it.
    for (const auto& st : stages)
      if (st.barrier) checkpoint_after[st.op_end - 1] = true;
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
  std::string KeysPath(size_t p, size_t op) const { return fmt::format("{}/op_{:03d}_keys.bin", PartDir(p), op); }
  std::string KeepPath(size_t p, size_t stage) const { return fmt::format("{}/stage_{}_keep.bin", PartDir(p), stage); }
  std::string DecisionPath(size_t stage) const { return fmt::format("{}/stage_{}_decision.json", paths.metadata_dir, stage); }
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
    std::string location;  // where the last committed partition result went
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
        Fail(ErrorKind::kInput, "stage {} output of partition {} is not usable: {}", k - 1, p, why);
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
      if (seg_end != st.op_end && checkpoint_after[seg_end - 1]) {
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
                  bool write_keys, Counters& counters) {
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
    LineReader reader(std::move(src), RecordPadding());
    std::unique_ptr<OutputSink> out = final_output && journal
                                          ? journal->Open(p)
                                          : std::make_unique<CommittedFile>(env, dest, final_output ? export_codec : inter_codec,
                                                                            plan.recipe_hash);
    std::unique_ptr<AtomicFile> keys_file;
    std::string keys_buf;
    if (write_keys) keys_file = std::make_unique<AtomicFile>(env, KeysPath(p, e - 1));
    std::unique_ptr<AtomicFile> quarantine;
    uint64_t bad_here = 0;
    std::string first_bad;
    SerializeOptions so;
    so.keep_stats = !final_output || recipe.keep_stats_in_res_ds;
    if (from_input) counters = FreshCounters();
    w.chain.ResetCounters();
    uint64_t rows_out = 0, index = 0;
    int64_t base_line = -1;
    std::string_view line;
    w.out.clear();
    while (reader.Next(line)) {
      if (abort.load(std::memory_order_relaxed)) Fail(ErrorKind::kJobFailed, "job aborted");
      uint64_t idx = index++;
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
      if (!w.chain.Run(w.sample, b, e)) continue;
      SerializeSample(w.sample, so, w.out);
      if (write_keys) keys_buf.append(reinterpret_cast<const char*>(w.sample.dedup_key), 16);
      ++rows_out;
      if (w.out.size() >= kFlushBytes) {
        out->Write(w.out);
        w.out.clear();
      }
    }
    out->Write(w.out);
    w.out.clear();
    for (size_t i = b; i < e; ++i) {
      auto& c = w.chain.counters()[i];
      counters.ops[i].in += c.in;
      counters.ops[i].out += c.out;
      counters.ops[i].errors += c.errors;
    }
    counters.rows = rows_out;
    if (quarantine) quarantine->Commit();
    if (keys_file) {
      keys_file->file().Append(keys_buf);
      keys_file->Commit();
    }
    out->Commit(counters, final_output ? "result_commit" : "checkpoint_commit");
    if (final_output) w.location = out->Location();
    double dt = env->MonotonicSeconds() - t0;
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
                    j.Field("duration", dt).Field("attempt", attempt);
                    if (!c.first_error.empty()) j.Field("error_message", c.first_error);
                  });
    }
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
      committed = LoadManifest(env, out_path, plan.recipe_hash, pipeline.ops.size(), true, &m, &why) == ManifestState::kValid &&
                  (IsLastStage(k) || env->FileExists(KeysPath(p, stages[k].op_end - 1)));
    }
    if (committed) {
      if (IsLastStage(k)) {
        final_counters[p] = m.counters;
        rep.reused = true;
        rep.status = PartitionReport::Status::kCompleted;
        events.Emit("partition_skipped", fmt::format("partition {} already committed", p), [&](JsonWriter& j) {
          j.Field("partition_id", static_cast<uint64_t>(p)).Field("output_path", m.export_offset ? paths.export_path : out_path);
          j.Field("output_rows", m.counters.rows);
        });
      }
      return true;
    }
    auto lock = env->LockFile(fmt::format("{}/partition_{:06d}.lock", paths.locks_dir, p), true);
    for (int attempt = 0;; ++attempt) {
      if (abort) return false;
      rep.attempts = attempt + 1;
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
        RunStage(w, p, k, attempt + 1);
        double dt = env->MonotonicSeconds() - t0;
        rep.seconds += dt;
        if (IsLastStage(k)) rep.status = PartitionReport::Status::kCompleted;
        const Counters& c = final_counters[p];  // meaningful for the last stage only
        events.Emit("partition_complete", fmt::format("partition {} stage {} done in {:.3f}s", p, k, dt), [&](JsonWriter& j) {
          j.Field("partition_id", static_cast<uint64_t>(p)).Field("stage", static_cast<uint64_t>(k));
          j.Field("status", "success").Field("duration", dt).Field("attempt", attempt + 1);
          if (IsLastStage(k)) j.Field("input_rows", c.rows_in).Field("output_rows", c.rows).Field("output_path", w.location);
        });
        return true;
      } catch (const Error& e) {
        bool permanent = e.kind() == ErrorKind::kData || e.kind() == ErrorKind::kUsage || e.kind() == ErrorKind::kInternal;
        bool retry = !permanent && attempt < recipe.max_retries && !abort;
        double delay = retry ? Backoff(attempt) : 0;
        events.Emit("partition_failed", fmt::format("partition {} attempt {} failed: {}{}", p, attempt + 1, e.what(),
                                                    retry ? fmt::format(" (retrying in {:.2f}s)", delay) : ""),
                    [&](JsonWriter& j) {
                      j.Field("partition_id", static_cast<uint64_t>(p)).Field("stage", static_cast<uint64_t>(k));
                      j.Field("status", "failed").Field("attempt", attempt + 1).Field("retry_count", attempt);
                      j.Field("error_message", e.what()).Field("will_retry", retry);
                      if (retry) j.Field("retry_backoff", RetryBackoffName(recipe.retry_backoff)).Field("retry_in_seconds", delay);
                    });
        if (!retry) {
          if (IsLastStage(k) && journal) journal->MarkFailed(p);
          rep.status = PartitionReport::Status::kFailed;
          rep.error = e.what();
          rep.error_kind = e.kind();
          if (e.kind() == ErrorKind::kData) abort = true;  // bad input will not get better
          return false;
        }
        env->SleepSeconds(delay);
      }
    }
  }

  // The global deduplication decision for stage k: the first sample of each key, in input order.
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
      if (covered == parts) return;  // decided before (by this or another process) over the same partitions
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
      env->RemoveFile(DecisionPath(k));
    }
    double t0 = env->MonotonicSeconds();
    events.Emit("dedup_decision_start", fmt::format("global decision of op {} ({})", op, pipeline.ops[op].def->name),
                [&](JsonWriter& j) { j.Field("operation_idx", static_cast<uint64_t>(op)).Field("stage", static_cast<uint64_t>(k)); });
    struct KeyHash {
      size_t operator()(const std::pair<uint64_t, uint64_t>& k) const { return k.first ^ (k.second * 0x9E3779B97F4A7C15ull); }
    };
    std::unordered_set<std::pair<uint64_t, uint64_t>, KeyHash> seen;
    uint64_t total = 0, kept = 0;
    for (size_t p : parts) {
      std::string keys = ReadFile(env, KeysPath(p, op));
      std::string keep(keys.size() / 16, '\0');
      for (size_t i = 0; i < keep.size(); ++i) {
        std::pair<uint64_t, uint64_t> key;
        std::memcpy(&key.first, keys.data() + 16 * i, 8);
        std::memcpy(&key.second, keys.data() + 16 * i + 8, 8);
        bool first = seen.insert(key).second;
        keep[i] = first ? 1 : 0;
        kept += first;
      }
      total += keep.size();
      WriteFileAtomic(env, KeepPath(p, k), keep);
    }
    JsonWriter w;
    w.BeginObject().Field("stage", static_cast<uint64_t>(k)).Field("operation_idx", static_cast<uint64_t>(op));
    w.Field("input_rows", total).Field("kept_rows", kept).Key("partitions").BeginArray();
    for (size_t p : parts) w.Uint(p);
    w.EndArray().EndObject();
    WriteFileAtomic(env, DecisionPath(k), w.Take() + "\n");
    events.Emit("dedup_decision_complete", fmt::format("op {} keeps {} of {} rows", op, kept, total), [&](JsonWriter& j) {
      j.Field("operation_idx", static_cast<uint64_t>(op)).Field("input_rows", total).Field("output_rows", kept);
      j.Field("duration", env->MonotonicSeconds() - t0);
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
    // Output buffered ahead of its turn stays within the partition size, so at most np partitions in
    // flight plus np waiting are held: the 2 x np x partition size of the memory bound (issue 2).
    double mb = recipe.partition_max_size_mb > 0 ? recipe.partition_max_size_mb : 64;
    o.buffer_cap = static_cast<uint64_t>(std::clamp(mb, 1.0, 1024.0) * (1 << 20));
    o.pending_cap = o.buffer_cap * static_cast<uint64_t>(std::max(1, ex.np_));
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
    uint64_t rows = 0, bytes = 0;
    for (size_t p : parts) {
      Manifest m;
      std::string why;
      LoadManifest(env, ResultPath(p), plan.recipe_hash, pipeline.ops.size(), false, &m, &why);
      rows += m.counters.rows;
      bytes += m.raw_bytes;
    }
    uint64_t n = std::max<uint64_t>(1, std::min<uint64_t>(bytes / recipe.export_shard_size + 1, rows));
    std::string name = ep.filename().string();
    size_t dot = name.find('.');
    std::string stem = name.substr(0, dot), suffix = dot == std::string::npos ? "" : name.substr(dot);
    int width = static_cast<int>(std::to_string(n).size()) + 1;
    Codec codec = CodecForPath(paths.export_path);
    uint64_t shard = 0, in_shard = 0;
    auto shard_rows = [&](uint64_t i) { return rows / n + (i < rows % n ? 1 : 0); };
    std::unique_ptr<AtomicFile> f;
    std::unique_ptr<CompressedWriter> cw;
    auto open = [&]() {
      std::string path = (ep.parent_path() / fmt::format("{}-{:0{}d}-of-{:0{}d}{}", stem, shard, width, n, width, suffix)).string();
      f = std::make_unique<AtomicFile>(env, path);
      cw = std::make_unique<CompressedWriter>(f->file(), codec, 3);
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

  JobReport Run() {
    JobReport report;
    double t0 = env->MonotonicSeconds();
    for (const auto& d : {paths.checkpoint_dir, paths.results_dir, paths.metadata_dir, paths.locks_dir})
      env->CreateDirs(d);
    std::vector<size_t> alive(plan.partitions.size());
    for (size_t i = 0; i < alive.size(); ++i) alive[i] = i;
    int threads = std::max(1, std::min<int>(ex.np_, static_cast<int>(std::max<size_t>(1, alive.size()))));
    for (size_t k = 0; k < stages.size() && !abort; ++k) {
      if (IsLastStage(k) && recipe.export_shard_size == 0) {
        OpenJournal();  // only now: a stale dedup decision (Decide) may just have invalidated results
        for (size_t p = 0, i = 0; p < plan.partitions.size(); ++p) {  // lost in an earlier stage (allow_partial)
          if (i < alive.size() && alive[i] == p) ++i;
          else journal->MarkFailed(p);
        }
      }
      std::atomic<size_t> next{0};
      auto work = [&]() {
        Worker w(pipeline);
        while (true) {
          size_t i = next.fetch_add(1);
          if (i >= alive.size() || abort) break;
          RunWithRetries(w, alive[i], k);
        }
      };
      std::vector<std::thread> pool;
      for (int t = 1; t < threads; ++t) pool.emplace_back(work);
      work();
      for (auto& t : pool) t.join();
      std::vector<size_t> ok;
      for (size_t p : alive)
        if (reports[p].status != PartitionReport::Status::kFailed) ok.push_back(p);
      bool failures = ok.size() != alive.size();
      if (failures && !recipe.allow_partial) break;
      alive = ok;
      if (stages[k].barrier && !abort) Decide(k, alive);
    }
    report.partitions = reports;
    for (size_t i = 0; i < pipeline.ops.size(); ++i) report.ops.push_back({pipeline.ops[i].def->name, 0, 0, 0});
    size_t failed = 0;
    std::vector<size_t> done;
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
        if (r.status == PartitionReport::Status::kFailed && report.error.empty()) {
          report.error = fmt::format("partition {} ({}) failed after {} attempt(s): {}", p, RangeText(p), r.attempts, r.error);
          report.error_kind = r.error_kind == ErrorKind::kData ? ErrorKind::kData : ErrorKind::kJobFailed;
        }
      }
    }
    if (failed == 0 || recipe.allow_partial) {
      report.export_files = Export(done);
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
  Impl impl(*this);
  return impl.Run();
}

}  // namespace sluice
