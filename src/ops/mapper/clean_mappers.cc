// Regex cleaning mappers: clean_links_mapper, clean_email_mapper (datajuicer-ops.md §4).
//
// Contract: every match of the pattern (DOTALL; default or the user's `pattern` in the Python `regex`
// dialect, with the raw-string wrapper rule) is replaced by `repl` (a Python replacement template), left to
// right, non-overlapping. Map returns false without touching the text when nothing matched.
//
// Default patterns, exactly as DataJuicer's (quoted in the spec) but executed differently:
//   clean_email_mapper: [A-Za-z0-9.\-+_]+@[a-z0-9.\-+_]+\.[a-z]+
//     runs as a hand-written linear scan anchored on '@' (FindEmail below), equivalent to the regex's
//     leftmost-first backtracking result; the regex itself is still compiled to validate `repl`.
//   clean_links_mapper: the "liberal URL" pattern. Its tail (?:A+|G)+(?:G|F) (A = [^\s()<>], G = one
//     level of balanced parentheses, F = A minus `!()[]{};:'".,<>?«»“”‘’) backtracks exponentially in
//     PCRE2 on runs of non-F characters (e.g. "http://" + "!"*25 exceeds the match limit), whereas Python's
//     `regex` copes. We run an equivalent tail without ambiguity: the original always ends at the longest
//     prefix T of the maximal run of A-chars and groups such that T ends with an F char or a group and T
//     has at least two tokens; with N = A minus F that is
//       (?:N++(?:F|G)|(?:F|G)N*+(?:F|G))(?:N*+(?:F|G))*+
//     The prefix part is unchanged (plus U+0130, which Python's case-insensitive [a-z] matches and PCRE2's
//     does not). Capture group 1 is still the whole link; repl may only reference groups 0 and 1.
//     Matching only tries the start positions a link can have (see FindLink): texts without ':', '/' or
//     "www" never reach PCRE2, nor do triggers no match can use (a ':' not followed by '/' or [a-z0-9%], a
//     '/' without ".tld" before it, a "www" without [0-9]{0,3}'.' after it; see TriggerViable).
#include <cstdint>
#include <cstring>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "core/error.h"
#include "ops/op.h"
#include "ops/text/pystr.h"
#include "ops/text/regex.h"
#include "ops/text/simd.h"

namespace sluice {
namespace {

using text::Regex;
using text::ReplTemplate;

constexpr uint32_t kDotAll = text::kRegexDotAll;

std::string UserPattern(const Params& p) { return text::StripRawStringWrapper(p.GetString("pattern")); }

// ---------------------------------------------------------------------------------------------------------

constexpr std::string_view kDefaultLinksPythonPattern =
    R"((?i)\b((?:[a-z][\w-]+:(?:\/{1,3}|[a-z0-9%])|www\d{0,3}[.]|[a-z0-9.\-]+[.][a-z]{2,4}\/)(?:[^\s()<>]+|\(([^\s()<>]+|(\([^\s()<>]+\)))*\))+(?:\(([^\s()<>]+|(\([^\s()<>]+\)))*\)|[^\s`!()\[\]{};:\'\".,<>?«»“”‘’])))";

std::string DefaultLinksPattern() {
  const std::string n = R"([`!\[\]{};:'".,?«»“”‘’])";
  const std::string f = R"([^\s`!()\[\]{};:'".,<>?«»“”‘’])";
  const std::string g = R"(\((?:[^\s()<>]++|\([^\s()<>]++\))*+\))";
  const std::string fg = "(?:" + f + "|" + g + ")";
  const std::string tail = "(?:" + n + "++" + fg + "|" + fg + n + "*+" + fg + ")(?:" + n + "*+" + fg + ")*+";
  return R"((?i)\b((?:[a-z\u0130][\w-]+:(?:\/{1,3}|[a-z0-9%\u0130])|www\d{0,3}[.]|[a-z0-9.\-\u0130]+[.][a-z\u0130]{2,4}\/))" +
         tail + ")";
}

