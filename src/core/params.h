// Op parameters: the values a recipe gives an op, checked against the op's declared schema.
//
// A ParamValue is a small JSON-like variant converted from YAML once, at recipe load, so ops never see
// yaml-cpp. A ParamSpec declares one parameter (name, type, default, help); Params is the validated,
// defaults-filled set an op is constructed from. Validation happens before any data is read: an unknown
// name or a value of the wrong type is an ErrorKind::kUsage error naming the op and the parameter.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sluice {

class ParamValue {
 public:
  enum class Type { kNull, kBool, kInt, kDouble, kString, kList, kMap };

  ParamValue() = default;
  static ParamValue Bool(bool b);
  static ParamValue Int(int64_t i);
  static ParamValue Double(double d);
  static ParamValue String(std::string s);
  static ParamValue List(std::vector<ParamValue> items);
  static ParamValue Map(std::vector<std::pair<std::string, ParamValue>> items);

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool as_bool() const { return b_; }
  int64_t as_int() const { return i_; }
  double as_number() const { return type_ == Type::kInt ? static_cast<double>(i_) : d_; }
  const std::string& as_string() const { return s_; }
  const std::vector<ParamValue>& as_list() const { return list_; }
  const std::vector<std::pair<std::string, ParamValue>>& as_map() const { return map_; }

  // Canonical compact JSON; used for the recipe hash, the plan, events and error messages.
  std::string ToJson() const;

 private:
  Type type_ = Type::kNull;
  bool b_ = false;
  int64_t i_ = 0;
  double d_ = 0;
  std::string s_;
  std::vector<ParamValue> list_;
  std::vector<std::pair<std::string, ParamValue>> map_;
};

enum class ParamType {
  kBool,
  kInt,         // also accepts a float with an integral value
  kNumber,      // int or float
  kString,
  kStringList,  // a string or a list of strings
  kAny,
};

struct ParamSpec {
  std::string name;
  ParamType type;
  ParamValue default_value;  // null = "no value" (e.g. an absent upper bound)
  std::string help;
  bool nullable = true;      // whether an explicit YAML null is allowed
};

const char* ParamTypeName(ParamType t);

// Validated op parameters with defaults filled in, in declaration order.
class Params {
 public:
  // Checks `given` against `specs`; throws kUsage naming `op_name` on an unknown name or wrong type.
  // With `ignored`, an unknown name that is not close to any known one (so not a typo) is appended there
  // instead: DataJuicer's ops take **kwargs and silently ignore such names, and real recipes carry some
  // (e.g. clean_links_mapper's min_links). A near miss such as `min_lenn` is always an error.
  static Params Resolve(const std::string& op_name, const std::vector<ParamSpec>& specs,
                        const std::vector<std::pair<std::string, ParamValue>>& given,
                        std::vector<std::string>* ignored = nullptr);

  const ParamValue& Get(const std::string& name) const;
  bool Has(const std::string& name) const { return !Get(name).is_null(); }
  bool GetBool(const std::string& name) const { return Get(name).as_bool(); }
  int64_t GetInt(const std::string& name) const;
  double GetNumber(const std::string& name) const { return Get(name).as_number(); }
  const std::string& GetString(const std::string& name) const { return Get(name).as_string(); }
  std::vector<std::string> GetStringList(const std::string& name) const;

  const std::vector<std::pair<std::string, ParamValue>>& items() const { return items_; }
  std::string ToJson() const;  // canonical: declaration order, every parameter present

 private:
  std::vector<std::pair<std::string, ParamValue>> items_;
};

}  // namespace sluice
