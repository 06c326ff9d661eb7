// Word and sentence mappers (datajuicer-ops.md §4, §2.3, §2.4): remove_long_words_mapper,
// remove_words_with_incorrect_substrings_mapper, remove_non_chinese_character_mapper,
// remove_table_text_mapper, remove_repeat_sentences_mapper.
//
// Contract (lengths are code points, "special" is SPECIAL_CHARACTERS, strip() is Python's):
//   remove_long_words_mapper / remove_words_with_incorrect_substrings_mapper: the three-level split/merge of
//     §2.3 -- lines on '\n', segments on '\t', words on ' ' (empty pieces dropped); a kept word is copied
//     unchanged; words of a segment are joined by ' ', non-empty segments by '\t', non-empty lines by
//     '\n' (nothing left: ""). So runs of spaces collapse and blank lines vanish even when no word goes.
//     Long words: keep w if min_len <= len(w) <= max_len, or if that holds for w stripped of special
//     characters at both ends. Incorrect substrings: drop w if w stripped of special characters at both
//     ends contains any of `substrings` (plain, case-sensitive; default http www .com href //).
//   remove_words_with_incorrect_substrings_mapper with `tokenization: true`: words = the SentencePiece
//     pieces of the text (sentencepiece_tokenizer.h; model from `tokenizer_model` or <lang>.sp.model, found
//     when the op is constructed) with every '▁' removed, tested as above. If a word is dropped the text
//     becomes the concatenation of the kept words (the model's normalization applies, and every space is
//     gone); if none is, the text is left unchanged.
//   remove_non_chinese_character_mapper: keeps only U+4E00..U+9FA5, plus A-Za-z (keep_alphabet), 0-9
//     (keep_number) and `. ， space , - 。 % 《 * 》 / • 、 & ＆ ( — ) （ + ） ： ？ ! ！ “ ” ·` (keep_punc);
//     every other code point (newlines included) is deleted.
//   remove_table_text_mapper: for i = min_col-1 .. max_col-1 in order, deletes every match of
//     (?<=\n)((\S+?)([ |\t](\S+?)){i}\n+){2,} (Python `regex`: \S is not White_Space, so \x1c-\x1f are
//     cell characters). Run natively on a list of lines: a line is a row for i when it ends with '\n' and
//     splits into i+1 non-empty cells at i single separators ' ', '\t' or '|'; a match is a maximal run of
//     >= 2 rows (blank lines between and after them included) not starting on the text's first line.
//   remove_repeat_sentences_mapper: per '\n'-line (empty lines kept), sentence breaks are inserted by the
//     four successive substitutions of the spec (leftmost, non-overlapping, each on the previous one's
//     output), then the line is split at them. A sentence's key is strip(), lower() if `lowercase`, then
//     without [^a-zA-Z0-9\u4e00-\u9fa5\n\t ] if `ignore_special_character`; a sentence is kept if its key
//     is shorter than min_repeat_sentence_length or was not seen earlier in the document. Kept sentences
//     of a line are concatenated, lines joined by '\n'.
// Map returns false, leaving the text untouched, when the output equals the input. Buffers are members:
// no allocation per record once they have grown.
#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "ops/filter/filter_util.h"
#include "ops/op.h"
#include "ops/text/pystr.h"
#include "ops/text/sentencepiece_tokenizer.h"
#include "ops/text/simd.h"
#include "core/utf8.h"
#include "ops/text/words.h"

