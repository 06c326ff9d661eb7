#include "manager/sse.h"

#include <algorithm>

#include "core/error.h"
#include "core/json_writer.h"
#include "manager/manager.h"

namespace sluice::manager {
namespace {
constexpr size_t kLogChunk = 64 << 10;   // bytes of log per message (base64: 87 KiB)
constexpr size_t kRecentEvents = 10000;  // events kept in memory for streams that are nearly caught up
constexpr int kPollBatch = 5000;

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}  // namespace

std::string SseMessage(std::string_view event, std::string_view id, std::string_view data) {
  std::string out;
  out.reserve(data.size() + 32);
  if (!event.empty()) out.append("event: ").append(event).append("\n");
  if (!id.empty()) out.append("id: ").append(id).append("\n");
  size_t from = 0;
  while (true) {
    size_t nl = data.find('\n', from);
    out.append("data: ").append(data.substr(from, nl == std::string_view::npos ? std::string_view::npos : nl - from)).append("\n");
    if (nl == std::string_view::npos) break;
    from = nl + 1;
  }
  out.append("\n");
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8 | uint8_t(bytes[i + 2]);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (size_t rest = bytes.size() - i; rest > 0) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16 | (rest == 2 ? uint32_t(uint8_t(bytes[i + 1])) << 8 : 0);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += rest == 2 ? kB64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    int pad = (text[i + 3] == '=') + (text[i + 2] == '=' && text[i + 3] == '=');
    if (pad > 0 && i + 4 != text.size()) return std::nullopt;
    uint32_t v = 0;
    for (int k = 0; k < 4 - pad; ++k) {
      int d = value(text[i + k]);
      if (d < 0) return std::nullopt;
      v |= uint32_t(d) << (18 - 6 * k);
    }
    out += char(v >> 16);
    if (pad < 2) out += char((v >> 8) & 255);
    if (pad < 1) out += char(v & 255);
  }
  return out;
}

void SseParser::Feed(std::string_view bytes, const std::function<void(const SseMessageParsed&)>& on_message) {
  for (char c : bytes) {
    if (skip_lf_) {
      skip_lf_ = false;
      if (c == '\n') continue;
    }
    if (c == '\r' || c == '\n') {
      skip_lf_ = c == '\r';
      Line(buf_, on_message);
      buf_.clear();
    } else {
      buf_ += c;
    }
  }
}

void SseParser::Line(std::string_view line, const std::function<void(const SseMessageParsed&)>& on_message) {
  if (line.empty()) {  // dispatch
    if (has_data_) on_message(cur_);
    cur_.event.clear();
    cur_.data.clear();
    has_data_ = false;
    return;
  }
  if (line[0] == ':') return;  // comment (heartbeat)
  size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon), value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (field == "event") {
    cur_.event = value;
  } else if (field == "id") {
    cur_.id = value;  // persists across messages, as EventSource's lastEventId does
  } else if (field == "data") {
    if (has_data_) cur_.data += '\n';
    cur_.data += value;
    has_data_ = true;
  }
}

StreamHub::StreamHub(Manager* m, Env* env, StreamLimits limits) : m_(m), env_(env), limits_(limits) {
  m_->ReadStore([this](Store& s) { base_ = last_ = s.LastEventSeq(); });
  poller_ = std::thread([this] { Poll(); });
}

StreamHub::~StreamHub() {
  Stop();
  if (poller_.joinable()) poller_.join();
}

void StreamHub::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
}

bool StreamHub::stopping() {
  std::lock_guard<std::mutex> l(mu_);
  return stop_;
}

std::unique_ptr<StreamHub::Slot> StreamHub::Open() {
  std::lock_guard<std::mutex> l(mu_);
  if (stop_ || open_ >= limits_.max_streams) return nullptr;
  ++open_;
  return std::make_unique<Slot>(this);
}

StreamHub::Slot::~Slot() {
  std::lock_guard<std::mutex> l(hub_->mu_);
  --hub_->open_;
}

