// LaTeX mappers (src/ops/mapper/latex_mappers.cc): the spec's edge cases as a table, parameter handling,
// pathological inputs (linear where DataJuicer's regexes backtrack quadratically), and a golden test on real
// LaTeX (the two arXiv documents of DataJuicer's tests, in ../shared/conformance) and the Markdown documents
// in ../shared/seeds, op by op and as the RedPajama-style chain.
//
// Expected outputs (and the golden MD5s) come from a Python model that runs DataJuicer's patterns with the
// `regex` module exactly as datajuicer-ops.md §4 describes; the C++ ops were cross-checked against that model
// on tens of thousands of random and real texts.
#include <gtest/gtest.h>

#include <simdjson.h>

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
using testing::L;

// One row per edge case; Map must report a change exactly when the text changes.
TEST(LatexMappers, Cases) {
  const std::vector<testing::MapperCase> cases = {
      // expand_macro_mapper: definitions must end their line; the following character is consumed; later
      // definitions override values but keep their place; values are literal; definition lines expand too.
      {"expand_macro_mapper", {}, "\\newcommand{\\a}{x}\n\\a \\ab \\a", "\\newcommand{x}{x}\nx \\ab \\a"},
      {"expand_macro_mapper", {}, "\\newcommand{\\x}{V}\n\\x\\x;", "\\newcommand{V}{V}\nV\\x;"},
      {"expand_macro_mapper", {}, "\\def \\b {v}\n\\b.", "\\def v {v}\nv."},
      {"expand_macro_mapper", {}, "\\def\n\\b\n{v}\n\\b.", "\\def\nv\n{v}\nv."},
      {"expand_macro_mapper", {}, "\\newcommand{\\c}{v}%\n\\c.", "\\newcommand{\\c}{v}%\n\\c."},
      {"expand_macro_mapper", {}, "\\newcommand*{\\c}{v}\n\\c.", "\\newcommand*{v}{v}\nv."},
      {"expand_macro_mapper", {}, "\\newcommand\\c{v}\n\\c.", "\\newcommand\\c{v}\n\\c."},
      {"expand_macro_mapper", {}, "\\newcommand{\\c}[1]{v#1}\n\\c.", "\\newcommand{\\c}[1]{v#1}\n\\c."},
      {"expand_macro_mapper", {}, "\\newcommand{\\a}{1}\n\\def\\a{2}\n\\newcommand{\\b}{\\a}\n\\a.\\b.", "\\newcommand{2}{1}\n\\def2{2}\n\\newcommand{\\a}{2}\n2.\\a."},
      {"expand_macro_mapper", {}, "\\newcommand{\\a}{\\b\\1 \\g<0>}\n\\a.", "\\newcommand{\\b\\1 \\g<0>}{\\b\\1 \\g<0>}\n\\b\\1 \\g<0>."},
      {"expand_macro_mapper", {}, "\\newcommand{\\a}{é中😊\t}\n\\a.", "\\newcommand{é中😊\t}{é中😊\t}\né中😊\t."},
      {"expand_macro_mapper", {}, "\\newcommand{\\a}{x}\r\n\\a.", "\\newcommand{\\a}{x}\r\n\\a."},
      {"expand_macro_mapper", {}, "\\newcommand{\\a}{}\n[\\a]", "\\newcommand{}{}\n[]"},
      {"expand_macro_mapper", {}, "\\newcommand{\\a}{x}\\newcommand{\\b}{y}\n\\a.\\b.", "\\newcommand{x}\\newcommand{\\b}{y}{x}\\newcommand{\\b}{y}\nx}\\newcommand{\\b}{y.\\b."},
      {"expand_macro_mapper", {}, "\\newcommand{\\a}{x}\n\\a\n\\a_\\aé", "\\newcommand{x}{x}\nx\nx_xé"},
      {"expand_macro_mapper", {}, "no macros \\a.", "no macros \\a."},
      {"expand_macro_mapper", {}, "", ""},
      // remove_bibliography_mapper: cut at the first marker; \bibliography{ needs a '}' somewhere after it.
      {"remove_bibliography_mapper", {}, "a\\bibliography{x}\nb", "a"},
      {"remove_bibliography_mapper", {}, "a\\bibliographystyle{x}\n", "a\\bibliographystyle{x}\n"},
      {"remove_bibliography_mapper", {}, "a\\bibliography{x", "a\\bibliography{x"},
      {"remove_bibliography_mapper", {}, "a\\bibliography{ \\appendix", "a\\bibliography{ "},
      {"remove_bibliography_mapper", {}, "\\appendixB", ""},
      {"remove_bibliography_mapper", {}, "x\\begin{REFERENCES}y", "x"},
      {"remove_bibliography_mapper", {}, "x\\begin{References}y", "x\\begin{References}y"},
      {"remove_bibliography_mapper", {}, "x\\begin{thebibliography}{9}\n\\bibitem{a}", "x"},
      {"remove_bibliography_mapper", {}, "x\\begin{references}", "x"},
      {"remove_bibliography_mapper", {}, "x\\bibliography {a}", "x\\bibliography {a}"},
      {"remove_bibliography_mapper", {}, "", ""},
      // remove_comments_mapper: [^\\]%.+$ eats the character before the % (or the newline before a %-line),
      // then ^%.*\n? removes whole %-lines.
      {"remove_comments_mapper", {}, "abc % x", "abc"},
      {"remove_comments_mapper", {}, "a%b", ""},
      {"remove_comments_mapper", {}, "a\\%b", "a\\%b"},
      {"remove_comments_mapper", {}, "x\n% comment\ny", "x\ny"},
      {"remove_comments_mapper", {}, "% first\nx", "x"},
      {"remove_comments_mapper", {}, "x\n%\ny", "x\ny"},
      {"remove_comments_mapper", {}, "50% of\nall", "5\nall"},
      {"remove_comments_mapper", {}, "a\\%%b", "a\\"},
      {"remove_comments_mapper", {}, "%a\n%b\n", ""},
      {"remove_comments_mapper", {}, "a%\nb%c\n", "a%\n\n"},
      {"remove_comments_mapper", {}, "é%x\ny", "\ny"},
      {"remove_comments_mapper", {}, "x %y\r\nz", "x\nz"},
      {"remove_comments_mapper", {}, "%", ""},
      {"remove_comments_mapper", {}, "", ""},
      {"remove_comments_mapper", {{"inline", B(false)}}, "a % b\n% c\nd", "a % b\nd"},
      {"remove_comments_mapper", {{"multiline", B(false)}}, "% a\nb % c\n% d", "% a\nb"},
      {"remove_comments_mapper", {{"doc_type", L({"tex", "md"})}}, "a % b", "a"},
      // remove_header_mapper: text before the first header command goes; a lone \paragraph never counts;
      // header-less texts stay whatever drop_no_head says.
      {"remove_header_mapper", {}, "pre\\section{A}\nbody", "\\section{A}\nbody"},
      {"remove_header_mapper", {}, "pre\\section*[s]{A} b", "\\section*[s]{A} b"},
      {"remove_header_mapper", {}, "pre\\paragraph{A}\nx", "pre\\paragraph{A}\nx"},
      {"remove_header_mapper", {}, "pre\\paragraph{A}\\subparagraph{B} x", "\\paragraph{A}\\subparagraph{B} x"},
      {"remove_header_mapper", {}, "pre\\paragraph*[o]{A}x}\\subparagraph{B}", "\\paragraph*[o]{A}x}\\subparagraph{B}"},
      {"remove_header_mapper", {}, "pre\\sections{A}", "pre\\sections{A}"},
      {"remove_header_mapper", {}, "no header", "no header"},
      {"remove_header_mapper", {}, "pre\\section[x", "pre\\section[x"},
      {"remove_header_mapper", {}, "pre\\section[x]y]{z}", "\\section[x]y]{z}"},
      {"remove_header_mapper", {}, "\\section{A}", "\\section{A}"},
      {"remove_header_mapper", {}, "pre\\section{", "pre\\section{"},
      {"remove_header_mapper", {}, "a\\subsection x{y}", "a\\subsection x{y}"},
      {"remove_header_mapper", {}, "p\\part{1}\\chapter{2}", "\\part{1}\\chapter{2}"},
      {"remove_header_mapper", {}, "p\\subsubsection{é}", "\\subsubsection{é}"},
      {"remove_header_mapper", {}, "p\\chapter\n{x}", "p\\chapter\n{x}"},
      {"remove_header_mapper", {}, "p\\section{a\nb}", "\\section{a\nb}"},
      {"remove_header_mapper", {}, "p\\section[a]{b", "p\\section[a]{b"},
      {"remove_header_mapper", {{"drop_no_head", B(false)}}, "no header", "no header"},
      {"remove_header_mapper", {{"drop_no_head", B(false)}}, "x\\section{a}", "\\section{a}"},
  };
  testing::ExpectMapperCases(cases);
}