namespace sluice {
namespace {

using text::SeqLen;

inline const unsigned char* Bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

// ---------------------------------------------------------------------------------------------------------
// Three-level split / merge (§2.3).

// Writes merge(filter(split(text))) to out, keeping the words for which keep(word) is true. Returns false,
// out unspecified, when that equals text.
//
// Between two consecutive kept words the merge writes '\n' if a '\n' lies between them (their lines are
// different and both non-empty), else '\t' if a '\t' does, else ' '. So the output is a sequence of input
// runs joined by single separators; a run grows while the next kept word follows its end after exactly the
// separator the merge writes, and out only receives a run when the output departs from the input.
template <class Keep>
bool FilterWords(std::string_view text, std::string& out, Keep&& keep) {
  out.clear();
  size_t run_b = 0, run_e = 0;  // the current run [run_b, run_e) of text
  size_t prev_end = 0;          // end of the previous word, kept or not
  int level = 0;                // separator owed since the last kept word: 0 ' ', 1 '\t', 2 '\n'
  bool any = false;
  text::ForEachWord(text, true, true, [&](std::string_view w) {
    size_t wb = static_cast<size_t>(w.data() - text.data()), we = wb + w.size();
    for (size_t i = prev_end; i < wb && level < 2; ++i) level = std::max(level, text[i] == '\n' ? 2 : text[i] == '\t');
    prev_end = we;
    if (!keep(w)) return;
    if (any) {
      char sep = level == 2 ? '\n' : level == 1 ? '\t' : ' ';
      if (wb == run_e + 1 && text[run_e] == sep) {
        run_e = we;
      } else {
        out.append(text, run_b, run_e - run_b);
        out += sep;
        run_b = wb;
        run_e = we;
      }
    } else {
      any = true;
      run_b = wb;
      run_e = we;
    }
    level = 0;
  });
  if (!any) return !text.empty();
  if (out.empty() && run_b == 0 && run_e == text.size()) return false;
  out.append(text, run_b, run_e - run_b);
  return true;
}

class RemoveLongWordsMapper : public Mapper {
 public:
  explicit RemoveLongWordsMapper(const Params& p)
      : Mapper("remove_long_words_mapper"), min_(p.GetInt("min_len")), max_(p.GetInt("max_len")) {}

  bool Map(std::string& text) override {
    if (!FilterWords(text, out_, [this](std::string_view w) { return Keep(w); })) return false;
    text.swap(out_);
    return true;
  }

 private:
  bool InRange(size_t len) const {
    auto l = static_cast<int64_t>(len);
    return min_ <= l && l <= max_;
  }
  bool Keep(std::string_view w) const {
    // len(w) lies in [ceil(bytes / 4), bytes]: most words are decided by their byte length alone.
    if (InRange((w.size() + 3) / 4) && InRange(w.size())) return true;
    return InRange(utf8::CodePointCount(w)) || InRange(utf8::CodePointCount(text::StripSpecial(w)));
  }

  int64_t min_, max_;
  std::string out_;
};

// Calls f(pos) for every occurrence of the non-empty `needle` in t, in ascending order: 32 candidate starts
// at a time by their first and last byte, then compared.
template <class F>
void ForEachOccurrence(std::string_view t, std::string_view needle, F&& f) {
  size_t m = needle.size(), n = t.size();
  if (m > n) return;
  const text::ByteSet first{{static_cast<uint8_t>(needle.front())}}, last{{static_cast<uint8_t>(needle.back())}};
  const char* p = t.data();
  size_t end = n - m + 1, i = 0;  // starts in [0, end)
  for (; i + 32 <= end; i += 32) {
    for (uint32_t mask = text::SetMask32(p + i, first) & text::SetMask32(p + i + m - 1, last); mask != 0;
         mask &= mask - 1) {
      size_t k = i + static_cast<size_t>(__builtin_ctz(mask));
      if (std::memcmp(p + k, needle.data(), m) == 0) f(k);
    }
  }
  for (; i < end; ++i)
    if (std::memcmp(p + i, needle.data(), m) == 0) f(i);
}

class RemoveWordsWithIncorrectSubstringsMapper : public Mapper {
 public:
  explicit RemoveWordsWithIncorrectSubstringsMapper(const Params& p)
      : Mapper("remove_words_with_incorrect_substrings_mapper"),
        tokenizer_(text::TokenizerFromParams(p, "remove_words_with_incorrect_substrings_mapper")) {
    const ParamValue& v = p.Get("substrings");
    if (v.type() == ParamValue::Type::kString)
      Fail(ErrorKind::kUsage, "remove_words_with_incorrect_substrings_mapper: substrings must be a list of strings");
    substrings_ =
        v.is_null() ? std::vector<std::string>{"http", "www", ".com", "href", "//"} : p.GetStringList("substrings");
    drop_all_ = std::any_of(substrings_.begin(), substrings_.end(), [](const std::string& s) { return s.empty(); });
  }

