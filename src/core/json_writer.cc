#include "core/json_writer.h"

#include <cmath>

#include <fmt/format.h>

namespace sluice {

void AppendJsonString(std::string& out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  size_t run = 0;  // start of the pending run of bytes that need no escaping
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

void AppendJsonDouble(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  // fmt's "{}" is the shortest representation that round-trips; force a decimal point so readers keep
  // the float type (1.0, not 1).
  auto start = out.size();
  fmt::format_to(std::back_inserter(out), "{}", d);
  std::string_view printed(out.data() + start, out.size() - start);
  if (printed.find_first_of(".eEn") == std::string_view::npos) out += ".0";
}

JsonWriter& JsonWriter::Int(int64_t i) {
  Sep();
  fmt::format_to(std::back_inserter(out_), "{}", i);
  return *this;
}

JsonWriter& JsonWriter::Uint(uint64_t i) {
  Sep();
  fmt::format_to(std::back_inserter(out_), "{}", i);
  return *this;
}

}  // namespace sluice
