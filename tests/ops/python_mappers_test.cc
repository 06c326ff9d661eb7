// python_lambda_mapper / python_file_mapper: DataJuicer's construction checks (kUsage errors), the direct
// function call, the engine semantics (the returned dict merged into the sample, batches of one, drops),
// exact round-trips of numbers and Unicode, original bytes kept for unchanged samples, errors as op errors,
// the record-mapper hook in OpChain (later ops see the new record), and concurrent use from worker threads.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "op_harness.h"
#include "ops/mapper/python_mappers.h"
#include "ops/pipeline.h"
#include "ops/text/model_files.h"
#include "temp_dir.h"

namespace sluice {
namespace {

using testing::Dataset;
using testing::MakeOp;
using testing::ParamList;
using testing::S;


std::unique_ptr<Op> Lambda(const std::string& src, bool batched = false) {
  return MakeOp("python_lambda_mapper", {{"lambda_str", S(src)}, {"batched", ParamValue::Bool(batched)}});
}

// Runs `op` over `records` (JSON objects) as the engine does; returns the serialized survivors.
std::vector<std::string> RunAll(Op& op, const std::vector<std::string>& records) {
  Dataset ds;
  for (const auto& r : records) EXPECT_EQ(ds.Add(r), ParseStatus::kOk) << r;
  ds.Run(op);
  std::vector<std::string> out;
  for (size_t i = 0; i < ds.size(); ++i) out.push_back(ds.Json(i));
  return out;
}

std::string RunOne(Op& op, const std::string& record) {
  auto out = RunAll(op, {record});
  EXPECT_EQ(out.size(), 1u);
  return out.empty() ? "" : out[0];
}

// The kUsage message of constructing the op, or "" if it constructs.
std::string InitError(const std::string& op, const ParamList& params) {
  try {
    MakeOp(op, params);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage) << e.what();
    return e.what();
  }
  return "";
}

std::string RunError(Op& op, const std::string& record) {
  try {
    RunAll(op, {record});
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(PythonLambdaMapper, ConstructionChecksAsDataJuicer) {
  auto err = [](const std::string& src) { return InitError("python_lambda_mapper", {{"lambda_str", S(src)}}); };
  EXPECT_NE(err("invalid lambda").find("ValueError: Invalid lambda function: invalid syntax"), std::string::npos)
      << err("invalid lambda");
  EXPECT_EQ(err("3 + 5"), "ValueError: Invalid lambda function: Input string must be a valid lambda function.");
  EXPECT_EQ(err("lambda x, y: {'sum': x + y}"),
            "ValueError: Invalid lambda function: Lambda function must have exactly one argument.");
  EXPECT_EQ(err("lambda: {}"), "ValueError: Invalid lambda function: Lambda function must have exactly one argument.");
  EXPECT_EQ(err("lambda *a: {}"), "ValueError: Invalid lambda function: Lambda function must have exactly one argument.");
  EXPECT_EQ(err("lambda d: d"), "");
  EXPECT_EQ(err("lambda d, *, k=1: d"), "");  // one positional argument, as DataJuicer counts them
  EXPECT_EQ(err(""), "");                     // the identity
}

TEST(PythonLambdaMapper, DirectCallIsDataJuicersProcessSingle) {
  auto op = Lambda("lambda d: {'combined': d['a'] + d['b']}");
  EXPECT_EQ(CallPythonMapperFunction(*op, R"({"a":3,"b":7})"), R"({"combined":10})");  // not merged
  auto bad = Lambda("lambda d: d['value'] + 1");
  try {
    CallPythonMapperFunction(*bad, R"({"value":10})");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "ValueError: Lambda function must return a dictionary, got int instead.");
  }
  auto batched = Lambda("lambda d: {'value': d['value'] + [6]}", true);
  EXPECT_EQ(CallPythonMapperFunction(*batched, R"({"value":[5]})"), R"({"value":[5,6]})");
  auto identity = Lambda("");
  EXPECT_EQ(CallPythonMapperFunction(*identity, R"({"a": 1})"), R"({"a":1})");
}

TEST(PythonLambdaMapper, ResultIsMergedIntoTheSample) {
  // Fields the function returns replace or extend the sample's; the others stay (datasets.map's merge).
  auto op = Lambda("lambda s: {'text': s['text'].upper(), 'n': len(s['text'])}");
  EXPECT_EQ(RunOne(*op, R"({"id": 7, "text": "héllo 😊", "meta": {"k": [1, 2.5, null]}})"),
            R"({"id":7,"text":"HÉLLO 😊","meta":{"k":[1,2.5,null]},"n":7})");
  auto swap = Lambda("lambda d: {'a': d['b'], 'b': d['a']}");
  EXPECT_EQ(RunOne(*swap, R"({"text":"x","a":1,"b":"two"})"), R"({"text":"x","a":"two","b":1})");
  // In-place changes of the dict are what it returns; a changed nested value is shared, as in DataJuicer.
  auto update = Lambda("lambda d: d.update({'new_key': 'added_value'}) or d");
  EXPECT_EQ(RunOne(*update, R"({"text":"t","value":3})"), R"({"text":"t","value":3,"new_key":"added_value"})");
  // A field deleted from the argument but not from the result's keys stays (it is the input's).
  auto del = Lambda("lambda d: d.pop('a') and {}");
  EXPECT_EQ(RunOne(*del, R"({"text":"t","a":1})"), R"({"text":"t","a":1})");
}

TEST(PythonLambdaMapper, UnchangedSamplesKeepTheirBytes) {
  auto op = Lambda("lambda s: s");
  for (const char* r : {R"({"text" : "caf\u00e9",  "x": 1e5, "y": 1.50, "z": -0.0, "w": [ ]})",
                        R"({"text":"\ud83d\ude0a \"q\" \/","big":1234567890123456789})",
                        R"({"text":"a","n":18446744073709551615,"m":-9223372036854775808})"})
    EXPECT_EQ(RunOne(*op, r), r);
  // Equal values written differently are kept; a different type is a change.
  auto same = Lambda("lambda s: {'x': 100000.0}");
  EXPECT_EQ(RunOne(*same, R"({"text":"t","x":1e5})"), R"({"text":"t","x":1e5})");
  auto to_float = Lambda("lambda s: {'x': float(s['x'])}");
  EXPECT_EQ(RunOne(*to_float, R"({"text":"t","x":1})"), R"({"text":"t","x":1.0})");
  auto to_bool = Lambda("lambda s: {'x': True}");
  EXPECT_EQ(RunOne(*to_bool, R"({"text":"t","x":1})"), R"({"text":"t","x":true})");
}

