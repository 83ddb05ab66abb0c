#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/socket.h>

#include <array>
#include <cstring>

#include "src/announce/linux_fd.h"
#include "src/announce/linux_sockets.h"

namespace pier::announce::sys {
namespace {

constexpr size_t kEthernetHeaderSize = 14;

// Accepts Ethernet frames carrying ARP for IPv4 over Ethernet (ethertype
// 0x0806, htype 1, ptype 0x0800, hlen 6, plen 4); everything else is dropped
// in the kernel before it is queued. The responder re-validates in full.
constexpr std::array<sock_filter, 8> kArpFilter{{
    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),                 // ethertype
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0806, 0, 5),      //   not ARP: drop
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 14),                 // htype, ptype
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x00010800, 0, 3),  //   not Ethernet/IPv4: drop
    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 18),                 // hlen, plen
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0604, 0, 1),      //   not 6/4: drop
    BPF_STMT(BPF_RET | BPF_K, 0xffff),                      // accept the whole frame
    BPF_STMT(BPF_RET | BPF_K, 0),                           // drop
}};

class LinuxArpSocket final : public ArpSocket {
 public:
  LinuxArpSocket(OwnedFd fd, int ifindex) : fd_(std::move(fd)), ifindex_(ifindex) {}

  int fd() const override { return fd_.get(); }

  int receive(std::span<uint8_t> buf) override {
    for (;;) {
      sockaddr_ll from{};
      socklen_t from_size = sizeof from;
      const ssize_t n =
          ::recvfrom(fd_.get(), buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &from_size);
      if (n > 0) {
        // PACKET_IGNORE_OUTGOING (Linux 4.20+) already drops these; older
        // kernels deliver our own frames marked as outgoing.
        if (from.sll_pkttype == PACKET_OUTGOING) {
          continue;
        }
        return static_cast<int>(n);
      }
      if (n == 0 || errno == EINTR) {
        continue;
      }
      // ENETDOWN is reported once when the interface goes down; the socket
      // keeps working when it comes back.
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENETDOWN) {
        return 0;
      }
      return -1;
    }
  }

  bool send(std::span<const uint8_t> frame) override {
    if (frame.size() < kEthernetHeaderSize) {
      return false;
    }
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_protocol = htons(ETH_P_ARP);
    to.sll_ifindex = ifindex_;
    to.sll_halen = ETH_ALEN;
    std::memcpy(to.sll_addr, frame.data(), ETH_ALEN);
    for (;;) {
      const ssize_t n = ::sendto(fd_.get(), frame.data(), frame.size(), 0,
                                 reinterpret_cast<const sockaddr*>(&to), sizeof to);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      return n == static_cast<ssize_t>(frame.size());
    }
  }

 private:
  OwnedFd fd_;
  int ifindex_;
};

void discardQueued(int fd) {
  std::array<uint8_t, 64> scratch;
  while (::recv(fd, scratch.data(), scratch.size(), MSG_DONTWAIT) >= 0 || errno == EINTR) {
  }
}

}  // namespace

Result<std::unique_ptr<ArpSocket>> openArpSocket(const InterfaceInfo& itf) {
  const std::string what = "ARP socket on " + itf.name;
  // Protocol 0: nothing is received until bind(), which happens after the
  // filter is in place, so no unfiltered frame from any interface slips in.
  OwnedFd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return errnoError(what);
  }
  sock_fprog program{static_cast<unsigned short>(kArpFilter.size()),
                     const_cast<sock_filter*>(kArpFilter.data())};
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) != 0) {
    return errnoError(what + ": attach filter");
  }
  // Older kernels lack it; receive() checks the packet type instead.
  const int one = 1;
  ::setsockopt(fd.get(), SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
  discardQueued(fd.get());
  sockaddr_ll local{};
  local.sll_family = AF_PACKET;
  local.sll_protocol = htons(ETH_P_ARP);
  local.sll_ifindex = itf.index;
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) {
    return errnoError(what + ": bind");
  }
  return std::unique_ptr<ArpSocket>(std::make_unique<LinuxArpSocket>(std::move(fd), itf.index));
}

}  // namespace pier::announce::sys
