// Field filters (datajuicer-ops.md §5): general_field_filter, specified_field_filter,
// specified_numeric_field_filter, suffix_filter. They read arbitrary, possibly nested fields, which the record parser
// leaves undecoded: each op re-reads the record line with a DOM parser it owns (these ops are rare in
// recipes and cheap next to the text ops).
//
// Shared rules (§1.1): a dotted path first names a flat key, then descends level by level; a key missing at
// any level reads as null (DataJuicer's Arrow schema unification), never as an error. `__dj__stats__`
// paths read the sample's current stats (those of earlier filters included), and the op's own text key
// reads the current text (a mapper earlier in the chain may have changed it).
#include <simdjson.h>
#include <unicode/uchar.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "core/exact_compare.h"
#include "core/error.h"
#include "core/json_writer.h"
#include "core/record.h"
#include "core/utf8.h"
#include "ops/filter/filter_util.h"
#include "ops/op.h"
#include "ops/text/pystr.h"

namespace sluice {
namespace {

namespace dom = simdjson::dom;

// A JSON value with Python's comparison and truthiness rules.
struct PyValue {
  enum class Kind { kNull, kBool, kInt, kDouble, kString, kList, kDict } kind = Kind::kNull;
  bool b = false;
  __int128 i = 0;  // kInt: JSON's int64 and uint64 values and condition literals up to 127 bits, exactly
  double d = 0;
  std::string s;  // kString: the text; kList / kDict: the minified JSON (for == and error messages)
  std::vector<PyValue> items;  // kList

  bool IsNumeric() const { return kind == Kind::kBool || kind == Kind::kInt || kind == Kind::kDouble; }
  __int128 Integer() const { return kind == Kind::kInt ? i : (b ? 1 : 0); }  // kInt or kBool
  double Number() const { return kind == Kind::kDouble ? d : kind == Kind::kInt ? static_cast<double>(i) : (b ? 1.0 : 0.0); }
  bool Truthy() const {
    switch (kind) {
      case Kind::kNull: return false;
      case Kind::kBool: return b;
      case Kind::kInt: return i != 0;
      case Kind::kDouble: return d != 0;  // NaN is truthy, as in Python
      case Kind::kString: return !s.empty();
      case Kind::kList: return !items.empty();
      case Kind::kDict: return s != "{}";
    }
    return false;
  }
  const char* TypeName() const {
    static const char* names[] = {"NoneType", "bool", "int", "float", "str", "list", "dict"};
    return names[static_cast<int>(kind)];
  }
};

PyValue FromElement(dom::element e) {
  PyValue v;
  switch (e.type()) {
    case dom::element_type::NULL_VALUE: break;
    case dom::element_type::BOOL: v.kind = PyValue::Kind::kBool; v.b = bool(e.get_bool()); break;
    case dom::element_type::INT64: v.kind = PyValue::Kind::kInt; v.i = int64_t(e.get_int64()); break;
    case dom::element_type::UINT64: v.kind = PyValue::Kind::kInt; v.i = uint64_t(e.get_uint64()); break;
    case dom::element_type::DOUBLE: v.kind = PyValue::Kind::kDouble; v.d = double(e.get_double()); break;
    case dom::element_type::STRING: v.kind = PyValue::Kind::kString; v.s = std::string(std::string_view(e.get_string())); break;
    case dom::element_type::ARRAY:
      v.kind = PyValue::Kind::kList;
      for (dom::element x : e.get_array()) v.items.push_back(FromElement(x));
      v.s = simdjson::minify(e);
      break;
    case dom::element_type::OBJECT: v.kind = PyValue::Kind::kDict; v.s = simdjson::minify(e); break;
  }
  return v;
}

PyValue FromParam(const ParamValue& p) {
  PyValue v;
  switch (p.type()) {
    case ParamValue::Type::kNull: break;
    case ParamValue::Type::kBool: v.kind = PyValue::Kind::kBool; v.b = p.as_bool(); break;
    case ParamValue::Type::kInt: v.kind = PyValue::Kind::kInt; v.i = p.as_int(); break;
    case ParamValue::Type::kDouble: v.kind = PyValue::Kind::kDouble; v.d = p.as_number(); break;
    case ParamValue::Type::kString: v.kind = PyValue::Kind::kString; v.s = p.as_string(); break;
    case ParamValue::Type::kList:
      v.kind = PyValue::Kind::kList;
      for (const auto& x : p.as_list()) v.items.push_back(FromParam(x));
      v.s = p.ToJson();
      break;
    case ParamValue::Type::kMap: v.kind = PyValue::Kind::kDict; v.s = p.ToJson(); break;
  }
  return v;
}

// Python's order of an int and a float, exactly (core/exact_compare): -1, 0, 1, or 2 when d is NaN.
int CompareIntDouble(__int128 x, double d) {
  std::partial_ordering o = CompareIntegerWithDouble(x, d);
  return o == std::partial_ordering::unordered ? 2 : o < 0 ? -1 : o > 0 ? 1 : 0;
}

// Python's order of two numbers (bool included): -1, 0, 1, or 2 when unordered (NaN).
int CompareNumbers(const PyValue& a, const PyValue& b) {
  bool ad = a.kind == PyValue::Kind::kDouble, bd = b.kind == PyValue::Kind::kDouble;
  if (!ad && !bd) return (a.Integer() > b.Integer()) - (a.Integer() < b.Integer());
  if (ad && bd) {
    if (std::isnan(a.d) || std::isnan(b.d)) return 2;
    return (a.d > b.d) - (a.d < b.d);
  }
  if (bd) return CompareIntDouble(a.Integer(), b.d);
  int c = CompareIntDouble(b.Integer(), a.d);
  return c == 2 ? 2 : -c;
}

// Python ==: numbers (bool included) by exact value, strings by content, containers by content, else unequal.
bool PyEqual(const PyValue& a, const PyValue& b) {
  if (a.IsNumeric() && b.IsNumeric()) return CompareNumbers(a, b) == 0;
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case PyValue::Kind::kNull: return true;
    case PyValue::Kind::kString: return a.s == b.s;
    case PyValue::Kind::kList:
      if (a.items.size() != b.items.size()) return false;
      for (size_t k = 0; k < a.items.size(); ++k)
        if (!PyEqual(a.items[k], b.items[k])) return false;
      return true;
    default: return a.s == b.s;  // dicts: same members in the same order (JSON key order is kept)
  }
}

// Python ordering (<): numbers with numbers, strings with strings (code point order = UTF-8 byte order);
// anything else is Python's TypeError.
int PyCompare(const PyValue& a, const PyValue& b, std::string_view op) {
  if (a.IsNumeric() && b.IsNumeric()) return CompareNumbers(a, b);  // 2 (NaN): every ordering is false
  if (a.kind == PyValue::Kind::kString && b.kind == PyValue::Kind::kString) {
    int c = a.s.compare(b.s);
    return (c > 0) - (c < 0);
  }
  Fail(ErrorKind::kInput, "'{}' not supported between instances of '{}' and '{}'", op, a.TypeName(), b.TypeName());
}

// Reads fields of one sample.
class FieldReader {
 public:
  // own_text_key: the op's text key, the only text read from its slot when the op runs outside a chain.
  explicit FieldReader(std::string own_text_key) : own_text_key_(std::move(own_text_key)) {}

