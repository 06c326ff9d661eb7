// python_lambda_mapper and python_file_mapper: DataJuicer's escape hatch for custom logic
// (data_juicer/ops/mapper/python_{lambda,file}_mapper.py), run by an embedded CPython.
//
// Semantics, as in DataJuicer:
//   * construction checks the function: lambda_str must parse to exactly one lambda with exactly one
//     (positional) argument, else ValueError("Invalid lambda function: ..."); file_path must be an existing
//     .py file defining a callable `function_name` of exactly one argument. Empty lambda_str / file_path:
//     the identity. Failures are kUsage errors, before any data is read.
//   * the function gets the sample as a dict (batched: a dict of lists, here a batch of one sample) and must
//     return a dict, else "ValueError: Lambda function must return a dictionary, got int instead.";
//   * the returned dict is merged into the sample, as Hugging Face `datasets.map` merges a function's output
//     ({**sample, **result}): fields it returns replace or extend the sample's, the others stay. A batched
//     function may return zero rows (the sample is dropped) but not more than one.
// An exception raised by the function is an op error for that sample (dropped under skip_op_error), with
// the last line of its traceback as the message.
//
// Values cross as JSON text: json.loads of the sample's record, json.dumps(ensure_ascii=False,
// separators=(',', ':'), allow_nan=False) of the result (written with ensure_ascii=True, which is faster,
// and the escapes turned back into UTF-8) (numpy values through their tolist()). Python keeps
// int and float apart and prints floats shortest-round-trip, so numbers and strings round-trip exactly. A
// sample whose result equals its input (compared as JSON values, strictly: 1 and 1.0 differ) keeps its
// original bytes; any other is written as Python wrote it.
//
// Threads: the interpreter is started once per process (PyConfig: no signal handlers, the process locale
// left alone, UTF-8 mode, unbuffered stdio as it is never finalized) and the GIL is released right after;
// every call takes it. A worker thread keeps
// one Python thread state for its lifetime (made on its first call, deleted when it exits) instead of one
// per call. Functions are compiled / files loaded once per process and shared by all workers' op instances.
// The GIL serializes the Python part: np workers overlap only in the native work around the calls.
//
// python_file_mapper's file is recorded like a model file (text::ResolveModelFile), so the plan carries its
// size and mtime and a resume after the file changed is refused.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "ops/mapper/python_mappers.h"

#include <simdjson.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>

#include "core/error.h"
#include "ops/op.h"
#include "ops/text/model_files.h"
#include "core/utf8.h"

