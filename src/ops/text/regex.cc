// PCRE2 wrapper with Python `regex` dialect translation; see regex.h for the contract.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "ops/text/regex.h"

#include <fmt/format.h>

#include <pcre2.h>
#include <unicode/uchar.h>
#include <unicode/uset.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>

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
// \w is str.isalnum() or '_' and whose \s is str.isspace() (White_Space plus \x1c-\x1f); with re's ASCII flag
// (?a) they are the ASCII ones.
constexpr std::string_view kWordItems = "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}";
constexpr std::string_view kReWordItems = "\\p{L}\\p{N}_";
constexpr std::string_view kAsciiWordItems = "a-zA-Z0-9_";
constexpr std::string_view kSpaceItems = "\\p{White_Space}";
constexpr std::string_view kReSpaceItems = "\\p{White_Space}\\x{1c}-\\x{1f}";
constexpr std::string_view kAsciiSpaceItems = "\\t\\n\\x{b}\\f\\r\\x{20}";

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
// dialects and in templates): a character name, Hangul syllable or CJK ideograph name, or a name alias, in any
// letter case; -1 for an unknown name. Named sequences (several code points) are not characters: -1.
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

bool IsHex(char32_t c) { return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }
bool IsDigit(char32_t c) { return c >= '0' && c <= '9'; }
bool IsOctal(char32_t c) { return c >= '0' && c <= '7'; }
bool IsAsciiLetter(char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiAlnum(char32_t c) { return IsAsciiLetter(c) || IsDigit(c); }
int HexValue(char32_t c) { return c <= '9' ? static_cast<int>(c - '0') : static_cast<int>((c | 0x20) - 'a' + 10); }

// str.isidentifier(): a letter (or _) and then letters, digits, marks, connector punctuation (XID_Start and
// XID_Continue, which ICU answers).
bool IsIdentifier(std::string_view s) {
  if (s.empty()) return false;
  size_t i = 0;
  bool first = true;
  while (i < s.size()) {
    char32_t c = utf8::Next(s, i);
    bool ok = c == '_' || u_hasBinaryProperty(static_cast<UChar32>(c), first ? UCHAR_XID_START : UCHAR_XID_CONTINUE);
    if (!ok) return false;
    first = false;
  }
  return true;
}

// A property name as the regex module compares them: without '_', '-' and ' ', upper case.
std::string Standardise(std::string_view name) {
  std::string s;
  for (char c : name) {
    if (c == '_' || c == '-' || c == ' ') continue;
    s += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
  }
  return s;
}

// A character as a PCRE2 class item or literal: ASCII letters and digits and non-ASCII characters as they are,
// everything else as \x{..} (never special, whatever the context).
void AppendCodePoint(std::string& out, char32_t c) {
  if (IsAsciiAlnum(c) || c >= 0x80) utf8::Append(out, c);
  else out += fmt::format("\\x{{{:x}}}", static_cast<uint32_t>(c));
}

using Ranges = std::vector<std::pair<char32_t, char32_t>>;

// Appends [lo, hi] as class items, without the surrogates (UTF-8 text holds none, and PCRE2 refuses them in a
// UTF pattern).
void AppendRange(std::string& out, Ranges* ranges, char32_t lo, char32_t hi) {
  if (lo < 0xD800 && hi >= 0xD800) {
    if (hi > 0xDFFF) AppendRange(out, ranges, 0xE000, hi);
    hi = 0xD7FF;
  }
  if (lo >= 0xD800 && lo <= 0xDFFF) {
    if (hi <= 0xDFFF) return;
    lo = 0xE000;
  }
  AppendCodePoint(out, lo);
  if (hi != lo) {
    out += '-';
    AppendCodePoint(out, hi);
  }
  if (ranges) ranges->emplace_back(lo, hi);
}

// One set of characters as PCRE2 can say it: class items (to go inside [...]), the complement of class items,
// or an expression that matches exactly one character of the set. A set of explicit code points (`ranges`:
// the sets sluice takes from ICU) is matched case-sensitively on its own even under (?i), as the regex module
// matches a property; PCRE2 would match its items caselessly.
struct SetPart {
  enum Kind { kItems, kNegItems, kExpr } kind = kItems;
  std::string text;
  bool explicit_ranges = false;
  Ranges ranges;

  static SetPart Items(std::string t) { return {kItems, std::move(t), false, {}}; }
  static SetPart Expr(std::string t) { return {kExpr, std::move(t), false, {}}; }
  static SetPart Of(const Ranges& rs) {
    SetPart p;
    p.explicit_ranges = true;
    for (auto [lo, hi] : rs) AppendRange(p.text, &p.ranges, lo, hi);
    if (p.text.empty()) return Expr("(?!)");  // no character (only surrogates)
    return p;
  }
  SetPart Complement() const {
    SetPart c = *this;
    if (kind == kExpr) return Expr("(?!" + text + ")\\p{Any}");
    c.kind = kind == kItems ? kNegItems : kItems;
    // \p{X} alone: its complement is the item \P{X} (which stays a plain item inside a class)
    if (text.size() > 4 && (text.starts_with("\\p{") || text.starts_with("\\P{")) && text.find('}') == text.size() - 1 &&
        text.find('\\', 1) == std::string::npos) {
      c.kind = kind;
      c.text[1] = text[1] == 'p' ? 'P' : 'p';
    }
    return c;
  }
  std::string Standalone(bool caseless) const {
    std::string s = kind == kItems ? "[" + text + "]" : kind == kNegItems ? "[^" + text + "]" : "(?:" + text + ")";
    return caseless && explicit_ranges ? "(?-i:" + s + ")" : s;
  }
};

// The characters stdlib re matches as one under (?i) where PCRE2 does not (re's own case fixes: i, I, U+0130 and
// U+0131; U+0390 and U+1FD3; U+03B0 and U+1FE3; U+FB05 and U+FB06).
const std::vector<std::vector<char32_t>> kReCaseClasses = {
    {'i', 'I', 0x130, 0x131}, {0x390, 0x1FD3}, {0x3B0, 0x1FE3}, {0xFB05, 0xFB06}};
std::string ClassOf(const std::vector<char32_t>& cls) {
  std::string items;
  for (char32_t c : cls) AppendCodePoint(items, c);
  return items;
}
const std::string* ReCaseClass(char32_t c) {
  static const std::vector<std::string> items = [] {
    std::vector<std::string> v;
    for (const auto& cls : kReCaseClasses) v.push_back(ClassOf(cls));
    return v;
  }();
  for (size_t k = 0; k < kReCaseClasses.size(); ++k)
    if (std::find(kReCaseClasses[k].begin(), kReCaseClasses[k].end(), c) != kReCaseClasses[k].end()) return &items[k];
  return nullptr;
}

// The union of set parts that a character set is; Emit() writes it as one PCRE2 item that matches one character.
class CharSetBuilder {
 public:
  void Add(const SetPart& part) {
    ++members_;
    last_ = part;
    if (part.kind == SetPart::kItems) {
      items_ += part.text;
      covered_.insert(covered_.end(), part.ranges.begin(), part.ranges.end());
    } else if (part.kind == SetPart::kNegItems) {
      negs_.push_back(part.text);
    } else {
      exprs_.push_back(part.text);
    }
  }
  void AddRange(char32_t lo, char32_t hi) {
    ++members_;
    last_ = SetPart::Items("x");  // a character or range: not a property
    AppendRange(items_, &covered_, lo, hi);
  }
  void AddChar(char32_t c) { AddRange(c, c); }

  // caseless: under (?i). A set of one property is that property (matched case-sensitively, as the regex
  // module does); otherwise PCRE2 matches the items caselessly, and what Python also pairs with i, I, U+0130 and
  // U+0131 is added (PCRE2 pairs i with I only): the regex module pairs i with U+0130 and I with U+0131, stdlib
  // re makes the four one class.
  std::string Emit(bool negated, bool caseless, bool stdlib_re) {
    if (caseless) AddTurkicPartners(stdlib_re);
    const bool plain = negs_.empty() && exprs_.empty();
    if (plain) {
      if (items_.empty()) return negated ? "\\p{Any}" : "(?!)";  // only surrogates: nothing (or anything)
      return (negated ? "[^" : "[") + items_ + "]";
    }
    if (!negated && items_.empty() && negs_.size() + exprs_.size() == 1)
      return negs_.empty() ? "(?:" + exprs_[0] + ")" : "[^" + negs_[0] + "]";
    std::string out = "(?:";
    if (!negated) {
      std::vector<std::string> alts;
      if (!items_.empty()) alts.push_back("[" + items_ + "]");
      for (const auto& n : negs_) alts.push_back("[^" + n + "]");
      for (const auto& e : exprs_) alts.push_back(e);
      for (size_t k = 0; k < alts.size(); ++k) out += (k ? "|" : "") + alts[k];
    } else {  // a character in none of the parts
      if (!items_.empty()) out += "(?![" + items_ + "])";
      for (const auto& n : negs_) out += "(?=[" + n + "])";
      for (const auto& e : exprs_) out += "(?!" + e + ")";
      out += "\\p{Any}";
    }
    return out + ")";
  }

 private:
  bool Covers(char32_t c) const {
    return std::any_of(covered_.begin(), covered_.end(), [c](const auto& r) { return r.first <= c && c <= r.second; });
  }
  void AddTurkicPartners(bool stdlib_re) {
    const bool i = Covers('i'), I = Covers('I'), dotted = Covers(0x130), dotless = Covers(0x131);
    if (stdlib_re) {
      for (const auto& cls : kReCaseClasses)
        if (std::any_of(cls.begin(), cls.end(), [&](char32_t c) { return Covers(c); }))
          exprs_.push_back("(?-i:[" + ClassOf(cls) + "])");
      return;
    }
    if (i && !dotted) exprs_.push_back("(?-i:\\x{130})");
    if (I && !dotless) exprs_.push_back("(?-i:\\x{131})");
    if (dotted && !i) exprs_.push_back("(?-i:i)");
    if (dotless && !I) exprs_.push_back("(?-i:I)");
  }

  int members_ = 0;
  SetPart last_;
  std::string items_;
  Ranges covered_;
  std::vector<std::string> negs_, exprs_;
};

// \a \b \f \n \r \t \v (both dialects, and templates); 0 for another letter.
char32_t SimpleEscape(char32_t c) {
  switch (c) {
    case 'a': return 0x07;
    case 'b': return 0x08;
    case 'f': return 0x0C;
    case 'n': return 0x0A;
    case 'r': return 0x0D;
    case 't': return 0x09;
    case 'v': return 0x0B;
    default: return 0;
  }
}

// --- Unicode properties, as the regex module resolves \p{..}, \P{..} and [[:..:]] (its lookup_property) ------

struct NameMap {
  const char* name;  // standardised
  const char* pcre;  // PCRE2 class items
};

// General category values (and the regex module's synonyms) -> PCRE2 items.
constexpr NameMap kGeneralCategories[] = {
    {"C", "\\p{C}"}, {"C&", "\\p{C}"}, {"OTHER", "\\p{C}"}, {"CC", "\\p{Cc}"}, {"CONTROL", "\\p{Cc}"},
    {"CNTRL", "\\p{Cc}"}, {"CF", "\\p{Cf}"}, {"FORMAT", "\\p{Cf}"}, {"CN", "\\p{Cn}"}, {"UNASSIGNED", "\\p{Cn}"},
    {"ASSIGNED", "\\P{Cn}"}, {"CO", "\\p{Co}"}, {"PRIVATEUSE", "\\p{Co}"}, {"CS", "\\p{Cs}"},
    {"SURROGATE", "\\p{Cs}"}, {"L", "\\p{L}"}, {"L&", "\\p{L}"}, {"LETTER", "\\p{L}"}, {"LC", "\\p{LC}"},
    {"CASEDLETTER", "\\p{LC}"}, {"LL", "\\p{Ll}"}, {"LOWERCASELETTER", "\\p{Ll}"}, {"LM", "\\p{Lm}"},
    {"MODIFIERLETTER", "\\p{Lm}"}, {"LO", "\\p{Lo}"}, {"OTHERLETTER", "\\p{Lo}"}, {"LT", "\\p{Lt}"},
    {"TITLECASELETTER", "\\p{Lt}"}, {"LU", "\\p{Lu}"}, {"UPPERCASELETTER", "\\p{Lu}"}, {"M", "\\p{M}"},
    {"M&", "\\p{M}"}, {"MARK", "\\p{M}"}, {"COMBININGMARK", "\\p{M}"}, {"MC", "\\p{Mc}"}, {"SPACINGMARK", "\\p{Mc}"},
    {"ME", "\\p{Me}"}, {"ENCLOSINGMARK", "\\p{Me}"}, {"MN", "\\p{Mn}"}, {"NONSPACINGMARK", "\\p{Mn}"},
    {"N", "\\p{N}"}, {"N&", "\\p{N}"}, {"NUMBER", "\\p{N}"}, {"ND", "\\p{Nd}"}, {"DECIMALNUMBER", "\\p{Nd}"},
    {"DIGIT", "\\p{Nd}"}, {"NL", "\\p{Nl}"}, {"LETTERNUMBER", "\\p{Nl}"}, {"NO", "\\p{No}"},
    {"OTHERNUMBER", "\\p{No}"}, {"P", "\\p{P}"}, {"P&", "\\p{P}"}, {"PUNCTUATION", "\\p{P}"}, {"PUNCT", "\\p{P}"},
    {"PC", "\\p{Pc}"}, {"CONNECTORPUNCTUATION", "\\p{Pc}"}, {"PD", "\\p{Pd}"}, {"DASHPUNCTUATION", "\\p{Pd}"},
    {"PE", "\\p{Pe}"}, {"CLOSEPUNCTUATION", "\\p{Pe}"}, {"PF", "\\p{Pf}"}, {"FINALPUNCTUATION", "\\p{Pf}"},
    {"PI", "\\p{Pi}"}, {"INITIALPUNCTUATION", "\\p{Pi}"}, {"PO", "\\p{Po}"}, {"OTHERPUNCTUATION", "\\p{Po}"},
    {"PS", "\\p{Ps}"}, {"OPENPUNCTUATION", "\\p{Ps}"}, {"S", "\\p{S}"}, {"S&", "\\p{S}"}, {"SYMBOL", "\\p{S}"},
    {"SC", "\\p{Sc}"}, {"CURRENCYSYMBOL", "\\p{Sc}"}, {"SK", "\\p{Sk}"}, {"MODIFIERSYMBOL", "\\p{Sk}"},
    {"SM", "\\p{Sm}"}, {"MATHSYMBOL", "\\p{Sm}"}, {"SO", "\\p{So}"}, {"OTHERSYMBOL", "\\p{So}"}, {"Z", "\\p{Z}"},
    {"Z&", "\\p{Z}"}, {"SEPARATOR", "\\p{Z}"}, {"ZL", "\\p{Zl}"}, {"LINESEPARATOR", "\\p{Zl}"}, {"ZP", "\\p{Zp}"},
    {"PARAGRAPHSEPARATOR", "\\p{Zp}"}, {"ZS", "\\p{Zs}"}, {"SPACESEPARATOR", "\\p{Zs}"},
};

// The regex module's binary properties (standardised names and aliases). Those with a PCRE2 spelling of their
// own are translated here; the others are handed to PCRE2 by name, which knows most of them (the rest it
// refuses, and so does sluice).
constexpr const char* kBinaryProperties[] = {
    "AHEX", "ALNUM", "ALPHA", "ALPHABETIC", "ALPHANUMERIC", "ANY", "ASCIIHEXDIGIT", "BIDIC", "BIDICONTROL", "BIDIM",
    "BIDIMIRRORED", "BLANK", "CASED", "CASEIGNORABLE", "CHANGESWHENCASEFOLDED", "CHANGESWHENCASEMAPPED",
    "CHANGESWHENLOWERCASED", "CHANGESWHENTITLECASED", "CHANGESWHENUPPERCASED", "CI", "CWCF", "CWCM", "CWL", "CWT",
    "CWU", "DASH", "DEFAULTIGNORABLECODEPOINT", "DEP", "DEPRECATED", "DI", "DIA", "DIACRITIC", "EBASE", "ECOMP",
    "EMOD", "EMOJI", "EMOJICOMPONENT", "EMOJIMODIFIER", "EMOJIMODIFIERBASE", "EMOJIPRESENTATION", "EPRES", "EXT",
    "EXTENDEDPICTOGRAPHIC", "EXTENDER", "EXTPICT", "GRAPH", "GRAPHEMEBASE", "GRAPHEMEEXTEND", "GRAPHEMELINK", "GRBASE",
    "GREXT", "GRLINK", "H", "HEX", "HEXDIGIT", "HORIZSPACE", "HYPHEN", "IDC", "IDCONTINUE", "IDEO", "IDEOGRAPHIC",
    "IDS", "IDSB", "IDSBINARYOPERATOR", "IDST", "IDSTART", "IDSTRINARYOPERATOR", "JOINC", "JOINCONTROL", "LOE",
    "LOGICALORDEREXCEPTION", "LOWER", "LOWERCASE", "MATH", "NCHAR", "NONCHARACTERCODEPOINT", "OALPHA", "ODI",
    "OGREXT", "OIDC", "OIDS", "OLOWER", "OMATH", "OTHERALPHABETIC", "OTHERDEFAULTIGNORABLECODEPOINT",
    "OTHERGRAPHEMEEXTEND", "OTHERIDCONTINUE", "OTHERIDSTART", "OTHERLOWERCASE", "OTHERMATH", "OTHERUPPERCASE",
    "OUPPER", "PATSYN", "PATTERNSYNTAX", "PATTERNWHITESPACE", "PATWS", "PCM", "POSIXALNUM", "POSIXDIGIT",
    "POSIXPUNCT", "POSIXXDIGIT", "PREPENDEDCONCATENATIONMARK", "PRINT", "QMARK", "QUOTATIONMARK", "RADICAL",
    "REGIONALINDICATOR", "RI", "SD", "SENTENCETERMINAL", "SOFTDOTTED", "SPACE", "STERM", "TERM",
    "TERMINALPUNCTUATION", "UIDEO", "UNIFIEDIDEOGRAPH", "UPPER", "UPPERCASE", "V", "VARIATIONSELECTOR", "VERTSPACE",
    "VS", "WHITESPACE", "WORD", "WSPACE", "XDIGIT", "XIDC", "XIDCONTINUE", "XIDS", "XIDSTART",
};
constexpr NameMap kBinaryTranslations[] = {
    {"ALNUM", "\\p{Alphabetic}\\p{Nd}"}, {"ALPHANUMERIC", "\\p{Alphabetic}\\p{Nd}"}, {"ANY", "\\p{Any}"},
    {"BLANK", "\\t\\p{Zs}"}, {"H", "\\t\\p{Zs}\\x{180e}"}, {"HORIZSPACE", "\\t\\p{Zs}\\x{180e}"},
    {"GRAPH", "\\p{L}\\p{M}\\p{N}\\p{P}\\p{S}\\p{Co}\\p{Cf}"}, {"PRINT", "\\p{L}\\p{M}\\p{N}\\p{P}\\p{S}\\p{Co}\\p{Cf}\\p{Zs}"},
    {"POSIXALNUM", "\\p{Alphabetic}0-9"}, {"POSIXDIGIT", "0-9"}, {"POSIXXDIGIT", "0-9A-Fa-f"},
    {"SPACE", "\\p{White_Space}"}, {"WSPACE", "\\p{White_Space}"}, {"WHITESPACE", "\\p{White_Space}"},
    {"V", "\\n\\x{b}\\f\\r\\x{85}\\x{2028}\\x{2029}"}, {"VERTSPACE", "\\n\\x{b}\\f\\r\\x{85}\\x{2028}\\x{2029}"},
    {"WORD", "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}"}, {"XDIGIT", "\\p{Nd}\\p{Hex_Digit}"},
};
// The regex module's other properties (qualified \p{name=value} only): none of them is translated.
constexpr const char* kOtherProperties[] = {
    "BC", "BIDICLASS", "CANONICALCOMBININGCLASS", "CCC", "DECOMPOSITIONTYPE", "DT", "EA", "EASTASIANWIDTH", "GCB",
    "GRAPHEMECLUSTERBREAK", "HANGULSYLLABLETYPE", "HST", "INDICPOSITIONALCATEGORY", "INDICSYLLABICCATEGORY", "INPC",
    "INSC", "JG", "JOININGGROUP", "JOININGTYPE", "JT", "LB", "LINEBREAK", "NFCQC", "NFCQUICKCHECK", "NFDQC",
    "NFDQUICKCHECK", "NFKCQC", "NFKCQUICKCHECK", "NFKDQC", "NFKDQUICKCHECK", "NT", "NUMERICTYPE", "NUMERICVALUE",
    "NV", "SB", "SENTENCEBREAK", "WB", "WORDBREAK",
};

template <class T, size_t N>
const T* FindName(const T (&table)[N], std::string_view name) {
  for (const T& e : table)
    if (name == e.name) return &e;
  return nullptr;
}
template <size_t N>
bool HasName(const char* const (&table)[N], std::string_view name) {
  for (const char* e : table)
    if (name == e) return true;
  return false;
}

// The regex module's script names and aliases (standardised).
constexpr const char* kScriptNames[] = {
    "ADLAM", "ADLM", "AGHB", "AHOM", "ANATOLIANHIEROGLYPHS", "ARAB", "ARABIC", "ARMENIAN", "ARMI", "ARMN", "AVESTAN",
    "AVST", "BALI", "BALINESE", "BAMU", "BAMUM", "BASS", "BASSAVAH", "BATAK", "BATK", "BENG", "BENGALI", "BHAIKSUKI",
    "BHKS", "BOPO", "BOPOMOFO", "BRAH", "BRAHMI", "BRAI", "BRAILLE", "BUGI", "BUGINESE", "BUHD", "BUHID", "CAKM",
    "CANADIANABORIGINAL", "CANS", "CARI", "CARIAN", "CAUCASIANALBANIAN", "CHAKMA", "CHAM", "CHER", "CHEROKEE",
    "CHORASMIAN", "CHRS", "COMMON", "COPT", "COPTIC", "CPMN", "CPRT", "CUNEIFORM", "CYPRIOT", "CYPROMINOAN",
    "CYRILLIC", "CYRL", "DESERET", "DEVA", "DEVANAGARI", "DIAK", "DIVESAKURU", "DOGR", "DOGRA", "DSRT", "DUPL",
    "DUPLOYAN", "EGYP", "EGYPTIANHIEROGLYPHS", "ELBA", "ELBASAN", "ELYM", "ELYMAIC", "ETHI", "ETHIOPIC", "GEOR",
    "GEORGIAN", "GLAG", "GLAGOLITIC", "GONG", "GONM", "GOTH", "GOTHIC", "GRAN", "GRANTHA", "GREEK", "GREK",
    "GUJARATI", "GUJR", "GUNJALAGONDI", "GURMUKHI", "GURU", "HAN", "HANG", "HANGUL", "HANI", "HANIFIROHINGYA",
    "HANO", "HANUNOO", "HATR", "HATRAN", "HEBR", "HEBREW", "HIRA", "HIRAGANA", "HLUW", "HMNG", "HMNP", "HRKT",
    "HUNG", "IMPERIALARAMAIC", "INHERITED", "INSCRIPTIONALPAHLAVI", "INSCRIPTIONALPARTHIAN", "ITAL", "JAVA",
    "JAVANESE", "KAITHI", "KALI", "KANA", "KANNADA", "KATAKANA", "KATAKANAORHIRAGANA", "KAWI", "KAYAHLI", "KHAR",
    "KHAROSHTHI", "KHITANSMALLSCRIPT", "KHMER", "KHMR", "KHOJ", "KHOJKI", "KHUDAWADI", "KITS", "KNDA", "KTHI",
    "LANA", "LAO", "LAOO", "LATIN", "LATN", "LEPC", "LEPCHA", "LIMB", "LIMBU", "LINA", "LINB", "LINEARA", "LINEARB",
    "LISU", "LYCI", "LYCIAN", "LYDI", "LYDIAN", "MAHAJANI", "MAHJ", "MAKA", "MAKASAR", "MALAYALAM", "MAND",
    "MANDAIC", "MANI", "MANICHAEAN", "MARC", "MARCHEN", "MASARAMGONDI", "MEDEFAIDRIN", "MEDF", "MEETEIMAYEK", "MEND",
    "MENDEKIKAKUI", "MERC", "MERO", "MEROITICCURSIVE", "MEROITICHIEROGLYPHS", "MIAO", "MLYM", "MODI", "MONG",
    "MONGOLIAN", "MRO", "MROO", "MTEI", "MULT", "MULTANI", "MYANMAR", "MYMR", "NABATAEAN", "NAGM", "NAGMUNDARI",
    "NAND", "NANDINAGARI", "NARB", "NBAT", "NEWA", "NEWTAILUE", "NKO", "NKOO", "NSHU", "NUSHU",
    "NYIAKENGPUACHUEHMONG", "OGAM", "OGHAM", "OLCHIKI", "OLCK", "OLDHUNGARIAN", "OLDITALIC", "OLDNORTHARABIAN",
    "OLDPERMIC", "OLDPERSIAN", "OLDSOGDIAN", "OLDSOUTHARABIAN", "OLDTURKIC", "OLDUYGHUR", "ORIYA", "ORKH", "ORYA",
    "OSAGE", "OSGE", "OSMA", "OSMANYA", "OUGR", "PAHAWHHMONG", "PALM", "PALMYRENE", "PAUC", "PAUCINHAU", "PERM",
    "PHAG", "PHAGSPA", "PHLI", "PHLP", "PHNX", "PHOENICIAN", "PLRD", "PRTI", "PSALTERPAHLAVI", "QAAC", "QAAI",
    "REJANG", "RJNG", "ROHG", "RUNIC", "RUNR", "SAMARITAN", "SAMR", "SARB", "SAUR", "SAURASHTRA", "SGNW", "SHARADA",
    "SHAVIAN", "SHAW", "SHRD", "SIDD", "SIDDHAM", "SIGNWRITING", "SIND", "SINH", "SINHALA", "SOGD", "SOGDIAN",
    "SOGO", "SORA", "SORASOMPENG", "SOYO", "SOYOMBO", "SUND", "SUNDANESE", "SYLO", "SYLOTINAGRI", "SYRC", "SYRIAC",
    "TAGALOG", "TAGB", "TAGBANWA", "TAILE", "TAITHAM", "TAIVIET", "TAKR", "TAKRI", "TALE", "TALU", "TAMIL", "TAML",
    "TANG", "TANGSA", "TANGUT", "TAVT", "TELU", "TELUGU", "TFNG", "TGLG", "THAA", "THAANA", "THAI", "TIBETAN",
    "TIBT", "TIFINAGH", "TIRH", "TIRHUTA", "TNSA", "TOTO", "UGAR", "UGARITIC", "UNKNOWN", "VAI", "VAII", "VITH",
    "VITHKUQI", "WANCHO", "WARA", "WARANGCITI", "WCHO", "XPEO", "XSUX", "YEZI", "YEZIDI", "YI", "YIII",
    "ZANABAZARSQUARE", "ZANB", "ZINH", "ZYYY", "ZZZZ",
};

// The code points ICU gives a property value (Unicode 15.0, as the regex module 2022.10.31), as ranges.
Ranges IcuRanges(UProperty prop, int32_t value) {
  UErrorCode err = U_ZERO_ERROR;
  USet* set = uset_openEmpty();
  uset_applyIntPropertyValue(set, prop, value, &err);
  Ranges r;
  for (int32_t k = 0, n = uset_getItemCount(set); k < n && U_SUCCESS(err); ++k) {
    UChar32 lo = 0, hi = 0;
    if (uset_getItem(set, k, &lo, &hi, nullptr, 0, &err) == 0) r.emplace_back(lo, hi);
  }
  uset_close(set);
  if (U_FAILURE(err)) Fail(ErrorKind::kInternal, "ICU property set {}/{}: {}", static_cast<int>(prop), value, u_errorName(err));
  return r;
}

// A script (or, with `extensions`, a Script_Extensions value) or a block by any of its names, from ICU; false if
// `name` is none. (PCRE2's own \p{Greek} is the Script_Extensions one, and it has no blocks.)
bool ScriptSet(const std::string& name, bool extensions, SetPart& part) {
  // Only Unicode's script names (ICU also knows ISO 15924 codes such as Jamo, which the regex module reads as a
  // block): the regex module's list.
  if (!HasName(kScriptNames, name)) return false;
  int32_t v = u_getPropertyValueEnum(UCHAR_SCRIPT, name.c_str());
  if (v == UCHAR_INVALID_CODE) return false;
  part = SetPart::Of(IcuRanges(extensions ? UCHAR_SCRIPT_EXTENSIONS : UCHAR_SCRIPT, v));
  return true;
}
bool BlockSet(const std::string& name, SetPart& part) {
  int32_t v = u_getPropertyValueEnum(UCHAR_BLOCK, name.c_str());
  if (v == UCHAR_INVALID_CODE) return false;
  part = SetPart::Of(IcuRanges(UCHAR_BLOCK, v));
  return true;
}

// The set of a binary property by the regex module's name; caseless: as the regex module matches it under (?i),
// where Uppercase and Lowercase mean Cased.
SetPart BinaryProperty(const std::string& name, bool caseless) {
  if (caseless && (name == "UPPER" || name == "UPPERCASE" || name == "LOWER" || name == "LOWERCASE"))
    return SetPart::Of(IcuRanges(UCHAR_CASED, 1));
  if (name == "POSIXPUNCT") return SetPart::Expr("(?!\\p{Alphabetic})[\\p{P}\\p{S}]");
  if (const NameMap* t = FindName(kBinaryTranslations, name)) return SetPart::Items(t->pcre);
  UProperty prop = u_getPropertyEnum(name.c_str());
  if (prop < UCHAR_BINARY_START || prop >= UCHAR_BINARY_LIMIT)  // the contributory Other_* properties
    Fail(ErrorKind::kUsage, "property {} is not supported", name);
  return SetPart::Of(IcuRanges(prop, 1));
}

// caseless: a property standing alone under (?i), where the regex module matches Lu, Ll and Lt as any cased
// letter. closure: a member of a set with others under (?i), where the regex module matches the characters
// whose other case is in the category: explicit code points, which PCRE2 matches caselessly.
SetPart GeneralCategory(const NameMap& gc, bool caseless, bool closure) {
  std::string_view t = gc.pcre;
  if (closure) {
    std::string name(t.substr(3, t.size() - 4));
    int32_t mask = u_getPropertyValueEnum(UCHAR_GENERAL_CATEGORY_MASK, name.c_str());
    if (mask == UCHAR_INVALID_CODE) Fail(ErrorKind::kInternal, "ICU general category {}", name);
    SetPart part = SetPart::Of(IcuRanges(UCHAR_GENERAL_CATEGORY_MASK, mask));
    return t[1] == 'P' ? part.Complement() : part;
  }
  if (caseless && (t == "\\p{Lu}" || t == "\\p{Ll}" || t == "\\p{Lt}")) return SetPart::Items("\\p{LC}");
  return SetPart::Items(std::string(t));
}

// \X: one extended grapheme cluster, as UAX #29's regular expression writes it (Unicode 15.0 from ICU, as the
// regex module; PCRE2 10.42's own \X keeps two emoji such as U+1F600 U+1F44D together).
const std::string& GraphemeCluster() {
  static const std::string pattern = [] {
    auto cls = [](int32_t gcb) { return SetPart::Of(IcuRanges(UCHAR_GRAPHEME_CLUSTER_BREAK, gcb)).text; };
    const std::string control = cls(U_GCB_CONTROL) + cls(U_GCB_CR) + cls(U_GCB_LF);
    const std::string L = "[" + cls(U_GCB_L) + "]", V = "[" + cls(U_GCB_V) + "]", T = "[" + cls(U_GCB_T) + "]";
    const std::string LV = "[" + cls(U_GCB_LV) + "]", LVT = "[" + cls(U_GCB_LVT) + "]";
    const std::string ri = "[" + cls(U_GCB_REGIONAL_INDICATOR) + "]";
    const std::string pict = "[" + SetPart::Of(IcuRanges(UCHAR_EXTENDED_PICTOGRAPHIC, 1)).text + "]";
    const std::string extend = "[" + cls(U_GCB_EXTEND) + "]", zwj = "[" + cls(U_GCB_ZWJ) + "]";
    const std::string post = "[" + cls(U_GCB_EXTEND) + cls(U_GCB_ZWJ) + cls(U_GCB_SPACING_MARK) + "]";
    const std::string hangul = "(?:" + L + "*(?:" + V + "+|" + LV + V + "*|" + LVT + ")" + T + "*|" + L + "+|" + T + "+)";
    const std::string xpicto = pict + "(?:" + extend + "*" + zwj + pict + ")*";
    const std::string core = "(?:" + hangul + "|" + ri + ri + "|" + xpicto + "|[^" + control + "])";
    return "(?>\\r\\n|[" + control + "]|[" + cls(U_GCB_PREPEND) + "]*" + core + post + "*)";
  }();
  return pattern;
}

[[noreturn]] void UnknownProperty(std::string_view what) { Fail(ErrorKind::kUsage, "unknown property {}", what); }

// The regex module's lookup_property: `prop` (may be empty) and `value` as written. General categories are
// PCRE2's own (Unicode 14.0, as \w and \d); scripts, blocks and binary properties come from ICU.
SetPart LookupProperty(std::string_view prop_raw, std::string_view value_raw, bool positive, bool posix, bool caseless,
                       bool closure) {
  if (closure) caseless = false;
  std::string prop = Standardise(prop_raw), value = Standardise(value_raw);
  const std::string shown = prop_raw.empty() ? std::string(value_raw) : fmt::format("{}={}", prop_raw, value_raw);
  SetPart part;
  if (prop.empty()) {
    if (posix && (value == "ALNUM" || value == "DIGIT" || value == "PUNCT" || value == "XDIGIT")) value = "POSIX" + value;
    if (const NameMap* gc = FindName(kGeneralCategories, value)) part = GeneralCategory(*gc, caseless, closure);
    else if (ScriptSet(value, false, part) || BlockSet(value, part)) {}
    else if (HasName(kBinaryProperties, value)) part = BinaryProperty(value, caseless);
    else if (value.starts_with("IS") && HasName(kBinaryProperties, value.substr(2)))
      part = BinaryProperty(value.substr(2), caseless);
    else if (value.starts_with("IS") && ScriptSet(value.substr(2), false, part)) {}
    else if (value.starts_with("IN") && BlockSet(value.substr(2), part)) {}
    else UnknownProperty(shown);
  } else if (prop == "GC" || prop == "GENERALCATEGORY") {
    const NameMap* gc = FindName(kGeneralCategories, value);
    if (gc == nullptr) UnknownProperty(shown);
    part = GeneralCategory(*gc, caseless, closure);
  } else if (prop == "SC" || prop == "SCRIPT" || prop == "SCX" || prop == "SCRIPTEXTENSIONS") {
    if (!ScriptSet(value, prop == "SCX" || prop == "SCRIPTEXTENSIONS", part)) UnknownProperty(shown);
  } else if (prop == "BLK" || prop == "BLOCK") {
    if (!BlockSet(value, part)) UnknownProperty(shown);
  } else if (HasName(kBinaryProperties, prop)) {
    if (value == "YES" || value == "Y" || value == "TRUE" || value == "T") part = BinaryProperty(prop, caseless);
    else if (value == "NO" || value == "N" || value == "FALSE" || value == "F") part = BinaryProperty(prop, caseless).Complement();
    else UnknownProperty(shown);
  } else if (HasName(kOtherProperties, prop)) {
    Fail(ErrorKind::kUsage, "property {} is not supported", shown);
  } else {
    UnknownProperty(shown);
  }
  return positive ? part : part.Complement();
}

// --- the translator ---------------------------------------------------------------------------------------

enum : uint32_t { kPyI = 1, kPyM = 2, kPyS = 4, kPyX = 8, kPyA = 16 };

constexpr char32_t kEnd = 0xFFFFFFFF;
constexpr uint64_t kUnlimited = ~uint64_t{0};
constexpr uint64_t kPcre2MaxRepeat = 65535;

struct RestartWithFlags {
  uint32_t global;
};

// What the last item of a sequence was, for the quantifier that may follow it.
enum class ItemKind {
  kNone,        // nothing yet (or a quantifier): a quantifier here is an error
  kNormal,      // PCRE2 can repeat it as written
  kZeroWidth,   // an anchor or assertion: repeated inside (?:...) (PCRE2 refuses a quantifier on some)
  kQuantified,  // just quantified: another quantifier is "multiple repeat"
};

struct Translation {
  std::string pattern;
  uint32_t groups = 0;
  std::vector<std::pair<std::string, int>> names;
};

// Reads a pattern the way the regex module (or stdlib re, with `re`) parses it, and writes a PCRE2 pattern that
// matches the same. Python's capture groups keep their numbers; named groups become plain groups (names are
// resolved here, so any Python identifier works), references become \g{N}.
class Translator {
 public:
  Translator(std::string_view p, bool re, uint32_t global) : p_(p), re_(re), global_(global) {}

  Translation Run() {
    flags_ = global_;
    ParseAlternation(/*top=*/true);
    if (i_ < p_.size()) {
      if (p_[i_] == ')') Err("unbalanced parenthesis");
      Err("internal: pattern not consumed");
    }
    ResolveReferences();
    Translation t;
    std::string prefix;
    if (global_ & kPyI) prefix += 'i';
    if (global_ & kPyM) prefix += 'm';
    if (global_ & kPyS) prefix += 's';
    t.pattern = prefix.empty() ? out_ : "(?" + prefix + ")" + out_;
    t.groups = static_cast<uint32_t>(group_count_);
    for (const auto& [name, number] : names_) t.names.emplace_back(name, number);
    return t;
  }

 private:
  [[noreturn]] void Err(std::string_view msg) const {
    Fail(ErrorKind::kUsage, "{} at position {}", msg, utf8::CodePointCount(p_.substr(0, std::min(i_, p_.size()))));
  }

  // --- reading. In the regex module's verbose mode every read outside a set skips white space (str.isspace())
  // and #-comments; in stdlib re only the start of an item does (Skip()).
  bool verbose() const { return (flags_ & kPyX) != 0; }
  void Skip() {
    if (!verbose()) return;
    while (i_ < p_.size()) {
      size_t j = i_;
      char32_t c = utf8::Next(p_, j);
      if (re_ ? (c == ' ' || (c >= '\t' && c <= '\r')) : IsPySpace(c)) {
        i_ = j;
      } else if (c == '#') {
        size_t nl = p_.find('\n', i_);
        i_ = nl == std::string_view::npos ? p_.size() : (re_ ? nl + 1 : nl);
      } else {
        break;
      }
    }
  }
  char32_t PeekRaw() const {
    if (i_ >= p_.size()) return kEnd;
    size_t j = i_;
    return utf8::Next(p_, j);
  }
  char32_t GetRaw() {
    if (i_ >= p_.size()) return kEnd;
    return utf8::Next(p_, i_);
  }
  // source.get(): skips in the regex module's verbose mode (not inside a set, where in_set_ is true).
  char32_t Get() {
    if (!re_ && !in_set_) Skip();
    return GetRaw();
  }
  bool Match(char32_t c) {
    size_t saved = i_;
    if (Get() == c) return true;
    i_ = saved;
    return false;
  }
  bool MatchRaw(char32_t c) {
    if (PeekRaw() != c) return false;
    GetRaw();
    return true;
  }
  void Expect(char32_t c, std::string_view what) {
    if (!Match(c)) Err(fmt::format("missing {}", what));
  }
  // Characters while `pred` holds (source.get_while).
  template <class P>
  std::string GetWhile(P&& pred) {
    std::string s;
    while (true) {
      size_t saved = i_;
      char32_t c = Get();
      if (c == kEnd || !pred(c)) {
        i_ = saved;
        return s;
      }
      utf8::Append(s, c);
    }
  }

  // --- emitting
  void Literal(char32_t c) {
    if (c >= 0xD800 && c <= 0xDFFF) {  // a lone surrogate matches nothing in UTF-8 text
      out_ += "(?!)";
      return;
    }
    if ((flags_ & kPyI) && re_) {
      if (const std::string* cls = ReCaseClass(c)) {
        out_ += "(?-i:[" + *cls + "])";
        return;
      }
    }
    if ((flags_ & kPyI) && (c == 'i' || c == 'I' || c == 0x130 || c == 0x131)) {
      // Under (?i) PCRE2 pairs i with I only; the regex module also pairs i with U+0130 and I with U+0131.
      if (c == 'i') out_ += "(?:i|(?-i:\\x{130}))";
      else if (c == 'I') out_ += "(?:I|(?-i:\\x{131}))";
      else if (c == 0x130) out_ += "(?:\\x{130}|(?-i:i))";
      else out_ += "(?:\\x{131}|(?-i:I))";
      return;
    }
    AppendCodePoint(out_, c);
  }
  std::string_view WordItems() const {
    if (flags_ & kPyA) return kAsciiWordItems;
    return re_ ? kReWordItems : kWordItems;
  }
  SetPart Word() const { return SetPart::Items(std::string(WordItems())); }
  SetPart Space() const {
    if (flags_ & kPyA) return SetPart::Items(std::string(kAsciiSpaceItems));
    return SetPart::Items(std::string(re_ ? kReSpaceItems : kSpaceItems));
  }
  SetPart Digit() const { return SetPart::Items((flags_ & kPyA) ? "0-9" : "\\p{Nd}"); }
  std::string Boundary(bool at) const {
    std::string w(WordItems());
    if (at) return fmt::format("(?:(?<=[{0}])(?![{0}])|(?<![{0}])(?=[{0}]))", w);
    return fmt::format("(?:(?<=[{0}])(?=[{0}])|(?<![{0}])(?![{0}]))", w);
  }

  // --- widths (stdlib re checks that a look-behind is of fixed width) ---------------------------------------
  struct Width {
    uint64_t lo = 0, hi = 0;
  };
  static uint64_t Add(uint64_t a, uint64_t b) { return (a == kUnlimited || b == kUnlimited) ? kUnlimited : a + b; }
  static uint64_t Mul(uint64_t a, uint64_t b) {
    if (a == 0 || b == 0) return 0;
    return (a == kUnlimited || b == kUnlimited) ? kUnlimited : a * b;
  }

  // --- structure
  Width ParseAlternation(bool top = false) {
    Width w = ParseSequence(top);
    while (MatchRaw('|')) {
      out_ += '|';
      Width b = ParseSequence(false);
      w = {std::min(w.lo, b.lo), std::max(w.hi, b.hi)};
    }
    return w;
  }

  struct Item {
    ItemKind kind = ItemKind::kNone;
    size_t start = 0;  // where it begins in out_
    bool at = false;   // stdlib re: an AT code (^ $ \A \Z \b \B), which re cannot repeat
    Width w;
    bool keep_and_capture = false;  // holds both \K and a capture group
  };

  // A sequence of items up to '|', ')' or the end. allow_global: stdlib re's global flags may stand here
  // (the start of the pattern's first branch, before any item).
  Width ParseSequence(bool allow_global) {
    Item last;
    Width acc;  // the items before `last`
    while (true) {
      Skip();
      char32_t c = PeekRaw();
      if (c == kEnd || c == ')' || c == '|') break;
      size_t start = out_.size();
      GetRaw();
      Item item;
      switch (c) {
        case '\\':
          item = ParseEscape(start);
          break;
        case '(': {
          const int keeps = keeps_, groups = group_count_;
          item = ParseParen(start, allow_global);
          if (item.kind == ItemKind::kNone) continue;  // a comment or inline flags: no item
          item.keep_and_capture = keeps_ > keeps && group_count_ > groups;
          break;
        }
        case '[':
          ParseSet();
          item = One(start);
          break;
        case '.':
          out_ += '.';
          item = One(start);
          break;
        case '^':
        case '$':
          out_ += static_cast<char>(c);
          item = Zero(start, true);
          break;
        case '*':
        case '+':
        case '?':
        case '{': {
          uint64_t lo = c == '+' ? 1 : 0, hi = c == '?' ? 1 : kUnlimited;
          if (c == '{' && !ParseLimitedQuantifier(lo, hi)) {
            if (!re_) RefuseFuzzy();
            Literal('{');
            item = One(start);
            break;
          }
          Quantify(last, lo, hi);
          allow_global = false;
          continue;
        }
        default:
          Literal(c);
          item = One(start);
          break;
      }
      acc = {Add(acc.lo, last.w.lo), Add(acc.hi, last.w.hi)};
      last = item;
      allow_global = false;
    }
    return {Add(acc.lo, last.w.lo), Add(acc.hi, last.w.hi)};
  }

  // After '{': {n}, {n,}, {,n}, {n,m}, {,} (the regex module and re 3.11 agree); false (position restored) when
  // it is no quantifier, and '{' is a literal.
  bool ParseLimitedQuantifier(uint64_t& lo, uint64_t& hi) {
    size_t saved = i_;
    auto digits = [&] { return re_ ? RawDigits() : GetWhile(IsDigit); };
    std::string a = digits();
    bool comma = re_ ? MatchRaw(',') : Match(',');
    std::string b = comma ? digits() : a;
    if (!comma && a.empty()) {
      i_ = saved;
      return false;
    }
    if (!(re_ ? MatchRaw('}') : Match('}'))) {
      i_ = saved;
      return false;
    }
    auto number = [&](const std::string& d) -> uint64_t {
      if (d.size() > 10) Err("repeat count too big");
      uint64_t v = std::stoull(d);
      if (v >= 0xFFFFFFFFull) Err(re_ ? "the repetition number is too large" : "repeat count too big");
      return v;
    };
    lo = a.empty() ? 0 : number(a);
    hi = b.empty() ? kUnlimited : number(b);
    if (hi != kUnlimited && lo > hi) Err("min repeat greater than max repeat");
    return true;
  }
  std::string RawDigits() {
    std::string s;
    while (IsDigit(PeekRaw())) s += static_cast<char>(GetRaw());
    return s;
  }

  // The regex module reads {e}, {i<=1}, {1<=e<=2}, {2i+1d<3} ... after an item as a fuzzy-matching constraint
  // (or fails on it); PCRE2 has none, so sluice refuses what it would otherwise take as the literal text.
  void RefuseFuzzy() {
    size_t saved = i_;
    std::string d = GetWhile(IsDigit);
    char32_t c = Get();
    bool fuzzy = d.empty() ? (c == 'e' || c == 'd' || c == 'i' || c == 's') : (c == '<' || c == 'd' || c == 'i' || c == 's');
    i_ = saved;
    if (fuzzy) Err("fuzzy matching ({...} constraints of the regex module) is not supported");
  }

  void Quantify(Item& last, uint64_t lo, uint64_t hi) {
    if (last.kind == ItemKind::kNone) Err("nothing to repeat");
    if (last.kind == ItemKind::kQuantified) Err("multiple repeat");
    if (re_ && last.at) Err("nothing to repeat");
    // PCRE2 and the regex module set a group that a repeated \K passes through differently.
    if (last.keep_and_capture) Err("\\K inside a repeated group that captures is not supported");
    const bool wrap = last.kind == ItemKind::kZeroWidth;
    char32_t suffix = 0;
    size_t saved = i_;
    char32_t c = re_ ? GetRaw() : Get();
    if (c == '?' || c == '+') suffix = c;
    else i_ = saved;
    last.kind = ItemKind::kQuantified;
    // The regex module drops a quantifier that repeats exactly once, with its lazy or possessive suffix
    // (PCRE2 would make {1}+ atomic).
    if (!re_ && lo == 1 && hi == 1) return;
    last.w = {Mul(last.w.lo, lo), hi == kUnlimited ? (last.w.hi == 0 ? 0 : kUnlimited) : Mul(last.w.hi, hi)};
    if (lo > kPcre2MaxRepeat || (hi != kUnlimited && hi > kPcre2MaxRepeat))
      Err(fmt::format("repeat count {} is more than PCRE2 can count (65535)", hi != kUnlimited && hi > lo ? hi : lo));
    if (wrap) {
      out_.insert(last.start, "(?:");
      out_ += ')';
    }
    std::string q;
    if (lo == 0 && hi == kUnlimited) q = "*";
    else if (lo == 1 && hi == kUnlimited) q = "+";
    else if (lo == 0 && hi == 1) q = "?";
    else if (hi == kUnlimited) q = fmt::format("{{{},}}", lo);
    else if (lo == hi) q = fmt::format("{{{}}}", lo);
    else q = fmt::format("{{{},{}}}", lo, hi);
    if (suffix) q += static_cast<char>(suffix);
    out_ += q;
  }

  // --- escapes outside a set ---------------------------------------------------------------------------------
  Item Zero(size_t start, bool at = false) { return {ItemKind::kZeroWidth, start, at, {0, 0}}; }
  Item One(size_t start) { return {ItemKind::kNormal, start, false, {1, 1}}; }

  Item ParseEscape(size_t start) {
    char32_t c = GetRaw();  // the escaped character itself is read as it is, also in verbose mode
    if (c == kEnd) Err("bad escape (end of pattern)");
    if (c == 'x' || c == 'u' || c == 'U') {
      Literal(HexEscape(c));
      return One(start);
    }
    if (c == 'N') {
      Literal(NamedChar());
      return One(start);
    }
    if (IsDigit(c)) return NumericEscape(c, start);
    if (re_) {
      switch (c) {
        case 'A': out_ += "\\A"; return Zero(start, true);
        case 'Z': out_ += "\\z"; return Zero(start, true);
        case 'b': out_ += Boundary(true); return Zero(start, true);
        case 'B': out_ += Boundary(false); return Zero(start, true);
        default: break;
      }
    } else {
      switch (c) {
        case 'g': {
          size_t saved = i_;
          if (GroupRefEscape()) return {ItemKind::kNormal, start, false, {0, kUnlimited}};
          i_ = saved;  // not a reference: a literal g
          Literal('g');
          return One(start);
        }
        case 'G': out_ += "\\G"; return Zero(start);
        case 'K':
          ++keeps_;
          out_ += "\\K";
          return Zero(start);
        case 'X': out_ += GraphemeCluster(); return {ItemKind::kNormal, start, false, {1, kUnlimited}};
        case 'L': Err("bad escape \\L (named lists of the regex module are not supported)");
        case 'p':
        case 'P': {
          PropRef ref;
          if (PropertyEscape(c == 'p', ref)) out_ += Resolve(ref, true).Standalone((flags_ & kPyI) != 0);
          else Literal(c);  // no property after it: the letter
          return One(start);
        }
        case 'A': out_ += "\\A"; return Zero(start);
        case 'Z': out_ += "\\z"; return Zero(start);
        case 'b': out_ += Boundary(true); return Zero(start);
        case 'B': out_ += Boundary(false); return Zero(start);
        case 'm': out_ += fmt::format("(?<![{0}])(?=[{0}])", WordItems()); return Zero(start);
        case 'M': out_ += fmt::format("(?<=[{0}])(?![{0}])", WordItems()); return Zero(start);
        default: break;
      }
    }
    if (IsAsciiLetter(c)) {
      if (std::optional<SetPart> part = ClassEscape(c)) {
        out_ += part->Standalone(false);
        return One(start);
      }
      if (char32_t ch = CharacterEscape(c)) {
        Literal(ch);
        return One(start);
      }
      Err(fmt::format("bad escape \\{}", static_cast<char>(c)));
    }
    Literal(c);  // an escaped non-letter is the character
    return One(start);
  }

  std::optional<SetPart> ClassEscape(char32_t c) const {
    switch (c) {
      case 'd': return Digit();
      case 'D': return Digit().Complement();
      case 's': return Space();
      case 'S': return Space().Complement();
      case 'w': return Word();
      case 'W': return Word().Complement();
      case 'h':
        if (!re_) return SetPart::Items("\\t\\p{Zs}");  // the regex module's horizontal space
        break;
      default: break;
    }
    return std::nullopt;
  }
  static char32_t CharacterEscape(char32_t c) { return SimpleEscape(c); }

  // \xHH, \uHHHH, \UHHHHHHHH (exactly that many hex digits in both dialects).
  char32_t HexEscape(char32_t kind) {
    size_t n = kind == 'x' ? 2 : kind == 'u' ? 4 : 8;
    uint32_t v = 0;
    std::string digits;
    for (size_t k = 0; k < n; ++k) {
      char32_t c = (re_ || in_set_) ? GetRaw() : Get();
      if (c == kEnd || !IsHex(c)) Err(fmt::format("incomplete escape \\{}{}", static_cast<char>(kind), digits));
      digits += static_cast<char>(c);
      v = v * 16 + static_cast<uint32_t>(HexValue(c));
    }
    if (v > 0x10FFFF) Err(fmt::format("bad escape \\{}{}", static_cast<char>(kind), digits));
    return v;
  }

  // \N{name}: the regex module takes a bare \N (or one without a closed name of letters, digits, spaces and
  // hyphens) as the letter N; re requires the braces.
  char32_t NamedChar() {
    if (re_) {
      if (!MatchRaw('{')) Err("missing {");
      size_t close = p_.find('}', i_);
      if (close == std::string_view::npos) Err("missing }, unterminated name");
      std::string_view name = p_.substr(i_, close - i_);
      if (name.empty()) Err("missing character name");
      int32_t cp = LookupCharacterName(name);
      if (cp < 0) Err(fmt::format("undefined character name '{}'", name));
      i_ = close + 1;
      return static_cast<char32_t>(cp);
    }
    size_t saved = i_;
    if (Match('{')) {
      std::string name = GetWhile([](char32_t c) { return IsAsciiAlnum(c) || c == ' ' || c == '-'; });
      if (Match('}')) {
        int32_t cp = LookupCharacterName(name);
        if (cp < 0) Err(fmt::format("undefined character name '{}'", name));
        return static_cast<char32_t>(cp);
      }
    }
    i_ = saved;
    return 'N';
  }

  // A digit after a backslash outside a set: an octal escape (\0, \0oo, or three octal digits) or a group
  // reference (one or two digits).
  Item NumericEscape(char32_t c, size_t start) {
    auto next = [&] { return re_ ? GetRaw() : Get(); };
    if (c == '0') {
      uint32_t v = 0;
      for (int k = 0; k < 2; ++k) {
        size_t saved = i_;
        char32_t d = next();
        if (!IsOctal(d)) {
          i_ = saved;
          break;
        }
        v = v * 8 + (d - '0');
      }
      Literal(v);
      return One(start);
    }
    std::string digits(1, static_cast<char>(c));
    size_t saved = i_;
    char32_t d = next();
    if (IsDigit(d)) {
      digits += static_cast<char>(d);
      saved = i_;
      char32_t e = next();
      if (IsOctal(c) && IsOctal(d) && IsOctal(e)) {
        uint32_t v = static_cast<uint32_t>((c - '0') * 64 + (d - '0') * 8 + (e - '0'));
        if (re_ && v > 0377) Err(fmt::format("octal escape value \\{}{} outside of range 0-0o377", digits, static_cast<char>(e)));
        Literal(re_ ? v : (v & 0x1FF));
        return One(start);
      }
    }
    i_ = saved;
    BackReference(std::stoi(digits), "");
    return {ItemKind::kNormal, start, false, {0, kUnlimited}};
  }

  // \g<name> / \g<N> of the regex module; false if what follows is no valid reference (then \g is a g).
  bool GroupRefEscape() {
    if (!Match('<')) return false;
    std::string name = GetWhile([](char32_t c) { return c != ')' && c != '>'; });
    if (!Match('>')) return false;
    if (!ValidName(name, true)) return false;
    int n = AllDigits(name) ? std::stoi(name) : -1;
    if ((n > 0 && IsOpen(n)) || (n < 0 && names_.count(name) && IsOpen(names_[name]))) return false;
    BackReference(n, name);
    return true;
  }

  static bool AllDigits(std::string_view s) {
    return !s.empty() && s.size() <= 9 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  }
  // parse_name: digits (a group number >= 1, where allowed) or an identifier.
  static bool ValidName(const std::string& name, bool allow_numeric) {
    if (name.empty()) return false;
    if (AllDigits(name)) return allow_numeric && std::stoi(name) >= 1;
    return IsIdentifier(name);
  }
  std::string ParseName(bool allow_numeric, char32_t terminator) {
    std::string name;
    if (re_) {
      size_t close = p_.find(static_cast<char>(terminator), i_);
      if (close == std::string_view::npos)
        Err(fmt::format("missing {}, unterminated name", static_cast<char>(terminator)));
      name = std::string(p_.substr(i_, close - i_));
      i_ = close;
    } else {
      name = GetWhile([](char32_t c) { return c != ')' && c != '>'; });
    }
    if (name.empty()) Err("missing group name");
    if (!ValidName(name, allow_numeric)) Err(fmt::format("bad character in group name '{}'", name));
    return name;
  }

  // --- properties (the regex module only) ----------------------------------------------------------------
  // After \p or \P: {name}, {^name}, {prop=value}, {prop:value}, or one letter of CLMNPSZ; false (position
  // restored) when none follows.
  struct PropRef {
    std::string prop, value;
    bool positive = true, posix = false;
  };
  // The property's set: standing alone (or alone in a set), or as one member of a set with others.
  SetPart Resolve(const PropRef& r, bool alone) const {
    const bool caseless = (flags_ & kPyI) != 0;
    return LookupProperty(r.prop, r.value, r.positive, r.posix, caseless, caseless && !alone);
  }
  bool PropertyEscape(bool positive, PropRef& ref) {
    size_t saved = i_;
    char32_t c = Get();
    if (c == '{') {
      bool negate = Match('^');
      auto [prop, value] = PropertyName();
      if (Match('}')) {
        ref = {prop, value, positive != negate, false};
        Resolve(ref, true);  // an unknown property fails here, where Python fails
        return true;
      }
    } else if (c != kEnd && c < 0x80 && std::string_view("CLMNPSZ").find(static_cast<char>(c)) != std::string_view::npos) {
      ref = {"", std::string(1, static_cast<char>(c)), positive, false};
      return true;
    }
    i_ = saved;
    return false;
  }
  std::pair<std::string, std::string> PropertyName() {
    auto name_part = [](char32_t c) { return IsAsciiAlnum(c) || c == ' ' || c == '&' || c == '_' || c == '-' || c == '.'; };
    std::string name = GetWhile(name_part);
    size_t saved = i_;
    char32_t c = Get();
    if (c == ':' || c == '=') {
      std::string value = GetWhile([&](char32_t x) { return name_part(x) || x == '/'; });
      size_t b = value.find_first_not_of(' '), e = value.find_last_not_of(' ');
      value = b == std::string::npos ? "" : value.substr(b, e - b + 1);
      if (!value.empty()) return {name, value};
    }
    i_ = saved;
    return {"", name};
  }

  // --- character sets ----------------------------------------------------------------------------------------
  struct SetMember {
    bool is_char = true;
    char32_t cp = 0;      // a character; with hi > cp, the range [cp, hi]
    SetPart part;         // not a character: a class escape
    std::optional<PropRef> prop;  // or a property, resolved when the set is complete
    char32_t hi = 0;
    static SetMember Char(char32_t c) {
      SetMember m;
      m.cp = c;
      return m;
    }
    static SetMember Part(SetPart p) {
      SetMember m;
      m.is_char = false;
      m.part = std::move(p);
      return m;
    }
    static SetMember Prop(PropRef r) {
      SetMember m;
      m.is_char = false;
      m.prop = std::move(r);
      return m;
    }
  };

  SetMember SetEscape() {
    char32_t c = GetRaw();
    if (c == kEnd) Err("bad escape (end of pattern)");
    if (c == 'x' || c == 'u' || c == 'U') return SetMember::Char(HexEscape(c));
    if (c == 'N') return SetMember::Char(NamedChar());
    if (!re_ && (c == 'p' || c == 'P')) {
      PropRef ref;
      if (PropertyEscape(c == 'p', ref)) return SetMember::Prop(ref);
      return SetMember::Char(c);
    }
    if (IsDigit(c)) {  // octal, up to three digits
      if (c == '8' || c == '9') Err(fmt::format("bad escape \\{}", static_cast<char>(c)));
      uint32_t v = c - '0';
      for (int k = 0; k < 2 && IsOctal(PeekRaw()); ++k) v = v * 8 + (GetRaw() - '0');
      if (re_ && v > 0377) Err("octal escape value outside of range 0-0o377");
      return SetMember::Char(v);
    }
    if (IsAsciiLetter(c)) {
      if (std::optional<SetPart> part = ClassEscape(c)) return SetMember::Part(*part);
      if (char32_t ch = CharacterEscape(c)) return SetMember::Char(ch);
      Err(fmt::format("bad escape \\{}", static_cast<char>(c)));
    }
    return SetMember::Char(c);
  }

  SetMember SetItem() {
    if (MatchRaw('\\')) return SetEscape();
    if (!re_ && p_.substr(i_).starts_with("[:")) {  // a POSIX class: any property name of the regex module
      size_t saved = i_;
      i_ += 2;
      bool negate = MatchRaw('^');
      auto [prop, value] = PropertyName();
      if (p_.substr(i_).starts_with(":]")) {
        i_ += 2;
        PropRef ref{prop, value, !negate, true};
        Resolve(ref, true);  // an unknown name fails here
        return SetMember::Prop(ref);
      }
      i_ = saved;
    }
    char32_t c = GetRaw();
    if (c == kEnd) Err("unterminated character set");
    return SetMember::Char(c);
  }

  void ParseSet() {
    in_set_ = true;
    bool negated = MatchRaw('^');
    std::vector<SetMember> members;
    auto dash = [] { return SetMember::Char('-'); };
    bool first = true;
    while (true) {
      if (PeekRaw() == kEnd) Err("unterminated character set");
      if (PeekRaw() == ']' && !first) {
        GetRaw();
        break;
      }
      first = false;
      SetMember start = SetItem();
      // A range: two characters around '-' (a '-' before ']' is itself). re refuses a class escape at either
      // end; the regex module reads them as the three members.
      if (PeekRaw() != '-' || (!re_ && !start.is_char)) {
        members.push_back(start);
        continue;
      }
      GetRaw();
      if (PeekRaw() == ']' || PeekRaw() == kEnd) {
        if (PeekRaw() == kEnd) Err("unterminated character set");
        members.push_back(start);
        members.push_back(dash());
        continue;
      }
      SetMember end = SetItem();
      if (!start.is_char || !end.is_char) {
        if (re_) Err("bad character range");
        members.push_back(start);
        members.push_back(dash());
        members.push_back(end);
        continue;
      }
      if (start.cp > end.cp) Err("bad character range");
      start.hi = end.cp;
      members.push_back(start);
    }
    in_set_ = false;
    const bool caseless = (flags_ & kPyI) != 0;
    if (members.size() == 1 && members[0].prop) {  // the regex module reads [\p{..}] as the property itself
      SetPart part = Resolve(*members[0].prop, true);
      out_ += (negated ? part.Complement() : part).Standalone(caseless);
      return;
    }
    CharSetBuilder b;
    for (const SetMember& m : members) {
      if (m.prop) b.Add(Resolve(*m.prop, false));
      else if (!m.is_char) b.Add(m.part);
      else b.AddRange(m.cp, std::max(m.cp, m.hi));
    }
    out_ += b.Emit(negated, caseless, re_);
  }

  // --- groups and references ---------------------------------------------------------------------------------
  bool IsOpen(int n) const { return std::find(open_.begin(), open_.end(), n) != open_.end(); }

  int OpenGroup(const std::string& name) {
    int n = ++group_count_;
    if (!name.empty()) {
      auto it = names_.find(name);
      if (it != names_.end() && it->second != n) {
        if (re_) Err(fmt::format("redefinition of group name '{}'", name));
        Err(fmt::format("group name '{}' is used twice (one group for both in the regex module; not supported)", name));
      }
      names_[name] = n;
    }
    open_.push_back(n);
    return n;
  }
  void CloseGroup() { open_.pop_back(); }

  // A placeholder in out_ for a reference resolved when the whole pattern is read (forward references are fine
  // in the regex module): \g{N}, or a condition (?(N).
  enum class RefKind { kBack, kCondition };

  // (?R), (?1), (?&name), (?P>name): PCRE2 fails a match on a recursion that consumes nothing where the regex
  // module recurses until it runs out of memory, and the two set groups differently after a recursion.
  [[noreturn]] void GroupCall() {
    Err("recursion and group calls ((?R), (?1), (?&name), (?P>name)) are not supported");
  }
  struct Deferred {
    RefKind kind;
    int number;  // -1: by name
    std::string name;
    size_t pos;  // in the pattern, for errors
  };
  void Defer(RefKind kind, int number, const std::string& name) {
    out_ += fmt::format("\x01{}\x02", deferred_.size());
    deferred_.push_back({kind, number, name, i_});
  }
  void BackReference(int number, const std::string& name) {
    if (re_) {  // re resolves at once: the group must be defined and closed
      int n = number;
      if (n < 0) {
        auto it = names_.find(name);
        if (it == names_.end()) Err(fmt::format("unknown group name '{}'", name));
        n = it->second;
      }
      if (n > group_count_) Err(fmt::format("invalid group reference {}", n));
      if (IsOpen(n)) Err("cannot refer to an open group");
      out_ += fmt::format("\\g{{{}}}", n);
      return;
    }
    if (number > 0 && IsOpen(number)) Err("cannot refer to an open group");
    Defer(RefKind::kBack, number, name);
  }

  void ResolveReferences() {
    std::string out;
    out.reserve(out_.size());
    for (size_t k = 0; k < out_.size(); ++k) {
      if (out_[k] != '\x01') {
        out += out_[k];
        continue;
      }
      size_t end = out_.find('\x02', k);
      const Deferred& d = deferred_[std::stoul(out_.substr(k + 1, end - k - 1))];
      k = end;
      int n = d.number;
      if (n < 0) {
        auto it = names_.find(d.name);
        if (it == names_.end()) {
          i_ = d.pos;
          Err(fmt::format("unknown group name '{}'", d.name));
        }
        n = it->second;
      }
      if (n > group_count_) {
        i_ = d.pos;
        Err(fmt::format("invalid group reference {}", n));
      }
      if (d.kind == RefKind::kBack) out += fmt::format("\\g{{{}}}", n);
      else out += fmt::format("(?({})", n);
    }
    out_.swap(out);
  }

  // A group body up to its ')': the flags set inside end with it.
  Width Body() {
    uint32_t saved = flags_;
    Width w = ParseAlternation();
    flags_ = saved;
    Expect(')', ")");
    out_ += ')';
    return w;
  }

  // After '(': every kind of parenthesis. Returns kNone for what is no item (a comment, inline flags).
  Item ParseParen(size_t start, bool allow_global) {
    size_t after_paren = i_;
    char32_t c = GetRaw();
    if (c == '?') {
      size_t after_q = i_;
      c = GetRaw();
      if (c == '<') {
        size_t saved = i_;
        char32_t d = re_ ? GetRaw() : Get();
        if (d == '=' || d == '!') return Lookaround(start, d == '=' ? "(?<=" : "(?<!", true);
        if (re_) Err("unknown extension ?<");
        i_ = saved;
        return NamedGroup(start);
      }
      if (c == '=' || c == '!') return Lookaround(start, c == '=' ? "(?=" : "(?!", false);
      if (c == 'P') {
        char32_t d = re_ ? GetRaw() : Get();
        if (d == '<') return NamedGroup(start);
        if (d == '=') {
          std::string name = ParseName(!re_, ')');
          Expect(')', ")");
          if (AllDigits(name)) BackReference(std::stoi(name), "");
          else {
            if (!re_ && names_.count(name) && IsOpen(names_[name])) Err("cannot refer to an open group");
            BackReference(-1, name);
          }
          return {ItemKind::kNormal, start, false, {0, kUnlimited}};
        }
        if (!re_ && (d == '>' || d == '&')) GroupCall();
        Err("unknown extension ?P");
      }
      if (c == '#') {
        Comment();
        return {};
      }
      if (c == '(') return Conditional(start);
      if (c == ':') {
        out_ += "(?:";
        Width w = Body();
        return {ItemKind::kNormal, start, false, w};
      }
      if (c == '>') {
        out_ += "(?>";
        Width w = Body();
        return {ItemKind::kNormal, start, false, w};
      }
      if (!re_ && c == '|') return BranchReset(start);
      if (!re_ && (c == 'R' || c == '&' || IsDigit(c))) GroupCall();
      i_ = after_q;
      return Flags(start, allow_global);
    }
    if (!re_ && c == '*') {  // a backtracking verb; the regex module knows (*FAIL), (*F), (*PRUNE), (*SKIP)
      size_t saved = i_;
      std::string word = GetWhile([](char32_t x) { return x != ')' && x != '>'; });
      if (!word.empty() && IsAsciiLetter(static_cast<unsigned char>(word[0]))) {
        if (word != "F" && word != "FAIL" && word != "PRUNE" && word != "SKIP") Err("unknown verb");
        Expect(')', ")");
        out_ += word == "F" ? "(*FAIL)" : "(*" + word + ")";
        return Zero(start);
      }
      i_ = saved;
    }
    i_ = after_paren;
    OpenGroup("");
    out_ += '(';
    Width w = Body();
    CloseGroup();
    return {ItemKind::kNormal, start, false, w};
  }

  Item NamedGroup(size_t start) {
    std::string name = ParseName(false, '>');
    Expect('>', ">");
    OpenGroup(name);
    out_ += '(';
    Width w = Body();
    CloseGroup();
    return {ItemKind::kNormal, start, false, w};
  }

  Item Lookaround(size_t start, const char* head, bool behind) {
    out_ += head;
    Width w = Body();
    if (re_ && behind && w.lo != w.hi) Err("look-behind requires fixed-width pattern");
    return Zero(start);
  }

  void Comment() {
    while (true) {
      char32_t c = GetRaw();
      if (c == kEnd) Err(re_ ? "missing ), unterminated comment" : "missing )");
      if (c == ')') return;
      if (c == '\\' && !re_) GetRaw();  // the regex module skips an escaped character, ')' included
    }
  }

  Item Conditional(size_t start) {
    size_t saved = i_;
    char32_t c = re_ ? GetRaw() : Get();
    if (c == '?') {
      if (re_) Err("bad character in group name");
      char32_t d = Get();
      std::string head;
      if (d == '=' || d == '!') head = d == '=' ? "(?(?=" : "(?(?!";
      else if (d == '<') {
        char32_t e = Get();
        if (e != '=' && e != '!') Err("expected lookaround conditional");
        head = e == '=' ? "(?(?<=" : "(?(?<!";
      } else {
        Err("expected lookaround conditional");
      }
      out_ += head;
      Body();
    } else {
      i_ = saved;
      std::string name = ParseName(true, ')');
      Expect(')', ")");
      if (AllDigits(name)) {
        if (std::stoi(name) == 0) Err("bad group number");
        Defer(RefKind::kCondition, std::stoi(name), "");
      } else {
        if (re_ && !names_.count(name)) Err(fmt::format("unknown group name '{}'", name));
        Defer(RefKind::kCondition, -1, name);
      }
    }
    Width yes = ParseSequence(false), no;
    if (MatchRaw('|')) {
      out_ += '|';
      no = ParseSequence(false);
      if (re_ && PeekRaw() == '|') Err("conditional backref with more than two branches");
    }
    Expect(')', ")");
    out_ += ')';
    return {ItemKind::kNormal, start, false, {std::min(yes.lo, no.lo), std::max(yes.hi, no.hi)}};
  }

  Item BranchReset(size_t start) {
    out_ += "(?|";
    int initial = group_count_, final_count = initial;
    Width w = ParseSequence(false);
    final_count = std::max(final_count, group_count_);
    while (MatchRaw('|')) {
      out_ += '|';
      group_count_ = initial;
      Width b = ParseSequence(false);
      w = {std::min(w.lo, b.lo), std::max(w.hi, b.hi)};
      final_count = std::max(final_count, group_count_);
    }
    group_count_ = final_count;
    Expect(')', ")");
    out_ += ')';
    return {ItemKind::kNormal, start, false, w};
  }

  // --- inline flags ------------------------------------------------------------------------------------------
  // (?flags), (?flags:...), (?flags-flags:...). The regex module (V0): flags without ':' hold for the whole
  // pattern wherever they stand (the pattern is read again with them); its flags a L b e f p r w V1 have no
  // PCRE2 counterpart and are refused, u and V0 change nothing. stdlib re: flags without ':' only at the start.
  Item Flags(size_t start, bool allow_global) {
    uint32_t on = 0, off = 0;
    if (re_) ReFlags(on, off, allow_global);
    else RegexFlags(on, off);
    if (on == kPositional) return {};
    if ((flags_ | on) & kPyA && (flags_ | on) & kPyI && !(off & kPyI))
      Err("the ASCII flag (?a) together with (?i) is not supported");
    std::string pcre;
    for (auto [bit, letter] : {std::pair{kPyI, 'i'}, {kPyM, 'm'}, {kPyS, 's'}})
      if (on & bit) pcre += letter;
    std::string pcre_off;
    for (auto [bit, letter] : {std::pair{kPyI, 'i'}, {kPyM, 'm'}, {kPyS, 's'}})
      if (off & bit) pcre_off += letter;
    if (!pcre_off.empty()) pcre += "-" + pcre_off;
    out_ += "(?" + pcre + ":";
    uint32_t saved = flags_;
    flags_ = (flags_ | on) & ~off;
    Width w = Body();
    flags_ = saved;
    return {ItemKind::kNormal, start, false, w};
  }
  static constexpr uint32_t kPositional = 0xFFFFFFFF;

  void RegexFlags(uint32_t& on, uint32_t& off) {
    auto flag_set = [&] {
      uint32_t f = 0;
      while (true) {
        size_t saved = i_;
        char32_t c = Get();
        if (c == 'V') {
          char32_t d = Get();
          if (d == '0') continue;  // V0: the default
          if (d == '1') Err("the regex module's flag (?V1) is not supported");
          i_ = saved;
          return f;
        }
        switch (c) {
          case 'i': f |= kPyI; continue;
          case 'm': f |= kPyM; continue;
          case 's': f |= kPyS; continue;
          case 'x': f |= kPyX; continue;
          case 'u': continue;  // Unicode: the default for str patterns
          case 'a': case 'L': case 'b': case 'e': case 'f': case 'p': case 'r': case 'w':
            Err(fmt::format("the regex module's flag (?{}) is not supported", static_cast<char>(c)));
          default:
            i_ = saved;
            return f;
        }
      }
    };
    on = flag_set();
    if (Match('-')) {
      size_t before = i_;
      off = flag_set();
      if (off == 0 && i_ == before) Err("bad inline flags: no flags after '-'");
    }
    if (on & off) Err("bad inline flags: flag turned on and off");
    if (Match(':')) return;
    if (Match(')')) {
      if (off) Err("bad inline flags: cannot turn flags off");
      if (on & ~global_) throw RestartWithFlags{global_ | on};
      on = kPositional;
      return;
    }
    Err("unknown extension");
  }

  void ReFlags(uint32_t& on, uint32_t& off, bool allow_global) {
    char32_t c = GetRaw();
    bool type_flag = false;
    auto letter = [&](char32_t x) -> uint32_t {
      switch (x) {
        case 'i': return kPyI;
        case 'm': return kPyM;
        case 's': return kPyS;
        case 'x': return kPyX;
        case 'a': return kPyA;
        case 'u': return 0x100;
        case 'L': Err("bad inline flags: cannot use 'L' flag with a str pattern");
        case 't': Err("the TEMPLATE flag (?t) is not supported");
        default: return 0;
      }
    };
    if (c == kEnd) Err("unexpected end of pattern");
    if (c != '-') {
      while (true) {
        uint32_t f = letter(c);
        if (f == 0) Err(IsAsciiLetter(c) ? "unknown flag" : fmt::format("unknown extension ?{}", c < 0x80 ? std::string(1, static_cast<char>(c)) : std::string()));
        if (f & (kPyA | 0x100)) {
          if (type_flag && !(on & f)) Err("bad inline flags: flags 'a', 'u' and 'L' are incompatible");
          type_flag = true;
        }
        on |= f;
        c = GetRaw();
        if (c == kEnd) Err("missing -, : or )");
        if (c == ')' || c == '-' || c == ':') break;
        if (!letter(c) && !IsAsciiLetter(c)) Err("missing -, : or )");
      }
    }
    on &= ~0x100u;
    if (c == ')') {
      if (!allow_global) Err("global flags not at the start of the expression");
      global_ |= on & (kPyI | kPyM | kPyS);
      flags_ |= on;
      if ((flags_ & kPyA) && (flags_ & kPyI)) Err("the ASCII flag (?a) together with (?i) is not supported");
      on = kPositional;
      return;
    }
    if (c == '-') {
      c = GetRaw();
      if (c == kEnd) Err("missing flag");
      while (true) {
        if (c == 'a' || c == 'u' || c == 'L') Err("bad inline flags: cannot turn off flags 'a', 'u' and 'L'");
        uint32_t f = (c == 'i' || c == 'm' || c == 's' || c == 'x') ? letter(c) : 0;
        if (f == 0) Err(IsAsciiLetter(c) ? "unknown flag" : "missing flag");
        off |= f;
        c = GetRaw();
        if (c == kEnd) Err("missing :");
        if (c == ':') break;
        if (!IsAsciiLetter(c)) Err("missing :");
      }
    }
    if (on & off) Err("bad inline flags: flag turned on and off");
  }

  std::string_view p_;
  bool re_;
  uint32_t global_;
  uint32_t flags_ = 0;
  size_t i_ = 0;
  bool in_set_ = false;
  std::string out_;
  int group_count_ = 0;
  int keeps_ = 0;  // \K seen so far
  std::vector<int> open_;
  std::map<std::string, int> names_;
  std::vector<Deferred> deferred_;

};

}  // namespace