  // Forgets the record read last: call once per sample, before its first Get. (A record line's address says
  // nothing about its content: the engine reuses its read buffers.)
  void NewSample() { loaded_ = false; }

  // The value at `path` for op `op`; null when absent.
  PyValue Get(const Sample& s, const Op& op, std::string_view path) {
    if (const TextField* t = TextSlot(s, op, path)) {
      PyValue v;
      if (t->present && !t->is_null) {
        v.kind = PyValue::Kind::kString;
        v.s = t->value();
      }
      return v;
    }
    constexpr std::string_view kStats = "__dj__stats__";
    if (path.size() > kStats.size() && path.substr(0, kStats.size()) == kStats && path[kStats.size()] == '.')
      return StatAt(s, path.substr(kStats.size() + 1));
    if (path == kStats) {
      std::string json;
      s.stats.AppendJson(json);
      return Parse(json);
    }
    if (!loaded_) {
      if (parser_.parse(s.line.data(), s.line.size()).get(root_)) Fail(ErrorKind::kInput, "the record is not valid JSON");
      loaded_ = true;
    }
    std::optional<dom::element> e = Lookup(root_, path);
    return e ? FromElement(*e) : PyValue{};
  }

  // A stat of the sample as a value: computed ones are numbers or booleans, cached ones raw JSON.
  PyValue StatAt(const Sample& s, std::string_view key) const {
    const StatValue* v = s.stats.Find(key);
    PyValue out;
    if (v == nullptr) return out;
    switch (v->kind) {
      case StatValue::Kind::kInt: out.kind = PyValue::Kind::kInt; out.i = v->i; break;
      case StatValue::Kind::kDouble: out.kind = PyValue::Kind::kDouble; out.d = v->d; break;
      case StatValue::Kind::kBool: out.kind = PyValue::Kind::kBool; out.b = v->i != 0; break;
      case StatValue::Kind::kRaw: return Parse(v->raw);
    }
    return out;
  }

