#include "ops/text/bpe_tokenizer.h"

#include <simdjson.h>
#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>

#include "core/error.h"
#include "ops/text/model_files.h"
#include "core/utf8.h"

namespace sluice::text {
namespace {

namespace dom = simdjson::dom;

// --- character classes --------------------------------------------------------------------------------------

// Classes of the pre-tokenizer regex: \p{L}, \p{N}, \s (Oniguruma: U+0009..U+000D, U+0085, Z*), the rest.
enum : uint8_t { kOther = 0, kLetter = 1, kNumber = 2, kSpace = 3 };
// Flags of the added-token rules (Rust regex / char semantics): \w and White_Space.
enum : uint8_t { kWordFlag = 4, kWhiteFlag = 8 };

uint8_t Classify(char32_t c) {
  auto cp = static_cast<UChar32>(c);
  uint32_t gc = U_GET_GC_MASK(cp);
  uint8_t cls = kOther;
  if ((c >= 0x09 && c <= 0x0D) || c == 0x85 || (gc & U_GC_Z_MASK)) cls = kSpace;
  else if (gc & U_GC_L_MASK) cls = kLetter;
  else if (gc & U_GC_N_MASK) cls = kNumber;
  // Rust regex's Unicode \w (UTS #18): Alphabetic, M, Nd, Pc, Join_Control.
  if (u_hasBinaryProperty(cp, UCHAR_ALPHABETIC) || (gc & (U_GC_M_MASK | U_GC_ND_MASK | U_GC_PC_MASK)) ||
      u_hasBinaryProperty(cp, UCHAR_JOIN_CONTROL))
    cls |= kWordFlag;
  if (u_hasBinaryProperty(cp, UCHAR_WHITE_SPACE)) cls |= kWhiteFlag;
  return cls;
}

struct ClassTable {
  uint8_t bmp[0x10000];
  ClassTable() {
    for (char32_t c = 0; c < 0x10000; ++c) bmp[c] = Classify(c);
  }
};

const ClassTable& Classes() {
  static const ClassTable t;
  return t;
}

inline uint8_t ClassOf(char32_t c) { return c < 0x10000 ? Classes().bmp[c] : Classify(c); }

// The class bits (and byte length) of the code point at s[i].
inline uint8_t ClassAt(const ClassTable& t, std::string_view s, size_t i, size_t* len) {
  auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) {
    *len = 1;
    return t.bmp[b];
  }
  size_t j = i;
  char32_t c = utf8::Next(s, j);
  *len = j - i;
  return c < 0x10000 ? t.bmp[c] : Classify(c);
}

// The code point that ends s (non-empty).
char32_t LastCodePoint(std::string_view s) {
  size_t i = s.size() - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return utf8::Next(s, i);
}

// --- GPT-2's bytes_to_unicode -------------------------------------------------------------------------------

std::array<char32_t, 256> ByteChars() {
  std::array<char32_t, 256> map{};
  std::array<bool, 256> direct{};
  for (int b = '!'; b <= '~'; ++b) direct[b] = true;
  for (int b = 0xA1; b <= 0xAC; ++b) direct[b] = true;
  for (int b = 0xAE; b <= 0xFF; ++b) direct[b] = true;
  char32_t n = 0;
  for (int b = 0; b < 256; ++b) map[b] = direct[b] ? static_cast<char32_t>(b) : 256 + n++;
  return map;
}

// --- per-thread scratch -------------------------------------------------------------------------------------

struct HeapMerge {
  uint32_t rank, pos, new_id;
};
// std heap functions build a max-heap: "less" = later in merge order (higher rank, then higher position).
struct HeapLess {
  bool operator()(const HeapMerge& a, const HeapMerge& b) const {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  }
};
struct Symbol {
  uint32_t c;
  int32_t prev, next;
  bool removed;
};

struct Scratch {
  std::string nfc, prefixed, mapped;
  std::vector<uint32_t> ids;
  std::vector<uint64_t> pairs;
  std::vector<Symbol> symbols;
  std::vector<HeapMerge> heap;
};

Scratch& ThreadScratch() {
  thread_local Scratch s;
  return s;
}

constexpr uint64_t kNoMerge = UINT64_MAX;

// --- JSON helpers -------------------------------------------------------------------------------------------

struct JsonReader {
  const std::string& file;

