#include "shard/merge.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <queue>

#include "core/error.h"
#include "core/fault_injection.h"
#include "core/json_writer.h"
#include "core/xxh3.h"
#include "io/atomic_file.h"
#include "shard/table.h"

namespace sluice::shard {
namespace {

struct Row {
  std::string key, record;
};

// Appends to a file through a 1 MiB buffer (WritableFile writes through).
class BufferedOut {
 public:
  explicit BufferedOut(WritableFile& f) : f_(f) {}
  void Add(std::string_view s) {
    buf_ += s;
    if (buf_.size() >= (1 << 20)) Flush();
  }
  void Flush() {
    f_.Append(buf_);
    buf_.clear();
  }

 private:
  WritableFile& f_;
  std::string buf_;
};

void AppendU32(std::string& out, uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);
  out.append(b, 4);
}

// A spilled run: rows as (u32 key length, u32 record length, key, record), sorted by key.
class RunReader {
 public:
  RunReader(Env* env, const std::string& path) : file_(env->NewRandomAccessFile(path)) {}
  bool Next(Row* row) {
    uint32_t lens[2];
    if (!Read(reinterpret_cast<char*>(lens), 8)) return false;
    row->key.resize(lens[0]);
    row->record.resize(lens[1]);
    if (!Read(row->key.data(), lens[0]) || !Read(row->record.data(), lens[1]))
      Fail(ErrorKind::kInternal, "a merge run file ended inside a row");
    return true;
  }

 private:
  bool Read(char* dst, size_t n) {
    while (n > 0) {
      if (pos_ == buf_.size()) {
        buf_.resize(1 << 20);
        buf_.resize(file_->ReadAt(offset_, buf_.size(), buf_.data()));
        offset_ += buf_.size();
        pos_ = 0;
        if (buf_.empty()) return false;
      }
      size_t k = std::min(n, buf_.size() - pos_);
      std::memcpy(dst, buf_.data() + pos_, k);
      dst += k, n -= k, pos_ += k;
    }
    return true;
  }
  std::unique_ptr<RandomAccessFile> file_;
  std::string buf_;
  size_t pos_ = 0;
  uint64_t offset_ = 0;
};

struct FileStats {
  uint64_t rows = 0, written = 0, dropped = 0;
};

// Reads one shard's result file and writes its rows, sorted and de-duplicated, to `out`.
class ShardMerger {
 public:
  ShardMerger(Env* env, const Plan& plan, const MergeOptions& opt, BufferedOut& out, std::string* header)
      : env_(env), plan_(plan), opt_(opt), out_(out), header_(header) {}

