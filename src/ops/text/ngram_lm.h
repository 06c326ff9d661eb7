// A KenLM-compatible back-off n-gram language model for perplexity_filter (datajuicer-ops.md §6), read from an
// ARPA file or from a KenLM binary file (build_binary output, such as CCNet's and DataJuicer's <lang>.arpa.bin).
// Written natively: Debian has no KenLM.
//
// Contract:
//   NgramLm::Load(path)  once per process per file (CachedModel). A file starting with "mmap lm " is a KenLM
//       binary file: it is validated and mapped read-only, not copied (kenlm_binary.h: every model type
//       build_binary writes; any inconsistency is a kUsage error naming the file and the cause). Otherwise it
//       is an ARPA file (\data\ header with "ngram N=count" lines, \N-grams: sections of
//       "log10prob<ws>w1 .. wN[<ws>log10backoff]", \end\): like KenLM, a missing <unk> is added with log10
//       probability -100; a file without <s> or </s>, a malformed line or a count that disagrees with its
//       section is a kUsage error naming the file and line.
//   ScoreSentence(line)  == kenlm.Model.score(line, bos=True, eos=True): the words are line.split() on the
//       UTF-8 bytes (ASCII whitespace: space \t \n \r \x0b \x0c), unknown words are <unk>, and the result is
//       log10 p(w1 .. wn </s> | <s>) with standard back-off: p(w | h) = p(h' w) + sum of the back-off weights
//       of the contexts longer than the longest matching h' (absent contexts weigh 0). As in KenLM, each word's
//       probability is summed with its back-offs in float, shortest context first, and the sentence total is a
//       float. A binary file is scored the way KenLM scores it (its rest costs unused, its quantized values the
//       stored bin centers; tested against a writer built from KenLM's sources, not against KenLM's own files,
//       which are not available here); an ARPA file and the binary built from it score the same, except that
//       quantization changes the values.
// ARPA models: words are identified by a 64-bit hash of their bytes and n-grams by a 64-bit hash combining
// those (as KenLM's probing structure does), so two n-grams could in principle collide; the probability is
// negligible for any real model. Binary models use KenLM's own hashing (probing) or sorted word hashes (trie).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ops/text/kenlm_binary.h"

namespace sluice::text {

class NgramLm {
 public:
  static std::shared_ptr<const NgramLm> Load(const std::string& path);

  int order() const { return binary_ ? binary_->order() : static_cast<int>(tables_.size()); }
  float ScoreSentence(std::string_view line) const;

 private:
  struct Entry {
    uint64_t key = 0;  // 0 = empty slot
    float prob = 0;
    float backoff = 0;
  };
  // Open addressing over hashed keys (linear probing, load <= 1/2).
  class Table {
   public:
    void Reserve(size_t n);
    Entry* Insert(uint64_t key);  // the existing entry if the key is present
    const Entry* Find(uint64_t key) const;
    size_t size() const { return size_; }

   private:
    std::vector<Entry> slots_;
    size_t mask_ = 0;
    size_t size_ = 0;
  };

  NgramLm() = default;
  void ReadArpa(const std::string& path);

  std::vector<Table> tables_;  // tables_[k]: the (k+1)-grams
  uint64_t unk_ = 0, bos_ = 0, eos_ = 0;  // word hashes
  std::unique_ptr<const KenlmBinaryModel> binary_;  // set for a KenLM binary file (then tables_ is empty)
};

}  // namespace sluice::text
