#include "job/monitor.h"

#include <algorithm>
#include <climits>

#include <fmt/format.h>
#include <simdjson.h>

#include "core/error.h"
#include "engine/plan.h"
#include "io/atomic_file.h"
#include "job/progress.h"
#include "job/stop.h"

namespace sluice {
namespace {

using simdjson::dom::element;

std::optional<int64_t> Int(element e, const char* key) {
  int64_t v;
  if (e[key].get(v)) return std::nullopt;
  return v;
}
bool Bool(element e, const char* key, bool missing) {
  bool v;
  return e[key].get(v) ? missing : v;
}
std::optional<double> Num(element e, const char* key) {
  double v;
  if (e[key].get(v)) return std::nullopt;
  return v;
}

// Bounds on ids read from event lines: one damaged number must not allocate billions of entries.
constexpr int64_t kMaxPartitions = 50'000'000, kMaxStages = 10'000;

}  // namespace

JobFollower::JobFollower(Env* env, const Snapshot& s)
    : env_(env), job_id_(s.job_id), path_(s.event_log_file), total_partitions_(s.total_partitions) {
  std::string plan_path = s.job_dir + "/metadata/dataset_mapping.json";
  if (s.format == "sluice" && env->FileExists(plan_path)) {
    try {
      Plan plan = Plan::FromJson(ReadFile(env, plan_path), plan_path);
      for (const auto& r : plan.partitions) weights_.push_back(r.end - r.begin);
    } catch (const Error&) {  // the snapshot named the problem; rates are then per partition
    }
  }
  std::string dag_path = s.job_dir + "/dag_execution_plan.json";
  if (s.format == "sluice" && env->FileExists(dag_path)) {
    std::string text = ReadFile(env, dag_path);
    simdjson::dom::parser parser;
    simdjson::dom::array stages;
    if (!parser.parse(text)["stages"].get(stages))
      for (auto st : stages) {
        simdjson::dom::array ops;
        size_t first = SIZE_MAX;
        if (!st["ops"].get(ops))
          for (auto o : ops)
            if (auto i = Int(o, "operation_idx"); i && *i >= 0 && *i < 100'000) {
              first = std::min(first, static_cast<size_t>(*i));
              if (stage_of_op_.size() <= static_cast<size_t>(*i)) stage_of_op_.resize(static_cast<size_t>(*i) + 1, -1);
              stage_of_op_[static_cast<size_t>(*i)] = static_cast<int>(stage_first_op_.size());
            }
        stage_first_op_.push_back(first);
      }
  }
  if (stage_first_op_.empty()) stage_first_op_.push_back(0);  // no DAG (DataJuicer): one stage
  Reset();
}

void JobFollower::Reset() {
  size_t n = static_cast<size_t>(total_partitions_), k = stage_first_op_.size();
  done_.assign(k, std::vector<uint8_t>(n, 0));
  rows_.assign(k, std::vector<uint64_t>(n, 0));
  stage_totals_.assign(k, {});
  part_.assign(n, Part::kIdle);
  retried_.assign(n, 0);
  running_ = failed_ = retried_count_ = 0;
  run_start_.reset();
  run_end_.reset();
  run_work_ = run_bytes_ = run_rows_ = 0;
}

void JobFollower::Grow(size_t p) {
  if (p < part_.size()) return;
  for (auto& d : done_) d.resize(p + 1, 0);
  for (auto& r : rows_) r.resize(p + 1, 0);
  part_.resize(p + 1, Part::kIdle);
  retried_.resize(p + 1, 0);
}

void JobFollower::StopRunning() {
  for (auto& s : part_)
    if (s == Part::kRunning) s = Part::kIdle;
  running_ = 0;
}

bool JobFollower::MarkDone(size_t k, size_t p) {
  if (done_[k][p]) return false;
  done_[k][p] = 1;
  ++stage_totals_[k].done;
  stage_totals_[k].rows += rows_[k][p];
  return true;
}

void JobFollower::SetState(size_t p, Part s) {
  running_ -= part_[p] == Part::kRunning;
  failed_ -= part_[p] == Part::kFailed;
  part_[p] = s;
  running_ += s == Part::kRunning;
  failed_ += s == Part::kFailed;
}

void JobFollower::Seed(const Snapshot& s) {
  from_events_ = false;
  total_partitions_ = std::max<uint64_t>(total_partitions_, s.partitions.size());
  Reset();
  seeded_elapsed_ = s.duration_seconds;
  for (size_t p = 0; p < s.partitions.size(); ++p) {
    const PartitionProgress& part = s.partitions[p];
    if (part.status == WorkStatus::kCompleted) {
      rows_[0][p] = part.sample_count.value_or(0);
      for (size_t k = 0; k < done_.size(); ++k) MarkDone(k, p);
    } else if (part.status == WorkStatus::kFailed) {
      SetState(p, Part::kFailed);
    }
  }
}

bool JobFollower::Poll() {
  if (!env_->FileExists(path_)) return false;
  if (!from_events_) {  // the log appeared: its events replace the snapshot's counts
    from_events_ = true;
    seeded_elapsed_.reset();
    Reset();
  }
  uint64_t size = env_->FileSize(path_);
  if (size < offset_) {  // replaced by a shorter file: start over
    offset_ = 0;
    carry_.clear();
    Reset();
  }
  auto file = env_->NewRandomAccessFile(path_);
  std::string buf;
  while (offset_ < size) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(size - offset_, 4 << 20));
    buf.resize(want);
    size_t got = file->ReadAt(offset_, want, buf.data());
    if (got == 0) break;
    offset_ += got;
    carry_.append(buf.data(), got);
    size_t begin = 0;
    for (size_t nl; (nl = carry_.find('\n', begin)) != std::string::npos; begin = nl + 1)
      Apply(std::string_view(carry_).substr(begin, nl - begin));
    carry_.erase(0, begin);  // an incomplete line waits for the rest of it
  }
  return true;
}

