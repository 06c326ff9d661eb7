// Progress text shared by `sluice run`'s progress bar and `sluice monitor` (docs/monitoring.md), and the
// bar itself.
//
// ProgressBar: while `sluice run` works and stderr is a terminal, a thread redraws one line on stderr from
// the executor's counters (engine/executor.h JobProgress) four times a second: a bar of the work this run
// has done, partitions done / total (of the stage being run when there are several), the ETA from the
// work this run has left and its rate so far, rows/s and MB/s of input read by this run. Workers only add to relaxed atomics; the line is erased when
// the bar is destroyed. When stderr is not a terminal nothing is started and nothing is written.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "engine/executor.h"
#include "io/env.h"

namespace sluice {

std::string FormatCount(double n);                   // 950, 12.3k, 4.56M, 7.89G
std::string FormatEta(std::optional<double> seconds);  // "42s", "3m 07s", "2h 05m", "--" when unknown
std::string FormatBar(double fraction, int width);   // "[#####.....]", width inside the brackets
// Seconds left at the rate so far: elapsed x left / done; unknown until some work is done.
std::optional<double> EstimateEta(double elapsed, double done, double total);

// The bar's line for the counters `p` after `elapsed` seconds (`stopping`: a stop was requested); the bar
// narrows (to 10) so the line fits `columns`.
std::string ProgressLine(const JobProgress& p, double elapsed, bool stopping, int columns);

class ProgressBar {
 public:
  ProgressBar(Env* env, const JobProgress& progress, const std::atomic<bool>* stopping, int fd = 2);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

 private:
  void Loop();
  Env* env_;
  const JobProgress& progress_;
  const std::atomic<bool>* stopping_;
  int fd_, columns_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false, drawn_ = false;
  std::thread thread_;
};

}  // namespace sluice
