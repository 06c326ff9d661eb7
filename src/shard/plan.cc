#include "shard/plan.h"

#include <simdjson.h>

#include <algorithm>
#include <limits>

#include "core/error.h"
#include "core/json_writer.h"
#include "core/xxh3.h"
#include "shard/table.h"

namespace sluice::shard {
namespace {

std::string Hex64(uint64_t v) { return fmt::format("{:016x}", v); }

// The longest key a plan takes. A range's bounds reach its worker as {low}/{high} in the arguments and as
// SLUICE_SHARD_LOW/HIGH in the environment, and Linux refuses to exec a program with one argument or
// variable longer than 128 KiB (MAX_ARG_STRLEN, with the NUL); the 64 bytes spare are for the variable's
// name. Any key can become a bound (another --num-workers, a re-plan), so every key is checked.
constexpr size_t kMaxKeyBytes = 128 * 1024 - 64;

// Sorts and de-duplicates `keys` in place.
void Compact(std::vector<std::string>& keys) {
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
}

}  // namespace

KeyScan ScanKeys(Env* env, const std::string& path, const std::string& key_column, std::optional<KeyType> type) {
  KeyScan scan;
  Xxh3State hash = NewXxh3State();
  {
    TableReader reader(env, path, key_column, hash.get());
    size_t compacted = 0;
    while (reader.Next()) {
      if (reader.key().size() > kMaxKeyBytes)
        Fail(ErrorKind::kData,
             "{}:{}: a key of {} bytes in column '{}': at most {} bytes are possible, because the bounds of a range are given to "
             "its worker as arguments and environment variables, which Linux limits to 128 KiB each",
             path, reader.line(), reader.key().size(), key_column, kMaxKeyBytes);
      if (!type) type = ParseIntKey(reader.key()) ? KeyType::kInt : KeyType::kString;
      auto key = EncodeKey(*type, reader.key());
      if (!key)
        Fail(ErrorKind::kData,
             "{}:{}: key '{}' of column '{}' is not an integer, but the keys before it are (integer keys are "
             "ordered numerically); use --key-type string to order every key as a string (by bytes)",
             path, reader.line(), reader.key(), key_column);
      scan.keys.push_back(std::move(*key));
      ++scan.rows;
      // Duplicate keys (several rows per key) are dropped as they come, keeping memory to the distinct keys.
      if (scan.keys.size() >= 2 * compacted + (1 << 20)) {
        Compact(scan.keys);
        compacted = scan.keys.size();
      }
    }
  }
  scan.fingerprint.xxh3 = Hex64(XXH3_64bits_digest(hash.get()));
  if (scan.rows == 0) Fail(ErrorKind::kData, "{}: the table has no records (only a header or blank lines)", path);
  Compact(scan.keys);
  scan.type = *type;
  scan.fingerprint.size = env->FileSize(path);
  scan.fingerprint.mtime_ns = env->FileMtimeNs(path);
  return scan;
}

InputFingerprint FingerprintFile(Env* env, const std::string& path) {
  InputFingerprint fp;
  fp.size = env->FileSize(path);
  fp.mtime_ns = env->FileMtimeNs(path);
  auto file = env->NewRandomAccessFile(path);
  Xxh3State hash = NewXxh3State();
  std::string buf(1 << 20, '\0');
  uint64_t off = 0;
  while (size_t n = file->ReadAt(off, buf.size(), buf.data())) {
    XXH3_64bits_update(hash.get(), buf.data(), n);
    off += n;
  }
  fp.xxh3 = Hex64(XXH3_64bits_digest(hash.get()));
  return fp;
}

std::vector<ShardRange> SplitKeys(const std::vector<std::string>& keys, int n, KeyType type,
                                  const std::vector<KeyRange>& keep, int first_index) {
  // The keys no kept range covers, each with its gap: how many kept ranges lie below it.
  std::vector<const std::string*> free_keys;
  std::vector<size_t> gap;
  size_t k = 0;
  for (const auto& key : keys) {
    while (k < keep.size() && !keep[k].unbounded && keep[k].high <= key) ++k;
    if (k < keep.size() && keep[k].Contains(key)) continue;
    free_keys.push_back(&key);
    gap.push_back(k);
  }
  std::vector<ShardRange> out;
  if (free_keys.empty() || n <= 0) return out;
  size_t total = free_keys.size(), runs = std::min<size_t>(static_cast<size_t>(n), total);
  size_t base = total / runs, extra = total % runs;
  // Run starts: chunk boundaries, plus every key that opens a new gap.
  std::vector<size_t> starts;
  for (size_t c = 0, pos = 0; c < runs; pos += base + (c < extra ? 1 : 0), ++c) starts.push_back(pos);
  for (size_t i = 1; i < total; ++i)
    if (gap[i] != gap[i - 1]) starts.push_back(i);
  std::sort(starts.begin(), starts.end());
  starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
  for (size_t r = 0; r < starts.size(); ++r) {
    size_t begin = starts[r], end = r + 1 < starts.size() ? starts[r + 1] : total;
    ShardRange s;
    s.index = first_index + static_cast<int>(r);
    s.range.low = *free_keys[begin];
    s.keys = end - begin;
    size_t g = gap[begin];
    if (end < total && gap[end] == g) {
      s.range.high = *free_keys[end];
    } else if (g < keep.size()) {
      s.range.high = keep[g].low;
    } else {
      const std::string& last = *free_keys[total - 1];
      if (type == KeyType::kInt && KeyText(type, last) != std::to_string(std::numeric_limits<int64_t>::max()))
        s.range.high = *EncodeKey(type, std::to_string(std::stoll(KeyText(type, last)) + 1));
      else
        s.range.unbounded = true;
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::string Plan::ToJson() const {
  JsonWriter w;
  w.BeginObject().Field("schema_version", 1).Field("input", input).Field("key_column", key_column);
  w.Field("key_type", KeyTypeName(key_type)).Field("num_workers", num_workers);
  w.Key("fingerprint").BeginObject().Field("size", fingerprint.size).Field("mtime_ns", fingerprint.mtime_ns);
  w.Field("xxh3_64", fingerprint.xxh3).EndObject();
  w.Field("rows", rows).Field("distinct_keys", distinct_keys);
  w.Key("shards").BeginArray();
  for (const auto& s : shards) {
    w.BeginObject().Field("index", s.index).Field("low", KeyText(key_type, s.range.low));
    if (s.range.unbounded) w.Key("high").Null();
    else w.Field("high", KeyText(key_type, s.range.high));
    w.Field("keys", s.keys).EndObject();
  }
  w.EndArray().EndObject();
  return w.Take() + "\n";
}

Plan Plan::Parse(const std::string& json, const std::string& path) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  auto bad = [&](std::string_view why) { Fail(ErrorKind::kState, "{}: not a shard plan ({})", path, why); };
  if (auto err = parser.parse(simdjson::padded_string(json)).get(root)) bad(simdjson::error_message(err));
  Plan p;
  std::string_view input, key, type, hash;
  int64_t n = 0;
  simdjson::dom::element fp;
  simdjson::dom::array shards;
  if (root["input"].get(input) || root["key_column"].get(key) || root["key_type"].get(type) || root["num_workers"].get(n) ||
      root["fingerprint"].get(fp) || fp["size"].get(p.fingerprint.size) || fp["mtime_ns"].get(p.fingerprint.mtime_ns) ||
      fp["xxh3_64"].get(hash) || root["rows"].get(p.rows) || root["distinct_keys"].get(p.distinct_keys) ||
      root["shards"].get(shards))
    bad("a field is missing");
  auto kt = ParseKeyType(type);
  if (!kt) bad("unknown key_type");
  p.input = input;
  p.key_column = key;
  p.key_type = *kt;
  p.num_workers = static_cast<int>(n);
  p.fingerprint.xxh3 = hash;
  for (simdjson::dom::element e : shards) {
    ShardRange s;
    int64_t index = 0;
    std::string_view low, high;
    if (e["index"].get(index) || e["low"].get(low) || e["keys"].get(s.keys)) bad("a shard lacks index, low or keys");
    s.index = static_cast<int>(index);
    auto lo = EncodeKey(p.key_type, low);
    if (!lo) bad("a shard's low is not a key");
    s.range.low = *lo;
    if (e["high"].is_null()) {
      s.range.unbounded = true;
    } else {
      if (e["high"].get(high)) bad("a shard's high is not a key");
      auto hi = EncodeKey(p.key_type, high);
      if (!hi) bad("a shard's high is not a key");
      s.range.high = *hi;
    }
    p.shards.push_back(std::move(s));
  }
  return p;
}

}  // namespace sluice::shard
