// bench_ops_chain: a recipe's op chain alone, on one thread -- the per-op benchmark and the tool that
// proves an op change keeps every result (dump before, dump after, compare the files byte for byte).
//
//   bench_ops_chain RECIPE.yaml [IN.jsonl] [--docs DIR]... [--rounds N] [--all] [--hot] [--dump OUT.jsonl]
//
// Input: IN.jsonl (default: the recipe's first dataset_path), parsed once with the engine's RecordParser
// and the recipe's text keys; or, with --docs, every file of DIR (e.g. ../shared/reference, ../shared/seeds:
// English and Chinese markdown with links) cut at paragraph boundaries into records of about 3 KB, as
// {"text": ...}. Parsing and writing are not timed: only the op calls are.
//
// Each round restores every record's texts and stats to the parsed ones and runs the ops the way
// OpChain::Run does, shared analysis epochs (ops/text/analysis.h) included: a mapper rewrites its
// (non-null) text, a filter computes its stats and drops the
// sample unless Keep says otherwise, an op error drops it (it is reported in the dump, never hidden). With
// --all no filter drops anything, so every op sees every record (each op's throughput "alone", on the
// mapped texts). A deduplicator only computes its key; the global keep-first decision is the engine's.
// By default all records are restored before a round, so the first op reads texts written long before
// (from L3 or memory); with --hot each record is restored right before its ops run (untimed), as the
// engine's parser leaves a text in cache just before the chain runs on it.
//
// Output: per op the records and text bytes it saw, its best round time and MB/s over the bytes it saw,
// and the share of the chain's time; then the whole chain (best round) in MB/s of input text and of JSONL
// input, and once more from as many rounds that time only the whole chain (no clock reads per op).
// MB = 10^6 bytes. The machine may be shared and noisy: the best of --rounds (default 5) rounds is
// reported, per op and for the chain, and the chain also in thread CPU time (best round; the wall-clock
// figures include time the thread waited for a core, which on a busy 2-core machine can dominate).
//
// --dump writes one JSON line per record after the last round (an untimed one): {"i", "kept",
// "dropped_by" (op index or -1), "error" (only on an op error), "fingerprints" (hex of each
// deduplicator's per-sample fingerprint, only when the chain has one), "texts" (the texts as the ops
// left them), "stats"}. Two builds agree on a data set iff their dumps are identical; use it with and
// without --all.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/json_writer.h"
#include "core/recipe.h"
#include "core/record.h"
#include "core/sample.h"
#include "ops/op.h"
#include "ops/pipeline.h"
#include "ops/text/analysis.h"

namespace {

using namespace sluice;
using Clock = std::chrono::steady_clock;

[[noreturn]] void Usage(const char* msg) {
  std::fprintf(stderr, "bench_ops_chain: %s\nusage: bench_ops_chain RECIPE.yaml [IN.jsonl] [--docs DIR]... "
                       "[--rounds N] [--all] [--hot] [--dump OUT.jsonl]\n", msg);
  std::exit(2);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Usage(("cannot read " + path).c_str());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Records of about 3 KB cut at paragraph boundaries from every file of each directory, as JSONL.
std::string DocsAsJsonl(const std::vector<std::string>& dirs) {
  std::string jsonl;
  for (const auto& dir : dirs) {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir))
      if (e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::string d = ReadFile(f.string());
      size_t start = 0;
      while (start < d.size()) {
        size_t cut = d.find("\n\n", start + 3000);
        if (cut == std::string::npos) cut = d.size();
        jsonl += "{\"text\":";
        AppendJsonString(jsonl, std::string_view(d).substr(start, cut - start));
        jsonl += "}\n";
        start = cut;
      }
    }
  }
  return jsonl;
}

struct Outcome {
  int dropped_by = -1;
  std::string error;
  std::string fingerprints;  // hex of each deduplicator's fingerprint, in chain order, ' '-separated
};

struct OpTimes {
  double best = 1e300;  // best round, seconds
  double round = 0;
  uint64_t records = 0, bytes = 0;  // seen in the last round
};

