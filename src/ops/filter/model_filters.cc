// Model-based filters: language_id_score_filter (fastText), perplexity_filter (SentencePiece + n-gram LM).
#include "ops/op.h"

namespace sluice {

void RegisterModelFilters(std::vector<OpDef>& ops) { (void)ops; }

}  // namespace sluice
