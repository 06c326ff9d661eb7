// A reader of KenLM's binary n-gram model files (build_binary output, format version 5, little-endian), for
// perplexity_filter through NgramLm (ngram_lm.h). Written natively from the format's description in KenLM's
// sources; no KenLM code is used. The file is mapped read-only through Env (RandomAccessFile::Map, random
// access: no read-ahead for hash-table probes) and queried in place: nothing of the model is copied to the
// heap, so a multi-GB model costs page cache, shared by every worker of the process, and a model file cut
// short while mapped ends the run with a message naming it, as an input file does. Where the file cannot be
// mapped, it is read into memory instead.
//
// Contract:
//   KenlmBinaryModel::Open(path)  maps the file and validates its whole layout before anything is scored: the
//       sanity header (magic text "mmap lm http://kheafield.com/code format version 5\n", then 0.0f, 1.0f, -0.5f,
//       1u, 0xFFFFFFFFu and uint64 1 in little-endian byte order), the fixed parameters (order 2..kKenlmMaxOrder,
//       model type, search version, probing multiplier), the quantization and pointer-compression headers, the size
//       the counts imply (which the file must have), and, when the file carries its vocabulary strings, that they
//       start with "<unk>\0" where the layout says and are as many as the vocabulary. Any disagreement is a kUsage
//       error naming the file and the cause: an unfinished build, another format version, a big-endian or 32-bit
//       file, an unknown model type, a truncated file. <s> and </s> must be in the vocabulary (as the ARPA reader
//       requires). Supported model types (all that build_binary writes): probing (the default of build_binary, and
//       what CCNet's Makefile builds its published <lang>.arpa.bin with: `build_binary $< $@`, no type argument),
//       rest_probing, trie, trie with quantization (-q/-b bits), trie with array-compressed pointers (-a), and trie
//       with both.
//   ScoreSentence(line)  == kenlm.Model.score(line, bos=True, eos=True) on the same file, computed the way KenLM's
//       FullScore does: the words are bytes.split() of the line; a word missing from the vocabulary is <unk> (id 0,
//       whose stored unigram carries KenLM's -100 when the ARPA had none); the state starts at <s> with <s>'s
//       unigram back-off; each word takes the probability of the longest stored n-gram ending with it (stored
//       includes the "blank" entries KenLM adds for SRI-pruned models, which carry the backed-off probability —
//       read like any entry, but no test file has one: the test writer refuses pruned models; lookup stops early
//       where the stored data says no longer n-gram exists) plus, in float and shortest context
//       first, the back-offs of the remembered contexts longer than the match; the state keeps only contexts that
//       can be extended (KenLM's -0.0 / +0.0 back-off marks). rest_probing's rest costs are never used: the result
//       is the true log10 probability, as FullScore returns. Quantized models score with the bin centers stored in
//       the file. The sentence total is a float.
//   KenlmMurmurHash64A(key, len, seed)  MurmurHash64A (Austin Appleby's 64-bit MurmurHash2), which KenLM
//       hashes vocabulary words with (seed 0); exposed for tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace sluice {
class Env;          // io/env.h
class MappedRange;
}

namespace sluice::text {

inline constexpr int kKenlmMaxOrder = 16;

uint64_t KenlmMurmurHash64A(const void* key, size_t len, uint64_t seed);

// True when `head` (the first bytes of a file) starts like a KenLM binary file ("mmap lm "), complete or not.
bool LooksLikeKenlmBinary(std::string_view head);

class KenlmBinaryModel {
 public:
  // `env` null: Env::Default().
  static std::unique_ptr<const KenlmBinaryModel> Open(const std::string& path, Env* env = nullptr);
  ~KenlmBinaryModel();
  KenlmBinaryModel(const KenlmBinaryModel&) = delete;
  KenlmBinaryModel& operator=(const KenlmBinaryModel&) = delete;

  int order() const { return order_; }
  float ScoreSentence(std::string_view line) const;

  class Scorer;  // the per-type search structures (kenlm_binary.cc)

 private:
  KenlmBinaryModel() = default;

  std::unique_ptr<MappedRange> map_;   // the file, or (where it cannot be mapped)
  std::unique_ptr<uint64_t[]> copy_;   // its bytes read into memory
  int order_ = 0;
  std::unique_ptr<const Scorer> scorer_;
};

}  // namespace sluice::text