// An op instance is reused across samples: macros of one text must not apply to the next.
TEST(LatexMappers, InstanceReuse) {
  auto op = MakeOp("expand_macro_mapper");
  auto& m = static_cast<Mapper&>(*op);
  std::string a = "\\newcommand{\\a}{x}\n\\a.", b = "\\a.", c = "\\def\\a{y}\n\\a.";
  EXPECT_TRUE(m.Map(a));
  EXPECT_FALSE(m.Map(b));
  EXPECT_TRUE(m.Map(c));
  EXPECT_EQ(a, "\\newcommand{x}{x}\nx.");
  EXPECT_EQ(b, "\\a.");
  EXPECT_EQ(c, "\\defy{y}\ny.");
}

TEST(LatexMappers, RegisteredWithDataJuicerParameters) {
  auto names = [](const char* op) {
    std::vector<std::string> out;
    for (const auto& p : FindOp(op)->params) out.push_back(p.name + "=" + p.default_value.ToJson());
    return out;
  };
  EXPECT_EQ(names("expand_macro_mapper"), std::vector<std::string>{});
  EXPECT_EQ(names("remove_bibliography_mapper"), std::vector<std::string>{});
  EXPECT_EQ(names("remove_comments_mapper"),
            (std::vector<std::string>{"doc_type=\"tex\"", "inline=true", "multiline=true"}));
  EXPECT_EQ(names("remove_header_mapper"), std::vector<std::string>{"drop_no_head=true"});
  auto kind = [](const std::string& op, const ParamList& p) {
    try {
      MakeOp(op, p);
    } catch (const Error& e) {
      return e.kind();
    }
    return ErrorKind::kInternal;  // "no error"
  };
  EXPECT_EQ(kind("remove_comments_mapper", {{"doc_type", L({"tex", "md"})}}), ErrorKind::kInternal);
  EXPECT_EQ(kind("remove_comments_mapper", {{"inline", ParamValue::String("yes")}}), ErrorKind::kUsage);
  EXPECT_EQ(kind("remove_header_mapper", {{"drop_no_head", ParamValue()}}), ErrorKind::kUsage);
  EXPECT_EQ(kind("expand_macro_mapper", {{"inline", B(true)}}), ErrorKind::kUsage);  // no such parameter
}

