// HTML and script mappers: clean_html_mapper, extract_tables_from_html_mapper, chinese_convert_mapper.
#include "ops/op.h"

namespace sluice {

void RegisterMarkupMappers(std::vector<OpDef>& ops) { (void)ops; }

}  // namespace sluice
