// TempDir: the one temporary-directory helper of the tests.
//
// Contract:
//   TempDir(prefix)     creates a fresh, empty directory /tmp/<prefix>-XXXXXX (mkdtemp, mode 0700); if it
//                       cannot, throws std::runtime_error naming the template and errno's text, so a test
//                       never runs in "" (gtest reports an exception from a fixture's constructor as a failure).
//   ~TempDir()          removes the directory and everything in it, errors ignored; only in the process that
//                       made it (a forked child that runs exit handlers, e.g. a death test's, leaves it alone).
//   path()              the directory, without a trailing '/'.
//   Write(name, content)
//                       writes `content` byte for byte (binary, truncating) to path() + "/" + name, creating
//                       the parent directories of `name`; returns that full path. Throws if the file cannot
//                       be written.
// Not copyable or movable: hold it as a member, a local, or in std::optional / std::unique_ptr.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace sluice::testing {

class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "sluice-test") {
    const std::string pattern = "/tmp/" + std::string(prefix) + "-XXXXXX";
    std::string tmpl = pattern;
    if (::mkdtemp(tmpl.data()) == nullptr) {
      int err = errno;
      throw std::runtime_error("mkdtemp(" + pattern + "): " + std::strerror(err));
    }
    path_ = std::move(tmpl);
  }
  ~TempDir() {
    if (::getpid() != owner_) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

  std::string Write(std::string_view name, std::string_view content) const {
    std::string p = path_ + "/" + std::string(name);
    std::filesystem::create_directories(std::filesystem::path(p).parent_path());
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.close();
    if (!out) throw std::runtime_error("TempDir::Write: cannot write " + p);
    return p;
  }

 private:
  pid_t owner_ = ::getpid();
  std::string path_;
};

}  // namespace sluice::testing
