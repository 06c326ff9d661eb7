// Operators: the DataJuicer op model (datajuicer-ops.md §1) in C++.
//
// An op is created once per worker thread from validated Params (so it may keep scratch buffers and is
// never shared between threads) and works on one Sample at a time:
//   Mapper        rewrites the text of its slot;
//   Filter        computes named stats into `__dj__stats__` (skipped when already cached, §1.3), then
//                 keeps or drops the sample from those stats;
//   Deduplicator  computes a 128-bit key per sample; the engine keeps the first sample of each key in
//                 input order across the whole dataset (a stage barrier, see engine/plan.h).
// Ops throw sluice::Error (or any std::exception) for a sample they cannot process; the chain turns that
// into a drop (skip_op_error) or a partition failure.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/params.h"
#include "core/sample.h"

namespace sluice {

enum class OpKind { kMapper, kFilter, kDeduplicator };
const char* OpKindName(OpKind k);

class Op {
 public:
  virtual ~Op() = default;
  const std::string& name() const { return name_; }
  OpKind kind() const { return kind_; }
  // The text slot this op reads (and, for mappers, writes); assigned by the chain builder.
  int slot() const { return slot_; }
  void set_slot(int s) { slot_ = s; }

 protected:
  Op(std::string name, OpKind kind) : name_(std::move(name)), kind_(kind) {}

 private:
  std::string name_;
  OpKind kind_;
  int slot_ = 0;
};

class Mapper : public Op {
 public:
  // Rewrites `text` in place; returns true if it changed. Not called for null texts.
  virtual bool Map(std::string& text) = 0;

 protected:
  explicit Mapper(std::string name) : Op(std::move(name), OpKind::kMapper) {}
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
  // Reads a numeric stat (throws if it is not a number, e.g. a cached non-numeric value).
  static double StatNumber(const Sample& s, std::string_view key);
  // §1.4: closed/open bounds, absent (nullopt) bounds skipped, reversed_range flips closedness and negates.
  bool InRange(double v, std::optional<double> lo, std::optional<double> hi) const;

 private:
  bool min_closed_ = true;
  bool max_closed_ = true;
  bool reversed_ = false;
};

class Deduplicator : public Op {
 public:
  // A 16-byte key; samples with equal keys are duplicates and the first in input order is kept.
  virtual void ComputeKey(const Sample& s, uint8_t key[16]) = 0;

 protected:
  explicit Deduplicator(std::string name) : Op(std::move(name), OpKind::kDeduplicator) {}
};

// The registry entry of one op.
struct OpDef {
  std::string name;
  OpKind kind;
  std::string summary;                // one line, for `sluice ops`
  std::vector<ParamSpec> params;      // the op's own parameters (common ones are added by the registry)
  std::function<std::unique_ptr<Op>(const Params&)> create;
};

// Every op sluice knows, sorted by name.
const std::vector<OpDef>& AllOps();
const OpDef* FindOp(std::string_view name);
// The op's parameters plus the common ones every op (and every filter) accepts (§1.4).
std::vector<ParamSpec> FullParamSpecs(const OpDef& def);

// Optional bound helper: a null parameter means "no bound".
std::optional<double> OptionalNumber(const Params& p, const std::string& name);

}  // namespace sluice