  [[noreturn]] void Bad(const std::string& what) const {
    Fail(ErrorKind::kUsage, "the tokenizer {}: {}", file, what);
  }
  [[noreturn]] void Unsupported(const std::string& what) const {
    Fail(ErrorKind::kUsage,
         "the tokenizer {}: {} is not supported (sluice implements a BPE model with a ByteLevel pre-tokenizer and "
         "an NFC or no normalizer, as the GPT-2 / GPT-NeoX tokenizers)",
         file, what);
  }
  // Whether obj[key] exists and is not null.
  static bool Present(dom::element obj, const char* key) {
    dom::element e;
    return !obj[key].get(e) && !e.is_null();
  }
  std::string_view String(dom::element obj, const char* key, const char* where) const {
    std::string_view s;
    if (obj[key].get(s)) Bad(fmt::format("{}.{} is missing or not a string", where, key));
    return s;
  }
  std::string_view OptionalString(dom::element obj, const char* key, const char* where) const {
    if (!Present(obj, key)) return {};
    return String(obj, key, where);
  }
  bool Bool(dom::element obj, const char* key, bool dflt, const char* where) const {
    if (!Present(obj, key)) return dflt;
    bool b;
    if (obj[key].get(b)) Bad(fmt::format("{}.{} is not a boolean", where, key));
    return b;
  }
  std::string_view Type(dom::element obj, const char* where) const { return String(obj, "type", where); }
};

}  // namespace

// --- trie and merge map -------------------------------------------------------------------------------------

void BpeTokenizer::Trie::Insert(std::string_view s, int32_t token) {
  if (nodes.empty()) nodes.emplace_back();
  uint32_t at = 0;
  for (size_t k = 0; k < s.size(); ++k) {
    auto b = static_cast<uint8_t>(s[k]);
    auto& kids = nodes[at].kids;
    auto it = std::lower_bound(kids.begin(), kids.end(), std::pair<uint8_t, uint32_t>{b, 0},
                               [](const auto& x, const auto& y) { return x.first < y.first; });
    uint32_t next;
    if (it != kids.end() && it->first == b) {
      next = it->second;
    } else {
      next = static_cast<uint32_t>(nodes.size());
      kids.insert(it, {b, next});
      nodes.emplace_back();  // may move `kids`' owner; not used after this
    }
    if (at == 0) root[b] = next;
    at = next;
  }
  nodes[at].token = token;  // a content listed twice: the later entry's flags
}

size_t BpeTokenizer::Trie::Longest(std::string_view s, size_t i, int32_t* token) const {
  uint32_t at = root[static_cast<uint8_t>(s[i])];
  if (at == 0) return 0;
  size_t best = 0, k = i + 1;
  for (;;) {
    const Node& node = nodes[at];
    if (node.token >= 0) {
      best = k - i;
      *token = node.token;
    }
    if (k == s.size() || node.kids.empty()) break;
    auto b = static_cast<uint8_t>(s[k]);
    uint32_t next = 0;
    for (const auto& [kb, kn] : node.kids)
      if (kb == b) {
        next = kn;
        break;
      }
    if (next == 0) break;
    at = next;
    ++k;
  }
  return best;
}

void BpeTokenizer::MergeMap::Build(const std::vector<std::pair<uint64_t, uint64_t>>& entries) {
  size_t cap = 16;
  while (cap < entries.size() + entries.size() / 4) cap <<= 1;
  slots.assign(cap, Slot());
  mask = cap - 1;
  shift = 64 - std::countr_zero(cap);
  for (const auto& [k, v] : entries) {
    uint64_t h = (k * 0x9E3779B97F4A7C15ull) >> shift;
    while (slots[h].key != UINT64_MAX && slots[h].key != k) h = (h + 1) & mask;
    slots[h] = {k, v};  // a pair listed twice keeps its last rank, as tokenizers' HashMap collect does
  }
}

