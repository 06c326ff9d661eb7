#include "core/params.h"

#include <cmath>

#include "core/error.h"
#include "core/json_writer.h"

namespace sluice {

ParamValue ParamValue::Bool(bool b) { ParamValue v; v.type_ = Type::kBool; v.b_ = b; return v; }
ParamValue ParamValue::Int(int64_t i) { ParamValue v; v.type_ = Type::kInt; v.i_ = i; return v; }
ParamValue ParamValue::Double(double d) { ParamValue v; v.type_ = Type::kDouble; v.d_ = d; return v; }
ParamValue ParamValue::String(std::string s) { ParamValue v; v.type_ = Type::kString; v.s_ = std::move(s); return v; }
ParamValue ParamValue::List(std::vector<ParamValue> items) {
  ParamValue v; v.type_ = Type::kList; v.list_ = std::move(items); return v;
}
ParamValue ParamValue::Map(std::vector<std::pair<std::string, ParamValue>> items) {
  ParamValue v; v.type_ = Type::kMap; v.map_ = std::move(items); return v;
}

static void WriteValue(JsonWriter& w, const ParamValue& v) {
  switch (v.type()) {
    case ParamValue::Type::kNull: w.Null(); break;
    case ParamValue::Type::kBool: w.Bool(v.as_bool()); break;
    case ParamValue::Type::kInt: w.Int(v.as_int()); break;
    case ParamValue::Type::kDouble: w.Double(v.as_number()); break;
    case ParamValue::Type::kString: w.String(v.as_string()); break;
    case ParamValue::Type::kList:
      w.BeginArray();
      for (const auto& e : v.as_list()) WriteValue(w, e);
      w.EndArray();
      break;
    case ParamValue::Type::kMap:
      w.BeginObject();
      for (const auto& [k, e] : v.as_map()) { w.Key(k); WriteValue(w, e); }
      w.EndObject();
      break;
  }
}

std::string ParamValue::ToJson() const {
  JsonWriter w;
  WriteValue(w, *this);
  return w.Take();
}

const char* ParamTypeName(ParamType t) {
  switch (t) {
    case ParamType::kBool: return "bool";
    case ParamType::kInt: return "int";
    case ParamType::kNumber: return "number";
    case ParamType::kString: return "string";
    case ParamType::kStringList: return "string or list of strings";
    case ParamType::kAny: return "any";
  }
  return "?";
}

static bool Conforms(const ParamValue& v, ParamType t, ParamValue* normalized) {
  using T = ParamValue::Type;
  switch (t) {
    case ParamType::kBool: return v.type() == T::kBool;
    case ParamType::kInt:
      if (v.type() == T::kInt) return true;
      // The bounds are int64's exactly (-2^63 <= x < 2^63): a double just past them would overflow the cast.
      if (v.type() == T::kDouble && std::floor(v.as_number()) == v.as_number() &&
          v.as_number() >= -9223372036854775808.0 && v.as_number() < 9223372036854775808.0) {
        *normalized = ParamValue::Int(static_cast<int64_t>(v.as_number()));
        return true;
      }
      return false;
    case ParamType::kNumber: return v.type() == T::kInt || v.type() == T::kDouble;
    case ParamType::kString: return v.type() == T::kString;
    case ParamType::kStringList:
      if (v.type() == T::kString) return true;
      if (v.type() != T::kList) return false;
      for (const auto& e : v.as_list())
        if (e.type() != T::kString) return false;
      return true;
    case ParamType::kAny: return true;
  }
  return false;
}

Params Params::Resolve(const std::string& op_name, const std::vector<ParamSpec>& specs,
                       const std::vector<std::pair<std::string, ParamValue>>& given, std::vector<std::string>* ignored) {
  std::vector<std::string> names;
  for (const auto& s : specs) names.push_back(s.name);
  for (size_t i = 0; i < given.size(); ++i) {
    const std::string& k = given[i].first;
    for (size_t j = 0; j < i; ++j)
      if (given[j].first == k) Fail(ErrorKind::kUsage, "op '{}': parameter '{}' is given twice", op_name, k);
    bool known = false;
    for (const auto& s : specs) known |= s.name == k;
    if (known) continue;
    std::string hint = DidYouMean(k, names);
    if (ignored != nullptr && hint.empty()) {
      ignored->push_back(k);
      continue;
    }
    Fail(ErrorKind::kUsage, "op '{}': unknown parameter '{}'{}; run `sluice ops {}` for its parameters", op_name, k,
         hint, op_name);
  }
  Params p;
  for (const auto& s : specs) {
    ParamValue v = s.default_value;
    for (const auto& [k, gv] : given)
      if (k == s.name) v = gv;
    if (v.is_null()) {
      if (!s.nullable)
        Fail(ErrorKind::kUsage, "op '{}': parameter '{}' must not be null (expected {})", op_name, s.name,
             ParamTypeName(s.type));
    } else {
      ParamValue norm = v;
      if (!Conforms(v, s.type, &norm)) {
        // A YAML 1.1 reading such as `no` (false) or `017` (15) for a string parameter: say how to get the text.
        bool wants_text = s.type == ParamType::kString || s.type == ParamType::kStringList;
        bool scalar = v.type() == ParamValue::Type::kBool || v.type() == ParamValue::Type::kInt || v.type() == ParamValue::Type::kDouble;
        Fail(ErrorKind::kUsage, "op '{}': parameter '{}' must be {}, got {}{}", op_name, s.name, ParamTypeName(s.type),
             v.ToJson(), wants_text && scalar ? " (YAML reads the unquoted value as that; quote it to pass text)" : "");
      }
      v = std::move(norm);
    }
    p.items_.emplace_back(s.name, std::move(v));
  }
  return p;
}

const ParamValue& Params::Get(const std::string& name) const {
  for (const auto& [k, v] : items_)
    if (k == name) return v;
  throw Error(ErrorKind::kInternal, "undeclared parameter read: " + name);
}

int64_t Params::GetInt(const std::string& name) const {
  const ParamValue& v = Get(name);
  return v.type() == ParamValue::Type::kInt ? v.as_int() : static_cast<int64_t>(v.as_number());
}

std::vector<std::string> Params::GetStringList(const std::string& name) const {
  const ParamValue& v = Get(name);
  if (v.is_null()) return {};
  if (v.type() == ParamValue::Type::kString) return {v.as_string()};
  std::vector<std::string> out;
  for (const auto& e : v.as_list()) out.push_back(e.as_string());
  return out;
}

std::string Params::ToJson() const { return ParamValue::Map(items_).ToJson(); }

}  // namespace sluice