// Inputs on which DataJuicer's regexes (or a naive scan) take quadratic time.
TEST(LatexMappers, PathologicalInputsAreLinear) {
  auto repeat = [](std::string_view s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
  };
  const std::vector<std::pair<const char*, std::string>> inputs = {
      {"remove_header_mapper", repeat("\\paragraph{", 1 << 17)},
      {"remove_header_mapper", repeat("\\section[", 1 << 17)},
      {"remove_header_mapper", repeat("}\\subparagraph[", 1 << 16) + "\\paragraph{x"},
      {"remove_bibliography_mapper", repeat("\\bibliography{", 1 << 17)},
      {"remove_comments_mapper", repeat("a%", 1 << 19)},
      {"remove_comments_mapper", std::string(1 << 20, '%')},
      {"expand_macro_mapper", repeat("\\newcommand{\\a}{", 1 << 16)},
      {"expand_macro_mapper", repeat("\\def \\a {", 1 << 16)},
  };
  for (const auto& [op_name, text] : inputs) {
    auto op = MakeOp(op_name);
    std::string t = text;
    auto t0 = std::chrono::steady_clock::now();
    static_cast<Mapper&>(*op).Map(t);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(s, 2.0) << op_name << " on " << text.substr(0, 16) << "...";
  }
}