  bool Map(std::string& text) override {
    if (tokenizer_) return MapPieces(text);
    if (drop_all_) {  // "" is in every word
      if (!FilterWords(text, out_, [](std::string_view) { return false; })) return false;
      text.swap(out_);
      return true;
    }
    // A stripped word is a substring of the text, so only words holding the start of an occurrence of some
    // substring can go; the others are kept without a look.
    hits_.clear();
    for (const auto& sub : substrings_) ForEachOccurrence(text, sub, [this](size_t pos) { hits_.push_back(pos); });
    std::sort(hits_.begin(), hits_.end());
    size_t next_hit = 0;
    auto keep = [&](std::string_view w) {
      size_t wb = static_cast<size_t>(w.data() - text.data());
      while (next_hit < hits_.size() && hits_[next_hit] < wb) ++next_hit;
      return next_hit == hits_.size() || hits_[next_hit] >= wb + w.size() || !Dropped(w);
    };
    if (!FilterWords(text, out_, keep)) return false;
    text.swap(out_);
    return true;
  }

 private:
  // Whether the word goes: its stripped form contains one of the substrings.
  bool Dropped(std::string_view word) const {
    if (drop_all_) return true;
    std::string_view stripped = text::StripSpecial(word);
    for (const auto& sub : substrings_)
      if (stripped.find(sub) != std::string_view::npos) return true;
    return false;
  }

  // The tokenized variant (contract above).
  bool MapPieces(std::string& text) {
    static constexpr std::string_view kMarker = "\u2581";
    const auto& pieces = tokenizer_->EncodeShared(text);
    out_.clear();
    bool dropped = false;
    for (size_t i = 0; i < pieces.size(); ++i) {
      std::string_view piece = pieces[i];
      word_.clear();
      for (size_t at; (at = piece.find(kMarker)) != std::string_view::npos; piece.remove_prefix(at + kMarker.size()))
        word_.append(piece.substr(0, at));
      word_.append(piece);
      if (Dropped(word_))
        dropped = true;
      else
        out_ += word_;
    }
    if (!dropped || out_ == text) return false;
    text.swap(out_);
    return true;
  }

  std::shared_ptr<const text::SentencePieceTokenizer> tokenizer_;  // null without tokenization
  std::vector<std::string> substrings_;
  bool drop_all_;
  std::vector<size_t> hits_;  // start offsets of substring occurrences in the text
  std::string word_;          // a piece without its '▁' markers
  std::string out_;
};

// ---------------------------------------------------------------------------------------------------------

class RemoveNonChineseCharacterMapper : public Mapper {
 public:
  explicit RemoveNonChineseCharacterMapper(const Params& p)
      : Mapper("remove_non_chinese_character_mapper"), keep_punc_(p.GetBool("keep_punc")) {
    if (p.GetBool("keep_alphabet"))
      for (int c = 'a'; c <= 'z'; ++c) ascii_[c] = ascii_[c - 32] = true;
    if (p.GetBool("keep_number"))
      for (int c = '0'; c <= '9'; ++c) ascii_[c] = true;
    if (keep_punc_)
      for (unsigned char c : std::string_view(". ,-%*/&()+!")) ascii_[c] = true;
  }

  bool Map(std::string& text) override {
    // Compacts in place, a run of kept characters at a time: text[0, w) is the output so far.
    char* p = text.data();
    size_t n = text.size(), w = 0, r = 0, len = 0;
    while (r < n) {
      size_t kept = r;
      while (r < n && Kept(text, r, &len)) r += len;
      if (w != kept) std::memmove(p + w, p + kept, r - kept);
      w += r - kept;
      while (r < n && !Kept(text, r, &len)) r += len;
    }
    if (w == n) return false;
    text.resize(w);
    return true;
  }

 private:
  // Whether the character at t[i] stays; *len is its byte length.
  bool Kept(std::string_view t, size_t i, size_t* len) const {
    unsigned char c = Bytes(t)[i];
    if (c < 0x80) {
      *len = 1;
      return ascii_[c];
    }
    *len = SeqLen(c);
    return KeepNonAscii(utf8::Next(t, i));
  }

  bool KeepNonAscii(char32_t c) const {
    if (c >= 0x4E00 && c <= 0x9FA5) return true;
    if (!keep_punc_) return false;
    switch (c) {
      case 0xFF0C:
      case 0x3002:
      case 0x300A:
      case 0x300B:
      case 0x2022:
      case 0x3001:
      case 0xFF06:
      case 0x2014:
      case 0xFF08:
      case 0xFF09:
      case 0xFF1A:
      case 0xFF1F:
      case 0xFF01:
      case 0x201C:
      case 0x201D:
      case 0x00B7:
        return true;
      default:
        return false;
    }
  }

