#include "manager/scheduler.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include <fmt/format.h>

namespace sluice::manager {
namespace {
// Declared amounts are decimal (0.5 cpus); a tiny tolerance keeps 0.1 + 0.2 from failing to fit 0.3.
constexpr double kEps = 1e-9;

// What is left to hand out. Amounts may go negative once a reservation is set aside (nothing fits then).
struct Pool {
  struct Gpu {
    std::string uuid;
    int index = 0;
    uint64_t memory = 0;  // free memory now, or the total for a device counted as freed in the future
  };
  double cpus = 0, memory = 0;
  std::map<std::string, double> custom;
  std::vector<Gpu> gpus;  // unassigned devices
};

void Take(Pool& p, const Resources& r) {
  p.cpus -= r.cpus;
  p.memory -= static_cast<double>(r.memory);
  for (const auto& [name, amount] : r.custom) p.custom[name] -= amount;
}

void Give(Pool& p, const Resources& r) {
  p.cpus += r.cpus;
  p.memory += static_cast<double>(r.memory);
  for (const auto& [name, amount] : r.custom) p.custom[name] += amount;
}

// Positions in p.gpus of the devices `r` would get (best fit: least memory that is enough, then index), or
// nullopt if there are too few.
std::optional<std::vector<size_t>> PickGpus(const Pool& p, const Resources& r) {
  std::vector<size_t> ok;
  for (size_t i = 0; i < p.gpus.size(); ++i)
    if (p.gpus[i].memory >= r.gpu_memory) ok.push_back(i);
  if (ok.size() < static_cast<size_t>(r.gpus)) return std::nullopt;
  std::sort(ok.begin(), ok.end(), [&p](size_t a, size_t b) {
    return p.gpus[a].memory != p.gpus[b].memory ? p.gpus[a].memory < p.gpus[b].memory : p.gpus[a].index < p.gpus[b].index;
  });
  ok.resize(r.gpus);
  return ok;
}

bool Fits(const Pool& p, const Resources& r) {
  if (r.cpus > p.cpus + kEps) return false;
  if (static_cast<double>(r.memory) > p.memory) return false;
  for (const auto& [name, amount] : r.custom) {
    if (amount <= 0) continue;
    auto it = p.custom.find(name);
    if (it == p.custom.end() || amount > it->second + kEps) return false;
  }
  return r.gpus == 0 || PickGpus(p, r).has_value();
}

// Removes the devices `uuids` from the pool.
void TakeGpus(Pool& p, const std::vector<std::string>& uuids) {
  std::erase_if(p.gpus, [&uuids](const Pool::Gpu& g) { return std::find(uuids.begin(), uuids.end(), g.uuid) != uuids.end(); });
}

// The latest time by which `r` fits: the pool `free`, plus what the holders release as their run limits
// end them (freed devices count with their whole memory). Infinity if a holder it needs is unbounded.
double ShadowTime(const Resources& r, Pool pool, std::vector<Holding> holders, const Capacity& capacity, double now) {
  for (auto& g : pool.gpus)
    for (const auto& d : capacity.gpus)
      if (d.uuid == g.uuid) g.memory = d.memory_total;
  std::sort(holders.begin(), holders.end(), [](const Holding& a, const Holding& b) {
    double ea = a.ends_by > 0 ? a.ends_by : HUGE_VAL, eb = b.ends_by > 0 ? b.ends_by : HUGE_VAL;
    return ea < eb;
  });
  double t = now;
  for (const Holding& h : holders) {
    if (Fits(pool, r)) return t;
    if (h.ends_by <= 0) return HUGE_VAL;
    t = std::max(t, h.ends_by);
    Give(pool, h.resources);
    for (const auto& uuid : h.gpus)
      for (const auto& d : capacity.gpus)
        if (d.uuid == uuid) pool.gpus.push_back({d.uuid, d.index, d.memory_total});
  }
  return Fits(pool, r) ? t : HUGE_VAL;
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
  if (r.gpus > 0) {
    int big_enough = 0;
    for (const auto& d : c.gpus) big_enough += d.memory_total >= r.gpu_memory;
    if (r.gpus > static_cast<int>(c.gpus.size()))
      return fmt::format("requests {} GPUs, the server has {} visible", r.gpus, c.gpus.size());
    if (r.gpus > big_enough)
      return fmt::format("requests {} GPUs with {} bytes free each, the server has {} GPUs with that much memory in all", r.gpus,
                         r.gpu_memory, big_enough);
  }
  return "";
}

Capacity InUse(const std::vector<Holding>& running) {
  Capacity used;
  for (const Holding& h : running) {
    used.cpus += h.resources.cpus;
    used.memory += h.resources.memory;
    for (const auto& [name, amount] : h.resources.custom) used.custom[name] += amount;
    for (const auto& uuid : h.gpus) {
      used.gpus.emplace_back();
      used.gpus.back().uuid = uuid;
    }
  }
  return used;
}

std::vector<Admission> Admit(std::vector<Candidate> candidates, const Capacity& capacity, const std::vector<Holding>& running,
                             double now) {
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    return a.priority != b.priority ? a.priority > b.priority : a.id < b.id;
  });
  Pool free{capacity.cpus, static_cast<double>(capacity.memory), capacity.custom, {}};
  std::vector<Holding> holders = running;
  for (const Holding& h : running) Take(free, h.resources);
  for (const auto& d : capacity.gpus) {
    bool held = false;
    for (const Holding& h : running) held |= std::find(h.gpus.begin(), h.gpus.end(), d.uuid) != h.gpus.end();
    if (!held) free.gpus.push_back({d.uuid, d.index, d.memory_free});
  }
  // Once the first candidate is blocked: `spare` is `free` less its request; lower-ranked candidates fit
  // there, or backfill in `free` if they surely end by `shadow`. Every device in spare is also in free.
  std::optional<Pool> spare;
  double shadow = 0;
  std::vector<Admission> out;
  for (const Candidate& c : candidates) {
    const Resources& r = c.resources;
    bool normal = Fits(free, r) && (!spare || Fits(*spare, r));
    // With no bound on when the reservation starts, a backfilled job could delay it without end.
    bool backfill = !normal && spare && c.run_limit > 0 && shadow < HUGE_VAL && now + c.run_limit <= shadow && Fits(free, r);
    if (!normal && !backfill) {
      if (!spare) {
        shadow = ShadowTime(r, free, holders, capacity, now);
        spare = free;
        Take(*spare, r);
        // Its devices: the unassigned ones it could use, by total memory (foreign use of a device's memory
        // must not hand it to a smaller job forever).
        Pool by_total = *spare;
        for (auto& g : by_total.gpus)
          for (const auto& d : capacity.gpus)
            if (d.uuid == g.uuid) g.memory = d.memory_total;
        Resources some = r;
        some.gpus = 0;
        for (const auto& g : by_total.gpus) some.gpus += g.memory >= r.gpu_memory;
        some.gpus = std::min(some.gpus, r.gpus);
        if (auto pick = PickGpus(by_total, some)) {
          std::vector<std::string> uuids;
          for (size_t i : *pick) uuids.push_back(by_total.gpus[i].uuid);
          TakeGpus(*spare, uuids);
        }
      }
      continue;
    }
    Pool& from = normal && spare ? *spare : free;
    Admission a{c.id, {}};
    if (r.gpus > 0) {
      std::vector<size_t> pick = *PickGpus(from, r);  // Fits said there are enough
      for (size_t i : pick) a.gpus.push_back(from.gpus[i].uuid);
    }
    Take(free, r);
    TakeGpus(free, a.gpus);
    if (spare) {
      if (normal) Take(*spare, r);
      TakeGpus(*spare, a.gpus);
    }
    holders.push_back({r, a.gpus, c.run_limit > 0 ? now + c.run_limit : 0});
    out.push_back(std::move(a));
  }
  return out;
}

