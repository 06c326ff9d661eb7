// RunOnThreads: runs `work` on `threads` threads, the caller's among them, and returns when all have
// returned. An exception escaping a std::thread calls std::terminate, so each thread's is caught: the
// first one is raised in the caller once every thread has stopped, and `stop()` is called (under a lock)
// as it is caught, so that the others can leave early. `work` must share its work out (a queue), as the
// engine's partition workers and the snapshot's parallel reads do: when the system refuses a thread, fewer
// threads run (at least the caller's), doing all of it.
#pragma once

#include <cstddef>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace sluice {

template <class Work, class Stop>
void RunOnThreads(size_t threads, Work&& work, Stop&& stop) {
  std::mutex mu;
  std::exception_ptr error;
  auto run = [&] {
    try {
      work();
    } catch (...) {
      std::lock_guard<std::mutex> lk(mu);
      if (!error) error = std::current_exception();
      stop();
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(threads);
  // A thread the system refuses (a process or memory limit: EAGAIN) leaves the work to the threads that
  // started and the caller's; it must not end the process, as an exception leaving `pool`'s joinable threads
  // would (std::terminate).
  for (size_t t = 1; t < threads; ++t) {
    try {
      pool.emplace_back(run);
    } catch (const std::system_error&) {
      break;
    }
  }
  run();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace sluice