  // The minified JSON of the value at `path` ("null" when absent): what specified_*_filter caches.
  std::string RawJson(const Sample& s, const Op& op, std::string_view path) {
    PyValue v = Get(s, op, path);
    std::string out;
    if (v.kind == PyValue::Kind::kString) {
      AppendJsonString(out, v.s);
      return out;
    }
    if (v.kind == PyValue::Kind::kList || v.kind == PyValue::Kind::kDict) return v.s;
    if (v.kind == PyValue::Kind::kNull) return "null";
    if (v.kind == PyValue::Kind::kBool) return v.b ? "true" : "false";
    if (v.kind == PyValue::Kind::kInt) {
      // JSON's integers are int64 or uint64 (simdjson); literals never reach here.
      return v.i < 0 ? std::to_string(static_cast<int64_t>(v.i)) : std::to_string(static_cast<uint64_t>(v.i));
    }
    AppendJsonDouble(out, v.d);
    return out;
  }

  PyValue Parse(std::string_view json) const {
    dom::element e;
    if (scratch_parser_.parse(json.data(), json.size()).get(e)) Fail(ErrorKind::kInput, "unreadable stats value: {}", json);
    return FromElement(e);
  }

 private:
  // The slot holding field `path` when it is a text key of the chain (any op's, not only this op's: a field
  // filter after a mapper on another text key must see that mapper's output, as DataJuicer's sample does).
  const TextField* TextSlot(const Sample& s, const Op& op, std::string_view path) const {
    const std::vector<std::string>& keys = op.slot_keys();
    if (keys.empty()) return path == own_text_key_ ? &s.texts[static_cast<size_t>(op.slot())] : nullptr;
    for (size_t i = 0; i < keys.size() && i < s.texts.size(); ++i)
      if (keys[i] == path) return &s.texts[i];
    return nullptr;
  }

  // §1.1: the whole path as a flat key first, then level by level.
  static std::optional<dom::element> Lookup(dom::element obj, std::string_view path) {
    dom::object o;
    if (obj.get_object().get(o)) return std::nullopt;
    dom::element e;
    if (!o[path].get(e)) return e;
    size_t dot = path.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    if (o[path.substr(0, dot)].get(e)) return std::nullopt;
    return Lookup(e, path.substr(dot + 1));
  }

  std::string own_text_key_;
  dom::parser parser_;
  mutable dom::parser scratch_parser_;  // stats values; Keep() is const
  dom::element root_;
  bool loaded_ = false;
};

std::string TextKeyOf(const Params& p) { return p.Has("text_key") ? p.GetString("text_key") : "text"; }

// ---- general_field_filter ------------------------------------------------------------------------------
// filter_condition is a Python expression; DataJuicer evaluates a whitelisted subset of Python's AST. The
// same subset is parsed here, and anything outside it is rejected when the recipe is loaded rather than
// failing (and dropping) every sample at run time.

struct Expr {
  enum class Kind { kOr, kAnd, kCompare, kLiteral, kField } kind;
  std::vector<Expr> args;         // kOr / kAnd: operands; kCompare: the chain's operands
  std::vector<std::string> ops;   // kCompare: "<", "<=", ...
  PyValue literal;                // kLiteral
  std::string path;               // kField: dotted path
};

class ConditionParser {
 public:
  explicit ConditionParser(std::string_view src) : src_(src) { Lex(); }

  Expr Parse() {
    Expr e = Or();
    if (toks_[pos_].kind != Tok::kEnd) Error("invalid syntax");
    return e;
  }

 private:
  struct Tok {
    enum Kind { kName, kNumber, kString, kOp, kLParen, kRParen, kDot, kEnd } kind;
    std::string text;
    PyValue value;
    size_t at;
  };

  [[noreturn]] void Error(std::string_view why) const {
    size_t at = toks_.empty() ? 0 : toks_[std::min(pos_, toks_.size() - 1)].at;
    Fail(ErrorKind::kUsage, "general_field_filter: filter_condition '{}': {} at column {}", src_, why, at + 1);
  }
  [[noreturn]] void Unsupported(std::string_view what) const {
    Fail(ErrorKind::kUsage,
         "general_field_filter: filter_condition '{}': {} is not supported (DataJuicer evaluates only literals, field "
         "names with '.', comparisons and and/or)", src_, what);
  }