TEST(PythonLambdaMapper, NumbersAndUnicodeRoundTrip) {
  // A changed record is written by Python: numbers keep their type and value, strings their code points.
  auto op = Lambda("lambda s: {'tag': 1}");
  EXPECT_EQ(RunOne(*op, R"({"text":"数据 清洗\n\t\u0001\u2028😊","i":-42,"f":0.1,"e":1e-7,"g":1.7976931348623157e308,)"
                        R"("big":1234567890123456789,"u":18446744073709551615,"neg0":-0.0,"t":true,"n":null})"),
            "{\"text\":\"数据 清洗\\n\\t\\u0001\u2028😊\",\"i\":-42,\"f\":0.1,\"e\":1e-07,\"g\":1.7976931348623157e+308,"
            "\"big\":1234567890123456789,\"u\":18446744073709551615,\"neg0\":-0.0,\"t\":true,\"n\":null,"
            "\"tag\":1}");
  // Escapes: a literal backslash-u stays, DEL and non-BMP characters are written raw.
  auto esc = Lambda("lambda s: {'t': s['text'] + '\\x7f\\U0001F600'}");
  EXPECT_EQ(RunOne(*esc, R"({"text":"a\\u00e9\"\\"})"),
            R"({"text":"a\\u00e9\"\\","t":"a\\u00e9\"\\)" "\x7f" R"(😀"})");
  // A lone surrogate cannot be written as UTF-8: the record is refused.
  auto lone = Lambda("lambda s: {'t': '\\ud800'}");
  EXPECT_EQ(RunError(*lone, R"({"text":"a"})"),
            "the sample it returned is not a valid record: malformed JSON string (lone surrogate escape \\ud800)");
}

TEST(PythonLambdaMapper, ErrorsAreOpErrorsForTheSample) {
  auto not_dict = Lambda("lambda d: ({'value': d['value']}, {'extra': d['extra']})");
  EXPECT_EQ(RunError(*not_dict, R"({"text":"t","value":5,"extra":10})"),
            "ValueError: Lambda function must return a dictionary, got tuple instead.");
  auto key = Lambda("lambda d: {'x': d['missing']}");
  EXPECT_EQ(RunError(*key, R"({"text":"t"})"), "KeyError: 'missing'");
  auto nan = Lambda("lambda d: {'x': float('nan')}");
  EXPECT_EQ(RunError(*nan, R"({"text":"t"})"), "ValueError: Out of range float values are not JSON compliant");
  auto unserializable = Lambda("lambda d: {'x': {1, 2}}");
  EXPECT_EQ(RunError(*unserializable, R"({"text":"t"})"), "TypeError: Object of type set is not JSON serializable");
  // The new record must still be a sample of this recipe.
  auto text_int = Lambda("lambda d: {'text': 5}");
  EXPECT_EQ(RunError(*text_int, R"({"text":"t"})"),
            "the sample it returned is not a valid record: text key 'text' holds a JSON number, not a string");
  // The op keeps working after an error.
  EXPECT_EQ(RunOne(*key, R"({"text":"t","missing":2})"), R"({"text":"t","missing":2,"x":2})");
}

