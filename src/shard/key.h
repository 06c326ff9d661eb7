// Shard keys: the values of the key column, and the half-open ranges [low, high) a plan splits them into.
//
// A key column is either integer (every value a decimal int64, ordered numerically) or string (ordered
// lexicographically by bytes, as memcmp: "10" < "9", "B" < "a"; no locale, no Unicode collation). Both are
// held as an order-preserving byte encoding (an int64 as 8 big-endian bytes with the sign bit flipped), so
// that ranges, sorting and the merge compare keys with one memcmp whatever the type. A string range may
// have no upper bound (the plan's last shard: no string is "one more" than the largest key); its `high`
// is then the empty string in files and placeholders.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::shard {

enum class KeyType { kInt, kString };
const char* KeyTypeName(KeyType t);                   // "int" | "string"
std::optional<KeyType> ParseKeyType(std::string_view name);

// A strict decimal int64 ("-12", "7"; no sign-only, blanks, fraction or exponent). nullopt otherwise.
std::optional<int64_t> ParseIntKey(std::string_view text);

// The order-preserving encoding of a key's text. For kInt the text must be an integer: nullopt otherwise.
std::optional<std::string> EncodeKey(KeyType t, std::string_view text);
// The text of an encoded key (an int's canonical decimal form).
std::string KeyText(KeyType t, std::string_view encoded);

struct KeyRange {
  std::string low, high;   // encoded
  bool unbounded = false;  // no upper bound (high is ignored)
  bool Contains(std::string_view key) const { return key >= low && (unbounded || key < high); }
};

// `text` made safe for a file name: bytes other than [A-Za-z0-9.-] as %XX, long results cut to 48 bytes
// plus a hash so that distinct keys keep distinct names.
std::string FileSafe(std::string_view text);

}  // namespace sluice::shard