  void Lex() {
    size_t i = 0;
    // Python parses the condition as written: blank or comment-only lines aside, a first line that starts
    // with a blank is an IndentationError (DataJuicer strips only to test for an empty condition).
    for (size_t k = 0; k < src_.size();) {
      size_t eol = src_.find('\n', k);
      std::string_view line = src_.substr(k, eol == std::string_view::npos ? std::string_view::npos : eol - k);
      size_t first = line.find_first_not_of(" \t\f\r");
      if (first != std::string_view::npos && line[first] != '#') {
        if (first > 0) {
          toks_.push_back({Tok::kEnd, "", {}, k});
          Error("unexpected indent");
        }
        break;
      }
      if (eol == std::string_view::npos) break;
      k = eol + 1;
    }
    auto push = [&](Tok::Kind k, std::string text, size_t at) { toks_.push_back({k, std::move(text), {}, at}); };
    while (i < src_.size()) {
      char c = src_[i];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++i;
        continue;
      }
      if (c == '#') {  // a comment, to the end of its line
        while (i < src_.size() && src_[i] != '\n') ++i;
        continue;
      }
      size_t at = i;
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        while (i < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[i])) || src_[i] == '_')) ++i;
        if (i < src_.size() && (src_[i] == '\'' || src_[i] == '"') && i - at <= 2) {
          std::string prefix(src_.substr(at, i - at));
          for (char& ch : prefix) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          if (prefix == "r" || prefix == "u") {
            LexString(i, at, prefix == "r");
            continue;
          }
          if (prefix.find_first_of("bf") != std::string::npos) Unsupported(fmt::format("a {}'...' literal", prefix));
        }
        push(Tok::kName, std::string(src_.substr(at, i - at)), at);
        continue;
      }
      if (std::isdigit(static_cast<unsigned char>(c)) || (c == '.' && i + 1 < src_.size() && std::isdigit(static_cast<unsigned char>(src_[i + 1])))) {
        LexNumber(i);
        continue;
      }
      if (c == '\'' || c == '"') {
        LexString(i, at, false);
        continue;
      }
      if (c == '(') { push(Tok::kLParen, "(", at); ++i; continue; }
      if (c == ')') { push(Tok::kRParen, ")", at); ++i; continue; }
      if (c == '.') { push(Tok::kDot, ".", at); ++i; continue; }
      std::string_view two = src_.substr(i, 2);
      if (two == "<=" || two == ">=" || two == "==" || two == "!=") {
        push(Tok::kOp, std::string(two), at);
        i += 2;
        continue;
      }
      if (c == '<' || c == '>') {
        push(Tok::kOp, std::string(1, c), at);
        ++i;
        continue;
      }
      if (std::string_view("+-*/%@&|^~[]{},:").find(c) != std::string_view::npos) Unsupported(fmt::format("'{}'", c));
      pos_ = toks_.size();
      toks_.push_back({Tok::kEnd, "", {}, at});
      Error("invalid syntax");
    }
    toks_.push_back({Tok::kEnd, "", {}, src_.size()});
  }

  // Python's number literals: decimal integers without leading zeros, 0x / 0o / 0b integers, floats with
  // fraction and / or exponent; a single '_' may stand between digits (and after the base prefix). Complex
  // literals (1j) are not supported; an int beyond 127 bits becomes the nearest double.
  void LexNumber(size_t& i) {
    size_t at = i;
    auto is_digit_in = [&](size_t k, int base) {
      if (k >= src_.size()) return false;
      char c = static_cast<char>(std::tolower(static_cast<unsigned char>(src_[k])));
      if (base == 16) return std::isxdigit(static_cast<unsigned char>(c)) != 0;
      return c >= '0' && c < static_cast<char>('0' + base);
    };
    // digit (['_'] digit)*, from i; false when none, or when an '_' is not followed by a digit.
    auto digits = [&](int base, bool underscore_first) {
      size_t start = i;
      if (underscore_first && i < src_.size() && src_[i] == '_') ++i;
      if (!is_digit_in(i, base)) return false;
      while (is_digit_in(i, base) || (i < src_.size() && src_[i] == '_' && is_digit_in(i + 1, base))) ++i;
      return i > start;
    };
    auto invalid = [&](std::string_view why) {
      pos_ = toks_.size();
      toks_.push_back({Tok::kEnd, "", {}, at});
      Error(why);
    };
    Tok t{Tok::kNumber, "", {}, at};
    int base = 10;
    bool is_float = false;
    if (src_[i] == '0' && i + 1 < src_.size() && std::strchr("xXoObB", src_[i + 1]) != nullptr) {
      char b = static_cast<char>(std::tolower(static_cast<unsigned char>(src_[i + 1])));
      base = b == 'x' ? 16 : b == 'o' ? 8 : 2;
      i += 2;
      if (!digits(base, true)) invalid("invalid number literal");
    } else {
      bool int_part = src_[i] != '.' && digits(10, false);
      if (i < src_.size() && src_[i] == '.') {
        is_float = true;
        ++i;
        if (!digits(10, false) && !int_part) invalid("invalid number literal");
      }
      if (i < src_.size() && (src_[i] == 'e' || src_[i] == 'E')) {
        is_float = true;
        ++i;
        if (i < src_.size() && (src_[i] == '+' || src_[i] == '-')) ++i;
        if (!digits(10, false)) invalid("invalid decimal literal");
      }
      if (!is_float && src_[at] == '0' && src_.substr(at, i - at).find_first_not_of("0_") != std::string_view::npos)
        invalid("leading zeros in decimal integer literals are not permitted");
    }
    if (i < src_.size() && (src_[i] == 'j' || src_[i] == 'J')) Unsupported("a complex literal");
    if (i < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[i])) || src_[i] == '_'))
      invalid("invalid number literal");
    std::string text;
    for (size_t k = at + (base == 10 ? 0 : 2); k < i; ++k)
      if (src_[k] != '_') text += src_[k];
    t.text = std::string(src_.substr(at, i - at));
    if (!is_float) {
      constexpr __int128 kMax = static_cast<__int128>(~static_cast<unsigned __int128>(0) >> 1);
      __int128 v = 0;
      bool fits = true;
      for (char c : text) {
        int dgt = std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
        if (v > (kMax - dgt) / base) {
          fits = false;
          break;
        }
        v = v * base + dgt;
      }
      if (fits) {
        t.value.kind = PyValue::Kind::kInt;
        t.value.i = v;
        toks_.push_back(std::move(t));
        return;
      }
      if (base != 10) Unsupported("an integer literal beyond 127 bits");
    }
    t.value.kind = PyValue::Kind::kDouble;
    t.value.d = std::strtod(text.c_str(), nullptr);
    toks_.push_back(std::move(t));
  }
  // A Python string literal at i (after any r / u prefix, `raw` for r): '...' or "..." with Python's
  // escapes (\n \t \r \a \b \f \v \\ \' \" \<newline>, \ooo, \xhh, \uXXXX, \UXXXXXXXX, \N{name});
  // an unknown escape stays as written, as in Python.
  void LexString(size_t& i, size_t at, bool raw) {
    char q = src_[i++];
    std::string out;
    auto invalid = [&](std::string_view why) {
      pos_ = toks_.size();
      toks_.push_back({Tok::kEnd, "", {}, at});
      Error(why);
    };
    auto append_cp = [&](uint32_t cp) {
      if (cp > 0x10FFFF) invalid("(unicode error) illegal Unicode character");
      if (cp >= 0xD800 && cp <= 0xDFFF) Unsupported("a surrogate code point in a string literal");
      utf8::Append(out, static_cast<char32_t>(cp));
    };
    auto hex = [&](int n) {
      uint32_t v = 0;
      for (int k = 0; k < n; ++k, ++i) {
        if (i >= src_.size() || !std::isxdigit(static_cast<unsigned char>(src_[i])))
          invalid("(unicode error) truncated escape");
        char c = static_cast<char>(std::tolower(static_cast<unsigned char>(src_[i])));
        v = v * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : c - 'a' + 10);
      }
      return v;
    };
    while (i < src_.size() && src_[i] != q && src_[i] != '\n') {
      char c = src_[i++];
      if (c != '\\' || raw) {
        out += c;
        if (c == '\\' && i < src_.size() && src_[i] != '\n') out += src_[i++];  // r'\'' keeps both
        continue;
      }
      if (i >= src_.size()) break;
      char e = src_[i++];
      switch (e) {
        case '\n': break;
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'v': out += '\v'; break;
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case 'x': append_cp(hex(2)); break;
        case 'u': append_cp(hex(4)); break;
        case 'U': append_cp(hex(8)); break;
        case 'N': {
          size_t close = src_.find('}', i);
          if (i >= src_.size() || src_[i] != '{' || close == std::string_view::npos)
            invalid("(unicode error) malformed \\N character escape");
          std::string name(src_.substr(i + 1, close - i - 1));
          UErrorCode status = U_ZERO_ERROR;
          UChar32 cp = u_charFromName(U_EXTENDED_CHAR_NAME, name.c_str(), &status);
          if (U_FAILURE(status) || name.empty()) invalid("(unicode error) unknown Unicode character name");
          append_cp(static_cast<uint32_t>(cp));
          i = close + 1;
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            uint32_t v = static_cast<uint32_t>(e - '0');
            for (int k = 0; k < 2 && i < src_.size() && src_[i] >= '0' && src_[i] <= '7'; ++k)
              v = v * 8 + static_cast<uint32_t>(src_[i++] - '0');
            append_cp(v);
          } else {
            out += '\\';  // Python keeps unknown escapes verbatim
            out += e;
          }
      }
    }
    if (i >= src_.size() || src_[i] != q) invalid("unterminated string literal");
    ++i;
    Tok t{Tok::kString, std::string(src_.substr(at, i - at)), {}, at};
    t.value.kind = PyValue::Kind::kString;
    t.value.s = std::move(out);
    toks_.push_back(std::move(t));
  }

  bool IsKeyword(const Tok& t, std::string_view k) const { return t.kind == Tok::kName && t.text == k; }

  Expr Or() {
    Expr first = And();
    if (!IsKeyword(toks_[pos_], "or")) return first;
    Expr e{Expr::Kind::kOr, {std::move(first)}, {}, {}, {}};
    while (IsKeyword(toks_[pos_], "or")) {
      ++pos_;
      e.args.push_back(And());
    }
    return e;
  }

  Expr And() {
    Expr first = Compare();
    if (!IsKeyword(toks_[pos_], "and")) return first;
    Expr e{Expr::Kind::kAnd, {std::move(first)}, {}, {}, {}};
    while (IsKeyword(toks_[pos_], "and")) {
      ++pos_;
      e.args.push_back(Compare());
    }
    return e;
  }

  Expr Compare() {
    Expr first = Operand();
    if (IsKeyword(toks_[pos_], "in") || IsKeyword(toks_[pos_], "is") ||
        (IsKeyword(toks_[pos_], "not") && IsKeyword(toks_[pos_ + 1], "in")))
      Unsupported(fmt::format("'{}'", toks_[pos_].text));
    if (toks_[pos_].kind != Tok::kOp) return first;
    Expr e{Expr::Kind::kCompare, {std::move(first)}, {}, {}, {}};
    while (toks_[pos_].kind == Tok::kOp) {
      e.ops.push_back(toks_[pos_++].text);
      e.args.push_back(Operand());
    }
    return e;
  }

  Expr Operand() {
    const Tok& t = toks_[pos_];
    switch (t.kind) {
      case Tok::kNumber:
      case Tok::kString: {
        ++pos_;
        Expr e{Expr::Kind::kLiteral, {}, {}, t.value, {}};
        while (toks_[pos_].kind == Tok::kString && t.kind == Tok::kString) e.literal.s += toks_[pos_++].value.s;  // "a" "b"
        if (toks_[pos_].kind == Tok::kLParen || toks_[pos_].kind == Tok::kDot) Unsupported("a call or attribute of a literal");
        return e;
      }
      case Tok::kLParen: {
        ++pos_;
        Expr e = Or();
        if (toks_[pos_].kind != Tok::kRParen) Error("'(' was never closed");
        ++pos_;
        return e;
      }
      case Tok::kName: {
        if (t.text == "True" || t.text == "False" || t.text == "None") {
          ++pos_;
          Expr e{Expr::Kind::kLiteral, {}, {}, {}, {}};
          if (t.text != "None") {
            e.literal.kind = PyValue::Kind::kBool;
            e.literal.b = t.text == "True";
          }
          return e;
        }
        if (t.text == "not" || t.text == "lambda" || t.text == "if" || t.text == "else") Unsupported(fmt::format("'{}'", t.text));
        if (t.text == "and" || t.text == "or" || t.text == "in" || t.text == "is") Error("invalid syntax");
        std::string path = t.text;
        ++pos_;
        while (toks_[pos_].kind == Tok::kDot) {
          ++pos_;
          if (toks_[pos_].kind != Tok::kName) Error("invalid syntax");
          path += "." + toks_[pos_++].text;
        }
        if (toks_[pos_].kind == Tok::kLParen) Unsupported("a function call");
        return Expr{Expr::Kind::kField, {}, {}, {}, std::move(path)};
      }
      default: Error("invalid syntax");
    }
  }

  std::string_view src_;
  std::vector<Tok> toks_;
  size_t pos_ = 0;
};

