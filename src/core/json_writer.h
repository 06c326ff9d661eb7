// JsonWriter: compact JSON text for everything sluice writes itself (events, manifests, plan, summary,
// re-serialized fields). Strings are escaped minimally (quote, backslash, control characters); other
// UTF-8 passes through unescaped, as DataJuicer's exporter writes it. Doubles use the shortest text that
// round-trips, so the same value always prints the same bytes; NaN and infinities print as null.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

// Appends `s` as a quoted JSON string to `out`.
void AppendJsonString(std::string& out, std::string_view s);
// Appends a JSON number (shortest round-trip form) to `out`.
void AppendJsonDouble(std::string& out, double d);

class JsonWriter {
 public:
  JsonWriter& BeginObject() { Sep(); out_ += '{'; first_ = true; return *this; }
  JsonWriter& EndObject() { out_ += '}'; first_ = false; return *this; }
  JsonWriter& BeginArray() { Sep(); out_ += '['; first_ = true; return *this; }
  JsonWriter& EndArray() { out_ += ']'; first_ = false; return *this; }
  JsonWriter& Key(std::string_view k) { Sep(); AppendJsonString(out_, k); out_ += ':'; first_ = true; return *this; }
  JsonWriter& String(std::string_view s) { Sep(); AppendJsonString(out_, s); return *this; }
  JsonWriter& Int(int64_t i);
  JsonWriter& Uint(uint64_t i);
  JsonWriter& Double(double d) { Sep(); AppendJsonDouble(out_, d); return *this; }
  JsonWriter& Bool(bool b) { Sep(); out_ += b ? "true" : "false"; return *this; }
  JsonWriter& Null() { Sep(); out_ += "null"; return *this; }
  JsonWriter& Raw(std::string_view json) { Sep(); out_ += json; return *this; }

  // Key + value shorthands.
  JsonWriter& Field(std::string_view k, std::string_view v) { return Key(k).String(v); }
  JsonWriter& Field(std::string_view k, const char* v) { return Key(k).String(v); }
  JsonWriter& Field(std::string_view k, int64_t v) { return Key(k).Int(v); }
  JsonWriter& Field(std::string_view k, uint64_t v) { return Key(k).Uint(v); }
  JsonWriter& Field(std::string_view k, int v) { return Key(k).Int(v); }
  JsonWriter& Field(std::string_view k, double v) { return Key(k).Double(v); }
  JsonWriter& Field(std::string_view k, bool v) { return Key(k).Bool(v); }

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void Sep() {
    if (!first_) out_ += ',';
    first_ = false;
  }
  std::string out_;
  bool first_ = true;
};

}  // namespace sluice
