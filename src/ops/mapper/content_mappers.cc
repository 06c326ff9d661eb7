// Pattern mappers: clean_copyright_mapper, clean_ip_mapper, remove_specific_chars_mapper, replace_content_mapper.
#include "ops/op.h"

namespace sluice {

void RegisterContentMappers(std::vector<OpDef>& ops) { (void)ops; }

}  // namespace sluice
