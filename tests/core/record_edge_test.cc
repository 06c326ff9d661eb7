// RecordParser on the JSON edges where parsers differ, as Python's json reads them (DataJuicer's reader):
// a key given twice (the last member wins), a text key whose earlier value is not a string, and the cause
// given for a string's bad escape (a lone surrogate named as such). The end-to-end differential test is
// tests/cli/json_edge_test.sh; docs/compatibility.md, "Input records", states the rules.
#include <gtest/gtest.h>

#include <string>

#include "core/json_string.h"
#include "core/record.h"

namespace sluice {
namespace {

// Parses `line` into `s` from a copy followed by the parser's padding (kept in `buf`, which `s` points into).
ParseStatus ParseLine(RecordParser& p, const std::string& line, std::string& buf, Sample& s, std::string& err) {
  buf = line + std::string(RecordPadding(), ' ');
  return p.Parse(std::string_view(buf.data(), line.size()), s, err);
}

// The text a line's slot 0 holds after parsing (or the status when it is not kOk).
std::string TextOf(RecordParser& p, const std::string& line, std::string* error = nullptr) {
  Sample s;
  std::string err, buf;
  ParseStatus st = ParseLine(p, line, buf, s, err);
  if (error) *error = err;
  if (st == ParseStatus::kNullText) return "<null>";
  if (st == ParseStatus::kBad) return "<bad>";
  return s.texts[0].value();
}

// Python's json.loads keeps the last of a key's members, so DataJuicer's text is the last "text": a filter
// decides on it and a mapper changes it (the earlier members stay in the line as written, and a JSON reader
// of the output sees the change). The first member used to be the text: a mapper's change was invisible to
// any reader of the output, and `{"text": 5, "text": "a"}` was a bad line.
TEST(RecordParserEdges, ATextKeyGivenTwiceIsItsLastMember) {
  RecordParser p({"text"});
  EXPECT_EQ(TextOf(p, R"({"text": "first", "text": "second"})"), "second");
  EXPECT_EQ(TextOf(p, R"({"text": "one", "x": 1, "text": "two", "text": "three"})"), "three");
  EXPECT_EQ(TextOf(p, R"({"text": "first", "t\u0065xt": "escaped"})"), "escaped");
  EXPECT_EQ(TextOf(p, R"({"text": null, "text": "later"})"), "later");
  EXPECT_EQ(TextOf(p, R"({"text": "first", "text": null})"), "<null>");
  EXPECT_EQ(TextOf(p, R"({"text": 5, "text": "a string wins"})"), "a string wins");
  std::string err;
  EXPECT_EQ(TextOf(p, R"({"text": "first", "text": 5})", &err), "<bad>");
  EXPECT_NE(err.find("text key 'text' holds a JSON number, not a string"), std::string::npos) << err;
  // Every member is still validated: a bad escape in the replaced one is a bad line, as in Python.
  EXPECT_EQ(TextOf(p, R"({"text": "\q", "text": "ok"})"), "<bad>");
  EXPECT_EQ(TextOf(p, R"({"text": [1, tru], "text": "ok"})"), "<bad>");

  // The change is spliced into the last member; the first stays as written.
  Sample s;
  std::string buf;
  ASSERT_EQ(ParseLine(p, R"({"text": "first", "id": 1, "text": "second"})", buf, s, err), ParseStatus::kOk) << err;
  s.texts[0].mutable_value() = "changed";
  s.texts[0].changed = true;
  std::string out;
  SerializeSample(s, SerializeOptions{}, out);
  EXPECT_EQ(out, R"({"text": "first", "id": 1, "text": "changed"})" "\n");
}

// A dotted key: a member named exactly like it wins over the nested member whatever the order (record.h);
// among nested ones, as in Python's d["meta"]["body"], the last "meta" and in it the last "body" count, so a
// later "meta" without "body" leaves the text missing.
TEST(RecordParserEdges, ANestedTextKeyGivenTwiceIsTheLastPath) {
  RecordParser p({"meta.body"});
  EXPECT_EQ(TextOf(p, R"({"meta": {"body": "a", "body": "b"}})"), "b");
  EXPECT_EQ(TextOf(p, R"({"meta": {"body": "a"}, "meta": {"body": "b"}})"), "b");
  EXPECT_EQ(TextOf(p, R"({"meta.body": "flat", "meta": {"body": "a"}, "meta": {"body": "b"}})"), "flat");
  EXPECT_EQ(TextOf(p, R"({"meta": {"body": "a"}, "meta.body": "flat", "meta.body": "flat2"})"), "flat2");
  EXPECT_EQ(TextOf(p, R"({"meta": {"body": 5}, "meta": {"body": "b"}})"), "b");
  std::string err;
  EXPECT_EQ(TextOf(p, R"({"meta": {"body": "a"}, "meta": {"other": 1}})", &err), "<bad>");
  EXPECT_NE(err.find("missing text key 'meta.body'"), std::string::npos) << err;
  EXPECT_EQ(TextOf(p, R"({"meta": {"body": "a"}, "meta": 5})", &err), "<bad>");
  EXPECT_NE(err.find("missing text key 'meta.body'"), std::string::npos) << err;
}

// `__dj__stats__` / `__dj__meta__` given twice: the last member is the value (cached stats come from it
// alone), and removing them from the export removes every member, so no JSON reader of the output sees an
// earlier one. With the stats kept, a changed value goes into the last member; the earlier ones stay, and a
// reader (Python's json: the key at its first position, the last value) gets what DataJuicer writes.
TEST(RecordParserEdges, ReservedMembersGivenTwiceAreTheirLastMember) {
  RecordParser p({"text"});
  std::string err, buf, out;
  Sample s;
  ASSERT_EQ(ParseLine(p, R"({"text":"abc","__dj__stats__":{"text_len":1},"__dj__stats__":{"x":1}})", buf, s, err),
            ParseStatus::kOk) << err;
  EXPECT_FALSE(s.stats.Has("text_len"));  // only the first member has it: not cached
  EXPECT_TRUE(s.stats.Has("x"));
  s.stats.SetInt("text_len", 3);
  s.stats_changed = true;
  SerializeOptions keep;
  keep.keep_stats = true;
  SerializeSample(s, keep, out);
  EXPECT_EQ(out, R"({"text":"abc","__dj__stats__":{"text_len":1},"__dj__stats__":{"x":1,"text_len":3}})" "\n");
  out.clear();
  SerializeSample(s, SerializeOptions{}, out);
  EXPECT_EQ(out, R"({"text":"abc"})" "\n");

  // Between other members, leading, and mixed with `__dj__meta__`: every one is cut with its separator.
  for (const char* line : {R"({"text":"abcd","__dj__stats__":{"text_len":100},"id":1,"__dj__stats__":null})",
                           R"({"__dj__stats__":{"a":1},"__dj__stats__":{"b":2},"text":"abcd","id":1})",
                           R"({"__dj__meta__":{"a":1},"text":"abcd","__dj__stats__":{},"id":1,"__dj__meta__":{"b":2},"__dj__stats__":{}})",
                           R"({"text":"abcd","__dj__meta__":1,"__dj__meta__":2,"__dj__meta__":3,"id":1})"}) {
    out.clear();
    ASSERT_EQ(ParseLine(p, line, buf, s, err), ParseStatus::kOk) << line << ": " << err;
    EXPECT_FALSE(s.stats.Has("text_len")) << line;
    SerializeSample(s, SerializeOptions{}, out);
    EXPECT_EQ(out, R"({"text":"abcd","id":1})" "\n") << line;
  }
  ASSERT_EQ(ParseLine(p, R"({"text":"a","__dj__meta__":{"a":1},"__dj__meta__":{"b":2}})", buf, s, err), ParseStatus::kOk);
  out.clear();
  AppendSideLine(s, false, false, out);
  EXPECT_EQ(out, R"({"__dj__meta__":{"b":2}})" "\n");
}

// Python's json reads a lone surrogate escape; sluice refuses it (no UTF-8 text holds one) and says so,
// wherever it stands: in the text, in another value, in a key, nested.
TEST(RecordParserEdges, ABadEscapeIsNamedInTheCause) {
  struct Case {
    const char* line;
    const char* cause;
  } cases[] = {
      {R"({"text": "\ud800"})", "malformed JSON string (lone surrogate escape \\ud800)"},
      {R"({"text": "a \uDC00 b"})", "malformed JSON string (lone surrogate escape \\uDC00)"},
      {R"({"text": "\ud800\u0041"})", "malformed JSON string (lone surrogate escape \\ud800)"},
      {R"({"text": "ok", "x": ["\udbff"]})", "malformed JSON string (lone surrogate escape \\udbff)"},
      {R"({"text": "ok", "\ud800": 1})", "malformed JSON string (lone surrogate escape \\ud800)"},
      {R"({"text": "ok", "m": {"k\udfff": 1}})", "malformed JSON string (lone surrogate escape \\udfff)"},
      {R"({"\udc00": 1, "text": "ok"})", "malformed JSON string (lone surrogate escape \\udc00)"},
      {R"({"text": "a\q"})", "malformed JSON string (bad escape sequence \\q)"},
      {R"({"text": "ok", "x": "\u12G4"})", "malformed JSON string (bad escape sequence \\u12G4)"},
      {"{\"text\": \"ok\", \"x\": \"\\\xc3\xa9\"}", "malformed JSON string (bad escape sequence \\\\xc3)"},
      // Python's json refuses these too (strict mode); simdjson finds them before any escape is read.
      {"{\"text\": \"a\x01b\"}", "malformed JSON string (unescaped control character)"},
      {"{\"text\": \"ok\", \"x\": \"tab\there\"}", "malformed JSON string (unescaped control character)"},
  };
  RecordParser p({"text"});
  for (const auto& c : cases) {
    std::string err;
    EXPECT_EQ(TextOf(p, c.line, &err), "<bad>") << c.line;
    EXPECT_EQ(err, c.cause) << c.line;
  }
}

// NaN, Infinity and -Infinity are not JSON; Python's json reads them, so the cause says that they are refused
// on purpose. Words that merely start like them are ordinary malformed JSON.
TEST(RecordParserEdges, NaNAndInfinityAreRefusedWithTheirOwnCause) {
  RecordParser p({"text"});
  const std::string cause = "malformed JSON literal (NaN and Infinity are not JSON, though Python's json reads them)";
  for (const char* line : {R"({"text": "a", "n": NaN})", R"({"text": "a", "n": Infinity})", R"({"text": "a", "n": -Infinity})",
                           R"({"text": NaN})", R"({"text": "a", "n": [1, {"k": Infinity}]})", R"({"text": -Infinity, "text": "a"})"}) {
    std::string err;
    EXPECT_EQ(TextOf(p, line, &err), "<bad>") << line;
    EXPECT_EQ(err, cause) << line;
  }
  for (const char* line : {R"({"text": "a", "n": NaNa})", R"({"text": "a", "n": nan})", R"({"text": "a", "n": -Inf})"}) {
    std::string err;
    EXPECT_EQ(TextOf(p, line, &err), "<bad>") << line;
    EXPECT_NE(err, cause) << line;
  }
}

// Content after the record's object is refused as Python's json refuses it ("Extra data"), naming the column
// (code points, from 1) where it starts, whatever follows: a word, a second value, a stray bracket or comma.
// simdjson says "ended early" for most of these; a fault inside the object itself stays the cause, while a
// missing or wrongly typed text does not (Python never returns that object), and a good line read after a
// refused one is not affected.
TEST(RecordParserEdges, TrailingContentNamesItsColumn) {
  struct Case {
    const char* line;
    const char* cause;
  } cases[] = {
      {R"({"text":"a"} x)", "trailing content after the JSON object at column 14"},
      {R"({"text":"a"}x)", "trailing content after the JSON object at column 13"},
      {R"(  {"text":"a"}	 2)", "trailing content after the JSON object at column 17"},
      {R"({"text":"a"},)", "trailing content after the JSON object at column 13"},
      {R"({"text":"a"}])", "trailing content after the JSON object at column 13"},
      {R"({"text":"a"}})", "trailing content after the JSON object at column 13"},
      {R"({"text":"a"} {"text":"b"})", "trailing content after the JSON object at column 14"},
      {R"({"text":"a"}"s")", "trailing content after the JSON object at column 13"},
      {R"({"text":"a"} // comment)", "trailing content after the JSON object at column 14"},
      {"{\"text\":\"a\"}\r{\"text\":\"b\"}", "trailing content after the JSON object at column 14"},
      {"{\"text\":\"a\"}\x0b", "trailing content after the JSON object at column 13"},
      {R"({"text":"a}]{"} x)", "trailing content after the JSON object at column 17"},
      {R"({"text":"a\"}"} x)", "trailing content after the JSON object at column 17"},
      {R"({"m":[{"k":"}"}],"text":"a"} x)", "trailing content after the JSON object at column 30"},
      // Columns count code points: "é" and "数" are one each.
      {"{\"text\":\"\xc3\xa9\xe6\x95\xb0\"} x", "trailing content after the JSON object at column 15"},
      {"{\"text\":\"a\"}\xc2\xa0", "trailing content after the JSON object at column 13"},
      // Python's json never returns these objects, so the text's absence or type is not what it refuses.
      {R"({"other":"a"} x)", "trailing content after the JSON object at column 15"},
      {R"({"text":5} x)", "trailing content after the JSON object at column 12"},
      {R"({"text":null} x)", "trailing content after the JSON object at column 15"},
      // A fault of the object's own JSON comes first, as Python meets it first.
      {R"({"text":"a","n":01} x)", "malformed JSON number"},
      {R"({"text":"a\q"} x)", "malformed JSON string (bad escape sequence \\q)"},
      {R"({"text":"a","n":NaN} x)",
       "malformed JSON literal (NaN and Infinity are not JSON, though Python's json reads them)"},
      {R"({"text":"a","x":[1,]} x)",
       "malformed JSON (The JSON document has an improper structure: missing or superfluous commas, braces, "
       "missing keys, etc.)"},
  };
  RecordParser p({"text"});
  for (const auto& c : cases) {
    std::string err;
    EXPECT_EQ(TextOf(p, c.line, &err), "<bad>") << c.line;
    EXPECT_EQ(err, c.cause) << c.line;
    EXPECT_EQ(TextOf(p, R"({"text":"good"})", &err), "good") << "after " << c.line;
  }
  // Unclosed objects are not trailing content.
  for (const char* line : {R"({"text":"a")", R"({"text":"a}x)", R"({"text":"a", "m":[} x)"}) {
    std::string err;
    EXPECT_EQ(TextOf(p, line, &err), "<bad>") << line;
    EXPECT_EQ(err.find("trailing"), std::string::npos) << line << " -> " << err;
  }
}

TEST(JsonStringEdges, DescribeJsonEscapeErrorNamesTheFirstBadEscape) {
  EXPECT_EQ(DescribeJsonEscapeError(R"(ok \n \ud83d\ude00 then \ud83d alone)"), "lone surrogate escape \\ud83d");
  EXPECT_EQ(DescribeJsonEscapeError(R"(\ude00)"), "lone surrogate escape \\ude00");
  EXPECT_EQ(DescribeJsonEscapeError(R"(\ud800\ud800)"), "lone surrogate escape \\ud800");
  EXPECT_EQ(DescribeJsonEscapeError(R"(\x41)"), "bad escape sequence \\x");
  EXPECT_EQ(DescribeJsonEscapeError(R"(\u12)"), "bad escape sequence \\u12");
  EXPECT_EQ(DescribeJsonEscapeError("\\\xe9"), "bad escape sequence \\\\xe9");
}

}  // namespace
}  // namespace sluice
