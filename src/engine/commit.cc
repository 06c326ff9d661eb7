#include "engine/commit.h"

// Inlined, so the checksum of every committed byte uses this build's vector width (-march), not the
// baseline the shared library was compiled for.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <filesystem>

#include <fmt/format.h>
#include <simdjson.h>

#include "core/error.h"
#include "core/fault_injection.h"
#include "core/json_writer.h"

namespace sluice {

std::string ManifestPath(const std::string& data_path) { return data_path + ".manifest.json"; }

std::string StatsSidePath(const std::string& data_path) {
  size_t name = data_path.rfind('/');
  name = name == std::string::npos ? 0 : name + 1;
  size_t at = data_path.rfind(".jsonl");
  if (at == std::string::npos || at < name) return data_path + "_stats.jsonl";
  return data_path.substr(0, at) + "_stats" + data_path.substr(at);
}

namespace {

// The stem and suffix of the export's file name for its shards: split at the first '.'.
std::pair<std::string, std::string> ShardStemAndSuffix(const std::string& export_path) {
  std::string name = std::filesystem::path(export_path).filename().string();
  size_t dot = name.find('.');
  return {name.substr(0, dot), dot == std::string::npos ? "" : name.substr(dot)};
}

}  // namespace

std::string ExportShardPath(const std::string& export_path, uint64_t shard, uint64_t n) {
  auto [stem, suffix] = ShardStemAndSuffix(export_path);
  int width = static_cast<int>(std::to_string(n).size()) + 1;
  return (std::filesystem::path(export_path).parent_path() /
          fmt::format("{}-{:0{}d}-of-{:0{}d}{}", stem, shard, width, n, width, suffix)).string();
}

bool IsExportShardName(const std::string& export_path, std::string_view name) {
  auto [stem, suffix] = ShardStemAndSuffix(export_path);
  if (!name.starts_with(stem + "-") || !name.ends_with(suffix) || name.size() <= stem.size() + 1 + suffix.size()) return false;
  std::string_view numbers = name.substr(stem.size() + 1, name.size() - stem.size() - 1 - suffix.size());
  size_t of = numbers.find("-of-");
  auto digits = [](std::string_view v) { return !v.empty() && v.find_first_not_of("0123456789") == std::string_view::npos; };
  return of != std::string_view::npos && digits(numbers.substr(0, of)) && digits(numbers.substr(of + 4));
}

StreamHash::StreamHash() : state_(XXH3_createState()) { XXH3_64bits_reset(static_cast<XXH3_state_t*>(state_)); }
StreamHash::~StreamHash() { XXH3_freeState(static_cast<XXH3_state_t*>(state_)); }
void StreamHash::Update(std::string_view d) {
  XXH3_64bits_update(static_cast<XXH3_state_t*>(state_), d.data(), d.size());
  bytes_ += d.size();
}
uint64_t StreamHash::digest() const { return XXH3_64bits_digest(static_cast<XXH3_state_t*>(state_)); }

uint64_t HashFileRange(Env* env, const std::string& path, uint64_t offset, uint64_t length) {
  StreamHash h;
  std::string buf(4 << 20, '\0');
  while (length > 0) {
    size_t n = env->ReadAt(path, offset, std::min<uint64_t>(buf.size(), length), buf.data());
    if (n == 0) break;
    h.Update(std::string_view(buf.data(), n));
    offset += n;
    length -= n;
  }
  return h.digest();
}

void WriteManifest(Env* env, const std::string& data_path, const std::string& recipe_hash, const Manifest& m) {
  const Counters& c = m.counters;
  JsonWriter w;
  w.BeginObject().Field("format", "sluice-manifest-1").Field("recipe_hash", recipe_hash);
  w.Field("file", std::filesystem::path(data_path).filename().string()).Field("file_bytes", m.file_bytes);
  if (m.export_offset) w.Field("export_offset", *m.export_offset);
  w.Field("xxh3", fmt::format("{:016x}", m.xxh3)).Field("raw_bytes", m.raw_bytes);
  if (m.side) {
    w.Key("side").BeginObject().Field("file_bytes", m.side->file_bytes).Field("xxh3", fmt::format("{:016x}", m.side->xxh3));
    w.Field("raw_bytes", m.side->raw_bytes);
    if (m.side->offset) w.Field("offset", *m.side->offset);
    w.Field("side_rows", c.side_rows).EndObject();
  }
  w.Field("rows", c.rows).Field("rows_in", c.rows_in).Field("bad_records", c.bad).Field("null_text", c.null_text);
  w.Key("ops").BeginArray();
  for (const auto& o : c.ops) w.BeginArray().Uint(o.in).Uint(o.out).Uint(o.errors).EndArray();
  w.EndArray().EndObject();
  WriteFileAtomic(env, ManifestPath(data_path), w.Take() + "\n");
}

ManifestState ReadManifest(Env* env, const std::string& data_path, const std::string& recipe_hash, size_t n_ops,
                           Manifest* m, std::string* why) {
  std::string mpath = ManifestPath(data_path);
  if (!env->FileExists(mpath)) return ManifestState::kAbsent;
  std::string json = ReadFile(env, mpath);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view sv;
  auto corrupt = [&](std::string reason) {
    *why = std::move(reason);
    return ManifestState::kCorrupt;
  };
  *m = Manifest{};
  if (parser.parse(json).get(root)) return corrupt("manifest is not valid JSON");
  if (root["recipe_hash"].get(sv) || sv != recipe_hash) return corrupt("manifest belongs to another recipe");
  if (root["file_bytes"].get(m->file_bytes) || root["raw_bytes"].get(m->raw_bytes) || root["xxh3"].get(sv))
    return corrupt("manifest is incomplete");
  m->xxh3 = std::stoull(std::string(sv), nullptr, 16);
  uint64_t offset = 0;
  if (!root["export_offset"].get(offset)) m->export_offset = offset;
  auto& c = m->counters;
  simdjson::dom::object side;
  if (!root["side"].get(side)) {
    SideManifest sm;
    if (side["file_bytes"].get(sm.file_bytes) || side["raw_bytes"].get(sm.raw_bytes) || side["xxh3"].get(sv) ||
        side["side_rows"].get(c.side_rows))
      return corrupt("manifest side part is incomplete");
    sm.xxh3 = std::stoull(std::string(sv), nullptr, 16);
    if (!side["offset"].get(offset)) sm.offset = offset;
    if (sm.offset.has_value() != m->export_offset.has_value()) return corrupt("manifest side part is inconsistent");
    m->side = sm;
  }
  if (root["rows"].get(c.rows) || root["rows_in"].get(c.rows_in) || root["bad_records"].get(c.bad) ||
      root["null_text"].get(c.null_text))
    return corrupt("manifest is incomplete");
  simdjson::dom::array ops;
  if (root["ops"].get(ops) || ops.size() != n_ops) return corrupt("manifest op counters do not match the recipe");
  for (auto o : ops) {
    OpCounters oc;
    if (o.at(0).get(oc.in) || o.at(1).get(oc.out) || o.at(2).get(oc.errors)) return corrupt("bad op counters");
    c.ops.push_back(oc);
  }
  return ManifestState::kValid;
}

ManifestState LoadManifest(Env* env, const std::string& data_path, const std::string& recipe_hash, size_t n_ops,
                           bool verify_data, Manifest* m, std::string* why) {
  ManifestState s = ReadManifest(env, data_path, recipe_hash, n_ops, m, why);
  if (s != ManifestState::kValid) return s;
  auto corrupt = [&](std::string reason) {
    *why = std::move(reason);
    return ManifestState::kCorrupt;
  };
  if (m->export_offset) return corrupt("manifest points into the export journal, not to a file of its own");
  if (!env->FileExists(data_path)) return corrupt("data file is missing");
  uint64_t size = env->FileSize(data_path);
  if (size != m->file_bytes) return corrupt(fmt::format("data file has {} bytes, manifest says {}", size, m->file_bytes));
  if (verify_data && HashFileRange(env, data_path, 0, size) != m->xxh3) return corrupt("data file checksum mismatch");
  if (m->side) {
    std::string side = StatsSidePath(data_path);
    if (!env->FileExists(side)) return corrupt("side file is missing");
    uint64_t n = env->FileSize(side);
    if (n != m->side->file_bytes) return corrupt(fmt::format("side file has {} bytes, manifest says {}", n, m->side->file_bytes));
    if (verify_data && HashFileRange(env, side, 0, n) != m->side->xxh3) return corrupt("side file checksum mismatch");
  }
  return ManifestState::kValid;
}

// Forwards to the temporary file and hashes what passes.
class CommittedFile::Hashing : public WritableFile {
 public:
  explicit Hashing(WritableFile& f) : f_(f) {}
  void Append(std::string_view d) override {
    hash.Update(d);
    f_.Append(d);
  }
  void Sync() override { f_.Sync(); }
  void Close() override { f_.Close(); }
  StreamHash hash;

