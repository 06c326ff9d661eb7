#include "core/record.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <iterator>
#include <limits>

#include <simdjson.h>

#include "core/error.h"
#include "core/json_string.h"
#include "core/json_writer.h"

namespace sluice {

namespace od = simdjson::ondemand;

size_t RecordPadding() { return simdjson::SIMDJSON_PADDING; }
uint64_t MaxRecordBytes() { return simdjson::SIMDJSON_MAXSIZE_BYTES; }

namespace {

struct KeyPath {
  std::string flat;
  std::vector<std::string> parts;  // split on '.', for nested lookup
};

inline bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

const char* TrimBack(const char* begin, const char* end) {
  while (end > begin && IsJsonSpace(end[-1])) --end;
  return end;
}

// The body of a string value from its token (from its opening quote up to the next structural character).
std::string_view StringBody(std::string_view token) {
  const char* end = TrimBack(token.data(), token.data() + token.size());
  return std::string_view(token.data() + 1, static_cast<size_t>(end - token.data()) - 2);
}

// The body of a key from its first byte after the opening quote (stage 1 found its closing quote).
std::string_view KeyBody(const char* start) {
  const char* p = start;
  while (*p != '"') p += *p == '\\' ? 2 : 1;
  return std::string_view(start, static_cast<size_t>(p - start));
}

// JSON's number grammar (RFC 8259 §6): -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
bool ValidJsonNumber(std::string_view t) {
  size_t i = 0, n = t.size();
  auto digits = [&] {
    size_t from = i;
    while (i < n && t[i] >= '0' && t[i] <= '9') ++i;
    return i > from;
  };
  if (i < n && t[i] == '-') ++i;
  if (i < n && t[i] == '0') ++i;
  else if (!digits()) return false;
  if (i < n && t[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < n && (t[i] == '+' || t[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == n;
}

// The end (one past its closing brace) of the object that starts at `line[from]`, found by brackets and
// strings alone; npos when it does not close within the line. Whether the object is valid JSON is left to
// the parser.
size_t ObjectEnd(std::string_view line, size_t from) {
  size_t depth = 0;
  for (size_t i = from; i < line.size(); ++i) {
    char c = line[i];
    if (c == '"') {
      for (++i; i < line.size() && line[i] != '"'; ++i)
        if (line[i] == '\\') ++i;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && depth > 0 && --depth == 0) {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

// The cause for content after the record's object, which starts at byte `at` of the (valid UTF-8) line. The
// column counts code points from 1, as Python's json counts it in its "Extra data" error.
std::string TrailingCause(std::string_view line, size_t at) {
  size_t column = 1;
  for (size_t i = 0; i < at; ++i) column += (static_cast<unsigned char>(line[i]) & 0xC0) != 0x80;
  return "trailing content after the JSON object at column " + std::to_string(column);
}

std::string Describe(simdjson::error_code e) {
  switch (e) {
    case simdjson::UTF8_ERROR: return "invalid UTF-8";
    case simdjson::STRING_ERROR: return "malformed JSON string (bad escape sequence)";
    case simdjson::UNCLOSED_STRING: return "unterminated JSON string";
    case simdjson::UNESCAPED_CHARS: return "malformed JSON string (unescaped control character)";
    case simdjson::NUMBER_ERROR: return "malformed JSON number";
    case simdjson::T_ATOM_ERROR:
    case simdjson::F_ATOM_ERROR:
    case simdjson::N_ATOM_ERROR: return "malformed JSON literal";
    case simdjson::DEPTH_ERROR: return "JSON nested too deeply";
    default: return std::string("malformed JSON (") + simdjson::error_message(e) + ")";
  }
}

}  // namespace

struct RecordParser::Impl {
  od::parser parser;
  std::vector<KeyPath> keys;
  const char* base = nullptr;  // start of the current line, for offsets
  uint64_t nested_texts = 0;    // bit s: text slot s was read through its dotted path (WalkObject)
  uint64_t flat_texts = 0;      // bit s: text slot s was read from a member named exactly like its key
  // Slot s's value is not a string or null: its JSON type, reported unless a later member of the same key
  // replaces it (Parse).
  const char* wrong_type[8] = {};
  // The body of the first string (value or key) whose escapes failed, for the cause (Parse).
  std::string_view bad_string;
  // The first bad value was NaN, Infinity or -Infinity: not JSON, but Python's json reads them, so the
  // cause says so (Parse).
  bool python_literal = false;
  // The line's object was read as valid JSON: what fails now is what the record holds, not its syntax (Parse).
  bool object_read = false;
  simdjson::error_code Unreadable(od::value& v, simdjson::error_code e) {
    std::string_view token = v.raw_json_token();
    for (std::string_view lit : {"NaN", "Infinity", "-Infinity"})
      if (token.substr(0, lit.size()) == lit && (token.size() == lit.size() || !std::isalnum(static_cast<unsigned char>(token[lit.size()]))))
        python_literal = bad_string.data() == nullptr;
    return e;
  }
  od::document doc;

  // Validates a value at nesting level `depth` (a member of the record is at level 1) and everything in it.
  // Nesting beyond kMaxJsonDepth is an error, not a deeper recursion: a line of 100,000 '[' overflowed the
  // stack. (Python's json module refuses such lines too: RecursionError at about 1,000 levels.)
  static constexpr size_t kMaxJsonDepth = 1024;
  simdjson::error_code Validate(od::value v, size_t depth);
  simdjson::error_code ReadText(od::value v, size_t depth, Sample& out, int slot);
  // Forgets what slot s held: a later member of the same key (or of the path's parent) replaces it.
  void ClearText(Sample& out, size_t s) {
    out.texts[s].Reset();
    wrong_type[s] = nullptr;
    nested_texts &= ~(uint64_t{1} << s);
    flat_texts &= ~(uint64_t{1} << s);
  }
  simdjson::error_code ReadStats(od::value v, Sample& out);
  simdjson::error_code WalkObject(od::object obj, size_t depth, const std::vector<int>& nested, Sample& out, bool top);
  // The reserved member whose end is not known yet (its value's end, and its span's, see WalkObject).
  struct Pending {
    Span* member = nullptr;
    Span* value = nullptr;
    bool leading = false;
  } pending;
  // Offset of the ',' before the member whose key starts at `key_begin`.
  size_t CommaBefore(size_t key_begin) const {
    const char* p = TrimBack(base, base + key_begin);
    return static_cast<size_t>(p - base) - 1;
  }
  // Ends the pending member at the next member's key (`next_key`) or at the object's closing brace.
  void ClosePending(size_t at, bool next_key) {
    size_t value_end = next_key ? static_cast<size_t>(TrimBack(base, base + CommaBefore(at)) - base)
                                : static_cast<size_t>(TrimBack(base, base + at) - base);
    pending.value->end = value_end;
    pending.member->end = pending.leading ? (next_key ? at : value_end) : value_end;
    pending = {};
  }
  size_t Here() {
    const char* p = nullptr;
    if (doc.current_location().get(p)) return SIZE_MAX;
    return static_cast<size_t>(TrimBack(base, p) - base);
  }
};

simdjson::error_code RecordParser::Impl::Validate(od::value v, size_t depth) {
  if (depth > kMaxJsonDepth) return simdjson::DEPTH_ERROR;
  od::json_type t;
  if (auto e = v.type().get(t)) return Unreadable(v, e);
  switch (t) {
    case od::json_type::object: {
      od::object o;
      if (auto e = v.get_object().get(o)) return e;
      for (auto fr : o) {
        od::field f;
        if (auto e = std::move(fr).get(f)) return e;
        const char* key_raw = f.key().raw();  // unescaped_key consumes it
        std::string_view k;
        if (auto e = f.unescaped_key().get(k)) {
          if (bad_string.data() == nullptr) bad_string = KeyBody(key_raw);
          return e;
        }
        if (auto e = Validate(f.value(), depth + 1)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      od::array a;
      if (auto e = v.get_array().get(a)) return e;
      for (auto er : a) {
        od::value ev;
        if (auto e = std::move(er).get(ev)) return e;
        if (auto e = Validate(ev, depth + 1)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::string: {
      // Validated in place: decoding a string nobody reads would cost a copy of it.
      std::string_view token = v.raw_json_token();
      od::raw_json_string rs;
      if (auto e = v.get_raw_json_string().get(rs)) return e;
      size_t excess;
      if (ValidateJsonEscapesPadded(StringBody(token), excess)) return simdjson::SUCCESS;
      if (bad_string.data() == nullptr) bad_string = StringBody(token);
      return simdjson::STRING_ERROR;
    }
    case od::json_type::number: {
      // Checked against JSON's number grammar, not converted: a number nobody reads passes through as
      // written, so an integer beyond 64 bits or a float beyond a double (valid JSON, which Python reads)
      // is not a bad line. The value is left unread; the enclosing iteration skips it.
      std::string_view token = v.raw_json_token();
      while (!token.empty() && IsJsonSpace(token.back())) token.remove_suffix(1);
      return ValidJsonNumber(token) ? simdjson::SUCCESS : Unreadable(v, simdjson::NUMBER_ERROR);
    }
    case od::json_type::boolean: {
      bool b;
      return v.get_bool().get(b);
    }
    case od::json_type::null: {
      bool n;
      if (auto e = v.is_null().get(n)) return e;
      return n ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::TAPE_ERROR;
}

simdjson::error_code RecordParser::Impl::ReadText(od::value v, size_t depth, Sample& out, int slot) {
  TextField& tf = out.texts[slot];
  od::json_type t;
  if (auto e = v.type().get(t)) return Unreadable(v, e);
  size_t begin = static_cast<size_t>(v.raw_json_token().data() - base);
  tf.present = true;
  if (t == od::json_type::null) {
    bool n;
    if (auto e = v.is_null().get(n)) return e;
    if (!n) return simdjson::N_ATOM_ERROR;
    tf.is_null = true;
  } else if (t == od::json_type::string) {
    od::raw_json_string rs;
    if (auto e = v.get_raw_json_string().get(rs)) return e;
  } else {
    // Not a string: a bad line, unless a later member of the key replaces it (Parse says which).
    wrong_type[slot] = t == od::json_type::number ? "number" : t == od::json_type::boolean ? "boolean"
                       : t == od::json_type::array ? "array" : "object";
    return Validate(v, depth);
  }
  size_t end = Here();
  if (end == SIZE_MAX) return simdjson::TAPE_ERROR;
  out.text_spans[slot] = {begin, end};
  tf.raw = std::string_view(base + begin, end - begin);
  if (tf.is_null) return simdjson::SUCCESS;
  size_t excess;
  if (!ValidateJsonEscapesPadded(tf.body(), excess)) {
    if (bad_string.data() == nullptr) bad_string = tf.body();
    return simdjson::STRING_ERROR;
  }
  tf.SetEncoded(tf.raw, excess);
  return simdjson::SUCCESS;
}

simdjson::error_code RecordParser::Impl::ReadStats(od::value v, Sample& out) {
  od::object o;
  if (auto e = v.get_object().get(o)) {
    if (e != simdjson::INCORRECT_TYPE) return e;
    // Not an object (null, a number, ...): no cached stats, but the member is there, so that the export
    // removes it, or an op's stats replace it, as they would an object (never a second member beside it).
    if (auto ve = Validate(v, 1)) return ve;
    out.had_stats = true;
    return simdjson::SUCCESS;
  }
  out.had_stats = true;
  for (auto fr : o) {
    od::field f;
    if (auto e = std::move(fr).get(f)) return e;
    std::string_view k;
    if (auto e = f.unescaped_key().get(k)) return e;
    od::value sv = f.value();
    od::json_type t;
    if (auto e = sv.type().get(t)) return e;
    StatValue& dst = out.stats.Set(k);
    if (t == od::json_type::number) {
      od::number n;
      auto e = sv.get_number().get(n);
      if (e == simdjson::SUCCESS && n.is_int64()) {
        dst.kind = StatValue::Kind::kInt;
        dst.i = n.get_int64();
        continue;
      }
      if (e == simdjson::SUCCESS && n.is_double()) {
        dst.kind = StatValue::Kind::kDouble;
        dst.d = n.get_double();
        continue;
      }
      if (e != simdjson::SUCCESS && e != simdjson::NUMBER_ERROR) return e;
      // Beyond int64 (a uint64) or valid JSON that simdjson does not convert (NUMBER_ERROR;
      // docs/compatibility.md, "Input records"): an integer is kept as text; a float beyond a double (its
      // only float failure: a value that overflows to infinity) is what Python's json.loads makes of it,
      // ±inf, and keeps its text, so it is written back as the input wrote it. The text is the token's (the
      // position after a number is not past it, see WalkObject).
      std::string_view token = sv.raw_json_token();
      while (!token.empty() && IsJsonSpace(token.back())) token.remove_suffix(1);
      if (e == simdjson::NUMBER_ERROR && !ValidJsonNumber(token)) return e;
      if (e == simdjson::NUMBER_ERROR && token.find_first_of(".eE") != std::string_view::npos) {
        dst.kind = StatValue::Kind::kDouble;
        dst.d = token[0] == '-' ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
      } else {
        dst.kind = StatValue::Kind::kRaw;
      }
      dst.raw.assign(token);
      continue;
    }
    if (t == od::json_type::boolean) {
      bool b;
      if (auto e = sv.get_bool().get(b)) return e;
      dst.kind = StatValue::Kind::kBool;
      dst.i = b;
      continue;
    }
    size_t b = static_cast<size_t>(sv.raw_json_token().data() - base);
    if (auto e = Validate(sv, 2)) return e;
    dst.kind = StatValue::Kind::kRaw;
    dst.raw.assign(base + b, Here() - b);
  }
  return simdjson::SUCCESS;
}

simdjson::error_code RecordParser::Impl::WalkObject(od::object obj, size_t depth, const std::vector<int>& nested,
                                                    Sample& out, bool top) {
  // The spans of `__dj__stats__` and `__dj__meta__` are cut together (SerializeSample), so each takes the
  // comma before it when another member precedes it, and otherwise (a leading run of them) the comma after
  // it. Both ends come from the next member's key (or the closing brace, in Parse), found by scanning back
  // over whitespace and the comma: on-demand's position after a scalar value is not past it.
  bool plain_before = false;
  if (top) pending = {};
  for (auto fr : obj) {
    od::field f;
    if (auto e = std::move(fr).get(f)) return e;
    size_t key_begin = static_cast<size_t>(f.key().raw() - 1 - base);
    std::string_view key;
    if (auto e = f.unescaped_key().get(key)) {
      if (bad_string.data() == nullptr) bad_string = KeyBody(base + key_begin + 1);
      return e;
    }
    if (top && pending.member != nullptr) ClosePending(key_begin, true);
    od::value v = f.value();
    bool handled = false;
    if (top) {
      out.object_empty = false;
      for (size_t s = 0; s < keys.size(); ++s) {
        if (keys[s].flat == key) {
          // A key given twice: the last member is the text, as in Python's json (the earlier ones stay in
          // the line as written). A member named exactly like a dotted key wins over the nested member the
          // path reaches, before or after it (the contract in record.h).
          ClearText(out, s);
          if (auto e = ReadText(v, depth + 1, out, static_cast<int>(s))) return e;
          flat_texts |= uint64_t{1} << s;
          handled = true;
          break;
        }
      }
      // One length and prefix test keeps ordinary members off the three comparisons.
      bool reserved = !handled && key.size() >= kMetaKey.size() && key[0] == '_' && key[1] == '_';
      if (reserved && key == kStatsKey) {
        if (out.had_stats) {  // given twice: the last member is the value, as in Python's json
          out.earlier_reserved.push_back(out.stats_member);
          out.stats.Clear();
        }
        out.stats_value.begin = static_cast<size_t>(v.raw_json_token().data() - base);
        if (auto e = ReadStats(v, out)) return e;
        pending = {&out.stats_member, &out.stats_value};
        handled = true;
      } else if (reserved && key == kMetaKey) {
        if (out.had_meta) out.earlier_reserved.push_back(out.meta_member);
        out.meta_value.begin = static_cast<size_t>(v.raw_json_token().data() - base);
        if (auto e = Validate(v, depth + 1)) return e;
        out.had_meta = true;
        pending = {&out.meta_member, &out.meta_value};
        handled = true;
      } else if (reserved && key == kSuffixKey) {
        out.had_suffix = true;  // validated below like any member
      }
      if (pending.member != nullptr) {
        pending.leading = !plain_before;
        pending.member->begin = plain_before ? CommaBefore(key_begin) : key_begin;
      } else {
        plain_before = true;
      }
    }
    if (!handled && !nested.empty()) {
      std::vector<int> deeper;
      for (int s : nested) {
        const auto& parts = keys[s].parts;
        if (depth < parts.size() && parts[depth] == key && !(flat_texts >> s & 1)) deeper.push_back(s);
      }
      if (!deeper.empty()) {
        // A member on the path again (a key given twice): as in Python, the later one replaces what the
        // earlier one held, so a later parent without the member leaves the text missing.
        for (int s : deeper) ClearText(out, static_cast<size_t>(s));
        // The full path ends here: this member is the text.
        for (int s : deeper) {
          if (keys[s].parts.size() == depth + 1) {
            if (auto e = ReadText(v, depth + 1, out, s)) return e;
            nested_texts |= uint64_t{1} << s;
            handled = true;
            break;
          }
        }
        od::json_type t;
        if (!handled && !v.type().get(t) && t == od::json_type::object) {
          od::object sub;
          if (auto e = v.get_object().get(sub)) return e;
          if (auto e = WalkObject(sub, depth + 1, deeper, out, false)) return e;
          handled = true;
        }
      }
    }
    if (!handled) {
      if (auto e = Validate(v, depth + 1)) return e;
    }
  }
  return simdjson::SUCCESS;
}

RecordParser::RecordParser(std::vector<std::string> text_keys) : impl_(std::make_unique<Impl>()) {
  if (text_keys.size() > 8) Fail(ErrorKind::kUsage, "a recipe may use at most 8 distinct text keys");
  for (auto& k : text_keys) {
    KeyPath p;
    p.flat = k;
    size_t start = 0;
    while (true) {
      size_t dot = k.find('.', start);
      p.parts.push_back(k.substr(start, dot - start));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    impl_->keys.push_back(std::move(p));
  }
}

RecordParser::~RecordParser() = default;

size_t RecordParser::capacity() const { return impl_->parser.capacity(); }

ParseStatus RecordParser::Parse(std::string_view line, Sample& out, std::string& error) {
  Impl& m = *impl_;
  out.texts.resize(m.keys.size());
  for (auto& t : out.texts) t.Reset();
  out.stats.Clear();
  out.had_stats = out.stats_changed = false;
  out.stats_member = out.stats_value = {};
  out.had_meta = out.had_suffix = false;
  out.meta_member = out.meta_value = {};
  out.earlier_reserved.clear();
  out.object_empty = true;
  while (!line.empty() && IsJsonSpace(line.back())) line.remove_suffix(1);
  size_t lead = 0;
  while (lead < line.size() && IsJsonSpace(line[lead])) ++lead;
  if (lead == line.size()) return ParseStatus::kBlank;
  out.line = line;
  m.base = line.data();
  // After one huge record the worker would hold its buffers for the rest of the job (a 220 MB line left
  // ~1.2 GB of address space allocated, what that line touched of it resident).
  if (m.parser.capacity() > kKeptCapacity && line.size() < m.parser.capacity() / 4)
    if (m.parser.allocate(std::max(kKeptCapacity, line.size())) != simdjson::SUCCESS) {
      // Out of memory: iterate below allocates what this line needs, or reports the failure.
    }

  m.bad_string = {};
  m.python_literal = false;
  m.object_read = false;
  auto fail = [&](simdjson::error_code e) {
    if (!error.empty()) return ParseStatus::kBad;
    if (m.python_literal)
      error = "malformed JSON literal (NaN and Infinity are not JSON, though Python's json reads them)";
    else if (e == simdjson::STRING_ERROR && m.bad_string.data() != nullptr)
      error = "malformed JSON string (" + DescribeJsonEscapeError(m.bad_string) + ")";
    else
      error = Describe(e);
    return ParseStatus::kBad;
  };
  error.clear();
  if (auto e = m.parser.iterate(line.data(), line.size(), line.size() + simdjson::SIMDJSON_PADDING).get(m.doc))
    return fail(e);
  od::object obj;
  if (auto e = m.doc.get_object().get(obj)) {
    if (e == simdjson::INCORRECT_TYPE) error = "expected a JSON object per line";
    // simdjson takes a root object for unclosed (INCOMPLETE_ARRAY_OR_OBJECT) unless the line ends in its
    // closing brace, also when it closes and something follows (`{"text":"a"} x`). Python's json reads the
    // object and then refuses the rest ("Extra data"), so the object alone decides: a fault of its own
    // JSON is the cause, else the trailing content is (before a missing or wrongly typed text: Python never
    // returns that object).
    if (e == simdjson::INCOMPLETE_ARRAY_OR_OBJECT) {
      size_t end = ObjectEnd(line, lead);
      if (end < line.size()) {
        size_t after = end;
        while (after < line.size() && IsJsonSpace(line[after])) ++after;
        ParseStatus alone = Parse(line.substr(0, end), out, error);
        if (alone == ParseStatus::kBad && !m.object_read) return alone;
        error = TrailingCause(line, after);
        return ParseStatus::kBad;
      }
    }
    return fail(e);
  }
  std::vector<int> nested;
  for (size_t s = 0; s < m.keys.size(); ++s)
    if (m.keys[s].parts.size() > 1) nested.push_back(static_cast<int>(s));
  m.nested_texts = m.flat_texts = 0;
  std::fill(std::begin(m.wrong_type), std::end(m.wrong_type), nullptr);
  if (auto e = m.WalkObject(obj, 0, nested, out, true)) return fail(e);
  m.object_read = true;
  const char* rest = nullptr;
  if (!m.doc.current_location().get(rest)) {  // a value after the object that ends in a brace: `{..}{..}`
    error = TrailingCause(line, static_cast<size_t>(rest - line.data()));
    return ParseStatus::kBad;
  }
  out.object_end = line.size() - 1;  // the closing brace (trailing whitespace was trimmed)
  if (m.pending.member != nullptr) m.ClosePending(out.object_end, false);
  for (size_t s = 0; s < m.keys.size(); ++s)
    if (m.wrong_type[s] != nullptr) {
      error = "text key '" + m.keys[s].flat + "' holds a JSON " + m.wrong_type[s] + ", not a string";
      return ParseStatus::kBad;
    }
  if (!out.texts[0].present) {
    error = "missing text key '" + m.keys[0].flat + "'";
    return ParseStatus::kBad;
  }
  if (out.texts[0].is_null) return ParseStatus::kNullText;
  return ParseStatus::kOk;
}

ParseStatus ReplaceRecord(RecordParser& parser, std::string_view json, Sample& s, std::string& error) {
  std::string& buf = s.owned_line;
  if (json.data() >= buf.data() && json.data() < buf.data() + buf.size()) {  // a view into the buffer itself
    std::string copy(json);
    return ReplaceRecord(parser, copy, s, error);
  }
  buf.assign(json.data(), json.size());
  buf.append(RecordPadding(), ' ');
  return parser.Parse(std::string_view(buf.data(), json.size()), s, error);
}

void TextField::Decode() const {
  value_.clear();
  if (raw.size() >= 2) AppendDecodedJsonString(body(), value_);
  decoded_ = true;
}

std::string DjFileSuffix(std::string_view path) {
  size_t slash = path.rfind('/');
  std::string name(path.substr(slash == std::string_view::npos ? 0 : slash + 1));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t last = name.rfind('.');
  if (last == std::string::npos || last == 0) return "";
  if (name.compare(last, std::string::npos, ".zst") == 0) {
    size_t prev = name.rfind('.', last - 1);
    if (prev != std::string::npos && prev != 0) return name.substr(prev);
  }
  return name.substr(last);
}

void SerializeSample(const Sample& s, const SerializeOptions& opt, std::string& out) {
  struct Edit {
    size_t begin, end;
    // >=0: text slot; -1: stats value; -2: remove (stats or meta member); -3: insert stats; -4: insert suffix
    int what;
  };
  // Up to 8 text slots, the suffix and the two reserved members; more only for duplicated reserved members.
  Edit local[12];
  std::vector<Edit> more;
  Edit* edits = local;
  if (!opt.keep_stats && !s.earlier_reserved.empty()) {
    more.resize(12 + s.earlier_reserved.size());
    edits = more.data();
  }
  int n = 0;
  for (size_t i = 0; i < s.texts.size(); ++i) {
    const TextField& t = s.texts[i];
    if (t.changed && t.present && !t.is_null)
      edits[n++] = {s.text_spans[i].begin, s.text_spans[i].end, static_cast<int>(i)};
  }
  // Before a stats insertion at the same offset (the sort below is stable): DataJuicer's loader adds the
  // suffix column before any filter adds the stats column.
  if (!opt.suffix.empty() && !s.had_suffix) edits[n++] = {s.object_end, s.object_end, -4};
  if (opt.keep_stats) {
    if (s.had_stats) {
      if (s.stats_changed) edits[n++] = {s.stats_value.begin, s.stats_value.end, -1};
    } else if (s.stats.size() > 0 || opt.stats_column) {
      edits[n++] = {s.object_end, s.object_end, -3};
    }
  } else {
    if (s.had_stats) edits[n++] = {s.stats_member.begin, s.stats_member.end, -2};
    if (s.had_meta) edits[n++] = {s.meta_member.begin, s.meta_member.end, -2};
    for (const Span& m : s.earlier_reserved) edits[n++] = {m.begin, m.end, -2};
  }
  if (n == 0) {
    out.append(s.line.data(), s.line.size());
    out += '\n';
    return;
  }
  for (int i = 1; i < n; ++i)  // insertion sort: at most a handful of edits
    for (int j = i; j > 0 && edits[j].begin < edits[j - 1].begin; --j) std::swap(edits[j], edits[j - 1]);
  size_t pos = 0;
  for (int i = 0; i < n; ++i) {
    const Edit& e = edits[i];
    if (e.begin < pos) {  // the second of two cut members sharing a comma: cut only what is left of it
      pos = std::max(pos, e.end);
      continue;
    }
    out.append(s.line.data() + pos, e.begin - pos);
    if (e.what >= 0) {
      AppendJsonString(out, s.texts[e.what].value());
    } else if (e.what == -1) {
      s.stats.AppendJson(out);
    } else if (e.what == -3 || e.what == -4) {
      if (!s.object_empty || (e.what == -3 && !opt.suffix.empty() && !s.had_suffix)) out += ',';
      AppendJsonString(out, e.what == -3 ? kStatsKey : kSuffixKey);
      out += ':';
      if (e.what == -3) s.stats.AppendJson(out);
      else AppendJsonString(out, opt.suffix);
    }
    pos = e.end;
  }
  out.append(s.line.data() + pos, s.line.size() - pos);
  out += '\n';
}

bool AppendSideLine(const Sample& s, bool stats_column, bool meta_column, std::string& out) {
  bool has_stats = s.had_stats || s.stats.size() > 0;
  out += '{';
  if (has_stats || stats_column) {
    AppendJsonString(out, kStatsKey);
    out += ':';
    if (s.had_stats && !s.stats_changed) out.append(s.line.substr(s.stats_value.begin, s.stats_value.end - s.stats_value.begin));
    else if (has_stats) s.stats.AppendJson(out);
    else out += "{}";
  }
  if (s.had_meta || meta_column) {
    if (out.back() != '{') out += ',';
    AppendJsonString(out, kMetaKey);
    out += ':';
    if (s.had_meta) out.append(s.line.substr(s.meta_value.begin, s.meta_value.end - s.meta_value.begin));
    else out += "{}";
  }
  out += "}\n";
  return has_stats || s.had_meta;
}

}  // namespace sluice
