// DataJuicer conformance: runs every vector of ../shared/conformance/dj_op_vectors.jsonl (format:
// datajuicer-ops.md §9) whose op is registered in sluice, through the real op classes and the real record
// parser/serializer (op_harness.h).
//
//   * vectors that need a model/tokenizer (model_free: false, or tokenization: true) must be rejected at
//     construction with a kUsage error, except those of ops in kTestModels: their outcome depends on the
//     model only through parameters a test can write, so the runner writes such test models, points
//     SLUICE_MODELS_DIR at them and runs the vectors like model-free ones;
//   * ops in kNotImplementable (they need a library Debian 12 does not package) must stay unknown to sluice;
//     their vectors are listed as not implementable, with the reason, apart from unimplemented ones;
//   * mode process: the op runs over `input` as one dataset and the `compare_fields` of the survivors must
//     equal `expected`, in order (sorted by text first when order_insensitive);
//   * mode compute_stats_only: only the stats phase runs; survivors compared as above and, if given,
//     against `expected_stats`;
//   * mode count: only the number of survivors is compared;
//   * modes process_single_raw / process_batched_raw (python mappers): the op's function is called on each
//     input dict directly and the compare_fields of its results must equal `expected`;
//   * expected_error: construction (error_at: init) or running (error_at: run) must throw.
// Any failing vector of a registered op fails the test, unless it is one of the known differences below
// (at most 3, each with its reason, also listed in docs/compatibility.md); the number of vectors run must
// reach the number of model-free vectors of registered ops (so the test cannot pass by running nothing).
// The summary line reads "N passed, M failed".
#include <gtest/gtest.h>

#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "core/error.h"
#include "op_harness.h"
#include "ops/mapper/python_mappers.h"
#include "ops/text/model_files.h"
#include "punkt_fixture.h"
#include "temp_dir.h"
#include "tool_fixtures.h"

