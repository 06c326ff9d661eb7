#include "engine/auto_config.h"

#include <algorithm>
#include <cmath>

#include <simdjson.h>

#include "core/error.h"
#include "engine/export_journal.h"
#include "engine/plan.h"
#include "io/codec.h"

namespace sluice {
namespace {

constexpr uint64_t kMiB = 1 << 20;
// docs/partitioning.md, "Constants".
constexpr uint64_t kTargetPartitionBytes = 64 * kMiB;  // the seed's 64 MB target
constexpr double kMemoryFraction = 0.5;                // of usable memory; the rest is page cache and headroom
// Read buffers, writer, codec contexts, parser per worker, and the export journal's fixed slack for the two
// partitions below.
constexpr uint64_t kWorkerOverheadBytes = 32 * kMiB + 2 * ExportJournal::kBufferSlackBytes;
// Output of a partition written ahead of its turn in the export plus a finished one waiting for it, each up
// to ExportJournal::BufferCap of the partition size: 2 x (1 + 1/16) bytes per byte of partition.
constexpr double kJournalCopies = 2 * (1 + 1.0 / ExportJournal::kBufferSlackDivisor);
constexpr uint64_t kMinPartitionBytes = 1 * kMiB;  // below this a partition costs more in files and events than it holds
constexpr uint64_t kMinPartitionRecords = 100;
constexpr double kDefaultRecordBytes = 1024;  // when the sample holds no record

const ModalityProfile kProfiles[kModalityCount] = {
    {Modality::kText, 0, 0},
    {Modality::kImage, kMiB / 2, 5000},
    {Modality::kAudio, 2 * kMiB, 2000},
    {Modality::kVideo, 10 * kMiB, 1000},
    {Modality::kMultimodal, 0, 3000},  // its items are costed by their own kinds
};

// Media items in a field: a list counts its non-null, non-empty entries; a non-empty string is one.
uint64_t CountItems(simdjson::dom::element e) {
  if (e.is_array()) {
    uint64_t n = 0;
    for (auto x : e.get_array()) {
      std::string_view s;
      if (x.is_null()) continue;
      if (!x.get(s) && s.empty()) continue;
      ++n;
    }
    return n;
  }
  std::string_view s;
  if (!e.get(s)) return s.empty() ? 0 : 1;
  return e.is_null() ? 0 : 1;
}

// A field by name, or by dotted path into nested objects ("meta.text").
bool Field(simdjson::dom::element rec, const std::string& key, simdjson::dom::element& out) {
  if (!rec[key].get(out)) return true;
  if (key.find('.') == std::string::npos) return false;
  std::string ptr = "/";
  for (char c : key) ptr += c == '.' ? '/' : c;
  return !rec.at_pointer(ptr).get(out);
}

uint64_t CodePoints(std::string_view s) {
  uint64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

const char* ModalityName(Modality m) {
  switch (m) {
    case Modality::kText: return "text";
    case Modality::kImage: return "image";
    case Modality::kAudio: return "audio";
    case Modality::kVideo: return "video";
    case Modality::kMultimodal: return "multimodal";
  }
  return "?";
}

const ModalityProfile& ProfileOf(Modality m) { return kProfiles[static_cast<int>(m)]; }

const char* SourceName(Source s) {
  switch (s) {
    case Source::kAuto: return "auto";
    case Source::kDefault: return "default";
    case Source::kRecipe: return "recipe";
    case Source::kCommandLine: return "command_line";
    case Source::kStoredPlan: return "stored_plan";
  }
  return "?";
}

InputSample SampleInput(Env* env, const std::vector<InputFile>& files, const SampleKeys& keys, SampleLimits limits) {
  InputSample s;
  s.files = files.size();
  for (const auto& f : files) {
    s.total_bytes += f.size;
    if (CodecForPath(f.path) != Codec::kNone) ++s.compressed_files;
    else s.plain_bytes += f.size;
  }
  // The budget is spread over the files in order (each gets an equal share, at least 64 KiB), so a
  // directory of different shards is not judged by its first file alone.
  uint64_t per_file = std::max<uint64_t>(64 << 10, limits.max_bytes / std::max<size_t>(1, files.size()));
  simdjson::dom::parser parser;
  double sum = 0, sum_sq = 0, text_bytes = 0, text_chars = 0;
  uint64_t items[3] = {0, 0, 0};
  std::string buf(64 << 10, '\0');
  for (const auto& f : files) {
    if (s.records >= limits.max_records || s.sampled_bytes >= limits.max_bytes) break;
    if (f.size == 0) continue;
    ++s.files_sampled;
    auto src = OpenByteSource(env, f.path, 0, f.size);
    std::string data;
    uint64_t file_bytes = 0;
    bool eof = false;
    while (!eof && s.records < limits.max_records && file_bytes < per_file) {
      // Refill until the buffer holds a whole line (a record larger than the share is still read whole,
      // up to 64 MiB: its size is what matters most).
      size_t nl = data.find('\n');
      while (nl == std::string::npos && data.size() < 64 * kMiB) {
        size_t n = src->Read(buf.data(), buf.size());
        if (n == 0) {
          eof = true;
          break;
        }
        size_t old = data.size();
        data.append(buf.data(), n);
        nl = data.find('\n', old);
      }
      if (nl == std::string::npos && !eof) break;  // a line beyond 64 MiB: stop sampling this file
      size_t line_end = nl == std::string::npos ? data.size() : nl;
      std::string line = data.substr(0, line_end);
      data.erase(0, nl == std::string::npos ? data.size() : nl + 1);
      if (nl != std::string::npos) eof = false;
      uint64_t rec_bytes = line.size() + 1;
      file_bytes += rec_bytes;
      if (line.find_first_not_of(" \t\r") == std::string::npos) {
        if (eof && data.empty()) break;
        continue;
      }
      simdjson::dom::element rec;
      if (parser.parse(line).get(rec) || !rec.is_object()) {
        ++s.bad_lines;
        continue;
      }
      ++s.records;
      s.sampled_bytes += rec_bytes;
      s.max_record_bytes = std::max(s.max_record_bytes, rec_bytes);
      sum += static_cast<double>(rec_bytes);
      sum_sq += static_cast<double>(rec_bytes) * static_cast<double>(rec_bytes);
      bool has[4] = {false, false, false, false};  // text image audio video
      for (const auto& k : keys.text_keys) {
        simdjson::dom::element v;
        std::string_view t;
        if (Field(rec, k, v) && !v.get(t)) {
          text_bytes += static_cast<double>(t.size());
          text_chars += static_cast<double>(CodePoints(t));
          has[0] = has[0] || !t.empty();
        }
      }
      const std::string* media[3] = {&keys.image_key, &keys.audio_key, &keys.video_key};
      for (int m = 0; m < 3; ++m) {
        simdjson::dom::element v;
        if (!Field(rec, *media[m], v)) continue;
        uint64_t n = CountItems(v);
        items[m] += n;
        has[m + 1] = n > 0;
      }
      int kinds = has[0] + has[1] + has[2] + has[3];
      Modality mod = kinds > 1 ? Modality::kMultimodal : has[1] ? Modality::kImage : has[2] ? Modality::kAudio
                                                     : has[3] ? Modality::kVideo : Modality::kText;
      ++s.records_by_modality[static_cast<int>(mod)];
      if (eof && data.empty()) break;
    }
  }
  if (s.records > 0) {
    double n = static_cast<double>(s.records);
    s.mean_record_bytes = sum / n;
    double var = std::max(0.0, sum_sq / n - s.mean_record_bytes * s.mean_record_bytes);
    s.record_bytes_cv = s.mean_record_bytes > 0 ? std::sqrt(var) / s.mean_record_bytes : 0;
    s.mean_text_bytes = text_bytes / n;
    s.mean_text_chars = text_chars / n;
    s.images_per_record = static_cast<double>(items[0]) / n;
    s.audios_per_record = static_cast<double>(items[1]) / n;
    s.videos_per_record = static_cast<double>(items[2]) / n;
    s.media_bytes_per_record = s.images_per_record * static_cast<double>(ProfileOf(Modality::kImage).memory_per_item) +
                               s.audios_per_record * static_cast<double>(ProfileOf(Modality::kAudio).memory_per_item) +
                               s.videos_per_record * static_cast<double>(ProfileOf(Modality::kVideo).memory_per_item);
  }
  // Most frequent modality; a tie goes to the heavier one (the safer guess for memory).
  int best = 0;
  for (int m = 1; m < kModalityCount; ++m)
    if (s.records_by_modality[m] >= s.records_by_modality[best] && s.records_by_modality[m] > 0) best = m;
  s.modality = static_cast<Modality>(best);
  // Sizing: the smallest record cap among the modalities present, so one video-heavy shard bounds all.
  int64_t cap = 0;
  for (int m = 0; m < kModalityCount; ++m) {
    int64_t c = kProfiles[m].max_records;
    if (s.records_by_modality[m] > 0 && c > 0 && (cap == 0 || c < cap)) {
      cap = c;
      s.sizing_modality = static_cast<Modality>(m);
    }
  }
  return s;
}

void InputSample::ToJson(JsonWriter& w) const {
  w.BeginObject().Field("files", files).Field("total_bytes", total_bytes).Field("plain_bytes", plain_bytes);
  w.Field("compressed_files", compressed_files).Field("files_sampled", files_sampled).Field("records_sampled", records);
  w.Field("bad_lines", bad_lines).Field("sampled_bytes", sampled_bytes).Field("mean_record_bytes", mean_record_bytes);
  w.Field("record_bytes_cv", record_bytes_cv).Field("max_record_bytes", max_record_bytes);
  w.Field("mean_text_bytes", mean_text_bytes).Field("mean_text_chars", mean_text_chars);
  w.Field("images_per_record", images_per_record).Field("audios_per_record", audios_per_record);
  w.Field("videos_per_record", videos_per_record).Field("media_memory_bytes_per_record", media_bytes_per_record);
  w.Key("records_by_modality").BeginObject();
  for (int m = 0; m < kModalityCount; ++m) w.Field(ModalityName(static_cast<Modality>(m)), records_by_modality[m]);
  w.EndObject().Field("modality", ModalityName(modality)).Field("sizing_modality", ModalityName(sizing_modality)).EndObject();
}

AutoDecision Decide(const Resources& res, const InputSample& s, const AutoRequest& req) {
  AutoDecision d;
  const double r = s.records > 0 ? s.mean_record_bytes : kDefaultRecordBytes;
  if (s.records == 0) d.notes.push_back(fmt::format("no record could be sampled: {} bytes per record assumed", kDefaultRecordBytes));
  const ModalityProfile& prof = ProfileOf(s.sizing_modality);
  d.expansion = kJournalCopies + s.media_bytes_per_record / r;
  d.memory_budget = static_cast<uint64_t>(static_cast<double>(res.usable_memory) * kMemoryFraction);
  const double budget = static_cast<double>(d.memory_budget);
  const int cpus = std::max(1, res.usable_cpus);
  auto worker_cost = [&](double part) { return static_cast<double>(kWorkerOverheadBytes) + d.expansion * part; };
  // The most workers whose partitions of `part` bytes fit the budget together (at least one).
  auto workers_fitting = [&](double part) { return std::max(1, static_cast<int>(std::floor(budget / worker_cost(part)))); };
  const double min_part = std::min(static_cast<double>(kMinPartitionBytes), static_cast<double>(kMinPartitionRecords) * r);
  const int64_t cap = req.partition_records > 0 ? req.partition_records : prof.max_records;
  auto partitions_at = [&](double part) {
    double eff = cap > 0 ? std::min(part, static_cast<double>(cap) * r) : part;
    uint64_t n = s.plain_bytes > 0 ? static_cast<uint64_t>(std::ceil(static_cast<double>(s.plain_bytes) / std::max(1.0, eff))) : 0;
    return n + s.compressed_files;
  };
  // Partition bytes are a whole number of 1/16 MiB, so the MiB value in the plan settings is exact.
  auto round_part = [](double bytes) { return std::max(1.0, std::floor(bytes / (kMiB / 16))) * (kMiB / 16); };

  // --- recommendation: what auto-configuration alone picks ---
  std::string w_why, p_why;
  int rec_workers = std::min(cpus, workers_fitting(min_part));
  w_why = fmt::format("{} usable CPU(s)", cpus);
  if (rec_workers < cpus)
    w_why += fmt::format("; the memory budget ({} MiB) holds {} worker(s) at the smallest useful partition ({:.2f} MiB, expansion {:.2f})",
                         d.memory_budget / kMiB, rec_workers, min_part / kMiB, d.expansion);
  double rec_part = static_cast<double>(kTargetPartitionBytes);
  p_why = "the 64 MiB target";
  double fit = (budget / rec_workers - static_cast<double>(kWorkerOverheadBytes)) / d.expansion;
  if (fit < rec_part) {
    rec_part = std::max(fit, min_part);
    p_why = fmt::format("memory: ({} MiB budget / {} worker(s) - {} MiB overhead) / expansion {:.2f}", d.memory_budget / kMiB,
                        rec_workers, kWorkerOverheadBytes / kMiB, d.expansion);
    if (fit < min_part) {
      d.notes.push_back("the memory budget is below one worker's need at the smallest useful partition; expect swapping or an OOM kill");
      p_why += " (below the smallest useful partition; that is used)";
    }
  }
  if (s.plain_bytes > 0 && partitions_at(rec_part) < static_cast<uint64_t>(rec_workers)) {
    double spread = std::max(min_part, std::ceil(static_cast<double>(s.plain_bytes) / rec_workers));
    if (spread < rec_part) {
      rec_part = spread;
      p_why = fmt::format("input of {} bytes spread over {} worker(s), at least {:.0f} bytes (the smallest useful partition)",
                          s.plain_bytes, rec_workers, min_part);
    }
  }
  rec_part = round_part(rec_part);

  // --- the chosen values: explicit settings and the stored plan win ---
  double part = rec_part;
  Source part_src = req.enabled ? Source::kAuto : req.size_source;
  std::string part_reason;
  if (req.stored_max_partition_bytes) {
    part = static_cast<double>(*req.stored_max_partition_bytes);
    part_src = Source::kStoredPlan;
    part_reason = fmt::format("resumed job: the stored plan's {} partitions are kept (largest {} bytes)", req.stored_partitions, part);
  } else if (req.partition_count > 0) {
    part = std::ceil(static_cast<double>(s.total_bytes) / static_cast<double>(req.partition_count));
    part_src = Source::kRecipe;
    part_reason = fmt::format("partition.mode manual with num_of_partitions {}: about {} bytes each", req.partition_count, part);
  } else if (!req.enabled || req.size_source == Source::kRecipe || req.size_source == Source::kCommandLine) {
    part = req.max_size_mb * kMiB;
    part_src = req.size_source;
    part_reason = req.enabled ? fmt::format("partition.max_size_mb {} given ({}): kept", req.max_size_mb, SourceName(req.size_source))
                              : fmt::format("auto_configure is off: partition.max_size_mb {} ({})", req.max_size_mb, SourceName(req.size_source));
  } else {
    part_reason = p_why;
  }
  d.max_size_mb = {part / kMiB, part_src, rec_part / kMiB, part_reason};

  int workers = std::min(cpus, workers_fitting(part));
  if (part != rec_part) {
    // Workers for the size actually used.
    w_why = fmt::format("{} usable CPU(s)", cpus);
    if (workers < cpus) w_why += fmt::format("; the memory budget ({} MiB) holds {} worker(s) of {:.2f} MiB partitions", d.memory_budget / kMiB, workers, part / kMiB);
  }
  uint64_t parts = req.stored_max_partition_bytes ? req.stored_partitions : partitions_at(part);
  if (parts > 0 && parts < static_cast<uint64_t>(workers)) {
    workers = static_cast<int>(parts);
    w_why += fmt::format("; only {} partition(s)", parts);
  }
  if (req.np_source == Source::kRecipe || req.np_source == Source::kCommandLine) {
    d.np = {static_cast<double>(req.np), req.np_source, static_cast<double>(workers),
            fmt::format("np {} given ({}): kept{}", req.np, SourceName(req.np_source),
                        req.np > workers ? fmt::format("; auto-configuration would use {} ({})", workers, w_why) : "")};
  } else if (!req.enabled) {
    d.np = {static_cast<double>(req.np), req.np_source, static_cast<double>(workers), "auto_configure is off: np default"};
  } else {
    d.np = {static_cast<double>(workers), Source::kAuto, static_cast<double>(workers), w_why};
  }
  int used_workers = static_cast<int>(d.np.value);

  if (req.partition_records > 0) {
    d.partition_records = {static_cast<double>(req.partition_records), req.records_source, static_cast<double>(prof.max_records),
                           fmt::format("partition.size {} given ({}): kept", req.partition_records, SourceName(req.records_source))};
  } else if (!req.enabled || req.stored_max_partition_bytes) {
    d.partition_records = {0, req.stored_max_partition_bytes ? Source::kStoredPlan : Source::kDefault,
                           static_cast<double>(prof.max_records), req.stored_max_partition_bytes ? "resumed job: the stored plan's partitions are kept" : "auto_configure is off: no record cap"};
  } else if (prof.max_records > 0) {
    d.partition_records = {static_cast<double>(prof.max_records), Source::kAuto, static_cast<double>(prof.max_records),
                           fmt::format("{} records: the cap of {} data (per-modality table)", prof.max_records, ModalityName(s.sizing_modality))};
  } else {
    d.partition_records = {0, Source::kAuto, 0, "text: no record cap (records are streamed; the byte size bounds memory)"};
  }
  // As MakePlan cuts: without a fixed count or a record cap, the plain files' parts are added up to a multiple
  // of the workers while parts stay at least kMinRoundingPart (compressed files are one part each).
  if (!req.stored_max_partition_bytes && req.partition_count <= 0 && d.partition_records.value <= 0 && s.plain_bytes > 0 &&
      used_workers > 1) {
    uint64_t plain_parts = parts - s.compressed_files;
    while (parts % static_cast<uint64_t>(used_workers) != 0 && s.plain_bytes / (plain_parts + 1) >= kMinRoundingPart) ++plain_parts, ++parts;
  }
  d.estimated_partitions = parts;
  double eff = d.partition_records.value > 0 ? std::min(part, d.partition_records.value * r) : part;
  d.worker_memory = static_cast<uint64_t>(worker_cost(eff));
  if (static_cast<double>(d.worker_memory) * used_workers > budget && used_workers > 1)
    d.notes.push_back(fmt::format("{} worker(s) x {} MiB exceed the memory budget of {} MiB", used_workers, d.worker_memory / kMiB,
                                  d.memory_budget / kMiB));
  if (s.compressed_files > 0)
    d.notes.push_back(fmt::format("{} compressed input file(s): each is one partition whatever the size (a compressed stream "
                                  "cannot be entered in the middle); shard them or use plain JSONL to control partition size",
                                  s.compressed_files));
  if (s.max_record_bytes > part)
    d.notes.push_back(fmt::format("the largest sampled record ({} bytes) exceeds the partition size: such a partition holds one record",
                                  s.max_record_bytes));
  d.gpu_reason = res.gpus.devices.empty()
                     ? (res.gpus.error.empty() ? std::string("no GPUs: NVML reports none") : res.gpus.error)
                     : fmt::format("{} GPU(s) detected, {} visible; no sluice op runs on a GPU, so they do not bound the workers",
                                   res.gpus.devices.size(), res.gpus.visible);
  return d;
}

std::string AutoConfigJson(const Resources& res, const InputSample& s, const AutoRequest& req, const AutoDecision& d,
                           const std::function<void(JsonWriter&)>& extra) {
  JsonWriter w;
  w.BeginObject().Field("format", "sluice-resource-plan-1").Field("auto_configure", req.enabled);
  w.Key("resources");
  res.ToJson(w);
  w.Key("sample");
  s.ToJson(w);
  auto choice = [&](const char* key, const Choice& c) {
    // Whole numbers print as integers (np, records, MiB), so readers need not compare 4.0 with 4.
    auto num = [&](const char* k, double v) {
      if (v == std::floor(v) && std::fabs(v) < 1e15) w.Field(k, static_cast<int64_t>(v));
      else w.Field(k, v);
    };
    w.Key(key).BeginObject();
    num("value", c.value);
    w.Field("source", SourceName(c.source));
    num("recommended", c.recommended);
    w.Field("reason", c.reason).EndObject();
  };
  w.Key("decision").BeginObject();
  choice("np", d.np);
  choice("partition_max_size_mb", d.max_size_mb);
  choice("partition_size", d.partition_records);
  w.Field("estimated_partitions", d.estimated_partitions).Field("memory_budget_bytes", d.memory_budget);
  w.Field("memory_expansion", d.expansion).Field("worker_memory_bytes", d.worker_memory).Field("gpu", d.gpu_reason);
  w.Key("notes").BeginArray();
  for (const auto& n : d.notes) w.String(n);
  w.EndArray().EndObject();
  w.Key("constants").BeginObject().Field("target_partition_bytes", kTargetPartitionBytes).Field("memory_fraction", kMemoryFraction);
  w.Field("worker_overhead_bytes", kWorkerOverheadBytes).Field("journal_copies", kJournalCopies);
  w.Field("min_partition_bytes", kMinPartitionBytes).Field("min_partition_records", kMinPartitionRecords);
  w.Key("modalities").BeginObject();
  for (const auto& p : kProfiles)
    w.Key(ModalityName(p.modality)).BeginObject().Field("memory_per_item_bytes", p.memory_per_item).Field("max_records", p.max_records).EndObject();
  w.EndObject().EndObject();
  if (extra) extra(w);
  w.EndObject();
  return w.Take();
}

}  // namespace sluice
