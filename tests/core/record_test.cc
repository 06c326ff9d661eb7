// RecordParser / SerializeSample: full validation, pass-through of untouched bytes, splicing of changed
// fields, DataJuicer's `__dj__stats__` / `__dj__meta__` / `__dj__suffix__` handling and the stats side
// line. Table-driven.
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "core/record.h"

namespace sluice {
namespace {

// Copies `line` into a padded buffer (the parser reads past the end).
struct Padded {
  std::string buf;
  std::string_view view;
  explicit Padded(const std::string& line) : buf(line + std::string(RecordPadding(), ' ')), view(buf.data(), line.size()) {}
};

struct BadCase {
  const char* line;
  const char* cause;
};

TEST(RecordParser, RejectsMalformedLinesWithACause) {
  const BadCase cases[] = {
      {R"({"text": "a", "x": [1, 2,]})", "malformed JSON"},
      {R"({"text": "a", "x": 01})", "malformed JSON number"},
      {R"({"text": "a", "x": 1.})", "malformed JSON number"},
      {R"({"text": "a", "x": 1e})", "malformed JSON number"},
      {R"({"text": "a", "x": -})", "malformed JSON number"},
      {R"({"text": "a", "x": 12abc})", "malformed JSON number"},
      {R"({"text": "a", "x": [1, 2.5e+, 3]})", "malformed JSON number"},
      {R"({"text": "a\q"})", "bad escape"},
      {R"({"text": "unterminated)", ""},
      {"{\"text\": \"caf\xe9\"}", "invalid UTF-8"},
      {R"([1, 2])", "expected a JSON object"},
      {R"({"other": "x"})", "missing text key 'text'"},
      {R"({"text": 5})", "holds a JSON number, not a string"},
      {R"({"text": "a"} trailing)", "trailing content after the JSON object at column 15"},
      {R"({"text": "a", "deep": {"k": tru}})", "malformed JSON"},
      // strings no op reads are checked as strictly as the text
      {R"({"text": "a", "url": "x\q"})", "bad escape"},
      {R"({"text": "a", "m": {"k": ["ok", "\u12"]}})", "bad escape"},
      {"{\"text\": \"a\", \"title\": \"tab\there\"}", "malformed JSON"},
      {"{\"text\": \"a\", \"title\": \"caf\xe9\"}", "invalid UTF-8"},
  };
  RecordParser p({"text"});
  Sample s;
  std::string err;
  for (const auto& c : cases) {
    Padded in(c.line);
    EXPECT_EQ(p.Parse(in.view, s, err), ParseStatus::kBad) << c.line;
    EXPECT_NE(err.find(c.cause), std::string::npos) << c.line << " -> " << err;
  }
}

// Nesting is validated by recursion, so its depth is bounded: 1024 levels inside a member are a record,
// deeper ones (a line of 100,000 '[' overflowed the stack) a bad line, in any member, meta and stats included.
TEST(RecordParser, NestingDeeperThan1024LevelsIsABadLineNotACrash) {
  auto nested = [](const std::string& key, size_t depth) {
    return "{\"text\": \"a\", \"" + key + "\": " + std::string(depth, '[') + std::string(depth, ']') + "}";
  };
  RecordParser p({"text"});
  Sample s;
  std::string err;
  for (const std::string key : {"x", "__dj__meta__", "__dj__stats__"}) {
    Padded ok(nested(key, 1000));
    EXPECT_EQ(p.Parse(ok.view, s, err), ParseStatus::kOk) << key << ": " << err;
    for (size_t depth : {1025, 100000}) {
      Padded deep(nested(key, depth));
      EXPECT_EQ(p.Parse(deep.view, s, err), ParseStatus::kBad) << key << " " << depth;
      EXPECT_NE(err.find("nested too deeply"), std::string::npos) << key << " " << depth << " -> " << err;
    }
  }
}

// Numbers are valid JSON whatever their size (Python reads them): they pass through as written.
TEST(RecordParser, NumbersBeyond64BitsAndDoublesPassThrough) {
  RecordParser p({"text"});
  Sample s;
  std::string err;
  for (const char* line : {R"({"text": "a", "id": 123456789012345678901234567890, "f": 1e400, "g": -0.0E-5, "h": [0, -1]})",
                           R"({"text": "a", "m": {"big": -99999999999999999999999.5e+999999}})"}) {
    Padded in(line);
    ASSERT_EQ(p.Parse(in.view, s, err), ParseStatus::kOk) << line << ": " << err;
    std::string out;
    SerializeSample(s, SerializeOptions{true, {}}, out);
    EXPECT_EQ(out, std::string(line) + "\n");
  }
}

// The same numbers inside `__dj__stats__`: not a bad line. A float beyond a double is the value Python's
// json.loads gives it (±inf) for an op that reads it, and keeps its text; an integer beyond int64 (a uint64,
// or beyond 64 bits) keeps its text. All are written back as the input wrote them, untouched or beside stats
// an op added (a uint64 was written back as nothing: `"w":,`).
TEST(RecordParser, StatsBeyondADoubleAreInfinityAndKeepTheirText) {
  RecordParser p({"text"});
  Sample s;
  std::string err;
  const std::string line =
      R"({"text": "a", "__dj__stats__": {"t": 1e400, "u": -1.5E+999 , "n": 123456789012345678901234567890, "k": 2, "w": 18446744073709551615 , "s": "x", "z": null}, "id": 7})";
  Padded in(line);
  ASSERT_EQ(p.Parse(in.view, s, err), ParseStatus::kOk) << err;
  const StatValue* t = s.stats.Find("t");
  const StatValue* u = s.stats.Find("u");
  const StatValue* n = s.stats.Find("n");
  ASSERT_TRUE(t && u && n && s.stats.Find("k"));
  EXPECT_EQ(t->kind, StatValue::Kind::kDouble);
  EXPECT_EQ(t->AsNumber(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(u->kind, StatValue::Kind::kDouble);
  EXPECT_EQ(u->AsNumber(), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(n->kind, StatValue::Kind::kRaw);
  EXPECT_EQ(n->raw, "123456789012345678901234567890");
  EXPECT_EQ(s.stats.Find("k")->i, 2);
  std::string out;
  SerializeSample(s, SerializeOptions{true, {}}, out);
  EXPECT_EQ(out, line + "\n");
  s.stats.SetInt("text_len", 1);
  s.stats_changed = true;
  out.clear();
  SerializeSample(s, SerializeOptions{true, {}}, out);
  EXPECT_EQ(out, R"({"text": "a", "__dj__stats__": {"t":1e400,"u":-1.5E+999,"n":123456789012345678901234567890,"k":2,"w":18446744073709551615,"s":"x","z":null,"text_len":1}, "id": 7})"
                 "\n");
  // A key given twice: the last value wins (as in Python), without the first one's text.
  Padded twice(R"({"text": "a", "__dj__stats__": {"t": 1e400, "t": 0.5}})");
  ASSERT_EQ(p.Parse(twice.view, s, err), ParseStatus::kOk) << err;
  s.stats.SetInt("x", 1);
  s.stats_changed = true;
  out.clear();
  SerializeSample(s, SerializeOptions{true, {}}, out);
  EXPECT_EQ(out, R"({"text": "a", "__dj__stats__": {"t":0.5,"x":1}})"
                 "\n");
  // Not a number at all is still a bad line.
  Padded bad(R"({"text": "a", "__dj__stats__": {"t": 1e}})");
  EXPECT_EQ(p.Parse(bad.view, s, err), ParseStatus::kBad);
}

// The parser's buffers grow for a huge line and are given back at the next small one: a worker would
// otherwise hold a huge record's share (about 6.7 bytes per byte, what it touched resident) to the end.
TEST(RecordParser, BuffersGrownForAHugeLineShrinkAtTheNextSmallOne) {
  RecordParser p({"text"});
  Sample s;
  std::string err;
  Padded huge("{\"text\":\"" + std::string(40 << 20, 'h') + "\",\"a\":[1,2,3]}");
  ASSERT_EQ(p.Parse(huge.view, s, err), ParseStatus::kOk) << err;
  EXPECT_GE(p.capacity(), size_t{40} << 20);
  Padded small("{\"text\":\"x\"}");
  ASSERT_EQ(p.Parse(small.view, s, err), ParseStatus::kOk) << err;
  EXPECT_LE(p.capacity(), RecordParser::kKeptCapacity);
  EXPECT_EQ(s.texts[0].value(), "x");
  // A line of moderate size keeps the buffers it has.
  Padded mid("{\"text\":\"" + std::string(6 << 20, 'm') + "\"}");
  ASSERT_EQ(p.Parse(mid.view, s, err), ParseStatus::kOk) << err;
  ASSERT_EQ(p.Parse(small.view, s, err), ParseStatus::kOk) << err;
  EXPECT_GE(p.capacity(), size_t{6} << 20);
}

TEST(RecordParser, NullTextAndBlankLines) {
  RecordParser p({"text"});
  Sample s;
  std::string err;
  Padded a(R"({"text": null, "id": 1})");
  EXPECT_EQ(p.Parse(a.view, s, err), ParseStatus::kNullText);
  Padded b("   \r");
  EXPECT_EQ(p.Parse(b.view, s, err), ParseStatus::kBlank);
}

struct RoundTrip {
  const char* line;
  const char* new_text;  // nullptr: unchanged
  bool keep_stats;
  bool add_stat;         // a filter computed "text_len": 3
  const char* expected;
};

TEST(SerializeSample, SplicesOnlyWhatChanged) {
  const RoundTrip cases[] = {
      // untouched: the original bytes, whitespace and key order included
      {R"({ "id" : 1,  "text":"a\u00e9b", "m": {"z": [1, 2.50]} })", nullptr, false, false,
       R"({ "id" : 1,  "text":"a\u00e9b", "m": {"z": [1, 2.50]} })"},
      // changed text: only its value is re-serialized
      {R"({"id": 1, "text": "old", "m": 2})", "new \"q\"\n", false, false, R"({"id": 1, "text": "new \"q\"\n", "m": 2})"},
      // input stats are dropped from the export unless kept (DataJuicer removes the column)
      {R"({"__dj__stats__": {"a": 1}, "text": "x"})", nullptr, false, false, R"({"text": "x"})"},
      {R"({"text": "x", "__dj__stats__": {"a": 1}})", nullptr, false, false, R"({"text": "x"})"},
      {R"({"text": "x", "__dj__stats__": {"a": 1}, "id": 2})", nullptr, false, false, R"({"text": "x", "id": 2})"},
      {R"({"__dj__stats__": {}})", nullptr, false, false, "{}"},
      // kept stats: appended, or merged into the existing object
      {R"({"text": "abc"})", nullptr, true, true, R"({"text": "abc","__dj__stats__":{"text_len":3}})"},
      {R"({"text": "abc", "__dj__stats__": {"a": 0.5}})", nullptr, true, true,
       R"({"text": "abc", "__dj__stats__": {"a":0.5,"text_len":3}})"},
      {R"({"text": "abc", "__dj__stats__": {"a": [1]}})", "z", true, false, R"({"text": "z", "__dj__stats__": {"a": [1]}})"},
  };
  RecordParser p({"text"});
  for (const auto& c : cases) {
    Sample s;
    std::string err;
    Padded in(c.line);
    if (std::string(c.line) == R"({"__dj__stats__": {}})") {
      RecordParser q({"__none__"});
      ASSERT_EQ(q.Parse(in.view, s, err), ParseStatus::kBad);  // missing text key, but spans were recorded
      continue;
    }
    ASSERT_EQ(p.Parse(in.view, s, err), ParseStatus::kOk) << c.line << ": " << err;
    if (c.new_text != nullptr) {
      s.texts[0].mutable_value() = c.new_text;
      s.texts[0].changed = true;
    }
    if (c.add_stat) {
      s.stats.SetInt("text_len", 3);
      s.stats_changed = true;
    }
    std::string out;
    SerializeSample(s, SerializeOptions{c.keep_stats, {}}, out);
    EXPECT_EQ(out, std::string(c.expected) + "\n") << c.line;
  }
}

TEST(RecordParser, TextStaysEncodedUntilAnOpReadsIt) {
  RecordParser p({"text"});
  Sample s;
  std::string err;
  // \n, \", \u00e9 and a surrogate pair: 1 + 1 + 5 + 11 bytes more than the code points they stand for.
  Padded in(R"({"text": "a\nb\"c\u00e9d\ud83d\ude00", "id": 1})");
  ASSERT_EQ(p.Parse(in.view, s, err), ParseStatus::kOk) << err;
  const TextField& t = s.texts[0];
  EXPECT_FALSE(t.decoded());
  EXPECT_EQ(t.raw, R"("a\nb\"c\u00e9d\ud83d\ude00")");
  EXPECT_EQ(t.escape_excess, 18u);
  EXPECT_EQ(t.value(), "a\nb\"c\xc3\xa9" "d\xf0\x9f\x98\x80");
  EXPECT_TRUE(t.decoded());
  // Reading it changes nothing in the output; the next record starts encoded again.
  std::string out;
  SerializeSample(s, SerializeOptions{}, out);
  EXPECT_EQ(out, std::string(in.view) + "\n");
  Padded next(R"({"text": "x\ty"})");
  ASSERT_EQ(p.Parse(next.view, s, err), ParseStatus::kOk) << err;
  EXPECT_FALSE(s.texts[0].decoded());
  EXPECT_EQ(s.texts[0].value(), "x\ty");
}

TEST(RecordParser, ReadsCachedStatsAndNestedTextKeys) {
  RecordParser p({"text", "meta.body"});
  Sample s;
  std::string err;
  Padded in(R"({"text": "t", "meta": {"x": 1, "body": "nested \u2603"}, "__dj__stats__": {"text_len": 7, "r": 0.25, "f": true}})");
  ASSERT_EQ(p.Parse(in.view, s, err), ParseStatus::kOk) << err;
  EXPECT_EQ(s.texts[1].value(), "nested \xe2\x98\x83");
  ASSERT_NE(s.stats.Find("text_len"), nullptr);
  EXPECT_EQ(s.stats.Find("text_len")->i, 7);
  EXPECT_DOUBLE_EQ(s.stats.Find("r")->d, 0.25);
  EXPECT_EQ(s.stats.Find("f")->kind, StatValue::Kind::kBool);
  // The nested text can be changed and spliced back.
  s.texts[1].mutable_value() = "new";
  s.texts[1].changed = true;
  std::string out;
  SerializeSample(s, SerializeOptions{true, {}}, out);
  EXPECT_EQ(out, R"({"text": "t", "meta": {"x": 1, "body": "new"}, "__dj__stats__": {"text_len": 7, "r": 0.25, "f": true}})" "\n");
}

// A member named exactly like the dotted key wins over the nested member, before or after it; a non-string
// one makes the line bad, as a non-string text does.
TEST(RecordParser, AMemberNamedLikeTheDottedKeyWinsInEitherOrder) {
  RecordParser p({"meta.body"});
  Sample s;
  std::string err;
  for (const char* line : {R"({"meta": {"body": "nested"}, "meta.body": "flat"})", R"({"meta.body": "flat", "meta": {"body": "nested"}})"}) {
    Padded in(line);
    ASSERT_EQ(p.Parse(in.view, s, err), ParseStatus::kOk) << line << ": " << err;
    EXPECT_EQ(s.texts[0].value(), "flat") << line;
    s.texts[0].mutable_value() = "new";
    s.texts[0].changed = true;
    std::string out;
    SerializeSample(s, SerializeOptions{true, {}}, out);
    EXPECT_NE(out.find(R"("meta.body": "new")"), std::string::npos) << out;
    EXPECT_NE(out.find(R"({"body": "nested"})"), std::string::npos) << out;
  }
  Padded bad(R"({"meta": {"body": "nested"}, "meta.body": 5})");
  EXPECT_EQ(p.Parse(bad.view, s, err), ParseStatus::kBad);
  EXPECT_NE(err.find("not a string"), std::string::npos) << err;
}

struct ExportCase {
  const char* line;
  bool keep_stats;
  const char* suffix;  // "" : the recipe has no suffix_filter
  const char* expected;
  const char* side;    // AppendSideLine with the stats column known, the meta column not
};

TEST(SerializeSample, DropsStatsAndMetaTogetherAddsSuffixAndWritesTheSideLine) {
  const ExportCase cases[] = {
      // meta anywhere, alone or beside the stats, after a number (whose end on-demand does not report)
      {R"({"text": "x", "id": 1, "__dj__meta__": {"a": [1]}})", false, "", R"({"text": "x", "id": 1})",
       R"({"__dj__stats__":{},"__dj__meta__":{"a": [1]}})"},
      {R"({"__dj__meta__": null, "text": "x"})", false, "", R"({"text": "x"})", R"({"__dj__stats__":{},"__dj__meta__":null})"},
      {R"({"__dj__stats__": {"n": 2}, "__dj__meta__": {}, "text": "x", "id": 7})", false, "", R"({"text": "x", "id": 7})",
       R"({"__dj__stats__":{"n": 2},"__dj__meta__":{}})"},
      {R"({"__dj__meta__": 5 , "text": "x", "id": 7, "__dj__stats__": {"n": 2}})", false, "", R"({"text": "x", "id": 7})",
       R"({"__dj__stats__":{"n": 2},"__dj__meta__":5})"},
      {R"({"text": "x", "id": 1.5e3 , "__dj__stats__": {} , "__dj__meta__": "m"  })", false, "", R"({"text": "x", "id": 1.5e3    })",
       R"({"__dj__stats__":{},"__dj__meta__":"m"})"},
      // kept: untouched bytes
      {R"({"text": "x", "__dj__meta__": {"a": 1}})", true, "", R"({"text": "x", "__dj__meta__": {"a": 1}})",
       R"({"__dj__stats__":{},"__dj__meta__":{"a": 1}})"},
      // suffix_filter: appended to a record lacking it, before stats a filter adds; a record's own one stays
      {R"({"text": "x", "id": 1})", false, ".jsonl", R"({"text": "x", "id": 1,"__dj__suffix__":".jsonl"})", R"({"__dj__stats__":{}})"},
      {R"({"text": "x", "__dj__suffix__": ".own", "__dj__meta__": {}})", false, ".jsonl", R"({"text": "x", "__dj__suffix__": ".own"})",
       R"({"__dj__stats__":{},"__dj__meta__":{}})"},
      {R"({"text": "abc"})", true, ".jsonl.zst", R"({"text": "abc","__dj__suffix__":".jsonl.zst","__dj__stats__":{"text_len":3}})",
       R"({"__dj__stats__":{"text_len":3}})"},
      // stats that are not an object: removed, kept or replaced like an object (never a second member)
      {R"({"text": "x", "__dj__stats__": null})", false, "", R"({"text": "x"})", R"({"__dj__stats__":null})"},
      {R"({"__dj__stats__": [1], "text": "x"})", true, "", R"({"__dj__stats__": [1], "text": "x"})", R"({"__dj__stats__":[1]})"},
      {R"({"text": "abc", "__dj__stats__": "s"})", true, "", R"({"text": "abc", "__dj__stats__": {"text_len":3}})",
       R"({"__dj__stats__":{"text_len":3}})"},
  };
  // keep_stats_in_res_ds and a filter in the recipe: DataJuicer adds the `__dj__stats__` column ({}) before the
  // filter runs, so a record for which no stat was written is exported with "__dj__stats__":{}, where computed
  // stats go (after its members and an added suffix); a record with stats, or its own member, is unchanged.
  const ExportCase with_stats_column[] = {
      {R"({"text": "x", "id": 1})", true, "", R"({"text": "x", "id": 1,"__dj__stats__":{}})", R"({"__dj__stats__":{}})"},
      {R"({"text": "x", "id": 1}  )", true, ".jsonl", R"({"text": "x", "id": 1,"__dj__suffix__":".jsonl","__dj__stats__":{}})",
       R"({"__dj__stats__":{}})"},
      {R"({"text": "x", "__dj__stats__": {"n": 2}, "id": 1})", true, "", R"({"text": "x", "__dj__stats__": {"n": 2}, "id": 1})",
       R"({"__dj__stats__":{"n": 2}})"},
      {R"({"text": "x", "__dj__stats__": null})", true, "", R"({"text": "x", "__dj__stats__": null})", R"({"__dj__stats__":null})"},
      {R"({"text": "abc", "id": 1})", true, "", R"({"text": "abc", "id": 1,"__dj__stats__":{"text_len":3}})",
       R"({"__dj__stats__":{"text_len":3}})"},
      {R"({"text": "x", "id": 1})", false, "", R"({"text": "x", "id": 1})", R"({"__dj__stats__":{}})"},
  };
  RecordParser p({"text"});
  auto check = [&](const ExportCase& c, bool stats_column) {
    Sample s;
    std::string err;
    Padded in(c.line);
    ASSERT_EQ(p.Parse(in.view, s, err), ParseStatus::kOk) << c.line << ": " << err;
    if (std::string(c.line).starts_with(R"({"text": "abc")")) {
      s.stats.SetInt("text_len", 3);
      s.stats_changed = true;
    }
    SerializeOptions so;
    so.keep_stats = c.keep_stats;
    so.suffix = c.suffix;
    so.stats_column = stats_column;
    std::string out, side;
    SerializeSample(s, so, out);
    EXPECT_EQ(out, std::string(c.expected) + "\n") << c.line << (stats_column ? " (stats column)" : "");
    AppendSideLine(s, true, false, side);
    EXPECT_EQ(side, std::string(c.side) + "\n") << c.line;
  };
  for (const auto& c : cases) check(c, false);
  for (const auto& c : with_stats_column) check(c, true);
  // Without a known column, a record with neither gets "{}", and says so.
  Sample s;
  std::string err, side;
  Padded in(R"({"text": "x"})");
  ASSERT_EQ(p.Parse(in.view, s, err), ParseStatus::kOk);
  EXPECT_FALSE(AppendSideLine(s, false, false, side));
  EXPECT_EQ(side, "{}\n");
}

TEST(DjFileSuffix, LastSuffixLowercasedTwoForZstd) {
  EXPECT_EQ(DjFileSuffix("/d/a.JSONL"), ".jsonl");
  EXPECT_EQ(DjFileSuffix("/d/a.jsonl.zst"), ".jsonl.zst");
  EXPECT_EQ(DjFileSuffix("/d/a.jsonl.gz"), ".gz");
  EXPECT_EQ(DjFileSuffix("/d.x/noext"), "");
  EXPECT_EQ(DjFileSuffix(".hidden"), "");
}

}  // namespace
}  // namespace sluice