// --- loading ------------------------------------------------------------------------------------------------

BpeTokenizer::BpeTokenizer() {
  static std::atomic<uint64_t> serial{0};
  serial_ = ++serial;
}

std::shared_ptr<const BpeTokenizer> BpeTokenizer::Load(const std::string& path) {
  return CachedModel<BpeTokenizer>(path, [](const std::string& file) {
    simdjson::padded_string json;
    if (auto err = simdjson::padded_string::load(file).get(json))
      Fail(ErrorKind::kUsage, "cannot read the tokenizer {}: {}", file, simdjson::error_message(err));
    std::shared_ptr<BpeTokenizer> t(new BpeTokenizer());
    t->path_ = file;
    t->Parse(std::string_view(json.data(), json.size()));
    return std::shared_ptr<const BpeTokenizer>(std::move(t));
  });
}

std::shared_ptr<const BpeTokenizer> BpeTokenizer::FromJson(std::string_view json, const std::string& name,
                                                           Options options) {
  std::shared_ptr<BpeTokenizer> t(new BpeTokenizer());
  t->path_ = name;
  t->options_ = options;
  t->Parse(json);
  return t;
}

void BpeTokenizer::Parse(std::string_view json) {
  JsonReader r{path_};
  dom::parser parser;
  simdjson::padded_string padded(json);
  dom::element root;
  if (auto err = parser.parse(padded).get(root)) r.Bad(fmt::format("not valid JSON ({})", simdjson::error_message(err)));
  if (!root.is_object()) r.Bad("not a JSON object");

  // Model.
  dom::element model;
  if (root["model"].get(model) || !model.is_object()) r.Bad("no \"model\" object");
  std::string_view type = r.OptionalString(model, "type", "model");
  if (type.empty() && !JsonReader::Present(model, "merges")) r.Bad("model.type is missing");
  if (!type.empty() && type != "BPE") r.Unsupported(fmt::format("the model type {}", type));
  if (JsonReader::Present(model, "dropout")) {
    double d;
    if (model["dropout"].get(d) || d != 0.0) r.Unsupported("BPE dropout");
  }
  if (!r.OptionalString(model, "continuing_subword_prefix", "model").empty())
    r.Unsupported("model.continuing_subword_prefix");
  if (!r.OptionalString(model, "end_of_word_suffix", "model").empty()) r.Unsupported("model.end_of_word_suffix");
  if (r.Bool(model, "byte_fallback", false, "model")) r.Unsupported("model.byte_fallback");
  fuse_unk_ = r.Bool(model, "fuse_unk", false, "model");
  ignore_merges_ = r.Bool(model, "ignore_merges", false, "model");

  dom::object vocab;
  if (model["vocab"].get(vocab)) r.Bad("model.vocab is missing or not an object");
  constexpr uint64_t kMaxId = uint64_t{1} << 26;
  uint64_t max_id = 0;
  for (auto [key, value] : vocab) {
    uint64_t id;
    if (value.get(id) || id >= kMaxId) r.Bad(fmt::format("model.vocab[\"{}\"] is not a token id", key));
    vocab_[std::string(key)] = static_cast<uint32_t>(id);
    max_id = std::max(max_id, id);
  }
  tokens_.assign(vocab_.empty() ? 0 : max_id + 1, std::string());
  for (const auto& [tok, id] : vocab_) tokens_[id] = tok;
  auto id_of = [&](std::string_view tok, const char* what) -> uint32_t {
    auto it = vocab_.find(std::string(tok));
    if (it == vocab_.end()) r.Bad(fmt::format("{} \"{}\" is not in model.vocab", what, tok));
    return it->second;
  };
  std::string_view unk = r.OptionalString(model, "unk_token", "model");
  if (!unk.empty()) unk_id_ = id_of(unk, "model.unk_token");

  dom::array merges;
  if (model["merges"].get(merges)) r.Bad("model.merges is missing or not an array");
  std::vector<std::pair<uint64_t, uint64_t>> entries;
  uint64_t rank = 0;
  for (dom::element m : merges) {
    std::string_view a, b;
    std::string_view line;
    dom::array pair;
    if (!m.get(line)) {
      size_t sp = line.find(' ');
      if (sp == std::string_view::npos || line.find(' ', sp + 1) != std::string_view::npos)
        r.Bad(fmt::format("merge {} (\"{}\") is not two tokens separated by one space", rank, line));
      a = line.substr(0, sp);
      b = line.substr(sp + 1);
    } else if (!m.get(pair) && pair.size() == 2 && !pair.at(0).get(a) && !pair.at(1).get(b)) {
    } else {
      r.Bad(fmt::format("merge {} is neither \"a b\" nor [\"a\", \"b\"]", rank));
    }
    uint64_t ia = id_of(a, "a merge token"), ib = id_of(b, "a merge token");
    uint64_t inew = id_of(std::string(a) + std::string(b), "a merge result");
    entries.emplace_back(ia << 32 | ib, rank << 32 | inew);
    ++rank;
  }
  merges_.Build(entries);

  std::array<char32_t, 256> chars = ByteChars();
  for (int b = 0; b < 256; ++b) {
    byte_char_[b].clear();
    utf8::Append(byte_char_[b], chars[b]);
    auto it = vocab_.find(byte_char_[b]);
    byte_id_[b] = it == vocab_.end() ? -1 : static_cast<int64_t>(it->second);
  }

  byte_pairs_.assign(65536, kNoMerge);
  for (int a = 0; a < 256; ++a)
    for (int b = 0; b < 256; ++b)
      if (byte_id_[a] >= 0 && byte_id_[b] >= 0)
        byte_pairs_[a << 8 | b] = merges_.Find(static_cast<uint32_t>(byte_id_[a]), static_cast<uint32_t>(byte_id_[b]));

  // Normalizer.
  auto normalizer = [&](auto&& self, dom::element n) -> void {
    if (n.is_null()) return;
    std::string_view t = r.Type(n, "normalizer");
    if (t == "NFC") {
      nfc_ = true;
    } else if (t == "Sequence") {
      dom::array list;
      if (n["normalizers"].get(list)) r.Bad("normalizer.normalizers is missing");
      for (dom::element e : list) self(self, e);
    } else {
      r.Unsupported(fmt::format("the normalizer {}", t));
    }
  };
  dom::element norm;
  if (!root["normalizer"].get(norm)) normalizer(normalizer, norm);

  // Pre-tokenizer.
  dom::element pre;
  if (root["pre_tokenizer"].get(pre) || pre.is_null()) r.Unsupported("a tokenizer without a pre_tokenizer");
  std::string_view pt = r.Type(pre, "pre_tokenizer");
  if (pt == "Sequence") {
    dom::array list;
    if (pre["pretokenizers"].get(list) || list.size() != 1)
      r.Unsupported("a pre_tokenizer Sequence of other than one ByteLevel");
    pre = list.at(0).value_unsafe();
    pt = r.Type(pre, "pre_tokenizer");
  }
  if (pt != "ByteLevel") r.Unsupported(fmt::format("the pre_tokenizer {}", pt));
  add_prefix_space_ = r.Bool(pre, "add_prefix_space", true, "pre_tokenizer");
  use_regex_ = r.Bool(pre, "use_regex", true, "pre_tokenizer");

  // Added tokens: the special ones first, then the others (tokenizers adds them in that order).
  dom::element added_el;
  if (!root["added_tokens"].get(added_el) && !added_el.is_null()) {
    dom::array added;
    if (added_el.get(added)) r.Bad("added_tokens is not an array");
    std::vector<AddedToken> special, classic;
    for (dom::element e : added) {
      AddedToken t;
      t.content = std::string(r.String(e, "content", "added_tokens[]"));
      t.special = r.Bool(e, "special", false, "added_tokens[]");
      t.single_word = r.Bool(e, "single_word", false, "added_tokens[]");
      t.lstrip = r.Bool(e, "lstrip", false, "added_tokens[]");
      t.rstrip = r.Bool(e, "rstrip", false, "added_tokens[]");
      t.normalized = r.Bool(e, "normalized", !t.special, "added_tokens[]");
      if (t.content.empty()) continue;  // tokenizers ignores empty tokens
      (t.special ? special : classic).push_back(std::move(t));
    }
    for (auto* list : {&special, &classic})
      for (auto& t : *list) {
        if (t.normalized && nfc_) {
          std::string buf;
          UErrorCode st = U_ZERO_ERROR;
          const icu::Normalizer2* n = icu::Normalizer2::getNFCInstance(st);
          icu::StringByteSink<std::string> sink(&buf);
          if (U_SUCCESS(st)) n->normalizeUTF8(0, icu::StringPiece(t.content.data(), static_cast<int32_t>(t.content.size())), sink, nullptr, st);
          if (U_FAILURE(st)) r.Bad(fmt::format("cannot NFC-normalize the added token \"{}\"", t.content));
          t.content = std::move(buf);
        }
        added_.push_back(std::move(t));
        const AddedToken& at = added_.back();
        (at.normalized ? normalized_trie_ : raw_trie_).Insert(at.content, static_cast<int32_t>(added_.size() - 1));
      }
  }
  (void)Classes();  // build the class table now rather than inside the first record
}

