#include "src/lab/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace pier::lab {
namespace {

using Clock = std::chrono::steady_clock;

// argv as the char* array exec wants; built before fork, since after fork a
// multithreaded parent's child may only call async-signal-safe functions.
class CArgv {
 public:
  explicit CArgv(const std::vector<std::string>& argv) : strings_(argv) {
    for (auto& s : strings_) ptrs_.push_back(s.data());
    ptrs_.push_back(nullptr);
  }
  char* const* get() { return ptrs_.data(); }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> ptrs_;
};

void closeFrom(int first) {
  // close_range is Linux 5.9+; fall back to a bounded loop before it.
  if (syscall(SYS_close_range, first, ~0U, 0) == 0) return;
  for (int fd = first; fd < 1024; ++fd) close(fd);
}

Result<std::string> resolve(const std::vector<std::string>& argv) {
  if (argv.empty()) return Error{"empty command"};
  std::string path = findExecutable(argv[0]);
  if (path.empty()) return Error{fmt::format("{}: not found (install it: scripts/install-deps.sh)", argv[0])};
  return path;
}

}  // namespace

std::string findExecutable(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0 ? name : std::string{};
  const char* env = std::getenv("PATH");
  std::string dirs = std::string(env ? env : "/usr/bin:/bin") + ":/usr/sbin:/sbin:/usr/local/sbin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    if (!dir.empty()) {
      std::string candidate = dir + "/" + name;
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    start = end + 1;
  }
  return {};
}

Result<CommandOutput> runCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  auto path = resolve(argv);
  if (!path) return Error{path.error()};
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Error{fmt::format("pipe: {}", std::strerror(errno))};
  CArgv cargv(argv);
  const char* exe = path->c_str();
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return Error{fmt::format("fork: {}", std::strerror(errno))};
  }
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    closeFrom(3);
    execv(exe, cargv.get());
    _exit(127);
  }
  close(fds[1]);
  CommandOutput out;
  const auto deadline = Clock::now() + timeout;
  bool timed_out = false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;  // the deadline check above ends the loop
    char buf[4096];
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n > 0) {
      out.output.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;  // EOF: the command (and anything it started that held the pipe) is done
  }
  close(fds[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return Error{fmt::format("'{}' did not finish within {} ms", fmt::join(argv, " "), timeout.count())};
  }
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

Result<pid_t> spawnDetached(const std::vector<std::string>& argv, const std::string& log_path) {
  auto path = resolve(argv);
  if (!path) return Error{path.error()};
  int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return Error{fmt::format("{}: {}", log_path, std::strerror(errno))};
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    close(log);
    return Error{fmt::format("pipe: {}", std::strerror(errno))};
  }
  CArgv cargv(argv);
  const char* exe = path->c_str();
  // Fork twice: the middle child exits at once, so the daemon is adopted by
  // init and never lingers as our zombie when it dies (the demo kills nodes).
  pid_t middle = fork();
  if (middle < 0) {
    close(log);
    close(fds[0]);
    close(fds[1]);
    return Error{fmt::format("fork: {}", std::strerror(errno))};
  }
  if (middle == 0) {
    setsid();
    pid_t daemon = fork();
    if (daemon != 0) {
      // Report the daemon's PID (or -1) and leave.
      (void)!write(fds[1], &daemon, sizeof daemon);
      _exit(0);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(log, 1);
    dup2(log, 2);
    closeFrom(3);
    execv(exe, cargv.get());
    _exit(127);
  }
  close(fds[1]);
  close(log);
  pid_t daemon = -1;
  ssize_t n;
  do {
    n = read(fds[0], &daemon, sizeof daemon);
  } while (n < 0 && errno == EINTR);
  close(fds[0]);
  int status = 0;
  while (waitpid(middle, &status, 0) < 0 && errno == EINTR) {
  }
  if (n != sizeof daemon || daemon <= 0) return Error{fmt::format("could not start {}", argv[0])};
  return daemon;
}

}  // namespace pier::lab
