// The one-shot client behind filters' httpCall, against real loopback
// servers: request serialisation, response framing, and every way a call can
// fail or be cancelled. Tests wait on the loop (with a watchdog), never sleep.
#include "src/proxy/http_call.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pier::proxy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::StartsWith;

using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr int kWaitMs = 5000;

Headers headersOf(const filters::HeaderMap& map) {
  Headers out;
  for (const auto& e : map.entries()) {
    out.emplace_back(e.name, e.value);
  }
  return out;
}

bool waitReadable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, kWaitMs) == 1;
}

// True if a client connected to listening socket `fd` (accepted or not yet).
bool connectionQueued(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 0) == 1;
}

net::Address boundAddress(int fd) {
  net::Address a;
  a.length = sizeof(sockaddr_in);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a.storage), &a.length);
  return a;
}

// A blocking TCP socket bound to 127.0.0.1 on a free port.
int bindLoopback() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  return fd;
}

// A one-connection server on its own thread: reads one request, writes a
// canned reply, then either closes or waits for the client to close.
class TestServer {
 public:
  struct Script {
    std::string reply;
    bool hold = false;                  // after replying, wait for the client to close
    std::function<void()> on_request;   // on the server thread, once the request is in
    std::function<void()> after_reply;  // on the server thread, once the reply is sent
  };

  explicit TestServer(Script script) : script_(std::move(script)), listen_fd_(bindLoopback()) {
    EXPECT_EQ(listen(listen_fd_, 4), 0);
    address_ = boundAddress(listen_fd_);
    thread_ = std::thread([this] { serve(); });
  }
  ~TestServer() {
    join();
    close(listen_fd_);
  }

  const net::Address& address() const { return address_; }
  void join() {
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  // Valid after join().
  const std::string& request() const { return request_; }
  bool clientClosed() const { return client_closed_; }

 private:
  void serve() {
    if (!waitReadable(listen_fd_)) {
      return;
    }
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      return;
    }
    readRequest(fd);
    if (script_.on_request) {
      script_.on_request();
    }
    size_t sent = 0;
    while (sent < script_.reply.size()) {
      ssize_t n = send(fd, script_.reply.data() + sent, script_.reply.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        break;
      }
      sent += static_cast<size_t>(n);
    }
    if (script_.after_reply) {
      script_.after_reply();
    }
    if (script_.hold) {
      char buf[4096];
      while (waitReadable(fd)) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) {
          client_closed_ = true;
          break;
        }
      }
    }
    close(fd);
  }

  // Reads the head and a content-length body (the only framing the client sends).
  void readRequest(int fd) {
    char buf[64 * 1024];
    size_t wanted = std::string::npos;
    while (request_.size() < wanted && waitReadable(fd)) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) {
        return;
      }
      request_.append(buf, static_cast<size_t>(n));
      size_t end = request_.find("\r\n\r\n");
      if (end != std::string::npos && wanted == std::string::npos) {
        wanted = end + 4;
        size_t cl = request_.find("\r\ncontent-length: ");
        if (cl != std::string::npos && cl < end) {
          wanted += std::stoul(request_.substr(cl + 18));
        }
      }
    }
  }

  Script script_;
  int listen_fd_;
  net::Address address_;
  std::thread thread_;
  std::string request_;
  bool client_closed_ = false;
};

class HttpCallTest : public ::testing::Test {
 protected:
  HttpCallTest()
      : watchdog_(loop_, [this] {
          ADD_FAILURE() << "watchdog: the call did not finish in time";
          loop_.stop();
        }) {
    watchdog_.armAfter(std::chrono::seconds(10));
  }

  static filters::HttpCallRequest request(std::string method = "GET", std::string path = "/",
                                          std::string body = "") {
    filters::HttpCallRequest r;
    r.cluster = "backend";
    r.headers.add(":method", method);
    r.headers.add(":path", path);
    r.headers.add(":authority", "example.com");
    r.body = std::move(body);
    return r;
  }