// --- the pipeline -------------------------------------------------------------------------------------------

namespace {

// NFC of s: s itself when it is already NFC (all code points below U+0300, i.e. no byte >= 0xCC, or ICU's
// check), else the normalized text in buf.
std::string_view Nfc(std::string_view s, std::string& buf) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  uint8_t hi = 0;
  for (size_t i = 0; i < n; ++i) hi |= static_cast<uint8_t>(p[i] >= 0xCC);
  if (!hi) return s;
  UErrorCode st = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(st);
  icu::StringPiece sp(s.data(), static_cast<int32_t>(n));
  if (U_SUCCESS(st) && nfc->isNormalizedUTF8(sp, st) && U_SUCCESS(st)) return s;
  st = U_ZERO_ERROR;
  buf.clear();
  icu::StringByteSink<std::string> sink(&buf);
  nfc->normalizeUTF8(0, sp, sink, nullptr, st);
  if (U_FAILURE(st)) Fail(ErrorKind::kData, "cannot NFC-normalize the text: {}", u_errorName(st));
  return buf;
}

}  // namespace

// added_vocabulary.rs find_matches + split_with_indices: `sink.Added(text)` for each token, `sink.Piece(text)`
// for each non-empty piece between them.
template <class Sink>
void BpeTokenizer::SplitAdded(std::string_view s, const Trie& trie, Sink& sink) const {
  if (s.empty()) return;
  if (trie.empty()) {
    sink.Piece(s);
    return;
  }
  const ClassTable& ct = Classes();
  auto word_at = [&](size_t i) {
    size_t len;
    return (ClassAt(ct, s, i, &len) & kWordFlag) != 0;
  };
  size_t start_offset = 0, i = 0, n = s.size();
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  while (i < n) {
    if (trie.root[p[i]] == 0) {  // no token starts with this byte
      ++i;
      continue;
    }
    int32_t tok = -1;
    size_t len = trie.Longest(s, i, &tok);
    if (len == 0) {
      ++i;
      continue;
    }
    size_t start = i, stop = i + len;
    i = stop;  // matches do not overlap, whatever the rules below make of them
    const AddedToken& t = added_[static_cast<size_t>(tok)];
    if (t.single_word) {
      bool start_space = start == 0 || !(ClassOf(LastCodePoint(s.substr(0, start))) & kWordFlag);
      bool stop_space = stop == n || !word_at(stop);
      if (!start_space || !stop_space) continue;
    }
    if (t.lstrip) {
      size_t ns = start;
      while (ns > 0) {
        size_t k = ns - 1;
        while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
        size_t l;
        if (!(ClassAt(ct, s, k, &l) & kWhiteFlag)) break;
        ns = k;
      }
      start = std::max(ns, start_offset);
    }
    if (t.rstrip) {
      size_t l;
      while (stop < n && (ClassAt(ct, s, stop, &l) & kWhiteFlag)) stop += l;
    }
    start = std::min(start, stop);
    if (start_offset < start) sink.Piece(s.substr(start_offset, start - start_offset));
    sink.Added(s.substr(start, stop - start));
    start_offset = stop;
  }
  if (start_offset < n) sink.Piece(s.substr(start_offset));
}

