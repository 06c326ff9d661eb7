// Test harness for single ops: builds ops from the registry with parameters, turns JSON objects into
// Samples through the real RecordParser, and runs mappers / filters / deduplicators over a small dataset
// the way DataJuicer's unit tests do (mappers map, filters compute stats then keep/drop, deduplicators keep
// the first sample per key; datasets of at most one sample are returned untouched by a deduplicator).
// The engine has its own end-to-end path; this one exists so op semantics can be tested in isolation.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/params.h"
#include "core/record.h"
#include "core/sample.h"
#include "ops/op.h"

namespace sluice::testing {

using ParamList = std::vector<std::pair<std::string, ParamValue>>;

// Resolves params against the op's full schema and constructs it (throws what either step throws).
inline std::unique_ptr<Op> MakeOp(const std::string& name, const ParamList& params = {}) {
  const OpDef* def = FindOp(name);
  if (def == nullptr) throw Error(ErrorKind::kUsage, "unknown op " + name);
  Params p = Params::Resolve(name, FullParamSpecs(*def), params);
  auto op = def->create(p);
  op->set_slot(0);
  return op;
}

// A dataset of samples parsed from JSON object texts. Owns the line buffers the samples point into.
class Dataset {
 public:
  explicit Dataset(std::string text_key = "text") : parser_({std::move(text_key)}) {}

  // Parses one JSON object; returns the parse status (kNullText samples are not added: DataJuicer drops
  // them at load).
  ParseStatus Add(const std::string& json, std::string* error = nullptr) {
    auto& buf = bufs_.emplace_back(json);
    buf.append(RecordPadding(), ' ');
    auto s = std::make_unique<Sample>();
    std::string err;
    ParseStatus st = parser_.Parse(std::string_view(buf.data(), json.size()), *s, err);
    if (error) *error = err;
    if (st == ParseStatus::kOk) samples_.push_back(std::move(s));
    return st;
  }

  std::vector<std::unique_ptr<Sample>>& samples() { return samples_; }
  size_t size() const { return samples_.size(); }
  Sample& operator[](size_t i) { return *samples_[i]; }

  // Serializes sample i as JSON (stats kept).
  std::string Json(size_t i) const {
    std::string out;
    SerializeOptions opt;
    opt.keep_stats = true;
    SerializeSample(*samples_[i], opt, out);
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

  // Runs `op` over the dataset in place. stats_only: filters only compute stats (nothing is dropped).
  void Run(Op& op, bool stats_only = false) {
    std::vector<std::unique_ptr<Sample>> kept;
    switch (op.kind()) {
      case OpKind::kMapper:
        for (auto& s : samples_) {
          TextField& tf = s->texts[static_cast<size_t>(op.slot())];
          if (!tf.is_null && static_cast<Mapper&>(op).Map(tf.value)) tf.changed = true;
        }
        return;
      case OpKind::kFilter:
        for (auto& s : samples_) {
          auto& f = static_cast<Filter&>(op);
          size_t before = s->stats.size();
          f.ComputeStats(*s);
          if (s->stats.size() != before) s->stats_changed = true;
          if (stats_only || f.Keep(*s)) kept.push_back(std::move(s));
        }
        samples_ = std::move(kept);
        return;
      case OpKind::kDeduplicator: {
        if (samples_.size() <= 1) return;  // DataJuicer returns such datasets untouched
        std::set<std::string> seen;
        for (auto& s : samples_) {
          static_cast<Deduplicator&>(op).ComputeKey(*s, s->dedup_key);
          if (seen.insert(std::string(reinterpret_cast<const char*>(s->dedup_key), 16)).second)
            kept.push_back(std::move(s));
        }
        samples_ = std::move(kept);
        return;
      }
    }
  }

 private:
  RecordParser parser_;
  std::deque<std::string> bufs_;  // deque: buffers never move once added
  std::vector<std::unique_ptr<Sample>> samples_;
};

}  // namespace sluice::testing