namespace sluice {
namespace {

using testing::Dataset;
using testing::MakeOp;
using testing::ParamList;

ParamValue ToParam(simdjson::dom::element e) {
  using T = simdjson::dom::element_type;
  switch (e.type()) {
    case T::NULL_VALUE: return ParamValue();
    case T::BOOL: return ParamValue::Bool(bool(e.get_bool()));
    case T::INT64: return ParamValue::Int(int64_t(e.get_int64()));
    case T::UINT64: return ParamValue::Double(double(uint64_t(e.get_uint64())));
    case T::DOUBLE: return ParamValue::Double(double(e.get_double()));
    case T::STRING: return ParamValue::String(std::string(std::string_view(e.get_string())));
    case T::ARRAY: {
      std::vector<ParamValue> items;
      for (auto x : e.get_array()) items.push_back(ToParam(x));
      return ParamValue::List(std::move(items));
    }
    case T::OBJECT: {
      std::vector<std::pair<std::string, ParamValue>> items;
      for (auto [k, v] : e.get_object()) items.emplace_back(std::string(k), ToParam(v));
      return ParamValue::Map(std::move(items));
    }
  }
  return ParamValue();
}

bool IsNumber(simdjson::dom::element e) { return e.is_int64() || e.is_uint64() || e.is_double(); }

double AsDouble(simdjson::dom::element e) {
  if (e.is_int64()) return static_cast<double>(int64_t(e.get_int64()));
  if (e.is_uint64()) return static_cast<double>(uint64_t(e.get_uint64()));
  return double(e.get_double());
}

// Deep JSON equality; numbers compare by value (1 == 1.0).
bool JsonEqual(simdjson::dom::element a, simdjson::dom::element b) {
  using T = simdjson::dom::element_type;
  if (IsNumber(a) && IsNumber(b)) return AsDouble(a) == AsDouble(b);
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case T::NULL_VALUE: return true;
    case T::BOOL: return bool(a.get_bool()) == bool(b.get_bool());
    case T::STRING: return std::string_view(a.get_string()) == std::string_view(b.get_string());
    case T::ARRAY: {
      auto x = a.get_array(), y = b.get_array();
      if (x.size() != y.size()) return false;
      auto i = x.begin(), j = y.begin();
      for (; i != x.end(); ++i, ++j)
        if (!JsonEqual(*i, *j)) return false;
      return true;
    }
    case T::OBJECT: {
      auto x = a.get_object(), y = b.get_object();
      if (x.size() != y.size()) return false;
      for (auto [k, v] : x) {
        auto w = y.at_key(k);
        if (w.error() || !JsonEqual(v, w.value_unsafe())) return false;
      }
      return true;
    }
    default: return false;
  }
}

std::string Show(simdjson::dom::element e) { return simdjson::minify(e); }

struct Outcome {
  enum Kind { kPass, kFail, kRejected } kind = kPass;
  std::string why;
};

// Ops whose vectors run on test models the runner writes (see the file comment). sentence_split_mapper: the
// four vectors split at a period followed by a capitalised word and must not split inside "U.S." (en), so
// only the abbreviation "u.s" matters; every other Punkt parameter list is empty.
struct TestModel {
  const char* op;
  void (*write)(const std::filesystem::path& models_dir);
};
const TestModel kTestModels[] = {
    {"sentence_split_mapper",
     [](const std::filesystem::path& dir) {
       testing::WritePunktTab(dir / "punkt_tab/english", {{"u.s"}, {}, {}, {}});
       for (const char* lang : {"french", "portuguese", "spanish"}) testing::WritePunktTab(dir / "punkt_tab" / lang, {});
     }},
};

// The models directory with every kTestModels model, written once per process and removed when the test
// binary ends.
const std::string& TestModelsDir() {
  struct Dir {
    testing::TempDir tmp{"sluice-conformance-models"};
    Dir() {
      for (const auto& m : kTestModels) m.write(tmp.path());
    }
  };
  static const Dir dir;
  return dir.tmp.path();
}

bool HasTestModel(std::string_view op) {
  for (const auto& m : kTestModels)
    if (op == m.op) return true;
  return false;
}

// DataJuicer ops that cannot be built under the dependency rules (docs/compatibility.md).
struct NotImplementable {
  const char* op;
  const char* reason;
};
const NotImplementable kNotImplementable[] = {
    {"text_action_filter", "requires spaCy (en/zh_core_web_md POS tagging), not packaged in Debian 12"},
    {"text_entity_dependency_filter", "requires spaCy (en/zh_core_web_md dependency parsing), not packaged in Debian 12"},
};

const NotImplementable* FindNotImplementable(std::string_view op) {
  for (const auto& n : kNotImplementable)
    if (op == n.op) return &n;
  return nullptr;
}

class VectorRunner {
 public:
  explicit VectorRunner(simdjson::dom::element v) : v_(v) {}

  // A vector needs a model when it asks for tokenization or lists a model/tokenizer requirement. One that
  // is not model-free only for an `asset:` (a word list sluice ships) runs like any other, and so does one
  // whose op the runner has test models for.
  bool NeedsModel() const {
    if (HasTestModel(std::string_view(v_["op"].get_string().value_unsafe()))) return false;
    bool model_free = true;
    if (auto mf = v_["model_free"]; !mf.error()) model_free = bool(mf.get_bool());
    auto tok = v_["params"]["tokenization"];
    if (!tok.error() && tok.is_bool() && bool(tok.get_bool())) return true;
    if (model_free) return false;
    simdjson::dom::array reqs;
    if (v_["requires"].get(reqs)) return true;
    for (auto r : reqs) {
      std::string_view req(r.get_string());
      if (req.substr(0, 6) == "model:" || req.substr(0, 10) == "tokenizer:") return true;
    }
    return false;
  }

