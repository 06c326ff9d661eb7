#include "ops/text/sentencepiece_tokenizer.h"

#include <algorithm>

#include "core/error.h"
#include "ops/text/model_files.h"

namespace sluice::text {

std::shared_ptr<const SentencePieceTokenizer> SentencePieceTokenizer::Load(const std::string& path) {
  return CachedModel<SentencePieceTokenizer>(path, [](const std::string& file) {
    std::shared_ptr<SentencePieceTokenizer> t(new SentencePieceTokenizer());
    t->path_ = file;
    auto st = t->sp_.Load(file);
    if (!st.ok())
      Fail(ErrorKind::kUsage, "cannot load the SentencePiece model {}: {}", file, st.ToString());
    return std::shared_ptr<const SentencePieceTokenizer>(std::move(t));
  });
}

void SentencePieceTokenizer::Encode(std::string_view text, Pieces& out) const {
  // DataJuicer calls encode_as_pieces from Python, whose binding drops Encode's status: a text the library
  // fails on (e.g. a word model meeting a control symbol "<s>" as a word: "all normalized characters are not
  // consumed") gives no pieces and no error. So does this.
  if (!sp_.Encode(text, out.spt_.mutable_proto()).ok()) out.spt_ = sentencepiece::ImmutableSentencePieceText();
}

const SentencePieceTokenizer::Pieces& SentencePieceTokenizer::EncodeShared(std::string_view text) const {
  struct Memo {
    const SentencePieceTokenizer* owner = nullptr;  // tokenizers live as long as the process (CachedModel)
    std::string text;
    Pieces pieces;
  };
  thread_local Memo memo;
  if (memo.owner == this && memo.text == text) return memo.pieces;
  memo.owner = nullptr;  // stays invalid if Encode throws
  Encode(text, memo.pieces);
  memo.text.assign(text);
  memo.owner = this;
  return memo.pieces;
}

bool RefinePieces(const SentencePieceTokenizer::Pieces& pieces, const RefineOptions& opt, PieceScratch& scratch,
                  WordList& out) {
  std::string& joined = scratch.joined;
  joined.clear();
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (i) joined += ' ';
    joined += pieces[i];
  }
  if (pieces.size() == 0 || static_cast<size_t>(std::count(joined.begin(), joined.end(), ' ')) == pieces.size() - 1) {
    RefineWords(joined, opt, out);  // its only spaces are the joins
    return false;
  }
  scratch.pieces.clear();
  for (size_t i = 0; i < pieces.size(); ++i) scratch.pieces.push_back(pieces[i]);
  RefineWords(scratch.pieces, opt, out);
  return true;
}

ParamSpec TokenizerModelParam() {
  return {"tokenizer_model", ParamType::kString, ParamValue::String(""),
          "sluice: path of the SentencePiece model used with tokenization (default: <lang>.sp.model in "
          "SLUICE_MODELS_DIR)"};
}

std::shared_ptr<const SentencePieceTokenizer> TokenizerFromParams(const Params& p, const std::string& op) {
  if (!p.GetBool("tokenization")) return nullptr;
  const std::string& lang = p.GetString("lang");
  ModelQuery q{op, "SentencePiece model", "tokenizer_model", p.GetString("tokenizer_model"), {lang + ".sp.model"}};
  return SentencePieceTokenizer::Load(ResolveModelFile(q));
}

}  // namespace sluice::text