  FileStats Merge(const MergeShard& s) {
    FileStats st;
    const std::string& path = s.result->path;
    if (FormatOfPath(path) != FormatOfPath(opt_.output))
      Fail(ErrorKind::kData, "{}: not in the merged output's format ({})", path, opt_.output);
    Xxh3State hash = NewXxh3State();
    std::vector<std::string> runs;
    try {
      TableReader in(env_, path, plan_.key_column, hash.get());
      if (header_->empty() && !in.header().empty()) {
        *header_ = in.header();
        out_.Add(*header_);
        out_.Add("\n");
      } else if (in.header() != *header_) {
        Fail(ErrorKind::kData, "{}:1: the header differs from the first result file's ({} vs {})", path, in.header(), *header_);
      }
      std::vector<Row> rows;
      size_t bytes = 0;
      while (in.Next()) {
        auto key = EncodeKey(plan_.key_type, in.key());
        if (!key) Fail(ErrorKind::kData, "{}:{}: key '{}' is not an integer (the plan's keys are)", path, in.line(), in.key());
        if (!s.range.range.Contains(*key))
          Fail(ErrorKind::kData, "{}:{}: key '{}' lies outside the shard's range {}", path, in.line(), in.key(),
               RangeLabel(plan_, s.range));
        ++st.rows;
        bytes += key->size() + in.record().size() + 64;
        rows.push_back({std::move(*key), std::string(in.record())});
        if (bytes >= opt_.run_bytes) {
          runs.push_back(Spill(rows, s.range.index, runs.size()));
          bytes = 0;
        }
      }
      if (fmt::format("{:016x}", XXH3_64bits_digest(hash.get())) != s.result->xxh3)
        Fail(ErrorKind::kState, "{}: the result file changed since its shard completed; rerun to run the shard again", path);
      if (runs.empty()) {
        std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.key < b.key; });
        for (const auto& r : rows) Emit(r, st);
      } else {
        if (!rows.empty()) runs.push_back(Spill(rows, s.range.index, runs.size()));
        MergeRuns(runs, st);
      }
    } catch (...) {
      for (const auto& r : runs) env_->RemoveFile(r);
      throw;
    }
    for (const auto& r : runs) env_->RemoveFile(r);
    CrashPoint("shard_merge_file");  // the merged output is half written (its temporary file)
    return st;
  }

 private:
  void Emit(const Row& r, FileStats& st) {
    if (have_last_ && r.key == last_key_) {
      ++st.dropped;
      return;
    }
    have_last_ = true;
    last_key_ = r.key;
    out_.Add(r.record);
    out_.Add("\n");
    ++st.written;
  }

  std::string Spill(std::vector<Row>& rows, int shard, size_t n) {
    std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.key < b.key; });
    std::string path = fmt::format("{}/shard{}.run{}", opt_.tmp_dir, shard, n);
    auto f = env_->NewWritableFile(path, false);
    BufferedOut w(*f);
    std::string head;
    for (const auto& r : rows) {
      head.clear();
      AppendU32(head, static_cast<uint32_t>(r.key.size()));
      AppendU32(head, static_cast<uint32_t>(r.record.size()));
      w.Add(head);
      w.Add(r.key);
      w.Add(r.record);
    }
    w.Flush();
    f->Close();
    rows.clear();
    return path;
  }

  // K-way merge; on equal keys the earlier run wins, so the file's first row of a key is kept.
  void MergeRuns(const std::vector<std::string>& paths, FileStats& st) {
    std::vector<std::unique_ptr<RunReader>> readers;
    std::vector<Row> heads(paths.size());
    auto later = [&](size_t a, size_t b) { return heads[a].key != heads[b].key ? heads[a].key > heads[b].key : a > b; };
    std::priority_queue<size_t, std::vector<size_t>, decltype(later)> heap(later);
    for (size_t i = 0; i < paths.size(); ++i) {
      readers.push_back(std::make_unique<RunReader>(env_, paths[i]));
      if (readers[i]->Next(&heads[i])) heap.push(i);
    }
    while (!heap.empty()) {
      size_t i = heap.top();
      heap.pop();
      Emit(heads[i], st);
      if (readers[i]->Next(&heads[i])) heap.push(i);
    }
  }

  Env* env_;
  const Plan& plan_;
  const MergeOptions& opt_;
  BufferedOut& out_;
  std::string* header_;
  std::string last_key_;
  bool have_last_ = false;
};

void WriteSummary(Env* env, const Plan& plan, const std::vector<MergeShard>& shards, const MergeOptions& opt,
                  const MergeReport& rep, const std::vector<std::pair<const MergeShard*, FileStats>>& files) {
  JsonWriter w;
  auto labels = [&](std::string_view key, auto pick) {
    w.Key(key).BeginArray();
    for (const auto& s : shards)
      if (pick(s)) w.String(RangeLabel(plan, s.range));
    w.EndArray();
  };
  w.BeginObject().Field("merged", rep.merged);
  if (rep.merged) w.Field("output", opt.output);
  else w.Key("output").Null();
  w.Field("key_column", plan.key_column).Field("key_type", KeyTypeName(plan.key_type)).Field("allow_partial", opt.allow_partial);
  labels("expected_shards", [](const MergeShard&) { return true; });
  labels("merged_shards", [&](const MergeShard& s) { return rep.merged && s.status == ShardStatus::kCompleted; });
  labels("missing_shards", [](const MergeShard& s) { return s.status != ShardStatus::kCompleted && s.status != ShardStatus::kFailed; });
  labels("failed_shards", [](const MergeShard& s) { return s.status == ShardStatus::kFailed; });
  w.Key("files").BeginArray();
  for (const auto& [s, st] : files) {
    w.BeginObject().Field("shard", s->range.index).Field("range", RangeLabel(plan, s->range)).Field("path", s->result->path);
    w.Field("rows", st.rows).Field("rows_merged", st.written).Field("duplicates_dropped", st.dropped).EndObject();
  }
  w.EndArray();
  w.Field("total_rows", rep.rows).Field("duplicates_dropped", rep.duplicates).EndObject();
  WriteFileAtomic(env, opt.summary_path, w.Take() + "\n");
}

}  // namespace

