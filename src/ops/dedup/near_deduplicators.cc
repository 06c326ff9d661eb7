// Near-duplicate detection: document_minhash_deduplicator, document_simhash_deduplicator.
#include "ops/op.h"

namespace sluice {

void RegisterNearDeduplicators(std::vector<OpDef>& ops) { (void)ops; }

}  // namespace sluice
