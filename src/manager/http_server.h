// The API's HTTP server: cpp-httplib's request parsing, routing and responses, with the sockets handled here.
//
// httplib gives each connection a worker thread for its whole life, from before its first byte arrives,
// so a few hundred clients that send one byte a second (or a request head and then a slow body, or nothing
// after connecting) hold every worker and the API stops answering. Here one intake thread accepts and
// reads every connection (epoll) until a whole request (head and body) is buffered, and only then hands it
// to a worker, which runs httplib's processing over the buffered bytes: a worker never waits for a client's
// bytes, only for its own work and for writing the answer (or a stream, for its life). Waiting connections
// cost a descriptor and a buffer, not a thread.
//
// The intake also answers, itself and at once, what httplib would get wrong or wait on (each with a JSON
// error body and `Connection: close`): a Content-Length that is not a decimal byte count (negative,
// non-numeric, overflowing) or given twice with different values, or that exceeds the body limit (413,
// without reading the body); Transfer-Encoding other than chunked, or together with Content-Length; a
// malformed chunked body; a request head over `max_head` bytes (431); a request not received within
// `request_seconds` of its first byte (408); more than `max_connections` open connections (503). A request
// with neither Content-Length nor Transfer-Encoding has an empty body (RFC 9112 6.3), not one read until the
// client closes. An idle keep-alive connection is closed after httplib's keep-alive timeout.
#pragma once

#include <httplib.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace sluice::manager {

struct HttpLimits {
  double request_seconds = 10;      // from a request's first byte to its last
  size_t max_head = 64 << 10;       // request line and headers
  size_t max_body = 1 << 20;        // Content-Length or the decoded chunked body
  size_t max_connections = 4096;    // open at once (waiting, being served or streaming)
  size_t max_workers = 512;         // threads serving buffered requests, started as needed
  double idle_worker_seconds = 2;   // a worker idle this long ends
};

// Whether `buf` holds a whole request from its start, as the intake decides before dispatching it.
struct RequestFrame {
  enum Kind { kIncomplete, kComplete, kError } kind = kIncomplete;
  size_t end = 0;            // kComplete: the request's bytes are buf[0, end)
  int status = 0;            // kError: the status to answer
  std::string message;       // kError: why
  bool expects_continue = false;  // kIncomplete: the head is complete and asks for 100-continue
};
RequestFrame FrameRequest(const std::string& buf, const HttpLimits& limits);

class ApiServer : public httplib::Server {
 public:
  explicit ApiServer(HttpLimits limits);
  ~ApiServer() override;  // Stop()

  // Binds and listens (port 0: any free one); returns the port, or -1 with errno set.
  int Bind(const std::string& host, int port);
  // Accepts and serves until Stop(); returns false if the listening socket failed.
  bool Serve();
  // Stops accepting, closes waiting connections, and joins the workers (streams must end first: the caller
  // stops whatever feeds them). Safe from any thread, idempotent.
  void Stop();
  // Called with the status of every answer the intake gives itself (408, 413, ...), for metrics.
  void set_refusal_observer(std::function<void(int status)> f) { on_refused_ = std::move(f); }

 private:
  class Intake;
  class Workers;
  struct Conn;
  void Dispatch(std::shared_ptr<Conn> c);
  // Serves the buffered request; returns the hand-back (close, or back to the intake) for after.
  std::function<void()> ServeOne(const std::shared_ptr<Conn>& c);
  void Refused(int status);

  HttpLimits limits_;
  std::function<void(int)> on_refused_;
  std::unique_ptr<Workers> workers_;
  std::unique_ptr<Intake> intake_;
};

}  // namespace sluice::manager
