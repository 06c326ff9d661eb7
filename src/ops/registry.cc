// The op registry: every op family registers its ops here, explicitly (no static-initialization tricks),
// so a newcomer finds every op from this one list.
#include <algorithm>

#include "ops/op.h"

namespace sluice {

void RegisterCleanMappers(std::vector<OpDef>& ops);          // ops/mapper/clean_mappers.cc
void RegisterNormalizationMappers(std::vector<OpDef>& ops);  // ops/mapper/normalization_mappers.cc
void RegisterLengthFilters(std::vector<OpDef>& ops);         // ops/filter/length_filters.cc
void RegisterCharacterFilters(std::vector<OpDef>& ops);      // ops/filter/character_filters.cc
void RegisterWordFilters(std::vector<OpDef>& ops);           // ops/filter/word_filters.cc
void RegisterDocumentDeduplicator(std::vector<OpDef>& ops);  // ops/dedup/document_deduplicator.cc
void RegisterLatexMappers(std::vector<OpDef>& ops);          // ops/mapper/latex_mappers.cc
void RegisterContentMappers(std::vector<OpDef>& ops);        // ops/mapper/content_mappers.cc
void RegisterWordMappers(std::vector<OpDef>& ops);           // ops/mapper/word_mappers.cc
void RegisterWordListFilters(std::vector<OpDef>& ops);       // ops/filter/word_list_filters.cc
void RegisterNearDeduplicators(std::vector<OpDef>& ops);     // ops/dedup/near_deduplicators.cc
void RegisterMarkupMappers(std::vector<OpDef>& ops);         // ops/mapper/markup_mappers.cc
void RegisterFieldFilters(std::vector<OpDef>& ops);          // ops/filter/field_filters.cc
void RegisterUnicodeMappers(std::vector<OpDef>& ops);        // ops/mapper/unicode_mappers.cc
void RegisterModelFilters(std::vector<OpDef>& ops);          // ops/filter/model_filters.cc
void RegisterSelectors(std::vector<OpDef>& ops);             // ops/selector/selectors.cc
void RegisterPythonMappers(std::vector<OpDef>& ops);         // ops/mapper/python_mappers.cc
void RegisterChunkMappers(std::vector<OpDef>& ops);          // ops/mapper/chunk_mappers.cc
void RegisterStructureMappers(std::vector<OpDef>& ops);      // ops/mapper/structure_mappers.cc

const std::vector<OpDef>& AllOps() {
  static const std::vector<OpDef> ops = [] {
    std::vector<OpDef> v;
    RegisterCleanMappers(v);
    RegisterNormalizationMappers(v);
    RegisterLengthFilters(v);
    RegisterCharacterFilters(v);
    RegisterWordFilters(v);
    RegisterDocumentDeduplicator(v);
    RegisterLatexMappers(v);
    RegisterContentMappers(v);
    RegisterWordMappers(v);
    RegisterWordListFilters(v);
    RegisterNearDeduplicators(v);
    RegisterMarkupMappers(v);
    RegisterFieldFilters(v);
    RegisterUnicodeMappers(v);
    RegisterModelFilters(v);
    RegisterSelectors(v);
    RegisterPythonMappers(v);
    RegisterChunkMappers(v);
    RegisterStructureMappers(v);
    std::sort(v.begin(), v.end(), [](const OpDef& a, const OpDef& b) { return a.name < b.name; });
    return v;
  }();
  return ops;
}

const OpDef* FindOp(std::string_view name) {
  for (const auto& d : AllOps())
    if (d.name == name) return &d;
  return nullptr;
}

}  // namespace sluice
