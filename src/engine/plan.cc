#include "engine/plan.h"

#include <xxhash.h>

#include <algorithm>
#include <cmath>

#include <simdjson.h>

#include "core/error.h"
#include "core/json_writer.h"
#include "io/codec.h"
#include "ops/text/model_files.h"
#include <cstring>

namespace sluice {

std::vector<Stage> MakeStages(const Pipeline& pipeline) {
  std::vector<Stage> stages;
  Stage cur;
  for (size_t i = 0; i < pipeline.ops.size(); ++i) {
    if (IsDatasetLevel(pipeline.ops[i].def->kind)) {  // a deduplicator or a selector
      cur.op_end = i + 1;
      cur.barrier = true;
      stages.push_back(cur);
      cur = Stage{i + 1, i + 1, false};
    }
  }
  // The last stage is never a barrier: after a recipe's final deduplicator an empty stage applies its
  // decision and writes the results.
  cur.op_end = pipeline.ops.size();
  stages.push_back(cur);
  return stages;
}

Plan MakePlanHeader(const Recipe& recipe, const Pipeline& pipeline, std::vector<InputFile> files) {
  Plan p;
  p.settings = recipe.OutputSettings();
  // The model files the ops resolved when the pipeline was built: part of what the output depends on.
  for (const auto& path : text::ResolvedModelFiles()) {
    std::string key = text::ModelFileKey(path);  // canonical path \n size \n mtime
    size_t a = key.find('\n'), b = key.find('\n', a + 1);
    std::string value;
    AppendJsonString(value, fmt::format("{} bytes, modified {}", key.substr(a + 1, b - a - 1), key.substr(b + 1)));
    p.settings.emplace_back("model_file:" + key.substr(0, a), value);
  }
  for (const auto& op : pipeline.ops) p.ops.push_back(op.canonical);
  p.files = std::move(files);
  std::string canon;
  for (const auto& [k, v] : p.settings) canon += k + "=" + v + "\n";
  for (const auto& o : p.ops) canon += o + "\n";
  XXH128_hash_t h = XXH3_128bits(canon.data(), canon.size());
  p.recipe_hash = fmt::format("{:016x}{:016x}", h.high64, h.low64);
  return p;
}

// Offset of the first byte after the first '\n' at or after `pos` (or the file size).
static uint64_t NextLineStart(Env* env, const std::string& path, uint64_t pos, uint64_t size) {
  std::string buf(64 << 10, '\0');
  while (pos < size) {
    size_t n = env->ReadAt(path, pos, buf.size(), buf.data());
    if (n == 0) break;
    const void* nl = std::memchr(buf.data(), '\n', n);
    if (nl != nullptr) return pos + static_cast<uint64_t>(static_cast<const char*>(nl) - buf.data()) + 1;
    pos += n;
  }
  return size;
}

Plan MakePlan(Env* env, const Recipe& recipe, const Pipeline& pipeline, std::vector<InputFile> files, int workers) {
  Plan p = MakePlanHeader(recipe, pipeline, std::move(files));
  p.created_at = env->NowSeconds();
  uint64_t target = static_cast<uint64_t>(recipe.partition_max_size_mb * 1024 * 1024);
  if (recipe.partition_count > 0) {
    uint64_t total = 0;
    for (const auto& f : p.files) total += f.size;
    target = std::max<uint64_t>(1, (total + recipe.partition_count - 1) / recipe.partition_count);
  }
  target = std::max<uint64_t>(target, 1);
  // Parts per plain file, cut by bytes: the fewest of at most `target` bytes, all of one size (cutting every
  // `target` bytes would leave a runt last part: 100 MB at np 2 was 64 + 36 MB, one worker idle while the
  // other finished). Unless the recipe fixes the partition count, the total is then rounded up to a multiple
  // of the worker count, the extra parts going to the files with the largest parts, so the workers' last rounds end together
  // (not below kMinRoundingPart: a small input is done at once however it is cut, and a part costs files).
  const bool by_bytes = recipe.partition_records <= 0;
  std::vector<uint64_t> parts(p.files.size(), 0);
  uint64_t total_parts = 0;
  for (size_t fi = 0; fi < p.files.size(); ++fi) {
    const InputFile& f = p.files[fi];
    if (f.size == 0) continue;
    bool splittable = by_bytes && CodecForPath(f.path) == Codec::kNone;
    parts[fi] = splittable ? (f.size + target - 1) / target : 0;
    total_parts += splittable ? parts[fi] : 1;
  }
  const uint64_t np = static_cast<uint64_t>(std::max(workers, 1));
  if (recipe.partition_count <= 0 && total_parts % np != 0) {
    for (uint64_t extra = np - total_parts % np; extra > 0; --extra) {
      size_t best = p.files.size();
      for (size_t fi = 0; fi < p.files.size(); ++fi) {  // the largest part: f.size / parts, compared exactly
        if (parts[fi] == 0 || p.files[fi].size / (parts[fi] + 1) < kMinRoundingPart) continue;
        if (best == p.files.size() ||
            static_cast<unsigned __int128>(p.files[fi].size) * parts[best] > static_cast<unsigned __int128>(p.files[best].size) * parts[fi])
          best = fi;
      }
      if (best == p.files.size()) break;  // nothing left to split
      ++parts[best];
    }
  }
  for (uint32_t fi = 0; fi < p.files.size(); ++fi) {
    const InputFile& f = p.files[fi];
    if (f.size == 0) continue;
    if (CodecForPath(f.path) != Codec::kNone) {
      p.partitions.push_back({fi, 0, f.size});
      continue;
    }
    if (!by_bytes) {
      // Count lines: cut every `partition_records` lines, or earlier at the byte limit.
      std::string buf(4 << 20, '\0');
      uint64_t pos = 0, start = 0, lines = 0;
      while (pos < f.size) {
        size_t n = env->ReadAt(f.path, pos, buf.size(), buf.data());
        if (n == 0) break;
        const char* b = buf.data();
        const char* e = b + n;
        while (true) {
          const char* nl = static_cast<const char*>(std::memchr(b, '\n', static_cast<size_t>(e - b)));
          if (nl == nullptr) break;
          uint64_t line_end = pos + static_cast<uint64_t>(nl - buf.data()) + 1;
          ++lines;
          if (lines >= static_cast<uint64_t>(recipe.partition_records) || line_end - start >= target) {
            p.partitions.push_back({fi, start, line_end});
            start = line_end;
            lines = 0;
          }
          b = nl + 1;
        }
        pos += n;
      }
      if (start < f.size) p.partitions.push_back({fi, start, f.size});
      continue;
    }
    // Each cut moves to the next line start (a line longer than a part merges cuts: fewer, longer parts).
    const uint64_t step = (f.size + parts[fi] - 1) / parts[fi];
    uint64_t start = 0;
    for (uint64_t i = 1; start < f.size; ++i) {
      uint64_t end = i >= parts[fi] ? f.size : NextLineStart(env, f.path, std::max(start, i * step - 1), f.size);
      p.partitions.push_back({fi, start, end});
      start = end;
    }
  }
  return p;
}

std::string Plan::ToJson() const {
  JsonWriter w;
  w.BeginObject().Field("format", "sluice-plan-1").Field("recipe_hash", recipe_hash).Field("created_at", created_at);
  w.Key("settings").BeginObject();
  for (const auto& [k, v] : settings) w.Key(k).Raw(v);
  w.EndObject();
  w.Key("ops").BeginArray();
  for (const auto& o : ops) w.Raw(o);
  w.EndArray();
  w.Key("files").BeginArray();
  for (const auto& f : files) {
    w.BeginObject().Field("path", f.path).Field("size", f.size).Field("mtime_ns", f.mtime_ns);
    w.Field("sample_hash", fmt::format("{:016x}", f.sample_hash)).EndObject();
  }
  w.EndArray();
  w.Key("partitions").BeginArray();
  for (size_t i = 0; i < partitions.size(); ++i) {
    const auto& r = partitions[i];
    w.BeginObject().Field("partition_id", static_cast<uint64_t>(i)).Field("file", static_cast<uint64_t>(r.file));
    w.Field("begin", r.begin).Field("end", r.end).EndObject();
  }
  w.EndArray().EndObject();
  return w.Take() + "\n";
}

Plan Plan::FromJson(const std::string& json, const std::string& path) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  auto bad = [&](const char* what) { Fail(ErrorKind::kState, "job plan '{}' is damaged ({})", path, what); };
  if (parser.parse(json).get(root)) bad("not JSON");
  Plan p;
  std::string_view sv;
  if (root["format"].get(sv) || sv != "sluice-plan-1") bad("unknown format");
  if (root["recipe_hash"].get(sv)) bad("recipe_hash");
  p.recipe_hash = std::string(sv);
  double created = 0;
  if (!root["created_at"].get(created)) p.created_at = created;
  simdjson::dom::object settings;
  if (root["settings"].get(settings)) bad("settings");
  for (auto [k, v] : settings) p.settings.emplace_back(std::string(k), simdjson::minify(v));
  simdjson::dom::array ops;
  if (root["ops"].get(ops)) bad("ops");
  for (auto o : ops) p.ops.push_back(simdjson::minify(o));
  simdjson::dom::array files;
  if (root["files"].get(files)) bad("files");
  for (auto f : files) {
    InputFile in;
    uint64_t u;
    int64_t i;
    if (f["path"].get(sv)) bad("file path");
    in.path = std::string(sv);
    if (f["size"].get(u)) bad("file size");
    in.size = u;
    if (f["mtime_ns"].get(i)) bad("file mtime");
    in.mtime_ns = i;
    if (f["sample_hash"].get(sv)) bad("file hash");
    in.sample_hash = std::stoull(std::string(sv), nullptr, 16);
    p.files.push_back(std::move(in));
  }
  simdjson::dom::array parts;
  if (root["partitions"].get(parts)) bad("partitions");
  for (auto e : parts) {
    PartitionRange r;
    uint64_t u;
    if (e["file"].get(u)) bad("partition file");
    r.file = static_cast<uint32_t>(u);
    if (e["begin"].get(r.begin) || e["end"].get(r.end)) bad("partition range");
    if (r.file >= p.files.size() || r.begin > r.end) bad("partition out of range");
    p.partitions.push_back(r);
  }
  return p;
}

