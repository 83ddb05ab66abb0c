// The per-worker pool of idle upstream connections, against a real loopback
// listener that never accepts: connections complete in its backlog and stay
// quiet, so only the pool decides when they go. Time passes on the loop
// (timers, with a watchdog), never by sleeping.
#include "src/proxy/upstream_connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace pier::proxy {
namespace {

using std::chrono::milliseconds;

constexpr size_t kMaxIdle = 8;
constexpr Duration kNoTimeout = Duration::zero();
constexpr Duration kLongTimeout = std::chrono::seconds(60);
constexpr Duration kShortTimeout = milliseconds(5);

class EndpointPoolTest : public ::testing::Test {
 protected:
  EndpointPoolTest()
      : watchdog_(loop_,
                  [this] {
                    ADD_FAILURE() << "watchdog: the loop did not stop in time";
                    loop_.stop();
                  }),
        poll_(loop_, [this] { checkCondition(); }) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(listen_fd_, 64), 0);
    address_.length = sizeof(sockaddr_in);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address_.storage), &address_.length);
    pool_ = std::make_unique<EndpointPool>(loop_, address_);
  }
  ~EndpointPoolTest() override {
    pool_.reset();
    close(listen_fd_);
  }

  std::unique_ptr<UpstreamConnection> connect() {
    auto conn = pool_->connect();
    EXPECT_TRUE(conn.ok()) << conn.error();
    return conn.ok() ? std::move(conn.value()) : nullptr;
  }

  // Runs the loop until `done` holds (checked every millisecond), or the
  // watchdog gives up.
  void runUntil(std::function<bool()> done) {
    done_ = std::move(done);
    watchdog_.armAfter(std::chrono::seconds(10));
    poll_.armAfter(milliseconds(1));
    loop_.run();
    watchdog_.cancel();
    poll_.cancel();
  }

  // True when the peer of the oldest unaccepted connection closed it.
  bool acceptedPeerClosed() {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return false;
    pollfd p{fd, POLLIN, 0};
    bool closed = false;
    if (poll(&p, 1, 5000) == 1) {
      char c;
      closed = read(fd, &c, 1) == 0;
    }
    close(fd);
    return closed;
  }

  event::Loop loop_;
  net::Address address_;
  int listen_fd_ = -1;
  std::unique_ptr<EndpointPool> pool_;

 private:
  void checkCondition() {
    if (done_()) {
      loop_.stop();
    } else {
      poll_.armAfter(milliseconds(1));
    }
  }

  event::Timer watchdog_;
  event::Timer poll_;
  std::function<bool()> done_;
};

TEST_F(EndpointPoolTest, AnEmptyPoolHasNothingIdle) {
  EXPECT_EQ(pool_->idleCount(), 0U);
  EXPECT_EQ(pool_->takeIdle(), nullptr);
}

TEST_F(EndpointPoolTest, ReleasedConnectionsAreTakenMostRecentFirst) {
  auto c1 = connect();
  auto c2 = connect();
  ASSERT_TRUE(c1 && c2);
  UpstreamConnection* p1 = c1.get();
  UpstreamConnection* p2 = c2.get();
  pool_->release(std::move(c1), kMaxIdle, kNoTimeout);
  pool_->release(std::move(c2), kMaxIdle, kNoTimeout);
  EXPECT_EQ(pool_->idleCount(), 2U);
  auto t1 = pool_->takeIdle();
  EXPECT_EQ(t1.get(), p2);
  EXPECT_EQ(pool_->idleCount(), 1U);
  auto t2 = pool_->takeIdle();
  EXPECT_EQ(t2.get(), p1);
  EXPECT_EQ(pool_->idleCount(), 0U);
  EXPECT_EQ(pool_->takeIdle(), nullptr);
}

// The second round goes through list nodes recycled by the first.
TEST_F(EndpointPoolTest, ConnectionsReleasedAgainAreTakenMostRecentFirst) {
  auto c1 = connect();
  auto c2 = connect();
  auto c3 = connect();
  ASSERT_TRUE(c1 && c2 && c3);
  UpstreamConnection* p1 = c1.get();
  UpstreamConnection* p2 = c2.get();
  UpstreamConnection* p3 = c3.get();
  pool_->release(std::move(c1), kMaxIdle, kNoTimeout);
  pool_->release(std::move(c2), kMaxIdle, kNoTimeout);
  auto a = pool_->takeIdle();
  auto b = pool_->takeIdle();
  ASSERT_EQ(a.get(), p2);
  ASSERT_EQ(b.get(), p1);

  // Back in another order, with one more than the round before.
  pool_->release(std::move(a), kMaxIdle, kNoTimeout);
  pool_->release(std::move(c3), kMaxIdle, kNoTimeout);
  pool_->release(std::move(b), kMaxIdle, kNoTimeout);
  EXPECT_EQ(pool_->idleCount(), 3U);
  std::vector<UpstreamConnection*> taken;
  std::vector<std::unique_ptr<UpstreamConnection>> keep;
  while (auto c = pool_->takeIdle()) {
    taken.push_back(c.get());
    keep.push_back(std::move(c));
    EXPECT_EQ(pool_->idleCount(), 3U - taken.size());
  }
  EXPECT_EQ(taken, (std::vector<UpstreamConnection*>{p1, p3, p2}));
}