  Outcome Run() {
    std::string op_name(std::string_view(v_["op"].get_string()));
    ParamList params;
    std::string text_key = "text";
    for (auto [k, val] : v_["params"].get_object()) {
      params.emplace_back(std::string(k), ToParam(val));
      if (k == "text_key" && val.is_string()) text_key = std::string(std::string_view(val.get_string()));
    }
    std::string mode = "process";
    if (auto m = v_["mode"]; !m.error()) mode = std::string(std::string_view(m.get_string()));
    std::string error_at;
    if (auto ea = v_["error_at"]; !ea.error()) error_at = std::string(std::string_view(ea.get_string()));
    bool expect_error = !v_["expected_error"].error();

    if (NeedsModel()) {
      try {
        MakeOp(op_name, params);
      } catch (const Error& e) {
        if (e.kind() == ErrorKind::kUsage) return {Outcome::kRejected, {}};
        return Fail("needs a model: expected a kUsage error at construction, got kind " +
                    std::to_string(static_cast<int>(e.kind())) + ": " + e.what());
      }
      return Fail("needs a model/tokenizer but construction succeeded");
    }

    std::unique_ptr<Op> op;
    try {
      op = MakeOp(op_name, params);
    } catch (const std::exception& e) {
      if (expect_error && error_at == "init") return {};
      return Fail(std::string("construction failed: ") + e.what());
    }
    if (expect_error && error_at == "init") return Fail("expected an error at construction");
    if (mode == "process_single_raw" || mode == "process_batched_raw") return RunRaw(*op, expect_error);
    if (mode != "process" && mode != "compute_stats_only" && mode != "count")
      return Fail("unsupported vector mode '" + mode + "' (extend the harness)");

    Dataset ds(text_key);
    for (auto in : v_["input"].get_array()) {
      std::string err;
      ParseStatus st = ds.Add(simdjson::minify(in), &err);
      if (st == ParseStatus::kBad) return Fail("input sample rejected by the record parser: " + err);
    }
    try {
      ds.Run(*op, mode == "compute_stats_only");
    } catch (const std::exception& e) {
      if (expect_error && error_at == "run") return {};
      return Fail(std::string("op failed: ") + e.what());
    }
    if (expect_error) return Fail("expected an error while running");

    if (mode == "count") {
      size_t want = size_t(uint64_t(v_["expected_count"].get_uint64()));
      if (ds.size() != want) return Fail("expected " + std::to_string(want) + " samples, got " + std::to_string(ds.size()));
      return {};
    }

    // Parse the survivors back from their serialized form.
    std::vector<std::string> out_json;
    for (size_t i = 0; i < ds.size(); ++i) out_json.push_back(ds.Json(i));
    std::vector<simdjson::dom::parser> parsers(out_json.size());
    std::vector<simdjson::dom::element> got;
    for (size_t i = 0; i < out_json.size(); ++i) {
      auto r = parsers[i].parse(out_json[i]);
      if (r.error()) return Fail("serialized sample is not valid JSON: " + out_json[i]);
      got.push_back(r.value_unsafe());
    }
    auto expected_r = v_["expected"];
    if (expected_r.error() || expected_r.is_null()) return Fail("vector has no expected output");
    std::vector<simdjson::dom::element> want;
    for (auto e : expected_r.get_array()) want.push_back(e);
    if (got.size() != want.size()) return Fail("expected " + std::to_string(want.size()) + " samples, got " +
                                               std::to_string(got.size()) + Listing(got));

    std::vector<std::string> fields;
    if (auto cf = v_["compare_fields"]; !cf.error())
      for (auto f : cf.get_array()) fields.emplace_back(std::string_view(f.get_string()));
    else
      fields.push_back(text_key);
    bool order_insensitive = false;
    if (auto oi = v_["order_insensitive"]; !oi.error()) order_insensitive = bool(oi.get_bool());
    if (order_insensitive) {
      auto by_text = [&](simdjson::dom::element a, simdjson::dom::element b) {
        return Show(a[text_key].value_unsafe()) < Show(b[text_key].value_unsafe());
      };
      std::sort(got.begin(), got.end(), by_text);
      std::sort(want.begin(), want.end(), by_text);
    }
    simdjson::dom::parser null_parser;
    simdjson::dom::element null_value = null_parser.parse(std::string_view("null")).value_unsafe();
    for (size_t i = 0; i < got.size(); ++i) {
      for (const auto& f : fields) {
        auto g = got[i][f], w = want[i][f];
        simdjson::dom::element gv = g.error() ? null_value : g.value_unsafe();
        simdjson::dom::element wv = w.error() ? null_value : w.value_unsafe();
        if (!JsonEqual(gv, wv))
          return Fail("sample " + std::to_string(i) + " field '" + f + "': expected " + Show(wv) + ", got " + Show(gv));
      }
    }
    if (auto es = v_["expected_stats"]; !es.error()) {
      size_t i = 0;
      for (auto want_stats : es.get_array()) {
        if (i >= got.size()) return Fail("expected_stats has more entries than survivors");
        auto stats = got[i]["__dj__stats__"];
        for (auto [k, wv] : want_stats.get_object()) {
          auto gv = stats.error() ? stats : stats[k];
          if (gv.error() || !JsonEqual(gv.value_unsafe(), wv))
            return Fail("sample " + std::to_string(i) + " stat '" + std::string(k) + "': expected " + Show(wv));
        }
        ++i;
      }
    }
    return {};
  }

