#include "core/error.h"

#include <algorithm>

namespace sluice {

int ExitCode(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kUsage: return 2;
    case ErrorKind::kInput:
    case ErrorKind::kData: return 3;
    case ErrorKind::kOutput: return 4;
    case ErrorKind::kJobFailed: return 1;
    case ErrorKind::kState: return 5;
    case ErrorKind::kInternal: return 70;
  }
  return 70;
}

static size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string DidYouMean(const std::string& word, const std::vector<std::string>& candidates) {
  const std::string* best = nullptr;
  size_t best_d = SIZE_MAX;
  for (const auto& c : candidates) {
    size_t d = EditDistance(word, c);
    if (d < best_d) best_d = d, best = &c;
  }
  // A suggestion farther than a third of the word's length is noise, not help.
  if (best == nullptr || best_d > std::max<size_t>(2, word.size() / 3)) return "";
  return fmt::format(" (did you mean '{}'?)", *best);
}

}  // namespace sluice
