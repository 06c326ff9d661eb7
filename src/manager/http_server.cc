#include "manager/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "core/json_writer.h"

namespace sluice::manager {
namespace {

double Now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Where the line starting at `pos` ends (the index of its '\n'), or npos.
size_t LineEnd(const std::string& buf, size_t pos) { return buf.find('\n', pos); }

RequestFrame Error(int status, std::string message) {
  RequestFrame f;
  f.kind = RequestFrame::kError;
  f.status = status;
  f.message = std::move(message);
  return f;
}

// A chunked body starting at `pos`: its end, or kIncomplete / kError.
RequestFrame FrameChunked(const std::string& buf, size_t pos, const HttpLimits& limits) {
  uint64_t total = 0;
  while (true) {
    size_t eol = LineEnd(buf, pos);
    if (eol == std::string::npos) return buf.size() - pos > 1024 ? Error(400, "malformed chunked body: a chunk-size line over 1 KiB") : RequestFrame{};
    std::string_view line = Trim(std::string_view(buf).substr(pos, eol - pos));
    line = line.substr(0, line.find(';'));  // chunk extensions
    line = Trim(line);
    if (line.empty() || line.size() > 8 || line.find_first_not_of("0123456789abcdefABCDEF") != std::string_view::npos)
      return Error(400, fmt::format("malformed chunked body: '{}' is not a chunk size", std::string(line.substr(0, 32))));
    uint64_t size = std::stoull(std::string(line), nullptr, 16);
    total += size;
    if (total > limits.max_body)
      return Error(413, fmt::format("request body too large: the chunks exceed the limit of {} bytes", limits.max_body));
    pos = eol + 1;
    if (size == 0) {
      // Trailer lines (ignored) up to an empty line.
      while (true) {
        size_t e = LineEnd(buf, pos);
        if (e == std::string::npos) return buf.size() - pos > limits.max_head ? Error(431, "chunked body trailers too large") : RequestFrame{};
        bool empty = e == pos || (e == pos + 1 && buf[pos] == '\r');
        pos = e + 1;
        if (empty) {
          RequestFrame f;
          f.kind = RequestFrame::kComplete;
          f.end = pos;
          return f;
        }
      }
    }
    if (buf.size() < pos + size + 1) return {};
    pos += size;
    if (buf[pos] == '\n') {
      pos += 1;
    } else if (buf[pos] == '\r') {
      if (buf.size() < pos + 2) return {};
      if (buf[pos + 1] != '\n') return Error(400, "malformed chunked body: a chunk is not followed by CRLF");
      pos += 2;
    } else {
      return Error(400, "malformed chunked body: a chunk is longer than its size");
    }
  }
}

// The reason phrases of the statuses the intake answers itself.
const char* Reason(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

std::string ErrorResponse(int status, const std::string& message) {
  JsonWriter w;
  w.BeginObject().Key("error").BeginObject().Field("code", status).Field("message", message).EndObject().EndObject();
  std::string body = w.Take() + "\n";
  return fmt::format("HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}", status,
                     Reason(status), body.size(), body);
}

// A request already read whole (reads come from memory and end with it), written straight to the socket.
class BufferedStream : public httplib::Stream {
 public:
  BufferedStream(int fd, std::string in, int write_ms) : fd_(fd), in_(std::move(in)), write_ms_(write_ms) {}
  using httplib::Stream::write;
  bool is_readable() const override { return pos_ < in_.size(); }
  bool is_writable() const override {
    pollfd p{fd_, POLLOUT, 0};
    return poll(&p, 1, write_ms_) > 0 && !(p.revents & (POLLERR | POLLHUP | POLLNVAL));
  }
  ssize_t read(char* ptr, size_t size) override {
    size_t n = std::min(size, in_.size() - pos_);
    std::memcpy(ptr, in_.data() + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    size_t done = 0;
    while (done < size) {
      ssize_t n = ::send(fd_, ptr + done, size - done, MSG_NOSIGNAL);
      if (n > 0) {
        done += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        pollfd p{fd_, POLLOUT, 0};
        if (poll(&p, 1, write_ms_) > 0 && !(p.revents & (POLLERR | POLLNVAL))) continue;
      }
      failed_ = true;
      return -1;
    }
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override { Address(true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { Address(false, ip, port); }
  socket_t socket() const override { return fd_; }
  bool failed() const { return failed_; }

 private:
  void Address(bool peer, std::string& ip, int& port) const {
    sockaddr_storage a{};
    socklen_t len = sizeof(a);
    if ((peer ? getpeername(fd_, reinterpret_cast<sockaddr*>(&a), &len) : getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len)) != 0) return;
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    if (getnameinfo(reinterpret_cast<sockaddr*>(&a), len, host, sizeof(host), serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0) return;
    ip = host;
    port = std::atoi(serv);
  }
  int fd_;
  std::string in_;
  size_t pos_ = 0;
  int write_ms_;
  bool failed_ = false;
};

}  // namespace

RequestFrame FrameRequest(const std::string& buf, const HttpLimits& limits) {
  // The head ends at the first empty line (CRLF, or a bare LF, which httplib then refuses itself).
  size_t head_end = std::string::npos;
  for (size_t p = buf.find('\n'); p != std::string::npos; p = buf.find('\n', p + 1)) {
    if (p + 1 < buf.size() && buf[p + 1] == '\n') {
      head_end = p + 2;
      break;
    }
    if (p + 2 < buf.size() && buf[p + 1] == '\r' && buf[p + 2] == '\n') {
      head_end = p + 3;
      break;
    }
  }
  if (head_end == std::string::npos ? buf.size() > limits.max_head : head_end > limits.max_head)
    return Error(431, fmt::format("request line and headers larger than {} bytes", limits.max_head));
  if (head_end == std::string::npos) return {};

  std::vector<std::string_view> lengths, encodings;
  bool expect_continue = false;
  size_t pos = buf.find('\n') + 1;  // past the request line
  while (pos < head_end) {
    size_t eol = LineEnd(buf, pos);
    std::string_view line(buf.data() + pos, eol - pos);
    pos = eol + 1;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon), value = Trim(line.substr(colon + 1));
    if (IEquals(name, "Content-Length")) lengths.push_back(value);
    else if (IEquals(name, "Transfer-Encoding")) encodings.push_back(value);
    else if (IEquals(name, "Expect") && IEquals(value, "100-continue")) expect_continue = true;
  }
  RequestFrame f;
  if (!encodings.empty()) {
    if (!lengths.empty()) return Error(400, "a request may not give both Content-Length and Transfer-Encoding");
    for (std::string_view e : encodings)
      if (!IEquals(e, "chunked")) return Error(501, fmt::format("Transfer-Encoding '{}' is not supported (only chunked)", std::string(e.substr(0, 64))));
    f = FrameChunked(buf, head_end, limits);
    if (f.kind == RequestFrame::kIncomplete) f.expects_continue = expect_continue && buf.size() == head_end;
    return f;
  }
  uint64_t length = 0;
  for (size_t i = 0; i < lengths.size(); ++i) {
    std::string_view v = lengths[i];
    if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string_view::npos)
      return Error(400, fmt::format("Content-Length '{}' is not a byte count", std::string(v.substr(0, 64))));
    if (i > 0 && v != lengths[0]) return Error(400, "Content-Length is given twice with different values");
    length = std::stoull(std::string(v));
  }
  if (length > limits.max_body)
    return Error(413, fmt::format("request body too large: {} bytes, the limit is {} bytes", length, limits.max_body));
  if (buf.size() - head_end < length) {
    f.expects_continue = expect_continue && buf.size() == head_end;
    return f;
  }
  f.kind = RequestFrame::kComplete;
  f.end = head_end + length;
  return f;
}

// A connection; owned by the intake while it waits for a request, by one worker while it is served.
struct ApiServer::Conn {
  int fd = -1;
  std::string buf;      // bytes received and not yet served (a pipelined client's next requests included)
  size_t request_end = 0;  // once framed: the request is buf[0, request_end)
  double deadline = 0;  // monotonic: idle close, or the request's time limit
  bool closing = false;  // answered with an error: drained until the client closes or the deadline
  bool continued = false;  // 100 Continue sent for the current request
  bool peer_closed = false;
  size_t served = 0;
};

// Threads for buffered requests: one is started whenever no idle one can take the next, up to `max`; one
// idle for `idle_exit` seconds ends, so a burst's threads do not stay.
class ApiServer::Workers {
 public:
  Workers(size_t max, double idle_exit) : max_(max), idle_exit_(idle_exit) {}
  ~Workers() { Shutdown(); }
  // `fn` returns what is left to do once its thread counts as idle again (handing a connection back):
  // done before, the client's next request, which that hand-back lets in, would often find no idle thread
  // and start another one.
  bool Enqueue(std::function<std::function<void()>()> fn) {
    std::lock_guard<std::mutex> l(mu_);
    if (stop_) return false;
    jobs_.push_back(std::move(fn));
    if (jobs_.size() > idle_ && live_ < max_) {
      ++live_;
      std::thread([this] { Work(); }).detach();
    } else {
      cv_.notify_one();
    }
    return true;
  }
  // Runs what is queued, then waits for every thread to end.
  void Shutdown() {
    std::unique_lock<std::mutex> l(mu_);
    stop_ = true;
    cv_.notify_all();
    done_.wait(l, [this] { return live_ == 0; });
  }
  size_t live() {
    std::lock_guard<std::mutex> l(mu_);
    return live_;
  }

 private:
  void Work() {
    std::unique_lock<std::mutex> l(mu_);
    while (true) {
      ++idle_;
      bool woken = cv_.wait_for(l, std::chrono::duration<double>(idle_exit_), [this] { return stop_ || !jobs_.empty(); });
      --idle_;
      if (jobs_.empty()) {
        if (!stop_ && woken) continue;
        if (--live_ == 0) done_.notify_all();
        return;
      }
      auto fn = std::move(jobs_.front());
      jobs_.pop_front();
      l.unlock();
      std::function<void()> then = fn();
      l.lock();
      if (then) {
        ++idle_;
        l.unlock();
        then();
        l.lock();
        --idle_;
      }
    }
  }
  size_t max_;
  double idle_exit_;
  std::mutex mu_;
  std::condition_variable cv_, done_;
  std::deque<std::function<std::function<void()>()>> jobs_;
  size_t live_ = 0, idle_ = 0;
  bool stop_ = false;
};

class ApiServer::Intake {
 public:
  Intake(ApiServer* srv) : srv_(srv) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    ev_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    Watch(ev_, EPOLL_CTL_ADD);
  }
  ~Intake() {
    for (auto& [fd, c] : conns_) ::close(fd);
    if (listen_ >= 0) ::close(listen_);
    ::close(ev_);
    ::close(ep_);
  }
  int Listen(const std::string& host, int port) {
    addrinfo hints{}, *res = nullptr;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    std::string service = std::to_string(port);
    if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0) {
      errno = EADDRNOTAVAIL;
      return -1;
    }
    int err = 0;
    for (addrinfo* a = res; a; a = a->ai_next) {
      int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) {
        err = errno;
        continue;
      }
      int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      // A burst of clients (a hundred followers started at once) must queue, not be reset: the kernel's
      // maximum, not httplib's 5.
      if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, SOMAXCONN) == 0) {
        listen_ = fd;
        break;
      }
      err = errno;
      ::close(fd);
    }
    freeaddrinfo(res);
    if (listen_ < 0) {
      errno = err;
      return -1;
    }
    sockaddr_storage a{};
    socklen_t len = sizeof(a);
    getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len);
    Watch(listen_, EPOLL_CTL_ADD);
    return a.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&a)->sin6_port) : ntohs(reinterpret_cast<sockaddr_in*>(&a)->sin_port);
  }
  int listen_fd() const { return listen_; }

  // Runs until RequestStop(); false if the listening socket failed.
  bool Run() {
    std::vector<epoll_event> events(256);
    double last_sweep = Now();
    bool ok = true;
    while (!stop_.load()) {
      int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 250);
      if (n < 0 && errno != EINTR) {
        ok = false;
        break;
      }
      double now = Now();
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == listen_) {
          if (!AcceptAll(now)) ok = false;
        } else if (fd == ev_) {
          uint64_t v;
          while (::read(ev_, &v, sizeof(v)) > 0) {}
          std::vector<std::shared_ptr<Conn>> back;
          {
            std::lock_guard<std::mutex> l(mu_);
            back.swap(returned_);
          }
          for (auto& c : back) Resume(c, now);
        } else if (auto it = conns_.find(fd); it != conns_.end()) {
          OnReadable(it->second, now);
        }
      }
      if (!ok) break;
      if (accept_paused_ && now >= accept_resume_) {
        accept_paused_ = false;
        Watch(listen_, EPOLL_CTL_ADD);
      }
      if (now - last_sweep >= 0.1) {
        last_sweep = now;
        Sweep(now);
      }
    }
    std::lock_guard<std::mutex> l(mu_);
    stopped_ = true;
    for (auto& c : returned_) Close(*c);
    returned_.clear();
    return ok;
  }
  void RequestStop() {
    stop_ = true;
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(ev_, &one, sizeof(one));
  }
  // A worker is done with `c` and the client may send more.
  void Return(std::shared_ptr<Conn> c) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stopped_) return Close(*c);
      returned_.push_back(std::move(c));
    }
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(ev_, &one, sizeof(one));
  }
  void Close(Conn& c) {
    if (c.fd < 0) return;
    --open_;  // first: a client that sees the close may connect again at once, within the limit
    ::close(c.fd);
    c.fd = -1;
  }

 private:
  void Watch(int fd, int op) {
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.fd = fd;
    epoll_ctl(ep_, op, fd, &e);
  }
  bool AcceptAll(double now) {
    while (true) {
      int fd = accept4(listen_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          // Out of descriptors or memory: stop accepting for a moment instead of spinning on the error
          // (the pending connections wait in the backlog).
          if (now - warned_at_ > 60) {
            fmt::print(stderr, "sluice server: cannot accept connections: {} ({} open); pausing\n", std::strerror(errno), open_.load());
            warned_at_ = now;
          }
          accept_paused_ = true;
          accept_resume_ = now + 0.1;
          epoll_ctl(ep_, EPOLL_CTL_DEL, listen_, nullptr);
          return true;
        }
        if (errno == EBADF || errno == EINVAL || errno == ENOTSOCK) return false;
        continue;  // the client went away before we took it (ECONNABORTED, EPROTO, ...), or EINTR
      }
      if (open_.load() >= srv_->limits_.max_connections) {
        std::string r = ErrorResponse(503, fmt::format("too many open connections (limit {})", srv_->limits_.max_connections));
        [[maybe_unused]] ssize_t n = ::send(fd, r.data(), r.size(), MSG_NOSIGNAL);
        ::close(fd);
        srv_->Refused(503);
        continue;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      ++open_;
      auto c = std::make_shared<Conn>();
      c->fd = fd;
      c->deadline = now + static_cast<double>(srv_->keep_alive_timeout_sec_);
      conns_[fd] = c;
      Watch(fd, EPOLL_CTL_ADD);
    }
  }
  // A connection back from a worker: its next request may already be buffered (pipelining).
  void Resume(const std::shared_ptr<Conn>& c, double now) {
    c->deadline = c->buf.empty() ? now + static_cast<double>(srv_->keep_alive_timeout_sec_) : now + srv_->limits_.request_seconds;
    conns_[c->fd] = c;
    Watch(c->fd, EPOLL_CTL_ADD);
    Evaluate(c, now);
  }
  void OnReadable(std::shared_ptr<Conn> c, double now) {
    char chunk[65536];
    while (true) {
      ssize_t n = ::recv(c->fd, chunk, sizeof(chunk), 0);
      if (n > 0) {
        if (c->closing) continue;  // draining after an error answer
        if (c->buf.empty()) c->deadline = now + srv_->limits_.request_seconds;  // a request begins
        c->buf.append(chunk, static_cast<size_t>(n));
        // Stop reading once more than one whole request can hold is buffered; framing decides.
        if (c->buf.size() > srv_->limits_.max_head + srv_->limits_.max_body + sizeof(chunk)) break;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      // End of stream or an error: a complete request received before a half-close is still answered.
      if (c->closing) return Drop(c);
      c->peer_closed = true;
      break;
    }
    if (c->closing) return;
    Evaluate(c, now);
  }
  void Evaluate(const std::shared_ptr<Conn>& c, double now) {
    // RFC 9112 2.2: empty lines before a request line are ignored (some clients send CRLF after a body).
    size_t skip = c->buf.find_first_not_of("\r\n");
    c->buf.erase(0, skip == std::string::npos ? c->buf.size() : skip);
    if (c->buf.empty()) {
      if (c->peer_closed) Drop(c);
      return;
    }
    RequestFrame f = FrameRequest(c->buf, srv_->limits_);
    if (f.kind == RequestFrame::kComplete) {
      c->request_end = f.end;
      epoll_ctl(ep_, EPOLL_CTL_DEL, c->fd, nullptr);
      conns_.erase(c->fd);
      srv_->Dispatch(c);
    } else if (f.kind == RequestFrame::kError) {
      Refuse(c, f.status, f.message, now);
    } else if (c->peer_closed) {
      Drop(c);  // the client stopped sending before its request was whole
    } else if (f.expects_continue && !c->continued) {
      // The body is waited for here, so the client must be told to send it now; httplib answers the
      // header again once it processes the request, and a client skips a second 1xx (RFC 9110 15.2).
      static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      [[maybe_unused]] ssize_t n = ::send(c->fd, kContinue, sizeof(kContinue) - 1, MSG_NOSIGNAL);
      c->continued = true;
    }
    (void)now;
  }
  // Answers `status` and closes: the write side at once, the socket once the client closes or 2 s pass,
  // so the answer is not lost to a reset from unread request bytes.
  void Refuse(const std::shared_ptr<Conn>& c, int status, const std::string& message, double now) {
    std::string r = ErrorResponse(status, message);
    [[maybe_unused]] ssize_t n = ::send(c->fd, r.data(), r.size(), MSG_NOSIGNAL);
    ::shutdown(c->fd, SHUT_WR);
    c->closing = true;
    c->buf.clear();
    c->buf.shrink_to_fit();
    c->deadline = now + 2;
    srv_->Refused(status);
  }
  void Drop(const std::shared_ptr<Conn>& c) {
    epoll_ctl(ep_, EPOLL_CTL_DEL, c->fd, nullptr);
    conns_.erase(c->fd);
    Close(*c);
  }
  void Sweep(double now) {
    std::vector<std::shared_ptr<Conn>> due;
    for (auto& [fd, c] : conns_)
      if (now >= c->deadline) due.push_back(c);
    for (auto& c : due) {
      if (c->closing || c->buf.empty()) {
        Drop(c);  // drained, or idle past the keep-alive timeout
      } else {
        Refuse(c, 408, fmt::format("request not received in full within {} s of its first byte", srv_->limits_.request_seconds), now);
      }
    }
  }

  ApiServer* srv_;
  int ep_ = -1, ev_ = -1, listen_ = -1;
  std::atomic<bool> stop_{false};
  std::unordered_map<int, std::shared_ptr<Conn>> conns_;  // waiting in the intake
  std::mutex mu_;
  std::vector<std::shared_ptr<Conn>> returned_;
  bool stopped_ = false;
  bool accept_paused_ = false;
  double accept_resume_ = 0, warned_at_ = -1e9;

 public:
  std::atomic<size_t> open_{0};  // connections open, wherever they are
};