 private:
  Outcome Fail(std::string why) const { return {Outcome::kFail, std::move(why)}; }

  // Modes *_raw (python mappers): the op's function is called directly on each input dict (a sample, or
  // a batch dict of lists), as DataJuicer's process_single / process_batched, and its result compared.
  Outcome RunRaw(Op& op, bool expect_error) {
    auto expected = v_["expected"];
    size_t i = 0;
    for (auto in : v_["input"].get_array()) {
      std::string got_json;
      try {
        got_json = CallPythonMapperFunction(op, simdjson::minify(in));
      } catch (const std::exception& e) {
        if (!expect_error) return Fail(std::string("op failed: ") + e.what());
        std::string_view type(v_["expected_error"].get_string()), contains;
        std::string what = e.what();
        if (what.find(type) == std::string::npos) return Fail("expected a " + std::string(type) + ", got: " + what);
        if (!v_["expected_error_message_contains"].get(contains) && what.find(contains) == std::string::npos)
          return Fail("the error should contain '" + std::string(contains) + "': " + what);
        return {};
      }
      if (expect_error) return Fail("expected an error while running, got " + got_json);
      simdjson::dom::parser parser;
      auto got = parser.parse(got_json);
      if (got.error()) return Fail("result is not valid JSON: " + got_json);
      auto want = expected.at(i++);
      if (want.error()) return Fail("vector has no expected output for input " + std::to_string(i - 1));
      for (auto f : v_["compare_fields"].get_array()) {
        std::string_view field(f.get_string());
        auto g = got[field], w = want[field];
        if (g.error() != w.error() || (!g.error() && !JsonEqual(g.value_unsafe(), w.value_unsafe())))
          return Fail("field '" + std::string(field) + "': expected " + (w.error() ? "(absent)" : Show(w.value_unsafe())) +
                      ", got " + got_json);
      }
    }
    return {};
  }
  static std::string Listing(const std::vector<simdjson::dom::element>& got) {
    std::string s;
    for (auto g : got) s += "\n      " + Show(g);
    return s;
  }
  simdjson::dom::element v_;
};

// Vectors sluice cannot match, each with the reason; docs/compatibility.md lists the same ones. The issue
// allows at most 3. A listed vector that starts to pass fails the test, so the list stays true.
struct KnownDifference {
  const char* op;
  const char* source;
  const char* reason;
};
const KnownDifference kKnownDifferences[] = {
    {"stopwords_filter", "tests/ops/filter/test_stopwords_filter.py::StopWordsFilterTest::test_en_case",
     "DataJuicer's English stopword list (BigScience ac_dc) is not published in a package we may use; the shipped "
     "stopwords-iso list counts single letters as stopwords, so 'a v s e c s f e f g a qkc' is kept"},
};

const KnownDifference* FindKnownDifference(std::string_view op, std::string_view source) {
  for (const auto& k : kKnownDifferences)
    if (op == k.op && source == k.source) return &k;
  return nullptr;
}

TEST(Conformance, DataJuicerVectors) {
  // Model vectors must meet "no model configured": a developer's models directory would change that.
  ::unsetenv("SLUICE_MODELS_DIR");
  std::string path = std::string(SLUICE_SHARED_DIR) + "/conformance/dj_op_vectors.jsonl";
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << "cannot open " << path;

  struct Count {
    int total = 0, passed = 0, rejected = 0, failed = 0, known = 0;
  };
  std::map<std::string, Count> per_op;
  int must_run = 0, ran = 0, line_no = 0, failures = 0, known = 0;
  std::map<std::string, int> unimplemented;  // vectors of ops sluice does not have (yet): shown, never hidden
  std::map<std::string, int> not_implementable;  // vectors of kNotImplementable ops
  std::string line;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    simdjson::dom::parser parser;
    auto doc = parser.parse(line);
    ASSERT_FALSE(doc.error()) << path << ":" << line_no << ": bad JSON";
    simdjson::dom::element v = doc.value_unsafe();
    std::string op(std::string_view(v["op"].get_string()));
    if (FindNotImplementable(op) != nullptr) {
      EXPECT_EQ(FindOp(op), nullptr) << op << " is registered but listed as not implementable";
      ++not_implementable[op];
      continue;
    }
    if (FindOp(op) == nullptr) {
      ++unimplemented[op];
      continue;
    }
    // The vector's kind must be the registry's: selectors ("selector") run as selectors (op_harness.h).
    std::string_view kind;
    if (!v["kind"].get(kind) && kind != OpKindName(FindOp(op)->kind))
      ADD_FAILURE() << path << ":" << line_no << " (" << op << "): the vector's kind is '" << kind
                    << "', sluice registers the op as '" << OpKindName(FindOp(op)->kind) << "'";
    VectorRunner runner(v);
    Count& c = per_op[op];
    ++c.total;
    if (!runner.NeedsModel()) ++must_run;
    std::optional<testing::ScopedEnv> models;
    if (HasTestModel(op)) models.emplace(text::kModelsDirEnv, TestModelsDir());
    Outcome o = runner.Run();
    models.reset();
    switch (o.kind) {
      case Outcome::kPass:
        ++c.passed;
        ++ran;
        break;
      case Outcome::kRejected: ++c.rejected; break;
      case Outcome::kFail: {
        std::string source;
        if (auto s = v["source"]; !s.error()) source = std::string(std::string_view(s.get_string()));
        if (const KnownDifference* k = FindKnownDifference(op, source)) {
          ++c.known;
          ++known;
          std::printf("known difference %s (%s): %s\n  %s\n", op.c_str(), source.c_str(), k->reason, o.why.c_str());
          break;
        }
        ++c.failed;
        ++failures;
        ADD_FAILURE() << path << ":" << line_no << " (" << op << ", " << source << "): " << o.why;
        break;
      }
    }
    if (o.kind != Outcome::kFail) {
      std::string source;
      if (auto s = v["source"]; !s.error()) source = std::string(std::string_view(s.get_string()));
      if (FindKnownDifference(op, source))
        ADD_FAILURE() << op << " (" << source << ") is listed as a known difference but no longer differs: "
                      << "remove it here and from docs/compatibility.md";
    }
  }
  std::printf("%-36s %6s %6s %9s %7s %6s\n", "op", "total", "passed", "rejected", "failed", "known");
  int passed = 0, rejected = 0;
  for (const auto& [op, c] : per_op) {
    std::printf("%-36s %6d %6d %9d %7d %6d\n", op.c_str(), c.total, c.passed, c.rejected, c.failed, c.known);
    passed += c.passed;
    rejected += c.rejected;
  }
  int missing = 0;
  for (const auto& [op, n] : unimplemented) {
    std::printf("%-36s %6d  (op not implemented)\n", op.c_str(), n);
    missing += n;
  }
  int impossible = 0;
  for (const auto& [op, n] : not_implementable) {
    std::printf("%-36s %6d  (not implementable here: %s)\n", op.c_str(), n, FindNotImplementable(op)->reason);
    impossible += n;
  }
  std::printf("vectors run: %d (model-free vectors of registered ops: %d)\n", ran + known, must_run);
  std::printf("%d vectors of %zu ops not implemented in sluice\n", missing, unimplemented.size());
  std::printf("%d vectors of %zu ops not implementable here (docs/compatibility.md)\n", impossible,
              not_implementable.size());
  std::printf("%d passed, %d failed (%d of them known differences, docs/compatibility.md), %d rejected as needing a model\n",
              passed, failures + known, known, rejected);
  EXPECT_EQ(failures, 0);
  EXPECT_LE(known, 3) << "the issue allows at most 3 vectors that cannot match";
  EXPECT_GT(ran, 0);
  EXPECT_GE(ran + known, must_run);
}

}  // namespace
}  // namespace sluice
