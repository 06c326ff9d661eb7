// Pattern mappers (src/ops/mapper/content_mappers.cc): the spec's edge cases as a table, parameter
// validation, the text_key slot, pathological inputs, and a golden test on the real documents in
// ../shared/seeds.
//
// Expected outputs (and the golden MD5s) come from a Python model that runs DataJuicer's patterns with the
// `regex` module exactly as datajuicer-ops.md §4 describes; the C++ ops were cross-checked against that model
// on tens of thousands of random and real texts.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "op_harness.h"
#include "ops/text/md5.h"

namespace sluice {
namespace {

using testing::MakeOp;
using testing::ParamList;
using testing::B;
using testing::S;
using testing::L;

// One row per edge case; Map must report a change exactly when the text changes.
TEST(ContentMappers, Cases) {
  const std::vector<testing::MapperCase> cases = {
      // clean_copyright_mapper: only the first block comment counts, and its presence skips the line rule;
      // the IGNORECASE match also takes U+0130 for 'i' (not U+0131).
      {"clean_copyright_mapper", {}, "/* Copyright 2020 ACME */\nint x;", "\nint x;"},
      {"clean_copyright_mapper", {}, "/* note */ /* copyright */", "/* note */ /* copyright */"},
      {"clean_copyright_mapper", {}, "/* COPYRİGHT */x", "x"},
      {"clean_copyright_mapper", {}, "/* copyrıght */x", "/* copyrıght */x"},
      {"clean_copyright_mapper", {}, "a /* copyright", "a /* copyright"},
      {"clean_copyright_mapper", {}, "/*/ copyright */", ""},
      {"clean_copyright_mapper", {}, "/**/x\n# b", "/**/x\n# b"},
      {"clean_copyright_mapper", {}, "# a\n/* c */", "# a\n/* c */"},
      {"clean_copyright_mapper", {}, "// a\n\n# b\n-- c\ncode\n// d", "code\n// d"},
      {"clean_copyright_mapper", {}, "//x\n", ""},
      {"clean_copyright_mapper", {}, "", ""},
      {"clean_copyright_mapper", {}, "\n\n", ""},
      {"clean_copyright_mapper", {}, "  // indented\nx", "  // indented\nx"},
      {"clean_copyright_mapper", {}, "#!\r\nx", "x"},
      {"clean_copyright_mapper", {}, "-x\n--y", "-x\n--y"},
      {"clean_copyright_mapper", {}, "x\n# not leading", "x\n# not leading"},
      // clean_ip_mapper: no boundaries, first alternative wins; IPv6 groups take Unicode digits (\d).
      {"clean_ip_mapper", {{"repl", S("<IP>")}}, "1.2.3.256", "<IP>6"},
      {"clean_ip_mapper", {{"repl", S("<IP>")}}, "10.0.0.1234", "<IP>4"},
      {"clean_ip_mapper", {{"repl", S("<IP>")}}, "300.1.1.1", "30<IP>"},
      {"clean_ip_mapper", {{"repl", S("<IP>")}}, "01.2.3.4", "0<IP>"},
      {"clean_ip_mapper", {{"repl", S("<IP>")}}, "1.2.3", "1.2.3"},
      {"clean_ip_mapper", {{"repl", S("<IP>")}}, "v1.2.3.4.5.6.7.8", "v<IP>.<IP>"},
      {"clean_ip_mapper", {{"repl", S("<IP>")}}, "0.0.0.0:80", "<IP>:80"},
      {"clean_ip_mapper", {{"repl", S("<IP>")}}, "a:b:c:d:e:f:1:2", "<IP>"},
      {"clean_ip_mapper", {{"repl", S("<IP>")}}, "::1", "::1"},
      {"clean_ip_mapper", {{"repl", S("<IP>")}}, "fe80:0:0:0:202:b3ff:fe1e:8329/64", "<IP>/64"},
      {"clean_ip_mapper", {{"repl", S("<IP>")}}, "１２３４:1:2:3:4:5:6:7", "<IP>"},
      {"clean_ip_mapper", {{"repl", S("<IP>")}}, "12345:1:2:3:4:5:6:7", "1<IP>"},
      {"clean_ip_mapper", {{"repl", S("<IP>")}}, "1.2.3.4\n5.6.7.8", "<IP>\n<IP>"},
      {"clean_ip_mapper", {{"repl", S("<IP>")}}, "", ""},
      {"clean_ip_mapper", {{"repl", S("[\\1]")}}, "a:b:c:d:e:f:1:2 and 1.2.3.4", "[1:] and []"},
      {"clean_ip_mapper", {{"pattern", S("r'\\d+'")}, {"repl", S("#")}}, "port 8080 ١٢", "port # #"},
      {"clean_ip_mapper", {}, "host 192.168.0.1, ok", "host , ok"},
      // remove_specific_chars_mapper: "[" + "|".join(chars) + "]": the pipe joins the class, and class syntax
      // (ranges, a leading ^, escapes) is live.
      {"remove_specific_chars_mapper", {}, "a|b-c ◆x● ^d é😊\n1２", "ab-c x ^d é😊\n1２"},
      {"remove_specific_chars_mapper", {{"chars_to_remove", L({"a", "b"})}}, "a|b-c ◆x● ^d é😊\n1２", "-c ◆x● ^d é😊\n1２"},
      {"remove_specific_chars_mapper", {{"chars_to_remove", L({"ab"})}}, "a|b-c ◆x● ^d é😊\n1２", "|-c ◆x● ^d é😊\n1２"},
      {"remove_specific_chars_mapper", {{"chars_to_remove", S("a-c")}}, "a|b-c ◆x● ^d é😊\n1２", "b- ◆x● ^d é😊\n1２"},
      {"remove_specific_chars_mapper", {{"chars_to_remove", L({"a-c"})}}, "a|b-c ◆x● ^d é😊\n1２", "|- ◆x● ^d é😊\n1２"},
      {"remove_specific_chars_mapper", {{"chars_to_remove", L({"^a"})}}, "a|b-c ◆x● ^d é😊\n1２", "a"},
      {"remove_specific_chars_mapper", {{"chars_to_remove", S("")}}, "a|b-c ◆x● ^d é😊\n1２", "a|b-c ◆x● ^d é😊\n1２"},
      {"remove_specific_chars_mapper", {{"chars_to_remove", L({})}}, "a|b-c ◆x● ^d é😊\n1２", "a|b-c ◆x● ^d é😊\n1２"},
      {"remove_specific_chars_mapper", {{"chars_to_remove", L({"\\d"})}}, "a|b-c ◆x● ^d é😊\n1２", "a|b-c ◆x● ^d é😊\n"},
      {"remove_specific_chars_mapper", {{"chars_to_remove", L({"é", "😊", "\n"})}}, "a|b-c ◆x● ^d é😊\n1２", "ab-c ◆x● ^d 1２"},
      // Sets of 5, 6 and 7 distinct UTF-8 lead bytes (a b c | and E3/EF for 。/，): the 6-lead set once kept '，'.
      {"remove_specific_chars_mapper", {{"chars_to_remove", L({"。", "abc"})}}, "a，b。c|d e", "，d e"},
      {"remove_specific_chars_mapper", {{"chars_to_remove", L({"。", "，", "abc"})}}, "a，b。c|d e", "d e"},
      {"remove_specific_chars_mapper", {{"chars_to_remove", L({"。", "，", "abcd"})}}, "a，b。c|d e", " e"},
      // replace_content_mapper: patterns in order (each sees the previous output), templates, r'...' wrapper,
      // Python's empty-match rules and Unicode \d / \b.
      {"replace_content_mapper", {{"pattern", S("\\d+")}, {"repl", S("<N>")}}, "a1b22c ٣", "a<N>b<N>c <N>"},
      {"replace_content_mapper", {{"pattern", L({"a", "b"})}, {"repl", L({"b", "c"})}}, "ab", "cc"},
      {"replace_content_mapper", {{"pattern", L({"(\\w+)@(\\w+)"})}, {"repl", L({"\\2 at \\1", "unused"})}}, "mail me@home now", "mail home at me now"},
      {"replace_content_mapper", {{"pattern", S("r\"a.b\"")}, {"repl", S("X")}}, "a\nb axb", "X X"},
      {"replace_content_mapper", {{"pattern", S("x*")}, {"repl", S("-")}}, "abxd", "-a-b--d-"},
      {"replace_content_mapper", {{"pattern", S("\\bis\\b")}, {"repl", S("IS")}}, "this is 中is is_", "this IS 中is is_"},
      {"replace_content_mapper", {}, "unchanged 123", "unchanged 123"},
      {"replace_content_mapper", {{"pattern", L({})}, {"repl", L({})}}, "unchanged 123", "unchanged 123"},
  };
  testing::ExpectMapperCases(cases);
}

// An op instance is reused across samples: no state may leak from one text to the next.
TEST(ContentMappers, InstanceReuse) {
  auto op = MakeOp("remove_specific_chars_mapper");
  auto& m = static_cast<Mapper&>(*op);
  std::string a = "x◆y", b = "plain", c = "●";
  EXPECT_TRUE(m.Map(a));
  EXPECT_FALSE(m.Map(b));
  EXPECT_TRUE(m.Map(c));
  EXPECT_EQ(a, "xy");
  EXPECT_EQ(b, "plain");
  EXPECT_EQ(c, "");
}

TEST(ContentMappers, ReadsTheTextKeySlot) {
  testing::Dataset ds("content");
  ASSERT_EQ(ds.Add(R"({"text":"1.2.3.4","content":"host 10.0.0.1 up"})"), ParseStatus::kOk);
  auto op = MakeOp("clean_ip_mapper", {{"repl", S("<IP>")}});
  ds.Run(*op);
  EXPECT_EQ(ds[0].text(0), "host <IP> up");
  EXPECT_NE(ds.Json(0).find(R"("text":"1.2.3.4")"), std::string::npos);
}

ErrorKind KindOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.kind();
  }
  return ErrorKind::kInternal;  // "no error"
}

