// Python str semantics on UTF-8; see pystr.h for the contract.
#include "ops/text/pystr.h"

#include <unicode/uchar.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/utf8.h"

namespace sluice::text {

namespace detail {

static constexpr std::array<uint8_t, 256> BuildLineBreakLead() {
  std::array<uint8_t, 256> t{};
  for (int c : {0x0A, 0x0B, 0x0C, 0x1C, 0x1D, 0x1E}) t[c] = 1;
  t[0x0D] = 2;
  t[0xC2] = 3;
  t[0xE2] = 4;
  return t;
}
constexpr std::array<uint8_t, 256> kLineBreakLead = BuildLineBreakLead();

}  // namespace detail

bool IsAscii(std::string_view s) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data());
  unsigned char acc = 0;
  for (size_t i = 0; i < s.size(); ++i) acc |= p[i];  // vectorizes
  return acc < 0x80;
}

std::string_view PyStrip(std::string_view s) {
  size_t b = 0;
  while (b < s.size()) {
    size_t i = b;
    if (!IsPySpace(utf8::Next(s, i))) break;
    b = i;
  }
  size_t e = s.size();
  while (e > b) {
    size_t lead = e - 1;
    while ((static_cast<unsigned char>(s[lead]) & 0xC0) == 0x80) --lead;
    size_t i = lead;
    if (!IsPySpace(utf8::Next(s, i))) break;
    e = lead;
  }
  return s.substr(b, e - b);
}

std::optional<double> PyFloat(std::string_view s) {
  // As CPython: first every non-ASCII character becomes ASCII (whitespace a space, an Nd digit its value)
  // or the string is invalid; ASCII, \x1c-\x1f included, is kept as is.
  std::string t;
  t.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x7F) {
      t += s[i++];
      continue;
    }
    char32_t c = utf8::Next(s, i);
    if (IsPySpace(c)) t += ' ';
    else if (u_charType(static_cast<UChar32>(c)) == U_DECIMAL_DIGIT_NUMBER)
      t += static_cast<char>('0' + u_charDigitValue(static_cast<UChar32>(c)));
    else return std::nullopt;
  }
  // Underscores are checked on the whole string (whitespace included) and dropped.
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  std::string u;
  u.reserve(t.size());
  char prev = '\0';
  for (char c : t) {
    if (c == '_' ? !digit(prev) : (prev == '_' && !digit(c))) return std::nullopt;
    if (c != '_') u += c;
    prev = c;
  }
  if (prev == '_') return std::nullopt;
  // Only ASCII whitespace is stripped now: a \x1c left at an end makes the string invalid.
  size_t b = 0, e = u.size();
  while (b < e && IsAsciiSpace(u[b])) ++b;
  while (e > b && IsAsciiSpace(u[e - 1])) --e;
  std::string_view v(u.data() + b, e - b);
  size_t i = 0;
  bool neg = i < v.size() && v[i] == '-';
  if (i < v.size() && (v[i] == '+' || v[i] == '-')) ++i;
  std::string word(v.substr(i));
  for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (word == "inf" || word == "infinity") return neg ? -HUGE_VAL : HUGE_VAL;
  if (word == "nan") return std::nan("");
  // (digits [. digits] | . digits) [(e|E) [sign] digits], nothing after it
  auto digits = [&](size_t& k) {
    size_t start = k;
    while (k < v.size() && digit(v[k])) ++k;
    return k - start;
  };
  size_t mantissa = digits(i);
  if (i < v.size() && v[i] == '.') mantissa += digits(++i);
  if (mantissa == 0) return std::nullopt;
  if (i < v.size() && (v[i] == 'e' || v[i] == 'E')) {
    ++i;
    if (i < v.size() && (v[i] == '+' || v[i] == '-')) ++i;
    if (digits(i) == 0) return std::nullopt;
  }
  if (i != v.size()) return std::nullopt;
  return std::strtod(std::string(v).c_str(), nullptr);  // correctly rounded; out of range gives +-inf or 0
}

void SplitLines(std::string_view s, std::vector<std::string_view>& out) {
  out.clear();
  ForEachLine(s, [&](std::string_view line) { out.push_back(line); });
}

LineAndCodePointCount CountLinesAndCodePoints(std::string_view s) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), i = 0, breaks = 0, cont = 0;
#if defined(__AVX2__)
  for (; i + 34 <= n; i += 32) {  // LineBoundaryMask32 also reads the 2 bytes after the block
    breaks += static_cast<size_t>(__builtin_popcount(LineBoundaryMask32(p + i)));
    cont += static_cast<size_t>(__builtin_popcount(ContinuationMask32(p + i)));
  }