namespace sluice {
namespace {

// The Python half: DataJuicer's construction checks and the calls, run inside the embedded interpreter.
constexpr const char* kHelperSource = R"PY(
import ast, builtins, importlib.util, inspect, json, os


def _default(o):
    tolist = getattr(o, 'tolist', None)  # numpy scalars and arrays
    if callable(tolist):
        return tolist()
    raise TypeError(f'Object of type {type(o).__name__} is not JSON serializable')


_loads = json.loads
# ensure_ascii=True is twice as fast as False in CPython 3.11; the C++ side turns the escapes of non-ASCII
# characters back into UTF-8, which gives exactly what ensure_ascii=False writes (JsonFromAscii).
_dumps = json.JSONEncoder(ensure_ascii=True, separators=(',', ':'), allow_nan=False, default=_default).encode


def identity(sample):
    return sample


def make_lambda(lambda_str):
    try:
        node = ast.parse(lambda_str, mode='eval')
        if not isinstance(node.body, ast.Lambda):
            raise ValueError('Input string must be a valid lambda function.')
        if len(node.body.args.args) != 1:
            raise ValueError('Lambda function must have exactly one argument.')
        code = compile(node, '<string>', 'eval')
        return eval(code, {'__builtins__': builtins})
    except Exception as e:
        raise ValueError(f'Invalid lambda function: {e}')


def load_function(file_path, function_name):
    if not os.path.isfile(file_path):
        raise FileNotFoundError(f"The file '{file_path}' does not exist.")
    if not file_path.endswith('.py'):
        raise ValueError(f"The file '{file_path}' is not a Python file.")
    module_name = os.path.splitext(os.path.basename(file_path))[0]
    spec = importlib.util.spec_from_file_location(module_name, file_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, function_name):
        raise ValueError(f"Function '{function_name}' not found in '{file_path}'.")
    func = getattr(module, function_name)
    if not callable(func):
        raise ValueError(f"The attribute '{function_name}' is not callable.")
    if len(inspect.getfullargspec(func).args) != 1:
        raise ValueError(f"The function '{function_name}' must take exactly one argument")
    return func


def describe(e):
    # The last line of the traceback.
    t = type(e)
    name = t.__qualname__
    if t.__module__ not in ('builtins', '__main__'):
        name = f'{t.__module__}.{name}'
    try:
        msg = str(e)
    except Exception:
        msg = '<exception str() failed>'
    return f'{name}: {msg}' if msg else name


def _checked(what, result):
    if not isinstance(result, dict):
        raise ValueError(f'{what} must return a dictionary, got {type(result).__name__} instead.')
    return result


def call(func, what, line):
    return _dumps(_checked(what, func(_loads(line))))


def map_single(func, what, line):
    sample = _loads(line)
    merged = dict(sample)
    merged.update(_checked(what, func(sample)))
    out = _dumps(merged)
    return line if out == line else out


def map_batched(func, what, line):
    batch = {k: [v] for k, v in _loads(line).items()}
    merged = dict(batch)
    merged.update(_checked(what, func(batch)))
    n = -1
    for k, v in merged.items():
        if not isinstance(v, list):
            tolist = getattr(v, 'tolist', None)
            if not callable(tolist):
                raise TypeError(f"a batched function must return a list for every field, got "
                                f"{type(v).__name__} for '{k}'")
            v = merged[k] = tolist()
        if n < 0:
            n = len(v)
        elif len(v) != n:
            raise ValueError(f"the returned fields have different lengths ({n}, and {len(v)} for '{k}')")
    if n == 0:
        return None
    if n != 1:
        raise ValueError(f'the function returned {n} samples for one; sluice calls batched python mappers '
                         f'with one sample at a time and cannot add samples')
    out = _dumps({k: v[0] for k, v in merged.items()})
    return line if out == line else out
)PY";

// Functions of the helper module (strong references, never released: the interpreter lives as long as the
// process).
struct Runtime {
  PyObject* identity = nullptr;
  PyObject* make_lambda = nullptr;
  PyObject* load_function = nullptr;
  PyObject* describe = nullptr;
  PyObject* call = nullptr;
  PyObject* map_single = nullptr;
  PyObject* map_batched = nullptr;
  PyObject* what_lambda = nullptr;    // how the result check names the function
  PyObject* what_function = nullptr;
  std::map<std::string, PyObject*> functions;  // compiled lambdas / loaded functions; only touched under the GIL
};

// The current Python exception as its traceback's last line ("ValueError: ..."); clears it. GIL held.
std::string TakeError(const Runtime* rt) {
  PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  std::string msg = "unknown Python error";
  if (value != nullptr && rt != nullptr && rt->describe != nullptr) {
    if (PyObject* d = PyObject_CallOneArg(rt->describe, value)) {
      Py_ssize_t n = 0;
      if (const char* s = PyUnicode_AsUTF8AndSize(d, &n)) msg.assign(s, static_cast<size_t>(n));
      Py_DECREF(d);
    }
    PyErr_Clear();
  }
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
  return msg;
}

PyObject* Attr(PyObject* module, const char* name) {
  PyObject* f = PyObject_GetAttrString(module, name);
  if (f == nullptr) Fail(ErrorKind::kInternal, "embedded Python helper lacks {}: {}", name, TakeError(nullptr));
  return f;
}

Runtime* StartPython() {
  if (Py_IsInitialized())  // someone else embeds Python in this process: not supported
    Fail(ErrorKind::kInternal, "the embedded Python interpreter was started outside sluice's python mappers");
  PyPreConfig pre;
  PyPreConfig_InitPythonConfig(&pre);
  pre.configure_locale = 0;  // leave the process's LC_CTYPE alone
  pre.coerce_c_locale = 0;
  pre.utf8_mode = 1;
  PyStatus st = Py_PreInitialize(&pre);
  if (PyStatus_Exception(st))
    Fail(ErrorKind::kUsage, "cannot start the embedded Python: {}", st.err_msg ? st.err_msg : "?");
  PyConfig config;
  PyConfig_InitPythonConfig(&config);
  config.install_signal_handlers = 0;  // SIGINT and friends stay sluice's
  config.parse_argv = 0;
  config.buffered_stdio = 0;  // the interpreter is never finalized: what a function prints must not wait in a buffer
  st = Py_InitializeFromConfig(&config);
  PyConfig_Clear(&config);
  if (PyStatus_Exception(st))
    Fail(ErrorKind::kUsage, "cannot start the embedded Python: {}", st.err_msg ? st.err_msg : "?");
  // This thread holds the GIL now.
  auto* rt = new Runtime;
  PyObject* module = PyModule_New("_sluice_python_mappers");
  PyObject* dict = module ? PyModule_GetDict(module) : nullptr;
  PyObject* done = dict ? (PyDict_SetItemString(dict, "__builtins__", PyEval_GetBuiltins()) == 0
                               ? PyRun_String(kHelperSource, Py_file_input, dict, dict)
                               : nullptr)
                        : nullptr;
  if (done == nullptr) {
    std::string why = TakeError(nullptr);
    PyEval_SaveThread();
    Fail(ErrorKind::kInternal, "embedded Python helper failed to load: {}", why);
  }
  Py_DECREF(done);
  rt->identity = Attr(module, "identity");
  rt->make_lambda = Attr(module, "make_lambda");
  rt->load_function = Attr(module, "load_function");
  rt->describe = Attr(module, "describe");
  rt->call = Attr(module, "call");
  rt->map_single = Attr(module, "map_single");
  rt->map_batched = Attr(module, "map_batched");
  rt->what_lambda = PyUnicode_InternFromString("Lambda function");
  rt->what_function = PyUnicode_InternFromString("Function");
  PyEval_SaveThread();  // release the GIL: every call takes it (Gil below)
  return rt;
}

Runtime& Py() {
  static Runtime* rt = StartPython();  // thread-safe, once; a failure is retried by the next caller
  return *rt;
}

// A worker thread's Python thread state, kept from its first call until the thread exits (PyGILState_Ensure
// alone would create and delete one on every call). Threads that already have one (the thread that started
// the interpreter) are left alone.
class ThreadState {
 public:
  ThreadState() {
    if (PyGILState_GetThisThreadState() != nullptr) return;
    outer_ = PyGILState_Ensure();
    PyEval_SaveThread();
    owned_ = true;
  }
  ~ThreadState() {
    if (!owned_) return;
    PyEval_RestoreThread(PyGILState_GetThisThreadState());
    PyGILState_Release(outer_);  // deletes the thread state and releases the GIL
  }

