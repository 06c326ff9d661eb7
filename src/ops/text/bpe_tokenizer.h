// Byte-level BPE tokenization with a Hugging Face `tokenizer.json` (the GPT-2 / GPT-NeoX family), for
// alphanumeric_filter's `tokenization: true`: DataJuicer counts `len(tokenizer.tokenize(text))` with the fast
// tokenizer of EleutherAI/pythia-6.9b-deduped (datajuicer-ops.md §5), whose tokenizer.json is GPT-NeoX-20B's.
// Written natively after huggingface/tokenizers (added_vocabulary.rs, pre_tokenizers/byte_level.rs,
// models/bpe/{model,word}.rs); sluice has no Python or Rust tokenizers library.
//
// Contract:
//   BpeTokenizer::Load(path)  the tokenizer.json at `path`, parsed once per process and shared read-only by every
//       op and thread (CachedModel, model_files.h). Implemented exactly, and nothing else: model `BPE` (vocab;
//       merges as "a b" strings or [a, b] pairs, rank = position, a pair listed twice keeps its last rank;
//       dropout null or 0; unk_token / fuse_unk; ignore_merges; continuing_subword_prefix and
//       end_of_word_suffix null or ""; byte_fallback false), normalizer null, `NFC` or a `Sequence` of those,
//       pre-tokenizer `ByteLevel` (add_prefix_space, use_regex; trim_offsets only moves offsets) alone or as a
//       one-element `Sequence`, and `added_tokens` with their special / single_word / lstrip / rstrip /
//       normalized flags. Anything else (another model, normalizer or pre-tokenizer, a merge naming a token
//       that is not in the vocab, malformed JSON) is a kUsage error naming the file and the component.
//       post_processor, decoder, truncation and padding are ignored: transformers' tokenize() adds no special
//       tokens and turns truncation and padding off.
//   Tokenize(text, out)  out = transformers' PreTrainedTokenizerFast.tokenize(text) (add_special_tokens=False):
//       1. added tokens with normalized: false are split out of the raw text (leftmost-longest, then
//          single_word / lstrip / rstrip as added_vocabulary.rs find_matches: \w = Alphabetic, M, Nd, Pc,
//          Join_Control; whitespace = White_Space);
//       2. each remaining piece is normalized (NFC; ASCII and text below U+0300 skip ICU), then the added
//          tokens with normalized: true (content NFC-normalized too) are split out of it;
//       3. each remaining piece (empty pieces vanish) is pre-tokenized: a leading ' ' if add_prefix_space and
//          the piece does not start with one, then the GPT-2 regex
//            's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//          (hand-coded; leftmost-first alternation as Oniguruma, which tokenizers uses: \p{L} = general category
//          L*, \p{N} = N*, \s = U+0009..U+000D, U+0085 and Z* -- the Oniguruma definition, which is the
//          White_Space property; U+001C..U+001F are not \s. Categories from ICU, Unicode 15);
//       4. each pre-token's UTF-8 bytes, mapped to the byte-level alphabet (GPT-2's bytes_to_unicode), is
//          merged by BPE: repeatedly the adjacent pair of lowest merge rank, the leftmost of equals (words of
//          up to 48 symbols by a linear scan, longer ones with tokenizers' heap, which merges the same).
//       Added tokens come out as the text they matched (with stripped whitespace), BPE tokens as vocab strings.
//   CountTokens(text)  == Tokenize(text).size(), without building strings; no heap allocation per call once
//       the calling thread's scratch buffers have grown. The counts of pre-tokens of up to 16 bytes are memoized
//       per thread and tokenizer (direct-mapped, 64Ki entries, 1.5 MiB; exact keys).
//   PreTokens(text, out)  steps 1-3 of Tokenize only, for tests.
// Thread safety: every const method may run concurrently; the scratch is per thread (thread_local).
// Known deviations: Unicode data is ICU's (15.0) where tokenizers has its crates' (onig, unicode-normalization),
// so characters assigned in later Unicode versions may classify differently; a model with a non-zero BPE
// dropout (training-time randomness) is refused at load, and so is an unk_token missing from the vocab
// (tokenizers fails only when a text needs it).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sluice::text {

struct BpeTokenizerOptions {
  size_t linear_merge_max = 48;  // words with more symbols merge with the heap (tests set 0 to force it)
};

class BpeTokenizer {
 public:
  using Options = BpeTokenizerOptions;

  static std::shared_ptr<const BpeTokenizer> Load(const std::string& path);
  // The same from JSON text; `name` stands for the file in messages. Not cached.
  static std::shared_ptr<const BpeTokenizer> FromJson(std::string_view json, const std::string& name,
                                                      Options options = {});

