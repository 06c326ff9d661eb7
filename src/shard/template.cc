#include "shard/template.h"

#include <cctype>
#include <set>

#include "core/error.h"

namespace sluice::shard {
namespace {

const std::set<std::string> kPlaceholders = {"low", "high", "shard", "out", "input", "output_dir"};

// Replaces every {identifier} in `s` by f(identifier).
template <typename F>
std::string ForEachPlaceholder(const std::string& s, F f) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    size_t close = s[i] == '{' ? s.find('}', i) : std::string::npos;
    bool ident = close != std::string::npos && close > i + 1;
    for (size_t j = i + 1; ident && j < close; ++j) ident = std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_';
    if (!ident) {
      out += s[i++];
      continue;
    }
    out += f(s.substr(i + 1, close - i - 1));
    i = close + 1;
  }
  return out;
}

}  // namespace

void CheckTemplate(const std::string& word, const char* where) {
  ForEachPlaceholder(word, [&](const std::string& name) {
    if (!kPlaceholders.count(name))
      Fail(ErrorKind::kUsage, "unknown placeholder {{{}}} in {} '{}' (known: {{low}} {{high}} {{shard}} {{out}} {{input}} {{output_dir}})",
           name, where, word);
    return std::string();
  });
}

std::string ExpandTemplate(const std::string& word, const std::map<std::string, std::string>& vars) {
  return ForEachPlaceholder(word, [&](const std::string& name) { return vars.at(name); });
}

std::string ShellQuote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-./=:,+@%") == std::string::npos)
    return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace sluice::shard
