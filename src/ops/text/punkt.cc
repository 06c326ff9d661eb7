#include "ops/text/punkt.h"

#include <unicode/uchar.h>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "ops/text/pystr.h"
#include "core/utf8.h"

namespace sluice::text {
namespace {

// PunktLanguageVars' defaults in PCRE2 syntax (UTF + UCP). The non-word class is NLTK's with the
// sentence-end characters other than '.' added. Python's `\s` on str is str.isspace(): PCRE2's \s plus
// U+001C..U+001F and U+0085, so kSpace / kNonSpace spell it out; PCRE2's UCP \w and \d are Python's.
constexpr const char* kSpace = R"re([\s\x{1c}-\x{1f}\x{85}])re";
constexpr const char* kNonSpace = R"re([^\s\x{1c}-\x{1f}\x{85}])re";
constexpr const char* kNonWord = R"re((?:[)";}\]*:@'({\[?!]))re";
constexpr const char* kWordStart = R"re([^("`{\[:;&#*@)}\]\-,])re";

std::string MultiChar() { return std::string(R"re((?:\-{2,}|\.{2,}|(?:\.)re") + kSpace + R"re(){2,}\.))re"; }

std::string WordPattern() {
  std::string nw = kNonWord, mc = MultiChar(), sp = kSpace, nsp = kNonSpace;
  return mc + "|(?=" + kWordStart + ")" + nsp + "+?(?=" + sp + "|$|" + nw + "|" + mc + "|,(?=$|" + sp + "|" + nw +
         "|" + mc + "))|" + nsp;
}

std::string PeriodPattern() {
  return std::string(R"re([.?!](?=()re") + kNonWord + "|" + kSpace + "+(" + kNonSpace + "+)))";
}


// Python's str.rstrip() length and str.strip() emptiness, in bytes.
size_t RstripEnd(std::string_view s) { return PyStrip(s).empty() ? 0 : static_cast<size_t>(PyStrip(s).end() - s.begin()); }

char32_t FirstCodePoint(std::string_view s) {
  size_t i = 0;
  return utf8::Next(s, i);
}

std::vector<std::string> ReadLines(const std::string& dir, const std::string& name) {
  std::string path = dir + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail(ErrorKind::kUsage, "Punkt parameters: cannot read {}", path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace

PunktParameters LoadPunktTab(const std::string& dir) {
  PunktParameters p;
  for (auto& l : ReadLines(dir, "abbrev_types.txt")) p.abbrev_types.insert(std::move(l));
  for (auto& l : ReadLines(dir, "collocations.tab")) {
    size_t tab = l.find('\t');
    if (tab == std::string::npos || l.find('\t', tab + 1) != std::string::npos)
      Fail(ErrorKind::kUsage, "Punkt parameters: {}/collocations.tab: the line '{}' is not two tab-separated types",
           dir, l);
    p.collocations.emplace(l.substr(0, tab), l.substr(tab + 1));
  }
  for (auto& l : ReadLines(dir, "sent_starters.txt")) p.sent_starters.insert(std::move(l));
  for (auto& l : ReadLines(dir, "ortho_context.tab")) {
    size_t tab = l.rfind('\t');
    int flags = 0;
    bool ok = tab != std::string::npos && tab + 1 < l.size();
    for (size_t i = tab + 1; ok && i < l.size(); ++i) {
      ok = l[i] >= '0' && l[i] <= '9' && flags < (1 << 20);
      flags = flags * 10 + (l[i] - '0');
    }
    if (!ok)
      Fail(ErrorKind::kUsage, "Punkt parameters: {}/ortho_context.tab: the line '{}' is not a type, a tab and flags",
           dir, l);
    p.ortho_context[l.substr(0, tab)] = flags;
  }
  return p;
}

PunktSentenceTokenizer::PunktSentenceTokenizer(std::shared_ptr<const PunktParameters> params)
    : params_(std::move(params)),
      word_re_(Regex::Pcre2(WordPattern(), kRegexNone, "Punkt word pattern")),
      period_re_(Regex::Pcre2(PeriodPattern(), kRegexNone, "Punkt period context pattern")),
      numeric_re_(Regex::Pcre2(R"(-?[.,]?\d[\d,.-]*\.?$)", kRegexAnchored, "Punkt number pattern")),
      initial_re_(Regex::Pcre2(R"([^\W\d]\.$)", kRegexAnchored, "Punkt initial pattern")) {}

std::string PunktSentenceTokenizer::TypeOf(std::string_view tok) {
  lower_.clear();
  PyLowerAppend(tok, lower_);
  size_t b, e;
  // NLTK substitutes the whole lowercased token when it is a number (the pattern is anchored at both ends).
  if (numeric_re_.Search(lower_, 0, &b, &e)) return "##number##";
  return lower_;
}

bool PunktSentenceTokenizer::IsInitial(std::string_view tok) {
  size_t b, e;
  return initial_re_.Search(tok, 0, &b, &e);
}

// _tokenize_words: the lines of `text` (split at '\n'), blank ones skipped, cut by the word pattern.
void PunktSentenceTokenizer::TokenizeWords(std::string_view text) {
  tokens_.clear();
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    if (!PyStrip(line).empty()) {
      size_t at = 0, b, e;
      while (at < line.size() && word_re_.Search(line, at, &b, &e)) {
        Token t;
        t.tok = line.substr(b, e - b);
        t.type = TypeOf(t.tok);
        t.period_final = t.tok.ends_with('.');
        tokens_.push_back(std::move(t));
        at = e;
      }
    }
    pos = nl + 1;
  }
}

void PunktSentenceTokenizer::FirstPass(Token& t) const {
  std::string_view tok = t.tok;
  if (tok == "." || tok == "?" || tok == "!") {
    t.sentbreak = true;
  } else if (tok.size() >= 2 && tok.find_first_not_of('.') == std::string_view::npos) {
    t.ellipsis = true;
  } else if (t.period_final && !tok.ends_with("..")) {
    std::string low;
    PyLowerAppend(tok.substr(0, tok.size() - 1), low);
    size_t dash = low.rfind('-');
    std::string_view last = dash == std::string::npos ? std::string_view(low) : std::string_view(low).substr(dash + 1);
    if (params_->abbrev_types.count(low) || params_->abbrev_types.find(last) != params_->abbrev_types.end())
      t.abbr = true;
    else
      t.sentbreak = true;
  }
}

namespace {
std::string_view TypeNoPeriod(const std::string& type) {
  std::string_view s = type;
  return s.size() > 1 && s.back() == '.' ? s.substr(0, s.size() - 1) : s;
}
std::string_view TypeNoSentPeriod(const std::string& type, bool sentbreak) {
  return sentbreak ? TypeNoPeriod(type) : std::string_view(type);
}
}  // namespace

int PunktSentenceTokenizer::OrthoHeuristic(const Token& t) const {
  std::string_view tok = t.tok;
  if (tok.size() == 1 && std::string_view(";:,.!?").find(tok[0]) != std::string_view::npos) return 0;
  int ortho = params_->Ortho(std::string(TypeNoSentPeriod(t.type, t.sentbreak)));
  char32_t c = FirstCodePoint(tok);
  bool upper = u_isUUppercase(static_cast<UChar32>(c)), lower = u_isULowercase(static_cast<UChar32>(c));
  if (upper && (ortho & kOrthoLc) && !(ortho & kOrthoMidUc)) return 1;
  if (lower && ((ortho & kOrthoUc) || !(ortho & kOrthoBegLc))) return 0;
  return -1;
}

void PunktSentenceTokenizer::SecondPass(Token& t1, const Token& t2) {
  if (!t1.period_final) return;
  std::string typ(TypeNoPeriod(t1.type));
  std::string next_typ(TypeNoSentPeriod(t2.type, t2.sentbreak));
  bool initial = IsInitial(t1.tok);
  if (params_->collocations.count({typ, next_typ})) {
    t1.sentbreak = false;
    t1.abbr = true;
    return;
  }
  if ((t1.abbr || t1.ellipsis) && !initial) {
    int starter = OrthoHeuristic(t2);
    if (starter == 1) {
      t1.sentbreak = true;
      return;
    }
    if (u_isUUppercase(static_cast<UChar32>(FirstCodePoint(t2.tok))) && params_->sent_starters.count(next_typ)) {
      t1.sentbreak = true;
      return;
    }
  }
  if (initial || typ == "##number##") {
    int starter = OrthoHeuristic(t2);
    if (starter == 0) {
      t1.sentbreak = false;
      t1.abbr = true;
      return;
    }
    if (starter == -1 && initial && u_isUUppercase(static_cast<UChar32>(FirstCodePoint(t2.tok))) &&
        !(params_->Ortho(next_typ) & kOrthoLc)) {
      t1.sentbreak = false;
      t1.abbr = true;
    }
  }
}

// text_contains_sentbreak: some token other than the last is a break after both passes. The second pass
// looks at each pair in order, reading the next token as the first pass left it.
bool PunktSentenceTokenizer::ContainsSentBreak(std::string_view context) {
  TokenizeWords(context);
  for (auto& t : tokens_) FirstPass(t);
  for (size_t i = 0; i + 1 < tokens_.size(); ++i) {
    SecondPass(tokens_[i], tokens_[i + 1]);
    if (tokens_[i].sentbreak) return true;
  }
  return false;
}

void PunktSentenceTokenizer::SpanTokenize(std::string_view text, std::vector<std::pair<size_t, size_t>>& spans) {
  spans.clear();
  // _match_potential_end_contexts: each candidate's context starts at the word before it, found by looking
  // back (from the candidate to the end of the previous candidate's word) for the last ASCII whitespace;
  // a candidate whose word starts before the previous candidate's word ends replaces it.
  candidates_.clear();
  size_t prev_start = 0, prev_stop = 0;  // the previous candidate's word
  bool have_prev = false;
  size_t prev_end = 0, prev_next = 0;
  std::string_view prev_after;
  auto emit = [&] {
    std::string ctx(text.substr(prev_start, prev_stop - prev_start));
    ctx += text[prev_end - 1];
    ctx += prev_after;
    candidates_.push_back({prev_end, prev_next, std::move(ctx)});
  };
  size_t at = 0, b, e;
  while (at < text.size() && period_re_.Search(text, at, &b, &e)) {
    const size_t* ov = period_re_.ovector();
    size_t after_b = ov[2], after_e = ov[3];
    bool has_next = period_re_.groups() > 2 && ov[4] != ReplTemplate::kUnset;
    size_t word_start = prev_start;
    for (size_t i = b; i > prev_stop; --i)
      if (IsAsciiSpace(text[i - 1])) {
        // NLTK treats whitespace at the very start of the searched stretch as "none found".
        if (i - 1 > prev_stop) word_start = i;
        break;
      }
    if (have_prev && prev_stop <= word_start) emit();
    have_prev = true;
    prev_start = word_start;
    prev_stop = b;
    prev_end = e;
    prev_next = has_next ? ov[4] : e;
    prev_after = text.substr(after_b, after_e - after_b);
    at = e;
  }
  if (have_prev) emit();

  // _slices_from_text, then _realign_boundaries.
  std::vector<std::pair<size_t, size_t>> slices;
  size_t last_break = 0;
  for (const auto& c : candidates_)
    if (ContainsSentBreak(c.context)) {
      slices.emplace_back(last_break, c.end);
      last_break = c.next;
    }
  slices.emplace_back(last_break, RstripEnd(text));

  size_t realign = 0;
  for (size_t k = 0; k < slices.size(); ++k) {
    size_t s1 = slices[k].first + realign, e1 = slices[k].second;
    if (k + 1 == slices.size()) {
      if (s1 < e1) spans.emplace_back(s1, e1);
      continue;
    }
    // re_boundary_realignment at the start of the next slice: the fewest closing quotes/brackets followed
    // by whitespace (taken greedily), by "--", or by the end of a line or of the slice.
    std::string_view next = text.substr(slices[k + 1].first, slices[k + 1].second - slices[k + 1].first);
    size_t matched = 0, n = 0;
    while (n < next.size() && std::string_view("\"')]}").find(next[n]) != std::string_view::npos) {
      ++n;
      size_t w = n;
      while (w < next.size()) {
        size_t i = w;
        if (!IsPySpace(utf8::Next(next, i))) break;
        w = i;
      }
      if (w > n || next.substr(n).starts_with("--") || n == next.size() || next[n] == '\n') {
        matched = w;
        break;
      }
    }
    if (matched > 0) {
      spans.emplace_back(s1, slices[k + 1].first + RstripEnd(next.substr(0, matched)));
      realign = matched;
    } else {
      realign = 0;
      if (s1 < e1) spans.emplace_back(s1, e1);
    }
  }
}

std::vector<std::string_view> PunktSentenceTokenizer::Tokenize(std::string_view text) {
  std::vector<std::pair<size_t, size_t>> spans;
  SpanTokenize(text, spans);
  std::vector<std::string_view> out;
  for (auto [b, e] : spans) out.push_back(text.substr(b, e - b));
  return out;
}

}  // namespace sluice::text
