// Local model files of the model-based ops (datajuicer-ops.md §6). sluice never downloads anything.
//
// DataJuicer resolves its models by file name in its model cache (lid.176.bin, <lang>.sp.model,
// <lang>.arpa.bin); sluice looks the same names up in the models directories, or takes a path from an op
// parameter, so DataJuicer's recipes run unchanged once the files are present.
//
// Contract:
//   kModelsDirEnv        "SLUICE_MODELS_DIR": a directory, or several separated by ':', searched in order.
//   ResolveModelFile(q)  the file to load, decided when the op is constructed (before any data is read):
//                        q.given non-empty -> that path (relative to the working directory), which must be a
//                        regular file; otherwise the first <dir>/<name> of q.names (in order) over the models
//                        directories that is a regular file. Nothing found: a kUsage error naming the op, the
//                        exact paths looked for, the environment variable and the op parameter that supply it.
//   CachedModel<T>(path, load)  one shared, read-only instance per file per process (keyed by canonical path,
//                        size and mtime): ops are created once per worker thread and share the model.
//                        `load(path)` runs at most once per key, under a lock; its exceptions propagate and
//                        nothing is cached.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace sluice::text {

inline constexpr const char* kModelsDirEnv = "SLUICE_MODELS_DIR";

struct ModelQuery {
  std::string op;                  // op name, for messages
  std::string what;                // e.g. "fastText language-id model"
  std::string param;               // the op parameter that takes an explicit path
  std::string given;               // that parameter's value ("" = look up by name)
  std::vector<std::string> names;  // default file names, in order of preference
};

std::string ResolveModelFile(const ModelQuery& q);

// The identity of a file for the model cache: canonical path, size and modification time, '\n'-separated.
std::string ModelFileKey(const std::string& path);

// Every model file ResolveModelFile returned in this process, sorted. The plan records their identities, so
// a resume with a replaced model is refused instead of mixing two models' results (engine/plan.h).
std::vector<std::string> ResolvedModelFiles();

template <class T, class Load>
std::shared_ptr<const T> CachedModel(const std::string& path, Load&& load) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const T>> cache;
  std::string key = ModelFileKey(path);
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  std::shared_ptr<const T> m = load(path);
  cache.emplace(std::move(key), m);
  return m;
}

}  // namespace sluice::text
