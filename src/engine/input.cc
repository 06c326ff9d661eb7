#include "engine/input.h"

#include <glob.h>

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "core/xxh3.h"

namespace sluice {

namespace fs = std::filesystem;

static bool IsDataFile(const std::string& name) {
  for (const char* ext : {".jsonl", ".json", ".jsonl.gz", ".json.gz", ".jsonl.zst", ".json.zst"})
    if (name.ends_with(ext)) return true;
  return false;
}

uint64_t SampleHash(Env* env, const std::string& path, uint64_t size) {
  const uint64_t kBlock = 64 << 10;
  std::string buf(kBlock, '\0');
  Xxh3State st = NewXxh3State();
  for (uint64_t off : {uint64_t{0}, size / 2, size > kBlock ? size - kBlock : 0}) {
    size_t n = env->ReadAt(path, off, kBlock, buf.data());
    XXH3_64bits_update(st.get(), buf.data(), n);
  }
  return XXH3_64bits_digest(st.get());
}

std::vector<InputFile> ResolveInputs(Env* env, const std::vector<std::string>& dataset_paths) {
  std::vector<std::string> files;
  for (const auto& spec : dataset_paths) {
    std::vector<std::string> group;
    bool is_glob = spec.find_first_of("*?[") != std::string::npos;
    std::vector<std::string> roots;
    if (is_glob) {
      glob_t g{};
      if (::glob(spec.c_str(), 0, nullptr, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc; ++i) roots.emplace_back(g.gl_pathv[i]);
      globfree(&g);
      if (roots.empty()) Fail(ErrorKind::kInput, "dataset_path '{}' matches no file", spec);
    } else {
      roots.push_back(spec);
    }
    for (const auto& root : roots) {
      std::error_code ec;
      if (fs::is_directory(root, ec)) {
        // An unreadable subdirectory is an error, not the end of the listing: stopping there would run the
        // job on part of the input without a word.
        fs::recursive_directory_iterator it(root, ec), end;
        std::string last = root;  // a failed step ends the iterator: the entry before it names the place
        for (; !ec && it != end; it.increment(ec)) {
          last = it->path().string();
          std::error_code entry_ec;  // a dangling link is no data file, not an error
          if (it->is_regular_file(entry_ec) && IsDataFile(it->path().filename().string())) group.push_back(last);
        }
        if (ec) Fail(ErrorKind::kInput, "dataset_path '{}': cannot list all of it (stopped after '{}'): {}", root, last, ec.message());
        if (group.empty()) Fail(ErrorKind::kInput, "dataset_path '{}' is a directory without .jsonl/.json(.gz/.zst) files", root);
      } else if (fs::is_regular_file(root, ec)) {
        group.push_back(root);
      } else {
        Fail(ErrorKind::kInput, "dataset_path '{}' does not exist", root);
      }
    }
    std::sort(group.begin(), group.end());
    files.insert(files.end(), group.begin(), group.end());
  }
  std::vector<InputFile> out;
  for (const auto& f : files) {
    InputFile in;
    in.path = fs::absolute(f).lexically_normal().string();
    in.size = env->FileSize(in.path);
    in.mtime_ns = env->FileMtimeNs(in.path);
    in.sample_hash = SampleHash(env, in.path, in.size);
    out.push_back(std::move(in));
  }
  return out;
}

}  // namespace sluice