// A value used many times can grow a text geometrically; past 256 MiB the sample fails (and is dropped
// under skip_op_error) instead of exhausting memory.
TEST(LatexMappers, ExpansionIsBounded) {
  auto op = MakeOp("expand_macro_mapper");
  std::string text = "\\newcommand{\\a}{" + std::string(1 << 20, 'v') + "}\n";
  for (int i = 0; i < 300; ++i) text += "\\a ";
  EXPECT_THROW(static_cast<Mapper&>(*op).Map(text), Error);
}

// The input text of the first vector of `op` in dj_op_vectors.jsonl.
std::string VectorDocument(std::string_view op) {
  std::ifstream in(std::string(SLUICE_SOURCE_DIR) + "/../shared/conformance/dj_op_vectors.jsonl");
  simdjson::dom::parser parser;
  std::string line;
  while (std::getline(in, line)) {
    simdjson::dom::element v = parser.parse(line);
    if (std::string_view(v["op"].get_string()) == op) return std::string(std::string_view(v["input"].at(0)["text"]));
  }
  ADD_FAILURE() << "no vector for " << op;
  return "";
}

struct Golden {
  const char* doc;  // a seed file name, or "vector:<op>" for the LaTeX document of that op's vector
  std::vector<std::pair<const char*, ParamList>> ops;  // applied in order
  size_t bytes;
  const char* md5;
};

