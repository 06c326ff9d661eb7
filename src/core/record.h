// Record parsing and serialization: JSON line <-> Sample.
//
// RecordParser validates one JSON line completely (structure, numbers, string escapes, UTF-8) with
// simdjson's on-demand API in a single pass, and decodes only the text slots and `__dj__stats__`. A line
// that fails gets a precise cause ("expected a JSON object", "invalid UTF-8", "missing text key 'text'",
// ...) and the caller adds file and line. SerializeSample writes a sample back: the original bytes with
// only changed members spliced in, so untouched fields survive byte-for-byte.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/sample.h"

namespace sluice {

// The reserved DataJuicer member names (datajuicer-ops.md §1.1).
inline constexpr std::string_view kStatsKey = "__dj__stats__";

// simdjson reads up to this many bytes past the end of a line; buffers handed to Parse must have them.
size_t RecordPadding();

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
  // On kBad, `error` holds the cause.
  ParseStatus Parse(std::string_view line, Sample& out, std::string& error);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct SerializeOptions {
  bool keep_stats = false;  // keep `__dj__stats__` (keep_stats_in_res_ds); false removes it
};

// Appends the sample as one JSON line (with '\n') to `out`.
void SerializeSample(const Sample& s, const SerializeOptions& opt, std::string& out);

// Makes `json` (one JSON object, as a record mapper returns it) the sample's record: the sample keeps a
// padded copy in Sample::owned_line and is parsed again with `parser`, so changed fields become unchanged
// members of the new line. Returns the parse status (kBad: `error` says why).
ParseStatus ReplaceRecord(RecordParser& parser, std::string_view json, Sample& s, std::string& error);

}  // namespace sluice
