// Exact comparison of an integer of any size with a double, as Python compares an int with a float.
//
// DataJuicer's filters compare a stat with float thresholds; a stat read from JSON may be an int of any size
// (a cached `__dj__stats__` value beyond int64, or an int64 beyond 2^53), and Python compares the two by
// value, never by rounding the int to a double: 2**64 + 1 > 2.0**64 is True. CompareIntegerWithDouble does
// the same: `integer` is a JSON integer token (-?(0|[1-9][0-9]*)), compared with the exact value of `d`.
// A NaN `d` is unordered (every comparison false, as in Python); ±inf is beyond every integer. It allocates
// nothing.
#pragma once

#include <compare>
#include <cstdint>
#include <string_view>

namespace sluice {

// Whether `token` is a JSON integer: an optional '-', then "0" or digits not starting with '0'.
bool IsJsonInteger(std::string_view token);

// `integer` <=> `d`, exactly. `integer` must satisfy IsJsonInteger ("-0" is zero).
std::partial_ordering CompareIntegerWithDouble(std::string_view integer, double d);

// `i` <=> `d`, exactly (an int64 beyond 2^53 is not rounded to a double first).
std::partial_ordering CompareIntegerWithDouble(int64_t i, double d);

// `i` <=> `d`, exactly, for an integer of up to 127 bits (field filters' Python ints).
std::partial_ordering CompareIntegerWithDouble(__int128 i, double d);

}  // namespace sluice
