// LaTeX mappers: expand_macro_mapper, remove_bibliography_mapper, remove_comments_mapper,
// remove_header_mapper (datajuicer-ops.md §4). DataJuicer runs Python `regex` patterns; their results are
// reproduced exactly, quirks included, by direct linear scans whose equivalence to each pattern is argued
// next to it (several of the patterns backtrack quadratically in Python on adversarial text).
//
// Contract:
//   expand_macro_mapper  argument-less macros are collected from the whole text, first every match of
//     \\\bnewcommand\b\*?\{(\\[a-zA-Z0-9]+?)\}\{(.*?)\}$ then every match of
//     \\def\s*(\\[a-zA-Z0-9]+?)\s*\{(.*?)\}$ (both MULTILINE): name = group 1, value = group 2; a later
//     definition of a name replaces its value but keeps its place. Then, for each macro in that order, every
//     occurrence of the name followed by a code point outside [a-zA-Z0-9] is replaced by the value, left to
//     right; the following code point is kept but consumed (so in "\x\x;" only the first \x expands, and a
//     name at the very end of the text never does). Values are inserted literally. Definition lines are
//     rewritten like any other text.
//   remove_bibliography_mapper  the text is cut at the first "\appendix", "\begin{references}",
//     "\begin{REFERENCES}", "\begin{thebibliography}", or "\bibliography{" that has a '}' somewhere after it.
//   remove_comments_mapper  inline: every match of [^\\]%.+$ (MULTILINE) is deleted -- a '%' not preceded by
//     a backslash, with the code point before it (possibly the '\n' ending the previous line) and the rest
//     of its line, when that rest is not empty. Then multiline: every line starting with '%' is deleted with
//     its '\n'. doc_type is accepted and ignored.
//   remove_header_mapper  the text before the first \chapter, \part, \section, \subsection or
//     \subsubsection command (optional '*', optional [...], then {...}) is deleted; a lone \paragraph does
//     not count (DataJuicer's pattern lacks the '|' before \subparagraph, so only "\paragraph..{..}"
//     immediately followed by "\subparagraph..{..}" does). Texts without a header are unchanged whatever
//     drop_no_head says (DataJuicer's batched version never stores the emptied text).
// Map returns false without touching the text when nothing changed.
#include <cstring>

#include "core/error.h"
#include "ops/op.h"
#include "ops/text/pystr.h"
#include "core/utf8.h"