ShardResult VerifyResult(Env* env, const std::string& path, const Plan& plan, const ShardRange& range,
                         const std::vector<std::string>& input_keys) {
  const KeyRange& kr = range.range;
  auto first = std::lower_bound(input_keys.begin(), input_keys.end(), kr.low);
  auto last = kr.unbounded ? input_keys.end() : std::lower_bound(first, input_keys.end(), kr.high);
  // One flag per input key of the range (not the keys themselves: they are in input_keys already).
  std::vector<char> seen(static_cast<size_t>(last - first), 0);
  Xxh3State hash = NewXxh3State();
  ShardResult r;
  r.path = path;
  {
    TableReader in(env, path, plan.key_column, hash.get());
    while (in.Next()) {
      ++r.rows;
      auto key = EncodeKey(plan.key_type, in.key());
      if (!key) Fail(ErrorKind::kData, "{}:{}: key '{}' is not an integer (the plan's keys are)", path, in.line(), in.key());
      if (!kr.Contains(*key))
        Fail(ErrorKind::kData, "{}:{}: key '{}' lies outside the shard's range {}", path, in.line(), in.key(), RangeLabel(plan, range));
      auto at = std::lower_bound(first, last, *key);
      if (at == last || *at != *key)
        Fail(ErrorKind::kData, "{}:{}: key '{}' is not a key of the input {} (it lies in the shard's range {}, but no input row has it)",
             path, in.line(), in.key(), plan.input, RangeLabel(plan, range));
      seen[static_cast<size_t>(at - first)] = 1;
    }
  }
  r.xxh3 = fmt::format("{:016x}", XXH3_64bits_digest(hash.get()));
  size_t missing = static_cast<size_t>(std::count(seen.begin(), seen.end(), 0));
  if (missing > 0) {
    size_t i = static_cast<size_t>(std::find(seen.begin(), seen.end(), 0) - seen.begin());
    Fail(ErrorKind::kData, "{}: {} of the {} input key(s) of the shard's range {} are missing from it (the first: '{}')", path, missing,
         seen.size(), RangeLabel(plan, range), KeyText(plan.key_type, first[static_cast<std::ptrdiff_t>(i)]));
  }
  r.size = env->FileSize(path);
  return r;
}

MergeReport MergeResults(Env* env, const Plan& plan, const std::vector<MergeShard>& shards, const MergeOptions& opt) {
  MergeReport rep;
  for (const auto& s : shards) {
    if (s.status == ShardStatus::kFailed) rep.failed.push_back(RangeLabel(plan, s.range));
    else if (s.status != ShardStatus::kCompleted) rep.missing.push_back(RangeLabel(plan, s.range));
  }
  std::vector<std::pair<const MergeShard*, FileStats>> files;
  if (!opt.allow_partial && (!rep.failed.empty() || !rep.missing.empty())) {
    WriteSummary(env, plan, shards, opt, rep, files);
    return rep;
  }
  std::vector<const MergeShard*> order;
  for (const auto& s : shards)
    if (s.status == ShardStatus::kCompleted) order.push_back(&s);
  std::sort(order.begin(), order.end(), [](const MergeShard* a, const MergeShard* b) { return a->range.range.low < b->range.range.low; });
  // Spilled runs of an earlier merge that died are never read again: start from an empty directory, and
  // leave none behind whatever happens.
  env->RemoveTree(opt.tmp_dir);
  env->CreateDirs(opt.tmp_dir);
  try {
    env->CreateDirs(std::filesystem::path(opt.output).parent_path().string());
    AtomicFile out(env, opt.output);
    BufferedOut buffered(out.file());
    std::string header;
    ShardMerger merger(env, plan, opt, buffered, &header);
    for (const MergeShard* s : order) {
      FileStats st = merger.Merge(*s);
      rep.rows += st.written;
      rep.duplicates += st.dropped;
      files.emplace_back(s, st);
    }
    buffered.Flush();
    CrashPoint("shard_merge_commit");  // complete, not yet renamed over the output
    out.Commit();
  } catch (...) {
    try {
      env->RemoveTree(opt.tmp_dir);
    } catch (...) {
    }
    throw;
  }
  env->RemoveTree(opt.tmp_dir);
  CrashPoint("shard_merged");  // the output is in place, merge_summary.json is not yet written
  rep.merged = true;
  WriteSummary(env, plan, shards, opt, rep, files);
  return rep;
}

}  // namespace sluice::shard