void JobFollower::Apply(std::string_view line) {
  static thread_local simdjson::dom::parser parser;
  element e;
  if (line.empty() || parser.parse(line.data(), line.size()).get(e) || !e.is_object()) return;  // the snapshot reports bad lines
  std::string_view type;
  if (e["event_type"].get(type)) return;
  std::optional<double> ts = Num(e, "timestamp");
  if (ts) last_ts_ = ts;
  auto pid = Int(e, "partition_id");
  size_t p = 0;
  if (pid) {
    if (*pid < 0 || *pid >= kMaxPartitions) return;
    p = static_cast<size_t>(*pid);
    Grow(p);
  }
  auto set_state = [&](Part s) { SetState(p, s); };
  auto mark_done = [&](size_t k) { return MarkDone(k, p); };
  const size_t last = stage_first_op_.size() - 1;
  if (type == "op_complete") {
    auto op = Int(e, "operation_idx");
    auto in = Int(e, "input_rows");
    if (!pid || !op || !in || *op < 0 || static_cast<size_t>(*op) >= stage_of_op_.size()) return;
    int k = stage_of_op_[static_cast<size_t>(*op)];
    if (k >= 0 && stage_first_op_[static_cast<size_t>(k)] == static_cast<size_t>(*op) && !done_[static_cast<size_t>(k)][p])
      rows_[static_cast<size_t>(k)][p] = static_cast<uint64_t>(*in);
  } else if (type == "partition_start" && pid) {
    set_state(Part::kRunning);
  } else if (type == "partition_complete" && pid) {
    auto stage = Int(e, "stage");
    size_t k = stage && *stage >= 0 && *stage < kMaxStages ? static_cast<size_t>(*stage) : last;
    if (k > last) return;
    if (stage_first_op_[k] == SIZE_MAX)  // a stage without ops: the rows it passes on
      if (auto out = Int(e, "output_rows"); out && *out >= 0) rows_[k][p] = static_cast<uint64_t>(*out);
    if (mark_done(k) && run_start_) {
      run_work_ += Weight(p);
      if (k == 0) {  // rates: input read, each partition counted once
        run_bytes_ += Weight(p);
        run_rows_ += rows_[0][p];
      }
    }
    set_state(Part::kIdle);
  } else if (type == "partition_failed" && pid) {
    bool retry = Bool(e, "will_retry", false);
    if (retry && !retried_[p]) {
      retried_[p] = 1;
      ++retried_count_;
    }
    set_state(retry ? Part::kRunning : Part::kFailed);
  } else if (type == "partition_skipped" && pid) {
    for (size_t k = 0; k <= last; ++k) mark_done(k);  // committed by an earlier run
    set_state(Part::kIdle);
  } else if (type == "job_start") {
    if (!Bool(e, "is_resuming", true)) Reset();
    if (auto n = Int(e, "total_partitions"); n && *n >= 0 && *n < kMaxPartitions && static_cast<uint64_t>(*n) > total_partitions_) {
      total_partitions_ = static_cast<uint64_t>(*n);
      if (total_partitions_ > 0) Grow(static_cast<size_t>(total_partitions_ - 1));
    }
    StopRunning();  // the previous run was cut off while it ran these
    run_start_ = ts;
    run_end_.reset();
    run_work_ = run_bytes_ = run_rows_ = 0;
  } else if (type == "job_complete" || type == "job_failed" || type == "job_stopped") {
    run_end_ = ts ? ts : run_start_;
    StopRunning();
  }
}

