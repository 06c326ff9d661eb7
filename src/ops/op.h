// Operators: the DataJuicer op model (datajuicer-ops.md §1) in C++.
//
// An op is created once per worker thread from validated Params (so it may keep scratch buffers and is
// never shared between threads) and works on one Sample at a time:
//   Mapper        rewrites the text of its slot (a RecordMapper: any field of the whole record);
//   Filter        computes named stats into `__dj__stats__` (skipped when already cached, §1.3), then
//                 keeps or drops the sample from those stats;
//   Deduplicator  two phases (§1.2): a per-sample fingerprint of op-defined size, computed per partition,
//                 then a dataset-level decision over all fingerprints in input order (a stage barrier,
//                 see engine/plan.h) that says which samples to keep.
// Ops throw sluice::Error (or any std::exception) for a sample they cannot process; the chain turns that
// into a drop (skip_op_error) or a partition failure.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/params.h"
#include "core/sample.h"

namespace sluice {

// kSelector is a registry kind only (`sluice ops`, summaries, stages): a selector's instances are
// Deduplicators to the engine and report kind() == kDeduplicator (see Selector below).
enum class OpKind { kMapper, kFilter, kDeduplicator, kSelector };
const char* OpKindName(OpKind k);
// Ops that need the whole dataset: they end a stage (a barrier, engine/plan.h).
inline bool IsDatasetLevel(OpKind k) { return k == OpKind::kDeduplicator || k == OpKind::kSelector; }

class Op {
 public:
  virtual ~Op() = default;
  const std::string& name() const { return name_; }
  OpKind kind() const { return kind_; }
  // The text slot this op reads (and, for mappers, writes); assigned by the chain builder.
  int slot() const { return slot_; }
  void set_slot(int s) { slot_ = s; }
  // The field of every text slot of the chain, by slot; set by the chain builder, empty outside a chain.
  // For ops that read fields by name (the field filters): a text an earlier mapper rewrote is current only in
  // its slot, whichever op's slot it is, never in Sample::line.
  const std::vector<std::string>& slot_keys() const { return slot_keys_; }
  void set_slot_keys(std::vector<std::string> keys) { slot_keys_ = std::move(keys); }

 protected:
  Op(std::string name, OpKind kind) : name_(std::move(name)), kind_(kind) {}

 private:
  std::string name_;
  OpKind kind_;
  int slot_ = 0;
  std::vector<std::string> slot_keys_;
};

class Mapper : public Op {
 public:
  // Rewrites `text` in place; returns true if it changed. Not called for null texts.
  virtual bool Map(std::string& text) = 0;
  // A RecordMapper (below): the chain calls MapRecord on the whole record instead of Map.
  bool record_mapper() const { return record_mapper_; }

 protected:
  explicit Mapper(std::string name, bool record_mapper = false)
      : Op(std::move(name), OpKind::kMapper), record_mapper_(record_mapper) {}

 private:
  bool record_mapper_;
};

// A mapper that turns one sample into several (text_chunk_mapper): Split writes, in order, the texts of
// the samples that replace this one; every other field (stats included) is copied into each. Such an op
// ends its segment, so the chain never runs past it within a sample: the engine expands its output as it
// writes it, persisted like a checkpoint (engine/executor.cc), and the next ops read the expanded records.
// A null text passes through as one sample. Registered with OpDef::expands set.
class ExpandingMapper : public Mapper {
 public:
  virtual void Split(const std::string& text, std::vector<std::string>& pieces) = 0;
  bool Map(std::string&) final { throw std::logic_error(name() + " expands a sample into several (Split)"); }

