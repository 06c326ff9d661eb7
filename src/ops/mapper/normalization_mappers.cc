// Character normalization mappers: whitespace_normalization_mapper, punctuation_normalization_mapper
// (datajuicer-ops.md §4, §2.5).
//
// Contract:
//   whitespace_normalization_mapper: text.strip() (Python isspace set), then every character of
//     VARIOUS_WHITESPACES (U+0020 U+0009 U+2000-U+200A U+00A0 U+202F U+205F U+3000 U+200B U+200C U+200D
//     U+2060 U+FFFC U+0084) becomes one ASCII space; runs are not collapsed, '\n' and '\r' are kept.
//   punctuation_normalization_mapper: a fixed per-character map (fullwidth and CJK punctuation to ASCII,
//     '１' -> '"', '—' -> " - ", '．' -> ". ", '…' -> "..."; '‘' is not mapped); other characters unchanged.
// Both rewrite in place (every replacement is no longer than what it replaces), scan ASCII bytes without
// decoding, and return false without writing when nothing changes.
#include <cstring>

#include "ops/op.h"
#include "ops/text/pystr.h"
#include "ops/text/simd.h"
#include "core/utf8.h"

namespace sluice {
namespace {

// Byte length of a VARIOUS_WHITESPACES character starting at p[0] (n bytes available), or 0. ' ' is not
// reported (it maps to itself).
inline size_t WhitespaceAt(const unsigned char* p, size_t n) {
  switch (p[0]) {
    case '\t': return 1;
    case 0xC2: return (n >= 2 && (p[1] == 0xA0 || p[1] == 0x84)) ? 2 : 0;
    case 0xE2:
      if (n < 3) return 0;
      if (p[1] == 0x80) return (p[2] >= 0x80 && p[2] <= 0x8D) || p[2] == 0xAF ? 3 : 0;  // U+2000-200D, U+202F
      if (p[1] == 0x81) return (p[2] == 0x9F || p[2] == 0xA0) ? 3 : 0;                   // U+205F, U+2060
      return 0;
    case 0xE3: return (n >= 3 && p[1] == 0x80 && p[2] == 0x80) ? 3 : 0;  // U+3000
    case 0xEF: return (n >= 3 && p[1] == 0xBF && p[2] == 0xBC) ? 3 : 0;  // U+FFFC
    default: return 0;
  }
}

constexpr text::ByteSet kWhitespaceLeads{{'\t', 0xC2, 0xE2, 0xE3, 0xEF}};

// First VARIOUS_WHITESPACES character other than ' ' in v at or after i: its position (v.size() if none)
// and byte length.
inline size_t NextWhitespace(std::string_view v, size_t i, size_t* len) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(v.data());
  for (i = text::FindFirst(v, i, kWhitespaceLeads); i < v.size(); i = text::FindFirst(v, i + 1, kWhitespaceLeads))
    if ((*len = WhitespaceAt(p + i, v.size() - i)) != 0) return i;
  return v.size();
}

class WhitespaceNormalizationMapper : public Mapper {
 public:
  explicit WhitespaceNormalizationMapper(const Params&) : Mapper("whitespace_normalization_mapper") {}