 private:
  WritableFile& f_;
};

// The background thread's end of CommittedFile's queue: compresses into the hashing file. Commit flushes
// the queue and syncs the file itself, so Sync and Close have nothing to do here.
class CommittedFile::Compressing : public WritableFile {
 public:
  explicit Compressing(CompressedWriter& w) : w_(w) {}
  void Append(std::string_view d) override { w_.Write(d); }
  void Sync() override {}
  void Close() override {}

 private:
  CompressedWriter& w_;
};

struct CommittedFile::Side {
  Side(Env* env, const std::string& path, Codec codec, int level)
      : file(env, path), hashing(file.file()), writer(hashing, codec, level) {}
  AtomicFile file;
  Hashing hashing;
  CompressedWriter writer;
};

CommittedFile::CommittedFile(Env* env, std::string path, Codec codec, const std::string& recipe_hash, int level, bool side)
    : env_(env), path_(std::move(path)), recipe_hash_(recipe_hash), file_(env, path_),
      hashing_(std::make_unique<Hashing>(file_.file())),
      writer_(std::make_unique<CompressedWriter>(*hashing_, codec, level)),
      async_(std::make_unique<AsyncWritableFile>(std::make_unique<Compressing>(*writer_))),
      side_(side ? std::make_unique<Side>(env, StatsSidePath(path_), codec, level) : nullptr) {}

CommittedFile::~CommittedFile() = default;

void CommittedFile::Write(std::string_view d) { async_->Append(d); }

void CommittedFile::WriteSide(std::string_view d) {
  if (!side_) Fail(ErrorKind::kInternal, "'{}' has no side file", path_);
  side_->writer.Write(d);
}

void CommittedFile::Commit(const Counters& c, std::string_view crash_point) {
  async_->Flush();
  writer_->Finish();
  if (side_) side_->writer.Finish();
  CrashPoint(crash_point);
  if (side_) side_->file.Commit();
  file_.Commit();
  CrashPoint("manifest_commit");
  manifest_.file_bytes = hashing_->hash.bytes();
  manifest_.xxh3 = hashing_->hash.digest();
  manifest_.raw_bytes = writer_->raw_bytes();
  if (side_) manifest_.side = SideManifest{side_->hashing.hash.bytes(), side_->hashing.hash.digest(), side_->writer.raw_bytes(), {}};
  manifest_.counters = c;
  WriteManifest(env_, path_, recipe_hash_, manifest_);
}

}  // namespace sluice