namespace {

// The offset of the first byte that is not well-formed UTF-8 (overlong forms, surrogates, beyond U+10FFFF), or
// npos.
size_t InvalidUtf8At(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >= 0xC2 && c < 0xE0) ? 2 : (c >= 0xE0 && c < 0xF0) ? 3 : (c >= 0xF0 && c < 0xF5) ? 4 : 0;
    if (n == 0 || i + n > s.size()) return i;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return i;
    unsigned char d = static_cast<unsigned char>(s[i + 1 < s.size() ? i + 1 : i]);
    if ((c == 0xE0 && d < 0xA0) || (c == 0xED && d >= 0xA0) || (c == 0xF0 && d < 0x90) || (c == 0xF4 && d >= 0x90))
      return i;
    i += n;
  }
  return std::string_view::npos;
}

Translation Translate(std::string_view p, bool stdlib_re, uint32_t initial) {
  if (size_t bad = InvalidUtf8At(p); bad != std::string_view::npos)
    Fail(ErrorKind::kUsage, "the pattern is not valid UTF-8 (byte {})", bad);
  uint32_t global = initial;
  for (int attempt = 0;; ++attempt) {
    try {
      return Translator(p, stdlib_re, global).Run();
    } catch (const RestartWithFlags& r) {  // a global inline flag: read the whole pattern again with it
      if (r.global == global || attempt > 8) Fail(ErrorKind::kInternal, "regex translation did not settle");
      global = r.global;
    }
  }
}

}  // namespace

