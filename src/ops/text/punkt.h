// The Punkt sentence tokenizer (Kiss & Strunk 2006) as NLTK's PunktSentenceTokenizer.tokenize runs it with
// pretrained parameters and its default PunktLanguageVars (the tokenizer of sentence_split_mapper,
// datajuicer-ops.md §4/§6). Written from NLTK 3.8's algorithm (Debian 12's python3-nltk), whose results the
// tests pin.
//
// Contract:
//   PunktParameters  what training produced: abbreviation types, collocations (pairs of types), frequent
//       sentence starters, and per type the orthographic-context bit set (beginning/middle/unknown position x
//       upper/lower case; kOrtho* below).
//   LoadPunktTab(dir)  reads NLTK's `punkt_tab/<language>/` directory: abbrev_types.txt, sent_starters.txt
//       (one type per line), collocations.tab (two types separated by a tab), ortho_context.tab (type, tab,
//       decimal flags). Files are UTF-8; empty lines are skipped and a trailing CR is dropped. A missing or
//       malformed file is an Error(kUsage) naming it.
//   PunktSentenceTokenizer::SpanTokenize(text, spans)  the byte spans [begin, end) of the sentences of a
//       valid UTF-8 text, in order, as NLTK's span_tokenize(text, realign_boundaries=True):
//         1. candidates: every '.', '?' or '!' followed by a non-word punctuation character or by whitespace
//            and a further token; the word before it (back to the last ASCII whitespace) and what follows
//            form a small context, and overlapping candidates keep the last one;
//         2. a candidate ends a sentence when NLTK's two annotation passes mark a break in its context that
//            is followed by another token: first pass (lone '.', '?', '!' break; "..", "..." are ellipses;
//            a period-final word is an abbreviation if its lowercased form without the period, or the part
//            after its last '-', is a known abbreviation, and a break otherwise), second pass (known
//            collocation -> no break; abbreviation or ellipsis + orthographic heuristic or a capitalised
//            sentence starter -> break; initial or number + orthographic heuristic -> no break);
//         3. the sentence runs to the candidate, the next starts at the following token; the last runs to
//            the end of the text without trailing whitespace;
//         4. closing quotes and brackets right after a break move into the sentence before it
//            (re_boundary_realignment); empty sentences are dropped.
//       Character classes are Python's `re` on str (\s = str.isspace, \w, \d Unicode; lowercasing is
//       str.lower, case tests are str.isupper/islower of a token's first code point; Unicode data from ICU).
//   Tokenize(text)  the sentences as views into `text`.
// A tokenizer holds compiled patterns and scratch buffers: one per thread. The parameters are shared.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ops/text/regex.h"

namespace sluice::text {

// Orthographic context flags (NLTK's _ORTHO_*).
inline constexpr int kOrthoBegUc = 1 << 1, kOrthoMidUc = 1 << 2, kOrthoUnkUc = 1 << 3;
inline constexpr int kOrthoBegLc = 1 << 4, kOrthoMidLc = 1 << 5, kOrthoUnkLc = 1 << 6;
inline constexpr int kOrthoUc = kOrthoBegUc | kOrthoMidUc | kOrthoUnkUc;
inline constexpr int kOrthoLc = kOrthoBegLc | kOrthoMidLc | kOrthoUnkLc;

struct PunktParameters {
  std::set<std::string, std::less<>> abbrev_types;
  std::set<std::pair<std::string, std::string>> collocations;
  std::set<std::string, std::less<>> sent_starters;
  std::unordered_map<std::string, int> ortho_context;

  int Ortho(const std::string& type) const {
    auto it = ortho_context.find(type);
    return it == ortho_context.end() ? 0 : it->second;
  }
};

// The four files of a punkt_tab language directory, in the order LoadPunktTab reads them.
inline constexpr const char* kPunktTabFiles[] = {"abbrev_types.txt", "collocations.tab", "sent_starters.txt",
                                                 "ortho_context.tab"};

PunktParameters LoadPunktTab(const std::string& dir);

class PunktSentenceTokenizer {
 public:
  explicit PunktSentenceTokenizer(std::shared_ptr<const PunktParameters> params);

  void SpanTokenize(std::string_view text, std::vector<std::pair<size_t, size_t>>& spans);
  std::vector<std::string_view> Tokenize(std::string_view text);

 private:
  struct Token {
    std::string_view tok;
    std::string type;
    bool period_final = false;
    bool sentbreak = false;
    bool abbr = false;
    bool ellipsis = false;
  };
  // Candidate break: the end character at `end - 1`; the next sentence starts at `next` (the next token, or
  // `end` when the candidate is followed by punctuation).
  struct Candidate {
    size_t end, next;
    std::string context;
  };

  bool ContainsSentBreak(std::string_view context);
  void TokenizeWords(std::string_view text);
  void FirstPass(Token& t) const;
  void SecondPass(Token& t1, const Token& t2);
  // NLTK's _ortho_heuristic: 1 = sentence starter, 0 = not, -1 = unknown.
  int OrthoHeuristic(const Token& t) const;
  bool IsInitial(std::string_view tok);
  std::string TypeOf(std::string_view tok);

  std::shared_ptr<const PunktParameters> params_;
  Regex word_re_, period_re_, numeric_re_, initial_re_;
  std::vector<Token> tokens_;
  std::vector<Candidate> candidates_;
  std::string lower_;
};

}  // namespace sluice::text