namespace sluice {
namespace {

constexpr size_t npos = std::string_view::npos;

inline bool IsAsciiAlnum(unsigned char c) {
  return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

// ---------------------------------------------------------------------------------------------------------
// expand_macro_mapper

// Python `regex`'s \s: str.isspace() without U+001C..U+001F.
inline size_t RegexSpaceAt(std::string_view t, size_t i) {
  size_t j = i;
  char32_t c = utf8::Next(t, j);
  return text::IsPySpace(c) && !(c >= 0x1C && c <= 0x1F) ? j - i : 0;
}

// The definitions are found by direct scans equivalent to the two patterns (finditer: leftmost, resuming
// after each match), linear where the regexes backtrack quadratically (e.g. one long line of "\newcommand{\a}{"):
//   \\\bnewcommand\b\*?\{(\\[a-zA-Z0-9]+?)\}\{(.*?)\}$ : "\newcommand", an optional '*' (backtracking
//     past it leaves a '*' where '{' is needed), "{\NAME}{" with NAME a non-empty alphanumeric run (the lazy
//     +? must stop at the '}'), then the value: (.*?)\}$ cannot cross a line and $ only holds at the line's
//     end, so it matches iff the line ends with '}', and the value is the rest of the line before it;
//   \\def\s*(\\[a-zA-Z0-9]+?)\s*\{(.*?)\}$ : "\def", whitespace (possibly newlines), "\NAME", whitespace,
//     '{', then the value as above.
// (The \b around "newcommand" hold whenever the rest matches: '\', '*' and '{' are not word characters.)
class ExpandMacroMapper : public Mapper {
 public:
  // Expansion can grow a text geometrically (a long value used many times); past this size the sample fails
  // (and is dropped under skip_op_error) instead of exhausting memory as DataJuicer would.
  static constexpr size_t kMaxExpandedBytes = size_t{256} << 20;

  explicit ExpandMacroMapper(const Params&) : Mapper("expand_macro_mapper") {}

  bool Map(std::string& text) override {
    count_ = 0;
    line_from_ = npos;
    CollectNewcommands(text);
    CollectDefs(text);
    bool changed = false;
    for (size_t m = 0; m < count_; ++m) changed |= Expand(text, macros_[m]);
    return changed;
  }

 private:
  struct Macro {
    std::string name, value;
  };

  void CollectNewcommands(std::string_view t) {
    constexpr std::string_view kCmd = "\\newcommand";
    size_t n = t.size(), resume = 0;
    for (size_t s = t.find(kCmd); s != npos; s = t.find(kCmd, s + 1)) {
      if (s < resume) continue;
      size_t p = s + kCmd.size();
      if (p < n && t[p] == '*') ++p;
      if (p + 1 >= n || t[p] != '{' || t[p + 1] != '\\') continue;
      size_t name = ++p;
      p = AlnumRunEnd(t, p + 1);
      if (p == name + 1 || p + 1 >= n || t[p] != '}' || t[p + 1] != '{') continue;
      size_t name_end = p;
      resume = Define(t, name, name_end, p + 2, resume);
    }
  }

  void CollectDefs(std::string_view t) {
    constexpr std::string_view kCmd = "\\def";
    size_t n = t.size(), resume = 0;
    for (size_t s = t.find(kCmd); s != npos; s = t.find(kCmd, s + 1)) {
      if (s < resume) continue;
      size_t p = SkipSpaces(t, s + kCmd.size());
      if (p >= n || t[p] != '\\') continue;
      size_t name = p;
      p = AlnumRunEnd(t, p + 1);
      if (p == name + 1) continue;
      size_t name_end = p;
      p = SkipSpaces(t, p);
      if (p >= n || t[p] != '{') continue;
      resume = Define(t, name, name_end, p + 1, resume);
    }
  }

  static size_t AlnumRunEnd(std::string_view t, size_t p) {
    while (p < t.size() && IsAsciiAlnum(static_cast<unsigned char>(t[p]))) ++p;
    return p;
  }

  static size_t SkipSpaces(std::string_view t, size_t p) {
    for (size_t len; p < t.size() && (len = RegexSpaceAt(t, p)) != 0;) p += len;
    return p;
  }

  // The value starts at v: records the macro if v's line ends with '}' and returns where the search resumes
  // (the line's end), or returns `resume` unchanged.
  size_t Define(std::string_view t, size_t name, size_t name_end, size_t v, size_t resume) {
    size_t eol = LineEnd(t, v);
    if (eol == v || t[eol - 1] != '}') return resume;
    std::string_view key = t.substr(name, name_end - name);
    size_t m = 0;
    while (m < count_ && macros_[m].name != key) ++m;
    if (m == count_) {
      if (count_ == macros_.size()) macros_.emplace_back();
      macros_[count_++].name.assign(key);
    }
    macros_[m].value.assign(t.substr(v, eol - 1 - v));
    return eol;
  }

  // The first '\n' at or after v (or t.size()); the last answer is reused while v stays on its line.
  size_t LineEnd(std::string_view t, size_t v) {
    if (line_from_ == npos || v < line_from_ || v > line_end_) {
      line_from_ = v;
      line_end_ = t.find('\n', v);
      if (line_end_ == npos) line_end_ = t.size();
    }
    return line_end_;
  }

  // One re.sub of (name)([^a-zA-Z0-9]) by value + \2. The name is '\' plus ASCII alphanumerics, so its
  // occurrences never overlap.
  bool Expand(std::string& text, const Macro& m) {
    const std::string& name = m.name;
    size_t n = text.size(), last = 0, pos = 0, i;
    bool any = false;
    while ((i = text.find(name, pos)) != npos) {
      size_t f = i + name.size();
      if (f >= n || IsAsciiAlnum(static_cast<unsigned char>(text[f]))) {
        pos = i + 1;
        continue;
      }
      if (!any) {
        out_.clear();
        any = true;
      }
      size_t after = f + text::SeqLen(static_cast<unsigned char>(text[f]));
      if (out_.size() + (i - last) + m.value.size() > kMaxExpandedBytes)
        Fail(ErrorKind::kData, "expand_macro_mapper: expanding {} makes the text larger than {} MiB", name,
             kMaxExpandedBytes >> 20);
      out_.append(text, last, i - last);
      out_ += m.value;
      out_.append(text, f, after - f);
      last = pos = after;
    }
    if (!any) return false;
    out_.append(text, last, npos);
    text.swap(out_);
    return m.value != name;
  }

  std::vector<Macro> macros_;  // the first count_ are this text's; the rest keep their buffers for reuse
  size_t count_ = 0;
  size_t line_from_ = npos, line_end_ = 0;  // LineEnd's cache
  std::string out_;
};

// ---------------------------------------------------------------------------------------------------------
// remove_bibliography_mapper

// (\\appendix|\\begin\{references\}|\\begin\{REFERENCES\}|\\begin\{thebibliography\}|\\bibliography\{.*\}).*$
// with DOTALL: the match starts at the first backslash where an alternative holds and runs to the end. The
// last alternative holds when a '}' follows its '{' anywhere.
class RemoveBibliographyMapper : public Mapper {
 public:
  explicit RemoveBibliographyMapper(const Params&) : Mapper("remove_bibliography_mapper") {}

  bool Map(std::string& text) override {
    std::string_view t = text;
    size_t last_close = npos;
    bool close_known = false;
    for (size_t k = t.find('\\'); k != npos; k = t.find('\\', k + 1)) {
      std::string_view rest = t.substr(k + 1);
      bool cut = rest.starts_with("appendix") || rest.starts_with("begin{references}") ||
                 rest.starts_with("begin{REFERENCES}") || rest.starts_with("begin{thebibliography}");
      if (!cut && rest.starts_with("bibliography{")) {
        if (!close_known) {
          last_close = t.rfind('}');
          close_known = true;
        }
        cut = last_close != npos && last_close >= k + 14;
      }
      if (cut) {
        text.resize(k);
        return true;
      }
    }
    return false;
  }
};

// ---------------------------------------------------------------------------------------------------------
// remove_comments_mapper

class RemoveCommentsMapper : public Mapper {
 public:
  explicit RemoveCommentsMapper(const Params& p)
      : Mapper("remove_comments_mapper"), inline_(p.GetBool("inline")), multiline_(p.GetBool("multiline")) {}

  bool Map(std::string& text) override {
    bool changed = false;
    if (inline_ && RemoveInline(text)) {
      text.swap(out_);
      changed = true;
    }
    if (multiline_ && RemoveCommentLines(text)) {
      text.swap(out_);
      changed = true;
    }
    return changed;
  }

 private:
  // re.sub(r'[^\\]%.+$', '', text, flags=MULTILINE) into out_; false (out_ unused) if nothing matched.
  // A match is found from a '%' at j > pos (so the code point before it starts at or after pos): that code
  // point must not be '\' and the '%' must not end its line. The match then runs to the end of the line,
  // where the next search starts.
  bool RemoveInline(std::string_view t) {
    size_t n = t.size(), pos = 0, last = 0;
    bool any = false;
    for (size_t j = t.find('%'); j != npos; j = t.find('%', j + 1)) {
      if (j == pos || t[j - 1] == '\\' || j + 1 == n || t[j + 1] == '\n') continue;
      size_t b = j - 1;
      while ((static_cast<unsigned char>(t[b]) & 0xC0) == 0x80) --b;
      size_t eol = t.find('\n', j + 1);
      if (eol == npos) eol = n;
      if (!any) {
        out_.clear();
        any = true;
      }
      out_.append(t.substr(last, b - last));
      last = pos = eol;
      j = eol;  // resumes after the '\n' (or ends): no '%' lies in between
      if (eol == n) break;
    }
    if (!any) return false;
    out_.append(t.substr(last));
    return true;
  }

  // re.sub(r'(?m)^%.*\n?', '', text) into out_; false if nothing matched.
  bool RemoveCommentLines(std::string_view t) {
    size_t n = t.size(), last = 0;
    bool any = false;
    for (size_t ls = 0; ls < n;) {
      size_t eol = t.find('\n', ls);
      size_t next = eol == npos ? n : eol + 1;
      if (t[ls] == '%') {
        if (!any) {
          out_.clear();
          any = true;
        }
        out_.append(t.substr(last, ls - last));
        last = next;
      }
      ls = next;
    }
    if (!any) return false;
    out_.append(t.substr(last));
    return true;
  }

  bool inline_, multiline_;
  std::string out_;
};

// ---------------------------------------------------------------------------------------------------------
// remove_header_mapper

// DataJuicer substitutes ^(.*?)(HEADER) by group 2 (DOTALL), which leaves text[k:] for the smallest k where
// one alternative of HEADER matches: what each alternative consumes does not matter, only whether it matches
// at k. Each alternative is '\' NAME \b \*? (?:\[(.*?)\])? \{(.*?)\} (the \b holds whenever the rest can
// match, since '*', '[' and '{' are not word characters); with the lazy, DOTALL groups it matches iff after
// NAME (and an optional '*': backtracking to "no star" leaves a '*' that nothing accepts) comes either
//   '{' with some '}' later in the text, or
//   '[' with some "]{" later whose '{' is followed, somewhere, by a '}'.
// Both are monotone in the position, so they reduce to comparisons with two numbers per text: the last '}'
// and the last "]{" before it. The paragraph alternative ends in \}\\\bsubparagraph...; it matches iff its
// first braces can close at some "}\subparagraph" whose own tail matches -- compared with R, the last such
// position.
class RemoveHeaderMapper : public Mapper {
 public:
  explicit RemoveHeaderMapper(const Params&) : Mapper("remove_header_mapper") {}

  bool Map(std::string& text) override {
    t_ = text;
    analysed_ = false;
    paragraph_end_known_ = false;
    next_bracket_brace_ = 0;
    static constexpr std::string_view kNames[] = {"chapter", "part", "section", "subsection", "subsubsection"};
    for (size_t k = t_.find('\\'); k != npos; k = t_.find('\\', k + 1)) {
      std::string_view rest = t_.substr(k + 1);
      bool header = false;
      for (std::string_view name : kNames)
        if (rest.starts_with(name) && TailMatches(k + 1 + name.size())) header = true;
      if (!header && rest.starts_with("paragraph")) header = ParagraphMatches(k + 10);
      if (header) {
        if (k == 0) return false;
        text.erase(0, k);
        return true;
      }
    }
    return false;
  }

 private:
  void Analyse() {
    if (analysed_) return;
    analysed_ = true;
    last_close_ = t_.rfind('}');
    last_bracket_brace_ = last_close_ == npos || last_close_ < 2 ? npos : t_.rfind("]{", last_close_ - 2);
  }

  // \*?(?:\[(.*?)\])?\{(.*?)\} at p.
  bool TailMatches(size_t p) {
    if (p < t_.size() && t_[p] == '*') ++p;
    if (p >= t_.size()) return false;
    Analyse();
    if (t_[p] == '{') return last_close_ != npos && last_close_ >= p + 1;
    if (t_[p] == '[') return last_bracket_brace_ != npos && last_bracket_brace_ >= p + 1;
    return false;
  }

  // \*?(?:\[(.*?)\])?\{(.*?)\}\\\bsubparagraph\b\*?(?:\[(.*?)\])?\{(.*?)\} at p.
  bool ParagraphMatches(size_t p) {
    if (p < t_.size() && t_[p] == '*') ++p;
    if (p >= t_.size() || (t_[p] != '{' && t_[p] != '[')) return false;
    size_t r = ParagraphEnd();
    if (r == npos) return false;
    if (t_[p] == '{') return r >= p + 1;
    return FirstBracketBraceFrom(p + 1) + 2 <= r;
  }

  // The last r with "}\subparagraph" at r and a matching tail after it, or npos.
  size_t ParagraphEnd() {
    if (paragraph_end_known_) return paragraph_end_;
    paragraph_end_known_ = true;
    paragraph_end_ = npos;
    constexpr std::string_view kClose = "}\\subparagraph";
    for (size_t r = t_.rfind(kClose); r != npos; r = r == 0 ? npos : t_.rfind(kClose, r - 1)) {
      if (TailMatches(r + kClose.size())) {
        paragraph_end_ = r;
        break;
      }
    }
    return paragraph_end_;
  }

  // The first "]{" at or after x (t_.size() if none). Queries come with growing x, so the search resumes.
  size_t FirstBracketBraceFrom(size_t x) {
    if (next_bracket_brace_ < x) {
      size_t q = t_.find("]{", x);
      next_bracket_brace_ = q == npos ? t_.size() : q;
    }
    return next_bracket_brace_;
  }

  std::string_view t_;
  bool analysed_ = false;
  size_t last_close_ = npos;          // last '}'
  size_t last_bracket_brace_ = npos;  // last "]{" with a '}' after its '{'
  bool paragraph_end_known_ = false;
  size_t paragraph_end_ = npos;
  size_t next_bracket_brace_ = 0;
};

}  // namespace

void RegisterLatexMappers(std::vector<OpDef>& ops) {
  ops.push_back({"expand_macro_mapper", OpKind::kMapper,
                 "expand LaTeX macros without arguments (\\newcommand{\\x}{..} and \\def\\x{..} ending their line) "
                 "inline",
                 {}, [](const Params& p) { return std::make_unique<ExpandMacroMapper>(p); }});
  ops.push_back({"remove_bibliography_mapper", OpKind::kMapper,
                 "cut a LaTeX text at its appendix or bibliography (\\appendix, \\begin{references}, "
                 "\\begin{thebibliography}, \\bibliography{..})",
                 {}, [](const Params& p) { return std::make_unique<RemoveBibliographyMapper>(p); }});
  ops.push_back({"remove_comments_mapper", OpKind::kMapper, "remove LaTeX % comments",
                 {{"doc_type", ParamType::kStringList, ParamValue::String("tex"),
                   "document type(s); only LaTeX is supported and the value is ignored"},
                  {"inline", ParamType::kBool, ParamValue::Bool(true),
                   "remove comments after text on a line (with the character before the %)", false},
                  {"multiline", ParamType::kBool, ParamValue::Bool(true), "remove lines that start with %", false}},
                 [](const Params& p) { return std::make_unique<RemoveCommentsMapper>(p); }});
  ops.push_back({"remove_header_mapper", OpKind::kMapper,
                 "remove everything before the first LaTeX \\chapter, \\part, \\section, \\subsection or "
                 "\\subsubsection",
                 {{"drop_no_head", ParamType::kBool, ParamValue::Bool(true),
                   "meant to empty texts without a header; like DataJuicer, such texts are kept unchanged", false}},
                 [](const Params& p) { return std::make_unique<RemoveHeaderMapper>(p); }});
}

}  // namespace sluice