TEST(ContentMappers, InvalidParametersAreUsageErrors) {
  auto usage = [](const std::string& op, const ParamList& p) { return KindOf([&] { MakeOp(op, p); }); };
  EXPECT_EQ(usage("clean_ip_mapper", {{"pattern", S("(")}}), ErrorKind::kUsage);
  EXPECT_EQ(usage("clean_ip_mapper", {{"repl", S("\\2")}}), ErrorKind::kUsage);  // the default has one group
  EXPECT_EQ(usage("clean_ip_mapper", {{"repl", S("\\1")}}), ErrorKind::kInternal);
  EXPECT_EQ(usage("replace_content_mapper", {{"pattern", L({"a", "b"})}, {"repl", L({"x"})}}), ErrorKind::kUsage);
  EXPECT_EQ(usage("replace_content_mapper", {{"pattern", S("a")}, {"repl", L({})}}), ErrorKind::kUsage);
  EXPECT_EQ(usage("replace_content_mapper", {{"pattern", L({"a", "[b"})}}), ErrorKind::kUsage);
  EXPECT_EQ(usage("replace_content_mapper", {{"pattern", S("(a)")}, {"repl", S("\\g<x>")}}), ErrorKind::kUsage);
  EXPECT_EQ(usage("replace_content_mapper", {{"pattern", S("a")}, {"repl", B(true)}}), ErrorKind::kUsage);
  // A repl list without patterns is never used.
  EXPECT_EQ(usage("replace_content_mapper", {{"repl", L({})}}), ErrorKind::kInternal);
  EXPECT_EQ(usage("remove_specific_chars_mapper", {{"chars_to_remove", L({""})}}), ErrorKind::kUsage);  // "[]"
  EXPECT_EQ(usage("remove_specific_chars_mapper", {{"chars_to_remove", L({"z-a"})}}), ErrorKind::kUsage);
  EXPECT_EQ(usage("clean_copyright_mapper", {{"pattern", S("x")}}), ErrorKind::kUsage);  // no such parameter
}

