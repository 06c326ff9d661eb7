#include "ops/text/ftfy.h"

#include <unicode/normalizer2.h>
#include <unicode/bytestream.h>

#include <algorithm>
#include <cstring>
#include <string_view>

#include "core/error.h"
#include "ops/text/ftfy_tables.h"
#include "ops/text/pystr.h"
#include "ops/text/simd.h"
#include "core/utf8.h"

namespace sluice::ftfy {
namespace {

namespace t = tables;

constexpr size_t kMaxSegment = 1000000;  // TextFixerConfig.max_decode_length, in code points
constexpr int kLatin1 = 0, kSloppy1252 = 1, kMacRoman = 8;

// ---------------------------------------------------------------------------------------------------------
// Character classes

inline uint64_t ClassMask(char32_t c) {
  if (c < t::kClassDirect) return t::kClassMasks[t::kClassIndex[c]];
  const t::ClassEntry* end = t::kClassFar + t::kClassFarSize;
  const t::ClassEntry* e = std::lower_bound(t::kClassFar, end, c, [](const t::ClassEntry& a, char32_t v) { return a.cp < v; });
  return e != end && e->cp == c ? e->mask : 0;
}

inline bool InClass(char32_t c, int bit) { return (ClassMask(c) >> bit) & 1; }

inline bool IsAsciiLetter(char32_t c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }

// One element of a badness pattern against the character at position `pos` of s.
inline bool ElemMatches(const t::Elem& e, char32_t c, uint64_t mask) {
  switch (e.kind) {
    case t::Elem::kClass: return (mask >> e.arg) & 1;
    case t::Elem::kChar: return c == e.arg;
    case t::Elem::kSpace: return text::IsPySpace(c);
    case t::Elem::kWord: return c == '_' || text::IsPyAlnum(c);
    case t::Elem::kDot: return c != '\n';
    case t::Elem::kNotAsciiLetter: return !IsAsciiLetter(c);
    case t::Elem::kStart: return false;  // zero-width, handled by MatchAt
  }
  return false;
}

// Whether pattern p matches s at `start` (the position of its first consuming element).
bool MatchAt(const t::Pattern& p, std::u32string_view s, size_t start) {
  size_t pos = start;
  for (int k = 0; k < p.len; ++k) {
    const t::Elem& e = p.elems[k];
    if (e.kind == t::Elem::kStart) {
      if (pos != 0) return false;
      continue;
    }
    if (pos >= s.size()) return false;
    char32_t c = s[pos];
    if (!ElemMatches(e, c, ClassMask(c))) return false;
    ++pos;
  }
  return true;
}

// badness.is_bad: does any BADNESS_RE alternative match anywhere? Every pattern has a key element that
// only non-ASCII characters match, so only positions holding a classified non-ASCII character can anchor
// a match.
bool IsBadWide(std::u32string_view s) {
  for (size_t q = 0; q < s.size(); ++q) {
    char32_t c = s[q];
    if (c < 0x80) continue;
    uint64_t m = ClassMask(c);
    if (m == 0) continue;
    for (size_t k = 0; k < t::kBadnessSize; ++k) {
      const t::Pattern& p = t::kBadness[k];
      if (!ElemMatches(p.elems[p.key], c, m)) continue;
      size_t offset = p.key - (p.elems[0].kind == t::Elem::kStart ? 1 : 0);
      if (q >= offset && MatchAt(p, s, q - offset)) return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------------
// Single-byte codecs

const t::CharmapEntry* FindCharmap(char32_t c) {
  const t::CharmapEntry* end = t::kCharmapEncode + t::kCharmapEncodeSize;
  const t::CharmapEntry* e =
      std::lower_bound(t::kCharmapEncode, end, c, [](const t::CharmapEntry& a, char32_t v) { return a.cp < v; });
  return e != end && e->cp == c ? e : nullptr;
}

// Bit k set iff every character of s can be encoded in codec k (chardata.possible_encoding).
unsigned PossibleCharmaps(std::u32string_view s) {
  unsigned all = (1u << t::kNumCharmaps) - 1, possible = all;
  for (char32_t c : s) {
    if (c < 0x80) {
      if (c == 0x1A)
        for (int k = 0; k < t::kNumCharmaps; ++k)
          if (t::kCharmapSloppy[k]) possible &= ~(1u << k);
      continue;
    }
    const t::CharmapEntry* e = FindCharmap(c);
    if (e == nullptr) return 0;
    for (int k = 0; k < t::kNumCharmaps; ++k)
      if (e->byte[k] == 0) possible &= ~(1u << k);
    if (possible == 0) return 0;
  }
  return possible;
}

void EncodeCharmap(std::u32string_view s, int k, std::string& out) {
  out.clear();
  for (char32_t c : s) out += static_cast<char>(c < 0x80 ? c : FindCharmap(c)->byte[k]);
}

inline bool IsCont(uint8_t b) { return b >= 0x80 && b <= 0xBF; }
inline bool IsContExcept(uint8_t b) { return b >= 0x80 && b <= 0xBF && b != 0x85 && b != 0xA0; }

// Length of the chardata.ALTERED_UTF8_RE match at b[i] (0 if none): UTF-8 sequences that would be valid if
// a space were byte A0. At most one alternative can match at a position.
size_t AlteredAt(std::string_view b, size_t i) {
  auto at = [&](size_t j) -> int { return j < b.size() ? static_cast<uint8_t>(b[j]) : -1; };
  int c = at(i);
  switch (c) {
    case 0xC2: case 0xC3: case 0xC5: case 0xCE: case 0xD0: case 0xD9:
      return at(i + 1) == ' ' ? 2 : 0;
    case 0xE0: case 0xE1: case 0xE2: case 0xE3: {
      bool lead23 = c == 0xE2 || c == 0xE3;
      int b1 = at(i + 1), b2 = at(i + 2);
      if (lead23 && b1 == ' ' && b2 >= 0 && IsContExcept(static_cast<uint8_t>(b2))) return 3;
      if (b1 >= 0 && IsContExcept(static_cast<uint8_t>(b1)) && b2 == ' ') return 3;
      return 0;
    }
    case 0xF0: {
      int spaces = 0;
      for (size_t j = 1; j <= 3; ++j) {
        int x = at(i + j);
        if (x == ' ') ++spaces;
        else if (x < 0 || !IsCont(static_cast<uint8_t>(x))) return 0;
      }
      return spaces == 1 ? 4 : 0;
    }
    default: return 0;
  }
}

bool AlteredSearch(std::string_view b) {
  for (size_t i = 0; i < b.size(); ++i)
    if (AlteredAt(b, i)) return true;
  return false;
}

// fixes.restore_byte_a0: first "\xc3 " not starting " ", "quele", "quela", "quilo" or "s " becomes
// "\xc3\xa0 " (so "Ã la" decodes as "à la"), then spaces inside ALTERED_UTF8_RE matches become A0.
void RestoreByteA0(std::string& b, std::string& tmp) {
  tmp.clear();
  for (size_t i = 0; i < b.size(); ++i) {
    tmp += b[i];
    if (static_cast<uint8_t>(b[i]) == 0xC3 && i + 1 < b.size() && b[i + 1] == ' ') {
      std::string_view rest = std::string_view(b).substr(i + 2);
      if (!(rest.starts_with(" ") || rest.starts_with("quele") || rest.starts_with("quela") ||
            rest.starts_with("quilo") || rest.starts_with("s "))) {
        tmp += '\xA0';
        tmp += ' ';
        ++i;
      }
    }
  }
  b.clear();
  for (size_t i = 0; i < tmp.size();) {
    size_t n = AlteredAt(tmp, i);
    if (n == 0) {
      b += tmp[i++];
      continue;
    }
    for (size_t j = i; j < i + n; ++j) b += tmp[j] == ' ' ? '\xA0' : tmp[j];
    i += n;
  }
}

// Length of the chardata.LOSSY_UTF8_RE match at b[i] (0 if none): UTF-8 / CESU-8 sequences where byte 1A
// (a sloppy codec's U+FFFD) or, once, '?' replaced continuation bytes. Alternatives in the regex's order.
size_t LossyAt(std::string_view b, size_t i) {
  auto at = [&](size_t j) -> int { return j < b.size() ? static_cast<uint8_t>(b[j]) : -1; };
  auto in = [](int x, int lo, int hi) { return x >= lo && x <= hi; };
  auto sub = [&](int x) { return x == 0x1A; };
  auto subq = [&](int x) { return x == 0x1A || x == '?'; };
  auto subc = [&](int x) { return x == 0x1A || in(x, 0x80, 0xBF); };
  auto subqc = [&](int x) { return x == 0x1A || x == '?' || in(x, 0x80, 0xBF); };
  int c = at(i), b1 = at(i + 1), b2 = at(i + 2), b3 = at(i + 3), b4 = at(i + 4), b5 = at(i + 5);
  if (in(c, 0xC2, 0xDF) && sub(b1)) return 2;
  if (in(c, 0xC2, 0xC3) && b1 == '?') return 2;
  if (c == 0xED && in(b1, 0xA0, 0xAF) && subq(b2) && b3 == 0xED && in(b4, 0xB0, 0xBF) && subqc(b5)) return 6;
  if (c == 0xED && in(b1, 0xA0, 0xAF) && subqc(b2) && b3 == 0xED && in(b4, 0xB0, 0xBF) && subq(b5)) return 6;
  if (in(c, 0xE0, 0xEF) && subq(b1) && subc(b2)) return 3;
  if (in(c, 0xE0, 0xEF) && subc(b1) && subq(b2)) return 3;
  if (in(c, 0xF0, 0xF4) && subq(b1) && subc(b2) && subc(b3)) return 4;
  if (in(c, 0xF0, 0xF4) && subc(b1) && subq(b2) && subc(b3)) return 4;
  if (in(c, 0xF0, 0xF4) && subc(b1) && subc(b2) && subq(b3)) return 4;
  if (sub(c)) return 1;
  return 0;
}

// fixes.replace_lossy_sequences: each LOSSY_UTF8_RE match becomes the UTF-8 of U+FFFD.
void ReplaceLossy(std::string& b, std::string& tmp) {
  if (b.find('\x1A') == std::string::npos && b.find('?') == std::string::npos) return;
  tmp.clear();
  for (size_t i = 0; i < b.size();) {
    size_t n = LossyAt(b, i);
    if (n == 0) {
      tmp += b[i++];
    } else {
      tmp += "\xEF\xBF\xBD";
      i += n;
    }
  }
  b.swap(tmp);
}

// Python's strict UTF-8 decoder; with `variants` (ftfy's "utf-8-variants") also C0 80 as U+0000 and
// CESU-8 surrogate pairs as the supplementary character. False on any error.
bool DecodeUtf8(std::string_view b, bool variants, std::u32string& out) {
  out.clear();
  size_t n = b.size();
  auto at = [&](size_t j) -> uint8_t { return j < n ? static_cast<uint8_t>(b[j]) : 0; };
  for (size_t i = 0; i < n;) {
    uint8_t c = at(i);
    if (c < 0x80) {
      out += c;
      ++i;
      continue;
    }
    if (variants && c == 0xC0 && i + 1 < n && at(i + 1) == 0x80) {
      out += U'\0';
      i += 2;
      continue;
    }
    if (variants && c == 0xED && i + 5 < n && at(i + 1) >= 0xA0 && at(i + 1) <= 0xAF && IsCont(at(i + 2)) &&
        at(i + 3) == 0xED && at(i + 4) >= 0xB0 && at(i + 4) <= 0xBF && IsCont(at(i + 5))) {
      out += static_cast<char32_t>(((at(i + 1) & 0x0F) << 16) + ((at(i + 2) & 0x3F) << 10) + ((at(i + 4) & 0x0F) << 6) +
                                   (at(i + 5) & 0x3F) + 0x10000);
      i += 6;
      continue;
    }
    int len;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (i + len > n) return false;
    uint8_t b1 = at(i + 1);
    if (b1 < lo || b1 > hi) return false;
    char32_t cp = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
    for (int j = 1; j < len; ++j) {
      uint8_t x = at(i + j);
      if (!IsCont(x)) return false;
      cp = (cp << 6) | (x & 0x3F);
    }
    out += cp;
    i += len;
  }
  return true;
}

void FixEncodingWide(std::u32string& s);

// fixes.decode_inconsistent_utf8: runs that look like UTF-8 read in a single-byte codec
// (chardata.UTF8_DETECTOR_RE, not preceded by a strict continuation character) are fixed on their own when
// they are shorter than s and look bad themselves.
bool DecodeInconsistent(const std::u32string& s, std::u32string& out) {
  out.clear();
  bool found = false;
  // End of the greedy (first-byte continuation{n})+ run at i (i if none). The regex tries its alternatives
  // in order, so a character in several first-byte classes takes the first whose continuations follow.
  auto run_at = [&](size_t i) {
    size_t p = i;
    while (p < s.size()) {
      uint64_t m = ClassMask(s[p]);
      size_t take = 0;
      for (size_t k = 1; k <= 3 && take == 0; ++k) {
        int bit = k == 1 ? t::kFirst2 : k == 2 ? t::kFirst3 : t::kFirst4;
        if (!((m >> bit) & 1)) continue;
        bool ok = p + k < s.size();
        for (size_t j = 1; ok && j <= k; ++j) ok = InClass(s[p + j], t::kCont);
        if (ok) take = k + 1;
      }
      if (take == 0) break;
      p += take;
    }
    return p;
  };
  for (size_t i = 0; i < s.size();) {
    size_t e = (i == 0 || !InClass(s[i - 1], t::kContStrict)) ? run_at(i) : i;
    if (e == i) {
      out += s[i++];
      continue;
    }
    std::u32string sub = s.substr(i, e - i);
    if (sub.size() < s.size() && IsBadWide(sub)) {
      FixEncodingWide(sub);
      found = true;
    }
    out += sub;
    i = e;
  }
  return found;
}

// One step of ftfy._fix_encoding_one_step_and_explain; returns false when s is left as it is.
bool FixEncodingStep(std::u32string& s) {
  if (s.empty()) return false;
  bool ascii = std::all_of(s.begin(), s.end(), [](char32_t c) { return c < 0x80; });
  if (ascii || !IsBadWide(s)) return false;
  unsigned possible = PossibleCharmaps(s);
  std::string bytes, tmp;
  std::u32string fixed;
  for (int k = 0; k < t::kNumCharmaps; ++k) {
    if (!((possible >> k) & 1)) continue;
    EncodeCharmap(s, k, bytes);
    if (k != kMacRoman && AlteredSearch(bytes)) RestoreByteA0(bytes, tmp);
    if (t::kCharmapSloppy[k]) ReplaceLossy(bytes, tmp);
    bool variants = bytes.find('\xED') != std::string::npos || bytes.find('\xC0') != std::string::npos;
    if (DecodeUtf8(bytes, variants, fixed)) {
      bool changed = fixed != s;
      s.swap(fixed);
      return changed;
    }
  }
  bool detector = false;
  for (size_t i = 0; i + 1 < s.size() && !detector; ++i) {
    uint64_t m = ClassMask(s[i]);
    detector = (m & ((1ull << t::kFirst2) | (1ull << t::kFirst3) | (1ull << t::kFirst4))) != 0;
  }
  if (detector && DecodeInconsistent(s, fixed) && fixed != s) {
    s.swap(fixed);
    return true;
  }
  bool has_c1 = std::any_of(s.begin(), s.end(), [](char32_t c) { return c >= 0x80 && c <= 0x9F; });
  if ((possible >> kLatin1) & 1) {
    // ftfy checks for "windows-1252" among the possible codecs, a name its list never holds (it has
    // "sloppy-windows-1252"), so Latin-1 text goes on to the strict windows-1252 reading.
    bool strict_ok = std::none_of(s.begin(), s.end(), [](char32_t c) {
      return c == 0x81 || c == 0x8D || c == 0x8F || c == 0x90 || c == 0x9D;
    });
    if (strict_ok && has_c1) {
      for (char32_t& c : s)
        if (c >= 0x80 && c <= 0x9F) c = t::kCharmapDecode[kSloppy1252][c];
      return true;
    }
  }
  if (has_c1) {
    bool changed = false;
    for (char32_t& c : s)
      if (c >= 0x80 && c <= 0x9F) {
        char32_t r = t::kCharmapDecode[kSloppy1252][c];
        changed |= r != c;
        c = r;
      }
    return changed;
  }
  return false;
}

void FixEncodingWide(std::u32string& s) {
  while (FixEncodingStep(s)) {
  }
}

void ToWide(std::string_view s, std::u32string& out) {
  out.clear();
  for (size_t i = 0; i < s.size();) out += utf8::Next(s, i);
}

void ToUtf8(std::u32string_view s, std::string& out) {
  out.clear();
  for (char32_t c : s) utf8::Append(out, c);
}

// ---------------------------------------------------------------------------------------------------------
// Per-character fixes

// HTML's numeric character reference rules (Python's html.unescape): the replacement for code point n
// (out of range or surrogate -> U+FFFD; C1 positions -> windows-1252; "invalid" code points -> nothing).
void AppendCharRef(uint64_t n, std::string& out) {
  if (n == 0) return utf8::Append(out, 0xFFFD);
  if (n == 0x0D) return utf8::Append(out, '\r');
  if (n >= 0x80 && n <= 0x9F) return utf8::Append(out, t::kCharmapDecode[kSloppy1252][n]);
  if ((n >= 0xD800 && n <= 0xDFFF) || n > 0x10FFFF) return utf8::Append(out, 0xFFFD);
  if ((n >= 0x01 && n <= 0x08) || n == 0x0B || (n >= 0x0E && n <= 0x1F) || (n >= 0x7F && n <= 0x9F) ||
      (n >= 0xFDD0 && n <= 0xFDEF) || (n & 0xFFFE) == 0xFFFE)
    return;
  utf8::Append(out, static_cast<char32_t>(n));
}

inline bool IsAsciiAlnum(char c) { return (c >= '0' && c <= '9') || IsAsciiLetter(static_cast<unsigned char>(c)); }

// End of the "&#?[0-9A-Za-z]{1,24};" token (chardata.HTML_ENTITY_RE) starting at the '&' s[i], or 0.
size_t EntityEnd(std::string_view s, size_t i) {
  size_t j = i + 1;
  if (j < s.size() && s[j] == '#') ++j;
  size_t k = j;
  while (k < s.size() && k - j < 25 && IsAsciiAlnum(s[k])) ++k;
  return k > j && k - j <= 24 && k < s.size() && s[k] == ';' ? k + 1 : 0;
}

// Replacement of one "&#?[0-9A-Za-z]{1,24};" token; false when ftfy keeps it as it is.
bool UnescapeToken(std::string_view tok, std::string& out) {
  const t::Entity* end = t::kEntities + t::kEntitiesSize;
  const t::Entity* e =
      std::lower_bound(t::kEntities, end, tok, [](const t::Entity& a, std::string_view v) { return a.name < v; });
  if (e != end && e->name == tok) {
    out += e->value;
    return true;
  }
  if (tok[1] != '#') return false;
  std::string_view body = tok.substr(2, tok.size() - 3);
  bool hex = body[0] == 'x' || body[0] == 'X';
  std::string_view digits = hex ? body.substr(1) : body;
  if (digits.empty()) return false;
  uint64_t n = 0;
  for (char c : digits) {
    int d = c >= '0' && c <= '9' ? c - '0' : hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;
    if (d < 0) return false;  // html.unescape stops before this character, leaving the ';' in place
    n = std::min<uint64_t>(n * (hex ? 16 : 10) + static_cast<uint64_t>(d), uint64_t{1} << 40);
  }
  size_t before = out.size();
  AppendCharRef(n, out);
  if (out.find(';', before) != std::string::npos) {  // "&#59;": the result holds ';', ftfy keeps the text
    out.resize(before);
    return false;
  }
  return true;
}

// Ligatures ftfy breaks (chardata.LIGATURES), sorted by code point.
struct Ligature {
  char32_t cp;
  const char* text;
};
constexpr Ligature kLigatures[] = {
    {0x0132, "IJ"}, {0x0133, "ij"}, {0x0149, "\xCA\xBCn"}, {0x01C4, "D\xC5\xBD"}, {0x01C5, "D\xC5\xBE"},
    {0x01C6, "d\xC5\xBE"}, {0x01C7, "LJ"}, {0x01C8, "Lj"}, {0x01C9, "lj"}, {0x01CA, "NJ"}, {0x01CB, "Nj"},
    {0x01CC, "nj"}, {0x01F1, "DZ"}, {0x01F2, "Dz"}, {0x01F3, "dz"}, {0xFB00, "ff"}, {0xFB01, "fi"}, {0xFB02, "fl"},
    {0xFB03, "ffi"}, {0xFB04, "ffl"}, {0xFB05, "\xC5\xBFt"}, {0xFB06, "st"},
};

const char* LigatureOf(char32_t c) {
  for (const Ligature& l : kLigatures)
    if (l.cp == c) return l.text;
  return nullptr;
}

// Appends what the fixers from `stage` on (0 c1 controls, 1 ligatures, 2 width, 3 quotes, 4 line breaks)
// make of c; `next` is the character after c (for "\r\n"). Returns false if c maps to itself.
bool MapChar(char32_t c, int stage, char32_t next, std::string& out) {
  auto rest = [&](const char* s, int from) {
    std::string_view v(s);
    for (size_t i = 0; i < v.size();) {
      char32_t d = utf8::Next(v, i);
      if (!MapChar(d, from, 0, out)) utf8::Append(out, d);
    }
    return true;
  };
  if (stage <= 0 && c >= 0x80 && c <= 0x9F) {
    char32_t r = t::kCharmapDecode[kSloppy1252][c];
    if (r != c) {
      if (!MapChar(r, 1, next, out)) utf8::Append(out, r);
      return true;
    }
  }
  if (stage <= 1 && ((c >= 0x132 && c <= 0x1F3) || (c >= 0xFB00 && c <= 0xFB06)))
    if (const char* l = LigatureOf(c)) return rest(l, 2);
  if (stage <= 2) {
    if (c == 0x3000) return rest(" ", 3);
    if (c >= 0xFF01 && c < 0xFFF0 && t::kWidthMap[c - 0xFF01] != nullptr) return rest(t::kWidthMap[c - 0xFF01], 3);
  }
  if (stage <= 3) {
    if (c == 0x2BC || (c >= 0x2018 && c <= 0x201B)) return out += '\'', true;
    if (c >= 0x201C && c <= 0x201F) return out += '"', true;
  }
  if (stage <= 4) {
    if (c == '\r') {
      if (next != '\n') out += '\n';
      return true;
    }
    if (c == 0x2028 || c == 0x2029) return out += '\n', true;
  }
  return false;
}

// Lead bytes of the characters MapChar changes (plus '\r').
constexpr bool IsMapLead(unsigned char b) {
  return b == '\r' || b == 0xC2 || b == 0xC4 || b == 0xC5 || b == 0xC7 || b == 0xCA || b == 0xE2 || b == 0xE3 ||
         b == 0xEF;
}

inline bool IsControl(char32_t c) {
  return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || (c >= 0x206A && c <= 0x206F) ||
         c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
}

// Length of the terminal escape ESC '[' [0-9;]* [A-Za-z] at s[i] (0 if none).
size_t TerminalEscapeAt(std::string_view s, size_t i) {
  if (s[i] != '\x1B' || i + 1 >= s.size() || s[i + 1] != '[') return 0;
  size_t j = i + 2;
  while (j < s.size() && ((s[j] >= '0' && s[j] <= '9') || s[j] == ';')) ++j;
  return j < s.size() && IsAsciiLetter(static_cast<unsigned char>(s[j])) ? j + 1 - i : 0;
}

// Smallest j >= i with s[j] >= 0x80, or s[j] in `ascii` and not in `except`; s.size() if none. Called at
// character boundaries, it returns one (the ASCII bytes before a lead byte are skipped 32 at a time).
inline size_t NextCandidate(std::string_view s, size_t i, const text::ByteSet& ascii, const text::ByteSet& except) {
  const char* p = s.data();
  size_t n = s.size();
  for (; i + 32 <= n; i += 32) {
    uint32_t m = text::NonAscii32(p + i) | (text::SetMask32(p + i, ascii) & ~text::SetMask32(p + i, except));
    if (m != 0) return i + static_cast<size_t>(__builtin_ctz(m));
  }
  for (; i < n; ++i) {
    unsigned char b = static_cast<unsigned char>(p[i]);
    if (b >= 0x80 || (ascii.Has(b) && !except.Has(b))) return i;
  }
  return n;
}

constexpr text::ByteSet kNone({});
constexpr text::ByteSet kCr({'\r'});
// ASCII control characters remove_control_chars drops (U+0000..U+001F and U+007F but tab, LF, FF, CR).
constexpr text::ByteSet kCtl({0x7F}, 0x1F);
constexpr text::ByteSet kCtlHarmless({'\t', '\n', '\f', '\r'});
// ASCII bytes that make the whole text worth a closer look: '&', '\r' and the control characters.
constexpr text::ByteSet kTriggers({'&', 0x7F}, 0x1F);
constexpr text::ByteSet kTriggersHarmless({'\t', '\n', '\f'});

// Whether a non-ASCII character is one a per-character step (c1, ligature, width, quotes, line breaks,
// control characters) changes, or one the mojibake heuristic looks at.
inline bool TouchedNonAscii(char32_t c) {
  return ClassMask(c) != 0 || (c >= 0x132 && c <= 0x1F3 && LigatureOf(c)) || c == 0x2BC ||
         (c >= 0x2018 && c <= 0x201F) || c == 0x2028 || c == 0x2029 || c == 0x3000 ||
         (c >= 0xFB00 && c <= 0xFB06) || (c >= 0xFF01 && c < 0xFFF0 && t::kWidthMap[c - 0xFF01]) || IsControl(c);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Steps

bool UnescapeHtml(std::string& s, std::string& tmp) {
  size_t amp = s.find('&');
  if (amp == std::string::npos) return false;
  tmp.assign(s, 0, amp);
  bool changed = false;
  size_t i = amp;
  while (i < s.size()) {
    if (s[i] != '&') {
      size_t next = s.find('&', i);
      if (next == std::string::npos) next = s.size();
      tmp.append(s, i, next - i);
      i = next;
      continue;
    }
    if (size_t end = EntityEnd(s, i); end != 0) {
      std::string_view tok(s.data() + i, end - i);
      if (UnescapeToken(tok, tmp)) changed = true;
      else tmp.append(tok);
      i = end;
    } else {
      tmp += '&';
      ++i;
    }
  }
  if (changed) s.swap(tmp);
  return changed;
}

bool IsBad(std::string_view s) {
  std::u32string w;
  ToWide(s, w);
  return IsBadWide(w);
}

bool FixEncoding(std::string& s, std::u32string& tmp) {
  // Cheap exits first: ASCII never changes, nor does text without a character the heuristic classifies.
  bool classified = false;
  for (size_t i = NextCandidate(s, 0, kNone, kNone); i < s.size() && !classified; i = NextCandidate(s, i, kNone, kNone))
    classified = ClassMask(utf8::Next(s, i)) != 0;
  if (!classified) return false;
  ToWide(s, tmp);
  if (!FixEncodingStep(tmp)) return false;
  FixEncodingWide(tmp);
  std::string out;
  ToUtf8(tmp, out);
  if (out == s) return false;
  s.swap(out);
  return true;
}

bool FixCharacters(std::string& s, std::string& tmp) {
  bool changed = false;
  size_t copied = 0;
  for (size_t i = NextCandidate(s, 0, kCr, kNone); i < s.size(); i = NextCandidate(s, i, kCr, kNone)) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    size_t start = i;
    char32_t c = utf8::Next(s, i);
    if (!IsMapLead(b)) continue;
    size_t peek = i;
    char32_t next = i < s.size() ? utf8::Next(s, peek) : 0;
    if (!changed) tmp.clear();
    size_t mark = tmp.size();
    tmp.append(s, copied, start - copied);
    if (!MapChar(c, 0, next, tmp)) {
      tmp.resize(mark);
      continue;
    }
    changed = true;
    copied = i;
  }
  if (!changed) return false;
  tmp.append(s, copied, s.size() - copied);
  s.swap(tmp);
  return true;
}

bool RemoveControls(std::string& s, std::string& tmp) {
  bool changed = false;
  size_t copied = 0;
  for (size_t i = NextCandidate(s, 0, kCtl, kCtlHarmless); i < s.size(); i = NextCandidate(s, i, kCtl, kCtlHarmless)) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    size_t start = i, len;
    if (b < 0x80) {
      ++i;
      if (b == '\x1B' && (len = TerminalEscapeAt(s, start)) != 0) i = start + len;
    } else if (!IsControl(utf8::Next(s, i))) {
      continue;
    }
    if (!changed) tmp.clear();
    tmp.append(s, copied, start - copied);
    changed = true;
    copied = i;
  }
  if (!changed) return false;
  tmp.append(s, copied, s.size() - copied);
  s.swap(tmp);
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// Fixer

Fixer::Fixer(Normalization n) {
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* norm = nullptr;
  switch (n) {
    case Normalization::kNFC: norm = icu::Normalizer2::getNFCInstance(err); break;
    case Normalization::kNFKC: norm = icu::Normalizer2::getNFKCInstance(err); break;
    case Normalization::kNFD: norm = icu::Normalizer2::getNFDInstance(err); break;
    case Normalization::kNFKD: norm = icu::Normalizer2::getNFKDInstance(err); break;
  }
  if (U_FAILURE(err) || norm == nullptr) Fail(ErrorKind::kUsage, "fix_unicode_mapper: ICU normalizer unavailable: {}", u_errorName(err));
  normalizer_ = norm;
}

bool Fixer::Normalize(std::string& s) {
  if (text::IsAscii(s)) return false;  // ASCII is invariant under every normalization form
  auto* norm = static_cast<const icu::Normalizer2*>(normalizer_);
  UErrorCode err = U_ZERO_ERROR;
  if (norm->isNormalizedUTF8(s, err) && U_SUCCESS(err)) return false;
  err = U_ZERO_ERROR;
  tmp_.clear();
  icu::StringByteSink<std::string> sink(&tmp_, static_cast<int32_t>(s.size()));
  norm->normalizeUTF8(0, s, sink, nullptr, err);
  if (U_FAILURE(err)) Fail(ErrorKind::kInternal, "fix_unicode_mapper: normalization failed: {}", u_errorName(err));
  if (tmp_ == s) return false;
  s.swap(tmp_);
  return true;
}

// Whether any step could change s: an '&', '\r' or control byte, a non-ASCII character some step maps or
// the mojibake heuristic looks at, or text that is not normalized.
bool Fixer::NeedsWork(std::string_view s) const {
  bool non_ascii = false;
  for (size_t i = NextCandidate(s, 0, kTriggers, kTriggersHarmless); i < s.size();
       i = NextCandidate(s, i, kTriggers, kTriggersHarmless)) {
    if (s[i] == '&') {  // only an entity-shaped "&#?[0-9A-Za-z]{1,24};" can be unescaped
      if (EntityEnd(s, i) != 0) return true;
      ++i;
      continue;
    }
    if (static_cast<unsigned char>(s[i]) < 0x80) return true;
    non_ascii = true;
    if (TouchedNonAscii(utf8::Next(s, i))) return true;
  }
  if (!non_ascii) return false;
  auto* norm = static_cast<const icu::Normalizer2*>(normalizer_);
  UErrorCode err = U_ZERO_ERROR;
  bool normalized = norm->isNormalizedUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())), err);
  return U_FAILURE(err) || !normalized;
}

void Fixer::FixSegment(std::string& seg, bool unescape) {
  while (true) {
    prev_.assign(seg);
    bool changed = false;
    if (unescape) changed |= UnescapeHtml(seg, tmp_);
    changed |= FixEncoding(seg, wide_);
    changed |= FixCharacters(seg, tmp_);
    changed |= RemoveControls(seg, tmp_);
    changed |= Normalize(seg);
    if (!changed || seg == prev_) return;
  }
}

bool Fixer::FixText(std::string& text) {
  if (!NeedsWork(text)) return false;
  out_.clear();
  bool unescape = true;
  std::string_view all(text);
  for (size_t pos = 0; pos < all.size();) {
    // Whole lines holding only bytes no step looks at (NeedsWork's: ASCII other than '&', '\r' and the
    // control characters) are segments no step changes: copy them at once. Only a '<' in them matters
    // (it ends HTML unescaping for the segments after it).
    size_t next = NextCandidate(all, pos, kTriggers, kTriggersHarmless);
    size_t cut = next == all.size() ? next : all.rfind('\n', next == 0 ? 0 : next - 1);
    if (next > pos && cut != std::string_view::npos && cut >= pos) {
      size_t skip_end = next == all.size() ? next : cut + 1;
      if (unescape && std::memchr(all.data() + pos, '<', skip_end - pos) != nullptr) unescape = false;
      out_.append(all.data() + pos, skip_end - pos);
      pos = skip_end;
      continue;
    }
    size_t end = all.find('\n', pos);
    end = end == std::string_view::npos ? all.size() : end + 1;
    if (end - pos > kMaxSegment) {  // more bytes than the limit: count code points
      size_t cps = 0, i = pos;
      while (i < end && cps < kMaxSegment) {
        i += text::SeqLen(static_cast<unsigned char>(all[i]));
        ++cps;
      }
      end = i;
    }
    std::string_view seg = all.substr(pos, end - pos);
    if (unescape && seg.find('<') != std::string_view::npos) unescape = false;
    if (!NeedsWork(seg)) {
      out_.append(seg);
    } else {
      seg_.assign(seg);
      FixSegment(seg_, unescape);
      out_.append(seg_);
    }
    pos = end;
  }
  if (out_ == text) return false;
  text.assign(out_);  // a copy, not a swap: the scratch buffers keep their capacity across records
  return true;
}

}  // namespace sluice::ftfy
