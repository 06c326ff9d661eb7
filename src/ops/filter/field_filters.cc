// Field filters: general_field_filter, specified_field_filter, specified_numeric_field_filter.
#include "ops/op.h"

namespace sluice {

void RegisterFieldFilters(std::vector<OpDef>& ops) { (void)ops; }

}  // namespace sluice