TEST(ContentMappers, RegisteredWithDataJuicerParameters) {
  auto names = [](const char* op) {
    std::vector<std::string> out;
    for (const auto& p : FindOp(op)->params) out.push_back(p.name + "=" + p.default_value.ToJson());
    return out;
  };
  EXPECT_EQ(names("clean_copyright_mapper"), std::vector<std::string>{});
  EXPECT_EQ(names("clean_ip_mapper"), (std::vector<std::string>{"pattern=null", "repl=\"\""}));
  EXPECT_EQ(names("remove_specific_chars_mapper"), std::vector<std::string>{"chars_to_remove=\"◆●■►▼▲▴∆▻▷❖♡□\""});
  EXPECT_EQ(names("replace_content_mapper"), (std::vector<std::string>{"pattern=null", "repl=\"\""}));
}

// Inputs on which a naive scan would be quadratic finish at once; the IP candidates are tried from the
// '.'/':' triggers only.
TEST(ContentMappers, PathologicalInputsAreLinear) {
  const std::vector<std::pair<const char*, std::string>> inputs = {
      {"clean_ip_mapper", std::string(1 << 20, '1')},
      {"clean_ip_mapper", [] { std::string s; for (int i = 0; i < (1 << 19); ++i) s += "1."; return s; }()},
      {"clean_ip_mapper", [] { std::string s; for (int i = 0; i < (1 << 19); ++i) s += "a:"; return s; }()},
      {"clean_copyright_mapper", [] { std::string s; for (int i = 0; i < (1 << 19); ++i) s += "/*"; return s; }()},
      {"clean_copyright_mapper", [] { std::string s; for (int i = 0; i < (1 << 18); ++i) s += "//x\n"; return s; }()},
      {"remove_specific_chars_mapper", [] { std::string s; for (int i = 0; i < (1 << 18); ++i) s += "a◆"; return s; }()},
  };
  for (const auto& [op_name, text] : inputs) {
    auto op = MakeOp(op_name);
    std::string t = text;
    auto t0 = std::chrono::steady_clock::now();
    static_cast<Mapper&>(*op).Map(t);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(s, 2.0) << op_name << " on " << text.substr(0, 8) << "...";
  }
}

