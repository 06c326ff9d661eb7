#!/usr/bin/env bash
# Differential test of the recipe loader against how DataJuicer reads the same YAML.
#
# DataJuicer loads a recipe with jsonargparse, whose YAML loader is PyYAML's SafeLoader (YAML 1.1) with the
# timestamp resolver removed and a float pattern that also takes `1e-3`; op parameters are then checked by
# jsonargparse against the op's __init__ annotations (each value printed with Python's str() and parsed
# again as a command-line value), and the op receives the value as loaded. Each case below gives a YAML
# value, what that loader reads (checked here with PyYAML itself, so a wrong table entry fails too), what
# DataJuicer then does with it (from its source: data_juicer/config/config.py, jsonargparse's
# adapt_typehints), and what sluice must do: resolve the same value (checked in `sluice run --dry-run`'s
# resolved op parameters) or refuse with file:line and a cause. docs/compatibility.md ("Reading the recipe")
# lists the deliberate differences.
source "$(dirname "$0")/lib.sh" "$@"

python3 -c 'import yaml' 2>/dev/null || { echo "python3-yaml (PyYAML) is needed: scripts/install-deps.sh"; exit 1; }
for i in $(seq 1 200); do echo "{\"text\": \"record $i with some words in it\", \"on\": \"x\"}"; done > in.jsonl

if python3 - "$SLUICE" <<'PY'; then ok "recipe YAML cases"; else bad "recipe YAML cases"; fi
import json, math, re, subprocess, sys
import yaml

SLUICE = sys.argv[1]

# jsonargparse's DefaultLoader (jsonargparse/_loaders_dumpers.py), which DataJuicer's ActionConfigFile uses.
class DJLoader(yaml.SafeLoader):
    pass
