#include "manager/scheduler.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace sluice::manager {
namespace {
// Declared amounts are decimal (0.5 cpus); a tiny tolerance keeps 0.1 + 0.2 from failing to fit 0.3.
constexpr double kEps = 1e-9;

bool Fits(const Resources& r, const Capacity& capacity, const Capacity& used) {
  if (used.cpus + r.cpus > capacity.cpus + kEps) return false;
  if (r.memory > capacity.memory || used.memory > capacity.memory - r.memory) return false;
  for (const auto& [name, amount] : r.custom) {
    if (amount <= 0) continue;
    auto c = capacity.custom.find(name);
    auto u = used.custom.find(name);
    double in_use = u == used.custom.end() ? 0 : u->second;
    if (c == capacity.custom.end() || in_use + amount > c->second + kEps) return false;
  }
  return true;
}
}  // namespace

std::string ExceedsMachine(const Resources& r, const Capacity& c) {
  if (r.cpus > c.cpus + kEps) return fmt::format("requests {} cpus, the machine has {}", r.cpus, c.cpus);
  if (r.memory > c.memory) return fmt::format("requests {} bytes of memory, the machine has {}", r.memory, c.memory);
  for (const auto& [name, amount] : r.custom) {
    if (amount <= 0) continue;
    auto it = c.custom.find(name);
    if (it == c.custom.end()) return fmt::format("requests resource '{}', which this server does not declare", name);
    if (amount > it->second + kEps) return fmt::format("requests {} of resource '{}', the machine has {}", amount, name, it->second);
  }
  return "";
}

void Account(Capacity& used, const Resources& r, int sign) {
  used.cpus += sign * r.cpus;
  if (used.cpus < kEps) used.cpus = 0;
  used.memory = sign > 0 ? used.memory + r.memory : used.memory - std::min(used.memory, r.memory);
  for (const auto& [name, amount] : r.custom) {
    double& u = used.custom[name];
    u += sign * amount;
    if (u < kEps) u = 0;
  }
}

std::vector<int64_t> Admit(std::vector<Candidate> candidates, const Capacity& capacity, const Capacity& used) {
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return a.priority != b.priority ? a.priority > b.priority : a.id < b.id;
  });
  Capacity in_use = used;
  std::vector<int64_t> out;
  for (const auto& c : candidates) {
    if (!Fits(c.resources, capacity, in_use)) continue;
    Account(in_use, c.resources, +1);
    out.push_back(c.id);
  }
  return out;
}

DepVerdict EvaluateDependency(DepCondition c, const DepState& dep) {
  switch (c) {
    case DepCondition::kAfter:
      return dep.started || IsTerminal(dep.state) ? DepVerdict::kSatisfied : DepVerdict::kWaiting;
    case DepCondition::kAfterAny:
      return IsTerminal(dep.state) ? DepVerdict::kSatisfied : DepVerdict::kWaiting;
    case DepCondition::kAfterOk:
      if (dep.state == State::kCompleted) return DepVerdict::kSatisfied;
      return IsTerminal(dep.state) ? DepVerdict::kNeverSatisfied : DepVerdict::kWaiting;
    case DepCondition::kAfterNotOk:
      if (dep.state == State::kFailed || dep.state == State::kCancelled) return DepVerdict::kSatisfied;
      return IsTerminal(dep.state) ? DepVerdict::kNeverSatisfied : DepVerdict::kWaiting;
  }
  return DepVerdict::kWaiting;
}

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kCompleted: return "completed";
    case Outcome::kFailed: return "failed";
    case Outcome::kTimeout: return "timeout";
    case Outcome::kLost: return "lost";
    case Outcome::kCancelled: return "cancelled";
  }
  return "?";
}

bool ShouldRetry(const RetryPolicy& policy, int attempt, Outcome o, std::optional<int> exit_code) {
  if (attempt >= policy.max_attempts) return false;
  switch (o) {
    case Outcome::kCompleted:
    case Outcome::kCancelled: return false;
    case Outcome::kTimeout: return policy.retry_timeout;
    case Outcome::kLost: return policy.retry_lost;
    case Outcome::kFailed:
      if (!policy.retry_failed) return false;
      if (exit_code && std::find(policy.no_retry_exit_codes.begin(), policy.no_retry_exit_codes.end(), *exit_code) !=
                           policy.no_retry_exit_codes.end())
        return false;
      return true;
  }
  return false;
}

double BackoffSeconds(const RetryPolicy& policy, int attempt, double unit_random) {
  double d = policy.backoff_initial * std::pow(policy.backoff_multiplier, std::max(0, attempt - 1));
  d = std::min(d, policy.backoff_max);
  d *= 1 + policy.jitter * (2 * unit_random - 1);
  return std::clamp(d, 0.0, policy.backoff_max);
}

}  // namespace sluice::manager
