// Field filters: Python's comparison, truthiness and float() rules, null for missing keys at any level,
// flat-key-first dotted lookup, conditions rejected at load, and a golden run over real records.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "op_harness.h"

namespace sluice {
namespace {

using testing::Dataset;
using testing::MakeOp;
using testing::ParamList;
using testing::D;
using testing::S;


// Indices (into `records`) of the survivors.
std::vector<int> Kept(const std::string& op_name, const ParamList& params, const std::vector<std::string>& records) {
  auto op = MakeOp(op_name, params);
  Dataset ds;
  for (size_t i = 0; i < records.size(); ++i) {
    std::string r = records[i];
    r.insert(1, "\"i\":" + std::to_string(i) + ",");  // tag each record with its index
    EXPECT_EQ(ds.Add(r), ParseStatus::kOk) << r;
  }
  ds.Run(*op);
  std::vector<int> out;
  for (size_t k = 0; k < ds.size(); ++k) out.push_back(std::stoi(ds.Json(k).substr(5)));
  return out;
}

struct ConditionCase {
  const char* condition;
  std::vector<std::string> records;
  std::vector<int> kept;
};

TEST(GeneralFieldFilter, PythonSemantics) {
  const ConditionCase cases[] = {
      // chains, mixed int/float, bool as int
      {"1 < n <= 2.5", {R"({"text":"a","n":1})", R"({"text":"a","n":2.5})", R"({"text":"a","n":3})"}, {1}},
      {"flag == 1", {R"({"text":"a","flag":true})", R"({"text":"a","flag":false})"}, {0}},
      // null on either side of any link: the comparison is false (also for != and ==)
      {"n != 3", {R"({"text":"a","n":null})", R"({"text":"a"})", R"({"text":"a","n":4})"}, {2}},
      {"n == None", {R"({"text":"a","n":null})", R"({"text":"a","n":1})"}, {}},
      // missing key at any level reads as null, never an error
      {"meta.a.b > 1", {R"({"text":"a","meta":{"a":{"b":2}}})", R"({"text":"a","meta":{}})", R"({"text":"a","meta":5})"}, {0}},
      // a flat key with a dot wins over the nested path
      {"m.k == 1", {R"({"text":"a","m.k":1,"m":{"k":2}})", R"({"text":"a","m":{"k":1}})"}, {0, 1}},
      // strings: code point order, equality across types is just false
      {"lang < 'fr' or lang == 5", {R"({"text":"a","lang":"en"})", R"({"text":"a","lang":"zh"})", R"({"text":"a","lang":"é"})"}, {0}},
      // and/or return operands: truthiness of the final value decides
      {"tags or n", {R"({"text":"a","tags":[],"n":0})", R"({"text":"a","tags":["x"],"n":0})", R"({"text":"a","tags":[],"n":7})"}, {1, 2}},
      {"(n > 1 or n < 1e-9) and text != 'b'", {R"({"text":"a","n":2})", R"({"text":"b","n":2})", R"({"text":"a","n":0.5})"}, {0}},
      // the text field and stats of earlier filters
      {"__dj__stats__.x >= 2", {R"({"text":"a","__dj__stats__":{"x":2}})", R"({"text":"a","__dj__stats__":{"x":1}})", R"({"text":"a"})"}, {0}},
  };
  for (const auto& c : cases)
    EXPECT_EQ(Kept("general_field_filter", {{"filter_condition", S(c.condition)}}, c.records), c.kept) << c.condition;
}

// Found by cli.dj_oracle_test (general_field_big_int_float, general_field_literals).
TEST(GeneralFieldFilter, IntsAndFloatsCompareExactlyAsInPython) {
  const ConditionCase cases[] = {
      // 2^53 + 1 is not 2^53.0 (as doubles they would be equal), in JSON and in the condition
      {"n == 9007199254740992.0", {R"({"text":"a","n":9007199254740993})", R"({"text":"a","n":9007199254740992})"}, {1}},
      {"n > 9007199254740992.0", {R"({"text":"a","n":9007199254740993})", R"({"text":"a","n":9007199254740992})"}, {0}},
      {"9007199254740993 > n", {R"({"text":"a","n":9007199254740992.0})", R"({"text":"a","n":9007199254740994})"}, {0}},
      // int64 max is below the double 2^63; uint64 values stay integers
      {"n >= 9.223372036854776e18", {R"({"text":"a","n":9223372036854775807})", R"({"text":"a","n":9223372036854775808})"}, {1}},
      {"n == 18446744073709551615", {R"({"text":"a","n":18446744073709551615})", R"({"text":"a","n":1.8446744073709552e19})"}, {0}},
      {"n < 0.5 and n >= 0", {R"({"text":"a","n":0})", R"({"text":"a","n":-0.0})", R"({"text":"a","n":1})"}, {0, 1}},
      {"n < 1e400", {R"({"text":"a","n":9223372036854775807})"}, {0}},  // inf
  };
  for (const auto& c : cases)
    EXPECT_EQ(Kept("general_field_filter", {{"filter_condition", S(c.condition)}}, c.records), c.kept) << c.condition;
}

TEST(GeneralFieldFilter, PythonLiterals) {
  const std::vector<std::string> r = {R"({"text":"a","s":"en","n":100})", R"({"text":"a","s":"e\\x65","n":31})"};
  const std::pair<const char*, std::vector<int>> cases[] = {
      {R"(s == "\x65n")", {0}},            // \xhh is an escape, not kept verbatim
      {R"(s == '\u0065\U0000006e')", {0}},
      {R"(s == '\N{LATIN SMALL LETTER E}n')", {0}},
      {R"(s == '\145\156')", {0}},        // octal
      {R"(s == r'e\x65')", {1}},          // raw: the backslash stays
      {R"(s == u'en')", {0}},
      {R"(s == 'e\q')", {}},              // unknown escapes stay as written ('e\\q')
      {"n == 0x64 or n == 0o37", {0, 1}},
      {"n == 0b1_100_100", {0}},
      {"n == 1_0_0", {0}},
      {"n == 1e2 and n == 100.", {0}},
      {"n == 00 or n > .5e2  # a comment", {0}},
  };
  for (const auto& [c, kept] : cases)
    EXPECT_EQ(Kept("general_field_filter", {{"filter_condition", S(c)}}, r), kept) << c;
}

TEST(GeneralFieldFilter, OrderingAcrossTypesIsAnErrorForThatSample) {
  auto op = MakeOp("general_field_filter", {{"filter_condition", S("n < 3")}});
  Dataset ds;
  ds.Add(R"({"text":"a","n":"x"})");
  EXPECT_THROW(static_cast<Filter&>(*op).ComputeStats(ds[0]), Error);
}

TEST(GeneralFieldFilter, UnsupportedOrInvalidConditionsFailAtLoad) {
  for (const char* c : {"invalid syntax", "n +", "n + 1 > 2", "not flag", "x in [1, 2]", "f(x) > 1", "n > -1", "'abc",
                        "(n > 1", "n > 1 and", "a[0] == 1", "n is None", "1abc > 2",
                        // Python's SyntaxErrors: indentation, leading zeros, bad digits, truncated escapes
                        " n > 1", "\n\tn > 1", "n > 012", "n > 1__0", "n > 1_", "n > 0b12", "n > 1e", "n > 0x",
                        "s == '\\x6'", "s == '\\U00110000'", "s == '\\N{NO SUCH NAME}'", "n > 1j",
                        "s == b'x'", "s == f'x'"}) {
    try {
      MakeOp("general_field_filter", {{"filter_condition", S(c)}});
      ADD_FAILURE() << "accepted: " << c;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUsage) << c;
      EXPECT_NE(std::string(e.what()).find("filter_condition"), std::string::npos) << e.what();
    }
  }
}

TEST(SpecifiedFieldFilter, EveryElementMustBeATarget) {
  const std::vector<std::string> r = {
      R"({"text":"a","m":{"v":"x"}})",           // 0: scalar in targets
      R"({"text":"a","m":{"v":["x","y"]}})",     // 1: all elements in targets
      R"({"text":"a","m":{"v":["x","z"]}})",     // 2: one element not
      R"({"text":"a","m":{"v":[]}})",            // 3: empty list: vacuously kept
      R"({"text":"a","m":{}})",                  // 4: missing = null, not a target
      R"({"text":"a","m":{"v":1}})",             // 5: 1 == 1.0 == True in Python
  };
  ParamList p = {{"field_key", S("m.v")},
                 {"target_value", ParamValue::List({S("x"), S("y"), ParamValue::Double(1.0)})}};
  EXPECT_EQ(Kept("specified_field_filter", p, r), (std::vector<int>{0, 1, 3, 5}));
  p.push_back({"reversed_range", ParamValue::Bool(true)});
  EXPECT_EQ(Kept("specified_field_filter", p, r), (std::vector<int>{2, 4}));
  EXPECT_EQ(Kept("specified_field_filter", {{"field_key", S("m.v")}}, r), (std::vector<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_THROW(MakeOp("specified_field_filter", {{"field_key", S("m.v")}, {"target_value", S("x")}}), Error);
}

TEST(SpecifiedNumericFieldFilter, TruthyAndFloatConvertible) {
  const std::vector<std::string> r = {
      R"({"text":"a","v":50})",          // 0
      R"({"text":"a","v":" 1_5.5e0 "})", // 1: Python float() accepts whitespace and underscores
      R"({"text":"a","v":"inf"})",       // 2: numeric, out of range
      R"({"text":"a","v":0})",           // 3: falsy: not numeric, dropped even though 0 is in range
      R"({"text":"a","v":""})",          // 4
      R"({"text":"a","v":true})",        // 5: float(True) == 1.0
      R"({"text":"a","v":"1__0"})",      // 6: not a float literal
      R"({"text":"a"})",                 // 7: missing
      R"({"text":"a","v":"NaN"})",       // 8: nan compares false
      // float() reads decimal digits of every script and strips Unicode whitespace, but keeps ASCII
      // \x1c-\x1f (not bytes.isspace) and rejects other digits (superscripts) and zero-width characters.
      R"({"text":"a","v":"０"})",          // 9: fullwidth zero: a truthy string, float 0.0
      R"({"text":"a","v":"٣.٥"})",         // 10: Arabic-Indic 3.5
      R"({"text":"a","v":"\u3000 1_٢ "})", // 11: 12
      R"({"text":"a","v":"𝟓e1"})",         // 12: mathematical digit five: 50
      R"({"text":"a","v":"\u001c5"})",     // 13: invalid
      R"({"text":"a","v":"²"})",           // 14: invalid
      R"({"text":"a","v":"5\u200b"})",     // 15: invalid
  };
  ParamList p = {{"field_key", S("v")}, {"min_value", D(0)}, {"max_value", D(60)}};
  EXPECT_EQ(Kept("specified_numeric_field_filter", p, r), (std::vector<int>{0, 1, 5, 9, 10, 11, 12}));
  // A non-empty list is truthy and float(list) raises: an error for that sample.
  auto op = MakeOp("specified_numeric_field_filter", p);
  Dataset ds;
  ds.Add(R"({"text":"a","v":[1]})");
  auto& f = static_cast<Filter&>(*op);
  f.ComputeStats(ds[0]);
  EXPECT_THROW(f.Keep(ds[0]), Error);
}

// The engine parses every record of a block in place, so two records can have the same address and size.
TEST(SuffixFilter, ExactMatchOfTheSuffixField) {
  const std::vector<std::string> records = {R"({"text":"a","__dj__suffix__":".txt"})", R"({"text":"b","__dj__suffix__":"txt"})",
                                            R"({"text":"c","__dj__suffix__":".TXT"})", R"({"text":"d","__dj__suffix__":".md"})"};
  EXPECT_EQ(Kept("suffix_filter", {{"suffixes", ParamValue::List({S(".txt"), S(".md")})}}, records), (std::vector<int>{0, 3}));
  EXPECT_EQ(Kept("suffix_filter", {{"suffixes", S(".txt")}}, records), (std::vector<int>{0}));  // a string is one suffix
  // a value that is not a string equals no suffix, whatever its JSON spelling
  EXPECT_EQ(Kept("suffix_filter", {{"suffixes", ParamValue::List({S("[\".txt\"]"), S("1")})}},
                 {R"({"text":"a","__dj__suffix__":[".txt"]})", R"({"text":"b","__dj__suffix__":1})"}),
            (std::vector<int>{}));
  EXPECT_EQ(Kept("suffix_filter", {}, records), (std::vector<int>{0, 1, 2, 3}));               // empty keeps all
  EXPECT_EQ(Kept("suffix_filter", {{"suffixes", S(".txt")}, {"reversed_range", ParamValue::Bool(true)}}, records),
            (std::vector<int>{1, 2, 3}));
}

TEST(FieldFilters, RecordsAtTheSameAddressAreReadAfresh) {
  for (const char* op_name : {"general_field_filter", "specified_numeric_field_filter"}) {
    ParamList p = std::string(op_name) == "general_field_filter"
                      ? ParamList{{"filter_condition", S("n > 5")}}
                      : ParamList{{"field_key", S("n")}, {"min_value", D(5)}, {"max_value", D(100)}};
    auto op = MakeOp(op_name, p);
    auto& f = static_cast<Filter&>(*op);
    RecordParser parser({"text"});
    std::string buf(64 + RecordPadding(), ' ');
    Sample s;
    std::string err;
    std::vector<bool> kept;
    for (const char* rec : {R"({"text":"a","n":1})", R"({"text":"a","n":9})"}) {
      std::memcpy(buf.data(), rec, std::strlen(rec));
      ASSERT_EQ(parser.Parse(std::string_view(buf.data(), std::strlen(rec)), s, err), ParseStatus::kOk) << err;
      f.ComputeStats(s);
      kept.push_back(f.Keep(s));
    }
    EXPECT_EQ(kept, (std::vector<bool>{false, true})) << op_name;
  }
}

// Real records (one SpamAssassin mail, nlp-corpus prose) with web-crawl style metadata: outputs and the
// cached stats are pinned.
TEST(FieldFilters, GoldenOnRealRecords) {
  const std::vector<std::string> r = {
      R"({"text":"Go Back to the first page and click \"OBJECTS and HACKS USEFUL FOR ANY INSTITUTION\".","meta":{"source":"nlp-corpus","lang":"en","stars":"4.5","tags":["prose","web"]}})",
      R"({"text":"URL: http://www.newsisfree.com/click/-3,8495574,215/\nDate: 2002-10-02T10:01:51+01:00\n\nFiona Phillips.","meta":{"source":"spam-assassin","lang":"en","stars":0,"tags":["mail"]}})",
      R"({"text":"Les Misérables est un roman de Victor Hugo.","meta":{"source":"nlp-corpus","lang":"fr","stars":12,"tags":["prose"]}})",
  };
  EXPECT_EQ(Kept("general_field_filter", {{"filter_condition", S("meta.lang == 'en' and meta.source != 'spam-assassin'")}}, r),
            (std::vector<int>{0}));
  EXPECT_EQ(Kept("specified_field_filter", {{"field_key", S("meta.tags")}, {"target_value", ParamValue::List({S("prose"), S("web")})}}, r),
            (std::vector<int>{0, 2}));
  EXPECT_EQ(Kept("specified_numeric_field_filter", {{"field_key", S("meta.stars")}, {"min_value", D(1)}, {"max_value", D(10)}}, r),
            (std::vector<int>{0}));
  auto op = MakeOp("specified_field_filter", {{"field_key", S("meta.tags")}, {"target_value", ParamValue::List({S("prose")})}});
  Dataset ds;
  ds.Add(r[2]);
  ds.Run(*op, true);
  EXPECT_EQ(ds.Json(0),
            R"({"text":"Les Misérables est un roman de Victor Hugo.","meta":{"source":"nlp-corpus","lang":"fr","stars":12,"tags":["prose"]},"__dj__stats__":{"meta.tags":["prose"]}})");
}

}  // namespace
}  // namespace sluice