template <class Sink>
void BpeTokenizer::Run(std::string_view text, Sink& sink) const {
  Scratch& sc = ThreadScratch();
  struct Normalized {  // pieces of the normalized text: added tokens, then pre-tokenization
    const BpeTokenizer& t;
    Sink& sink;
    void Added(std::string_view s) { sink.Added(s); }
    void Piece(std::string_view s) { t.PreTokenize(s, sink); }
  } normalized{*this, sink};
  struct Raw {  // pieces of the raw text: normalize, then split the normalized added tokens out
    const BpeTokenizer& t;
    Scratch& sc;
    Sink& sink;
    Normalized& next;
    void Added(std::string_view s) { sink.Added(s); }
    void Piece(std::string_view s) {
      std::string_view n = t.nfc_ ? Nfc(s, sc.nfc) : s;
      t.SplitAdded(n, t.normalized_trie_, next);
    }
  } raw{*this, sc, sink, normalized};
  SplitAdded(text, raw_trie_, raw);
}

// The ByteLevel pre-tokenizer: optional prefix space, then the GPT-2 regex (see the header), each match to Bpe.
template <class Sink>
void BpeTokenizer::PreTokenize(std::string_view s, Sink& sink) const {
  if (add_prefix_space_ && s[0] != ' ') {
    std::string& buf = ThreadScratch().prefixed;
    buf.assign(1, ' ');
    buf.append(s);
    s = buf;
  }
  if (!use_regex_) {
    Word(s, sink);
    return;
  }
  const ClassTable& ct = Classes();
  const size_t n = s.size();
  size_t i = 0;
  auto emit = [&](size_t from, size_t to) {
    Word(s.substr(from, to - from), sink);
    i = to;
  };
  while (i < n) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b == '\'' && i + 1 < n) {  // 's|'t|'re|'ve|'m|'ll|'d
      char c1 = s[i + 1];
      if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') {
        emit(i, i + 2);
        continue;
      }
      if (i + 2 < n) {
        char c2 = s[i + 2];
        if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
          emit(i, i + 3);
          continue;
        }
      }
    }
    size_t len;
    uint8_t cls = ClassAt(ct, s, i, &len) & 3;
    size_t run = i;  // where the ` ?X+` run starts
    if (b == ' ' && i + 1 < n) {
      size_t len2;
      uint8_t next = ClassAt(ct, s, i + 1, &len2) & 3;
      if (next != kSpace) {
        cls = next;
        run = i + 1;
      }
    }
    if (cls != kSpace) {  // ` ?\p{L}+`, ` ?\p{N}+` or ` ?[^\s\p{L}\p{N}]+`
      size_t k = run;
      while (k < n && (ClassAt(ct, s, k, &len) & 3) == cls) k += len;
      emit(i, k);
      continue;
    }
    // Whitespace: \s+(?!\S) takes the run but its last character when a non-space follows; a lone
    // whitespace character before a non-space is \s+.
    size_t k = i, last = i;
    while (k < n && (ClassAt(ct, s, k, &len) & 3) == kSpace) {
      last = k;
      k += len;
    }
    if (k == n) emit(i, n);
    else if (last > i) emit(i, last);
    else emit(i, k);
  }
}

