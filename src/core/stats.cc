#include "core/json_writer.h"
#include "core/sample.h"

namespace sluice {

void Stats::AppendJson(std::string& out) const {
  out += '{';
  for (size_t i = 0; i < size_; ++i) {
    if (i) out += ',';
    AppendJsonString(out, entries_[i].key);
    out += ':';
    const StatValue& v = entries_[i].value;
    switch (v.kind) {
      case StatValue::Kind::kInt: out += std::to_string(v.i); break;
      case StatValue::Kind::kDouble:
        if (v.raw.empty()) AppendJsonDouble(out, v.d);
        else out += v.raw;  // a number beyond a double, as the input wrote it
        break;
      case StatValue::Kind::kBool: out += v.i ? "true" : "false"; break;
      case StatValue::Kind::kRaw: out += v.raw; break;
    }
  }
  out += '}';
}

}  // namespace sluice