std::vector<int> PickCpus(const std::vector<int>& allowed, const std::vector<Holding>& running, double cpus) {
  if (cpus <= 0 || allowed.empty()) return {};
  std::map<int, double> load;
  for (int c : allowed) load[c] = 0;
  for (const Holding& h : running)
    for (int c : h.cpus)
      if (load.count(c)) load[c] += h.resources.cpus / static_cast<double>(h.cpus.size());
  std::vector<int> order = allowed;
  std::sort(order.begin(), order.end(), [&load](int a, int b) { return load[a] != load[b] ? load[a] < load[b] : a < b; });
  order.resize(std::min(order.size(), static_cast<size_t>(std::ceil(cpus - kEps))));
  std::sort(order.begin(), order.end());
  return order;
}

State AggregateState(const std::map<State, int64_t>& counts) {
  auto any = [&counts](State s) { return counts.count(s) && counts.at(s) > 0; };
  if (any(State::kRunning)) return State::kRunning;
  if (any(State::kPending) || any(State::kSubmitted)) return State::kPending;
  for (State s : {State::kFailed, State::kCancelled, State::kRejected})
    if (any(s)) return s;
  return State::kCompleted;
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
    case Outcome::kOom: return "oom";
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
    case Outcome::kOom: return policy.retry_oom;
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