TEST(LatexMappers, GoldenOnRealDocuments) {
  const std::vector<Golden> golden = {
      {"vector:expand_macro_mapper", {{"expand_macro_mapper", {}}}, 2680, "817515f870a24e16ca1dc7fccf7b1dcf"},
      {"vector:remove_comments_mapper", {{"expand_macro_mapper", {}}}, 2572, "edf0e6275e6f3940fe97602fcde751b6"},
      {"000_3745a414c4301d54.txt", {{"expand_macro_mapper", {}}}, 12343, "0e9e6e07d801035df451bd67eb74d33a"},
      {"001_52dbaf6f81e6e114.txt", {{"expand_macro_mapper", {}}}, 17195, "90ac26a63cb9a5717e7073524cd836d8"},
      {"002_9440e94c8b9ca581.txt", {{"expand_macro_mapper", {}}}, 7770, "bc3641f3ba6534b2bd95e178532a93a4"},
      {"003_f0fee1d4bec4bb14.txt", {{"expand_macro_mapper", {}}}, 19750, "ba5d5d67e2c1ccb0397eee1686d5f98d"},
      {"004_315147a9e2ac19ee.txt", {{"expand_macro_mapper", {}}}, 9219, "f16c0f8a5885b3c07c76464a24f67335"},
      {"vector:expand_macro_mapper", {{"remove_bibliography_mapper", {}}}, 2311, "b22f5c6209b7b6404f1ce6c3404735bd"},
      {"vector:remove_comments_mapper", {{"remove_bibliography_mapper", {}}}, 2480, "09c8a0f31ad74e619f5fc2a79bf121f4"},
      {"000_3745a414c4301d54.txt", {{"remove_bibliography_mapper", {}}}, 12343, "0e9e6e07d801035df451bd67eb74d33a"},
      {"001_52dbaf6f81e6e114.txt", {{"remove_bibliography_mapper", {}}}, 17195, "90ac26a63cb9a5717e7073524cd836d8"},
      {"002_9440e94c8b9ca581.txt", {{"remove_bibliography_mapper", {}}}, 7770, "bc3641f3ba6534b2bd95e178532a93a4"},
      {"003_f0fee1d4bec4bb14.txt", {{"remove_bibliography_mapper", {}}}, 19750, "ba5d5d67e2c1ccb0397eee1686d5f98d"},
      {"004_315147a9e2ac19ee.txt", {{"remove_bibliography_mapper", {}}}, 9219, "f16c0f8a5885b3c07c76464a24f67335"},
      {"vector:expand_macro_mapper", {{"remove_comments_mapper", {}}}, 2321, "c1d4439a84c1c5405a89aa412b13c809"},
      {"vector:remove_comments_mapper", {{"remove_comments_mapper", {}}}, 1863, "8e0dbcc6f0b133e86df14ce2ce8ca774"},
      {"000_3745a414c4301d54.txt", {{"remove_comments_mapper", {}}}, 12339, "b3e4ff994a94c183c22ea8c81db14c5b"},
      {"001_52dbaf6f81e6e114.txt", {{"remove_comments_mapper", {}}}, 17195, "90ac26a63cb9a5717e7073524cd836d8"},
      {"002_9440e94c8b9ca581.txt", {{"remove_comments_mapper", {}}}, 7770, "bc3641f3ba6534b2bd95e178532a93a4"},
      {"003_f0fee1d4bec4bb14.txt", {{"remove_comments_mapper", {}}}, 19750, "ba5d5d67e2c1ccb0397eee1686d5f98d"},
      {"004_315147a9e2ac19ee.txt", {{"remove_comments_mapper", {}}}, 9219, "f16c0f8a5885b3c07c76464a24f67335"},
      {"vector:expand_macro_mapper", {{"remove_header_mapper", {}}}, 1681, "bae3f85f34d38a7cf1556740ba5b9fa2"},
      {"vector:remove_comments_mapper", {{"remove_header_mapper", {}}}, 1347, "e6e842800709c775902be26e0dfd6415"},
      {"000_3745a414c4301d54.txt", {{"remove_header_mapper", {}}}, 12343, "0e9e6e07d801035df451bd67eb74d33a"},
      {"001_52dbaf6f81e6e114.txt", {{"remove_header_mapper", {}}}, 17195, "90ac26a63cb9a5717e7073524cd836d8"},
      {"002_9440e94c8b9ca581.txt", {{"remove_header_mapper", {}}}, 7770, "bc3641f3ba6534b2bd95e178532a93a4"},
      {"003_f0fee1d4bec4bb14.txt", {{"remove_header_mapper", {}}}, 19750, "ba5d5d67e2c1ccb0397eee1686d5f98d"},
      {"004_315147a9e2ac19ee.txt", {{"remove_header_mapper", {}}}, 9219, "f16c0f8a5885b3c07c76464a24f67335"},
      {"vector:expand_macro_mapper", {{"remove_comments_mapper", {}}, {"remove_header_mapper", {}}, {"remove_bibliography_mapper", {}}, {"expand_macro_mapper", {}}}, 1305, "f009c36409a1fddd92eeb72b3f538e53"},
      {"vector:remove_comments_mapper", {{"remove_comments_mapper", {}}, {"remove_header_mapper", {}}, {"remove_bibliography_mapper", {}}, {"expand_macro_mapper", {}}}, 1255, "ac3689f10601d6815ab7354ff2d970b2"},
  };
  for (const Golden& g : golden) {
    std::string doc = g.doc, text;
    if (doc.starts_with("vector:")) {
      text = VectorDocument(doc.substr(7));
    } else {
      std::ifstream in(std::string(SLUICE_SOURCE_DIR) + "/../shared/seeds/" + doc, std::ios::binary);
      ASSERT_TRUE(in.good()) << doc;
      std::stringstream ss;
      ss << in.rdbuf();
      text = ss.str();
    }
    std::string name;
    for (const auto& [op_name, params] : g.ops) {
      auto op = MakeOp(op_name, params);
      static_cast<Mapper&>(*op).Map(text);
      name += std::string(name.empty() ? "" : "+") + op_name;
    }
    if (text.size() != g.bytes || text::Md5Hex(text) != g.md5) {
      std::string out = ::testing::TempDir() + "golden_" + g.ops[0].first + "_" + doc.substr(doc.find(':') + 1);
      std::ofstream(out, std::ios::binary) << text;
      ADD_FAILURE() << name << " on " << doc << ": " << text.size() << " bytes, md5 " << text::Md5Hex(text)
                    << "; expected " << g.bytes << " bytes, md5 " << g.md5 << " (output written to " << out << ")";
    }
  }
}

}  // namespace
}  // namespace sluice
