// Test harness for single ops: builds ops from the registry with parameters, turns JSON objects into
// Samples through the real RecordParser, and runs mappers / filters / deduplicators over a small dataset
// the way DataJuicer's unit tests do (mappers map, filters compute stats then keep/drop, deduplicators hash
// every sample and keep what their decision keeps; datasets of at most one sample are returned untouched by a deduplicator).
// The engine has its own end-to-end path; this one exists so op semantics can be tested in isolation.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
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
#include "io/env.h"
#include "ops/op.h"
#include "ops/pipeline.h"

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

// Parameter shorthands for table-driven op tests.
inline ParamValue I(int64_t v) { return ParamValue::Int(v); }
inline ParamValue D(double v) { return ParamValue::Double(v); }
inline ParamValue B(bool v) { return ParamValue::Bool(v); }
inline ParamValue S(std::string v) { return ParamValue::String(std::move(v)); }
inline ParamValue L(std::vector<std::string> v) {  // a list of strings
  std::vector<ParamValue> items;
  for (auto& s : v) items.push_back(ParamValue::String(std::move(s)));
  return ParamValue::List(std::move(items));
}

// One mapper edge case: `op` with `params` turns `input` into `expected`.
struct MapperCase {
  const char* op;
  ParamList params;
  std::string input, expected;
};

// Runs every case on a fresh op instance; Map must give `expected` and report a change exactly when the text
// changes. Failures name the op and the input.
inline void ExpectMapperCases(const std::vector<MapperCase>& cases) {
  for (const MapperCase& c : cases) {
    auto op = MakeOp(c.op, c.params);
    std::string text = c.input;
    bool changed = static_cast<Mapper&>(*op).Map(text);
    EXPECT_EQ(text, c.expected) << c.op << " on \"" << c.input << "\"";
    EXPECT_EQ(changed, c.expected != c.input) << c.op << " on \"" << c.input << "\"";
  }
}

// Fingerprints held in memory (count x size bytes), handed to Deduplicator::Decide in blocks of `block`.
class MemoryFingerprints : public FingerprintSource {
 public:
  MemoryFingerprints(std::vector<uint8_t> data, size_t size, size_t block = 4096)
      : data_(std::move(data)), size_(size), block_(block) {}
  uint64_t count() const override { return size_ == 0 ? 0 : data_.size() / size_; }
  void Scan(const BlockFn& f) override {
    for (uint64_t first = 0; first < count(); first += block_)
      f(first, data_.data() + first * size_, static_cast<size_t>(std::min<uint64_t>(block_, count() - first)));
  }

 private:
  std::vector<uint8_t> data_;
  size_t size_, block_;
};

// A dataset of samples parsed from JSON object texts. Owns the line buffers the samples point into.
class Dataset {
 public:
  explicit Dataset(std::string text_key = "text") : parser_({text_key}), text_key_(text_key) {}

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

  // The integer "id" member of every sample, in order (records built with a leading "id" member).
  std::vector<int> Ids() const {
    std::vector<int> ids;
    for (size_t i = 0; i < size(); ++i) {
      std::string j = Json(i);
      ids.push_back(std::stoi(j.substr(j.find("\"id\":") + 5)));
    }
    return ids;
  }

  // Runs `op` over the dataset in place. stats_only: filters only compute stats (nothing is dropped).
  void Run(Op& op, bool stats_only = false) {
    std::vector<std::unique_ptr<Sample>> kept;
    switch (op.kind()) {
      case OpKind::kMapper:
        if (auto* x = dynamic_cast<ExpandingMapper*>(&op)) {  // one sample per piece, other fields copied
          std::vector<std::string> rows, pieces;
          SerializeOptions opt;
          opt.keep_stats = true;
          for (auto& s : samples_) {
            TextField& tf = s->texts[static_cast<size_t>(op.slot())];
            std::vector<std::string> texts;
            if (tf.is_null) texts.push_back("");
            else x->Split(tf.value(), pieces), texts = pieces;
            for (const auto& t : texts) {
              if (!tf.is_null) tf.mutable_value() = t, tf.changed = true;
              std::string row;
              SerializeSample(*s, opt, row);
              if (!row.empty() && row.back() == '\n') row.pop_back();
              rows.push_back(std::move(row));
            }
          }
          samples_.clear();
          for (const auto& r : rows) Add(r);
          return;
        }
        if (static_cast<Mapper&>(op).record_mapper()) {  // as OpChain runs it: may drop samples
          static_cast<RecordMapper&>(op).set_text_key(text_key_);
          std::string in, out;
          for (auto& s : samples_)
            if (ApplyRecordMapper(static_cast<RecordMapper&>(op), parser_, *s, in, out)) kept.push_back(std::move(s));
          samples_ = std::move(kept);
          return;
        }
        for (auto& s : samples_) {
          TextField& tf = s->texts[static_cast<size_t>(op.slot())];
          if (!tf.is_null && static_cast<Mapper&>(op).Map(tf.mutable_value())) tf.changed = true;
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
      case OpKind::kSelector:  // a registry kind only: selectors' instances are deduplicators (ops/op.h)
      case OpKind::kDeduplicator: {
        // Both phases as the engine runs them: every sample is hashed (so a hashing error surfaces even
        // for one sample), then the decision runs over the fingerprints in order. A selector's survivors
        // come in DataJuicer's output order (Selector::Select), which the engine does not reproduce.
        auto& d = static_cast<Deduplicator&>(op);
        std::vector<uint8_t> fps;
        for (auto& s : samples_) {
          d.Fingerprint(*s);
          std::string_view f = d.fingerprint();
          fps.insert(fps.end(), f.begin(), f.end());
        }
        if (samples_.size() <= 1) return;  // DataJuicer returns such datasets untouched
        MemoryFingerprints src(std::move(fps), d.fingerprint_size());
        std::vector<bool> keep(samples_.size(), false);
        DedupContext ctx;
        ctx.env = Env::Default();
        ctx.scratch_dir = "/nonexistent/harness-dedup-spill";  // the default budget never spills a test dataset
        if (auto* sel = dynamic_cast<Selector*>(&d)) {
          std::vector<uint64_t> order;
          sel->Select(src, ctx, keep, &order);
          if (static_cast<size_t>(std::count(keep.begin(), keep.end(), true)) != order.size())
            throw Error(ErrorKind::kInternal, op.name() + ": the order disagrees with the keep bits");
          for (uint64_t i : order) {
            if (!keep[i] || !samples_[i]) throw Error(ErrorKind::kInternal, op.name() + ": bad order");
            kept.push_back(std::move(samples_[i]));
          }
          samples_ = std::move(kept);
          return;
        }
        d.Decide(src, ctx, keep);
        for (size_t i = 0; i < samples_.size(); ++i)
          if (keep[i]) kept.push_back(std::move(samples_[i]));
        samples_ = std::move(kept);
        return;
      }
    }
  }

 private:
  RecordParser parser_;
  std::string text_key_;
  std::deque<std::string> bufs_;  // deque: buffers never move once added
  std::vector<std::unique_ptr<Sample>> samples_;
};

}  // namespace sluice::testing
