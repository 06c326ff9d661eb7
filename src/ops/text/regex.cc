// PCRE2 wrapper with Python `regex` dialect translation; see regex.h for the contract.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "ops/text/regex.h"

#include <fmt/format.h>

#include <pcre2.h>
#include <unicode/uchar.h>

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "ops/text/pystr.h"
#include "core/utf8.h"

namespace sluice::text {

std::string StripRawStringWrapper(std::string_view p) {
  if (p.size() > 2 && p[0] == 'r' && (p[1] == '\'' || p[1] == '"') && p.back() == p[1])
    return std::string(p.substr(2, p.size() - 3));
  return std::string(p);
}

namespace {

// \w and \s as PCRE2 class items (to be placed inside [...]): the `regex` module's, and stdlib re's, whose
// \w is str.isalnum() or '_' and whose \s is str.isspace() (White_Space plus \x1c-\x1f).
constexpr std::string_view kWordItems = "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}";
constexpr std::string_view kReWordItems = "\\p{L}\\p{N}_";
constexpr std::string_view kSpaceItems = "\\p{White_Space}";
constexpr std::string_view kReSpaceItems = "\\p{White_Space}\\x{1c}-\\x{1f}";
// The ASCII letters stdlib re accepts after a backslash; any other is its "bad escape" error.
constexpr std::string_view kReLetterEscapes = "abfnrtvxuUABZdDsSwW";
// The ASCII letters the `regex` module refuses after a backslash ("bad escape"), outside and inside a class
// (x, u, U are checked with their hex digits). PCRE2 gives most of them a meaning (\Q, \e, \H, ...), so a
// pattern DataJuicer cannot compile would otherwise run here with another meaning.
constexpr std::string_view kRegexBadLetters = "ceijkloqyCEFHIJLOQTVY";
constexpr std::string_view kRegexBadLettersInClass = "cegijklmoqyzABCEFGHIJKLMOQRTVXYZ";

// The name aliases Python's unicodedata.lookup knows beyond ICU's character names (control characters such as
// LINE FEED, abbreviations such as ZWSP or BOM, corrections).
struct NameAlias {
  const char* name;
  char32_t cp;
};
constexpr NameAlias kNameAliases[] = {
#include "ops/text/unicode_name_aliases.inc"
};

// The code point of a character name as Python's unicodedata.lookup reads it (what \N{...} means in both
// dialects): a character name, Hangul syllable or CJK ideograph name, or a name alias, in any letter case; -1
// for an unknown name. Named sequences (several code points) are not characters: -1.
int32_t LookupCharacterName(std::string_view name) {
  std::string upper(name);
  for (char& c : upper) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
  if (upper.empty() || upper.find('\0') != std::string::npos) return -1;
  UErrorCode err = U_ZERO_ERROR;
  UChar32 cp = u_charFromName(U_UNICODE_CHAR_NAME, upper.c_str(), &err);
  if (U_SUCCESS(err) && cp >= 0) return cp;
  auto it = std::lower_bound(std::begin(kNameAliases), std::end(kNameAliases), upper,
                             [](const NameAlias& a, const std::string& n) { return std::strcmp(a.name, n.c_str()) < 0; });
  if (it != std::end(kNameAliases) && upper == it->name) return static_cast<int32_t>(it->cp);
  return -1;
}

bool IsGroupName(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;  // PCRE2's longest name
  for (size_t k = 0; k < s.size(); ++k) {
    char c = s[k];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(k > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// A group number in decimal (leading zeros allowed, as the regex module reads them); -1 if not one.
int GroupNumber(std::string_view s) {
  if (s.empty() || s.size() > 9) return -1;
  int n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

bool IsHex(char c) { return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }

// Copies \xHH-style hex digits of a \u / \U escape as \x{...}; returns false if malformed.
bool TranslateCodePointEscape(std::string_view p, size_t& i, size_t digits, std::string& out) {
  if (i + digits > p.size()) return false;
  for (size_t k = 0; k < digits; ++k)
    if (!IsHex(p[i + k])) return false;
  out += "\\x{";
  out.append(p.substr(i, digits));
  out += '}';
  i += digits;
  return true;
}

}  // namespace

std::string TranslatePythonRegex(std::string_view p, bool stdlib_re) {
  const std::string_view word = stdlib_re ? kReWordItems : kWordItems;
  const std::string_view space = stdlib_re ? kReSpaceItems : kSpaceItems;
  std::string out;
  out.reserve(p.size() + 16);
  // Inside a character class the translated items go to `cls` first: a class holding \W (or re's \S)
  // cannot stay a class in PCRE2 (no set operations), so it is rewritten as a group when it closes.
  bool in_class = false, negated = false, has_nonword = false, has_nonspace = false;
  size_t class_start = 0;  // index in p just after '[' or '[^'
  std::string cls;
  std::string* dst = &out;
  size_t i = 0;
  while (i < p.size()) {
    char c = p[i];
    std::string& o = *dst;
    if (c == '\\' && i + 1 < p.size()) {
      char e = p[i + 1];
      i += 2;
      const bool letter = (e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z');
      if (e == 'N') {  // \N{NAME} in both dialects; a bare \N is the regex module's literal N (re refuses it)
        size_t close = i < p.size() && p[i] == '{' ? p.find('}', i) : std::string_view::npos;
        if (close == std::string_view::npos) {
          if (stdlib_re) Fail(ErrorKind::kUsage, "missing {} at position {}", i < p.size() && p[i] == '{' ? "}" : "{", i);
          o += 'N';
          continue;
        }
        std::string_view name = p.substr(i + 1, close - i - 1);
        int32_t cp = LookupCharacterName(name);
        if (cp < 0) Fail(ErrorKind::kUsage, "undefined character name '{}' at position {}", name, i - 2);
        o += fmt::format("\\x{{{:x}}}", cp);
        i = close + 1;
        continue;
      }
      if (!stdlib_re && !in_class && e == 'g') {
        // The regex module's \g<N> / \g<name> is a backreference (PCRE2's is a subroutine call, which would
        // match any text the group's pattern matches); a \g without <...> is a literal g.
        size_t close = i < p.size() && p[i] == '<' ? p.find('>', i) : std::string_view::npos;
        if (close == std::string_view::npos) {
          o += 'g';
          continue;
        }
        std::string_view ref = p.substr(i + 1, close - i - 1);
        if (int n = GroupNumber(ref); n >= 0) o += fmt::format("\\g{{{}}}", n);
        else if (IsGroupName(ref)) o += fmt::format("\\k<{}>", ref);
        else Fail(ErrorKind::kUsage, "unsupported group reference \\g<{}> at position {}", ref, i - 2);
        i = close + 1;
        continue;
      }
      if (!stdlib_re && (e == 'p' || e == 'P')) {
        // The regex module reads \p{...} and \pX (X a one-letter general category) as properties, as PCRE2
        // does; any other \p or \P is the letter itself (\px matches "px", an unclosed \p{ matches "p{").
        bool braced = i < p.size() && p[i] == '{' && p.find('}', i) != std::string_view::npos;
        bool category = i < p.size() && std::string_view("CLMNPSZ").find(p[i]) != std::string_view::npos;
        if (!braced && !category) {
          o += e;
          continue;
        }
      }
      if (letter && stdlib_re &&
          (kReLetterEscapes.find(e) == std::string_view::npos || (in_class && (e == 'A' || e == 'B' || e == 'Z'))))
        Fail(ErrorKind::kUsage, "bad escape \\{} at position {}", e, i - 2);
      if (letter && !stdlib_re && (in_class ? kRegexBadLettersInClass : kRegexBadLetters).find(e) != std::string_view::npos)
        Fail(ErrorKind::kUsage, "bad escape \\{} at position {}", e, i - 2);
      switch (e) {
        case 'x':  // both dialects: exactly two hex digits (PCRE2 would also take \x{...} and \x4)
          if (TranslateCodePointEscape(p, i, 2, o)) continue;
          Fail(ErrorKind::kUsage, "incomplete escape \\x at position {}", i - 2);
        case 'm':  // the regex module's start of a word (PCRE2 has none)
          o += fmt::format("(?<![{0}])(?=[{0}])", word);
          continue;
        case 'M':  // and end of a word
          o += fmt::format("(?<=[{0}])(?![{0}])", word);
          continue;
        case 'w':
          o += in_class ? fmt::format("{}", word) : fmt::format("[{}]", word);
          continue;
        case 'W':
          if (in_class) has_nonword = true;
          else o += fmt::format("[^{}]", word);
          continue;
        case 's':
          o += in_class ? fmt::format("{}", space) : fmt::format("[{}]", space);
          continue;
        case 'S':
          if (!stdlib_re) o += "\\P{White_Space}";
          else if (in_class) has_nonspace = true;
          else o += fmt::format("[^{}]", space);
          continue;
        case 'b':
          // in a class: backspace in both dialects; else a word boundary on Python's \w
          o += in_class ? std::string("\\b") : fmt::format("(?:(?<=[{0}])(?![{0}])|(?<![{0}])(?=[{0}]))", word);
          continue;
        case 'B':
          o += in_class ? std::string("\\B") : fmt::format("(?:(?<=[{0}])(?=[{0}])|(?<![{0}])(?![{0}]))", word);
          continue;
        case 'Z': o += in_class ? "Z" : "\\z"; continue;
        case 'v': o += "\\x{b}"; continue;
        case 'u':
          if (TranslateCodePointEscape(p, i, 4, o)) continue;
          Fail(ErrorKind::kUsage, "bad escape \\u at position {}", i - 2);
        case 'U':
          if (TranslateCodePointEscape(p, i, 8, o)) continue;
          Fail(ErrorKind::kUsage, "bad escape \\U at position {}", i - 2);
        default:
          o += '\\';
          // Copy the whole escaped code point (an escaped non-ASCII character is that character).
          o += e;
          while (i < p.size() && (static_cast<unsigned char>(p[i]) & 0xC0) == 0x80) o += p[i++];
          continue;
      }
    }
    if (in_class) {
      if (c == '[' && stdlib_re) {  // re has no POSIX classes: '[' in a class is the character
        o += "\\[";
        ++i;
        continue;
      }
      if (c == '[' && i + 1 < p.size() && p[i + 1] == ':') {
        size_t end = p.find(":]", i + 2);
        if (end != std::string_view::npos) {
          o.append(p.substr(i, end + 2 - i));
          i = end + 2;
          continue;
        }
      }
      if (c == ']' && i > class_start) {
        ++i;
        in_class = false;
        dst = &out;
        // The complemented sets in the class (\W: not `word`; re's \S: not `space`).
        std::vector<std::string_view> complements;
        if (has_nonword) complements.push_back(word);
        if (has_nonspace) complements.push_back(space);
        if (complements.empty()) {
          out += negated ? "[^" : "[";
          out += cls;
          out += ']';
        } else if (!negated) {  // [items\W\S]: an item, or a character outside one of the sets
          if (!cls.empty() && cls[0] == '^') cls.insert(0, 1, '\\');  // no longer first after '['
          out += "(?:";
          if (!cls.empty()) out += "[" + cls + "]|";
          for (size_t k = 0; k < complements.size(); ++k) out += fmt::format("{}[^{}]", k ? "|" : "", complements[k]);
          out += ')';
        } else {  // [^items\W\S]: a character in every one of the sets that is not an item
          if (!cls.empty() && cls[0] == '^') cls.insert(0, 1, '\\');
          out += "(?:";
          if (!cls.empty()) out += "(?![" + cls + "])";
          for (size_t k = 0; k + 1 < complements.size(); ++k) out += fmt::format("(?=[{}])", complements[k]);
          out += fmt::format("[{}])", complements.back());
        }
        continue;
      }
      o += c;
      ++i;
      continue;
    }
    if (!stdlib_re && c == '(' && p.substr(i).starts_with("(?P=")) {  // the regex module also takes a number
      size_t close = p.find(')', i + 4);
      int n = close == std::string_view::npos ? -1 : GroupNumber(p.substr(i + 4, close - (i + 4)));
      if (n >= 0) {
        o += fmt::format("\\g{{{}}}", n);
        i = close + 1;
        continue;
      }
    }
    if (c == '[') {
      in_class = true;
      has_nonword = has_nonspace = false;
      cls.clear();
      dst = &cls;
      ++i;
      negated = i < p.size() && p[i] == '^';
      if (negated) ++i;
      class_start = i;  // a ']' right here is a literal
      continue;
    }
    if (c == '{' && i + 1 < p.size() && p[i + 1] == ',') {
      size_t j = i + 2;
      while (j < p.size() && p[j] >= '0' && p[j] <= '9') ++j;
      if (j < p.size() && p[j] == '}') {
        o += "{0,";
        o.append(p.substr(i + 2, j + 1 - (i + 2)));
        i = j + 1;
        continue;
      }
    }
    o += c;
    ++i;
  }
  if (in_class) {  // unterminated class: hand it to PCRE2 as written so it reports the error
    out += negated ? "[^" : "[";
    out += cls;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------

struct Regex::Impl {
  pcre2_code* code = nullptr;
  pcre2_match_data* md = nullptr;
  pcre2_match_context* mctx = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;
  bool jit = false;
  std::string what;

  ~Impl() {
    if (md) pcre2_match_data_free(md);
    if (mctx) pcre2_match_context_free(mctx);
    if (jit_stack) pcre2_jit_stack_free(jit_stack);
    if (code) pcre2_code_free(code);
  }
};

Regex::Regex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;
Regex::~Regex() = default;

static std::string Pcre2Message(int code) {
  PCRE2_UCHAR buf[256];
  int n = pcre2_get_error_message(code, buf, sizeof buf);
  return n < 0 ? "PCRE2 error " + std::to_string(code) : std::string(reinterpret_cast<char*>(buf), static_cast<size_t>(n));
}

// Compiles `pattern` (PCRE2 syntax); errors quote `shown` (what the user wrote).
static std::unique_ptr<Regex::Impl> Compile(std::string_view pattern, std::string_view shown, uint32_t flags,
                                            std::string_view what);

Regex Regex::Pcre2(std::string_view pattern, uint32_t flags, std::string_view what) {
  return Regex(Compile(pattern, pattern, flags, what));
}

Regex Regex::Python(std::string_view pattern, uint32_t flags, std::string_view what) {
  std::string translated;
  try {
    translated = TranslatePythonRegex(pattern, (flags & kRegexStdlibRe) != 0);
  } catch (const Error& e) {
    Fail(ErrorKind::kUsage, "invalid {} '{}': {}", what, pattern, e.what());
  }
  return Regex(Compile(translated, pattern, flags, what));
}

static std::unique_ptr<Regex::Impl> Compile(std::string_view pattern, std::string_view shown, uint32_t flags,
                                            std::string_view what) {
  auto impl = std::make_unique<Regex::Impl>();
  impl->what = std::string(what);
  uint32_t opts = PCRE2_UTF | PCRE2_UCP;
  if (flags & kRegexDotAll) opts |= PCRE2_DOTALL;
  if (flags & kRegexIgnoreCase) opts |= PCRE2_CASELESS;
  if (flags & kRegexMultiline) opts |= PCRE2_MULTILINE;
  if (flags & kRegexAnchored) opts |= PCRE2_ANCHORED;
  pcre2_compile_context* cctx = pcre2_compile_context_create(nullptr);
  pcre2_set_newline(cctx, PCRE2_NEWLINE_LF);
  int err = 0;
  PCRE2_SIZE off = 0;
  impl->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), opts, &err, &off, cctx);
  pcre2_compile_context_free(cctx);
  if (impl->code == nullptr) {
    if (shown == pattern)
      Fail(ErrorKind::kUsage, "invalid {} '{}': {} at offset {}", what, shown, Pcre2Message(err), off);
    Fail(ErrorKind::kUsage, "invalid {} '{}': {}", what, shown, Pcre2Message(err));
  }
  impl->jit = pcre2_jit_compile(impl->code, PCRE2_JIT_COMPLETE) == 0;
  impl->md = pcre2_match_data_create_from_pattern(impl->code, nullptr);
  impl->mctx = pcre2_match_context_create(nullptr);
  if (impl->jit) {
    impl->jit_stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
    pcre2_jit_stack_assign(impl->mctx, nullptr, impl->jit_stack);
  }
  return impl;
}

uint32_t Regex::capture_count() const {
  uint32_t n = 0;
  pcre2_pattern_info(impl_->code, PCRE2_INFO_CAPTURECOUNT, &n);
  return n;
}

int Regex::GroupNumber(std::string_view name) const {
  std::string n(name);
  int r = pcre2_substring_number_from_name(impl_->code, reinterpret_cast<PCRE2_SPTR>(n.c_str()));
  return r < 0 ? -1 : r;
}

int Regex::Match(std::string_view text, size_t start, uint32_t options) {
  int rc = pcre2_match(impl_->code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), start,
                       options | PCRE2_NO_UTF_CHECK, impl_->md, impl_->mctx);
  if (rc >= 0 || rc == PCRE2_ERROR_NOMATCH) return rc;
  Fail(ErrorKind::kInput, "{}: matching failed on this text ({})", impl_->what, Pcre2Message(rc));
}

bool Regex::Search(std::string_view text, size_t start, size_t* b, size_t* e) {
  if (start > text.size()) return false;
  int rc = Match(text, start, 0);
  if (rc < 0) return false;
  groups_ = static_cast<size_t>(rc);
  PCRE2_SIZE* ov = pcre2_get_ovector_pointer(impl_->md);
  *b = ov[0];
  *e = ov[1];
  return true;
}

const size_t* Regex::ovector() const { return pcre2_get_ovector_pointer(impl_->md); }

size_t Regex::ReplaceAll(std::string_view text, const ReplTemplate& repl, std::string& out, size_t start) {
  size_t n = text.size();
  size_t pos = start, last = 0, count = 0;
  uint32_t opts = 0;
  while (pos <= n) {
    int rc = Match(text, pos, opts);
    if (rc == PCRE2_ERROR_NOMATCH) {
      if (opts == 0 || pos >= n) break;
      // No non-empty match at the position of an empty one: move on by one code point.
      pos += SeqLen(static_cast<unsigned char>(text[pos]));
      opts = 0;
      continue;
    }
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(impl_->md);
    size_t b = ov[0], e = ov[1];
    if (b < last) b = last;  // \K or look-behind tricks: never re-emit text already replaced
    if (count == 0) {
      out.clear();
      out.reserve(n);
    }
    out.append(text.data() + last, b - last);
    static_assert(sizeof(PCRE2_SIZE) == sizeof(size_t) && PCRE2_UNSET == ReplTemplate::kUnset);
    repl.Append(out, text, ov, static_cast<size_t>(rc));
    last = e > last ? e : last;
    ++count;
    pos = e;
    opts = (ov[0] == ov[1]) ? (PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED) : 0;
  }
  if (count > 0) out.append(text.data() + last, n - last);
  return count;
}

// ---------------------------------------------------------------------------------------------------------

void ReplTemplate::Append(std::string& out, std::string_view text, const size_t* ov, size_t groups) const {
  for (const auto& piece : pieces_) {
    if (piece.group < 0) {
      out += piece.literal;
    } else {
      size_t g = static_cast<size_t>(piece.group);
      if (g < groups && ov[2 * g] != kUnset) out.append(text.data() + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
    }
  }
}

int ReplTemplate::max_group() const {
  int m = -1;
  for (const auto& piece : pieces_) m = std::max(m, piece.group);
  return m;
}

static bool IsOct(char c) { return c >= '0' && c <= '7'; }

ReplTemplate::ReplTemplate(std::string_view t, const Regex& re) {
  std::string lit;
  uint32_t groups = re.capture_count();
  auto flush = [&] {
    if (!lit.empty()) {
      pieces_.push_back({-1, lit});
      lit.clear();
    }
  };
  auto group = [&](int g, size_t at) {
    if (g < 0 || static_cast<uint32_t>(g) > groups) Fail(ErrorKind::kUsage, "invalid group reference {} in repl at position {}", g, at);
    flush();
    pieces_.push_back({g, {}});
  };
  auto hex = [&](size_t& i, size_t digits, size_t at) {
    if (i + digits > t.size()) Fail(ErrorKind::kUsage, "bad escape in repl at position {}", at);
    char32_t cp = 0;
    for (size_t k = 0; k < digits; ++k) {
      char c = t[i + k];
      if (!IsHex(c)) Fail(ErrorKind::kUsage, "bad escape in repl at position {}", at);
      cp = cp * 16 + static_cast<char32_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) Fail(ErrorKind::kUsage, "bad escape in repl at position {}", at);
    i += digits;
    utf8::Append(lit, cp);
  };
  size_t i = 0;
  while (i < t.size()) {
    char c = t[i];
    if (c != '\\') {
      lit += c;
      ++i;
      continue;
    }
    size_t at = i;
    if (i + 1 >= t.size()) Fail(ErrorKind::kUsage, "bad escape (end of repl) at position {}", at);
    char e = t[i + 1];
    i += 2;
    switch (e) {
      case 'n': lit += '\n'; continue;
      case 't': lit += '\t'; continue;
      case 'r': lit += '\r'; continue;
      case 'f': lit += '\f'; continue;
      case 'v': lit += '\v'; continue;
      case 'a': lit += '\a'; continue;
      case 'b': lit += '\b'; continue;
      case '\\': lit += '\\'; continue;
      case 'x': hex(i, 2, at); continue;
      case 'u': hex(i, 4, at); continue;
      case 'U': hex(i, 8, at); continue;
      case 'g': {
        if (i >= t.size() || t[i] != '<') Fail(ErrorKind::kUsage, "missing < in repl at position {}", at);
        size_t close = t.find('>', i);
        if (close == std::string_view::npos) Fail(ErrorKind::kUsage, "missing > in repl at position {}", at);
        std::string_view name = t.substr(i + 1, close - i - 1);
        i = close + 1;
        if (name.empty()) Fail(ErrorKind::kUsage, "missing group name in repl at position {}", at);
        bool digits = true;
        for (char d : name) digits = digits && d >= '0' && d <= '9';
        if (digits) {
          if (name.size() > 9) Fail(ErrorKind::kUsage, "invalid group reference in repl at position {}", at);
          group(std::stoi(std::string(name)), at);
        } else {
          int g = re.GroupNumber(name);
          if (g < 0) Fail(ErrorKind::kUsage, "unknown group '{}' in repl at position {}", name, at);
          group(g, at);
        }
        continue;
      }
      default: break;
    }
    if (e == '0') {
      // Octal escape: \0, \0o, \0oo.
      int v = 0, k = 0;
      while (k < 2 && i < t.size() && IsOct(t[i])) v = v * 8 + (t[i++] - '0'), ++k;
      utf8::Append(lit, static_cast<char32_t>(v));
      continue;
    }
    if (e >= '1' && e <= '9') {
      if (IsOct(e) && i + 1 < t.size() && IsOct(t[i]) && IsOct(t[i + 1])) {
        int v = (e - '0') * 64 + (t[i] - '0') * 8 + (t[i + 1] - '0');
        if (v > 0377) Fail(ErrorKind::kUsage, "octal escape value outside of range 0-0o377 in repl at position {}", at);
        i += 2;
        utf8::Append(lit, static_cast<char32_t>(v));
        continue;
      }
      int g = e - '0';
      if (i < t.size() && t[i] >= '0' && t[i] <= '9') g = g * 10 + (t[i++] - '0');
      group(g, at);
      continue;
    }
    if ((e | 0x20) >= 'a' && (e | 0x20) <= 'z') Fail(ErrorKind::kUsage, "bad escape \\{} in repl at position {}", e, at);
    // Any other escaped character stays as backslash + character.
    lit += '\\';
    lit += e;
  }
  flush();
}

}  // namespace sluice::text