std::string ExplainDifference(const Plan& stored, const Plan& fresh) {
  std::string out;
  for (const auto& [k, v] : fresh.settings) {
    std::string old = "(absent)";
    for (const auto& [k2, v2] : stored.settings)
      if (k2 == k) old = v2;
    if (old == v) continue;
    if (k.rfind("model_file:", 0) == 0)
      out += fmt::format("  model file '{}' changed: {} -> {}\n", k.substr(11), old, v);
    else
      out += fmt::format("  recipe setting '{}' changed: {} -> {}\n", k, old, v);
  }
  size_t n = std::max(stored.ops.size(), fresh.ops.size());
  for (size_t i = 0; i < n; ++i) {
    std::string a = i < stored.ops.size() ? stored.ops[i] : "(none)";
    std::string b = i < fresh.ops.size() ? fresh.ops[i] : "(none)";
    if (a != b) out += fmt::format("  op #{} changed: {} -> {}\n", i, a, b);
  }
  if (stored.files.size() != fresh.files.size())
    out += fmt::format("  input file count changed: {} -> {}\n", stored.files.size(), fresh.files.size());
  for (size_t i = 0; i < std::min(stored.files.size(), fresh.files.size()); ++i) {
    const auto& a = stored.files[i];
    const auto& b = fresh.files[i];
    if (a.path != b.path)
      out += fmt::format("  input file #{} changed: {} -> {}\n", i, a.path, b.path);
    else if (a.size != b.size)
      out += fmt::format("  input '{}' changed size: {} -> {} bytes\n", a.path, a.size, b.size);
    else if (a.sample_hash != b.sample_hash)
      out += fmt::format("  input '{}' changed content\n", a.path);
    else if (a.mtime_ns != b.mtime_ns)
      out += fmt::format("  input '{}' was modified (mtime changed)\n", a.path);
  }
  return out;
}

}  // namespace sluice