// Candidate search for the default links pattern. Every match contains a trigger -- ':' (scheme), '/'
// (domain.tld/) or "www" (case-insensitive) -- and all characters from the match start up to its trigger
// belong to the run class R = [A-Za-z0-9_.-] plus any non-ASCII character (a superset of what the three
// prefix alternatives can consume before their trigger). So for each trigger t, in text order, the only
// possible starts are in the R-run ending at t; each is tried with the pattern compiled anchored, in
// ascending order, after two exact pre-checks: the start character must be one the pattern can begin with
// ([A-Za-z0-9.-], U+0130, U+017F, U+212A), and when both neighbours are ASCII the word boundary \b must hold.
// The first success is the leftmost match. `tried` keeps the candidate scan linear; a single anchored
// attempt can still walk a long run (e.g. "a.a.a....a/"), so like the original regex in Python, such
// pathological runs cost time quadratic in their length.
struct LinkTables {
  uint8_t run[256] = {};      // byte may belong to the run class (every byte >= 0x80 does)
  uint8_t start[128] = {};    // ASCII byte that can start a match
  uint8_t word[128] = {};     // ASCII \w
  uint8_t trigger[256] = {};  // 1: ':' or '/', 2: 'w' or 'W'
  constexpr LinkTables() {
    for (int c = 0x80; c < 256; ++c) run[c] = 1;
    for (int c = 'a'; c <= 'z'; ++c) run[c] = run[c - 32] = start[c] = start[c - 32] = word[c] = word[c - 32] = 1;
    for (int c = '0'; c <= '9'; ++c) run[c] = start[c] = word[c] = 1;
    run['_'] = word['_'] = 1;
    run['.'] = run['-'] = start['.'] = start['-'] = 1;
    trigger[':'] = trigger['/'] = 1;
    trigger['w'] = trigger['W'] = 2;
  }
};
constexpr LinkTables kLink;

// Bit k set iff p[k] (k < 64) is ':' or '/' (colon_slash), or 'w' / 'W' (w).
inline void TriggerMasks64(const char* p, uint64_t* colon_slash, uint64_t* w) {
#if defined(__AVX2__)
  uint64_t cs = 0, ww = 0;
  for (int h = 0; h < 2; ++h) {
    __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * h));
    __m256i c = _mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(':')), _mm256_cmpeq_epi8(v, _mm256_set1_epi8('/')));
    __m256i x = _mm256_cmpeq_epi8(_mm256_or_si256(v, _mm256_set1_epi8(0x20)), _mm256_set1_epi8('w'));
    cs |= uint64_t{static_cast<uint32_t>(_mm256_movemask_epi8(c))} << (32 * h);
    ww |= uint64_t{static_cast<uint32_t>(_mm256_movemask_epi8(x))} << (32 * h);
  }
  *colon_slash = cs;
  *w = ww;
#else
  uint64_t cs = 0, ww = 0;
  for (int k = 0; k < 64; ++k) {
    cs |= uint64_t{p[k] == ':' || p[k] == '/'} << k;
    ww |= uint64_t{(p[k] | 0x20) == 'w'} << k;
  }
  *colon_slash = cs;
  *w = ww;
#endif
}

// Position of the first trigger at or after i, or npos. 64 bytes at a time: ':' and '/' are triggers,
// and a 'w' followed by two more (any case) is (the masks of the two following bytes are the w mask
// shifted, with the two bytes past the block looked up directly).
size_t NextTrigger(std::string_view t, size_t i) {
  const char* p = t.data();
  const size_t n = t.size();
  auto is_w = [](char c) { return static_cast<uint64_t>((c | 0x20) == 'w'); };
  for (; i + 66 <= n; i += 64) {
    uint64_t cs, w;
    TriggerMasks64(p + i, &cs, &w);
    uint64_t w1 = (w >> 1) | (is_w(p[i + 64]) << 63);
    uint64_t w2 = (w >> 2) | (is_w(p[i + 64]) << 62) | (is_w(p[i + 65]) << 63);
    uint64_t m = cs | (w & w1 & w2);
    if (m != 0) return i + static_cast<size_t>(__builtin_ctzll(m));
  }
  for (; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(p[i]);
    if (kLink.trigger[c] == 1) return i;
    if (kLink.trigger[c] == 2 && i + 2 < n && (p[i + 1] | 0x20) == 'w' && (p[i + 2] | 0x20) == 'w') return i;
  }
  return std::string_view::npos;
}