class GeneralFieldFilter : public Filter {
 public:
  explicit GeneralFieldFilter(const Params& p)
      : Filter("general_field_filter", p), condition_(p.GetString("filter_condition")), fields_(TextKeyOf(p)) {
    if (!condition_.empty()) root_ = ConditionParser(condition_).Parse();
  }

  void ComputeStats(Sample& s) override {
    if (condition_.empty() || Cached(s, kStat)) return;
    fields_.NewSample();
    s.stats.SetBool(kStat, Eval(*root_, s).Truthy());
  }

  bool Keep(const Sample& s) const override {
    if (condition_.empty()) return true;
    const StatValue* v = s.stats.Find(kStat);
    return v != nullptr && (v->kind == StatValue::Kind::kRaw ? v->raw == "true" : v->AsNumber() != 0);
  }

 private:
  static constexpr std::string_view kStat = "general_field_filter_condition";

  PyValue Eval(const Expr& e, const Sample& s) {
    switch (e.kind) {
      case Expr::Kind::kLiteral: return e.literal;
      case Expr::Kind::kField: return fields_.Get(s, *this, e.path);
      case Expr::Kind::kOr:
      case Expr::Kind::kAnd: {
        PyValue v;
        for (const Expr& a : e.args) {  // Python: the first operand that decides, else the last
          v = Eval(a, s);
          if (v.Truthy() == (e.kind == Expr::Kind::kOr)) return v;
        }
        return v;
      }
      case Expr::Kind::kCompare: {
        PyValue left = Eval(e.args[0], s), result;
        result.kind = PyValue::Kind::kBool;
        for (size_t k = 0; k < e.ops.size(); ++k) {
          PyValue right = Eval(e.args[k + 1], s);
          // DataJuicer: a null on either side of any link makes the whole comparison false.
          if (left.kind == PyValue::Kind::kNull || right.kind == PyValue::Kind::kNull) return result;
          const std::string& op = e.ops[k];
          bool ok;
          if (op == "==") ok = PyEqual(left, right);
          else if (op == "!=") ok = !PyEqual(left, right);
          else {
            int c = PyCompare(left, right, op);
            ok = c != 2 && (op == "<" ? c < 0 : op == "<=" ? c <= 0 : op == ">" ? c > 0 : c >= 0);
          }
          if (!ok) return result;
          left = std::move(right);
        }
        result.b = true;
        return result;
      }
    }
    return {};
  }