  bool keep_punc_;
  bool ascii_[128] = {};
};

// ---------------------------------------------------------------------------------------------------------

// Python `regex` \s (White_Space): the code points a table cell cannot contain.
inline bool IsRegexSpace(char32_t c) {
  if (c < 0x80) return (c >= 0x09 && c <= 0x0D) || c == 0x20;
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

// Byte classes of a line: a cell byte, ' ' or '\t', '|', ASCII whitespace no cell can hold, or the lead
// byte of a multi-byte character that may be White_Space (U+0085 U+00A0 U+1680 U+2000-U+200A U+2028
// U+2029 U+202F U+205F U+3000). Continuation bytes are cell bytes.
enum ByteClass : uint8_t { kCell, kSep, kBar, kSpace, kMaybeSpace };
struct ByteClasses {
  ByteClass c[256] = {};
  constexpr ByteClasses() {
    c[' '] = c['\t'] = kSep;
    c['|'] = kBar;
    c['\v'] = c['\f'] = c['\r'] = c['\n'] = kSpace;
    c[0xC2] = c[0xE1] = c[0xE2] = c[0xE3] = kMaybeSpace;
  }
};
constexpr ByteClasses kClasses{};

class RemoveTableTextMapper : public Mapper {
 public:
  explicit RemoveTableTextMapper(const Params& p)
      : Mapper("remove_table_text_mapper"), min_col_(p.GetInt("min_col")), max_col_(p.GetInt("max_col")) {
    for (const char* name : {"min_col", "max_col"}) {
      int64_t v = p.GetInt(name);
      if (v < 2 || v > 20) Fail(ErrorKind::kUsage, "remove_table_text_mapper: {} must be in [2, 20], got {}", name, v);
    }
  }

  bool Map(std::string& text) override {
    // A table needs a '\n' before its first row and after each row.
    if (std::count(text.begin(), text.end(), '\n') < 3) return false;
    ScanLines(text);
    // A pass can only remove something when at least two lines are rows for it; removals never add rows.
    int candidates[20] = {};
    for (const Line& l : lines_)
      if (l.cells && l.newline)
        for (int i = std::max<int>(l.lo, static_cast<int>(min_col_ - 1));
             i <= std::min<int>(l.hi, static_cast<int>(max_col_ - 1)); ++i)
          ++candidates[i];
    bool removed = false;
    for (int64_t i = min_col_ - 1; i <= max_col_ - 1; ++i)
      if (candidates[i] >= 2) removed |= RemoveTables(static_cast<int>(i));
    if (!removed) return false;
    out_.clear();
    for (const Line& l : lines_) out_.append(text, l.b, l.e - l.b + (l.newline ? 1 : 0));
    text.swap(out_);
    return true;
  }

 private:
  // One '\n'-separated line. As a row with i separators it matches iff cells && lo <= i <= hi: its ' ' and
  // '\t' must all be separators (lo of them), and a '|' can be one when it leaves non-empty cells on both
  // sides: of a run of bars, all but one at the start or end of its ' '/'\t'-piece qualify, and every other
  // one of those can be used (hi - lo in total).
  struct Line {
    size_t b, e;   // [b, e) without the '\n'
    bool newline;  // followed by '\n' (all lines but the last)
    bool cells;    // non-empty, no whitespace but single ' '/'\t' between non-empty pieces
    int lo, hi;
    bool Row(int i) const { return newline && cells && lo <= i && i <= hi; }
  };

  void ScanLines(std::string_view t) {
    lines_.clear();
    size_t b = 0;
    while (true) {
      size_t e = t.find('\n', b);
      bool nl = e != std::string_view::npos;
      if (!nl) e = t.size();
      Line l{b, e, nl, false, 0, 0};
      Describe(t.substr(b, e - b), l);
      lines_.push_back(l);
      if (!nl) break;
      b = e + 1;
    }
  }

  void Describe(std::string_view s, Line& l) const {
    if (s.empty()) return;
    const unsigned char* p = Bytes(s);
    const int max_seps = static_cast<int>(max_col_ - 1);
    int seps = 0, bars = 0;
    size_t piece = 0;  // start of the current ' '/'\t'-separated piece
    size_t run = 0;    // length of the run of '|' ending right before the current byte
    bool run_at_piece_start = false;
    // A run of r bars offers r positions, minus the one at the piece's start or end; every other one of
    // them can be a separator.
    auto end_run = [&](bool at_piece_end) {
      int usable = static_cast<int>(run) - run_at_piece_start - at_piece_end;
      if (usable > 0) bars += (usable + 1) / 2;
      run = 0;
    };
    // Most lines of prose hold more ' '/'\t' than any pass has separators: counted 32 bytes at a time.
    constexpr text::ByteSet kSepBytes{{' ', '\t'}};
    for (size_t i = 0; i + 32 <= s.size(); i += 32) {
      seps += __builtin_popcount(text::SetMask32(s.data() + i, kSepBytes));
      if (seps > max_seps) return;
    }
    seps = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      switch (kClasses.c[p[i]]) {
        case kCell:
          if (run != 0) end_run(false);
          break;
        case kSep:
          if (i == piece) return;  // empty piece: leading or doubled separator
          end_run(true);
          // More ' '/'\t' than any pass has separators: never a row (most lines of prose end here).
          if (++seps > max_seps) return;
          piece = i + 1;
          break;
        case kBar:
          if (run++ == 0) run_at_piece_start = i == piece;
          break;
        case kSpace:
          return;
        case kMaybeSpace: {
          size_t j = i;
          if (IsRegexSpace(utf8::Next(s, j))) return;
          if (run != 0) end_run(false);
          i = j - 1;
          break;
        }
      }
    }
    if (piece == s.size()) return;  // trailing separator
    end_run(true);
    l.cells = true;
    l.lo = seps;
    l.hi = seps + bars;
  }

  // One pass with i separators: drops every maximal run of >= 2 rows (with the blank lines between and
  // after them) that does not start on the first line; returns whether anything was dropped.
  bool RemoveTables(int i) {
    size_t n = lines_.size(), w = 1, r = 1;
    bool removed = false;
    while (r < n) {
      if (!lines_[r].Row(i)) {
        lines_[w++] = lines_[r++];
        continue;
      }
      size_t rows = 0, end = r;  // [r, end) is the candidate match
      for (size_t k = r; k < n; ++k) {
        const Line& l = lines_[k];
        if (l.b == l.e && l.newline) continue;  // blank line: absorbed by \n+
        if (!l.Row(i)) break;
        ++rows;
        end = k + 1;
      }
      if (rows >= 2) {
        while (end < n && lines_[end].b == lines_[end].e && lines_[end].newline) ++end;
        r = end;
        removed = true;
      } else {
        lines_[w++] = lines_[r++];
      }
    }
    lines_.resize(w);
    return removed;
  }

  int64_t min_col_, max_col_;
  std::vector<Line> lines_;
  std::string out_;
};

// ---------------------------------------------------------------------------------------------------------

// A set of strings for one document: Clear() is O(1) (generation stamps), nothing is freed between
// documents.
class StringSet {
 public:
  void Clear() {
    arena_.clear();
    keys_.clear();
    if (++gen_ == 0) {  // wrapped: stale stamps could collide
      std::fill(slots_.begin(), slots_.end(), Slot{});
      gen_ = 1;
    }
  }