  // Starts a call and runs the loop until it calls back (or the watchdog fires).
  std::optional<filters::HttpCallResponse> call(const net::Address& to, filters::HttpCallRequest req,
                                                size_t max_response_bytes = 16 << 20) {
    std::optional<filters::HttpCallResponse> result;
    auto handle = HttpCall::start(
        loop_, to, std::move(req),
        [&](filters::HttpCallResponse r) {
          result = std::move(r);
          loop_.stop();
        },
        max_response_bytes);
    EXPECT_FALSE(result.has_value()) << "called back from inside start()";
    loop_.run();
    return result;
  }

  // Runs the loop for `d` (a loop timer, not a sleep).
  void runFor(std::chrono::milliseconds d) {
    event::Timer stopper(loop_, [this] { loop_.stop(); });
    stopper.armAfter(d);
    loop_.run();
  }

  static void expectFailure(const std::optional<filters::HttpCallResponse>& r) {
    ASSERT_TRUE(r.has_value());
    EXPECT_THAT(headersOf(r->headers), ElementsAre(Pair(":status", "503")));
    EXPECT_EQ(r->body, "upstream failure");
  }

  event::Loop loop_;
  event::Timer watchdog_;
};

// --- responses ---------------------------------------------------------------

TEST_F(HttpCallTest, ContentLengthResponseCompletesWithoutWaitingForClose) {
  TestServer server({.reply = "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello", .hold = true});
  auto r = call(server.address(), request());
  server.join();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r->headers.getFirst(":status"), "200");
  EXPECT_EQ(r->body, "hello");
  EXPECT_TRUE(server.clientClosed());
}

TEST_F(HttpCallTest, ResponseHeadersFollowStatusInOrderAndLowerCase) {
  TestServer server({.reply = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Multi: a\r\nX-Multi: b\r\n"
                              "Content-Length: 2\r\n\r\nok"});
  auto r = call(server.address(), request());
  ASSERT_TRUE(r.has_value());
  EXPECT_THAT(headersOf(r->headers),
              ElementsAre(Pair(":status", "200"), Pair("content-type", "text/plain"), Pair("x-multi", "a"),
                          Pair("x-multi", "b"), Pair("content-length", "2")));
}

TEST_F(HttpCallTest, ChunkedBodyIsDecodedAndTransferEncodingDropped) {
  TestServer server({.reply = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nx-a: 1\r\n\r\n"
                              "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                     .hold = true});
  auto r = call(server.address(), request());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "hello world");
  EXPECT_THAT(headersOf(r->headers), ElementsAre(Pair(":status", "200"), Pair("x-a", "1")));
}

TEST_F(HttpCallTest, TrailersAreIgnored) {
  TestServer server({.reply = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                              "2\r\nok\r\n0\r\nx-trailer: t\r\n\r\n"});
  auto r = call(server.address(), request());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "ok");
  EXPECT_EQ(r->headers.getFirst("x-trailer"), nullptr);
}

TEST_F(HttpCallTest, BodyUntilCloseEndsWhenTheServerCloses) {
  TestServer server({.reply = "HTTP/1.1 200 OK\r\nx-a: 1\r\n\r\nhello until close"});
  auto r = call(server.address(), request());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r->headers.getFirst(":status"), "200");
  EXPECT_EQ(r->body, "hello until close");
}

TEST_F(HttpCallTest, InterimResponsesAreSkipped) {
  TestServer server({.reply = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n"
                              "HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok"});
  auto r = call(server.address(), request());
  ASSERT_TRUE(r.has_value());
  EXPECT_THAT(headersOf(r->headers), ElementsAre(Pair(":status", "201"), Pair("content-length", "2")));
  EXPECT_EQ(r->body, "ok");
}

TEST_F(HttpCallTest, HeadResponseHasNoBodyWhateverItsContentLength) {
  TestServer server({.reply = "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n", .hold = true});
  auto r = call(server.address(), request("HEAD"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r->headers.getFirst(":status"), "200");
  EXPECT_EQ(*r->headers.getFirst("content-length"), "10");
  EXPECT_EQ(r->body, "");
}

TEST_F(HttpCallTest, BodyLargerThanOneReadArrivesWhole) {
  std::string body(300 * 1024, 'x');
  for (size_t i = 0; i < body.size(); i += 1000) {
    body[i] = static_cast<char>('a' + (i / 1000) % 26);
  }
  TestServer server(
      {.reply = "HTTP/1.1 200 OK\r\ncontent-length: " + std::to_string(body.size()) + "\r\n\r\n" + body,
       .hold = true});
  auto r = call(server.address(), request());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body.size(), body.size());
  EXPECT_TRUE(r->body == body);
}