  std::string condition_;
  std::optional<Expr> root_;
  FieldReader fields_;
};

// ---- specified_field_filter / specified_numeric_field_filter --------------------------------------------

class SpecifiedFieldFilterBase : public Filter {
 protected:
  SpecifiedFieldFilterBase(std::string name, const Params& p)
      : Filter(std::move(name), p), key_(p.GetString("field_key")), reversed_(p.GetBool("reversed_range")), fields_(TextKeyOf(p)) {}

 public:
  // §5: the field's value is copied into stats[field_key] (unless cached there already).
  void ComputeStats(Sample& s) override {
    if (key_.empty() || Cached(s, key_)) return;
    fields_.NewSample();
    StatValue& v = s.stats.Set(key_);
    v.kind = StatValue::Kind::kRaw;
    v.raw = fields_.RawJson(s, *this, key_);
  }

 protected:
  PyValue CachedValue(const Sample& s) const { return fields_.StatAt(s, key_); }

  std::string key_;
  bool reversed_;
  FieldReader fields_;
};

class SpecifiedFieldFilter : public SpecifiedFieldFilterBase {
 public:
  explicit SpecifiedFieldFilter(const Params& p) : SpecifiedFieldFilterBase("specified_field_filter", p) {
    for (const auto& t : p.Get("target_value").as_list()) targets_.push_back(FromParam(t));
  }

