// Sample: one record as it flows through an op chain.
//
// A sample keeps a view of its original JSON line and decodes only the fields the chain uses: the text
// fields (one "slot" per distinct text key in the recipe) and DataJuicer's `__dj__stats__` dictionary.
// Everything else stays as the original bytes and is passed through untouched; on output only changed
// fields are re-serialized and spliced into the line (see record.h). Samples are reused from record to
// record by the engine so the hot path does not allocate once buffers have grown.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

// A value in `__dj__stats__`. Values computed by ops are numbers or booleans; values read back from the
// input (DataJuicer's stats caching, datajuicer-ops.md §1.3) that are neither an int64, a double nor a
// boolean keep their raw JSON so they round-trip (an integer beyond int64 too: a filter reads it as the
// number it is, Filter::StatNumber). A float beyond a double (`1e400`) is a kDouble of the value Python's
// json gives it (±inf) that keeps its JSON text in `raw`, written back as it was.
struct StatValue {
  enum class Kind { kInt, kDouble, kBool, kRaw };
  Kind kind = Kind::kInt;
  int64_t i = 0;
  double d = 0;
  std::string raw;  // kRaw: the exact JSON text; kDouble: the input's text when not empty (AppendJson writes it)

  double AsNumber() const { return kind == Kind::kInt ? static_cast<double>(i) : kind == Kind::kBool ? (i != 0) : d; }
};

// Insertion-ordered small map; keys are few (one per filter) so linear search beats hashing.
class Stats {
 public:
  const StatValue* Find(std::string_view key) const {
    for (size_t i = 0; i < size_; ++i)
      if (entries_[i].key == key) return &entries_[i].value;
    return nullptr;
  }
  bool Has(std::string_view key) const { return Find(key) != nullptr; }
  // The entry for `key` (added when new), its raw text cleared: the caller sets kind and value.
  StatValue& Set(std::string_view key) {
    for (size_t i = 0; i < size_; ++i)
      if (entries_[i].key == key) {
        entries_[i].value.raw.clear();
        return entries_[i].value;
      }
    if (size_ == entries_.size()) entries_.emplace_back();
    Entry& e = entries_[size_++];
    e.key.assign(key);
    e.value.raw.clear();
    return e.value;
  }
  void SetInt(std::string_view key, int64_t v) { auto& s = Set(key); s.kind = StatValue::Kind::kInt; s.i = v; }
  void SetDouble(std::string_view key, double v) { auto& s = Set(key); s.kind = StatValue::Kind::kDouble; s.d = v; }
  void SetBool(std::string_view key, bool v) { auto& s = Set(key); s.kind = StatValue::Kind::kBool; s.i = v; }
  void Clear() { size_ = 0; }
  size_t size() const { return size_; }
  std::string_view key(size_t i) const { return entries_[i].key; }
  const StatValue& value(size_t i) const { return entries_[i].value; }

  // Appends the stats as a JSON object.
  void AppendJson(std::string& out) const;

 private:
  struct Entry {
    std::string key;
    StatValue value;
  };
  std::vector<Entry> entries_;  // capacity reused across records
  size_t size_ = 0;
};

// One text field of the sample (a "slot"; the op chain maps each distinct text key to a slot).
// The parser validates the field's escapes but leaves it encoded; the first call of value() or
// mutable_value() decodes it, so an op that needs only its length (text_length_filter, via
// escape_excess) reads the input bytes in place and nothing is copied. value() is const yet fills the
// decoded copy: safe because a Sample belongs to one worker thread (never shared while ops run).
struct TextField {
  std::string_view raw;  // the value's JSON text in `Sample::line`, quotes included (empty when absent)
  bool present = false;
  bool is_null = false;
  bool changed = false;  // set when an op rewrote the value; only then is it re-serialized
  // While not decoded: how many more bytes raw's escapes take than the code points they stand for
  // (json_string.h), so the value has CodePointCount(body()) - escape_excess code points.
  size_t escape_excess = 0;

  const std::string& value() const {
    if (!decoded_) Decode();
    return value_;
  }
  std::string& mutable_value() {
    if (!decoded_) Decode();
    return value_;
  }
  bool decoded() const { return decoded_; }
  // The escaped bytes between raw's quotes (a present, non-null text only).
  std::string_view body() const { return raw.substr(1, raw.size() - 2); }
  // Makes the field the string `raw` (a validated JSON string, quotes included), decoded on first use.
  void SetEncoded(std::string_view raw_json, size_t excess) {
    raw = raw_json;
    escape_excess = excess;
    decoded_ = false;
  }
  // Absent, not null, unchanged, empty.
  void Reset() {
    raw = {};
    value_.clear();
    decoded_ = true;
    present = is_null = changed = false;
    escape_excess = 0;
  }

 private:
  void Decode() const;  // core/record.cc
  mutable std::string value_;
  mutable bool decoded_ = true;
};

// Byte range [begin, end) in Sample::line.
struct Span {
  size_t begin = 0;
  size_t end = 0;
  bool empty() const { return begin == end; }
};

struct Sample {
  std::string_view line;        // the original JSON object, without its newline
  std::string owned_line;       // a record mapper's replacement record (padded) that `line` then views;
                                // so a Sample must not be copied while `line` points into it
  std::vector<TextField> texts; // indexed by slot
  Stats stats;                  // `__dj__stats__`: values from the input, then those ops compute
  bool had_stats = false;       // the input carried `__dj__stats__`
  bool stats_changed = false;   // an op added a value since parsing
  Span stats_member;            // the input's `"__dj__stats__": {...}` member with one separator (see had_meta)
  Span stats_value;             // just its value
  // `__dj__meta__` (written by tagging mappers), located by the parser but never decoded: the export drops it
  // with the stats (keep_stats_in_res_ds) and copies it to the stats side file. When the record has both,
  // each *_member span is the one to cut when both are cut (the export never cuts one alone).
  bool had_meta = false;
  Span meta_member;
  Span meta_value;
  // The earlier members of a `__dj__stats__` or `__dj__meta__` given twice: as in Python's json the last one
  // is the value (stats_*, meta_* above); the earlier ones are cut whenever those are.
  std::vector<Span> earlier_reserved;
  bool had_suffix = false;      // the record carries `__dj__suffix__` (DataJuicer's loader never overwrites it)
  Span text_spans[8];           // offsets of texts[i].raw within line (slots beyond 8 are rejected)
  std::string_view source_file; // the input file the sample came from (set by the engine; empty in op tests)
  size_t object_end = 0;        // offset of the closing '}' of the top-level object
  bool object_empty = true;     // the object has no members
  uint64_t analysis_epoch = 0;  // nonzero while ops may share one analysis of the texts (ops/text/analysis.h)

  std::string& text(int slot) { return texts[slot].mutable_value(); }
  const std::string& text(int slot) const { return texts[slot].value(); }
};

}  // namespace sluice
