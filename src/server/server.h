#pragma once
// The control thread: loads the config, opens listening sockets, starts the
// workers and the admin listener, and handles signals (SIGHUP reloads,
// SIGTERM/SIGINT drain and exit).
#include <string>

namespace pier::server {

struct RunOptions {
  std::string config_path;
  std::string log_level;  // overrides the config's when non-empty
};

// Blocks until pier has drained and stopped. Returns the process exit code.
int run(const RunOptions& options);

}  // namespace pier::server