  bool Keep(const Sample& s) const override {
    if (key_.empty() || targets_.empty()) return true;
    PyValue v = CachedValue(s);
    std::vector<PyValue> items;
    if (v.kind == PyValue::Kind::kList) items = std::move(v.items);
    else items.push_back(std::move(v));
    bool keep = true;
    for (const PyValue& x : items) {
      bool found = false;
      for (const PyValue& t : targets_) found = found || PyEqual(x, t);
      keep = keep && found;
    }
    return reversed_ ? !keep : keep;
  }

 private:
  std::vector<PyValue> targets_;
};

class SpecifiedNumericFieldFilter : public SpecifiedFieldFilterBase {
 public:
  explicit SpecifiedNumericFieldFilter(const Params& p)
      : SpecifiedFieldFilterBase("specified_numeric_field_filter", p),
        lo_(OptionalNumber(p, "min_value")),
        hi_(OptionalNumber(p, "max_value")) {}

  bool Keep(const Sample& s) const override {
    if (key_.empty()) return true;
    PyValue v = CachedValue(s);
    // §5: numeric iff truthy and float(value) succeeds; 0, "", null and False are not.
    if (!v.Truthy()) return false;
    std::optional<double> x;
    if (v.IsNumeric()) x = v.Number();
    else if (v.kind == PyValue::Kind::kString) x = text::PyFloat(v.s);
    else Fail(ErrorKind::kInput, "specified_numeric_field_filter: field '{}' holds a {}: float() argument must be a string or a number", key_, v.TypeName());
    return x && InRange(*x, lo_, hi_);
  }

