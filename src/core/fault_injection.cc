#include "core/fault_injection.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

namespace sluice {
namespace {

struct Spec {
  std::string name;
  long n = 0;
  std::atomic<long> hits{0};
  explicit Spec(const char* var) {
    const char* v = std::getenv(var);
    if (v == nullptr || *v == '\0') return;
    std::string s(v);
    size_t colon = s.rfind(':');
    name = s.substr(0, colon);
    n = colon == std::string::npos ? 1 : std::atol(s.c_str() + colon + 1);
  }
};

Spec& CrashSpec() {
  static Spec s("SLUICE_CRASH_AT");
  return s;
}
Spec& FailSpec() {
  static Spec s("SLUICE_FAIL_AT");
  return s;
}

struct Delay {
  std::string name;
  double seconds = 0;
  Delay() {
    const char* v = std::getenv("SLUICE_DELAY_AT");
    if (v == nullptr || *v == '\0') return;
    std::string s(v);
    size_t colon = s.rfind(':');
    if (colon == std::string::npos) return;
    name = s.substr(0, colon);
    seconds = std::atof(s.c_str() + colon + 1);
  }
};

Delay& DelaySpec() {
  static Delay d;
  return d;
}

void DelayPoint(std::string_view name) {
  Delay& d = DelaySpec();
  if (d.name.empty() || d.name != name) return;
  std::this_thread::sleep_for(std::chrono::duration<double>(d.seconds));
}

}  // namespace

void CrashPoint(std::string_view name) {
  DelayPoint(name);
  Spec& s = CrashSpec();
  if (s.name.empty() || s.name != name) return;
  if (s.hits.fetch_add(1) + 1 == s.n) ::kill(::getpid(), SIGKILL);
}

bool FaultPoint(std::string_view name) {
  Spec& s = FailSpec();
  if (s.name.empty() || s.name != name) return false;
  return s.hits.fetch_add(1) < s.n;
}

}  // namespace sluice
