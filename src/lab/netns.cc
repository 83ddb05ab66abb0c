#include "src/lab/netns.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include <fmt/format.h>

namespace pier::lab {

std::string netnsPath(const std::string& name) { return "/run/netns/" + name; }

std::vector<std::string> listNetns() {
  std::vector<std::string> out;
  DIR* d = opendir("/run/netns");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

Status enterNetns(const std::string& name) {
  int fd = open(netnsPath(name).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{fmt::format("network namespace {}: {}", name, std::strerror(errno))};
  int r = setns(fd, CLONE_NEWNET);
  int err = errno;
  close(fd);
  if (r != 0) return Error{fmt::format("setns {}: {}", name, std::strerror(err))};
  return {};
}

Status runInNetns(const std::string& name, const std::function<void()>& fn) {
  Status status;
  std::thread t([&] {
    status = enterNetns(name);
    if (status) fn();
  });
  t.join();
  return status;
}

}  // namespace pier::lab
