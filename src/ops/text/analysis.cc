// Shared per-record text analysis; see analysis.h for the contract.
#include "ops/text/analysis.h"

#include <algorithm>
#include <atomic>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "ops/text/pystr.h"
#include "core/utf8.h"

namespace sluice::text {

namespace {
std::atomic<uint64_t> g_threads{0};
thread_local TextAnalysis t_analysis;
}  // namespace

// Per thread, no shared counter to contend for: a thread number (from 1) in the top 24 bits, a count
// below it. Never 0, never repeated (2^40 epochs per thread).
uint64_t NewAnalysisEpoch() {
  thread_local uint64_t next = (g_threads.fetch_add(1, std::memory_order_relaxed) + 1) << 40;
  return ++next;
}

TextAnalysis* TextAnalysis::Of(const Sample& s, int slot) {
  if (s.analysis_epoch == 0 || slot < 0 || static_cast<size_t>(slot) >= s.texts.size()) return nullptr;
  const TextField& tf = s.texts[static_cast<size_t>(slot)];
  if (tf.is_null || !tf.present) return nullptr;
  TextAnalysis& a = t_analysis;
  std::string_view t(tf.value());
  if (a.epoch_ != s.analysis_epoch || a.slot_ != slot || a.text_.data() != t.data() || a.text_.size() != t.size()) {
    a.epoch_ = s.analysis_epoch;
    a.slot_ = slot;
    a.text_ = t;
    a.have_lines_ = a.have_ascii_ = a.have_lowered_ = false;
  }
  return &a;
}

const TextAnalysis::Lines& TextAnalysis::lines() {
  if (have_lines_) return lines_;
  // One pass: the boundaries of CountLinesAndCodePoints (pystr.cc; a "\r\n" marked at its '\n', U+0085
  // and U+2028/9 at their lead byte) and the continuation bytes, so a line's code points are its bytes
  // minus the continuation bytes before its boundary (running count plus a popcount within the block).
  Lines r;
  const std::string_view s = text_;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t line_start = 0, cont_at_start = 0, cont = 0;  // cont: continuation bytes before the block
  // A boundary marked at j: the line ends at `end`, the next starts at `next`, and `boundary_cont` of the
  // boundary's bytes are continuation bytes; cont_before_j counts those in [0, j).
  auto boundary = [&](size_t j, size_t cont_before_j) {
    size_t end = j, next = j + 1, boundary_cont = 0;
    if (p[j] == '\n' && j > 0 && p[j - 1] == '\r') end = j - 1;
    else if (p[j] == 0xC2) next = j + 2, boundary_cont = 1;  // U+0085
    else if (p[j] == 0xE2) next = j + 3, boundary_cont = 2;  // U+2028, U+2029
    size_t cps = (end - line_start) - (cont_before_j - cont_at_start);  // p[j - 1] == '\r' is no continuation
    ++r.n;
    r.longest = std::max(r.longest, cps);
    line_start = next;
    cont_at_start = cont_before_j + boundary_cont;
  };
  size_t i = 0;
#if defined(__AVX2__)
  for (; i + 34 <= n; i += 32) {
    uint32_t any = text::LineBoundaryMask32(p + i);
    uint32_t is_cont = text::ContinuationMask32(p + i);
    for (; any != 0; any &= any - 1) {
      unsigned k = static_cast<unsigned>(__builtin_ctz(any));
      boundary(i + k, cont + static_cast<size_t>(__builtin_popcount(is_cont & ((1u << k) - 1))));
    }
    cont += static_cast<size_t>(__builtin_popcount(is_cont));
  }
#endif
  // The rest byte by byte; a boundary the vector loop already took ends before i (a "\r\n" split
  // across the edge was taken at its '\n', which LineBreakAt finds at the '\r' only when both are here).
  while (i < n) {
    size_t brk = i >= line_start ? LineBreakAt(s, i) : 0;
    if (brk == 0) {
      cont += (p[i] & 0xC0) == 0x80;
      ++i;
      continue;
    }
    // LineBreakAt reports "\r\n" at the '\r'; mark it at the '\n' as the vector loop does.
    size_t j = brk == 2 && p[i] == '\r' ? i + 1 : i;
    boundary(j, cont);
    for (size_t k = i; k < i + brk; ++k) cont += (p[k] & 0xC0) == 0x80;
    i += brk;
  }
  if (line_start < n) {
    size_t cps = (n - line_start) - (cont - cont_at_start);
    ++r.n;
    r.longest = std::max(r.longest, cps);
  }
  r.code_points = n - cont;
  lines_ = r;
  have_lines_ = true;
  return lines_;
}

bool TextAnalysis::is_ascii() {
  if (!have_ascii_) {
    ascii_ = IsAscii(text_);
    have_ascii_ = true;
  }
  return ascii_;
}

std::string_view TextAnalysis::lowered() {
  if (!have_lowered_) {
    // PyLowerTo needs 1.5x + 8 bytes; 32 more keep lowered() padded (see the header).
    if (lowered_.size() < text_.size() + text_.size() / 2 + 40) lowered_.resize(text_.size() + text_.size() / 2 + 40);
    lowered_len_ = PyLowerTo(text_, lowered_.data());
    have_lowered_ = true;
  }
  return std::string_view(lowered_.data(), lowered_len_);
}

}  // namespace sluice::text
