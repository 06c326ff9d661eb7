#include "job/progress.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

namespace sluice {

std::string FormatCount(double n) {
  if (n < 1000) return fmt::format("{:.0f}", n);
  if (n < 1e6) return fmt::format("{:.1f}k", n / 1e3);
  if (n < 1e9) return fmt::format("{:.2f}M", n / 1e6);
  return fmt::format("{:.2f}G", n / 1e9);
}

std::string FormatEta(std::optional<double> seconds) {
  if (!seconds || !std::isfinite(*seconds) || *seconds < 0) return "--";
  auto s = static_cast<uint64_t>(std::llround(*seconds));
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m {:02d}s", s / 60, s % 60);
  return fmt::format("{}h {:02d}m", s / 3600, s / 60 % 60);
}

std::string FormatBar(double fraction, int width) {
  fraction = std::clamp(std::isfinite(fraction) ? fraction : 0.0, 0.0, 1.0);
  int full = static_cast<int>(fraction * width);
  return "[" + std::string(static_cast<size_t>(full), '#') + std::string(static_cast<size_t>(width - full), '.') + "]";
}

std::optional<double> EstimateEta(double elapsed, double done, double total) {
  if (done <= 0 || elapsed <= 0) return std::nullopt;
  return elapsed * std::max(0.0, total - done) / done;
}

std::string ProgressLine(const JobProgress& p, double elapsed, bool stopping, int columns) {
  uint64_t stages = p.stages.load(std::memory_order_relaxed), stage = p.stage.load(std::memory_order_relaxed);
  uint64_t total = p.partitions.load(std::memory_order_relaxed);
  uint64_t done = stages > 1 ? p.stage_done.load(std::memory_order_relaxed) : p.done.load(std::memory_order_relaxed);
  double work_total = static_cast<double>(p.work_total.load(std::memory_order_relaxed));
  double work_done = std::min(work_total, static_cast<double>(p.work_done.load(std::memory_order_relaxed)));
  double secs = std::max(elapsed, 1e-3);
  std::string rest = fmt::format(" {}/{} partitions  ETA {}  {} rows/s  {:.1f} MB/s", done, total,
                                 FormatEta(EstimateEta(elapsed, work_done, work_total)),
                                 FormatCount(static_cast<double>(p.rows.load(std::memory_order_relaxed)) / secs),
                                 static_cast<double>(p.bytes.load(std::memory_order_relaxed)) / secs / 1e6);
  uint64_t retried = p.retried.load(std::memory_order_relaxed), failed = p.failed.load(std::memory_order_relaxed);
  if (retried + failed > 0) rest += fmt::format("  {} retried, {} failed", retried, failed);
  if (stopping) rest += "  stopping: no new partitions";
  std::string head = stages > 1 ? fmt::format("stage {}/{} ", stage + 1, stages) : "";
  int bar = std::clamp(columns - static_cast<int>(head.size()) - 66, 10, 30);  // a width that does not jitter
  return head + FormatBar(work_total > 0 ? work_done / work_total : 0, bar) + rest;
}

ProgressBar::ProgressBar(Env* env, const JobProgress& progress, const std::atomic<bool>* stopping, int fd)
    : env_(env), progress_(progress), stopping_(stopping), fd_(fd), columns_(env->TerminalColumns(fd)) {
  if (columns_ > 0) thread_ = std::thread([this] { Loop(); });
}

ProgressBar::~ProgressBar() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (drawn_) (void)!::write(fd_, "\r\x1b[K", 4);  // erase the line
}

void ProgressBar::Loop() {
  double start = env_->MonotonicSeconds();
  std::unique_lock<std::mutex> lock(mu_);
  // At most four redraws a second; none for a run shorter than the first period.
  while (!cv_.wait_for(lock, std::chrono::milliseconds(250), [this] { return done_; })) {
    std::string line = ProgressLine(progress_, env_->MonotonicSeconds() - start, stopping_ != nullptr && stopping_->load(), columns_);
    if (line.size() >= static_cast<size_t>(columns_)) line.resize(static_cast<size_t>(std::max(columns_ - 1, 0)));
    line = "\r" + line + "\x1b[K";
    (void)!::write(fd_, line.data(), line.size());
    drawn_ = true;
  }
}

}  // namespace sluice