// The BPE model on one pre-token (its raw bytes; each byte is one byte-level character).
template <class Sink>
void BpeTokenizer::Bpe(std::string_view word, Sink& sink) const {
  Scratch& sc = ThreadScratch();
  if (ignore_merges_) {
    sc.mapped.clear();
    for (char ch : word) sc.mapped += byte_char_[static_cast<unsigned char>(ch)];
    auto it = vocab_.find(sc.mapped);
    if (it != vocab_.end()) {
      sink.Token(it->second);
      return;
    }
  }
  // Symbols, with tokenizers' unknown-character rule: without unk_token an unknown character is dropped;
  // with it, consecutive unknowns become one unk when fuse_unk, else one each.
  std::vector<uint32_t>& ids = sc.ids;
  ids.clear();
  bool unk_pending = false, all_known = true;
  for (char ch : word) {
    int64_t id = byte_id_[static_cast<unsigned char>(ch)];
    all_known &= id >= 0;
    if (id >= 0) {
      if (unk_pending) ids.push_back(static_cast<uint32_t>(unk_id_));
      unk_pending = false;
      ids.push_back(static_cast<uint32_t>(id));
    } else if (unk_id_ >= 0) {
      if (unk_pending && !fuse_unk_) ids.push_back(static_cast<uint32_t>(unk_id_));
      unk_pending = true;
    }
  }
  if (unk_pending) ids.push_back(static_cast<uint32_t>(unk_id_));
  size_t n = ids.size();

  if (n >= 2 && n <= options_.linear_merge_max) {
    // Merge the pair of lowest (rank, position) until none merges. pairs[k] = rank << 32 | new id of
    // (ids[k], ids[k + 1]); equal ranks mean the same merge, so the first minimum is the leftmost.
    std::vector<uint64_t>& pairs = sc.pairs;
    pairs.resize(n);
    if (all_known) {  // ids[k] is the character of word[k]: the first merges from the byte-pair table
      const auto* w = reinterpret_cast<const unsigned char*>(word.data());
      for (size_t k = 0; k + 1 < n; ++k) pairs[k] = byte_pairs_[w[k] << 8 | w[k + 1]];
    } else {
      for (size_t k = 0; k + 1 < n; ++k) pairs[k] = merges_.Find(ids[k], ids[k + 1]);
    }
    while (n > 1) {
      uint64_t best = kNoMerge;
      size_t at = 0;
      for (size_t k = 0; k + 1 < n; ++k)
        if (pairs[k] < best) {
          best = pairs[k];
          at = k;
        }
      if (best == kNoMerge) break;
      ids[at] = static_cast<uint32_t>(best);
      for (size_t k = at + 1; k + 1 < n; ++k) {  // drop ids[at + 1] and pairs[at]
        ids[k] = ids[k + 1];
        pairs[k - 1] = pairs[k];
      }
      --n;
      if (at > 0) pairs[at - 1] = merges_.Find(ids[at - 1], ids[at]);
      if (at + 1 < n) pairs[at] = merges_.Find(ids[at], ids[at + 1]);
    }
    for (size_t k = 0; k < n; ++k) sink.Token(ids[k]);
    return;
  }
  if (n >= 2) {
    // tokenizers' Word::merge_all (models/bpe/word.rs): a heap of (rank, position) candidates; stale entries
    // are recognised by their new id no longer matching the pair at their position.
    std::vector<Symbol>& sym = sc.symbols;
    sym.resize(n);
    for (size_t k = 0; k < n; ++k)
      sym[k] = {ids[k], static_cast<int32_t>(k) - 1, k + 1 < n ? static_cast<int32_t>(k + 1) : -1, false};
    std::vector<HeapMerge>& heap = sc.heap;
    heap.clear();
    auto push = [&](uint32_t pos, uint64_t m) {
      if (m == kNoMerge) return;
      heap.push_back({static_cast<uint32_t>(m >> 32), pos, static_cast<uint32_t>(m)});
      std::push_heap(heap.begin(), heap.end(), HeapLess());
    };
    for (size_t k = 0; k + 1 < n; ++k) push(static_cast<uint32_t>(k), merges_.Find(ids[k], ids[k + 1]));
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), HeapLess());
      HeapMerge top = heap.back();
      heap.pop_back();
      Symbol& cur = sym[top.pos];
      if (cur.removed || cur.next == -1) continue;
      Symbol right = sym[static_cast<size_t>(cur.next)];
      uint64_t m = merges_.Find(cur.c, right.c);
      if (m == kNoMerge || static_cast<uint32_t>(m) != top.new_id) continue;
      sym[static_cast<size_t>(cur.next)].removed = true;
      cur.c = top.new_id;
      cur.next = right.next;
      if (right.next >= 0) sym[static_cast<size_t>(right.next)].prev = static_cast<int32_t>(top.pos);
      if (cur.prev >= 0)
        push(static_cast<uint32_t>(cur.prev), merges_.Find(sym[static_cast<size_t>(cur.prev)].c, cur.c));
      if (cur.next >= 0) push(top.pos, merges_.Find(cur.c, sym[static_cast<size_t>(cur.next)].c));
    }
    for (size_t k = 0; k < n; ++k)
      if (!sym[k].removed) sink.Token(sym[k].c);
    return;
  }
  if (n == 1) sink.Token(ids[0]);
}