 private:
  std::optional<double> lo_, hi_;
};

// suffix_filter (§5): no stats; keeps a sample whose `__dj__suffix__` is one of `suffixes` (exact string
// equality). DataJuicer's loader adds that field when the recipe has this op: "." + the file's last suffix,
// lowercased, or its last two for a zstd file (".jsonl.zst"). So does sluice, but only when it writes a record
// (SerializeOptions::suffix): before that, in the pass reading the input, a sample lacking the field is
// judged by the same value derived from the input file it came from (Sample::source_file, DjFileSuffix).
class SuffixFilter : public Filter {
 public:
  explicit SuffixFilter(const Params& p)
      : Filter("suffix_filter", p), reversed_(p.GetBool("reversed_range")), fields_(TextKeyOf(p)) {
    const ParamValue& v = p.Get("suffixes");
    if (v.type() == ParamValue::Type::kString) {
      suffixes_.push_back(v.as_string());
    } else {
      for (const auto& e : v.as_list()) suffixes_.push_back(e.as_string());
    }
  }

  void ComputeStats(Sample&) override {}

  bool Keep(const Sample& s) const override {
    if (suffixes_.empty()) return true;
    fields_.NewSample();
    PyValue v = fields_.Get(s, *this, "__dj__suffix__");
    // A non-string value (DataJuicer's loader never writes one) equals no suffix.
    bool keep = false;
    if (v.kind == PyValue::Kind::kString || v.kind == PyValue::Kind::kNull) {
      std::string suffix = v.kind == PyValue::Kind::kString ? v.s : DjFileSuffix(s.source_file);
      keep = std::find(suffixes_.begin(), suffixes_.end(), suffix) != suffixes_.end();
    }
    return reversed_ ? !keep : keep;
  }

 private:
  bool reversed_;
  std::vector<std::string> suffixes_;
  mutable FieldReader fields_;
};

}  // namespace

void RegisterFieldFilters(std::vector<OpDef>& ops) {
  ops.push_back({"suffix_filter", OpKind::kFilter,
                 "keep samples whose file suffix (`__dj__suffix__`, else the input file's) is one of suffixes",
                 {{"suffixes", ParamType::kStringList, ParamValue::List({}),
                   "suffixes with their dot, e.g. ['.txt', '.md']; empty keeps everything", false}},
                 [](const Params& p) { return std::make_unique<SuffixFilter>(p); }});
  ops.push_back({"general_field_filter", OpKind::kFilter,
                 "keep samples for which a condition over their fields (comparisons, and/or) holds",
                 {{"filter_condition", ParamType::kString, ParamValue::String(""),
                   "condition, e.g. \"10 < num <= 30 and __dj__meta__.lang == 'en'\"; empty keeps everything", false}},
                 [](const Params& p) { return std::make_unique<GeneralFieldFilter>(p); }});
  ops.push_back({"specified_field_filter", OpKind::kFilter,
                 "keep samples whose field (dotted path) holds only values from target_value",
                 {{"field_key", ParamType::kString, ParamValue::String(""), "dotted path of the field; empty keeps everything", false},
                  {"target_value", ParamType::kAny, ParamValue::List({}), "the allowed values", false}},
                 [](const Params& p) {
                   if (p.Get("target_value").type() != ParamValue::Type::kList)
                     Fail(ErrorKind::kUsage, "specified_field_filter: target_value must be a list");
                   return std::make_unique<SpecifiedFieldFilter>(p);
                 }});
  ops.push_back({"specified_numeric_field_filter", OpKind::kFilter,
                 "keep samples whose field (dotted path) is numeric and in [min_value, max_value]",
                 {{"field_key", ParamType::kString, ParamValue::String(""), "dotted path of the field; empty keeps everything", false},
                  {"min_value", ParamType::kNumber, ParamValue::Double(-9223372036854775807.0), "minimum value"},
                  {"max_value", ParamType::kNumber, ParamValue::Double(9223372036854775807.0), "maximum value"}},
                 [](const Params& p) { return std::make_unique<SpecifiedNumericFieldFilter>(p); }});
}

}  // namespace sluice