std::string TranslatePythonRegex(std::string_view p, bool stdlib_re) { return Translate(p, stdlib_re, 0).pattern; }


// ---------------------------------------------------------------------------------------------------------

struct Regex::Impl {
  pcre2_code* code = nullptr;
  pcre2_match_data* md = nullptr;
  pcre2_match_context* mctx = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;
  bool jit = false;
  std::string what;
  bool python = false;                               // compiled by Regex::Python: group names are below
  std::vector<std::pair<std::string, int>> names;  // Python's group names and numbers (PCRE2 sees plain groups)

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

// Compiles `pattern` (PCRE2 syntax); errors quote `shown` (what the user wrote). `python`: a translated Python
// pattern, where (?m)^ also matches after a newline that ends the text, as in Python.
static std::unique_ptr<Regex::Impl> Compile(std::string_view pattern, std::string_view shown, uint32_t flags,
                                            std::string_view what, bool python);

Regex Regex::Pcre2(std::string_view pattern, uint32_t flags, std::string_view what) {
  return Regex(Compile(pattern, pattern, flags, what, false));
}

Regex Regex::Python(std::string_view pattern, uint32_t flags, std::string_view what) {
  Translation t;
  try {
    t = Translate(pattern, (flags & kRegexStdlibRe) != 0, (flags & kRegexIgnoreCase) ? uint32_t{kPyI} : 0u);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kUsage) throw;
    Fail(ErrorKind::kUsage, "invalid {} '{}': {}", what, pattern, e.what());
  }
  auto impl = Compile(t.pattern, pattern, flags, what, true);
  impl->python = true;
  impl->names = std::move(t.names);
  return Regex(std::move(impl));
}