  // Inserts key; returns false if it was already present.
  bool Insert(std::string_view key) {
    if ((keys_.size() + 1) * 2 > slots_.size()) Grow();
    uint64_t h = XXH3_64bits(key.data(), key.size());
    size_t mask = slots_.size() - 1;
    for (size_t k = h & mask;; k = (k + 1) & mask) {
      Slot& s = slots_[k];
      if (s.gen != gen_) {
        s = Slot{gen_, static_cast<uint32_t>(keys_.size())};
        keys_.push_back({h, arena_.size(), key.size()});
        arena_.append(key);
        return true;
      }
      const Key& e = keys_[s.index];
      if (e.hash == h && std::string_view(arena_).substr(e.offset, e.size) == key) return false;
    }
  }

 private:
  struct Slot {
    uint32_t gen = 0;
    uint32_t index = 0;
  };
  struct Key {
    uint64_t hash;
    size_t offset, size;
  };

  void Grow() {
    slots_.assign(std::max<size_t>(64, slots_.size() * 2), Slot{});
    size_t mask = slots_.size() - 1;
    for (size_t i = 0; i < keys_.size(); ++i) {
      size_t k = keys_[i].hash & mask;
      while (slots_[k].gen == gen_) k = (k + 1) & mask;
      slots_[k] = Slot{gen_, static_cast<uint32_t>(i)};
    }
  }

