#include "src/lab/pidfile.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace pier::lab {

std::optional<pid_t> parsePidFile(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  pid_t pid = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (ec != std::errc() || end != text.data() + text.size() || pid <= 1) return std::nullopt;
  return pid;
}

bool cmdlineIsLab(std::string_view cmdline, std::string_view run_dir) {
  std::string prefix = std::string(run_dir) + "/";
  while (!cmdline.empty()) {
    auto nul = cmdline.find('\0');
    std::string_view arg = cmdline.substr(0, nul);
    if (arg.substr(0, prefix.size()) == prefix) return true;
    if (nul == std::string_view::npos) break;
    cmdline.remove_prefix(nul + 1);
  }
  return false;
}

bool isRunning(pid_t pid) {
  auto stat = readFile(fmt::format("/proc/{}/stat", pid));
  if (!stat) return false;
  // The state follows the last ')' (the command name may contain one).
  auto close = stat->rfind(')');
  if (close == std::string::npos || close + 2 >= stat->size()) return false;
  char state = (*stat)[close + 2];
  return state != 'Z' && state != 'X';
}

bool isLabProcess(pid_t pid, std::string_view run_dir) {
  if (!isRunning(pid)) return false;
  auto cmdline = readFile(fmt::format("/proc/{}/cmdline", pid));
  return cmdline && cmdlineIsLab(*cmdline, run_dir);
}

Status writePidFile(const std::string& path, pid_t pid) { return writeFile(path, fmt::format("{}\n", pid)); }

std::optional<pid_t> readPidFile(const std::string& path) {
  auto text = readFile(path);
  if (!text) return std::nullopt;
  return parsePidFile(*text);
}

std::vector<std::string> pidFilesIn(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    std::string_view name = e->d_name;
    if (name.size() > 4 && name.substr(name.size() - 4) == ".pid")
      out.push_back(dir + "/" + std::string(name));
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::string> readFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

std::string lastLines(std::string_view text, size_t n) {
  if (n == 0) return {};
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  size_t start = text.size();
  for (size_t i = 0; i < n; ++i) {
    auto nl = start == 0 ? std::string_view::npos : text.rfind('\n', start - 1);
    if (nl == std::string_view::npos) return std::string(text);
    start = nl;
  }
  return std::string(text.substr(start + 1));
}

Status writeFile(const std::string& path, std::string_view content, unsigned mode) {
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Error{fmt::format("{}: {}", tmp, std::strerror(errno))};
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      unlink(tmp.c_str());
      return Error{fmt::format("{}: {}", tmp, std::strerror(errno))};
    }
    done += static_cast<size_t>(n);
  }
  fchmod(fd, mode);
  ::close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    return Error{fmt::format("{}: {}", path, std::strerror(errno))};
  }
  return {};
}

}  // namespace pier::lab