void BpeTokenizer::Tokenize(std::string_view utf8, std::vector<std::string>& out) const {
  out.clear();
  struct Collect {
    const BpeTokenizer& t;
    std::vector<std::string>& out;
    void Added(std::string_view s) { out.emplace_back(s); }
    void Token(uint32_t id) { out.push_back(t.tokens_[id]); }
  } sink{*this, out};
  Run(utf8, sink);
}

void BpeTokenizer::PreTokens(std::string_view utf8, std::vector<std::string>& out) const {
  out.clear();
  struct Collect {
    std::vector<std::string>& out;
    void Added(std::string_view s) { out.emplace_back(s); }
    void PreToken(std::string_view s) { out.emplace_back(s); }
  } sink{out};
  Run(utf8, sink);
}

// Token counts of short pre-tokens (up to 16 bytes: most words), per thread: a direct-mapped table keyed by
// the exact bytes, for the tokenizer whose serial it holds.
namespace {
struct WordCache {
  struct Entry {
    uint64_t lo = 0, hi = 0;  // the bytes, zero-padded
    uint32_t len = 0;         // 0 = empty
    uint32_t count = 0;
  };
  static constexpr size_t kSize = 65536;
  uint64_t owner = 0;
  std::vector<Entry> entries;
};
}  // namespace

