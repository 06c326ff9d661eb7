#include "core/exact_compare.h"

#include <charconv>
#include <cmath>

namespace sluice {

bool IsJsonInteger(std::string_view t) {
  if (!t.empty() && t[0] == '-') t.remove_prefix(1);
  if (t.empty() || (t[0] == '0' && t.size() > 1)) return false;
  return t.find_first_not_of("0123456789") == std::string_view::npos;
}

std::partial_ordering CompareIntegerWithDouble(std::string_view integer, double d) {
  if (std::isnan(d)) return std::partial_ordering::unordered;
  bool negative = integer[0] == '-';
  std::string_view magnitude = negative ? integer.substr(1) : integer;
  if (std::isinf(d)) return d > 0 ? std::partial_ordering::less : std::partial_ordering::greater;
  int sign = magnitude == "0" ? 0 : negative ? -1 : 1;
  int d_sign = d > 0 ? 1 : d < 0 ? -1 : 0;
  if (sign != d_sign || sign == 0) return sign <=> d_sign;
  // Same sign: compare |integer| with |d| through the exact decimal digits of |d|'s integral part (a
  // finite double's is at most 309 digits; fixed notation with precision 0 writes it exactly, rounding
  // nothing as it is already integral). No leading zeros on either side, so length decides first.
  double whole = std::floor(std::fabs(d));
  char buf[320];
  auto written = std::to_chars(buf, buf + sizeof buf, whole, std::chars_format::fixed, 0);
  std::string_view digits(buf, static_cast<size_t>(written.ptr - buf));
  std::strong_ordering m = magnitude.size() <=> digits.size();
  if (m == 0) m = magnitude.compare(digits) <=> 0;
  // Equal to the integral part: a fraction beyond it makes |d| the larger.
  if (m == 0 && whole != std::fabs(d)) m = std::strong_ordering::less;
  return sign > 0 ? m : 0 <=> m;
}

std::partial_ordering CompareIntegerWithDouble(int64_t i, double d) {
  // Up to 2^53 every int64 is a double exactly, so the hardware comparison is exact.
  constexpr int64_t kExact = int64_t{1} << 53;
  if (i >= -kExact && i <= kExact) return static_cast<double>(i) <=> d;
  return CompareIntegerWithDouble(static_cast<__int128>(i), d);
}

std::partial_ordering CompareIntegerWithDouble(__int128 i, double d) {
  if (std::isnan(d)) return std::partial_ordering::unordered;
  if (d >= 0x1p127) return std::partial_ordering::less;  // infinities included
  if (d < -0x1p127) return std::partial_ordering::greater;
  // |d| <= 2^127 here, so its integral part converts to __int128 exactly; a fraction breaks a tie.
  double t = std::trunc(d);
  __int128 ti = static_cast<__int128>(t);
  if (i != ti) return i < ti ? std::partial_ordering::less : std::partial_ordering::greater;
  return d > t ? std::partial_ordering::less : d < t ? std::partial_ordering::greater : std::partial_ordering::equivalent;
}

}  // namespace sluice
