#pragma once
// Runs the lab's helper commands (ip, sysctl) with a time bound, and starts
// its long-running processes detached from the caller.
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "src/common/result.h"

namespace pier::lab {

struct CommandOutput {
  int exit_code = -1;  // -1: killed by a signal (or by the timeout)
  std::string output;  // stdout and stderr, interleaved
};

// Full path of an executable found in PATH (plus /usr/sbin and /sbin, where
// iproute2 lives but a non-login root PATH may not look); empty if none.
std::string findExecutable(const std::string& name);

// Runs argv (argv[0] looked up with findExecutable) and waits at most
// `timeout`; a command still running then is killed. Error only when it could
// not be started or timed out; a non-zero exit is in exit_code.
Result<CommandOutput> runCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

// Starts argv in a new session, detached (its parent is init, not us), with
// stdin from /dev/null and stdout and stderr appended to `log_path`. Returns
// its PID: with `ip netns exec NS prog ...` that is prog's, since ip execs it.
Result<pid_t> spawnDetached(const std::vector<std::string>& argv, const std::string& log_path);

}  // namespace pier::lab