size_t BpeTokenizer::CountWord(std::string_view word) const {
  struct Count {
    size_t n = 0;
    void Token(uint32_t) { ++n; }
  };
  size_t len = word.size();
  if (len > 16) {
    Count c;
    Bpe(word, c);
    return c.n;
  }
  uint64_t lo = 0, hi = 0;
  std::memcpy(&lo, word.data(), std::min<size_t>(len, 8));
  if (len > 8) std::memcpy(&hi, word.data() + 8, len - 8);
  thread_local WordCache cache;
  if (cache.owner != serial_) {
    cache.entries.assign(WordCache::kSize, WordCache::Entry());
    cache.owner = serial_;
  }
  uint64_t h = (lo ^ (hi * 0x9E3779B97F4A7C15ull) ^ len) * 0xD6E8FEB86659FD93ull;
  WordCache::Entry& e = cache.entries[(h >> 40) & (WordCache::kSize - 1)];
  if (e.len == len && e.lo == lo && e.hi == hi) return e.count;
  Count c;
  Bpe(word, c);
  e = {lo, hi, static_cast<uint32_t>(len), static_cast<uint32_t>(c.n)};
  return c.n;
}

size_t BpeTokenizer::CountTokens(std::string_view utf8) const {
  struct Count {
    size_t n = 0;
    void Added(std::string_view) { ++n; }
    void Add(size_t k) { n += k; }
  } sink;
  Run(utf8, sink);
  return sink.n;
}

}  // namespace sluice::text
