// Regular expressions with DataJuicer's dialect (the Python `regex` module, V0; datajuicer-ops.md §2.2) on
// top of PCRE2 (UTF + UCP, JIT).
//
// Contract:
//   StripRawStringWrapper(p)  the "raw-string wrapper" rule for user patterns: a pattern longer than 2 chars
//       written as r'...' or r"..." loses the leading r+quote and the trailing quote.
//   TranslatePythonRegex(p)   reads the pattern as the regex module's parser does (V0) and writes a PCRE2 pattern
//       that matches what Python would, or fails (kUsage) where Python fails or PCRE2 cannot do the same:
//         \w \W \b \B \m \M  Python's word characters [\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]
//                      (PCRE2's UCP \w is [\p{L}\p{N}_]); boundaries become look-arounds on that class.
//         \s \S \h     White_Space (with U+0085); \h is [\t\p{Zs}].   \Z  end of text (PCRE2 \z).
//         \p{..} \P{..} [[:..:]]  every name the regex module resolves: general categories (PCRE2's), scripts
//                      (Script, not PCRE2's Script_Extensions), blocks and binary properties (ICU's sets, Unicode
//                      15.0), POSIX classes with the regex module's meanings ([[:digit:]] is 0-9); under (?i)
//                      Lu/Ll/Lt and Uppercase/Lowercase alone mean any cased letter / Cased, and a property that
//                      is one member of a set among others matches the other case forms of its characters.
//         \X           UAX #29's extended grapheme cluster (Unicode 15.0).
//         escapes      \xHH \uHHHH \UHHHHHHHH \N{name} \0oo \ooo as characters; \N \NN \g<N> \g<name> (?P=name)
//                      as backreferences (forward ones too; \g<..> that is no valid reference is the letter g).
//         structure    inline flags without ':' hold for the whole pattern (the pattern is read again with
//                      them); verbose mode (?x) is done here (every str.isspace() character and #-comment is
//                      skipped, inside escapes and quantifiers too, not inside sets); {,n} {,} quantifiers; a
//                      quantifier on an anchor; {1} dropped with its lazy/possessive suffix; named groups become
//                      plain groups (any Python identifier is a name); under (?i), i/I also pair with U+0130/U+0131.
//       Refused though Python accepts them (PCRE2 cannot do the same): variable-length look-behind, the flags
//       a L b e f p r w V1, recursion and group calls, one name for two groups, \K in a look-around or in a
//       repeated group that captures, the Other_* properties, fuzzy matching ({e<=1}).
//   TranslatePythonRegex(p, true)  the same for stdlib `re` (text_chunk_mapper's split_pattern), whose classes
//       are str's: \w is [\p{L}\p{N}_] (str.isalnum() or '_': No such as ① ² is a word character, a combining
//       mark is not), \s is str.isspace() (White_Space plus \x1c-\x1f), \b/\B follow that \w; (?a) makes them
//       ASCII; a '[' inside a class is a literal (no POSIX classes); an escaped ASCII letter re does not know (\p,
//       \X, \h, ...) is its "bad escape" error; global flags only at the start; look-behind of fixed width;
//       under (?i) re's own extra case pairs (i I U+0130 U+0131 as one; U+0390/U+1FD3, U+03B0/U+1FE3,
//       U+FB05/U+FB06).
//   ReplTemplate  a replacement template of the regex module: \1..\99 and \g<n>/\g<name> group references (an
//       unmatched group expands to ""), \n \t \r \f \v \a \b \\ \xHH \uHHHH \UHHHHHHHH \N{name}, octal \0, \0oo and
//       \ooo (up to 0o777); other escapes of ASCII letters are errors; any other \c stays as the two characters.
//   Regex  a compiled pattern. Compiled once per op instance; it owns its match data and JIT stack, so
//       matching never allocates. Not thread-safe (each worker owns its op instances).
//       ReplaceAll replaces every non-overlapping match left to right (Python 3.7+ empty-match rules:
//       an empty match right after a non-empty one is replaced too) and returns the number of
//       replacements; when it is 0, `out` is left untouched.
//       A match that exceeds PCRE2's backtracking limits throws Error(kInput) for that text.
// Errors in patterns or templates are Error(kUsage) with Python's (or PCRE2's) message and position. A template that
// references a group the pattern does not have is rejected at construction (Python only raises when a
// match is actually replaced).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::text {

std::string StripRawStringWrapper(std::string_view pattern);
std::string TranslatePythonRegex(std::string_view pattern, bool stdlib_re = false);

enum RegexFlags : uint32_t {
  kRegexNone = 0,
  kRegexDotAll = 1,      // re.DOTALL
  kRegexIgnoreCase = 2,  // re.IGNORECASE
  kRegexMultiline = 4,   // re.MULTILINE
  kRegexAnchored = 8,    // match only at the start offset (compiled in, so JIT still applies)
  kRegexStdlibRe = 16,   // Regex::Python: the pattern is in stdlib re's dialect, not the regex module's
};

class Regex;

class ReplTemplate {
 public:
  ReplTemplate() = default;
  // Parses a Python replacement template; group references are checked against `re`.
  ReplTemplate(std::string_view python_template, const Regex& re);
  // Appends the expansion for one match: group g spans [ov[2g], ov[2g+1]) of `text`, for g < groups;
  // a group >= groups or with ov[2g] == kUnset expands to "".
  static constexpr size_t kUnset = ~size_t{0};
  void Append(std::string& out, std::string_view text, const size_t* ov, size_t groups) const;
  // The highest group number referenced, or -1.
  int max_group() const;

 private:
  friend class Regex;
  struct Piece {
    int group = -1;       // >= 0: group reference
    std::string literal;  // group < 0
  };
  std::vector<Piece> pieces_;
};

class Regex {
 public:
  // `pcre2_pattern` is already in PCRE2 syntax. `what` names the pattern in error messages.
  static Regex Pcre2(std::string_view pcre2_pattern, uint32_t flags, std::string_view what = "pattern");
  // `python_pattern` is in the Python `regex` dialect (translated with TranslatePythonRegex), or stdlib re's
  // with kRegexStdlibRe.
  static Regex Python(std::string_view python_pattern, uint32_t flags, std::string_view what = "pattern");

  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;
  ~Regex();

  // Number of capture groups; GroupNumber(name) is -1 for an unknown name.
  uint32_t capture_count() const;
  int GroupNumber(std::string_view name) const;

  // Leftmost match starting the search at byte offset `start`; [*b, *e) on success. Afterwards ovector()
  // holds the group offsets (ReplTemplate::kUnset for unset groups) for `groups()` groups.
  // not_empty_at_start: an empty match at `start` does not count (Python's finditer / split after an empty
  // match at `start`: the next match is the leftmost one that is not that same empty match).
  bool Search(std::string_view text, size_t start, size_t* b, size_t* e, bool not_empty_at_start = false);
  const size_t* ovector() const;
  size_t groups() const { return groups_; }

  // See the contract above. `start`: matches are searched from this byte offset on (text before it is
  // copied unchanged).
  size_t ReplaceAll(std::string_view text, const ReplTemplate& repl, std::string& out, size_t start = 0);

 public:
  struct Impl;  // public so the compile helper in regex.cc can build one

 private:
  explicit Regex(std::unique_ptr<Impl> impl);
  int Match(std::string_view text, size_t start, uint32_t options);
  std::unique_ptr<Impl> impl_;
  size_t groups_ = 0;
};

}  // namespace sluice::text
