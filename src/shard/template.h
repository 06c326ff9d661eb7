// The worker command template and the result file pattern: words in which {low}, {high}, {shard}, {out},
// {input} and {output_dir} are replaced per shard. Only {identifier} forms are placeholders, so JSON or
// Python braces in a worker's arguments ("{}", '{"a": 1}') pass through unchanged; an unknown identifier
// is refused before anything runs, rather than reaching a worker verbatim.
#pragma once

#include <map>
#include <string>

namespace sluice::shard {

// Throws kUsage naming the placeholder and `where` ("the worker command") if `word` has an unknown one.
void CheckTemplate(const std::string& word, const char* where);
// `word` with every placeholder replaced from `vars` (which holds all the known names).
std::string ExpandTemplate(const std::string& word, const std::map<std::string, std::string>& vars);
// `s` as a POSIX shell word (for printing a command a person can paste).
std::string ShellQuote(const std::string& s);

}  // namespace sluice::shard
