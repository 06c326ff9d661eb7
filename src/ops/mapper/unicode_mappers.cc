// Unicode repair: fix_unicode_mapper (the behaviour of ftfy.fix_text).
#include "ops/op.h"

namespace sluice {

void RegisterUnicodeMappers(std::vector<OpDef>& ops) { (void)ops; }

}  // namespace sluice
