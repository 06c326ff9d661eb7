// Streaming table reading: RFC 4180 quoting, TSV, JSONL keys, records across read blocks, and the errors
// for malformed tables (each names the file and the line).
#include "shard/table.h"

#include "core/error.h"
#include "shard_fixture.h"

namespace sluice::shard {
namespace {

struct TableTest : TempDirTest {
  std::vector<std::pair<std::string, uint64_t>> Keys(const std::string& path, const std::string& key) {
    TableReader r(Env::Default(), path, key);
    std::vector<std::pair<std::string, uint64_t>> out;
    while (r.Next()) out.emplace_back(std::string(r.key()), r.line());
    return out;
  }
  std::string ErrorOf(const std::string& path, const std::string& key) {
    try {
      Keys(path, key);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
};

using KL = std::vector<std::pair<std::string, uint64_t>>;

TEST_F(TableTest, CsvQuotedFieldsHoldDelimitersQuotesAndLineBreaks) {
  std::string p = Write("t.csv",
                        "text,data_id,n\r\n"
                        "\"a, b\",1,x\r\n"
                        "\"say \"\"hi\"\"\nsecond line\",2,y\r\n"
                        "\r\n"
                        "plain,\"3\",z\n"
                        "last,\"4,5\",w");
  EXPECT_EQ(Keys(p, "data_id"), (KL{{"1", 2}, {"2", 3}, {"3", 6}, {"4,5", 7}}));
  TableReader r(Env::Default(), p, "text");
  EXPECT_EQ(r.header(), "text,data_id,n");
  ASSERT_TRUE(r.Next());
  EXPECT_EQ(r.key(), "a, b");
  EXPECT_EQ(r.record(), "\"a, b\",1,x");
  ASSERT_TRUE(r.Next());
  EXPECT_EQ(r.key(), "say \"hi\"\nsecond line");
  EXPECT_EQ(r.record(), "\"say \"\"hi\"\"\nsecond line\",2,y");
}

TEST_F(TableTest, TsvAndJsonl) {
  EXPECT_EQ(Keys(Write("t.tsv", "a\tid\nx,y\t7\n"), "id"), (KL{{"7", 2}}));
  std::string p = Write("t.jsonl", "{\"id\": 12, \"t\": \"x\"}\n\n{\"t\":\"y\",\"id\":\"k\\u00e9\"}\n{\"id\":-3 }\n");
  EXPECT_EQ(Keys(p, "id"), (KL{{"12", 1}, {"k\xc3\xa9", 3}, {"-3", 4}}));
}

TEST_F(TableTest, RecordsSpanningReadBlocks) {
  std::string body = "id,text\n";
  std::string big(700 << 10, 'x');
  for (int i = 0; i < 5; ++i) body += std::to_string(i) + ",\"" + big + "\n" + big + "\"\n";
  auto keys = Keys(Write("big.csv", body), "id");
  ASSERT_EQ(keys.size(), 5u);
  EXPECT_EQ(keys[4], (std::pair<std::string, uint64_t>{"4", 10}));
}

TEST_F(TableTest, MalformedTablesNameFileAndLine) {
  std::string p = Write("missing.csv", "id,text\n1,a\n");
  std::string e = ErrorOf(p, "data_id");
  EXPECT_NE(e.find(p + ":1: no key column 'data_id'"), std::string::npos) << e;
  EXPECT_NE(e.find("columns: id, text"), std::string::npos) << e;
  p = Write("empty.csv", "");
  EXPECT_NE(ErrorOf(p, "id").find(p + ": the file is empty"), std::string::npos);
  p = Write("short.csv", "a,id\n1,2\n3\n");
  e = ErrorOf(p, "id");
  EXPECT_NE(e.find(p + ":3: the record has 1 field(s), no value for key column 'id'"), std::string::npos) << e;
  p = Write("quote.csv", "id,t\n1,\"open\n2,x\n");
  EXPECT_NE(ErrorOf(p, "id").find(p + ":2: unterminated quoted field"), std::string::npos);
  p = Write("j.jsonl", "{\"id\":1}\n{\"other\":2}\n");
  EXPECT_NE(ErrorOf(p, "id").find(p + ":2: no key field 'id'"), std::string::npos);
  p = Write("k.jsonl", "{\"id\":null}\n");
  EXPECT_NE(ErrorOf(p, "id").find(p + ":1: key field 'id' is not a string or a number"), std::string::npos);
  p = Write("n.jsonl", "[1,2]\n");
  EXPECT_NE(ErrorOf(p, "id").find(p + ":1: not a JSON object"), std::string::npos);
  try {
    FormatOfPath("t.parquet");
    ADD_FAILURE();
  } catch (const Error& err) {
    EXPECT_EQ(err.kind(), ErrorKind::kUsage);
  }
}

}  // namespace
}  // namespace sluice::shard
