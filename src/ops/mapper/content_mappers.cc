// Pattern mappers: clean_copyright_mapper, clean_ip_mapper, remove_specific_chars_mapper,
// replace_content_mapper (datajuicer-ops.md §4).
//
// Contract (DataJuicer's behaviour, quirks kept):
//   clean_copyright_mapper  if the text has a C block comment (the first match of
//     /\*[^*]*\*+(?:[^/*][^*]*\*+)*/, i.e. from the first "/*" to the first "*/" after it), that comment is
//     removed when it contains "copyright" (Python `regex` IGNORECASE: ASCII case-insensitive, and the `i`
//     also matches U+0130), and nothing else happens either way. Without a block comment, the leading lines
//     (split on '\n') that are empty or start with "//", "#" or "--" are dropped.
//   clean_ip_mapper  every match of the default IPv4/IPv6 pattern (or the user's `pattern`, raw-string rule,
//     DOTALL) is replaced by `repl` (a Python template), left to right.
//   remove_specific_chars_mapper  deletes every match of the character class "[" + "|".join(chars) + "]"
//     (DOTALL): with a string the join runs over its characters, with a list over its elements, so `|` is
//     deleted too whenever there is more than one element, and class syntax (ranges, escapes, a leading ^)
//     is interpreted. Empty string or list: no-op.
//   replace_content_mapper  each pattern in order (raw-string rule, DOTALL) has all its matches replaced by
//     `repl` (a string, or the i-th element of a list); `pattern: null` is a no-op.
// Map returns false without touching the text when nothing changed.
#include <algorithm>
#include <cstring>
#include <optional>

#include "core/error.h"
#include "ops/op.h"
#include "ops/text/pystr.h"
#include "ops/text/regex.h"
#include "ops/text/simd.h"
#include "core/utf8.h"

namespace sluice {
namespace {

using text::Regex;
using text::ReplTemplate;

// ---------------------------------------------------------------------------------------------------------
// clean_copyright_mapper

// The first match of the block-comment pattern: it starts at the first "/*" and ends after the first "*/"
// whose '*' is not the opening one; when that "*/" does not exist no later "/*" can have one either.
bool FindBlockComment(std::string_view t, size_t* b, size_t* e) {
  size_t open = t.find("/*");
  if (open == std::string_view::npos) return false;
  size_t close = t.find("*/", open + 2);
  if (close == std::string_view::npos) return false;
  *b = open;
  *e = close + 2;
  return true;
}

// regex.search('copyright', s, IGNORECASE): besides ASCII case folding, only U+0130 (İ) matches one of
// these letters (it matches 'i').
bool ContainsCopyright(std::string_view s) {
  static constexpr char kWord[] = "copyright";
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  for (size_t i = 0; i + 9 <= n; ++i) {
    if ((p[i] | 0x20) != 'c') continue;
    size_t j = i + 1;
    int k = 1;
    for (; k < 9 && j < n; ++k) {
      if ((p[j] | 0x20) == kWord[k] && p[j] < 0x80) {
        ++j;
      } else if (kWord[k] == 'i' && p[j] == 0xC4 && j + 1 < n && p[j + 1] == 0xB0) {
        j += 2;
      } else {
        break;
      }
    }
    if (k == 9) return true;
  }
  return false;
}

bool IsHeaderCommentLine(std::string_view line) {
  return line.empty() || line[0] == '#' || line.starts_with("//") || line.starts_with("--");
}

class CleanCopyrightMapper : public Mapper {
 public:
  explicit CleanCopyrightMapper(const Params&) : Mapper("clean_copyright_mapper") {}

  bool Map(std::string& text) override {
    size_t b, e;
    if (FindBlockComment(text, &b, &e)) {
      if (!ContainsCopyright(std::string_view(text).substr(b, e - b))) return false;
      text.erase(b, e - b);
      return true;
    }
    // '\n'.join(lines[skip:]) is the text from the first kept line on ("" when every line is skipped; a
    // trailing '\n' leaves an empty, skippable last line).
    std::string_view v = text;
    size_t pos = 0;
    while (pos < v.size()) {
      size_t eol = v.find('\n', pos);
      if (eol == std::string_view::npos) eol = v.size();
      if (!IsHeaderCommentLine(v.substr(pos, eol - pos))) break;
      pos = eol == v.size() ? eol : eol + 1;
    }
    if (pos == 0) return false;
    text.erase(0, pos);
    return true;
  }
};

// ---------------------------------------------------------------------------------------------------------
// clean_ip_mapper

constexpr std::string_view kDefaultIpPattern =
    R"((?:(?:1[0-9][0-9]\.)|(?:2[0-4][0-9]\.)|(?:25[0-5]\.)|(?:[1-9][0-9]\.)|(?:[0-9]\.)){3}(?:(?:1[0-9][0-9])|(?:2[0-4][0-9])|(?:25[0-5])|(?:[1-9][0-9])|(?:[0-9]))|([\da-fA-F]{1,4}:){7}[\da-fA-F]{1,4})";

inline bool IsAsciiHex(unsigned char c) { return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }

class CleanIpMapper : public Mapper {
 public:
  explicit CleanIpMapper(const Params& p)
      : Mapper("clean_ip_mapper"),
        default_(!p.Has("pattern")),
        re_(default_ ? Regex::Python(kDefaultIpPattern, text::kRegexDotAll | text::kRegexAnchored, "default IP pattern")
                     : Regex::Python(text::StripRawStringWrapper(p.GetString("pattern")), text::kRegexDotAll,
                                     "pattern")),
        repl_(p.GetString("repl"), re_) {}

