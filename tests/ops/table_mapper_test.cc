// extract_tables_from_html_mapper. Expected values come from DataJuicer's logic run with BeautifulSoup 4.11's
// html.parser (tests/ops/table_ref.py), for each input with (retain_html_tags, include_header) = (false, true),
// (false, false) and (true, true); then the tagging behaviour (existing key, existing __dj__meta__, other
// fields kept, text key) and the malformed HTML where the HTML5 tree sluice builds differs from html.parser's,
// pinned with the reason (docs/compatibility.md).
#include <gtest/gtest.h>

#include <simdjson.h>

#include "core/json_writer.h"
#include "op_harness.h"

namespace sluice {
namespace {

using testing::B;
using testing::Dataset;
using testing::MakeOp;
using testing::ParamList;
using testing::S;

// Runs the mapper on one record and returns the output record.
std::string MapOne(const std::string& record, const ParamList& params, const std::string& text_key = "text") {
  auto op = MakeOp("extract_tables_from_html_mapper", params);
  Dataset ds(text_key);
  EXPECT_EQ(ds.Add(record), ParseStatus::kOk) << record;
  ds.Run(*op);
  EXPECT_EQ(ds.size(), 1u);
  return ds.Json(0);
}

// The html_tables value the mapper stores for `html`, as compact JSON.
std::string Tables(const std::string& html, bool retain, bool header) {
  JsonWriter w;
  w.BeginObject().Field("text", html).EndObject();
  std::string out = MapOne(w.str(), {{"retain_html_tags", B(retain)}, {"include_header", B(header)}});
  simdjson::dom::parser p;
  auto doc = p.parse(out);
  EXPECT_FALSE(doc.error()) << out;
  EXPECT_EQ(std::string_view(doc["text"].get_string().value()), html) << "the text must not change";
  return simdjson::minify(doc["__dj__meta__"]["html_tables"].value());
}

// Python's json.dumps spacing (", ") removed, to compare with the compact output.
std::string Compact(const std::string& py_json) {
  simdjson::dom::parser p;
  return simdjson::minify(p.parse(py_json).value());
}

struct TableCase {
  std::string html, text_with_header, text_without_header, retained;
};

const std::vector<TableCase> kBs4Cases = {
    {"<html><body>New testCase - No tables here!</body></html>",
     "[]",
     "[]",
     "[]"},
    {"<table><tr><th>Name</th><th>Age</th></tr><tr><td>Alice</td><td>30</td></tr></table><p>x</p><table><tbody><tr><td> a\n b </td></tr></tbody></table>",
     "[[[\"Name\", \"Age\"], [\"Alice\", \"30\"]], [[\"a\\n b\"]]]",
     "[[[\"Alice\", \"30\"]], [[\"a\\n b\"]]]",
     "[\"<table><tr><th>Name</th><th>Age</th></tr><tr><td>Alice</td><td>30</td></tr></table>\", \"<table><tbody><tr><td> a\\n b </td></tr></tbody></table>\"]"},
    {"<table class=\"t\" id='x'><tr><td>1 &amp; 2</td><td>&lt;b&gt;</td><td>caf&eacute;&nbsp;</td></tr></table>",
     "[[[\"1 & 2\", \"<b>\", \"café\"]]]",
     "[[[\"1 & 2\", \"<b>\", \"café\"]]]",
     "[\"<table class=\\\"t\\\" id=\\\"x\\\"><tr><td>1 &amp; 2</td><td>&lt;b&gt;</td><td>café </td></tr></table>\"]"},
    {"<table><tr><td>outer<table><tr><td>inner</td></tr></table></td></tr></table>",
     "[[[\"outerinner\"], [\"inner\"]], [[\"inner\"]]]",
     "[[[\"outerinner\"], [\"inner\"]], [[\"inner\"]]]",
     "[\"<table><tr><td>outer<table><tr><td>inner</td></tr></table></td></tr></table>\", \"<table><tr><td>inner</td></tr></table>\"]"},
    {"<table><tr><td>  <b>bold</b>  <i> it </i> </td><td></td></tr><tr></tr></table><table></table>",
     "[[[\"boldit\", \"\"]]]",
     "[[[\"boldit\", \"\"]]]",
     "[\"<table><tr><td> <b>bold</b> <i> it </i> </td><td></td></tr><tr></tr></table>\", \"<table></table>\"]"},
    {"<table><thead><tr><th>H</th><td>d</td></tr></thead><tr><td>v<!-- c --></td></tr></table>",
     "[[[\"H\", \"d\"], [\"v\"]]]",
     "[[[\"v\"]]]",
     "[\"<table><thead><tr><th>H</th><td>d</td></tr></thead><tr><td>v<!-- c --></td></tr></table>\"]"},
    {"<TABLE BORDER=1><TR><TD>Up</TD></TR></TABLE>",
     "[[[\"Up\"]]]",
     "[[[\"Up\"]]]",
     "[\"<table border=\\\"1\\\"><tr><td>Up</td></tr></table>\"]"},
    {"<table><tr><td>a<br>b</td><td><img src=\"i.png\" alt='q\"'></td></tr></table>",
     "[[[\"ab\", \"\"]]]",
     "[[[\"ab\", \"\"]]]",
     "[\"<table><tr><td>a<br/>b</td><td><img alt='q\\\"' src=\\\"i.png\\\"/></td></tr></table>\"]"},
};

TEST(ExtractTablesFromHtmlMapper, MatchesBeautifulSoupHtmlParser) {
  for (const TableCase& c : kBs4Cases) {
    EXPECT_EQ(Tables(c.html, false, true), Compact(c.text_with_header)) << c.html;
    EXPECT_EQ(Tables(c.html, false, false), Compact(c.text_without_header)) << c.html;
    EXPECT_EQ(Tables(c.html, true, true), Compact(c.retained)) << c.html;
  }
}

TEST(ExtractTablesFromHtmlMapper, TaggingKeepsEverythingElse) {
  const std::string html = "<table><tr><td>x</td></tr></table>";
  // An existing key is left alone (DataJuicer: "generated already").
  std::string rec = R"({"text":")" + html + R"(","__dj__meta__":{"html_tables":"old"}})";
  EXPECT_EQ(MapOne(rec, {}), rec);
  // Other __dj__meta__ keys and other fields are kept; a custom field name is used.
  std::string out = MapOne(R"({"id":7,"text":")" + html + R"(","__dj__meta__":{"lang":"en"},"z":[1,2]})",
                        {{"tables_field_name", S("t")}});
  EXPECT_EQ(out, R"({"id":7,"text":")" + html + R"(","__dj__meta__":{"lang":"en","t":[[["x"]]]},"z":[1,2]})");
  // A null __dj__meta__ counts as empty; another text key is read.
  EXPECT_EQ(MapOne(R"({"content":")" + html + R"(","__dj__meta__":null})", {}, "content"),
            R"({"content":")" + html + R"(","__dj__meta__":{"html_tables":[[["x"]]]}})");
  // __dj__meta__ that is not a dict fails the sample, as DataJuicer's `in` test would.
  auto op = MakeOp("extract_tables_from_html_mapper");
  Dataset ds;
  ds.Add(R"({"text":"<table></table>","__dj__meta__":3})");
  EXPECT_THROW(ds.Run(*op), Error);
}

// Where html.parser and HTML5 build different trees: html.parser never closes an element implicitly, so an
// unclosed <td> holds the next cell (DataJuicer gets [["ab"]] here); HTML5 closes it, as browsers show it.
// Text directly inside <table> is moved before the table by HTML5 (foster parenting), so it is missing from
// the retained HTML (DataJuicer keeps it in place).
TEST(ExtractTablesFromHtmlMapper, MalformedHtmlFollowsHtml5) {
  EXPECT_EQ(Tables("<table><tr><td>a<td>b</table>", false, true), R"([[["a","b"]]])");
  EXPECT_EQ(Tables("<table><tr><td>a</tr><tr><td>b", false, true), R"([[["a"],["b"]]])");
  EXPECT_EQ(Tables("<table>junk<tr><td>a</td></tr></table>", true, true), R"(["<table><tr><td>a</td></tr></table>"])");
  // Unclosed inner markup and stray end tags still give the cell texts.
  EXPECT_EQ(Tables("<table><tr><td><b>x</td></i><td>y &amp z</td></tr></table>", false, true), R"([[["x","y & z"]]])");
}

}  // namespace
}  // namespace sluice