FollowState JobFollower::State(double now, bool running) const {
  FollowState f;
  f.job_id = job_id_;
  f.total_partitions = std::max<uint64_t>(total_partitions_, part_.size());
  f.stages = stage_totals_;
  f.in_progress = running ? running_ : 0;
  f.failed = failed_;
  f.retried = retried_count_;
  f.has_bytes = !weights_.empty();
  f.ended = run_end_.has_value() || !running;
  f.from_events = from_events_;
  if (!from_events_) {
    f.elapsed = seeded_elapsed_.value_or(0);
    f.has_bytes = false;
    return f;
  }
  if (!run_start_) return f;
  // A run that ended without saying so (killed) ended at its last event.
  f.elapsed = std::max(0.0, (run_end_ ? *run_end_ : running ? now : last_ts_.value_or(*run_start_)) - *run_start_);
  if (f.elapsed > 0) {
    f.rows_per_second = static_cast<double>(run_rows_) / f.elapsed;
    f.bytes_per_second = f.has_bytes ? static_cast<double>(run_bytes_) / f.elapsed : 0;
  }
  if (!f.ended) {
    uint64_t left = 0;
    for (size_t k = 0; k < done_.size(); ++k)
      for (size_t p = 0; p < done_[k].size(); ++p)
        if (!done_[k][p] && part_[p] != Part::kFailed) left += Weight(p);
    f.eta_seconds = EstimateEta(f.elapsed, static_cast<double>(run_work_), static_cast<double>(run_work_ + left));
  }
  return f;
}

std::string MonitorLine(const FollowState& f, JobStatus status, double now) {
  std::string stages;
  for (const auto& s : f.stages) stages += fmt::format("{}{}/{}", stages.empty() ? "" : ",", s.done, f.total_partitions);
  uint64_t done = f.stages.empty() ? 0 : f.stages.back().done;
  std::string eta = f.eta_seconds ? fmt::format("{:.0f}", *f.eta_seconds) : "-";
  std::string line = fmt::format("{} job={} status={} partitions={}/{} stages={} rows={} rows_per_s={}", FormatTime(now),
                                 f.job_id, JobStatusName(status), done, f.total_partitions, stages,
                                 f.stages.empty() ? 0 : f.stages.front().rows,
                                 f.from_events ? fmt::format("{:.1f}", f.rows_per_second) : "-");
  if (f.has_bytes) line += fmt::format(" mb_per_s={:.2f}", f.bytes_per_second / 1e6);
  line += fmt::format(" eta_s={} in_progress={} retried={} failed={}\n", eta, f.in_progress, f.retried, f.failed);
  return line;
}