  bool Map(std::string& text) override {
    if (!default_) {
      if (re_.ReplaceAll(text, repl_, out_) == 0) return false;
      text.swap(out_);
      return true;
    }
    size_t b, e;
    if (!FindIp(text, 0, &b, &e)) return false;
    out_.clear();
    out_.reserve(text.size());
    size_t last = 0;
    do {
      out_.append(text, last, b - last);
      repl_.Append(out_, text, re_.ovector(), re_.groups());
      last = e;
    } while (FindIp(text, last, &b, &e));
    out_.append(text, last, std::string::npos);
    text.swap(out_);
    return true;
  }

 private:
  // Leftmost match of the default pattern at or after pos (re_ is anchored). A match begins with an IPv4
  // octet of 1-3 ASCII digits followed by '.', or an IPv6 group of 1-4 code points ([\da-fA-F], where \d
  // includes non-ASCII Nd digits) followed by ':'. So every start lies at most 4 code points before a '.'
  // or ':' and is an ASCII hex digit or a non-ASCII character; those starts are tried in ascending order.
  bool FindIp(std::string_view t, size_t pos, size_t* mb, size_t* me) {
    constexpr text::ByteSet kTriggers{{'.', ':'}};
    const unsigned char* p = reinterpret_cast<const unsigned char*>(t.data());
    size_t tried = pos;  // every start in [pos, tried) has been ruled out
    for (size_t trig = text::FindFirst(t, pos, kTriggers); trig < t.size();
         trig = text::FindFirst(t, trig + 1, kTriggers)) {
      size_t starts[4];
      int n = 0;
      for (size_t s = trig; n < 4 && s > tried;) {
        do --s;
        while ((p[s] & 0xC0) == 0x80);
        starts[n++] = s;
      }
      for (int k = n - 1; k >= 0; --k) {
        size_t s = starts[k];
        if ((p[s] >= 0x80 || IsAsciiHex(p[s])) && re_.Search(t, s, mb, me)) return true;
      }
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
// remove_specific_chars_mapper

class RemoveSpecificCharsMapper : public Mapper {
 public:
  explicit RemoveSpecificCharsMapper(const Params& p) : Mapper("remove_specific_chars_mapper") {
    const ParamValue& v = p.Get("chars_to_remove");
    std::vector<std::string> elems;
    if (v.type() == ParamValue::Type::kString) {
      std::string_view s = v.as_string();
      for (size_t i = 0; i < s.size(); i += text::SeqLen(static_cast<unsigned char>(s[i])))
        elems.emplace_back(s.substr(i, text::SeqLen(static_cast<unsigned char>(s[i]))));
    } else {
      elems = p.GetStringList("chars_to_remove");
    }
    if (elems.empty()) return;  // falsy: no-op
    std::string cls;
    for (size_t i = 0; i < elems.size(); ++i) cls += (i ? "|" : "") + elems[i];
    // Without class syntax the class is a plain set of code points, deleted by a byte scan. ("[]", from
    // empty elements only, is an invalid pattern and left to the regex compiler to reject.)
    if (!cls.empty() && cls.find_first_of("\\[]^-") == std::string::npos) {
      for (size_t i = 0; i < cls.size();) {
        size_t start = i;
        char32_t c = utf8::Next(cls, i);
        chars_.push_back(c);
        lead_[static_cast<unsigned char>(cls[start])] = true;
      }
      int leads = 0;
      for (int b = 0; b < 256; ++b) leads += lead_[b];
      few_leads_ = leads <= 6;
      if (few_leads_)
        for (int b = 0; b < 256; ++b)
          if (lead_[b]) leads_.bytes[leads_.count++] = static_cast<uint8_t>(b);
      std::sort(chars_.begin(), chars_.end());
      mode_ = Mode::kSet;
      return;
    }
    re_ = Regex::Python("[" + cls + "]", text::kRegexDotAll, "chars_to_remove class");
    repl_ = ReplTemplate("", *re_);
    mode_ = Mode::kRegex;
  }

  bool Map(std::string& text) override {
    switch (mode_) {
      case Mode::kNone: return false;
      case Mode::kRegex:
        if (re_->ReplaceAll(text, repl_, out_) == 0) return false;
        text.swap(out_);
        return true;
      case Mode::kSet: break;
    }
    // In place: the write position never passes the read position. Runs without a lead byte of the set are
    // skipped (and moved) in bulk.
    size_t n = text.size();
    size_t i = NextLead(text, 0);
    if (i == n) return false;
    size_t w = i;
    bool changed = false;
    while (i < n) {  // i is at a lead byte of the set
      size_t start = i;
      char32_t c = utf8::Next(text, i);
      size_t keep = start;
      if (std::binary_search(chars_.begin(), chars_.end(), c)) {
        changed = true;
        keep = i;
      }
      // Continuation bytes are never leads, so the search resumes after the whole code point.
      size_t next = NextLead(text, i);
      std::memmove(text.data() + w, text.data() + keep, next - keep);
      w += next - keep;
      i = next;
    }
    text.resize(w);
    return changed;
  }

 private:
  size_t NextLead(std::string_view t, size_t i) const {
    if (few_leads_) return text::FindFirst(t, i, leads_);
    const unsigned char* p = reinterpret_cast<const unsigned char*>(t.data());
    while (i < t.size() && !lead_[p[i]]) ++i;
    return i;
  }

  enum class Mode { kNone, kSet, kRegex };
  Mode mode_ = Mode::kNone;
  std::vector<char32_t> chars_;  // sorted
  bool lead_[256] = {};          // first bytes of the encodings of chars_
  bool few_leads_ = false;       // at most 6 of them: searched with leads_
  // Empty. (`leads_{{}}` would not be: it list-initializes from {0}, a NUL lead that made a set with 6 lead
  // bytes write its 6th past ByteSet's 6 slots, so that character was never removed.)
  text::ByteSet leads_{std::initializer_list<uint8_t>{}};
  std::optional<Regex> re_;
  ReplTemplate repl_;
  std::string out_;
};

// ---------------------------------------------------------------------------------------------------------
// replace_content_mapper

class ReplaceContentMapper : public Mapper {
 public:
  explicit ReplaceContentMapper(const Params& p) : Mapper("replace_content_mapper") {
    if (!p.Has("pattern")) return;
    std::vector<std::string> patterns = p.GetStringList("pattern");
    const ParamValue& repl = p.Get("repl");
    bool repl_list = repl.type() == ParamValue::Type::kList;
    std::vector<std::string> repls = p.GetStringList("repl");
    // DataJuicer raises for every sample when a pattern has no replacement, so every sample would be dropped;
    // we refuse the recipe instead.
    if (repl_list && repls.size() < patterns.size())
      Fail(ErrorKind::kUsage,
           "replace_content_mapper: repl has {} entries but pattern has {}: give one repl per pattern", repls.size(),
           patterns.size());
    for (size_t i = 0; i < patterns.size(); ++i) {
      std::string what = patterns.size() == 1 ? "pattern" : "pattern[" + std::to_string(i) + "]";
      Regex re = Regex::Python(text::StripRawStringWrapper(patterns[i]), text::kRegexDotAll, what);
      ReplTemplate t(repl_list ? repls[i] : repl.as_string(), re);
      steps_.push_back({std::move(re), std::move(t)});
    }
  }

  bool Map(std::string& text) override {
    bool changed = false;
    for (auto& step : steps_) {
      if (step.re.ReplaceAll(text, step.repl, out_) == 0) continue;
      text.swap(out_);
      changed = true;
    }
    return changed;
  }

 private:
  struct Step {
    Regex re;
    ReplTemplate repl;
  };
  std::vector<Step> steps_;
  std::string out_;
};

}  // namespace

void RegisterContentMappers(std::vector<OpDef>& ops) {
  ops.push_back({"clean_copyright_mapper", OpKind::kMapper,
                 "remove the first /* */ comment if it mentions copyright; without block comments, drop the leading "
                 "//, # and -- comment lines",
                 {}, [](const Params& p) { return std::make_unique<CleanCopyrightMapper>(p); }});
  ops.push_back(
      {"clean_ip_mapper", OpKind::kMapper, "replace IPv4 and IPv6 addresses in the text with repl",
       {{"pattern", ParamType::kString, {},
         "regex (Python `regex` dialect, DOTALL) matching IP addresses; null: the built-in IPv4/IPv6 pattern"},
        {"repl", ParamType::kString, ParamValue::String(""), "replacement (Python template: \\1, \\g<name>)"}},
       [](const Params& p) { return std::make_unique<CleanIpMapper>(p); }});
  ops.push_back({"remove_specific_chars_mapper", OpKind::kMapper, "delete the given characters from the text",
                 {{"chars_to_remove", ParamType::kStringList, ParamValue::String("◆●■►▼▲▴∆▻▷❖♡□"),
                   "characters to delete: a string, or a list of strings; joined with '|' into a regex character "
                   "class (so '|' is deleted too when there are several)"}},
                 [](const Params& p) { return std::make_unique<RemoveSpecificCharsMapper>(p); }});
  ops.push_back({"replace_content_mapper", OpKind::kMapper,
                 "replace every match of each pattern (in order) with its replacement",
                 {{"pattern", ParamType::kStringList, {},
                   "regex or list of regexes (Python `regex` dialect, DOTALL, r'...' wrapper allowed); null: no-op"},
                  {"repl", ParamType::kStringList, ParamValue::String(""),
                   "replacement template for every pattern, or a list with one per pattern"}},
                 [](const Params& p) { return std::make_unique<ReplaceContentMapper>(p); }});
}

}  // namespace sluice