 protected:
  explicit ExpandingMapper(std::string name) : Mapper(std::move(name)) {}
};

// A mapper that may change any field of a sample, add fields, or drop the sample (python_lambda_mapper,
// python_file_mapper). It sees the whole current record as one JSON object and returns the record that
// replaces it; the chain re-parses that record into the sample, so later ops see the new fields
// (ApplyRecordMapper, ops/pipeline.h). Called for every sample, also when its text is null.
class RecordMapper : public Mapper {
 public:
  enum class Result { kUnchanged, kReplaced, kDropped };
  // `record`: the sample with its changed text fields and `__dj__stats__`. On kReplaced `out` holds the
  // new record, one JSON object.
  virtual Result MapRecord(std::string_view record, std::string& out) = 0;
  bool Map(std::string&) final { throw std::logic_error(name() + " is a record mapper (MapRecord)"); }
  // The field of the op's text slot (its text_key, or the recipe's first text key), for record mappers that
  // read the text from the record; set by whoever builds the chain, as the slot is.
  const std::string& text_key() const { return text_key_; }
  void set_text_key(std::string key) { text_key_ = std::move(key); }

 protected:
  explicit RecordMapper(std::string name) : Mapper(std::move(name), true) {}

 private:
  std::string text_key_ = "text";
};

// A numeric stat as DataJuicer's Python holds it: a float, or an int of any size (a cached value beyond
// int64 keeps its decimal text, `integer`, which must outlive this). Compared with a float threshold by
// value, as Python compares an int with a float: exactly, not through the int rounded to a double.
class StatNumberValue {
 public:
  explicit StatNumberValue(double d) : kind_(kDouble), d_(d) {}
  static StatNumberValue Int(int64_t i);
  static StatNumberValue BigInt(std::string_view integer);  // a JSON integer token (IsJsonInteger)
  std::partial_ordering CompareTo(double threshold) const;

 private:
  StatNumberValue() = default;
  enum Kind { kDouble, kInt, kBigInt } kind_ = kDouble;
  double d_ = 0;
  int64_t i_ = 0;
  std::string_view integer_;
};

class Filter : public Op {
 public:
  // Writes this filter's stats into s.stats. Must not recompute a key that is already present (§1.3):
  // implementations call `Cached(s, key)` first.
  virtual void ComputeStats(Sample& s) = 0;
  // Decides from s.stats alone.
  virtual bool Keep(const Sample& s) const = 0;

 protected:
  // Reads min_closed_interval / max_closed_interval / reversed_range from `p` (§1.4).
  Filter(std::string name, const Params& p);
  static bool Cached(const Sample& s, std::string_view key) { return s.stats.Has(key); }
  // Reads a numeric stat: a bool as 0/1, an int of any size exactly (throws if it is not a number, e.g. a
  // cached string). The value may refer to the sample's stats: use it while the sample is unchanged.
  static StatNumberValue StatNumber(const Sample& s, std::string_view key);
  // §1.4: closed/open bounds, absent (nullopt) bounds skipped, reversed_range flips closedness and negates.
  // A NaN on either side fails every bound, as in Python.
  bool InRange(const StatNumberValue& v, std::optional<double> lo, std::optional<double> hi) const;
  bool InRange(double v, std::optional<double> lo, std::optional<double> hi) const {
    return InRange(StatNumberValue(v), lo, hi);
  }