static std::unique_ptr<Regex::Impl> Compile(std::string_view pattern, std::string_view shown, uint32_t flags,
                                            std::string_view what, bool python) {
  auto impl = std::make_unique<Regex::Impl>();
  impl->what = std::string(what);
  uint32_t opts = PCRE2_UTF | PCRE2_UCP;
  if (python) opts |= PCRE2_ALT_CIRCUMFLEX;
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
  if (impl_->python) {
    for (const auto& [n, number] : impl_->names)
      if (n == name) return number;
    return -1;
  }
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

bool Regex::Search(std::string_view text, size_t start, size_t* b, size_t* e, bool not_empty_at_start) {
  if (start > text.size()) return false;
  int rc = Match(text, start, not_empty_at_start ? PCRE2_NOTEMPTY_ATSTART : 0);
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

// The regex module's template syntax (_compile_replacement): \a \b \f \n \r \t \v, \xHH \uHHHH \UHHHHHHHH,
// \N{name} (letters and spaces), \g<N> / \g<name>, \0 and \0oo octal, \ooo (three octal digits; values up to
// 0o777), \N / \NN group references, \\; any other escaped letter is an error, any other escaped character stays
// as backslash + character.
ReplTemplate::ReplTemplate(std::string_view t, const Regex& re) {
  if (size_t bad = InvalidUtf8At(t); bad != std::string_view::npos)
    Fail(ErrorKind::kUsage, "repl is not valid UTF-8 (byte {})", bad);
  std::string lit;
  const uint32_t groups = re.capture_count();
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
  auto character = [&](uint32_t cp, size_t at) {
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      Fail(ErrorKind::kUsage, "bad escape in repl at position {}: U+{:04X} cannot be written as UTF-8", at, cp);
    utf8::Append(lit, cp);
  };
  size_t i = 0;
  auto get = [&]() -> char32_t { return i < t.size() ? utf8::Next(t, i) : kEnd; };
  while (i < t.size()) {
    size_t at = i;
    char32_t c = get();
    if (c != '\\') {
      utf8::Append(lit, c);
      continue;
    }
    char32_t e = get();
    if (e == kEnd) Fail(ErrorKind::kUsage, "bad escape (end of repl) at position {}", at);
    if (IsAsciiLetter(e)) {
      if (char32_t ch = SimpleEscape(e)) {
        lit += static_cast<char>(ch);
        continue;
      }
      if (e == 'x' || e == 'u' || e == 'U') {
        size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (size_t k = 0; k < n; ++k) {
          char32_t h = get();
          if (h == kEnd || !IsHex(h)) Fail(ErrorKind::kUsage, "incomplete escape \\{} in repl at position {}", static_cast<char>(e), at);
          cp = cp * 16 + static_cast<uint32_t>(HexValue(h));
        }
        character(cp, at);
        continue;
      }
      if (e == 'g') {
        if (get() != '<') Fail(ErrorKind::kUsage, "missing < in repl at position {}", at);
        size_t close = t.find('>', i);
        size_t paren = t.find(')', i);
        if (paren < close) close = paren;  // the name ends at '>' or ')'
        std::string name(t.substr(i, close == std::string_view::npos ? std::string_view::npos : close - i));
        if (name.empty()) Fail(ErrorKind::kUsage, "missing group name in repl at position {}", at);
        if (std::all_of(name.begin(), name.end(), [](char d) { return d >= '0' && d <= '9'; })) {
          group(name.size() > 9 ? -1 : std::stoi(name), at);
        } else {
          if (!IsIdentifier(name)) Fail(ErrorKind::kUsage, "bad character in group name '{}' in repl at position {}", name, at);
          int g = re.GroupNumber(name);
          if (g < 0) Fail(ErrorKind::kUsage, "unknown group '{}' in repl at position {}", name, at);
          group(g, at);
        }
        if (close == std::string_view::npos || t[close] != '>') Fail(ErrorKind::kUsage, "missing > in repl at position {}", at);
        i = close + 1;
        continue;
      }
      if (e == 'N') {
        size_t saved = i;
        if (get() == '{') {
          size_t close = t.find('}', i);
          std::string_view name = t.substr(i, close == std::string_view::npos ? 0 : close - i);
          bool letters = close != std::string_view::npos &&
                         std::all_of(name.begin(), name.end(), [](char d) { return IsAsciiLetter(static_cast<unsigned char>(d)) || d == ' '; });
          if (letters) {
            int32_t cp = LookupCharacterName(name);
            if (cp < 0) Fail(ErrorKind::kUsage, "undefined character name '{}' in repl at position {}", name, at);
            character(static_cast<uint32_t>(cp), at);
            i = close + 1;
            continue;
          }
        }
        i = saved;
      }
      Fail(ErrorKind::kUsage, "bad escape \\{} in repl at position {}", static_cast<char>(e), at);
    }
    if (e == '0') {  // \0, \0o, \0oo
      uint32_t v = 0;
      for (int k = 0; k < 2 && i < t.size() && IsOctal(static_cast<unsigned char>(t[i])); ++k) v = v * 8 + (t[i++] - '0');
      character(v, at);
      continue;
    }
    if (IsDigit(e)) {  // \ooo (three octal digits), else a group reference of one or two digits
      int g = static_cast<int>(e - '0');
      if (i < t.size() && IsDigit(static_cast<unsigned char>(t[i]))) {
        char32_t d = static_cast<unsigned char>(t[i]);
        if (i + 1 < t.size() && IsOctal(e) && IsOctal(d) && IsOctal(static_cast<unsigned char>(t[i + 1]))) {
          uint32_t v = static_cast<uint32_t>((e - '0') * 64 + (d - '0') * 8 + (t[i + 1] - '0'));
          i += 2;
          character(v & 0x1FF, at);
          continue;
        }
        g = g * 10 + static_cast<int>(d - '0');
        ++i;
      }
      group(g, at);
      continue;
    }
    if (e == '\\') {
      lit += '\\';
      continue;
    }
    lit += '\\';  // any other escaped character stays as backslash + character
    utf8::Append(lit, e);
  }
  flush();
}

}  // namespace sluice::text