TEST_F(EndpointPoolTest, ManyRoundsThroughTheSameNodesKeepTheCountRight) {
  auto c = connect();
  ASSERT_TRUE(c);
  UpstreamConnection* p = c.get();
  for (int round = 0; round < 5; ++round) {
    pool_->release(std::move(c), kMaxIdle, kLongTimeout);
    ASSERT_EQ(pool_->idleCount(), 1U);
    c = pool_->takeIdle();
    ASSERT_EQ(c.get(), p);
    ASSERT_EQ(pool_->idleCount(), 0U);
  }
}

TEST_F(EndpointPoolTest, AReleasedConnectionExpiresByItsIdleTimeout) {
  auto c = connect();
  ASSERT_TRUE(c);
  pool_->release(std::move(c), kMaxIdle, kShortTimeout);
  runUntil([this] { return pool_->idleCount() == 0; });
  EXPECT_EQ(pool_->idleCount(), 0U);
  EXPECT_EQ(pool_->takeIdle(), nullptr);
  EXPECT_TRUE(acceptedPeerClosed());
}

TEST_F(EndpointPoolTest, AConnectionReleasedTakenAndReleasedAgainStillExpires) {
  auto c = connect();
  ASSERT_TRUE(c);
  pool_->release(std::move(c), kMaxIdle, kLongTimeout);
  c = pool_->takeIdle();
  ASSERT_TRUE(c);
  pool_->release(std::move(c), kMaxIdle, kShortTimeout);
  ASSERT_EQ(pool_->idleCount(), 1U);
  runUntil([this] { return pool_->idleCount() == 0; });
  EXPECT_EQ(pool_->idleCount(), 0U);
  EXPECT_EQ(pool_->takeIdle(), nullptr);
  EXPECT_TRUE(acceptedPeerClosed());
}

// An expiry frees a node in the middle of the list; the one left must still
// be the right connection, and a later release must reuse that node safely.
TEST_F(EndpointPoolTest, AnExpiredConnectionLeavesTheOthersIdle) {
  auto c1 = connect();
  auto c2 = connect();
  auto c3 = connect();
  ASSERT_TRUE(c1 && c2 && c3);
  UpstreamConnection* p1 = c1.get();
  UpstreamConnection* p3 = c3.get();
  pool_->release(std::move(c1), kMaxIdle, kLongTimeout);
  pool_->release(std::move(c2), kMaxIdle, kShortTimeout);
  runUntil([this] { return pool_->idleCount() == 1; });
  ASSERT_EQ(pool_->idleCount(), 1U);
  pool_->release(std::move(c3), kMaxIdle, kLongTimeout);
  EXPECT_EQ(pool_->idleCount(), 2U);
  auto t1 = pool_->takeIdle();
  auto t2 = pool_->takeIdle();
  EXPECT_EQ(t1.get(), p3);
  EXPECT_EQ(t2.get(), p1);
  EXPECT_EQ(pool_->takeIdle(), nullptr);
}

TEST_F(EndpointPoolTest, ATakenConnectionIsNotExpiredByItsEarlierTimeout) {
  auto c = connect();
  auto marker = connect();  // expires on the same timeout: shows the time has passed
  ASSERT_TRUE(c && marker);
  pool_->release(std::move(c), kMaxIdle, kShortTimeout);
  c = pool_->takeIdle();
  ASSERT_TRUE(c);
  pool_->release(std::move(marker), kMaxIdle, kShortTimeout);
  runUntil([this] { return pool_->idleCount() == 0; });
  EXPECT_GE(c->fd(), 0);
  pool_->release(std::move(c), kMaxIdle, kLongTimeout);
  EXPECT_EQ(pool_->idleCount(), 1U);
}

TEST_F(EndpointPoolTest, AReleaseOverTheCapClosesTheConnection) {
  auto c1 = connect();
  auto c2 = connect();
  ASSERT_TRUE(c1 && c2);
  UpstreamConnection* p1 = c1.get();
  pool_->release(std::move(c1), 1, kNoTimeout);
  pool_->release(std::move(c2), 1, kNoTimeout);
  EXPECT_EQ(pool_->idleCount(), 1U);
  auto t = pool_->takeIdle();
  EXPECT_EQ(t.get(), p1);
  EXPECT_EQ(pool_->takeIdle(), nullptr);
}

}  // namespace
}  // namespace pier::proxy
