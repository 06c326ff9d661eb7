#include "engine/trace.h"

#include <algorithm>
#include <charconv>

#include "core/error.h"
#include "core/json_writer.h"
#include "io/atomic_file.h"
#include "io/codec.h"
#include "io/line_reader.h"

namespace sluice {

void WriteSegmentTrace(Env* env, const std::string& path, const Pipeline& pipeline, const OpChain& chain, size_t b,
                       size_t e) {
  std::string out;
  for (size_t i = b; i < e; ++i) {
    if (!pipeline.traced[i]) continue;
    for (const auto& entry : chain.trace(i)) {
      out += std::to_string(i);
      out += '\t';
      out += entry;
      out += '\n';
    }
  }
  WriteFileAtomic(env, path, out);
}

void ReadSegmentTrace(Env* env, const std::string& path, size_t op, size_t limit, std::vector<std::string>& out) {
  if (out.size() >= limit) return;
  LineReader reader(OpenWholeFile(env, path), 0);
  std::string_view line;
  while (out.size() < limit && reader.Next(line)) {
    size_t tab = line.find('\t');
    size_t i = 0;
    auto [ptr, ec] = std::from_chars(line.data(), line.data() + std::min(tab, line.size()), i);
    if (tab == std::string_view::npos || ec != std::errc() || ptr != line.data() + tab)
      Fail(ErrorKind::kInput, "'{}':{}: not a trace line", path, reader.line_number());
    if (i == op) out.emplace_back(line.substr(tab + 1));
  }
}

void DuplicatePairs::Add(uint64_t dropped, uint64_t kept) {
  auto it = by_kept_.find(kept);
  if (it != by_kept_.end()) {
    it->second = std::min(it->second, dropped);
    return;
  }
  if (by_kept_.size() == limit_) {
    if (limit_ == 0 || kept > by_kept_.rbegin()->first) return;
    by_kept_.erase(std::prev(by_kept_.end()));
  }
  by_kept_.emplace(kept, dropped);
}

std::vector<std::string> ReadRows(Env* env, const std::vector<std::string>& files, const std::vector<uint64_t>& counts,
                                  const std::vector<uint64_t>& indices) {
  std::vector<std::string> rows;
  rows.reserve(indices.size());
  size_t next = 0;
  uint64_t base = 0;
  for (size_t f = 0; f < files.size() && next < indices.size(); base += counts[f], ++f) {
    if (indices[next] >= base + counts[f]) continue;
    LineReader reader(OpenWholeFile(env, files[f]), 0);
    std::string_view line;
    uint64_t row = base;
    while (next < indices.size() && indices[next] < base + counts[f] && reader.Next(line)) {
      if (row++ == indices[next]) {
        rows.emplace_back(line);
        ++next;
      }
    }
  }
  if (rows.size() != indices.size())
    Fail(ErrorKind::kInput, "tracer: {} of {} duplicate rows could not be read back from the stage output", indices.size() - rows.size(),
         indices.size());
  return rows;
}

std::vector<std::string> DuplicateEntries(Env* env, const std::vector<std::pair<uint64_t, uint64_t>>& pairs,
                                          const std::vector<std::string>& files, const std::vector<uint64_t>& counts) {
  std::vector<uint64_t> indices;
  for (const auto& [kept, dropped] : pairs) {
    indices.push_back(kept);
    indices.push_back(dropped);
  }
  std::sort(indices.begin(), indices.end());
  indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
  std::vector<std::string> rows = ReadRows(env, files, counts, indices);
  auto row = [&](uint64_t i) -> const std::string& {
    return rows[static_cast<size_t>(std::lower_bound(indices.begin(), indices.end(), i) - indices.begin())];
  };
  std::vector<std::string> entries;
  for (const auto& [kept, dropped] : pairs) {
    JsonWriter w;
    w.BeginObject().Key("dup1").Raw(row(kept)).Key("dup2").Raw(row(dropped)).EndObject();
    entries.push_back(w.Take());
  }
  return entries;
}

std::string TraceFileName(const Pipeline& pipeline, size_t i) {
  const OpDef& def = *pipeline.ops[i].def;
  const char* kind = def.kind == OpKind::kMapper ? "mapper" : def.kind == OpKind::kFilter ? "filter" : "duplicate";
  size_t same = 0;
  for (const auto& r : pipeline.ops) same += r.def == &def;
  return same > 1 ? fmt::format("{}-{}-{}.jsonl", kind, def.name, i) : fmt::format("{}-{}.jsonl", kind, def.name);
}

}  // namespace sluice
