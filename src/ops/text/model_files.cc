#include "ops/text/model_files.h"

#include <set>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

#include "core/error.h"

namespace sluice::text {
namespace {

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::vector<std::string> ModelsDirs() {
  std::vector<std::string> dirs;
  const char* env = std::getenv(kModelsDirEnv);
  if (env == nullptr) return dirs;
  std::string all(env);
  for (size_t b = 0; b <= all.size();) {
    size_t e = all.find(':', b);
    if (e == std::string::npos) e = all.size();
    if (e > b) dirs.push_back(all.substr(b, e - b));
    b = e + 1;
  }
  return dirs;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += (i ? " or " : "") + names[i];
  return s;
}

}  // namespace

namespace {
std::mutex g_resolved_mu;
std::set<std::string> g_resolved;

const std::string& Remember(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_resolved_mu);
  g_resolved.insert(path);
  return path;
}
}  // namespace

std::vector<std::string> ResolvedModelFiles() {
  std::lock_guard<std::mutex> lock(g_resolved_mu);
  return {g_resolved.begin(), g_resolved.end()};
}

std::string ResolveModelFile(const ModelQuery& q) {
  if (!q.given.empty()) {
    if (IsRegularFile(q.given)) return Remember(q.given);
    Fail(ErrorKind::kUsage, "{}: the {} '{}' given by the parameter {} is not a readable file", q.op, q.what,
         q.given, q.param);
  }
  std::vector<std::string> dirs = ModelsDirs();
  std::string looked;
  for (const auto& d : dirs)
    for (const auto& n : q.names) {
      std::string path = (std::filesystem::path(d) / n).string();
      if (IsRegularFile(path)) return Remember(path);
      looked += (looked.empty() ? "" : ", ") + path;
    }
  std::string where = dirs.empty() ? fmt::format("{} is not set", kModelsDirEnv)
                                   : fmt::format("looked for {}", looked);
  Fail(ErrorKind::kUsage,
       "{}: needs the {} {} ({}); put the file in a directory named by the environment variable {}, or give its "
       "path with the op parameter {} (sluice never downloads models)",
       q.op, q.what, JoinNames(q.names), where, kModelsDirEnv, q.param);
}

std::string ModelFileKey(const std::string& path) {
  struct stat st {};
  ::stat(path.c_str(), &st);
  std::error_code ec;
  std::filesystem::path canon = std::filesystem::weakly_canonical(path, ec);
  return fmt::format("{}\n{}\n{}.{}", ec ? path : canon.string(), static_cast<long long>(st.st_size),
                     static_cast<long long>(st.st_mtim.tv_sec), static_cast<long long>(st.st_mtim.tv_nsec));
}

}  // namespace sluice::text
