// Word-list filters: flagged_words_filter, stopwords_filter.
#include "ops/op.h"

namespace sluice {

void RegisterWordListFilters(std::vector<OpDef>& ops) { (void)ops; }

}  // namespace sluice
