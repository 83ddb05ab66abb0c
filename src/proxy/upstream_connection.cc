#include "src/proxy/upstream_connection.h"

#include <sys/epoll.h>

namespace pier::proxy {

UpstreamConnection::UpstreamConnection(event::Loop& loop, net::Fd fd, EndpointPool& pool)
    : loop_(loop), fd_(std::move(fd)), pool_(pool), idle_timer_(loop, [this] { pool_.onIdleEvent(*this); }) {
  loop_.add(fd_.get(), *this, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
}

UpstreamConnection::~UpstreamConnection() {
  if (load_) {
    load_->connections.fetch_sub(1, std::memory_order_relaxed);
  }
  if (fd_.valid()) {
    loop_.remove(fd_.get());
  }
}

void UpstreamConnection::onIoEvent(uint32_t events) {
  if (!fd_.valid()) {
    return;  // discarded earlier in this epoll batch; deleted at its end
  }
  if (user_ != nullptr) {
    user_->onUpstreamEvent(events);
    return;
  }
  // Idle in the pool: anything but "writable" means the peer closed it or
  // sent bytes nobody asked for; either way it can't be reused.
  if (in_pool_ && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
    pool_.onIdleEvent(*this);
  }
}

EndpointPool::~EndpointPool() = default;

std::unique_ptr<UpstreamConnection> EndpointPool::takeIdle() {
  // Most recently used first: it is the least likely to have been closed.
  while (!idle_.empty()) {
    auto conn = std::move(idle_.back());
    spare_nodes_.splice(spare_nodes_.end(), idle_, std::prev(idle_.end()));
    conn->idle_timer_.cancel();
    conn->in_pool_ = false;
    return conn;
  }
  return nullptr;
}

Result<std::unique_ptr<UpstreamConnection>> EndpointPool::connect() {
  auto fd = net::connectTcp(address_);
  if (!fd) {
    return Error{fd.error()};
  }
  return std::make_unique<UpstreamConnection>(loop_, std::move(fd.value()), *this);
}

void EndpointPool::release(std::unique_ptr<UpstreamConnection> connection, size_t max_idle, Duration idle_timeout) {
  connection->user_ = nullptr;
  if (idle_.size() >= max_idle || !connection->in_.empty()) {
    discard(std::move(connection));
    return;
  }
  connection->in_.shrinkIfEmpty();
  UpstreamConnection& ref = *connection;
  if (spare_nodes_.empty()) {
    idle_.push_back(std::move(connection));
  } else {
    // A connection goes back to the pool after every request: reuse a list
    // node instead of allocating one each time.
    spare_nodes_.front() = std::move(connection);
    idle_.splice(idle_.end(), spare_nodes_, spare_nodes_.begin());
  }
  ref.idle_pos_ = std::prev(idle_.end());
  ref.in_pool_ = true;
  if (idle_timeout > Duration::zero()) {
    ref.idle_timer_.armAfter(idle_timeout);
  }
}

void EndpointPool::discard(std::unique_ptr<UpstreamConnection> connection) {
  connection->user_ = nullptr;
  connection->idle_timer_.cancel();
  loop_.remove(connection->fd());
  connection->fd_.reset();
  loop_.deferDelete(std::move(connection));
}

void EndpointPool::onIdleEvent(UpstreamConnection& connection) {
  if (!connection.in_pool_) {
    return;
  }
  connection.in_pool_ = false;
  auto it = connection.idle_pos_;
  auto owned = std::move(*it);
  spare_nodes_.splice(spare_nodes_.end(), idle_, it);
  discard(std::move(owned));
}

}  // namespace pier::proxy
