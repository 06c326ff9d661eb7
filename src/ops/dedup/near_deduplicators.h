// Internals of near_deduplicators.cc, exposed so tests can check them against a reference directly.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "ops/op.h"

namespace sluice {

// The LSH (bands, rows per band) minimising 0.5 FP + 0.5 FN for `threshold` over `permutations`.
std::pair<int, int> MinHashOptimalBands(double threshold, int permutations);
// The bands x rows MinHash values of `text` under `op` (a document_minhash_deduplicator); empty when the
// text has no shingles.
std::vector<uint32_t> MinHashSignature(Op& op, std::string_view text);
// The SimHash of `text` under `op` (a document_simhash_deduplicator).
uint64_t SimHashValue(Op& op, std::string_view text);
// The same through the general shingler (lowercasing, ignore_pattern and splitting as separate steps),
// bypassing the fast path of space tokenization; tests compare the two.
uint64_t SimHashValueGeneric(Op& op, std::string_view text);
// Enables (default) or disables the vector paths of simhash's text normalization and bit counting
// (process-wide, for tests of the scalar paths); returns the previous setting.
bool SimHashVectorPaths(bool enabled);

}  // namespace sluice