int StreamHub::open_streams() {
  std::lock_guard<std::mutex> l(mu_);
  return open_;
}

int64_t StreamHub::last_seq() {
  std::lock_guard<std::mutex> l(mu_);
  return last_;
}

bool StreamHub::WaitForEvent(int64_t seq, double seconds) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait_for(l, std::chrono::duration<double>(seconds), [&] { return stop_ || last_ > seq; });
  return !stop_;
}

void StreamHub::Poll() {
  bool more = false;
  while (true) {
    int64_t from;
    {
      std::unique_lock<std::mutex> l(mu_);
      if (!more) cv_.wait_for(l, std::chrono::duration<double>(limits_.poll_seconds), [this] { return stop_; });
      if (stop_) return;
      from = last_;
    }
    std::vector<Store::Event> evs;
    try {
      m_->ReadStore([&](Store& s) { evs = s.Events(from, kPollBatch); });
    } catch (const std::exception& e) {
      // An unreadable database is reported by /readyz; streams simply see nothing new meanwhile.
      evs.clear();
    }
    more = evs.size() == static_cast<size_t>(kPollBatch);
    if (evs.empty()) continue;
    {
      std::lock_guard<std::mutex> l(mu_);
      for (auto& e : evs) recent_.push_back(std::move(e));
      last_ = recent_.back().seq;
      while (recent_.size() > kRecentEvents) {
        base_ = recent_.front().seq;
        recent_.pop_front();
      }
    }
    cv_.notify_all();
  }
}

std::vector<Store::Event> StreamHub::EventsAfter(int64_t after, int64_t job, int limit, int64_t* scanned_to) {
  std::vector<Store::Event> out;
  int64_t last;
  {
    std::lock_guard<std::mutex> l(mu_);
    last = last_;
    if (after >= base_) {
      auto it = std::upper_bound(recent_.begin(), recent_.end(), after, [](int64_t s, const Store::Event& e) { return s < e.seq; });
      for (; it != recent_.end() && static_cast<int>(out.size()) < limit; ++it)
        if (job <= 0 || it->job_id == job) out.push_back(*it);
      *scanned_to = static_cast<int>(out.size()) == limit ? out.back().seq : std::max(after, last_);
      return out;
    }
  }
  // Older than the window: from the store (`last` was read first, so the store holds at least that much).
  m_->ReadStore([&](Store& s) { out = s.Events(after, limit, job); });
  if (static_cast<int>(out.size()) == limit) *scanned_to = out.back().seq;
  else *scanned_to = std::max({after, last, out.empty() ? int64_t{0} : out.back().seq});
  return out;
}

std::string EventJson(const Store::Event& e) {
  JsonWriter w;
  w.BeginObject().Field("seq", e.seq).Field("ts", e.ts).Field("job", e.job_id).Field("state", e.state).Field("reason", e.reason).EndObject();
  return w.Take();
}

LogFollow::LogFollow(StreamHub* hub, int64_t job, int attempt, std::string stream, uint64_t offset)
    : hub_(hub), job_(job), attempt_(attempt), stream_(std::move(stream)), offset_(offset) {}

namespace {
std::string EndJson(int attempt, uint64_t size, const std::optional<JobRow>& j) {
  JsonWriter w;
  w.BeginObject().Field("attempt", attempt).Field("size", size);
  if (j) w.Field("job_state", StateName(j->state)).Field("reason", j->reason).Field("attempts", j->attempts);
  w.EndObject();
  return w.Take();
}
}  // namespace

bool LogFollow::Wait(std::string* out) {
  double now = hub_->env()->MonotonicSeconds();
  if (now - last_write_ >= hub_->limits().heartbeat_seconds) {
    *out += ":\n\n";
    last_write_ = now;
    return true;
  }
  return hub_->WaitForEvent(checked_seq_, hub_->limits().poll_seconds);
}