TEST_F(HttpCallTest, BodyAtTheSizeLimitIsAccepted) {
  TestServer server({.reply = "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nabcd"});
  auto r = call(server.address(), request(), 4);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r->headers.getFirst(":status"), "200");
  EXPECT_EQ(r->body, "abcd");
}

// --- requests ----------------------------------------------------------------

TEST_F(HttpCallTest, PostSendsHostContentLengthAndBody) {
  TestServer server({.reply = "HTTP/1.1 204 No Content\r\n\r\n"});
  auto req = request("POST", "/submit?x=1", "hello");
  req.headers.add("content-type", "text/plain");
  auto r = call(server.address(), std::move(req));
  server.join();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r->headers.getFirst(":status"), "204");
  EXPECT_EQ(server.request(),
            "POST /submit?x=1 HTTP/1.1\r\nhost: example.com\r\ncontent-type: text/plain\r\n"
            "content-length: 5\r\nconnection: close\r\n\r\nhello");
}

TEST_F(HttpCallTest, EmptyPostSendsContentLengthZero) {
  TestServer server({.reply = "HTTP/1.1 204 No Content\r\n\r\n"});
  auto r = call(server.address(), request("POST"));
  server.join();
  ASSERT_TRUE(r.has_value());
  EXPECT_THAT(server.request(), HasSubstr("\r\ncontent-length: 0\r\n"));
}

TEST_F(HttpCallTest, GetWithoutBodySendsNoContentLength) {
  TestServer server({.reply = "HTTP/1.1 204 No Content\r\n\r\n"});
  auto r = call(server.address(), request("GET", "/x"));
  server.join();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(server.request(), "GET /x HTTP/1.1\r\nhost: example.com\r\nconnection: close\r\n\r\n");
}

TEST_F(HttpCallTest, CustomHeadersAreForwardedInOrderAndPseudoHeadersAreNot) {
  TestServer server({.reply = "HTTP/1.1 204 No Content\r\n\r\n"});
  auto req = request("GET", "/x");
  req.headers.add(":scheme", "http");
  req.headers.add("x-trace", "abc");
  req.headers.add("x-multi", "1");
  req.headers.add("x-multi", "2");
  auto r = call(server.address(), std::move(req));
  server.join();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(server.request(),
            "GET /x HTTP/1.1\r\nhost: example.com\r\nx-trace: abc\r\nx-multi: 1\r\nx-multi: 2\r\n"
            "connection: close\r\n\r\n");
}

TEST_F(HttpCallTest, FramingAndHopByHopHeadersAreReplacedByOurOwn) {
  TestServer server({.reply = "HTTP/1.1 204 No Content\r\n\r\n"});
  auto req = request("PUT", "/x", "abc");
  for (const char* name : {"connection", "transfer-encoding", "content-length", "keep-alive", "te", "upgrade",
                           "proxy-connection", "host"}) {
    req.headers.add(name, "bogus");
  }
  auto r = call(server.address(), std::move(req));
  server.join();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(server.request(),
            "PUT /x HTTP/1.1\r\nhost: example.com\r\ncontent-length: 3\r\nconnection: close\r\n\r\nabc");
}

TEST_F(HttpCallTest, LargeRequestBodyIsSentWhole) {
  // Bigger than loopback's socket buffers, so the write must resume on EPOLLOUT.
  std::string body(8 << 20, 'b');
  TestServer server({.reply = "HTTP/1.1 204 No Content\r\n\r\n"});
  auto r = call(server.address(), request("POST", "/upload", body));
  server.join();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r->headers.getFirst(":status"), "204");
  ASSERT_THAT(server.request(), StartsWith("POST /upload HTTP/1.1\r\n"));
  EXPECT_EQ(server.request().size() - server.request().find("\r\n\r\n") - 4, body.size());
}

// --- failures ----------------------------------------------------------------

TEST_F(HttpCallTest, ConnectionRefusedIsAnUpstreamFailure) {
  int fd = bindLoopback();  // bound, never listening: connects are refused
  auto r = call(boundAddress(fd), request());
  close(fd);
  expectFailure(r);
}