  void Tokenize(std::string_view utf8, std::vector<std::string>& out) const;
  size_t CountTokens(std::string_view utf8) const;
  // Steps 1-3 only: the added tokens as matched and the pre-tokens as UTF-8 text (before the byte-level
  // mapping; with add_prefix_space, the added ' ' included), in order. For tests and diagnostics.
  void PreTokens(std::string_view utf8, std::vector<std::string>& out) const;

  const std::string& path() const { return path_; }

  BpeTokenizer(const BpeTokenizer&) = delete;
  BpeTokenizer& operator=(const BpeTokenizer&) = delete;

 private:
  BpeTokenizer();
  void Parse(std::string_view json);

  struct AddedToken {
    std::string content;  // as matched: NFC-normalized when `normalized`
    bool single_word = false, lstrip = false, rstrip = false, normalized = true, special = false;
  };
  // A byte trie of added-token contents for leftmost-longest matching.
  struct Trie {
    struct Node {
      int32_t token = -1;                                // index into added_, or -1
      std::vector<std::pair<uint8_t, uint32_t>> kids;    // sorted by byte
    };
    std::vector<Node> nodes;  // [0] = root
    std::array<uint32_t, 256> root{};  // child of the root per byte (0 = none)
    bool empty() const { return nodes.size() <= 1; }
    void Insert(std::string_view s, int32_t token);
    // Longest token starting at s[i]: its length (0 = none) and index.
    size_t Longest(std::string_view s, size_t i, int32_t* token) const;
  };
  // (left id, right id) -> (rank, new id), open addressing; key and value share a cache line.
  struct MergeMap {
    struct Slot {
      uint64_t key = UINT64_MAX;  // left << 32 | right; UINT64_MAX = empty
      uint64_t val = UINT64_MAX;  // rank << 32 | new id
    };
    std::vector<Slot> slots;
    uint64_t mask = 0;
    int shift = 64;
    void Build(const std::vector<std::pair<uint64_t, uint64_t>>& entries);
    // rank << 32 | new id, or UINT64_MAX when the pair does not merge.
    uint64_t Find(uint32_t a, uint32_t b) const {
      uint64_t k = static_cast<uint64_t>(a) << 32 | b;
      for (uint64_t h = (k * 0x9E3779B97F4A7C15ull) >> shift;; h = (h + 1) & mask) {
        const Slot& s = slots[h];
        if (s.key == k) return s.val;
        if (s.key == UINT64_MAX) return UINT64_MAX;
      }
    }
  };

  template <class Sink>
  void Run(std::string_view text, Sink& sink) const;
  template <class Sink>
  void SplitAdded(std::string_view s, const Trie& trie, Sink& sink) const;
  template <class Sink>
  void PreTokenize(std::string_view s, Sink& sink) const;
  template <class Sink>
  void Bpe(std::string_view word, Sink& sink) const;
  size_t CountWord(std::string_view word) const;  // Bpe's token count, through a per-thread cache
  // A pre-token to the sink: sink.PreToken(word) where the sink has it (PreTokens), its token count to
  // sink.Add (CountTokens), else its tokens by Bpe.
  template <class Sink>
  void Word(std::string_view word, Sink& sink) const {
    if constexpr (requires { sink.PreToken(word); }) sink.PreToken(word);
    else if constexpr (requires { sink.Add(size_t{0}); }) sink.Add(CountWord(word));
    else Bpe(word, sink);
  }

  std::string path_;
  Options options_;
  uint64_t serial_ = 0;  // distinguishes instances for the per-thread word cache
  // Model.
  std::unordered_map<std::string, uint32_t> vocab_;
  std::vector<std::string> tokens_;  // id -> vocab string
  MergeMap merges_;
  std::array<int64_t, 256> byte_id_{};  // id of each byte's byte-level character, -1 if not in the vocab
  std::array<std::string, 256> byte_char_;  // each byte's byte-level character (UTF-8)
  std::vector<uint64_t> byte_pairs_;        // merges_.Find of the characters of bytes (a, b) at [a << 8 | b]
  int64_t unk_id_ = -1;
  bool fuse_unk_ = false, ignore_merges_ = false;
  // Normalizer and pre-tokenizer.
  bool nfc_ = false, add_prefix_space_ = false, use_regex_ = true;
  // Added tokens.
  std::vector<AddedToken> added_;
  Trie raw_trie_, normalized_trie_;
};

}  // namespace sluice::text