// Whether a match starting in the R-run ending at trigger i can have i in its prefix (exact necessary
// conditions; non-ASCII characters, which case-insensitive classes or \d might match, always pass):
//   ':'  only the scheme alternative holds a ':' (and an R-run ends there): it needs '/' or
//        [a-z0-9%] (any case) right after;
//   '/'  only the domain alternative ends its prefix with the first '/' after the start: it needs
//        "." and 2 to 4 letters right before;
//   www  the www alternative needs up to 3 digits and a '.' after it.
// A start skipped at one trigger is tried at the next trigger whose run reaches back to it (FindLink only
// advances `tried` past triggers it looked at), so skipping a trigger no match can use loses nothing.
bool TriggerViable(std::string_view t, size_t i) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(t.data());
  const size_t n = t.size();
  switch (p[i]) {
    case ':': {
      if (i + 1 >= n) return false;
      unsigned char c = p[i + 1];
      return c >= 0x80 || c == '/' || c == '%' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
    }
    case '/': {
      // Letters (up to 4, up to 3 bytes each for İ, ſ, K) and the '.' lie within the 13 bytes before.
      for (size_t k = 1; k <= 13 && k <= i; ++k)
        if (p[i - k] >= 0x80) return true;
      size_t letters = 0;
      while (letters < 5 && letters < i && ((p[i - 1 - letters] | 0x20) >= 'a' && (p[i - 1 - letters] | 0x20) <= 'z'))
        ++letters;
      // Any 2..4 of those letters preceded by '.'.
      for (size_t k = 2; k <= 4 && k <= letters; ++k)
        if (i >= k + 1 && p[i - 1 - k] == '.') return true;
      return false;
    }
    default: {  // "www" (any case) at i
      size_t j = i + 3, digits = 0;
      while (digits < 3 && j < n && p[j] >= '0' && p[j] <= '9') ++j, ++digits;
      return j < n && (p[j] == '.' || p[j] >= 0x80);
    }
  }
}

// Whether a match of the default links pattern can start at s (exact necessary conditions).
bool MayStartLink(std::string_view t, size_t s) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(t.data());
  unsigned char c = p[s];
  if (c < 0x80) {
    if (!kLink.start[c]) return false;
    if (s > 0 && p[s - 1] < 0x80 && kLink.word[p[s - 1]] == kLink.word[c]) return false;  // no \b
    return true;
  }
  size_t n = t.size() - s;
  return (c == 0xC4 && n >= 2 && p[s + 1] == 0xB0) ||                       // U+0130
         (c == 0xC5 && n >= 2 && p[s + 1] == 0xBF) ||                       // U+017F
         (c == 0xE2 && n >= 3 && p[s + 1] == 0x84 && p[s + 2] == 0xAA);   // U+212A
}

// Replaces, left to right, every match that `find(text, pos, &begin, &end)` reports (never empty) by
// what `replace(out, begin, end)` appends. Returns false, leaving `text` untouched, when nothing matched.
template <typename Find, typename Replace>
bool ReplaceMatches(std::string& text, std::string& out, Find find, Replace replace) {
  size_t b, e;
  if (!find(text, 0, &b, &e)) return false;
  out.clear();
  out.reserve(text.size());
  size_t last = 0;
  do {
    out.append(text, last, b - last);
    replace(out, b, e);
    last = e;
  } while (find(text, last, &b, &e));
  out.append(text, last, std::string::npos);
  text.swap(out);
  return true;
}

class CleanLinksMapper : public Mapper {
 public:
  explicit CleanLinksMapper(const Params& p)
      : Mapper("clean_links_mapper"),
        default_(!p.Has("pattern")),
        re_(default_ ? Regex::Python(DefaultLinksPattern(), kDotAll | text::kRegexAnchored, "default links pattern")
                     : Regex::Python(UserPattern(p), kDotAll, "pattern")),
        repl_(p.GetString("repl"), re_) {
    if (default_ && repl_.max_group() > 1)
      Fail(ErrorKind::kUsage, "repl: with the default pattern only groups 0 and 1 (the whole link) can be referenced");
  }

  bool Map(std::string& text) override {
    if (!default_) {
      if (re_.ReplaceAll(text, repl_, out_) == 0) return false;
      text.swap(out_);
      return true;
    }
    return ReplaceMatches(
        text, out_, [this](std::string_view t, size_t pos, size_t* b, size_t* e) { return FindLink(t, pos, b, e); },
        [&](std::string& out, size_t, size_t) { repl_.Append(out, text, re_.ovector(), re_.groups()); });
  }

 private:
  // Leftmost match at or after pos (see LinkTables); re_ is anchored.
  bool FindLink(std::string_view t, size_t pos, size_t* mb, size_t* me) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(t.data());
    size_t tried = pos;  // every start in [pos, tried) has been ruled out
    for (size_t trig = NextTrigger(t, pos); trig != std::string_view::npos; trig = NextTrigger(t, trig + 1)) {
      if (!TriggerViable(t, trig)) continue;  // leaves `tried`: later triggers still see these starts
      size_t b = trig;
      while (b > tried && kLink.run[p[b - 1]]) --b;
      for (size_t s = b; s <= trig; s += text::SeqLen(p[s]))
        if (MayStartLink(t, s) && re_.Search(t, s, mb, me)) return true;
      tried = trig + 1;
    }
    return false;
  }

  bool default_;
  Regex re_;
  ReplTemplate repl_;
  std::string out_;
};

