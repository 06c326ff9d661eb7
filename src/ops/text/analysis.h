// Shared per-record text analysis: what several ops of a chain derive from the same text (its lines, its
// lowercased form, whether it is ASCII) is computed once per record and reused by every op that needs it.
//
// Contract:
//   Lifetime. OpChain::Run holds an AnalysisScope: it gives the sample a fresh analysis epoch
//     (Sample::analysis_epoch; unique in the process, never 0) when it starts
//     and again after every mapper, and sets it back to 0 when Run returns (also by an exception). So
//     within one epoch no text of the sample changes: the filters (and a deduplicator) that run between
//     two mappers see the same texts and share one analysis, and a mapper that rewrites the text
//     invalidates it for the ops after it. Mappers never use the analysis. Code that runs ops outside a
//     chain (tests, tools) leaves the epoch 0 and nothing is shared.
//   TextAnalysis::Of(s, slot): the calling thread's analysis of text slot `slot` of `s`, or nullptr when
//     the sample has no epoch (or the text is null or absent); the op then computes on its own. An
//     analysis made for another epoch, slot or text buffer (address and size, a safety net) is dropped and
//     started afresh; one analysis per thread is kept, so ops on alternating slots just recompute.
//   Parts are computed on first use and are exactly what each op would compute alone:
//     lines()     n = len(text.splitlines()), code_points = len(text), longest = max(len(l) for l in
//                 text.splitlines()) (0 when there are no lines); pystr.h's line boundaries.
//     is_ascii()  pystr.h IsAscii(text).
//     lowered()   text.lower() (pystr.h PyLowerTo).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/sample.h"

namespace sluice::text {

// A new epoch: unique in the process (a thread number and a per-thread count), never 0.
uint64_t NewAnalysisEpoch();

// Gives `s` a fresh epoch for its lifetime (and at each Renew), and 0 afterwards.
class AnalysisScope {
 public:
  explicit AnalysisScope(Sample& s) : s_(s) { s_.analysis_epoch = NewAnalysisEpoch(); }
  ~AnalysisScope() { s_.analysis_epoch = 0; }
  AnalysisScope(const AnalysisScope&) = delete;
  AnalysisScope& operator=(const AnalysisScope&) = delete;
  // After anything that may have changed a text of the sample (a mapper).
  void Renew() { s_.analysis_epoch = NewAnalysisEpoch(); }

 private:
  Sample& s_;
};

class TextAnalysis {
 public:
  static TextAnalysis* Of(const Sample& s, int slot);

  struct Lines {
    size_t n = 0;            // len(text.splitlines())
    size_t code_points = 0;  // len(text)
    size_t longest = 0;      // code points of the longest line
  };
  const Lines& lines();
  bool is_ascii();
  // text.lower(); the view is valid until the analysis is dropped (the next epoch's Of on this thread)
  // and is followed by at least 32 readable bytes (RefineOptions::padded).
  std::string_view lowered();

  std::string_view text() const { return text_; }

 private:
  uint64_t epoch_ = 0;
  int slot_ = -1;
  std::string_view text_;
  bool have_lines_ = false, have_ascii_ = false, have_lowered_ = false;
  bool ascii_ = false;
  Lines lines_;
  std::string lowered_;  // grown only; the first lowered_len_ bytes are text.lower()
  size_t lowered_len_ = 0;
};

}  // namespace sluice::text