  bool Map(std::string& text) override {
    std::string_view v = text::PyStrip(text);
    size_t b = static_cast<size_t>(v.data() - text.data());
    size_t len = 0;
    size_t r = NextWhitespace(v, 0, &len);
    if (r == v.size()) {
      if (b == 0 && v.size() == text.size()) return false;
      text.erase(b + v.size());
      text.erase(0, b);
      return true;
    }
    // Compact in place: every replacement (one space) is no longer than what it replaces.
    char* p = text.data();
    size_t w = 0, from = 0;  // write position in text; read position in v
    while (true) {
      std::memmove(p + w, v.data() + from, r - from);  // v points into text at or after p + w
      w += r - from;
      if (r == v.size()) break;
      p[w++] = ' ';
      from = r + len;
      r = NextWhitespace(v, from, &len);
    }
    text.resize(w);
    return true;
  }
};

// The punctuation map: replacement for code point c, or an empty view.
constexpr std::string_view PunctuationReplacement(char32_t c) {
  switch (c) {
    case 0xFF0C: return ",";    // ，
    case 0x3002: return ".";    // 。
    case 0x3001: return ",";    // 、
    case 0x201E: return "\"";   // „
    case 0x201D: return "\"";   // ”
    case 0x201C: return "\"";   // “
    case 0x00AB: return "\"";   // «
    case 0x00BB: return "\"";   // »
    case 0xFF11: return "\"";   // １
    case 0x300D: return "\"";   // 」
    case 0x300C: return "\"";   // 「
    case 0x300A: return "\"";   // 《
    case 0x300B: return "\"";   // 》
    case 0x00B4: return "'";    // ´
    case 0x2236: return ":";    // ∶
    case 0xFF1A: return ":";    // ：
    case 0xFF1F: return "?";    // ？
    case 0xFF01: return "!";    // ！
    case 0xFF08: return "(";    // （
    case 0xFF09: return ")";    // ）
    case 0xFF1B: return ";";    // ；
    case 0x2013: return "-";    // –
    case 0x2014: return " - ";  // —
    case 0xFF0E: return ". ";   // ．
    case 0xFF5E: return "~";    // ～
    case 0x2019: return "'";    // ’
    case 0x2026: return "...";  // …
    case 0x2501: return "-";    // ━
    case 0x3008: return "<";    // 〈
    case 0x3009: return ">";    // 〉
    case 0x3010: return "[";    // 【
    case 0x3011: return "]";    // 】
    case 0xFF05: return "%";    // ％
    case 0x25BA: return "-";    // ►
    default: return {};
  }
}

// The in-place rewrite below relies on every replacement being no longer than the UTF-8 it replaces.
constexpr bool ReplacementsShrink() {
  for (char32_t c : {0xFF0C, 0x3002, 0x3001, 0x201E, 0x201D, 0x201C, 0x00AB, 0x00BB, 0xFF11, 0x300D, 0x300C, 0x300A,
                     0x300B, 0x00B4, 0x2236, 0xFF1A, 0xFF1F, 0xFF01, 0xFF08, 0xFF09, 0xFF1B, 0x2013, 0x2014, 0xFF0E,
                     0xFF5E, 0x2019, 0x2026, 0x2501, 0x3008, 0x3009, 0x3010, 0x3011, 0xFF05, 0x25BA}) {
    size_t utf8_len = c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
    if (PunctuationReplacement(c).empty() || PunctuationReplacement(c).size() > utf8_len) return false;
  }
  return true;
}
static_assert(ReplacementsShrink());

// Every mapped character is encoded with one of these lead bytes (never continuation bytes).
constexpr text::ByteSet kPunctuationLeads{{0xC2, 0xE2, 0xE3, 0xEF}};

// First mapped character in v at or after i: its position (v.size() if none), byte length, replacement.
inline size_t NextPunctuation(std::string_view v, size_t i, size_t* len, std::string_view* rep) {
  for (i = text::FindFirst(v, i, kPunctuationLeads); i < v.size(); i = text::FindFirst(v, i + 1, kPunctuationLeads)) {
    size_t j = i;
    *rep = PunctuationReplacement(utf8::Next(v, j));
    if (!rep->empty()) {
      *len = j - i;
      return i;
    }
  }
  return v.size();
}

class PunctuationNormalizationMapper : public Mapper {
 public:
  explicit PunctuationNormalizationMapper(const Params&) : Mapper("punctuation_normalization_mapper") {}

  bool Map(std::string& text) override {
    size_t len = 0;
    std::string_view rep;
    size_t r = NextPunctuation(text, 0, &len, &rep);
    if (r == text.size()) return false;
    // In place: every replacement is no longer than what it replaces (ReplacementsShrink).
    char* p = text.data();
    size_t w = r, n = text.size();
    while (true) {
      std::memcpy(p + w, rep.data(), rep.size());
      w += rep.size();
      size_t from = r + len;
      r = NextPunctuation(std::string_view(p, n), from, &len, &rep);
      std::memmove(p + w, p + from, r - from);
      w += r - from;
      if (r == n) break;
    }
    text.resize(w);
    return true;
  }
};

}  // namespace

void RegisterNormalizationMappers(std::vector<OpDef>& ops) {
  ops.push_back({"whitespace_normalization_mapper", OpKind::kMapper,
                 "strip the text and turn every Unicode space / zero-width character into an ASCII space",
                 {}, [](const Params& p) { return std::make_unique<WhitespaceNormalizationMapper>(p); }});
  ops.push_back({"punctuation_normalization_mapper", OpKind::kMapper,
                 "map fullwidth and CJK punctuation to ASCII equivalents", {},
                 [](const Params& p) { return std::make_unique<PunctuationNormalizationMapper>(p); }});
}

}  // namespace sluice
