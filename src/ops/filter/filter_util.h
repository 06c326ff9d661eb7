// Helpers shared by the filter families (ops/filter/*.cc).
//
// Contract:
//   kMaxSize              DataJuicer's sys.maxsize default upper bound, as an int param default and as the
//                         float value 9223372036854775807.0 for ratio bounds (§1.4: compared numerically).
//   FilterText(s, slot)   the filter's text; a null/absent text is an error for that sample (DataJuicer
//                         raises on None), so the chain drops it under skip_op_error.
//   RejectTokenization(p) for ops whose `tokenization: true` is not wired to a tokenizer (e.g. the Hugging Face
//                         tokenizer of alphanumeric_filter): fails at construction with a kUsage error. Ops
//                         whose tokenizer is SentencePiece use text::TokenizerFromParams
//                         (ops/text/sentencepiece_tokenizer.h) instead.
//   FilterTextCodePoints(s, slot)  its length in code points, without decoding a text no op has read yet.
//   PositiveInt(p, name)  reads an int param that must be >= 1 (kUsage otherwise).
#pragma once

#include <cstdint>
#include <string>

#include "core/error.h"
#include "core/params.h"
#include "core/sample.h"
#include "core/utf8.h"

namespace sluice {

inline constexpr int64_t kMaxSizeInt = INT64_MAX;
inline constexpr double kMaxSizeFloat = 9223372036854775807.0;

inline const TextField& FilterField(const Sample& s, int slot) {
  const TextField& t = s.texts[static_cast<size_t>(slot)];
  if (t.is_null || !t.present) Fail(ErrorKind::kInput, "the text field is null or missing");
  return t;
}

inline const std::string& FilterText(const Sample& s, int slot) { return FilterField(s, slot).value(); }

// The filter text's length in code points (Python's len), counted on the input bytes while the text is
// still encoded (TextField::escape_excess), so a chain that only measures it never decodes it.
inline size_t FilterTextCodePoints(const Sample& s, int slot) {
  const TextField& t = FilterField(s, slot);
  if (t.decoded()) return utf8::CodePointCount(t.value());
  return utf8::CodePointCount(t.body()) - t.escape_excess;
}

inline void RejectTokenization(const Params& p, const char* op) {
  if (p.GetBool("tokenization"))
    Fail(ErrorKind::kUsage,
         "{}: tokenization: true needs a SentencePiece/HF tokenizer model, not supported yet", op);
}

inline int64_t PositiveInt(const Params& p, const std::string& name, const char* op) {
  int64_t v = p.GetInt(name);
  if (v < 1) Fail(ErrorKind::kUsage, "{}: {} must be a positive integer, got {}", op, name, v);
  return v;
}

}  // namespace sluice