ApiServer::ApiServer(HttpLimits limits)
    : limits_(limits), workers_(std::make_unique<Workers>(limits.max_workers, limits.idle_worker_seconds)), intake_(std::make_unique<Intake>(this)) {}

ApiServer::~ApiServer() {
  Stop();
  workers_->Shutdown();
}

int ApiServer::Bind(const std::string& host, int port) {
  int bound = intake_->Listen(host, port);
  // httplib's streams check this to tell a running server from a stopping one.
  if (bound > 0) svr_sock_ = intake_->listen_fd();
  return bound;
}

bool ApiServer::Serve() {
  bool ok = intake_->Run();
  svr_sock_ = INVALID_SOCKET;  // chunked responses in progress end
  workers_->Shutdown();
  return ok;
}

void ApiServer::Stop() { intake_->RequestStop(); }

void ApiServer::Refused(int status) {
  if (on_refused_) on_refused_(status);
}

void ApiServer::Dispatch(std::shared_ptr<Conn> c) {
  if (!workers_->Enqueue([this, c] { return ServeOne(c); })) intake_->Close(*c);
}

std::function<void()> ApiServer::ServeOne(const std::shared_ptr<Conn>& c) {
  std::string request = c->buf.substr(0, c->request_end);
  c->buf.erase(0, c->request_end);
  BufferedStream strm(c->fd, std::move(request), static_cast<int>(write_timeout_sec_ * 1000 + write_timeout_usec_ / 1000));
  bool close_connection = c->peer_closed || ++c->served >= keep_alive_max_count_;
  bool connection_closed = false;
  bool ok = false;
  try {
    ok = process_request(strm, close_connection, connection_closed, nullptr);
  } catch (const std::exception& e) {
    fmt::print(stderr, "sluice server: request failed: {}\n", e.what());
  }
  if (!ok || connection_closed || close_connection || strm.failed()) return [this, c] { intake_->Close(*c); };
  c->continued = false;
  return [this, c] { intake_->Return(c); };
}

}  // namespace sluice::manager