TEST_F(HttpCallTest, ServerClosingBeforeRespondingIsAnUpstreamFailure) {
  TestServer server({.reply = ""});
  expectFailure(call(server.address(), request()));
}

TEST_F(HttpCallTest, ServerClosingMidBodyIsAnUpstreamFailure) {
  TestServer server({.reply = "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc"});
  expectFailure(call(server.address(), request()));
}

TEST_F(HttpCallTest, ServerClosingMidHeadIsAnUpstreamFailure) {
  TestServer server({.reply = "HTTP/1.1 200 OK\r\ncontent-le"});
  expectFailure(call(server.address(), request()));
}

TEST_F(HttpCallTest, MalformedResponseIsAnUpstreamFailure) {
  TestServer server({.reply = "HTTP/1.1 2x0 OK\r\n\r\n", .hold = true});
  expectFailure(call(server.address(), request()));
}

TEST_F(HttpCallTest, UnrequestedSwitchingProtocolsIsAnUpstreamFailure) {
  TestServer server(
      {.reply = "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n",
       .hold = true});
  expectFailure(call(server.address(), request()));
}

TEST_F(HttpCallTest, DeclaredBodyOverTheLimitIsAnUpstreamFailure) {
  TestServer server({.reply = "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n0123456789", .hold = true});
  expectFailure(call(server.address(), request(), 4));
}

TEST_F(HttpCallTest, StreamedBodyOverTheLimitIsAnUpstreamFailure) {
  TestServer server({.reply = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n",
                     .hold = true});
  expectFailure(call(server.address(), request(), 4));
}

TEST_F(HttpCallTest, TimeoutAnswers504) {
  TestServer server({.reply = "", .hold = true});
  auto req = request();
  req.timeout = std::chrono::milliseconds(50);
  auto r = call(server.address(), std::move(req));
  server.join();
  ASSERT_TRUE(r.has_value());
  EXPECT_THAT(headersOf(r->headers), ElementsAre(Pair(":status", "504")));
  EXPECT_EQ(r->body, "upstream request timeout");
  EXPECT_TRUE(server.clientClosed());
}

TEST_F(HttpCallTest, MissingPseudoHeaderFailsWithoutConnecting) {
  int fd = bindLoopback();
  ASSERT_EQ(listen(fd, 4), 0);
  auto req = request();
  req.headers.remove(":authority");
  expectFailure(call(boundAddress(fd), std::move(req)));
  EXPECT_FALSE(connectionQueued(fd));
  close(fd);
}

TEST_F(HttpCallTest, HeaderWithLineBreakFailsWithoutConnecting) {
  int fd = bindLoopback();
  ASSERT_EQ(listen(fd, 4), 0);
  auto req = request();
  req.headers.add("x-evil", "a\r\nGET /smuggled HTTP/1.1");
  expectFailure(call(boundAddress(fd), std::move(req)));
  EXPECT_FALSE(connectionQueued(fd));
  close(fd);
}

TEST_F(HttpCallTest, PathWithSpaceFailsWithoutConnecting) {
  int fd = bindLoopback();
  ASSERT_EQ(listen(fd, 4), 0);
  expectFailure(call(boundAddress(fd), request("GET", "/a HTTP/1.1\r\nx: y")));
  EXPECT_FALSE(connectionQueued(fd));
  close(fd);
}

// --- cancellation ------------------------------------------------------------

TEST_F(HttpCallTest, DestroyedInFlightNeverCallsBackAndClosesTheSocket) {
  bool called = false;
  std::unique_ptr<HttpCall> handle;
  TestServer server({.reply = "", .hold = true, .on_request = [&] {
                       loop_.post([&] {
                         handle.reset();
                         loop_.stop();
                       });
                     }});
  handle =
      HttpCall::start(loop_, server.address(), request(), [&](filters::HttpCallResponse) { called = true; });
  loop_.run();
  server.join();
  EXPECT_EQ(handle, nullptr);
  EXPECT_TRUE(server.clientClosed());
  EXPECT_FALSE(called);
}

