// The tracer: DataJuicer's `open_tracer` output, made deterministic and crash-safe.
//
// For every traced op (op_list_to_trace, empty = all; selectors are never traced, as in DataJuicer) the job
// writes at most trace_num entries to <job_dir>/trace/, one JSON object per line, named as DataJuicer does:
//   mapper-<op>.jsonl     {"original text": before, "processed_text": after} for the first samples the
//                         mapper changed;
//   filter-<op>.jsonl     the first samples the filter dropped, whole, with their __dj__stats__;
//   duplicate-<op>.jsonl  {"dup1": kept sample, "dup2": a sample dropped as its duplicate}, one pair per
//                         duplicate group, for the groups whose kept sample comes first.
// "First" is in input order over the whole dataset, so a trace does not depend on np, partitioning or how
// often the job was resumed. (DataJuicer picks exact-dedup groups by size and near-dedup groups in set
// order, which is not reproducible: docs/compatibility.md.) An op that occurs more than once in the
// recipe gets "-<op index>" before ".jsonl"; an op with nothing to show gets no file.
//
// Durability: each partition segment's entries (OpChain::trace) are committed to a segment trace file
// before the segment's output commits, and a dedup's pairs before its decision record, so whatever output
// a resume reuses has its trace. The files in trace/ are assembled from those at the end of the job; when
// some source is missing (that part ran before the tracer was turned on, or the intermediates were
// cleaned up) an existing trace file is left as it is.
//
// Segment trace files are internal: one line per entry, "<op index>\t<entry JSON>".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "io/env.h"
#include "ops/pipeline.h"

namespace sluice {

// Commits chain.trace(i) for every traced op i in [b, e) to `path`.
void WriteSegmentTrace(Env* env, const std::string& path, const Pipeline& pipeline, const OpChain& chain, size_t b,
                       size_t e);

// Appends op `op`'s entries from a segment trace file to `out` until it holds `limit`.
void ReadSegmentTrace(Env* env, const std::string& path, size_t op, size_t limit, std::vector<std::string>& out);

// The duplicate pairs to show: of the groups reported through Add (any order), the `limit` with the
// smallest kept index, each with its smallest dropped index.
class DuplicatePairs {
 public:
  explicit DuplicatePairs(size_t limit) : limit_(limit) {}
  void Add(uint64_t dropped, uint64_t kept);
  // (kept, dropped), by kept index.
  std::vector<std::pair<uint64_t, uint64_t>> pairs() const { return {by_kept_.begin(), by_kept_.end()}; }

 private:
  size_t limit_;
  std::map<uint64_t, uint64_t> by_kept_;
};

// The rows at the given global indices (sorted, distinct) of `files` read back to back, where file i holds
// counts[i] rows; returns them in index order.
std::vector<std::string> ReadRows(Env* env, const std::vector<std::string>& files, const std::vector<uint64_t>& counts,
                                  const std::vector<uint64_t>& indices);

// {"dup1": kept, "dup2": dropped} for each pair, the rows read from the stage output files.
std::vector<std::string> DuplicateEntries(Env* env, const std::vector<std::pair<uint64_t, uint64_t>>& pairs,
                                          const std::vector<std::string>& files, const std::vector<uint64_t>& counts);

// "mapper-<op>.jsonl" etc. for op i of the pipeline.
std::string TraceFileName(const Pipeline& pipeline, size_t i);

}  // namespace sluice
