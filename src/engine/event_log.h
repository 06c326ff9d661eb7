// EventLog: the job's append-only event stream (docs/events.md has the schema) and its central logger
// (docs/logging.md).
//
// Each event is one JSON object on one line of events.jsonl, written with a single write() on an
// O_APPEND descriptor, so events from several threads or processes never interleave and each is in the
// file (flushed to the OS) when Emit returns; terminal events are also fsynced. Every event carries a
// unique event_id, a per-writer monotonic seq, the job id, pid and thread id. Its human-readable line goes
// to events.log (exactly one line per event) and, at INFO, to the main log. Log() writes a leveled record
// (warnings and errors sluice prints, per-partition details at DEBUG) to the main log log.txt and the level
// files log_DEBUG.txt / log_WARNING.txt / log_ERROR.txt. All of these files live in the directory of
// `text_path` and rotate at max_log_size_mb with backup_count gzipped old files (io/rotating_log.h).
// `enabled: false` turns off events.jsonl and events.log; the leveled logs are still written.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/json_writer.h"
#include "io/env.h"
#include "io/rotating_log.h"

namespace sluice {

struct EventLogOptions {
  bool enabled = true;
  std::string jsonl_path;  // events.jsonl
  std::string text_path;   // events.log; log.txt and the level files go beside it
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
  // A leveled record in the main log and its level file (not an event).
  void Log(LogLevel level, std::string_view message);
  // Waits until rotated log files are compressed (tests; the destructor does it too).
  void Drain();

 private:
  Env* env_;
  std::string job_id_;
  EventLogOptions opt_;
  std::unique_ptr<WritableFile> file_;
  std::unique_ptr<RotatingLog> text_;
  std::unique_ptr<Logger> logger_;
  std::mutex mu_;
  std::atomic<uint64_t> seq_{0};
};

}  // namespace sluice
