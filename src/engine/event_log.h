// EventLog: the job's append-only event stream (docs/events.md has the schema).
//
// Each event is one JSON object on one line of events.jsonl, written with a single write() on an
// O_APPEND descriptor, so events from several threads or processes never interleave and each is in the
// file (flushed to the OS) when Emit returns; terminal events are also fsynced. Every event carries a
// unique event_id, a per-writer monotonic seq, the job id, pid and thread id. A human-readable line per
// event goes to events.log, rotated at max_log_size_mb with backup_count old files kept.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/json_writer.h"
#include "io/env.h"

namespace spdlog {
class logger;
}

namespace sluice {

struct EventLogOptions {
  bool enabled = true;
  std::string jsonl_path;  // events.jsonl
  std::string text_path;   // events.log
  double max_log_size_mb = 100;
  int backup_count = 5;
  bool echo_stderr = false;  // also print the human-readable line on stderr
};

class EventLog {
 public:
  EventLog(Env* env, std::string job_id, EventLogOptions opt);
  ~EventLog();

  // `fields` adds the event's own members (partition_id, operation_name, ...) after the common ones.
  void Emit(std::string_view type, std::string_view message,
            const std::function<void(JsonWriter&)>& fields = nullptr, bool sync = false);

 private:
  Env* env_;
  std::string job_id_;
  EventLogOptions opt_;
  std::unique_ptr<WritableFile> file_;
  std::shared_ptr<spdlog::logger> text_;
  std::mutex mu_;
  std::atomic<uint64_t> seq_{0};
};

}  // namespace sluice