  std::string arena_;
  std::vector<Key> keys_;
  std::vector<Slot> slots_;
  uint32_t gen_ = 1;
};

// UTF-8 of the characters the sentence-break substitutions look at.
constexpr std::string_view kRightSingleQuote = "\u2019", kRightDoubleQuote = "\u201D", kEllipsis = "\u2026";

// Length of the code point at t[i] if it is ’ or ”, else 0.
inline size_t QuoteAt(std::string_view t, size_t i) {
  if (i + 3 > t.size() || Bytes(t)[i] != 0xE2) return 0;
  std::string_view c = t.substr(i, 3);
  return (c == kRightSingleQuote || c == kRightDoubleQuote) ? 3 : 0;
}

// Length of the code point at t[i] if it is in `[.。！!？\?]`, else 0.
inline size_t Terminator1At(std::string_view t, size_t i) {
  unsigned char c = Bytes(t)[i];
  if (c == '.' || c == '!' || c == '?') return 1;
  if (i + 3 > t.size()) return 0;
  std::string_view s = t.substr(i, 3);
  return (s == "\u3002" || s == "\uFF01" || s == "\uFF1F") ? 3 : 0;
}

// Length of the code point at t[i] if it is in `[.。!！？\?\.{6}\…{2}]` (in a class `{6}` and `{2}` are the
// characters { 6 } and 2), else 0.
inline size_t Terminator4At(std::string_view t, size_t i) {
  unsigned char c = Bytes(t)[i];
  if (c == '{' || c == '}' || c == '6' || c == '2') return 1;
  if (Terminator1At(t, i) != 0) return SeqLen(c);
  return t.substr(i, 3) == kEllipsis ? 3 : 0;
}

// One substitution `(X)([^’”])` -> `\1\n\2` over t into out. next(t, i) is the first position >= i where X
// may match (t.size() if none), x_at(t, i) the length of an X match at i (0: none). Leftmost,
// non-overlapping: after a match the search resumes past the [^’”] character. Returns false (out
// unspecified) when nothing matched.
template <class Next, class XAt>
bool InsertBreaks(std::string_view t, std::string& out, Next&& next, XAt&& x_at) {
  out.clear();
  size_t copied = 0, n = t.size();
  bool any = false;
  for (size_t i = next(t, 0); i < n; i = next(t, i)) {
    size_t x = x_at(t, i);
    if (x == 0 || i + x >= n || QuoteAt(t, i + x) != 0) {
      i += SeqLen(Bytes(t)[i]);
      continue;
    }
    size_t after = i + x + SeqLen(Bytes(t)[i + x]);
    out.append(t, copied, i + x - copied);
    out += '\n';
    out.append(t, i + x, after - (i + x));
    copied = i = after;
    any = true;
  }
  if (!any) return false;
  out.append(t, copied, n - copied);
  return true;
}

// [.。！!？?] start with these bytes.
constexpr text::ByteSet kTerminatorLeads{{'.', '!', '?', 0xE3, 0xEF}};

// next() for a literal X.
inline auto FindLiteral(std::string_view lit) {
  return [lit](std::string_view t, size_t i) { return std::min(t.find(lit, i), t.size()); };
}

// The ASCII characters a sentence key keeps with ignore_special_character: [a-zA-Z0-9\t ].
struct KeyAscii {
  uint8_t keep[128] = {};
  constexpr KeyAscii() {
    for (int c = 'a'; c <= 'z'; ++c) keep[c] = keep[c - 32] = 1;
    for (int c = '0'; c <= '9'; ++c) keep[c] = 1;
    keep[' '] = keep['\t'] = 1;
  }
};
constexpr KeyAscii kKeyAscii{};

class RemoveRepeatSentencesMapper : public Mapper {
 public:
  explicit RemoveRepeatSentencesMapper(const Params& p)
      : Mapper("remove_repeat_sentences_mapper"),
        lowercase_(p.GetBool("lowercase")),
        ignore_special_(p.GetBool("ignore_special_character")),
        min_len_(p.GetInt("min_repeat_sentence_length")) {}

