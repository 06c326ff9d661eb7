// SentencePiece tokenization (Debian's libsentencepiece) for the ops with `tokenization: true` and for
// perplexity_filter (datajuicer-ops.md §2.3, §6).
//
// Contract:
//   SentencePieceTokenizer::Load(path)  the model at `path`, loaded once per process and shared read-only by
//       every op and thread (CachedModel). A file that is not a SentencePiece model is a kUsage error naming
//       it. A model trained with escape_whitespaces=false has pieces that hold spaces: loaded like any other.
//   Encode(text, pieces)  pieces = DataJuicer's sp.encode_as_pieces(text): the model's normalization, then the
//       pieces with their '▁' markers; an unknown character comes out as its (normalized) surface text, not as
//       "<unk>"; a text the library fails to encode has no pieces, as the Python binding returns (it drops the
//       error status). `pieces` is per-thread scratch whose storage is reused from call to call.
//   Pieces[i] views are valid until the next Encode into the same Pieces.
//   EncodeShared(text)  the same pieces, from a per-thread memo of the last text this tokenizer encoded on
//       this thread: the ops of a fused chain that tokenize one record with one model (perplexity_filter,
//       words_num_filter, word_repetition_filter, flagged_words_filter, ...) encode it once, as DataJuicer's
//       context variant shares the words. The result is valid until the next EncodeShared on this thread.
//
//   RefinePieces(pieces, opt, scratch, out)  DataJuicer's words_refinement (words.h) of the pieces, each piece
//       one word. Where no piece holds a space that is the refinement of ' '.join(pieces) split on spaces
//       alone (opt.new_line and opt.tab must be false: pieces may hold '\n' or '\t'); else each piece is
//       refined whole. Returns true in the second case: out's words may then hold spaces, so n-grams of them
//       must be compared as joined strings (WordList::Joined), not word by word.
//
// Using it from an op with DataJuicer's `lang` / `tokenization` parameters (words_num_filter,
// word_repetition_filter, stopwords_filter, flagged_words_filter, ...):
//   TokenizerParams() declares `tokenizer_model` (sluice's explicit path); TokenizerFromParams(p, op) returns
//   null when tokenization is false, else the tokenizer of `tokenizer_model` or of <lang>.sp.model found in
//   SLUICE_MODELS_DIR, failing at construction (kUsage) when it is absent (model_files.h).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <sentencepiece_processor.h>

#include "core/params.h"
#include "ops/text/words.h"

namespace sluice::text {

class SentencePieceTokenizer {
 public:
  class Pieces {
   public:
    size_t size() const { return spt_.pieces_size(); }
    std::string_view operator[](size_t i) const { return spt_.pieces(static_cast<int>(i)).piece(); }

   private:
    friend class SentencePieceTokenizer;
    sentencepiece::ImmutableSentencePieceText spt_;
  };

  static std::shared_ptr<const SentencePieceTokenizer> Load(const std::string& path);

  void Encode(std::string_view text, Pieces& out) const;
  const Pieces& EncodeShared(std::string_view text) const;

  const std::string& path() const { return path_; }

 private:
  SentencePieceTokenizer() = default;
  sentencepiece::SentencePieceProcessor sp_;
  std::string path_;
};

// RefinePieces' scratch, kept by the op across calls.
struct PieceScratch {
  std::string joined;
  std::vector<std::string_view> pieces;
};
bool RefinePieces(const SentencePieceTokenizer::Pieces& pieces, const RefineOptions& opt, PieceScratch& scratch,
                  WordList& out);

// The sluice parameter that names a SentencePiece model file explicitly ("" = <lang>.sp.model).
ParamSpec TokenizerModelParam();

// See the contract above; reads `tokenization`, `lang` and `tokenizer_model` from `p`.
std::shared_ptr<const SentencePieceTokenizer> TokenizerFromParams(const Params& p, const std::string& op);

}  // namespace sluice::text
