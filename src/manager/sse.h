// Live streams of the job manager API over Server-Sent Events (docs/api.md, "Live streams"): the wire
// format, a parser for clients, and the two streams the server offers.
//
// - LogFollow: one attempt's stdout or stderr as it grows (`GET /v1/jobs/{id}/logs?follow=1`). Bytes go out
//   base64-encoded (logs are bytes: '\r' progress bars and invalid UTF-8 survive exactly), 64 KiB at most per
//   message, each message's id "ATTEMPT:OFFSET" naming where the next byte starts, so a client resumes with
//   Last-Event-ID. The file is read in bounded blocks, never whole. The stream ends with an `end` message once
//   the attempt has ended and every byte was sent. A file that shrinks below the stream's offset (truncated
//   while followed) gets a `truncated` message and is followed again from its start.
// - EventFollow: the rows of the events table (every state transition), id = the event's sequence number,
//   resumable with Last-Event-ID or since=; optionally one job's only.
//
// StreamHub is shared by every open stream: it polls the store for new events once per interval (one query,
// however many streams are open) and keeps the recent ones in memory, so streams wait on a condition
// variable instead of querying; it counts open streams against a limit (followers must not take every
// HTTP worker), and Stop() ends every wait at once so the server can shut down.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "io/env.h"
#include "manager/store.h"

namespace sluice::manager {

class Manager;

// One SSE message: `event:` and `id:` lines when non-empty, then `data` as one `data:` line per '\n'-separated
// piece (a client joins them with '\n'), then a blank line. `data` must not contain '\r'.
std::string SseMessage(std::string_view event, std::string_view id, std::string_view data);

// RFC 4648 base64 with padding. Decode returns nullopt for text that is not that.
std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view text);

// Incremental SSE parser (the CLI's side): Feed() any split of the byte stream; `on_message` gets each
// complete message (comments and field-less blocks are skipped). Lines end with "\n", "\r\n" or "\r".
struct SseMessageParsed {
  std::string event;  // "" = the default type, "message"
  std::string id, data;
};
class SseParser {
 public:
  void Feed(std::string_view bytes, const std::function<void(const SseMessageParsed&)>& on_message);

 private:
  void Line(std::string_view line, const std::function<void(const SseMessageParsed&)>& on_message);
  std::string buf_;
  bool skip_lf_ = false;  // the last byte fed was '\r': a following '\n' belongs to it
  SseMessageParsed cur_;
  bool has_data_ = false;
};

struct StreamLimits {
  int max_streams = 384;       // open streams at once; more are refused (503)
  double poll_seconds = 0.1;   // how often the hub looks for new events, and a follower for new log bytes
  double heartbeat_seconds = 5;  // a comment line after this long without output, so dead clients are noticed
};

class StreamHub {
 public:
  StreamHub(Manager* m, Env* env, StreamLimits limits);
  ~StreamHub();  // Stop()
  void Stop();   // every Wait returns at once, every stream ends; idempotent

  // An open stream's place under max_streams, released when destroyed; nullptr when the limit is reached.
  class Slot;
  std::unique_ptr<Slot> Open();
  int open_streams();

  // Events after sequence `after` (only job `job`'s if > 0), at most `limit`, oldest first, from memory when
  // the window of recent events reaches back that far, else from the store. `*scanned_to` is the sequence up
  // to which there is nothing more to return: the next call continues after it.
  std::vector<Store::Event> EventsAfter(int64_t after, int64_t job, int limit, int64_t* scanned_to);
  int64_t last_seq();  // the newest event seen
  // Waits until an event newer than `seq` is seen, Stop(), or `seconds` pass; false once stopping.
  bool WaitForEvent(int64_t seq, double seconds);
  bool stopping();

  Manager* manager() { return m_; }
  Env* env() { return env_; }
  const StreamLimits& limits() const { return limits_; }

 private:
  void Poll();
  Manager* m_;
  Env* env_;
  StreamLimits limits_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  int open_ = 0;
  std::deque<Store::Event> recent_;  // events with seq in (base_, last_], oldest first
  int64_t base_ = 0, last_ = 0;
  std::thread poller_;
};

class StreamHub::Slot {
 public:
  explicit Slot(StreamHub* hub) : hub_(hub) {}
  ~Slot();
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;

 private:
  StreamHub* hub_;
};

// A stream's next piece: Next() blocks at most about a poll interval (or a heartbeat interval when idle),
// puts what to send in `*out` (possibly nothing), and returns false once the stream is over (`*out` then holds
// its last message, if any).
class LogFollow {
 public:
  // `attempt` 0: the latest attempt when the stream starts (the first, once the job starts). An attempt that
  // has not started yet is waited for; the stream ends at once if the job ends without it. `offset`: the
  // first byte to send.
  LogFollow(StreamHub* hub, int64_t job, int attempt, std::string stream, uint64_t offset);
  bool Next(std::string* out);

 private:
  bool Wait(std::string* out);  // nothing to send: wait for growth or an event, heartbeat when due
  StreamHub* hub_;
  int64_t job_;
  int attempt_;
  std::string stream_, path_;
  uint64_t offset_;
  std::unique_ptr<RandomAccessFile> file_;
  int64_t checked_seq_ = -1;  // the hub's sequence when the attempt's state was last read
  bool ended_ = false;
  double last_write_ = 0;
  std::vector<char> buf_;
};

class EventFollow {
 public:
  EventFollow(StreamHub* hub, int64_t after, int64_t job);
  bool Next(std::string* out);

 private:
  StreamHub* hub_;
  int64_t cursor_, job_;
  double last_write_ = 0;
};

// The JSON of one event, as /v1/events sends it: {"seq","ts","job","state","reason"}.
std::string EventJson(const Store::Event& e);

}  // namespace sluice::manager