  bool Map(std::string& text) override {
    seen_.Clear();
    drops_.clear();
    size_t b = 0;
    while (b <= text.size()) {
      size_t e = std::min(text.find('\n', b), text.size());
      if (e > b) DedupLine(b, SplitSentences(std::string_view(text).substr(b, e - b)));
      b = e + 1;
    }
    if (drops_.empty()) return false;
    // The output is the text without the dropped sentences (the '\n's between lines stay where they are).
    out_.clear();
    size_t from = 0;
    for (const auto& [db, de] : drops_) {
      out_.append(text, from, db - from);
      from = de;
    }
    out_.append(text, from, std::string::npos);
    text.swap(out_);
    return true;
  }

 private:
  // The line with a '\n' at every sentence break (the line itself has none).
  std::string_view SplitSentences(std::string_view line) {
    std::string_view cur = line;
    std::string* spare = &buf_a_;
    auto apply = [&](bool matched) {
      if (!matched) return;
      cur = *spare;
      spare = spare == &buf_a_ ? &buf_b_ : &buf_a_;
    };
    apply(InsertBreaks(
        cur, *spare, [](std::string_view t, size_t i) { return text::FindFirst(t, i, kTerminatorLeads); },
        Terminator1At));
    apply(InsertBreaks(cur, *spare, FindLiteral("......"), [](std::string_view, size_t) -> size_t { return 6; }));
    apply(InsertBreaks(cur, *spare, FindLiteral("\u2026\u2026"), [](std::string_view, size_t) -> size_t { return 6; }));
    // `[.。!！？\?\.{6}\…{2}][’”]`: candidates are the characters right before a closing quote.
    auto before_quote = [](std::string_view t, size_t i) {
      constexpr text::ByteSet kQuoteLead{{0xE2}};
      for (size_t q = text::FindFirst(t, i + 1, kQuoteLead); q < t.size(); q = text::FindFirst(t, q + 1, kQuoteLead)) {
        if (QuoteAt(t, q) == 0) continue;
        size_t c = q - 1;
        while ((Bytes(t)[c] & 0xC0) == 0x80) --c;
        if (c >= i) return c;
      }
      return t.size();
    };
    apply(InsertBreaks(cur, *spare, before_quote, [](std::string_view t, size_t i) -> size_t {
      size_t x = Terminator4At(t, i);
      return x != 0 && QuoteAt(t, i + x) != 0 ? x + 3 : 0;
    }));
    return cur;
  }

  // Dedups the sentences of the line starting at text offset `line_begin`, given with a '\n' at each
  // break; records the text ranges of the dropped ones.
  void DedupLine(size_t line_begin, std::string_view split) {
    size_t b = 0, at = line_begin;  // the sentence split[b, e) is text[at, at + e - b)
    while (true) {
      size_t e = std::min(split.find('\n', b), split.size());
      size_t cps;
      std::string_view key = Key(split.substr(b, e - b), &cps);
      if (static_cast<int64_t>(cps) >= min_len_ && !seen_.Insert(key)) {
        if (!drops_.empty() && drops_.back().second == at)
          drops_.back().second = at + e - b;
        else
          drops_.push_back({at, at + e - b});
      }
      at += e - b;
      if (e == split.size()) break;
      b = e + 1;
    }
  }