DJLoader.yaml_implicit_resolvers = {
    k: [(t, r) for t, r in v if t not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:float")]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
DJLoader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"""^(?:
     [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X), list("-+0123456789."))

HEAD = "dataset_path: in.jsonl\nexport_path: out.jsonl\n"
ERR = "ERROR"  # the loader itself raises

def val(v):  # sluice resolves to this JSON value
    return ("value", v)

def accepted():  # sluice accepts; for values its JSON cannot show (infinities and NaN print as null)
    return ("out", r"recipe .* is valid")

def refuse(rx, line=None):  # sluice refuses (exit 2) naming the recipe (and `line`); rx must match the cause
    return ("refuse", rx, line)

# (op, parameter, YAML text, what DataJuicer's loader reads, what DataJuicer then does, what sluice must do)
# Infinities and NaN are checked exactly in tests/core/recipe_yaml_test.cc. Parameter types (ops that need
# no model): text_length_filter.min_len int, .reversed_range bool, .mem_required any, .text_key nullable
# string; alphanumeric_filter.min_ratio number; clean_email_mapper.repl and
# document_simhash_deduplicator.ignore_pattern string; suffix_filter.suffixes string or list of strings.
INT, NUM, BOOL = ("text_length_filter", "min_len"), ("alphanumeric_filter", "min_ratio"), ("text_length_filter", "reversed_range")
STR, STRL, ANY = ("clean_email_mapper", "repl"), ("suffix_filter", "suffixes"), ("text_length_filter", "mem_required")
NULLABLE = ("text_length_filter", "text_key")
PARAMS = [
    # integers, YAML 1.1
    (INT, "12", 12, "op gets 12", val(12)),
    (INT, "017", 15, "op gets 15 (YAML 1.1 octal)", val(15)),
    (INT, "-017", -15, "op gets -15", val(-15)),
    (INT, "0x1F", 31, "op gets 31", val(31)),
    (INT, "0b101", 5, "op gets 5", val(5)),
    (INT, "1_000", 1000, "op gets 1000", val(1000)),
    (INT, "1:30", 90, "op gets 90 (sexagesimal)", val(90)),
    (INT, "0o17", "0o17", "fails: str for int", refuse(r"must be int, got \"0o17\"")),
    (INT, "09", "09", "fails: '09' is neither octal nor decimal in YAML 1.1", refuse(r"must be int, got \"09\"")),
    (INT, "9223372036854775807", 9223372036854775807, "op gets sys.maxsize", val(9223372036854775807)),
    (INT, "9223372036854775808", 9223372036854775808, "op gets 2**63", refuse(r"must be int, got 9\.22")),
    (INT, "1.5", 1.5, "fails: float for int", refuse(r"must be int, got 1\.5")),
    (INT, "2e5", 200000.0, "fails: float for int (jsonargparse); the curated pile recipes write max_len: 2e5",
     val(200000)),
    (INT, "1e-3", 0.001, "fails: float for int", refuse(r"must be int, got 0\.001")),
    (INT, "Yes", True, "fails: bool for int", refuse(r"must be int, got true")),
    (INT, '"12"', "12", "passes validation, op gets the str '12' and fails per sample", refuse(r"must be int, got \"12\"")),
    (INT, "!!str 12", "12", "as quoted", refuse(r"must be int, got \"12\"")),
    (INT, "!!int '0x10'", 16, "op gets 16", val(16)),
    (INT, "=", ERR, "fails: no constructor for tag:yaml.org,2002:value", refuse(r"plain '=' is YAML 1\.1's value key")),
    (INT, "~", None, "op gets None", val(None)),
    (INT, "", None, "op gets None", val(None)),
    # floats: jsonargparse's pattern, not PyYAML's (which needs a dot)
    (NUM, "0.5", 0.5, "op gets 0.5", val(0.5)),
    (NUM, "1e-3", 0.001, "op gets 0.001", val(0.001)),
    (NUM, "1E+2", 100.0, "op gets 100.0", val(100.0)),
    (NUM, ".5", 0.5, "op gets 0.5", val(0.5)),
    (NUM, "1.", 1.0, "op gets 1.0", val(1.0)),
    (NUM, "1_0.5", 10.5, "op gets 10.5", val(10.5)),
    (NUM, "1:30.5", 90.5, "op gets 90.5", val(90.5)),
    (NUM, "-.5", "-.5", "fails: str for float (no sign before a bare dot)", refuse(r"must be number, got \"-\.5\"")),
    (NUM, ".5e3", ".5e3", "fails: str for float (exponent of .5 needs a sign)", refuse(r"must be number, got \"\.5e3\"")),
    (NUM, ".5e+3", 500.0, "op gets 500.0", val(500.0)),
    (NUM, "017", 15, "op gets 15", val(15)),
    (NUM, ".inf", math.inf, "op gets inf", accepted()),
    (NUM, "-.INF", -math.inf, "op gets -inf", accepted()),
    (NUM, "1e400", math.inf, "op gets inf", accepted()),
    (NUM, "!!float 3", 3.0, "op gets 3.0", val(3.0)),
    (NUM, "!!float abc", ERR, "fails: could not convert", refuse(r"!!float 'abc' is not a number")),
    (NUM, '"0.5"', "0.5", "passes validation, op gets the str '0.5' and fails per sample", refuse(r"must be number, got \"0\.5\"")),
    (NUM, "true", True, "fails: bool for float", refuse(r"must be number, got true")),
    (NUM, "2024-01-01", "2024-01-01", "fails: str for float (jsonargparse drops the timestamp resolver)",
     refuse(r"must be number, got \"2024-01-01\"")),
    # booleans, YAML 1.1
    (BOOL, "true", True, "op gets True", val(True)),
    (BOOL, "Yes", True, "op gets True", val(True)),
    (BOOL, "ON", True, "op gets True", val(True)),
    (BOOL, "off", False, "op gets False", val(False)),
    (BOOL, "NO", False, "op gets False", val(False)),
    (BOOL, "y", "y", "fails: str for bool ('y' is not a YAML 1.1 bool in PyYAML)", refuse(r"must be bool, got \"y\"")),
    (BOOL, "1", 1, "fails: int for bool", refuse(r"must be bool, got 1")),
    (BOOL, "!!bool yes", True, "op gets True", val(True)),
    (BOOL, "~", None, "op gets None for a non-optional bool", refuse(r"must not be null")),
    # strings
    (STR, "en", "en", "op gets 'en'", val("en")),
    (STR, "'no'", "no", "op gets 'no'", val("no")),
    (STR, "no", False, "passes validation (str(False)), op gets False", refuse(r"must be string, got false \(YAML reads")),
    (STR, "017", 15, "passes validation, op gets 15", refuse(r"must be string, got 15 \(YAML reads")),
    (STR, "1e5", 100000.0, "passes validation, op gets 100000.0", refuse(r"must be string, got 100000\.0")),
    (STR, "0o17", "0o17", "op gets '0o17'", val("0o17")),
    (STR, "2024-01-01", "2024-01-01", "op gets the str (timestamps stay text)", val("2024-01-01")),
    (STR, "-.5", "-.5", "op gets '-.5'", val("-.5")),
    (STR, "!!str 5", "5", "op gets '5'", val("5")),
    (STR, "'='", "=", "op gets '='", val("=")),
    (STR, "!binary x", ERR, "fails: no constructor for tag !binary", refuse(r"YAML tag '!binary' is not supported")),
    (STR, "!!binary aGk=", b"hi", "op gets bytes", refuse(r"YAML tag '!!binary' is not supported")),
    (("document_simhash_deduplicator", "ignore_pattern"), r"'\p{P}'", r"\p{P}", "op gets the regex", val(r"\p{P}")),
    (("document_simhash_deduplicator", "ignore_pattern"), r'"\\s+"', r"\s+", "op gets the regex", val(r"\s+")),
    (NULLABLE, "null", None, "op gets None", val(None)),
    (NULLABLE, "NULL", None, "op gets None", val(None)),
    (NULLABLE, "'null'", "null", "op gets 'null'", val("null")),
    # string or list of strings
    (STRL, ".txt", ".txt", "op gets '.txt'", val(".txt")),
    (STRL, "[.txt, .md]", [".txt", ".md"], "op gets the list", val([".txt", ".md"])),
    (STRL, "[.txt, 017]", [".txt", 15], "passes validation (the list printed is a str), op gets [.txt, 15]",
     refuse(r"must be string or list of strings")),
    (STRL, "[]", [], "op gets []", val([])),
    # any: the value as loaded
    (ANY, "017", 15, "op gets 15", val(15)),
    (ANY, "On", True, "op gets True", val(True)),
    (ANY, ".NaN", math.nan, "op gets nan", accepted()),
    (ANY, "{a: 0x10, b: [Off, 1_0]}", {"a": 16, "b": [False, 10]}, "op gets the dict", val({"a": 16, "b": [False, 10]})),
    (ANY, "{a: 1, a: 2}", {"a": 2}, "op gets {'a': 2} (last wins)", refuse(r"key 'a' of this mapping is given twice")),
]

# Whole recipes: (name, recipe text, check of what the loader reads, what sluice must do)
#   what sluice must do: ("op", index, parameter, JSON value) | refuse(rx) | ("out", regex on the dry-run output)
ANCHORS = HEAD + "process:\n  - text_length_filter: &p\n      min_len: 5\n      max_len: 50\n  - text_length_filter: *p\n"
MERGE = HEAD + ("process:\n  - text_length_filter: &p\n      min_len: 5\n      max_len: 50\n"
                "  - text_length_filter:\n      <<: *p\n      max_len: 70\n")
MERGE_LIST = HEAD + (
    "process:\n  - words_num_filter: &a {min_num: 3}\n  - words_num_filter: &b {min_num: 4, max_num: 9}\n"
    "  - words_num_filter:\n      <<: [*a, *b]\n")
WHOLE = [
    ("anchors and aliases", ANCHORS, lambda d: d["process"][1]["text_length_filter"]["min_len"] == 5,
     ("op", 1, "min_len", 5)),
    ("merge key: own entries win", MERGE, lambda d: d["process"][1]["text_length_filter"] == {"min_len": 5, "max_len": 70},
     ("op", 1, "max_len", 70)),
    ("merge key: merged entries come in", MERGE, lambda d: True, ("op", 1, "min_len", 5)),
    ("merge key list: the earlier mapping wins", MERGE_LIST,
     lambda d: d["process"][2]["words_num_filter"] == {"min_num": 3, "max_num": 9}, ("op", 2, "min_num", 3)),
    ("merge key list: later mappings fill in", MERGE_LIST, lambda d: True, ("op", 2, "max_num", 9)),
    ("merge key at the top level", HEAD + "<<: {np: 2}\n", lambda d: d["np"] == 2,
     refuse(r"merge key \('<<'\) is supported in op parameters only")),
    ("duplicate op parameter", HEAD + "process:\n  - text_length_filter:\n      min_len: 5\n      min_len: 6\n",
     lambda d: d["process"][0]["text_length_filter"]["min_len"] == 6, refuse(r"op 'text_length_filter': parameter 'min_len' is given twice", line=6)),
    ("duplicate top-level key", HEAD + "np: 1\nnp: 2\n", lambda d: d["np"] == 2,
     refuse(r"recipe key 'np' appears twice", line=4)),
    ("duplicate section key", HEAD + "checkpoint:\n  n_ops: 1\n  n_ops: 2\n", lambda d: d["checkpoint"]["n_ops"] == 2,
     refuse(r"recipe key 'checkpoint.n_ops' appears twice", line=5)),
    ("two documents", HEAD + "---\nnp: 1\n", ERR, refuse(r"a second YAML document", line=4)),
    ("document start marker", "---\n" + HEAD + "process:\n  - text_length_filter:\n      min_len: 3\n",
     lambda d: d["process"][0]["text_length_filter"]["min_len"] == 3, ("op", 0, "min_len", 3)),
    ("empty file", "", lambda d: d is None, refuse(r"'dataset_path' is required")),
    ("tab indentation", HEAD + "process:\n  - text_length_filter:\n\tmin_len: 5\n", ERR, refuse(r"invalid YAML", line=5)),
    ("byte order mark", "\ufeff" + HEAD + "process:\n  - text_length_filter:\n      min_len: 4\n",
     lambda d: d["dataset_path"] == "in.jsonl", ("op", 0, "min_len", 4)),
    ("CRLF line ends", (HEAD + "process:\n  - text_length_filter:\n      min_len: 6\n").replace("\n", "\r\n"),
     lambda d: d["process"][0]["text_length_filter"]["min_len"] == 6, ("op", 0, "min_len", 6)),
    ("op without parameters", HEAD + "process:\n  - text_length_filter:\n", lambda d: d["process"][0]["text_length_filter"] is None,
     ("op", 0, "min_len", 10)),
    # top-level keys and sections (DataJuicer: jsonargparse checks them against their declared types directly)
    ("num_of_partitions: 017 is 15", HEAD + "partition:\n  mode: manual\n  num_of_partitions: 017\n",
     lambda d: d["partition"]["num_of_partitions"] == 15, ("out", r"input: 1 file\(s\), \d+ bytes, 15 partition\(s\)")),
    ("np: 0b1", HEAD + "np: 0b1\n", lambda d: d["np"] == 1, ("out", r"np: 1 \(of")),
    ("np: 1.5", HEAD + "np: 1.5\n", lambda d: d["np"] == 1.5, refuse(r"'np' must be an integer >= 1, got '1\.5'", line=3)),
    ("np quoted", HEAD + "np: '2'\n", lambda d: d["np"] == "2", refuse(r"'np' must be an integer >= 1, got '2'")),
    ("export_shard_size: 1_000_000", HEAD + "export_shard_size: 1_000_000\n", lambda d: d["export_shard_size"] == 1000000,
     ("out", r"recipe .* is valid")),
    ("export_shard_size: -1", HEAD + "export_shard_size: -1\n", lambda d: d["export_shard_size"] == -1,
     refuse(r"'export_shard_size' must be an integer >= 0")),
    ("keep_stats_in_res_ds: ON", HEAD + "keep_stats_in_res_ds: ON\n", lambda d: d["keep_stats_in_res_ds"] is True,
     ("out", r"recipe .* is valid")),
    ("keep_stats_in_res_ds: 1", HEAD + "keep_stats_in_res_ds: 1\n", lambda d: d["keep_stats_in_res_ds"] == 1,
     refuse(r"'keep_stats_in_res_ds' must be true or false")),
    ("project_name: 017", HEAD + "project_name: 017\n", lambda d: d["project_name"] == 15,
     refuse(r"'project_name' must be a string; YAML reads '017' as the integer 15: quote it", line=3)),
    ("project_name: yes", HEAD + "project_name: yes\n", lambda d: d["project_name"] is True,
     refuse(r"'project_name' must be a string; YAML reads 'yes' as the boolean true")),
    ("text_keys: [text, 017]", HEAD + "text_keys: [text, 017]\n", lambda d: d["text_keys"] == ["text", 15],
     refuse(r"'text_keys' must be a string; YAML reads '017' as the integer 15")),
    ("text_keys: 'on'", HEAD + "text_keys: 'on'\n", lambda d: d["text_keys"] == "on", ("out", r"recipe .* is valid")),
    ("dataset_path list", "dataset_path: [in.jsonl, in.jsonl]\nexport_path: out.jsonl\n",
     lambda d: d["dataset_path"] == ["in.jsonl", "in.jsonl"], ("out", r"input: 2 file\(s\)")),
    ("unsupported key turned Off", HEAD + "op_fusion: Off\n", lambda d: d["op_fusion"] is False, ("out", r"recipe .* is valid")),
    ("unsupported key turned ON", HEAD + "op_fusion: ON\n", lambda d: d["op_fusion"] is True,
     refuse(r"recipe key 'op_fusion' is not supported by sluice yet")),
    ("checkpoint.enabled: Off", HEAD + "checkpoint:\n  enabled: Off\n", lambda d: d["checkpoint"]["enabled"] is False,
     ("out", r"checkpoint: disabled")),
]

fails = 0
def report(ok, what):
    global fails
    print(("ok - " if ok else "FAIL - ") + what)
    fails += 0 if ok else 1

def load_dj(text):
    try:
        return yaml.load(text, Loader=DJLoader)
    except (yaml.YAMLError, ValueError):  # PyYAML's constructors raise ValueError too (`!!float abc`)
        return ERR

def same(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) == type(b) and a == b if not isinstance(a, (list, dict)) else a == b

def run(text):
    with open("r.yaml", "w", newline="") as f:
        f.write(text)
    p = subprocess.run([SLUICE, "run", "r.yaml", "--dry-run"], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr

def op_params(out):
    ops = []
    for line in out.splitlines():
        m = re.match(r"\s+#\d+ \S+ (\{.*\})$", line)
        if m:
            ops.append(json.loads(m.group(1)))
    return ops

def check_outcome(what, expect, rc, out, err, op_index=0, param=None):
    kind = expect[0]
    if kind == "refuse":
        msg = err.strip().removeprefix("sluice: error: ")
        m = re.match(r"\S*r\.yaml(?::(\d+))?(?::\d+)?: (.*)", msg, re.S)
        ok = rc == 2 and m is not None and re.search(expect[1], m.group(2)) is not None
        if ok and expect[2] is not None:
            ok = m.group(1) == str(expect[2])
        report(ok, f"{what}: refused" + ("" if ok else f" as expected? rc {rc}: {msg or out.strip()}"))
        return
    if rc != 0:
        report(False, f"{what}: expected acceptance, got rc {rc}: {err.strip()}")
        return
    if kind == "out":
        report(re.search(expect[1], out) is not None, f"{what}: dry-run output matches {expect[1]!r}")
        return
    if kind == "op":
        _, op_index, param, want = expect
    else:
        want = expect[1]
    ops = op_params(out)
    got = ops[op_index][param] if op_index < len(ops) and param in ops[op_index] else "<missing>"
    if isinstance(want, float) and isinstance(got, int) and not isinstance(got, bool):
        good = False  # an int where a float is expected is a different value type
    else:
        good = got == want and type(got) == type(want)
    report(good, f"{what}: sluice resolves {json.dumps(got)} (want {json.dumps(want)})")

for (op, param), text, dj_reads, dj_does, expect in PARAMS:
    recipe = HEAD + f"process:\n  - {op}:\n      {param}: {text}\n"
    loaded = load_dj(recipe)
    got_dj = ERR if loaded == ERR else loaded["process"][0][op][param]
    what = f"{op}.{param}: {text!r}"
    if not same(got_dj, dj_reads):
        report(False, f"{what}: the table says DataJuicer's loader reads {dj_reads!r}, PyYAML reads {got_dj!r}")
        continue
    rc, out, err = run(recipe)
    check_outcome(f"{what} (DataJuicer: {dj_does})", expect, rc, out, err, 0, param)

for name, text, dj_check, expect in WHOLE:
    loaded = load_dj(text)
    if dj_check == ERR:
        dj_ok = loaded == ERR
    else:
        dj_ok = loaded != ERR and dj_check(loaded)
    if not dj_ok:
        report(False, f"{name}: the table's reading by DataJuicer's loader does not hold (PyYAML: {loaded!r})")
        continue
    rc, out, err = run(text)
    check_outcome(name, expect, rc, out, err)

print(f"{fails} failed")
sys.exit(1 if fails else 0)
PY
finish
