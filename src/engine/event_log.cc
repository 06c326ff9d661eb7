#include "engine/event_log.h"

#include <pthread.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include <fmt/format.h>

namespace sluice {

EventLog::EventLog(Env* env, std::string job_id, EventLogOptions opt)
    : env_(env), job_id_(std::move(job_id)), opt_(std::move(opt)) {
  RotatingLogOptions rot;
  rot.max_bytes = static_cast<uint64_t>(std::llround(opt_.max_log_size_mb * 1024 * 1024));
  rot.backup_count = opt_.backup_count;
  LoggerOptions lo;
  lo.dir = std::filesystem::path(opt_.text_path).parent_path().string();
  lo.rotation = rot;
  logger_ = std::make_unique<Logger>(env_, lo);
  if (!opt_.enabled) return;
  env_->CreateDirs(std::filesystem::path(opt_.jsonl_path).parent_path().string());
  file_ = env_->NewWritableFile(opt_.jsonl_path, /*append=*/true);
  text_ = std::make_unique<RotatingLog>(env_, opt_.text_path, rot);
}

EventLog::~EventLog() {
  if (file_) {
    try {
      file_->Sync();
    } catch (...) {
    }
  }
}

void EventLog::Emit(std::string_view type, std::string_view message, const std::function<void(JsonWriter&)>& fields,
                    bool sync) {
  if (!opt_.enabled && !opt_.echo_stderr) return;
  uint64_t seq = seq_.fetch_add(1);
  double now = env_->NowSeconds();
  JsonWriter w;
  w.BeginObject();
  w.Field("event_type", type).Field("timestamp", now);
  w.Field("event_id", fmt::format("{}-{}-{}", job_id_, ::getpid(), seq)).Field("seq", seq);
  w.Field("job_id", job_id_).Field("process_id", static_cast<int64_t>(::getpid()));
  w.Field("thread_id", static_cast<uint64_t>(::gettid()));
  w.Field("message", message);
  if (fields) fields(w);
  w.EndObject();
  std::string line = w.Take();
  line += '\n';
  std::string text = fmt::format("EVENT[{}] | {}", type, message);
  // The mutex keeps events.jsonl and events.log in the same order (each file is safe on its own).
  std::lock_guard<std::mutex> lock(mu_);
  if (file_) {
    file_->Append(line);
    if (sync) file_->Sync();
  }
  if (text_) text_->Append(Logger::FormatLine(now, "INFO", text));
  if (opt_.enabled) logger_->Log(LogLevel::kInfo, text);
  if (opt_.echo_stderr) fmt::print(stderr, "[{}] {}\n", type, message);
}

void EventLog::Log(LogLevel level, std::string_view message) { logger_->Log(level, message); }

void EventLog::Drain() {
  if (text_) text_->Drain();
  logger_->Drain();
}

}  // namespace sluice