  // The comparison key of a sentence and its length in code points.
  std::string_view Key(std::string_view sentence, size_t* cps) {
    std::string_view k = text::PyStrip(sentence);
    if (lowercase_) {
      lower_.clear();
      text::PyLowerAppend(k, lower_);
      k = lower_;
    }
    if (!ignore_special_) {
      *cps = utf8::CodePointCount(k);
      return k;
    }
    // Keeps [a-zA-Z0-9\t ] and U+4E00..U+9FA5 (3-byte sequences led by 0xE4..0xE9); '\n' cannot occur.
    key_.resize(k.size());
    char* out = key_.data();
    size_t n = 0, w = 0;
    const unsigned char* p = Bytes(k);
    for (size_t i = 0; i < k.size();) {
      unsigned char c = p[i];
      if (c < 0x80) {
        out[w] = static_cast<char>(c);
        w += kKeyAscii.keep[c];
        n += kKeyAscii.keep[c];
        ++i;
        continue;
      }
      if (c >= 0xE4 && c <= 0xE9) {
        char32_t cp = ((c & 0x0F) << 12) | ((p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F);
        if (cp >= 0x4E00 && cp <= 0x9FA5) {
          std::memcpy(out + w, p + i, 3);
          w += 3;
          ++n;
        }
      }
      i += SeqLen(c);
    }
    key_.resize(w);
    *cps = n;
    return key_;
  }

  bool lowercase_, ignore_special_;
  int64_t min_len_;
  StringSet seen_;
  std::vector<std::pair<size_t, size_t>> drops_;  // text ranges of the dropped sentences, ascending
  std::string buf_a_, buf_b_, lower_, key_, out_;
};

}  // namespace

void RegisterWordMappers(std::vector<OpDef>& ops) {
  ops.push_back({"remove_long_words_mapper",
                 OpKind::kMapper,
                 "remove words whose length (or length without special characters at the ends) is outside [min_len, "
                 "max_len]; whitespace is normalised",
                 {{"min_len", ParamType::kInt, ParamValue::Int(1), "minimum word length in code points", false},
                  {"max_len", ParamType::kInt, ParamValue::Int(kMaxSizeInt),
                   "maximum word length in code points (default sys.maxsize)", false}},
                 [](const Params& p) { return std::make_unique<RemoveLongWordsMapper>(p); }});
  ops.push_back(
      {"remove_words_with_incorrect_substrings_mapper",
       OpKind::kMapper,
       "remove words containing any of the given substrings; whitespace is normalised",
       {{"lang", ParamType::kString, ParamValue::String("en"),
         "language of the tokenizer model (only used with tokenization)"},
        {"tokenization", ParamType::kBool, ParamValue::Bool(false),
         "split with the SentencePiece model <lang>.sp.model instead of whitespace (then every space goes when a "
         "word is removed)", false},
        {"substrings",
         ParamType::kStringList,
         {},
         "list of substrings a word (stripped of special characters) must not contain; null: "
         "[http, www, .com, href, //]"},
        text::TokenizerModelParam()},
       [](const Params& p) { return std::make_unique<RemoveWordsWithIncorrectSubstringsMapper>(p); }});
  ops.push_back(
      {"remove_non_chinese_character_mapper",
       OpKind::kMapper,
       "remove every character that is not a Chinese character (U+4E00-U+9FA5) or kept by the flags",
       {{"keep_alphabet", ParamType::kBool, ParamValue::Bool(true), "keep A-Z and a-z", false},
        {"keep_number", ParamType::kBool, ParamValue::Bool(true), "keep 0-9", false},
        {"keep_punc", ParamType::kBool, ParamValue::Bool(true),
         "keep space and the punctuation . ， , - 。 % 《 * 》 / • 、 & ＆ ( — ) （ + ） ： ？ ! ！ “ ” ·", false}},
       [](const Params& p) { return std::make_unique<RemoveNonChineseCharacterMapper>(p); }});
  ops.push_back(
      {"remove_table_text_mapper",
       OpKind::kMapper,
       "remove tables: runs of at least 2 lines with the same number of cells, from min_col to max_col columns",
       {{"min_col", ParamType::kInt, ParamValue::Int(2), "minimum number of columns (2..20)", false},
        {"max_col", ParamType::kInt, ParamValue::Int(20), "maximum number of columns (2..20)", false}},
       [](const Params& p) { return std::make_unique<RemoveTableTextMapper>(p); }});
  ops.push_back(
      {"remove_repeat_sentences_mapper",
       OpKind::kMapper,
       "remove sentences that repeat an earlier sentence of the same document",
       {{"lowercase", ParamType::kBool, ParamValue::Bool(false), "compare sentences lowercased", false},
        {"ignore_special_character", ParamType::kBool, ParamValue::Bool(true),
         "compare sentences without characters other than A-Za-z0-9, Chinese characters, space and tab", false},
        {"min_repeat_sentence_length", ParamType::kInt, ParamValue::Int(2),
         "sentences whose comparison key is shorter than this are always kept", false}},
       [](const Params& p) { return std::make_unique<RemoveRepeatSentencesMapper>(p); }});
}

}  // namespace sluice
