// The op registry: every op family registers its ops here, explicitly (no static-initialization tricks),
// so a newcomer finds every op from this one list.
#include <algorithm>

#include "ops/op.h"

namespace sluice {

void RegisterLengthFilters(std::vector<OpDef>& ops);  // ops/filter/length_filters.cc

const std::vector<OpDef>& AllOps() {
  static const std::vector<OpDef> ops = [] {
    std::vector<OpDef> v;
    RegisterLengthFilters(v);
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