TEST(PythonLambdaMapper, BatchedGetsBatchesOfOneSample) {
  auto op = Lambda("lambda b: {'text': [t + '?' for t in b['text']], 'len': [len(t) for t in b['text']]}", true);
  EXPECT_EQ(RunAll(*op, {R"({"text":"ab"})", R"({"text":"xyz","k":[1]})"}),
            (std::vector<std::string>{R"({"text":"ab?","len":2})", R"({"text":"xyz?","k":[1],"len":3})"}));
  // A batched function may drop samples (return no rows) ...
  auto filter = Lambda("lambda b: {k: [v for v, t in zip(b[k], b['text']) if 'keep' in t] for k in b}", true);
  EXPECT_EQ(RunAll(*filter, {R"({"text":"keep 1"})", R"({"text":"drop"})", R"({"text":"keep 2","m":{}})"}),
            (std::vector<std::string>{R"({"text":"keep 1"})", R"({"text":"keep 2","m":{}})"}));
  // ... but not add any, and must return lists of one length.
  auto dup = Lambda("lambda b: {k: v * 2 for k, v in b.items()}", true);
  EXPECT_NE(RunError(*dup, R"({"text":"t"})").find("returned 2 samples for one"), std::string::npos);
  auto ragged = Lambda("lambda b: {'text': b['text'] * 2}", true);
  EXPECT_NE(RunError(*ragged, R"({"text":"t","a":1})").find("different lengths"), std::string::npos);
  auto scalar = Lambda("lambda b: {'n': 1}", true);
  EXPECT_EQ(RunError(*scalar, R"({"text":"t"})"),
            "TypeError: a batched function must return a list for every field, got int for 'n'");
}

TEST(PythonFileMapper, LoadsTheFunctionAsDataJuicer) {
  testing::TempDir dir("sluice-pytest");
  std::string py = dir.Write("udf.py",
                             "import unicodedata\n"
                             "def process_data(sample):\n"
                             "    return {'result': sample['value'] + 10}\n"
                             "def normalize(sample):\n"
                             "    sample['text'] = unicodedata.normalize('NFKC', sample['text'])\n"
                             "    return sample\n"
                             "def two(a, b):\n"
                             "    return a\n"
                             "def bad(sample):\n"
                             "    return sample['value'] + 5\n"
                             "x = 42\n");
  auto op = MakeOp("python_file_mapper", {{"file_path", S(py)}, {"function_name", S("process_data")}});
  EXPECT_EQ(CallPythonMapperFunction(*op, R"({"value":5})"), R"({"result":15})");
  EXPECT_EQ(RunOne(*op, R"({"text":"t","value":5})"), R"({"text":"t","value":5,"result":15})");
  auto norm = MakeOp("python_file_mapper", {{"file_path", S(py)}, {"function_name", S("normalize")}});
  EXPECT_EQ(RunOne(*norm, R"({"text":"ｆｕｌｌ①"})"), R"({"text":"full1"})");

  auto err = [&](const std::string& path, const std::string& fn) {
    return InitError("python_file_mapper", {{"file_path", S(path)}, {"function_name", S(fn)}});
  };
  EXPECT_EQ(err(dir.Write("none.py", "") + "x", "f"),
            "FileNotFoundError: The file '" + dir.Write("none.py", "") + "x' does not exist.");
  std::string txt = dir.Write("a.txt", "This is a text file.");
  EXPECT_EQ(err(txt, "some_function"), "ValueError: The file '" + txt + "' is not a Python file.");
  EXPECT_EQ(err(py, "non_existing_function"), "ValueError: Function 'non_existing_function' not found in '" + py + "'.");
  EXPECT_EQ(err(py, "x"), "ValueError: The attribute 'x' is not callable.");
  EXPECT_EQ(err(py, "two"), "ValueError: The function 'two' must take exactly one argument");
  std::string syntax = dir.Write("syntax.py", "def f(s)\n  return s\n");
  EXPECT_NE(err(syntax, "f").find("SyntaxError: expected ':' (syntax.py, line 1)"), std::string::npos) << err(syntax, "f");
  std::string missing = dir.Write("imports.py", "import no_such_module_here\ndef f(s):\n  return s\n");
  EXPECT_EQ(err(missing, "f"), "ModuleNotFoundError: No module named 'no_such_module_here'");

  auto bad = MakeOp("python_file_mapper", {{"file_path", S(py)}, {"function_name", S("bad")}});
  EXPECT_EQ(RunError(*bad, R"({"text":"t","value":5})"), "ValueError: Function must return a dictionary, got int instead.");
  auto identity = MakeOp("python_file_mapper", {});
  EXPECT_EQ(RunOne(*identity, R"({"text" : "t"})"), R"({"text" : "t"})");
}