// Another handler of the same epoll batch destroys the call while the call's
// own socket event is still queued behind it: that event must find nothing
// freed and must not call back.
TEST_F(HttpCallTest, DestroyedByAnEarlierEventOfTheSameBatchIsSafe) {
  struct Handler final : event::IoHandler {
    std::function<void()> fn;
    void onIoEvent(uint32_t) override { fn(); }
  };
  std::mutex mutex;
  std::condition_variable cv;
  bool go = false;
  bool sent = false;
  TestServer server({.reply = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
                     .hold = true,
                     .on_request =
                         [&] {
                           loop_.post([&] { loop_.stop(); });
                           std::unique_lock lock(mutex);
                           cv.wait(lock, [&] { return go; });
                         },
                     .after_reply =
                         [&] {
                           std::lock_guard lock(mutex);
                           sent = true;
                           cv.notify_all();
                         }});
  bool called = false;
  auto handle =
      HttpCall::start(loop_, server.address(), request(), [&](filters::HttpCallResponse) { called = true; });
  loop_.run();  // until the request is in

  // The pipe becomes ready before the reply arrives, so it comes first in the batch.
  int pipe_fds[2];
  ASSERT_EQ(pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC), 0);
  Handler destroyer;
  destroyer.fn = [&] {
    handle.reset();
    loop_.post([&] { loop_.stop(); });
  };
  loop_.add(pipe_fds[0], destroyer, EPOLLIN);
  ASSERT_EQ(write(pipe_fds[1], "x", 1), 1);
  {
    std::unique_lock lock(mutex);
    go = true;
    cv.notify_all();
    cv.wait(lock, [&] { return sent; });
  }
  loop_.run();
  loop_.remove(pipe_fds[0]);
  close(pipe_fds[0]);
  close(pipe_fds[1]);
  server.join();
  EXPECT_EQ(handle, nullptr);
  EXPECT_FALSE(called);
}

TEST_F(HttpCallTest, DestroyedBeforeAPendingFailureNeverCallsBack) {
  bool called = false;
  auto req = request();
  req.headers.remove(":method");
  int fd = bindLoopback();
  auto handle = HttpCall::start(loop_, boundAddress(fd), std::move(req),
                                [&](filters::HttpCallResponse) { called = true; });
  handle.reset();
  runFor(std::chrono::milliseconds(5));
  close(fd);
  EXPECT_FALSE(called);
}

TEST_F(HttpCallTest, DestroyedBeforeARefusedConnectReportsNeverCallsBack) {
  bool called = false;
  int fd = bindLoopback();
  auto handle =
      HttpCall::start(loop_, boundAddress(fd), request(), [&](filters::HttpCallResponse) { called = true; });
  handle.reset();
  runFor(std::chrono::milliseconds(5));
  close(fd);
  EXPECT_FALSE(called);
}

TEST_F(HttpCallTest, DestroyingFromInsideTheCallbackIsSafe) {
  TestServer server({.reply = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", .hold = true});
  std::unique_ptr<HttpCall> handle;
  std::string body;
  handle = HttpCall::start(loop_, server.address(), request(), [&](filters::HttpCallResponse r) {
    handle.reset();
    body = r.body;  // the response is still ours after the handle is gone
    loop_.stop();
  });
  loop_.run();
  EXPECT_EQ(handle, nullptr);
  EXPECT_EQ(body, "ok");
}

TEST_F(HttpCallTest, DestroyingFromInsideATimeoutCallbackIsSafe) {
  TestServer server({.reply = "", .hold = true});
  std::unique_ptr<HttpCall> handle;
  std::string status;
  auto req = request();
  req.timeout = std::chrono::milliseconds(20);
  handle = HttpCall::start(loop_, server.address(), std::move(req), [&](filters::HttpCallResponse r) {
    handle.reset();
    status = *r.headers.getFirst(":status");
    loop_.stop();
  });
  loop_.run();
  EXPECT_EQ(status, "504");
}

TEST_F(HttpCallTest, DestroyingFromInsideAFailureCallbackIsSafe) {
  int fd = bindLoopback();
  std::unique_ptr<HttpCall> handle;
  std::string status;
  handle = HttpCall::start(loop_, boundAddress(fd), request(), [&](filters::HttpCallResponse r) {
    handle.reset();
    status = *r.headers.getFirst(":status");
    loop_.stop();
  });
  loop_.run();
  close(fd);
  EXPECT_EQ(status, "503");
}

}  // namespace
}  // namespace pier::proxy