// ---------------------------------------------------------------------------------------------------------

constexpr std::string_view kDefaultEmailPattern = R"([A-Za-z0-9.\-+_]+@[a-z0-9.\-+_]+\.[a-z]+)";

struct EmailClasses {
  bool local[256] = {};
  bool domain[256] = {};
  constexpr EmailClasses() {
    for (int c = 'a'; c <= 'z'; ++c) local[c] = domain[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c) local[c] = true;
    for (int c = '0'; c <= '9'; ++c) local[c] = domain[c] = true;
    for (unsigned char c : {'.', '-', '+', '_'}) local[c] = domain[c] = true;
  }
};
constexpr EmailClasses kEmail;

inline bool IsLower(unsigned char c) { return c >= 'a' && c <= 'z'; }

// Finds the leftmost match of kDefaultEmailPattern at or after `pos`, as the regex would: the local part is
// the maximal run of local characters ending right before an '@' (not reaching back before `pos`); the
// domain part D is the maximal run of domain characters after the '@'; the backtracking result ends the
// domain at the last '.' in D (not D's first character) followed by a lowercase letter, and takes all the
// letters after it.
bool FindEmail(std::string_view t, size_t pos, size_t* mb, size_t* me) {
  const unsigned char* s = reinterpret_cast<const unsigned char*>(t.data());
  size_t n = t.size();
  while (pos < n) {
    const void* hit = std::memchr(s + pos, '@', n - pos);
    if (hit == nullptr) return false;
    size_t at = static_cast<size_t>(static_cast<const unsigned char*>(hit) - s);
    size_t b = at;
    while (b > pos && kEmail.local[s[b - 1]]) --b;
    if (b < at) {
      size_t d0 = at + 1, d1 = d0;
      while (d1 < n && kEmail.domain[s[d1]]) ++d1;
      // Largest L in [1, |D|-1] with D[L] == '.' and D[L+1] a lowercase letter.
      for (size_t k = d1; k-- > d0 + 1;) {
        if (s[k] == '.' && k + 1 < d1 && IsLower(s[k + 1])) {
          size_t e = k + 1;
          while (e < n && IsLower(s[e])) ++e;
          *mb = b;
          *me = e;
          return true;
        }
      }
    }
    pos = at + 1;
  }
  return false;
}

class CleanEmailMapper : public Mapper {
 public:
  explicit CleanEmailMapper(const Params& p)
      : Mapper("clean_email_mapper"),
        default_(!p.Has("pattern")),
        re_(default_ ? Regex::Pcre2(kDefaultEmailPattern, kDotAll, "default email pattern")
                     : Regex::Python(UserPattern(p), kDotAll, "pattern")),
        repl_(p.GetString("repl"), re_) {}

  bool Map(std::string& text) override {
    if (!default_) {
      if (re_.ReplaceAll(text, repl_, out_) == 0) return false;
      text.swap(out_);
      return true;
    }
    return ReplaceMatches(text, out_, FindEmail, [&](std::string& out, size_t b, size_t e) {
      size_t ov[2] = {b, e};
      repl_.Append(out, text, ov, 1);
    });
  }

 private:
  bool default_;
  Regex re_;
  ReplTemplate repl_;
  std::string out_;
};

std::vector<ParamSpec> PatternParams(const char* what) {
  return {{"pattern", ParamType::kString, {},
           std::string("regex (Python `regex` dialect, DOTALL) matching ") + what + "; null: the built-in pattern"},
          {"repl", ParamType::kString, ParamValue::String(""), "replacement (Python template: \\1, \\g<name>)"}};
}

}  // namespace

// The links pattern as DataJuicer writes it (for tests comparing it with the equivalent one we run).
std::string_view DefaultLinksPatternForTesting() { return kDefaultLinksPythonPattern; }
std::string DefaultLinksRewrittenPatternForTesting() { return DefaultLinksPattern(); }

void RegisterCleanMappers(std::vector<OpDef>& ops) {
  ops.push_back({"clean_links_mapper", OpKind::kMapper, "replace links (URLs) in the text with repl",
                 PatternParams("links"), [](const Params& p) { return std::make_unique<CleanLinksMapper>(p); }});
  ops.push_back({"clean_email_mapper", OpKind::kMapper, "replace email addresses in the text with repl",
                 PatternParams("email addresses"),
                 [](const Params& p) { return std::make_unique<CleanEmailMapper>(p); }});
}

}  // namespace sluice
