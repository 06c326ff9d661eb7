// Pipeline: the recipe's `process` list resolved against the op registry, and OpChain, which runs a
// range of that pipeline over one sample at a time.
//
// ResolvePipeline checks every op name and parameter before any data is read (kUsage errors with the
// recipe line and a did-you-mean) and assigns text slots. OpChain holds one worker's op instances and
// per-op counters; the engine calls Run(sample, begin, end) for each stage segment. A deduplicator may
// only end a range: it computes the sample's fingerprint (read it from the op) and the engine takes the
// global decision afterwards.
//
// Tracing (DataJuicer's open_tracer): when the pipeline traces op i, Run also records, until trace_num
// entries are held, the samples op i changed (mapper: {"original text", "processed_text"}) or dropped
// (filter: the whole sample with its stats), in input order, as one JSON object per entry. The engine
// takes them after each segment (trace()) and commits them with the segment (engine/trace.h).
#pragma once

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/recipe.h"
#include "core/record.h"
#include "ops/op.h"

namespace sluice {

struct ResolvedOp {
  const OpDef* def = nullptr;
  Params params;
  std::string text_key;
  int slot = 0;
  bool skip_op_error = true;
  int recipe_line = 0;
  std::string canonical;  // {"name":..., "params":{...}}: part of the recipe hash
  // A document_deduplicator named again: DataJuicer's reuses the `__dj__hash` the first one computed, which
  // the samples reaching it all hold distinct, so its decision keeps every sample (ResolvePipeline), and it
  // reads no sample (a null or missing text is no error for it).
  bool keeps_all = false;
  // The dataset has the `__dj__stats__` column when this op runs: it or an earlier op is a filter other than
  // suffix_filter (DataJuicer adds the column, {}, before such a filter runs). OpRecordView reads it.
  bool stats_column = false;
};

struct Pipeline {
  std::vector<ResolvedOp> ops;
  std::vector<std::string> text_keys;  // by slot; slot 0 is the recipe's first text key
  std::vector<std::string> warnings;   // "file:line: ..." for op parameters ignored as DataJuicer ignores them
  std::vector<bool> traced;            // by op; all false unless the recipe has open_tracer
  size_t trace_num = 0;                // entries per traced op
  // DataJuicer's reserved columns an op of the recipe adds to every sample (datajuicer-ops.md §1.1):
  // `__dj__stats__` (a filter other than suffix_filter), `__dj__meta__` (a tagging mapper), `__dj__suffix__`
  // (suffix_filter: the loader adds it, and the export keeps it).
  bool adds_stats = false, adds_meta = false, adds_suffix = false;
  bool tracing() const { return trace_num > 0 && std::find(traced.begin(), traced.end(), true) != traced.end(); }
};

// Also applies DataJuicer's semantics of a deduplicator named twice (its hash column is kept, and a later
// instance reuses a hash a sample holds): a later document_deduplicator keeps every sample (keeps_all), and
// a later document_simhash_deduplicator runs where hashing the current text gives the earlier hash; where
// sluice cannot reproduce the reuse (a text_chunk_mapper between two document_deduplicators, a mapper or
// other hashing parameters between two simhash deduplicators) the recipe is refused (kUsage).
Pipeline ResolvePipeline(const Recipe& recipe);

struct OpCounters {
  uint64_t in = 0;       // samples the op saw
  uint64_t out = 0;      // samples it passed on
  uint64_t errors = 0;   // samples dropped because the op failed on them (skip_op_error)
  std::string first_error;
};

// How op i of `p` serializes a sample it hands on whole (a record mapper's input, a traced row): with its
// stats, `"__dj__stats__":{}` when the dataset has that column and the sample no stats (DataJuicer adds the
// column, {}, just before the first filter other than suffix_filter runs: op i is or follows one), and
// `__dj__suffix__` when the recipe has suffix_filter (the value is kept in `suffix`). So an op sees the
// columns DataJuicer's dataset has at that point, in DataJuicer's order, whatever checkpoints came before.
SerializeOptions OpRecordView(const Pipeline& p, size_t i, const Sample& s, std::string& suffix);

// Runs record mapper `m` on `s` (the chain and the op tests): hands it the sample's current record as `view`
// serializes it (its keep_stats is forced on; in: scratch) and, when it returns a new one (out: scratch),
// re-parses that into `s` with `parser` (the chain's text keys). Returns false if the mapper dropped the
// sample. Throws what the mapper throws, and sluice::Error (kData) when the new record is no valid sample
// here (its text key missing, not a string).
bool ApplyRecordMapper(RecordMapper& m, RecordParser& parser, Sample& s, std::string& in, std::string& out,
                       SerializeOptions view = {});

class OpChain {
 public:
  explicit OpChain(const Pipeline& pipeline);

  // Runs ops [begin, end) on `s`. Returns false if the sample was dropped (filtered, or an op error with
  // skip_op_error). An op error without skip_op_error throws sluice::Error naming the op. The ops between
  // two mappers share one analysis of the text (ops/text/analysis.h: a fresh epoch at the start and after
  // every mapper, none after Run).
  bool Run(Sample& s, size_t begin, size_t end);

  std::vector<OpCounters>& counters() { return counters_; }
  void ResetCounters();  // also forgets failed_op
  // The op whose error made Run throw (since the last ResetCounters), for the partition_failed event.
  std::optional<size_t> failed_op() const { return failed_op_; }
  // The trace entries of op i since the last ResetTrace (empty unless the pipeline traces op i).
  const std::vector<std::string>& trace(size_t i) const { return trace_[i]; }
  void ResetTrace();
  // For ops the engine runs itself (an expanding mapper): whether op i still wants entries, and one entry.
  bool WantsTrace(size_t i) const { return Tracing(i); }
  void AddTrace(size_t i, std::string entry) { trace_[i].push_back(std::move(entry)); }
  Op& op(size_t i) { return *ops_[i]; }
  size_t size() const { return ops_.size(); }

 private:
  const Pipeline& pipeline_;
  std::vector<std::unique_ptr<Op>> ops_;
  std::vector<OpCounters> counters_;
  bool faults_ = false;  // SLUICE_FAIL_AT names an op (core/fault_injection.h)
  std::optional<size_t> failed_op_;
  std::vector<std::string> fault_names_;
  std::vector<std::vector<std::string>> trace_;
  std::string before_;  // a traced mapper's input
  std::unique_ptr<RecordParser> record_parser_;  // re-parses what record mappers return (only if there are any)
  std::string record_in_, record_out_;
  std::string suffix_;  // OpRecordView's
  bool Tracing(size_t i) const { return pipeline_.traced[i] && trace_[i].size() < pipeline_.trace_num; }
};

}  // namespace sluice