bool LogFollow::Next(std::string* out) {
  out->clear();
  if (hub_->stopping()) return false;
  Manager* m = hub_->manager();
  if (path_.empty()) {  // the attempt has not started yet (or not been looked up)
    checked_seq_ = hub_->last_seq();
    auto j = m->GetJob(job_);
    int want = attempt_ > 0 ? attempt_ : std::max(1, j ? j->attempts : 1);
    if (!j || (j->attempts < want && IsTerminal(j->state))) {  // it will never run
      *out = SseMessage("end", "", EndJson(attempt_, 0, j));
      return false;
    }
    if (j->attempts < want) return Wait(out);
    attempt_ = want;
    ended_ = j->attempts != attempt_ || j->state != State::kRunning;  // as of checked_seq_
    path_ = m->LogPath(job_, attempt_, stream_).value_or("");
    *out += SseMessage("attempt", "", fmt::format("{{\"attempt\":{}}}", attempt_));
  }
  // The attempt's state before the file's size: bytes written before it ended are then all counted.
  int64_t seq = hub_->last_seq();
  if (!ended_ && seq != checked_seq_) {
    auto j = m->GetJob(job_);
    ended_ = !j || j->attempts != attempt_ || j->state != State::kRunning;
    checked_seq_ = seq;
  }
  Env* env = hub_->env();
  uint64_t size = env->FileExists(path_) ? env->FileSize(path_) : 0;
  if (size < offset_) {
    // The file shrank under the stream (truncated, e.g. by logrotate's copytruncate; the wrapper appends, so
    // the command's next bytes start again at 0): say so and go on from the start. Left at the old offset,
    // the stream would skip every byte written until the file grew past it again.
    *out += SseMessage("truncated", fmt::format("{}:0", attempt_),
                       fmt::format("{{\"attempt\":{},\"offset\":{},\"size\":{}}}", attempt_, offset_, size));
    offset_ = 0;
    file_.reset();  // reopened: a log replaced under its name is read from the new file
    last_write_ = env->MonotonicSeconds();
  }
  if (size > offset_) {
    if (!file_) file_ = env->NewRandomAccessFile(path_);
    buf_.resize(kLogChunk);
    size_t n = file_->ReadAt(offset_, static_cast<size_t>(std::min<uint64_t>(size - offset_, kLogChunk)), buf_.data());
    if (n > 0) {
      offset_ += n;
      *out += SseMessage("log", fmt::format("{}:{}", attempt_, offset_), Base64Encode(std::string_view(buf_.data(), n)));
      last_write_ = env->MonotonicSeconds();
      return true;
    }
  }
  if (ended_) {
    *out += SseMessage("end", "", EndJson(attempt_, offset_, m->GetJob(job_)));
    return false;
  }
  if (!out->empty()) return true;
  return Wait(out);
}

EventFollow::EventFollow(StreamHub* hub, int64_t after, int64_t job) : hub_(hub), cursor_(after), job_(job) {}

bool EventFollow::Next(std::string* out) {
  out->clear();
  if (hub_->stopping()) return false;
  double now = hub_->env()->MonotonicSeconds();
  if (last_write_ == 0) {  // first: where this stream starts, so a client knows it is subscribed
    if (cursor_ < 0) cursor_ = hub_->last_seq();
    *out = SseMessage("hello", std::to_string(cursor_), fmt::format("{{\"seq\":{}}}", cursor_));
    last_write_ = now;
    return true;
  }
  int64_t scanned = cursor_;
  auto evs = hub_->EventsAfter(cursor_, job_, 500, &scanned);
  for (const auto& e : evs) *out += SseMessage("", std::to_string(e.seq), EventJson(e));
  cursor_ = scanned;
  if (!evs.empty()) {
    last_write_ = now;
    return true;
  }
  if (now - last_write_ >= hub_->limits().heartbeat_seconds) {
    *out = ":\n\n";
    last_write_ = now;
    return true;
  }
  return hub_->WaitForEvent(cursor_, hub_->limits().heartbeat_seconds - (now - last_write_));
}

}  // namespace sluice::manager