int Main(int argc, char** argv) {
  std::string recipe_path, input, dump;
  std::vector<std::string> docs;
  int rounds = 5;
  bool all = false, hot = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&] {
      if (i + 1 >= argc) Usage((a + " needs a value").c_str());
      return std::string(argv[++i]);
    };
    if (a == "--rounds") rounds = std::max(1, std::atoi(value().c_str()));
    else if (a == "--all") all = true;
    else if (a == "--hot") hot = true;
    else if (a == "--dump") dump = value();
    else if (a == "--docs") docs.push_back(value());
    else if (a.starts_with("--")) Usage(("unknown option " + a).c_str());
    else if (recipe_path.empty()) recipe_path = a;
    else if (input.empty()) input = a;
    else Usage("too many arguments");
  }
  if (recipe_path.empty()) Usage("no recipe");

  Recipe recipe = LoadRecipe(recipe_path, {});
  Pipeline pipeline = ResolvePipeline(recipe);
  std::vector<std::unique_ptr<Op>> ops;
  for (const auto& r : pipeline.ops) {
    ops.push_back(r.def->create(r.params));
    ops.back()->set_slot(r.slot);
  }

  // Input, with the parser's padding after the last line.
  std::string data;
  if (!docs.empty()) {
    if (!input.empty()) Usage("give IN.jsonl or --docs, not both");
    data = DocsAsJsonl(docs);
    input = "--docs";
  } else {
    if (input.empty()) input = recipe.dataset_paths.at(0);
    data = ReadFile(input);
  }
  size_t input_bytes = data.size();
  data.append(RecordPadding(), ' ');

  RecordParser parser(pipeline.text_keys);
  std::vector<Sample> orig;
  size_t text_bytes = 0;
  {
    size_t pos = 0, line_no = 0;
    std::string err;
    while (pos < input_bytes) {
      size_t nl = data.find('\n', pos);
      if (nl == std::string::npos || nl > input_bytes) nl = input_bytes;
      ++line_no;
      Sample s;
      ParseStatus st = parser.Parse(std::string_view(data).substr(pos, nl - pos), s, err);
      pos = nl + 1;
      if (st == ParseStatus::kBlank || st == ParseStatus::kNullText) continue;
      if (st != ParseStatus::kOk) {
        std::fprintf(stderr, "bench_ops_chain: %s:%zu: %s\n", input.c_str(), line_no, err.c_str());
        return 3;
      }
      text_bytes += s.texts[0].value().size();
      orig.push_back(std::move(s));
    }
  }

  std::vector<Sample> work = orig;
  std::vector<Outcome> outcome(orig.size());
  std::vector<OpTimes> times(ops.size());
  double chain_best = 1e300, chain_cpu_best = 1e300;
  auto thread_cpu = [] {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  };
  // Rounds 0 .. rounds-1 time every op (two clock reads per op call); rounds .. 2*rounds-1 only time the
  // whole chain, without those reads (what the engine runs; the per-op reads cost ~2-3% of the chain).
  double plain_best = 1e300, plain_cpu_best = 1e300;
  for (int round = 0; round < 2 * rounds; ++round) {
    const bool per_op = round < rounds;
    for (auto& t : times) t.round = 0, t.records = 0, t.bytes = 0;
    auto restore = [&](size_t r) {
      for (size_t k = 0; k < orig[r].texts.size(); ++k) work[r].texts[k] = orig[r].texts[k];
      work[r].stats = orig[r].stats;
      work[r].stats_changed = false;
      outcome[r] = Outcome{};
    };
    if (!hot)
      for (size_t r = 0; r < orig.size(); ++r) restore(r);
    double restore_s = 0;  // --hot: restores inside the round, taken out of its times
    const double cpu0 = thread_cpu();
    const auto wall0 = Clock::now();
    for (size_t r = 0; r < work.size(); ++r) {
      if (hot) {
        auto h0 = Clock::now();
        restore(r);
        restore_s += std::chrono::duration<double>(Clock::now() - h0).count();
      }
      Sample& s = work[r];
      text::AnalysisScope analysis(s);  // as OpChain::Run: one shared analysis between two mappers
      Clock::time_point t0;
      if (per_op) t0 = Clock::now();
      for (size_t k = 0; k < ops.size(); ++k) {
        Op& op = *ops[k];
        TextField& tf = s.texts[static_cast<size_t>(op.slot())];
        times[k].records++;
        times[k].bytes += tf.value().size();
        bool keep = true;
        try {
          switch (op.kind()) {
            case OpKind::kMapper:
              if (!tf.is_null && static_cast<Mapper&>(op).Map(tf.mutable_value())) tf.changed = true;
              break;
            case OpKind::kFilter: {
              auto& f = static_cast<Filter&>(op);
              f.ComputeStats(s);
              keep = all || f.Keep(s);
              break;
            }
            case OpKind::kDeduplicator:
            case OpKind::kSelector:  // selectors are Deduplicators to the chain (op.h); kind() never says kSelector
              static_cast<Deduplicator&>(op).Fingerprint(s);
              break;
          }
        } catch (const std::exception& e) {
          outcome[r].error = e.what();
          keep = false;
        }
        if (per_op) times[k].round += std::chrono::duration<double>(Clock::now() - t0).count();
        if (op.kind() == OpKind::kDeduplicator && keep && round == 2 * rounds - 1) {  // the round dumped
          static constexpr char kHex[] = "0123456789abcdef";
          std::string& fp = outcome[r].fingerprints;
          if (!fp.empty()) fp += ' ';
          for (char c : static_cast<Deduplicator&>(op).fingerprint()) {
            fp += kHex[static_cast<uint8_t>(c) >> 4];
            fp += kHex[static_cast<uint8_t>(c) & 15];
          }
        }
        if (per_op) t0 = Clock::now();
        if (op.kind() == OpKind::kMapper) analysis.Renew();
        if (!keep) {
          outcome[r].dropped_by = static_cast<int>(k);
          break;
        }
      }
    }
    const double cpu = thread_cpu() - cpu0 - restore_s;
    if (!per_op) {
      plain_best = std::min(plain_best, std::chrono::duration<double>(Clock::now() - wall0).count() - restore_s);
      plain_cpu_best = std::min(plain_cpu_best, cpu);
      continue;
    }
    chain_cpu_best = std::min(chain_cpu_best, cpu);
    double total = 0;
    for (auto& t : times) {
      t.best = std::min(t.best, t.round);
      total += t.round;
    }
    chain_best = std::min(chain_best, total);
  }

  size_t kept = 0;
  for (const auto& o : outcome) kept += o.dropped_by < 0;
  std::printf("%s: %zu records, %.2f MB JSONL, %.2f MB text; %s; best of %d rounds\n", input.c_str(), orig.size(),
              static_cast<double>(input_bytes) / 1e6, static_cast<double>(text_bytes) / 1e6,
              all ? "--all: filters drop nothing" : "chain: filters drop", rounds);
  std::printf("  %-34s %9s %9s %9s %9s %7s\n", "op", "records", "MB in", "seconds", "MB/s", "share");
  double sum_best = 0;
  for (const auto& t : times) sum_best += t.best;
  for (size_t k = 0; k < ops.size(); ++k) {
    const OpTimes& t = times[k];
    std::printf("  %-34s %9llu %9.2f %9.4f %9.1f %6.1f%%\n", ops[k]->name().c_str(),
                static_cast<unsigned long long>(t.records), static_cast<double>(t.bytes) / 1e6, t.best,
                static_cast<double>(t.bytes) / 1e6 / t.best, 100.0 * t.best / sum_best);
  }
  std::printf("  %-34s %9zu kept   %9.4f s   %.1f MB/s of text, %.1f MB/s of JSONL\n", "whole chain", kept, chain_best,
              static_cast<double>(text_bytes) / 1e6 / chain_best, static_cast<double>(input_bytes) / 1e6 / chain_best);
  std::printf("  %-34s %9s      %9.4f s   %.1f MB/s of text (thread CPU time: excludes time descheduled on a busy machine)\n",
              "whole chain, CPU time", "", chain_cpu_best, static_cast<double>(text_bytes) / 1e6 / chain_cpu_best);
  std::printf("  %-34s %9s      %9.4f s   %.1f MB/s of text, %.1f MB/s of JSONL; CPU time %.4f s, %.1f MB/s of text\n",
              "whole chain, no per-op clocks", "", plain_best, static_cast<double>(text_bytes) / 1e6 / plain_best,
              static_cast<double>(input_bytes) / 1e6 / plain_best, plain_cpu_best,
              static_cast<double>(text_bytes) / 1e6 / plain_cpu_best);

  if (!dump.empty()) {
    std::FILE* f = std::fopen(dump.c_str(), "wb");
    if (f == nullptr) Usage(("cannot write " + dump).c_str());
    std::string line;
    for (size_t r = 0; r < work.size(); ++r) {
      const Sample& s = work[r];
      JsonWriter w;
      w.BeginObject().Field("i", static_cast<uint64_t>(r)).Field("kept", outcome[r].dropped_by < 0);
      w.Field("dropped_by", outcome[r].dropped_by);
      if (!outcome[r].error.empty()) w.Field("error", outcome[r].error);
      if (!outcome[r].fingerprints.empty()) w.Field("fingerprints", outcome[r].fingerprints);
      w.Key("texts").BeginArray();
      for (const auto& t : s.texts) {
        if (t.is_null || !t.present) w.Null();
        else w.String(t.value());
      }
      w.EndArray();
      std::string stats;
      s.stats.AppendJson(stats);
      w.Key("stats").Raw(stats).EndObject();
      line = w.Take();
      line += '\n';
      std::fwrite(line.data(), 1, line.size(), f);
    }
    if (std::fclose(f) != 0) Usage(("cannot write " + dump).c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_ops_chain: %s\n", e.what());
    return 2;
  }
}