TEST(PythonFileMapper, TheFileIsRecordedForThePlan) {
  testing::TempDir dir("sluice-pytest");
  std::string py = dir.Write("rec.py", "def process_single(s):\n  return s\n");
  MakeOp("python_file_mapper", {{"file_path", S(py)}});
  auto files = text::ResolvedModelFiles();
  EXPECT_NE(std::find(files.begin(), files.end(), py), files.end());
}

// The chain: a record mapper's new record is what later ops see (text and new fields), stats computed
// before it are visible to the function, a drop or an error drops the sample and is counted.
TEST(PythonLambdaMapper, InAnOpChain) {
  Pipeline p;
  p.text_keys = {"text"};
  auto add = [&](const std::string& name, const ParamList& params) {
    ResolvedOp r;
    r.def = FindOp(name);
    r.params = Params::Resolve(name, FullParamSpecs(*r.def), params);
    r.text_key = "text";
    p.ops.push_back(std::move(r));
  };
  add("text_length_filter", {{"min_len", ParamValue::Int(2)}});
  add("python_lambda_mapper",
      {{"lambda_str", S("lambda s: {'text': s['text'] * 3, 'len_before': s['__dj__stats__']['text_len']}")}});
  add("whitespace_normalization_mapper", {});
  add("python_lambda_mapper", {{"lambda_str", S("lambda s: {'len_after': len(s['text'])} if s['text'] != 'ababab' "
                                                "else s['boom']")}});
  add("words_num_filter", {{"min_num", ParamValue::Int(3)}});  // counts the words of the new text
  p.traced.assign(p.ops.size(), false);
  p.traced[1] = true;  // the tracer records the text changes of a record mapper
  p.trace_num = 10;
  OpChain chain(p);
  RecordParser parser(p.text_keys);
  std::vector<std::string> lines = {R"({"text":"x"})", R"({"text":"ab"})", R"({"text":"abc\u2003"})"};
  std::vector<std::string> out;
  for (auto& l : lines) {
    std::string buf = l + std::string(RecordPadding(), ' ');
    Sample s;
    std::string err;
    ASSERT_EQ(parser.Parse(std::string_view(buf.data(), l.size()), s, err), ParseStatus::kOk);
    if (!chain.Run(s, 0, p.ops.size())) continue;
    SerializeOptions so;
    so.keep_stats = true;
    std::string row;
    SerializeSample(s, so, row);
    out.push_back(row);
  }
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], "{\"text\":\"abc abc abc\",\"__dj__stats__\":{\"text_len\":4,\"num_words\":3},\"len_before\":4,"
                    "\"len_after\":11}\n");
  EXPECT_EQ(chain.counters()[0].out, 2u);  // "x" filtered
  EXPECT_EQ(chain.counters()[3].errors, 1u);
  EXPECT_EQ(chain.counters()[3].first_error, "KeyError: 'boom'");
  EXPECT_EQ(chain.trace(1), (std::vector<std::string>{R"({"original text":"ab","processed_text":"ababab"})",
                                                       "{\"original text\":\"abc\u2003\",\"processed_text\":\"abc\u2003abc\u2003abc\u2003\"}"}));
}

TEST(PythonLambdaMapper, WorkerThreadsShareTheInterpreter) {
  // As np workers: one op instance per thread, all calling at once.
  constexpr int kThreads = 4, kSamples = 3000;
  std::vector<std::vector<std::string>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([t, &results] {
      auto op = Lambda("lambda s: {'text': s['text'][::-1], 'sq': s['i'] * s['i']}");
      Dataset ds;
      for (int i = 0; i < kSamples; ++i) ds.Add("{\"text\":\"t" + std::to_string(t) + "-" + std::to_string(i) + "\",\"i\":" + std::to_string(i) + "}");
      ds.Run(*op);
      for (size_t i = 0; i < ds.size(); ++i) results[t].push_back(ds.Json(i));
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(results[t].size(), static_cast<size_t>(kSamples));
    for (int i = 0; i < kSamples; i += 997) {
      std::string text = "t" + std::to_string(t) + "-" + std::to_string(i);
      std::reverse(text.begin(), text.end());
      EXPECT_EQ(results[t][i], "{\"text\":\"" + text + "\",\"i\":" + std::to_string(i) + ",\"sq\":" + std::to_string(i * i) + "}");
    }
  }
}

}  // namespace
}  // namespace sluice