 private:
  bool owned_ = false;
  PyGILState_STATE outer_{};
};

// Holds the GIL for its scope (Python must be started).
class Gil {
 public:
  Gil() {
    thread_local ThreadState thread_state;
    state_ = PyGILState_Ensure();
  }
  ~Gil() { PyGILState_Release(state_); }
  Gil(const Gil&) = delete;
  Gil& operator=(const Gil&) = delete;

 private:
  PyGILState_STATE state_;
};

// Owns one reference.
struct Ref {
  PyObject* p;
  explicit Ref(PyObject* o) : p(o) {}
  ~Ref() { Py_XDECREF(p); }
  Ref(const Ref&) = delete;
  Ref& operator=(const Ref&) = delete;
};

// The cached function for `key`, made by make(rt) (a new reference, or null with a Python error set) on
// first use. Errors are kUsage: they are the recipe's function's fault.
template <class Make>
PyObject* CachedFunction(const std::string& key, Make&& make) {
  Runtime& rt = Py();
  Gil gil;
  auto it = rt.functions.find(key);
  if (it != rt.functions.end()) return it->second;
  PyObject* f = make(rt);  // may release the GIL (module imports): look again before inserting
  if (f == nullptr) throw Error(ErrorKind::kUsage, TakeError(&rt));
  auto [pos, inserted] = rt.functions.emplace(key, f);
  if (!inserted) Py_DECREF(f);
  return pos->second;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The code unit of the \uXXXX escape at s[i] (s[i] == '\\'), or -1.
int EscapedUnit(std::string_view s, size_t i) {
  if (i + 6 > s.size() || s[i + 1] != 'u') return -1;
  int v = 0;
  for (size_t k = i + 2; k < i + 6; ++k) {
    int d = HexDigit(s[k]);
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

// json.dumps(ensure_ascii=True) output -> what ensure_ascii=False writes: every \uXXXX escape of a code
// point from U+007F up (surrogate pairs joined) becomes UTF-8; escapes of control characters, quotes and
// backslashes stay, and so does a lone surrogate (which has no UTF-8 form).
void JsonFromAscii(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  size_t i = 0, copied = 0;
  while ((i = in.find('\\', i)) != std::string_view::npos) {
    int u = EscapedUnit(in, i);
    if (u < 0x7F || (u >= 0xDC00 && u <= 0xDFFF)) {  // not \u, an ASCII escape, or a lone low surrogate
      i += 2;                                          // skip the escaped character (it may be a backslash)
      continue;
    }
    uint32_t cp = static_cast<uint32_t>(u);
    size_t len = 6;
    if (u >= 0xD800 && u <= 0xDBFF) {
      int lo = in.size() > i + 6 && in[i + 6] == '\\' ? EscapedUnit(in, i + 6) : -1;
      if (lo < 0xDC00 || lo > 0xDFFF) {
        i += 2;
        continue;
      }
      cp = 0x10000 + ((static_cast<uint32_t>(u) - 0xD800) << 10) + (static_cast<uint32_t>(lo) - 0xDC00);
      len = 12;
    }
    out.append(in.data() + copied, i - copied);
    utf8::Append(out, static_cast<char32_t>(cp));
    i += len;
    copied = i;
  }
  out.append(in.data() + copied, in.size() - copied);
}

// The JSON text a helper returned (an ASCII str) as UTF-8, into `out`.
void JsonResult(const Runtime& rt, PyObject* str, std::string& out) {
  Py_ssize_t n = 0;
  const char* s = PyUnicode_AsUTF8AndSize(str, &n);
  if (s == nullptr) throw Error(ErrorKind::kData, TakeError(&rt));
  JsonFromAscii(std::string_view(s, static_cast<size_t>(n)), out);
}

// Strict JSON equality: same types (int, unsigned, float apart), same values, members in the same order.
bool SameJson(simdjson::dom::element a, simdjson::dom::element b) {
  using T = simdjson::dom::element_type;
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case T::OBJECT: {
      simdjson::dom::object x = a.get_object().value_unsafe(), y = b.get_object().value_unsafe();
      auto i = x.begin(), j = y.begin();
      for (; i != x.end() && j != y.end(); ++i, ++j)
        if (i.key() != j.key() || !SameJson(i.value(), j.value())) return false;
      return i == x.end() && j == y.end();
    }
    case T::ARRAY: {
      simdjson::dom::array x = a.get_array().value_unsafe(), y = b.get_array().value_unsafe();
      auto i = x.begin(), j = y.begin();
      for (; i != x.end() && j != y.end(); ++i, ++j)
        if (!SameJson(*i, *j)) return false;
      return i == x.end() && j == y.end();
    }
    case T::STRING: return a.get_string().value_unsafe() == b.get_string().value_unsafe();
    case T::INT64: return a.get_int64().value_unsafe() == b.get_int64().value_unsafe();
    case T::UINT64: return a.get_uint64().value_unsafe() == b.get_uint64().value_unsafe();
    case T::DOUBLE: {
      double x = a.get_double().value_unsafe(), y = b.get_double().value_unsafe();
      return x == y && std::signbit(x) == std::signbit(y);
    }
    case T::BOOL: return a.get_bool().value_unsafe() == b.get_bool().value_unsafe();
    case T::NULL_VALUE: return true;
  }
  return false;
}

class PythonMapper final : public RecordMapper {
 public:
  // func: a borrowed reference, kept alive by the runtime's cache; null: the identity.
  PythonMapper(std::string name, PyObject* func, bool batched, bool lambda)
      : RecordMapper(std::move(name)), func_(func), batched_(batched), lambda_(lambda) {}

  Result MapRecord(std::string_view record, std::string& out) override {
    if (func_ == nullptr) return Result::kUnchanged;  // the identity changes nothing, batched or not
    Runtime& rt = Py();
    {
      Gil gil;
      Ref line(PyUnicode_FromStringAndSize(record.data(), static_cast<Py_ssize_t>(record.size())));
      if (line.p == nullptr) throw Error(ErrorKind::kData, TakeError(&rt));
      PyObject* args[] = {func_, lambda_ ? rt.what_lambda : rt.what_function, line.p};
      Ref result(PyObject_Vectorcall(batched_ ? rt.map_batched : rt.map_single, args, 3, nullptr));
      if (result.p == nullptr) throw Error(ErrorKind::kData, TakeError(&rt));
      if (result.p == Py_None) return Result::kDropped;
      if (result.p == line.p) return Result::kUnchanged;
      JsonResult(rt, result.p, out);
    }
    // Equal as JSON values (the input's formatting differs from Python's): keep the original bytes.
    auto a = in_parser_.parse(record.data(), record.size());
    auto b = out_parser_.parse(out.data(), out.size());
    if (!a.error() && !b.error() && SameJson(a.value_unsafe(), b.value_unsafe())) return Result::kUnchanged;
    return Result::kReplaced;
  }

  std::string Call(std::string_view json) {
    Runtime& rt = Py();
    Gil gil;
    Ref line(PyUnicode_FromStringAndSize(json.data(), static_cast<Py_ssize_t>(json.size())));
    if (line.p == nullptr) throw Error(ErrorKind::kData, TakeError(&rt));
    PyObject* args[] = {func_ ? func_ : rt.identity, lambda_ ? rt.what_lambda : rt.what_function, line.p};
    Ref result(PyObject_Vectorcall(rt.call, args, 3, nullptr));
    if (result.p == nullptr) throw Error(ErrorKind::kData, TakeError(&rt));
    std::string out;
    JsonResult(rt, result.p, out);
    return out;
  }

 private:
  PyObject* func_;
  bool batched_;
  bool lambda_;  // python_lambda_mapper (else python_file_mapper)
  simdjson::dom::parser in_parser_, out_parser_;
};

std::unique_ptr<Op> MakeLambdaMapper(const Params& p) {
  const std::string& src = p.GetString("lambda_str");
  PyObject* f = nullptr;
  if (!src.empty())
    f = CachedFunction("lambda\n" + src, [&](Runtime& rt) {
      Ref s(PyUnicode_FromStringAndSize(src.data(), static_cast<Py_ssize_t>(src.size())));
      return s.p ? PyObject_CallOneArg(rt.make_lambda, s.p) : nullptr;
    });
  return std::make_unique<PythonMapper>("python_lambda_mapper", f, p.GetBool("batched"), true);
}

std::unique_ptr<Op> MakeFileMapper(const Params& p) {
  const std::string& path = p.GetString("file_path");
  const std::string& name = p.GetString("function_name");
  PyObject* f = nullptr;
  if (!path.empty()) {
    f = CachedFunction("file\n" + text::ModelFileKey(path) + "\n" + name, [&](Runtime& rt) {
      return PyObject_CallFunction(rt.load_function, "s#s#", path.data(), static_cast<Py_ssize_t>(path.size()),
                                   name.data(), static_cast<Py_ssize_t>(name.size()));
    });
    // The plan records the file (size, mtime) with the model files: a resume after it changed is refused.
    text::ResolveModelFile({"python_file_mapper", "Python file", "file_path", path, {}});
  }
  return std::make_unique<PythonMapper>("python_file_mapper", f, p.GetBool("batched"), false);
}

}  // namespace

std::string CallPythonMapperFunction(Op& op, std::string_view json) {
  auto* m = dynamic_cast<PythonMapper*>(&op);
  if (m == nullptr) Fail(ErrorKind::kInternal, "op '{}' is not a python mapper", op.name());
  return m->Call(json);
}

void RegisterPythonMappers(std::vector<OpDef>& ops) {
  ops.push_back({"python_file_mapper", OpKind::kMapper,
                 "run function_name from a Python file on every sample (embedded CPython); the dict it returns is "
                 "merged into the sample",
                 {{"file_path", ParamType::kString, ParamValue::String(""),
                   "the .py file defining the function; empty: the identity", false},
                  {"function_name", ParamType::kString, ParamValue::String("process_single"),
                   "the function to call, of exactly one argument (the sample dict)", false},
                  {"batched", ParamType::kBool, ParamValue::Bool(false),
                   "pass a dict of lists (a batch of one sample) instead of the sample dict", false}},
                 MakeFileMapper});
  ops.push_back({"python_lambda_mapper", OpKind::kMapper,
                 "run a Python lambda on every sample (embedded CPython); the dict it returns is merged into the "
                 "sample",
                 {{"lambda_str", ParamType::kString, ParamValue::String(""),
                   "a lambda of exactly one argument (the sample dict) returning a dict; empty: the identity", false},
                  {"batched", ParamType::kBool, ParamValue::Bool(false),
                   "pass a dict of lists (a batch of one sample) instead of the sample dict", false}},
                 MakeLambdaMapper});
}

}  // namespace sluice
