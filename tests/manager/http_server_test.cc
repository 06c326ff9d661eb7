// The API server's own socket handling (manager/http_server.h): how a buffered request is framed, and a
// live ApiServer with small limits answering a request that never completes (408), an idle keep-alive
// connection closed, connections past the limit refused (503), and slow clients holding no worker while
// another client is served. End to end against the daemon: tests/cli/manager_http_test.sh.
#include "manager/http_server.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace sluice::manager {
namespace {

TEST(FrameRequest, FindsTheEndOfHeadAndBodyOrWhyNot) {
  HttpLimits l;
  l.max_body = 100;
  l.max_head = 200;
  auto frame = [&](const std::string& s) { return FrameRequest(s, l); };
  EXPECT_EQ(frame("GET / HTTP/1.1\r\nHost: x\r\n").kind, RequestFrame::kIncomplete);
  RequestFrame f = frame("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /next");
  ASSERT_EQ(f.kind, RequestFrame::kComplete);
  EXPECT_EQ(f.end, 27u) << "the pipelined next request is not part of it";
  EXPECT_EQ(frame("POST / HTTP/1.1\r\ncontent-length: 4\r\n\r\nab").kind, RequestFrame::kIncomplete);
  EXPECT_EQ(frame("POST / HTTP/1.1\r\ncontent-length: 4\r\n\r\nabcd").end, 42u);
  EXPECT_EQ(frame("POST / HTTP/1.1\r\n\r\n").kind, RequestFrame::kComplete) << "no length: an empty body";
  EXPECT_TRUE(frame("POST / HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n").expects_continue);

  for (const char* cl : {"-1", "abc", "1e3", "", "99999999999999999999", "0x10"}) {
    f = frame(std::string("POST / HTTP/1.1\r\nContent-Length: ") + cl + "\r\n\r\n");
    EXPECT_EQ(f.kind, RequestFrame::kError) << cl;
    EXPECT_EQ(f.status, 400) << cl;
  }
  f = frame("POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n");
  EXPECT_EQ(f.status, 413);
  EXPECT_EQ(f.message, "request body too large: 101 bytes, the limit is 100 bytes");
  EXPECT_EQ(frame("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nab").status, 400);
  EXPECT_EQ(frame("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab").kind, RequestFrame::kComplete);
  EXPECT_EQ(frame("GET / HTTP/1.1\r\nX: " + std::string(300, 'a')).status, 431);

  // Chunked: framed through the last chunk and the trailers; sizes checked against the body limit.
  std::string chunked = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  EXPECT_EQ(frame(chunked + "3\r\nabc\r\n").kind, RequestFrame::kIncomplete);
  f = frame(chunked + "3;ext=1\r\nabc\r\n0\r\n\r\nGET");
  ASSERT_EQ(f.kind, RequestFrame::kComplete);
  EXPECT_EQ(f.end, chunked.size() + 19);
  EXPECT_EQ(frame(chunked + "3\r\nabc\r\n0\r\nTrailer: 1\r\n\r\n").kind, RequestFrame::kComplete);
  EXPECT_EQ(frame(chunked + "zz\r\n").status, 400);
  EXPECT_EQ(frame(chunked + "3\r\nabcd\r\n").status, 400);
  EXPECT_EQ(frame(chunked + "65\r\n").status, 413) << "101 bytes in one chunk";
  EXPECT_EQ(frame("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n").status, 501);
  EXPECT_EQ(frame("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n").status, 400);
}

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  return fd;
}

// Everything the server sends until it closes the connection or `seconds` pass.
std::string ReadAll(int fd, double seconds) {
  std::string out;
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

class LiveServer {
 public:
  explicit LiveServer(HttpLimits l) : srv_(l) {
    srv_.Get("/ping", [](const httplib::Request&, httplib::Response& res) { res.set_content("pong", "text/plain"); });
    srv_.set_keep_alive_timeout(1);
    port_ = srv_.Bind("127.0.0.1", 0);
    thread_ = std::thread([this] { srv_.Serve(); });
  }
  ~LiveServer() {
    srv_.Stop();
    thread_.join();
  }
  int port() const { return port_; }

 private:
  ApiServer srv_;
  int port_ = 0;
  std::thread thread_;
};

TEST(ApiServer, AnIncompleteRequestGets408AndAnIdleConnectionIsClosed) {
  HttpLimits l;
  l.request_seconds = 0.5;
  LiveServer s(l);
  ASSERT_GT(s.port(), 0);
  int partial = Connect(s.port());
  ASSERT_GT(send(partial, "GET /ping HTTP/1.1\r\nHo", 22, 0), 0);
  int idle = Connect(s.port());
  auto t0 = std::chrono::steady_clock::now();
  std::string out = ReadAll(partial, 5);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(out.rfind("HTTP/1.1 408 Request Timeout\r\n", 0), 0u) << out;
  EXPECT_NE(out.find("request not received in full within 0.5 s"), std::string::npos) << out;
  EXPECT_LT(took, 3);
  EXPECT_EQ(ReadAll(idle, 5), "") << "closed after the 1 s keep-alive timeout, without an answer";
  close(partial);
  close(idle);
}

TEST(ApiServer, SlowClientsHoldNoWorkerAndConnectionsPastTheLimitAre503) {
  HttpLimits l;
  l.max_workers = 1;  // one worker: a slow client holding it would block the ping below
  l.max_connections = 4;
  LiveServer s(l);
  std::vector<int> slow;
  for (int i = 0; i < 3; ++i) {
    slow.push_back(Connect(s.port()));
    ASSERT_GT(send(slow.back(), "G", 1, 0), 0);
  }
  int fast = Connect(s.port());
  const char req[] = "GET /ping HTTP/1.1\r\nConnection: close\r\n\r\n";
  ASSERT_GT(send(fast, req, sizeof(req) - 1, 0), 0);
  std::string out = ReadAll(fast, 5);
  EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << out;
  EXPECT_NE(out.find("pong"), std::string::npos);
  close(fast);
  // The server closed the fast one (Connection: close) and counted it gone before: fill to the limit
  // again, and one more is refused.
  slow.push_back(Connect(s.port()));
  int extra = Connect(s.port());
  out = ReadAll(extra, 5);
  EXPECT_EQ(out.rfind("HTTP/1.1 503", 0), 0u) << out;
  EXPECT_NE(out.find("too many open connections (limit 4)"), std::string::npos) << out;
  close(extra);
  for (int fd : slow) close(fd);
}

}  // namespace
}  // namespace sluice::manager
