// Record parsing and serialization: JSON line <-> Sample.
//
// RecordParser validates one JSON line completely (structure, numbers, string escapes, UTF-8) with
// simdjson's on-demand API in a single pass, decodes `__dj__stats__`, finds the text slots (left encoded
// until an op reads them: TextField::value), and locates `__dj__meta__` and `__dj__suffix__`. A line
// that fails gets a precise cause ("expected a JSON object", "invalid UTF-8", "missing text key 'text'",
// ...) and the caller adds file and line. SerializeSample writes a sample back: the original bytes with
// only changed members spliced in, so untouched fields survive byte-for-byte. AppendSideLine writes the
// sample's line of DataJuicer's stats side file (datajuicer-ops.md §8).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/sample.h"

namespace sluice {

// The reserved DataJuicer member names (datajuicer-ops.md §1.1).
inline constexpr std::string_view kStatsKey = "__dj__stats__";
inline constexpr std::string_view kMetaKey = "__dj__meta__";
inline constexpr std::string_view kSuffixKey = "__dj__suffix__";

// The `__dj__suffix__` DataJuicer's loader gives the samples of input file `path` (datajuicer-ops.md §1.6):
// "." + the file name's last suffix, lowercased, or its last two for a zstd file (".jsonl.zst"); "" when the
// name has none.
std::string DjFileSuffix(std::string_view path);

// simdjson reads up to this many bytes past the end of a line; buffers handed to Parse must have them.
size_t RecordPadding();
// The longest line Parse accepts: simdjson's largest document (4 GiB - 1). Readers stop a longer line with
// an error instead of holding it (LineReader's max_line).
uint64_t MaxRecordBytes();

enum class ParseStatus {
  kOk,
  kBad,       // malformed: not JSON, not an object, bad UTF-8, bad escape, wrong text type, missing key
  kNullText,  // the first text key is null: DataJuicer drops such samples at load (§1.6)
  kBlank,     // an empty or whitespace-only line: skipped
};

class RecordParser {
 public:
  // `text_keys`: one per slot. A key with dots ("meta.content") addresses a nested member unless a
  // top-level member has that exact name (DataJuicer's lookup order). Slot 0 must be present in
  // every record; other slots may be absent (ops on them then see null).
  explicit RecordParser(std::vector<std::string> text_keys);
  ~RecordParser();
  RecordParser(const RecordParser&) = delete;
  RecordParser& operator=(const RecordParser&) = delete;

  // Parses `line` (no newline; RecordPadding() readable bytes must follow it) into `out`.
  // On kBad, `error` holds the cause. The parser's buffers grow to the largest line it has read (simdjson:
  // about 6.7 bytes of address space per byte of line, touched as far as the line needed) and shrink again
  // at the next line a quarter that size, when they exceed kKeptCapacity bytes of line.
  ParseStatus Parse(std::string_view line, Sample& out, std::string& error);
  static constexpr size_t kKeptCapacity = 16 << 20;
  size_t capacity() const;  // the longest line the buffers hold now

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct SerializeOptions {
  // Keep `__dj__stats__` and `__dj__meta__` (keep_stats_in_res_ds, and every intermediate output); false
  // removes both, as DataJuicer's exporter does.
  bool keep_stats = false;
  // Non-empty: the `__dj__suffix__` value to append to a record that lacks the member (a recipe with
  // suffix_filter; the engine passes DjFileSuffix of the input file). A record that has it keeps its value.
  std::string_view suffix;
  // With keep_stats: the dataset has the `__dj__stats__` column (a filter of the recipe adds it, DataJuicer
  // initialising it to {} before the filter runs, datajuicer-ops.md §7), so a record without stats gets
  // `"__dj__stats__":{}`, where computed stats would go. The engine sets it for the export and for the record
  // an op is handed whole (OpRecordView, ops/pipeline.h), never for checkpoints, so that view does not depend
  // on the checkpoint strategy.
  bool stats_column = false;
};

// Appends the sample as one JSON line (with '\n') to `out`.
void SerializeSample(const Sample& s, const SerializeOptions& opt, std::string& out);

// Appends the sample's line of the stats side file to `out`: a JSON object with `__dj__stats__` (first) and
// `__dj__meta__`, each when the sample has it, or as `{}` when the dataset is known to have that column
// (`stats_column` / `meta_column`: an op of the recipe adds it); "{}" when neither. Returns whether the
// sample itself carries stats or meta (so a dataset whose samples all return false has no side file unless
// a column is known).
bool AppendSideLine(const Sample& s, bool stats_column, bool meta_column, std::string& out);

// Makes `json` (one JSON object, as a record mapper returns it) the sample's record: the sample keeps a
// padded copy in Sample::owned_line and is parsed again with `parser`, so changed fields become unchanged
// members of the new line. Returns the parse status (kBad: `error` says why).
ParseStatus ReplaceRecord(RecordParser& parser, std::string_view json, Sample& s, std::string& error);

}  // namespace sluice