struct Golden {
  const char* seed;
  std::vector<std::pair<const char*, ParamList>> ops;  // applied in order
  size_t bytes;
  const char* md5;
};

// Real documents (Chinese and English Markdown with headings, code, IP addresses, symbols); outputs pinned
// by size and MD5. On a mismatch the output is written to the test's temp dir for diffing.
TEST(ContentMappers, GoldenOnSeedDocuments) {
  const std::vector<Golden> golden = {
      {"000_3745a414c4301d54.txt", {{"clean_copyright_mapper", {}}}, 12318, "c8315d0c3c3c1fe3ecdb3f05bc27dc2b"},
      {"001_52dbaf6f81e6e114.txt", {{"clean_copyright_mapper", {}}}, 17135, "b1c55ff1f802325956af8d8105428087"},
      {"002_9440e94c8b9ca581.txt", {{"clean_copyright_mapper", {}}}, 7733, "020795ef3bc9f06f94900545ce2a34be"},
      {"003_f0fee1d4bec4bb14.txt", {{"clean_copyright_mapper", {}}}, 19673, "57ec7ccbf0d80ba5cf1c1ee8bf2e9ad0"},
      {"004_315147a9e2ac19ee.txt", {{"clean_copyright_mapper", {}}}, 9173, "b179177e37549b177bdfd30ff7f5bd1c"},
      {"000_3745a414c4301d54.txt", {{"clean_ip_mapper", {{"repl", S("<IP>")}}}}, 12343, "0e9e6e07d801035df451bd67eb74d33a"},
      {"001_52dbaf6f81e6e114.txt", {{"clean_ip_mapper", {{"repl", S("<IP>")}}}}, 17195, "90ac26a63cb9a5717e7073524cd836d8"},
      {"002_9440e94c8b9ca581.txt", {{"clean_ip_mapper", {{"repl", S("<IP>")}}}}, 7761, "672a8daa2af1ec4a6b83c000caa2f005"},
      {"003_f0fee1d4bec4bb14.txt", {{"clean_ip_mapper", {{"repl", S("<IP>")}}}}, 19750, "ba5d5d67e2c1ccb0397eee1686d5f98d"},
      {"004_315147a9e2ac19ee.txt", {{"clean_ip_mapper", {{"repl", S("<IP>")}}}}, 9219, "f16c0f8a5885b3c07c76464a24f67335"},
      {"000_3745a414c4301d54.txt", {{"remove_specific_chars_mapper", {}}}, 12343, "0e9e6e07d801035df451bd67eb74d33a"},
      {"001_52dbaf6f81e6e114.txt", {{"remove_specific_chars_mapper", {}}}, 17129, "17b3492b05bdf39034dd6ddfdc779ee5"},
      {"002_9440e94c8b9ca581.txt", {{"remove_specific_chars_mapper", {}}}, 7761, "97f24faba017fc62da92abe54576dbef"},
      {"003_f0fee1d4bec4bb14.txt", {{"remove_specific_chars_mapper", {}}}, 19684, "7e61141505904fb96a849e19fc68e07e"},
      {"004_315147a9e2ac19ee.txt", {{"remove_specific_chars_mapper", {}}}, 9189, "d387c18a4509a87b397315315594d80a"},
      {"000_3745a414c4301d54.txt", {{"remove_specific_chars_mapper", {{"chars_to_remove", L({"#", "*", "`"})}}}}, 11940, "45171f78befc1fc8d623caf9aa61ca3f"},
      {"001_52dbaf6f81e6e114.txt", {{"remove_specific_chars_mapper", {{"chars_to_remove", L({"#", "*", "`"})}}}}, 16288, "c2182917b71e6068760e711e1ab3a955"},
      {"002_9440e94c8b9ca581.txt", {{"remove_specific_chars_mapper", {{"chars_to_remove", L({"#", "*", "`"})}}}}, 7539, "ff91cceb7c3dd15b8019aff82ecb486d"},
      {"003_f0fee1d4bec4bb14.txt", {{"remove_specific_chars_mapper", {{"chars_to_remove", L({"#", "*", "`"})}}}}, 18843, "b0f87995b75d55c9833f4ca55618677a"},
      {"004_315147a9e2ac19ee.txt", {{"remove_specific_chars_mapper", {{"chars_to_remove", L({"#", "*", "`"})}}}}, 8889, "7c983d48cdf4a09d40deca9361954b2a"},
      {"000_3745a414c4301d54.txt", {{"replace_content_mapper", {{"pattern", L({"\\d+(?:\\.\\d+)*", "(\\w+)\\.py\\b", "\\s{2,}"})}, {"repl", L({"<NUM>", "\\1.PY", " "})}}}}, 11451, "1c8f066d40deb41db898e11df8be4e30"},
      {"001_52dbaf6f81e6e114.txt", {{"replace_content_mapper", {{"pattern", L({"\\d+(?:\\.\\d+)*", "(\\w+)\\.py\\b", "\\s{2,}"})}, {"repl", L({"<NUM>", "\\1.PY", " "})}}}}, 16871, "d71007c173a244a63bd5d6ddeaef1fbf"},
      {"002_9440e94c8b9ca581.txt", {{"replace_content_mapper", {{"pattern", L({"\\d+(?:\\.\\d+)*", "(\\w+)\\.py\\b", "\\s{2,}"})}, {"repl", L({"<NUM>", "\\1.PY", " "})}}}}, 7311, "91622dea65f44a50d80feb7b040caa7b"},
      {"003_f0fee1d4bec4bb14.txt", {{"replace_content_mapper", {{"pattern", L({"\\d+(?:\\.\\d+)*", "(\\w+)\\.py\\b", "\\s{2,}"})}, {"repl", L({"<NUM>", "\\1.PY", " "})}}}}, 19426, "ded085b55c3b999f37c2b335f212af0e"},
      {"004_315147a9e2ac19ee.txt", {{"replace_content_mapper", {{"pattern", L({"\\d+(?:\\.\\d+)*", "(\\w+)\\.py\\b", "\\s{2,}"})}, {"repl", L({"<NUM>", "\\1.PY", " "})}}}}, 9379, "2d64e39b37b6a74bbb70eb8eb45cafdd"},
  };
  for (const Golden& g : golden) {
    std::string path = std::string(SLUICE_SOURCE_DIR) + "/../shared/seeds/" + g.seed;
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in.good()) << path;
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    std::string name;
    for (const auto& [op_name, params] : g.ops) {
      auto op = MakeOp(op_name, params);
      static_cast<Mapper&>(*op).Map(text);
      name += std::string(name.empty() ? "" : "+") + op_name;
    }
    if (text.size() != g.bytes || text::Md5Hex(text) != g.md5) {
      std::string out = ::testing::TempDir() + "golden_" + g.ops[0].first + "_" + g.seed;
      std::ofstream(out, std::ios::binary) << text;
      ADD_FAILURE() << name << " on " << g.seed << ": " << text.size() << " bytes, md5 " << text::Md5Hex(text)
                    << "; expected " << g.bytes << " bytes, md5 " << g.md5 << " (output written to " << out << ")";
    }
  }
}

}  // namespace
}  // namespace sluice