std::string MonitorBlock(const FollowState& f, JobStatus status, int columns) {
  auto fit = [&](std::string s) {
    if (columns > 1 && s.size() >= static_cast<size_t>(columns)) s.resize(static_cast<size_t>(columns - 1));
    return s + "\n";
  };
  std::string out = fit(fmt::format("job {}  {}  {} {}", f.job_id, JobStatusName(status), f.ended ? "ran" : "running for",
                                    FormatEta(f.elapsed)));
  int bar = std::clamp(columns - 60, 10, 40);
  for (size_t k = 0; k < f.stages.size(); ++k) {
    const auto& s = f.stages[k];
    double frac = f.total_partitions ? static_cast<double>(s.done) / static_cast<double>(f.total_partitions) : 0;
    out += fit(fmt::format("  stage {}/{} {} {:>6}/{} partitions  {} rows", k + 1, f.stages.size(), FormatBar(frac, bar), s.done,
                           f.total_partitions, FormatCount(static_cast<double>(s.rows))));
  }
  std::string rates = f.from_events ? fmt::format("  {} rows/s", FormatCount(f.rows_per_second)) : "  no event log: no rates";
  if (f.has_bytes) rates += fmt::format("  {:.1f} MB/s", f.bytes_per_second / 1e6);
  if (!f.ended) rates += "  ETA " + FormatEta(f.eta_seconds);
  rates += fmt::format("  |  {} in progress, {} retried, {} failed", f.in_progress, f.retried, f.failed);
  return out + fit(rates);
}

int MonitorExitCode(JobStatus s) {
  switch (s) {
    case JobStatus::kCompleted:
    case JobStatus::kRunning: return 0;
    case JobStatus::kFailed:
    case JobStatus::kCompletedWithFailures: return 1;
    case JobStatus::kStopped: return 6;
    case JobStatus::kInterrupted:
    case JobStatus::kNotStarted: return 7;
  }
  return 70;
}

int MonitorJob(Env* env, const std::string& job_dir, const MonitorOptions& opt, std::FILE* out, int out_fd) {
  SnapshotOptions so;
  so.inspect_storage = false;
  Snapshot snap = TakeSnapshot(env, job_dir, so);  // throws kInput for what is not a job directory
  for (const auto& w : snap.warnings) fmt::print(stderr, "sluice: warning: {}\n", w);
  JobFollower follower(env, snap);
  // Without an event log (yet) the counts are a snapshot's, as `sluice snapshot` and `sluice jobs` give them.
  if (!follower.Poll()) follower.Seed(snap);
  const int columns = env->TerminalColumns(out_fd);
  const bool has_lock = env->FileExists(snap.job_dir + "/job.lock");
  size_t drawn_lines = 0;
  auto show = [&](JobStatus status) {
    FollowState f = follower.State(env->NowSeconds(), status == JobStatus::kRunning);
    if (columns > 0) {
      std::string block = MonitorBlock(f, status, columns);
      if (drawn_lines > 0) fmt::print(out, "\x1b[{}F", drawn_lines);  // back to the block's first line
      std::string text;
      for (size_t b = 0, nl; (nl = block.find('\n', b)) != std::string::npos; b = nl + 1)
        text += "\x1b[2K" + block.substr(b, nl + 1 - b);
      fmt::print(out, "{}", text);
      drawn_lines = static_cast<size_t>(std::count(block.begin(), block.end(), '\n'));
    } else {
      fmt::print(out, "{}", MonitorLine(f, status, env->NowSeconds()));
    }
    std::fflush(out);
  };
  if (opt.once || snap.status != JobStatus::kRunning) {
    show(snap.status);
    return MonitorExitCode(snap.status);
  }
  // Still running: the job lock says so (a DataJuicer directory has none: a snapshot then decides).
  auto running = [&] { return has_lock ? JobLockHeld(env, snap.job_dir) : TakeSnapshot(env, job_dir, so).status == JobStatus::kRunning; };
  while (true) {
    show(JobStatus::kRunning);
    double until = env->MonotonicSeconds() + std::max(opt.interval_seconds, 0.05);
    while (env->MonotonicSeconds() < until) env->SleepSeconds(std::min(0.05, until - env->MonotonicSeconds()));
    if (!follower.Poll()) follower.Seed(TakeSnapshot(env, job_dir, so));
    if (!running()) break;
  }
  Snapshot end = TakeSnapshot(env, job_dir, so);
  if (!follower.Poll()) follower.Seed(end);
  show(end.status);
  return MonitorExitCode(end.status);
}

}  // namespace sluice