 private:
  bool min_closed_ = true;
  bool max_closed_ = true;
  bool reversed_ = false;
};

// The memory a deduplicator's dataset-level decision may use (fingerprint sort buffers, union-find,
// keep bits), whatever the recipe; past it the decision spills sorted runs to disk. A constant of the
// engine, not a recipe option: it bounds the process, not the result (decisions never depend on it).
// SLUICE_DEDUP_MEMORY_MB overrides it (tests and benchmarks use that to force or avoid spilling).
inline constexpr uint64_t kDedupMemoryBudget = uint64_t{256} << 20;

class Env;

// All fingerprints of a dataset, in input order (sample i is the i-th sample reaching the deduplicator).
class FingerprintSource {
 public:
  virtual ~FingerprintSource() = default;
  virtual uint64_t count() const = 0;
  // One pass over all fingerprints: f(first, data, n) for consecutive blocks, block holding the
  // fingerprints of samples first .. first + n - 1 back to back. Every call is a new pass from sample 0.
  using BlockFn = std::function<void(uint64_t first, const uint8_t* data, size_t n)>;
  virtual void Scan(const BlockFn& f) = 0;
};

// Where and how much a decision may spill.
struct DedupContext {
  Env* env = nullptr;
  std::string scratch_dir;  // spill files go here (created on demand; the decision removes its files)
  uint64_t memory_bytes = kDedupMemoryBudget;
  // Optional (the tracer): called once for every sample the decision drops, with the index of the kept
  // sample it duplicates, in no particular order.
  std::function<void(uint64_t dropped, uint64_t kept)> on_duplicate;
};

// What a decision did, for events and the decision record.
struct DedupStats {
  uint64_t passes = 0;       // passes over the fingerprints
  uint64_t spill_runs = 0;   // sorted runs written to disk
  uint64_t spill_bytes = 0;
};

class Deduplicator : public Op {
 public:
  size_t fingerprint_size() const { return fingerprint_.size(); }
  // Per-sample phase: computes the fingerprint of `s`, readable through fingerprint() until the next call.
  // Throws for a sample the op cannot hash (the chain drops it under skip_op_error, as DataJuicer does).
  void Fingerprint(const Sample& s) { ComputeFingerprint(s, fingerprint_.data()); }
  std::string_view fingerprint() const {
    return {reinterpret_cast<const char*>(fingerprint_.data()), fingerprint_.size()};
  }

  // Dataset-level phase: sets keep[i] (keep has fps.count() entries, all false on entry) for every sample
  // i to keep. Deterministic: the result depends only on the fingerprint sequence, never on partitioning
  // or on ctx.memory_bytes. Independent of the per-sample state (any instance with the same parameters will do).
  virtual DedupStats Decide(FingerprintSource& fps, const DedupContext& ctx, std::vector<bool>& keep) = 0;

 protected:
  Deduplicator(std::string name, size_t fingerprint_size)
      : Op(std::move(name), OpKind::kDeduplicator), fingerprint_(fingerprint_size) {}
  virtual void ComputeFingerprint(const Sample& s, uint8_t* out) = 0;

 private:
  std::vector<uint8_t> fingerprint_;
};

// Selectors (DataJuicer's dataset -> dataset selection, §5; ops/selector/) run on the deduplicator path:
// the per-sample "fingerprint" is a fixed-size encoding of what the selection needs of the sample (the
// field's value as a number, a hash of it, or nothing), and Decide sets the keep bits of the selected
// samples. The engine writes them in input order; DataJuicer's topk / frequency / range selectors reorder
// their output, and Select can also return the kept indices in that order (tests compare it).
class Selector : public Deduplicator {
 public:
  DedupStats Decide(FingerprintSource& fps, const DedupContext& ctx, std::vector<bool>& keep) final {
    return Select(fps, ctx, keep, nullptr);
  }
  // As Decide; with `order`, also fills it with the kept indices in DataJuicer's output order (held in
  // memory: meant for tests and small datasets). Throws kData where DataJuicer's selector fails on the data.
  virtual DedupStats Select(FingerprintSource& fps, const DedupContext& ctx, std::vector<bool>& keep,
                            std::vector<uint64_t>* order) = 0;

 protected:
  Selector(std::string name, size_t fingerprint_size) : Deduplicator(std::move(name), fingerprint_size) {}
};

// The registry entry of one op.
struct OpDef {
  std::string name;
  OpKind kind;
  std::string summary;                // one line, for `sluice ops`
  std::vector<ParamSpec> params;      // the op's own parameters (common ones are added by the registry)
  std::function<std::unique_ptr<Op>(const Params&)> create;
  bool expands = false;               // an ExpandingMapper: one sample in, several out
};

// Every op sluice knows, sorted by name.
const std::vector<OpDef>& AllOps();
const OpDef* FindOp(std::string_view name);
// The op's parameters plus the common ones every op (and every filter) accepts (§1.4).
std::vector<ParamSpec> FullParamSpecs(const OpDef& def);

// Optional bound helper: a null parameter means "no bound".
std::optional<double> OptionalNumber(const Params& p, const std::string& name);

}  // namespace sluice
