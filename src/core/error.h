// Errors. Every failure sluice reports is an sluice::Error carrying a kind (which decides the process exit
// code) and a message that names the file, line and cause where there is one. Code throws Error; only the
// CLI catches it to print and exit. Nothing in sluice reports failure through return codes plus logging.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace sluice {

// The exit code of each kind is documented in README.md ("Exit codes").
enum class ErrorKind {
  kUsage,      // 2: bad command line, bad recipe, unknown op or parameter
  kInput,      // 3: missing or unreadable input (I/O), retried when it happens inside a partition
  kData,       // 3: malformed JSON, invalid UTF-8, missing text key, corrupt compressed data: deterministic, never retried
  kOutput,     // 4: cannot write the job directory or export (permissions, full disk)
  kJobFailed,  // 1: a partition exhausted its retries; the summary says which and why
  kState,      // 5: the job directory disagrees with the recipe or input (refused resume)
  kInternal,   // 70: a bug in sluice
};
int ExitCode(ErrorKind kind);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message) : std::runtime_error(std::move(message)), kind_(kind) {}
  ErrorKind kind() const { return kind_; }
  int exit_code() const { return ExitCode(kind_); }

 private:
  ErrorKind kind_;
};

template <typename... Args>
[[noreturn]] inline void Fail(ErrorKind kind, fmt::format_string<Args...> f, Args&&... args) {
  throw Error(kind, fmt::format(f, std::forward<Args>(args)...));
}

// "did you mean 'x'?" for the closest candidate by edit distance, or "" if nothing is close.
std::string DidYouMean(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace sluice