#endif
  for (size_t j = i; j < n; ++j) cont += (p[j] & 0xC0) == 0x80;
  while (i < n) {
    size_t brk = LineBreakAt(s, i);
    if (brk == 0) {
      ++i;
      continue;
    }
    ++breaks;
    i += brk;
  }
  // A last line without a boundary after it: the text does not end with one. The vector loop may have
  // counted the final boundary, so look at the end directly.
  bool ends_with_break = false;
  if (n > 0) {
    unsigned char c = p[n - 1];
    ends_with_break = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E ||
                      (n >= 2 && p[n - 2] == 0xC2 && c == 0x85) ||
                      (n >= 3 && p[n - 3] == 0xE2 && p[n - 2] == 0x80 && (c == 0xA8 || c == 0xA9));
  }
  return {breaks + (n > 0 && !ends_with_break ? 1 : 0), n - cont};
}

namespace {

bool IcuIsAlpha(char32_t c) {
  return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_L_MASK) != 0;
}

bool IcuIsAlnum(char32_t c) {
  return IcuIsAlpha(c) || u_getIntPropertyValue(static_cast<UChar32>(c), UCHAR_NUMERIC_TYPE) != U_NT_NONE;
}

// Bitmaps over the BMP (8 KiB each), built once on first use; astral code points ask ICU directly.
struct BmpTables {
  uint64_t alpha[0x10000 / 64] = {};
  uint64_t alnum[0x10000 / 64] = {};
  BmpTables() {
    for (char32_t c = 0; c < 0x10000; ++c) {
      if (IcuIsAlpha(c)) alpha[c >> 6] |= uint64_t{1} << (c & 63);
      if (IcuIsAlnum(c)) alnum[c >> 6] |= uint64_t{1} << (c & 63);
    }
  }
};

const BmpTables& Tables() {
  static const BmpTables t;
  return t;
}

}  // namespace

bool IsPyAlphaNonAscii(char32_t c) {
  if (c < 0x10000) return (Tables().alpha[c >> 6] >> (c & 63)) & 1;
  return IcuIsAlpha(c);
}

bool IsPyAlnumNonAscii(char32_t c) {
  if (c < 0x10000) return (Tables().alnum[c >> 6] >> (c & 63)) & 1;
  return IcuIsAlnum(c);
}

namespace {

bool CaseIgnorable(char32_t c) { return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_CASE_IGNORABLE); }
bool Cased(char32_t c) { return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_CASED); }

// Python's rule for U+03A3 (the Final_Sigma condition of SpecialCasing): final form when preceded by a
// cased letter (skipping case-ignorable code points) and not followed by one (same skipping).
bool FinalSigma(std::string_view s, size_t at, size_t after) {
  size_t i = at;
  bool before_cased = false;
  while (i > 0) {
    size_t lead = i - 1;
    while ((static_cast<unsigned char>(s[lead]) & 0xC0) == 0x80) --lead;
    size_t j = lead;
    char32_t c = utf8::Next(s, j);
    i = lead;
    if (!CaseIgnorable(c)) {
      before_cased = Cased(c);
      break;
    }
  }
  if (!before_cased) return false;
  size_t j = after;
  while (j < s.size()) {
    char32_t c = utf8::Next(s, j);
    if (!CaseIgnorable(c)) return !Cased(c);
  }
  return true;
}

}  // namespace

size_t PyLowerTo(std::string_view s, char* out) {
  char* w = out;
  size_t i = 0, n = s.size();
  while (i < n) {
#if defined(__AVX2__)
    // 32 ASCII bytes at a time (most text): add 0x20 to 'A'..'Z'.
    if (i + 32 <= n) {
      __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.data() + i));
      if (_mm256_movemask_epi8(v) == 0) {
        __m256i upper = _mm256_and_si256(_mm256_cmpgt_epi8(v, _mm256_set1_epi8('A' - 1)),
                                         _mm256_cmpgt_epi8(_mm256_set1_epi8('Z' + 1), v));
        v = _mm256_or_si256(v, _mm256_and_si256(upper, _mm256_set1_epi8(0x20)));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(w), v);
        w += 32;
        i += 32;
        continue;
      }
    }
#endif
    if (i + 8 <= n) {
      uint64_t x;
      std::memcpy(&x, s.data() + i, 8);
      if ((x & 0x8080808080808080ull) == 0) {  // 8 ASCII bytes: lowercase them at once
        x = AsciiLower8(x);
        std::memcpy(w, &x, 8);
        w += 8;
        i += 8;
        continue;
      }
    }
    unsigned char b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      *w++ = static_cast<char>(b + ((static_cast<unsigned>(b - 'A') < 26u) << 5));
      ++i;
      continue;
    }
    size_t at = i;
    char32_t c = utf8::Next(s, i);
    char32_t lc;
    if (c == 0x130) {
      *w++ = 'i';
      lc = 0x307;
    } else if (c == 0x3A3) {
      lc = FinalSigma(s, at, i) ? 0x3C2 : 0x3C3;
    } else {
      lc = static_cast<char32_t>(u_tolower(static_cast<UChar32>(c)));
    }
    w += utf8::Encode(lc, w);
  }
  return static_cast<size_t>(w - out);
}

void PyLowerAppend(std::string_view s, std::string& out) {
  size_t at = out.size();
  out.resize(at + s.size() * 3 / 2 + 8);
  out.resize(at + PyLowerTo(s, out.data() + at));
}

}  // namespace sluice::text
