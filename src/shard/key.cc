#include "shard/key.h"

#include <xxhash.h>

#include <charconv>

#include <fmt/format.h>

namespace sluice::shard {

const char* KeyTypeName(KeyType t) { return t == KeyType::kInt ? "int" : "string"; }

std::optional<KeyType> ParseKeyType(std::string_view name) {
  if (name == "int") return KeyType::kInt;
  if (name == "string") return KeyType::kString;
  return std::nullopt;
}

std::optional<int64_t> ParseIntKey(std::string_view text) {
  if (text.empty() || text[0] == '+') return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::optional<std::string> EncodeKey(KeyType t, std::string_view text) {
  if (t == KeyType::kString) return std::string(text);
  auto v = ParseIntKey(text);
  if (!v) return std::nullopt;
  uint64_t u = static_cast<uint64_t>(*v) ^ (uint64_t{1} << 63);
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, u >>= 8) out[i] = static_cast<char>(u & 0xff);
  return out;
}

std::string KeyText(KeyType t, std::string_view encoded) {
  if (t == KeyType::kString) return std::string(encoded);
  uint64_t u = 0;
  for (unsigned char c : encoded) u = (u << 8) | c;
  return std::to_string(static_cast<int64_t>(u ^ (uint64_t{1} << 63)));
}

std::string FileSafe(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  if (out.size() > 64) out = fmt::format("{}~{:016x}", out.substr(0, 48), XXH3_64bits(text.data(), text.size()));
  return out;
}

}  // namespace sluice::shard
