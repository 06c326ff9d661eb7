// Word and sentence mappers: remove_long_words_mapper, remove_words_with_incorrect_substrings_mapper, remove_non_chinese_character_mapper, remove_table_text_mapper, remove_repeat_sentences_mapper.
#include "ops/op.h"

namespace sluice {

void RegisterWordMappers(std::vector<OpDef>& ops) { (void)ops; }

}  // namespace sluice
