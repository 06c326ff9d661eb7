// Test Punkt parameters: writes an NLTK punkt_tab language directory (abbrev_types.txt, collocations.tab,
// sent_starters.txt, ortho_context.tab) from lists, for the Punkt unit tests and for the conformance runner's
// sentence_split_mapper vectors (no pretrained parameters are downloaded).
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace sluice::testing {

struct PunktTabSpec {
  std::vector<std::string> abbrev_types;
  std::vector<std::pair<std::string, std::string>> collocations;
  std::vector<std::string> sent_starters;
  std::vector<std::pair<std::string, int>> ortho_context;
};

inline void WritePunktTab(const std::filesystem::path& dir, const PunktTabSpec& spec) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "abbrev_types.txt") << [&] {
    std::string s;
    for (const auto& a : spec.abbrev_types) s += a + "\n";
    return s;
  }();
  std::ofstream colloc(dir / "collocations.tab");
  for (const auto& [a, b] : spec.collocations) colloc << a << '\t' << b << '\n';
  std::ofstream starters(dir / "sent_starters.txt");
  for (const auto& s : spec.sent_starters) starters << s << '\n';
  std::ofstream ortho(dir / "ortho_context.tab");
  for (const auto& [t, f] : spec.ortho_context) ortho << t << '\t' << f << '\n';
}

}  // namespace sluice::testing
