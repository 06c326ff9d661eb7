// Helpers for op tests that drive Debian's command-line tools (spm_train, spm_encode, fasttext, python3):
// running a command, splitting its output, scoped environment variables, and the tiny SentencePiece fixture
// the tokenized word ops are compared on.
//
// Contract:
//   Shell(cmd, out)      runs `cmd` with /bin/sh; returns its exit status (-1 if it could not run) and, if
//                        `out` is given, its stdout.
//   Lines(s)             s split at '\n' (no trailing empty line).
//   ScopedEnv            sets an environment variable for a scope and restores the old value (or unsets it):
//                        other tests of the binary, e.g. the conformance test, expect model ops to find no model.
//   BuildTokenizerFixture(dir, seed_lines, extra, texts)
//                        trains dir/en.model (unigram, 1000 pieces) on the first 800 records of examples/demo,
//                        sets `texts` to 300 of them, `seed_lines` non-empty lines of each ../shared/seeds
//                        document, then `extra` (newlines of every text turned into spaces), and writes
//                        dir/texts.txt (one per line) and dir/texts.pieces (spm_encode's pieces). Returns "" or
//                        what went wrong (e.g. a missing tool and the Debian package that has it).
#pragma once

#include <simdjson.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace sluice::testing {

inline int Shell(const std::string& cmd, std::string* out = nullptr) {
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  std::string data;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) data.append(buf, n);
  int st = ::pclose(p);
  if (out) *out = std::move(data);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

inline std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

inline std::string BuildTokenizerFixture(const std::filesystem::path& dir, int seed_lines,
                                         const std::vector<std::string>& extra, std::vector<std::string>* texts) {
  auto path = [&](const char* name) { return (dir / name).string(); };
  for (const char* tool : {"spm_train", "spm_encode", "python3"})
    if (Shell(std::string("command -v ") + tool + " >/dev/null 2>&1") != 0)
      return std::string("the test needs the '") + tool +
             "' command (Debian packages sentencepiece, python3; scripts/install-deps.sh installs them)";
  auto one_line = [](std::string t) {
    for (char& c : t)
      if (c == '\n' || c == '\r') c = ' ';
    return t;
  };
  simdjson::dom::parser parser;
  std::ifstream demo(std::string(SLUICE_SOURCE_DIR) + "/examples/demo/data.jsonl");
  std::string line, corpus;
  std::vector<std::string> demo_texts;
  while (demo_texts.size() < 800 && std::getline(demo, line)) {
    std::string_view t;
    if (parser.parse(line)["text"].get(t)) continue;
    demo_texts.push_back(one_line(std::string(t)));
    corpus += demo_texts.back() + "\n";
  }
  if (demo_texts.size() < 800) return "could not read the demo corpus (examples/demo/data.jsonl)";
  std::ofstream(path("corpus.txt"), std::ios::binary) << corpus;
  std::string log = path("train.log");
  if (Shell("spm_train --input=" + path("corpus.txt") + " --model_prefix=" + path("en") +
            " --vocab_size=1000 --model_type=unigram --character_coverage=1.0 --num_threads=1"
            " --hard_vocab_limit=false >" + log + " 2>&1") != 0)
    return "spm_train failed, see " + log;

  texts->assign(demo_texts.begin(), demo_texts.begin() + 300);
  for (const char* seed : {"000_3745a414c4301d54.txt", "001_52dbaf6f81e6e114.txt", "002_9440e94c8b9ca581.txt",
                           "003_f0fee1d4bec4bb14.txt", "004_315147a9e2ac19ee.txt"}) {
    std::ifstream in(std::string(SLUICE_SOURCE_DIR) + "/../shared/seeds/" + seed, std::ios::binary);
    if (!in.good()) return std::string("cannot read the seed document ") + seed;
    for (int n = 0; n < seed_lines && std::getline(in, line);)
      if (!line.empty()) texts->push_back(one_line(line)), ++n;
  }
  for (const auto& e : extra) texts->push_back(one_line(e));
  std::string all;
  for (const auto& t : *texts) all += t + "\n";
  std::ofstream(path("texts.txt"), std::ios::binary) << all;
  if (Shell("spm_encode --model=" + path("en.model") + " --output_format=piece <" + path("texts.txt") + " >" +
            path("texts.pieces")) != 0)
    return "spm_encode failed";
  return "";
}

}  // namespace sluice::testing
