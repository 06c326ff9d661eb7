#include "engine/event_log.h"

#include <pthread.h>
#include <unistd.h>

#include <filesystem>

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/spdlog.h>

namespace sluice {

EventLog::EventLog(Env* env, std::string job_id, EventLogOptions opt)
    : env_(env), job_id_(std::move(job_id)), opt_(std::move(opt)) {
  if (!opt_.enabled) return;
  env_->CreateDirs(std::filesystem::path(opt_.jsonl_path).parent_path().string());
  env_->CreateDirs(std::filesystem::path(opt_.text_path).parent_path().string());
  file_ = env_->NewWritableFile(opt_.jsonl_path, /*append=*/true);
  auto sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
      opt_.text_path, static_cast<size_t>(opt_.max_log_size_mb * 1024 * 1024), static_cast<size_t>(opt_.backup_count));
  text_ = std::make_shared<spdlog::logger>("events", sink);
  text_->set_pattern("%Y-%m-%d %H:%M:%S.%e | %v");
  text_->flush_on(spdlog::level::info);
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
  JsonWriter w;
  w.BeginObject();
  w.Field("event_type", type).Field("timestamp", env_->NowSeconds());
  w.Field("event_id", fmt::format("{}-{}-{}", job_id_, ::getpid(), seq)).Field("seq", seq);
  w.Field("job_id", job_id_).Field("process_id", static_cast<int64_t>(::getpid()));
  w.Field("thread_id", static_cast<uint64_t>(::gettid()));
  w.Field("message", message);
  if (fields) fields(w);
  w.EndObject();
  std::string line = w.Take();
  line += '\n';
  std::lock_guard<std::mutex> lock(mu_);
  if (file_) {
    file_->Append(line);
    if (sync) file_->Sync();
  }
  if (text_) text_->info("EVENT[{}] | {}", type, message);
  if (opt_.echo_stderr) fmt::print(stderr, "[{}] {}\n", type, message);
}

}  // namespace sluice
