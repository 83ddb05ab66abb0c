#pragma once
// A built lab: its namespaces, files and processes. Builds and removes the
// lab, starts, stops and checks its pier processes, and looks at it from the
// client (HTTP through the VIP, the neighbour table).
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "src/common/result.h"
#include "src/lab/http_client.h"
#include "src/lab/neigh.h"
#include "src/lab/plan.h"

namespace pier::lab {

using Millis = std::chrono::milliseconds;

// Removes every lab process (by PID file, command line checked) and every
// pier-lab-* namespace, then the run directory. Safe to repeat, and after a
// crash. `log` gets one line per thing removed.
Status tearDown(bool verbose);

class Lab {
 public:
  explicit Lab(LabOptions options) : options_(std::move(options)) {}
  // The lab described by the state file of a running lab.
  static Result<Lab> load();

  const LabOptions& options() const { return options_; }

  // From nothing (call tearDown first): namespaces, links, addresses, key,
  // configs and state file. Does not start processes.
  Status build();

  // Starts the process unless it is already running; records its PID.
  Result<pid_t> start(const LabProcess& process);
  // Starts everything and waits until each answers /ready (pods first).
  Status startAll(Millis timeout);
  Status waitReady(const LabProcess& process, Millis timeout);
  // Its PID while it runs (checked against its command line).
  std::optional<pid_t> pidOf(const std::string& name) const;
  // Sends `sig`; with a grace > 0 waits that long for it to exit, then SIGKILL.
  Status signal(const std::string& name, int sig, Millis grace);

  // Looking from the client namespace.
  Result<HttpReply> clientGet(const std::string& url, Millis timeout) const;
  std::optional<NeighEntry> clientNeigh(std::string_view ip) const;
  // The node the client's neighbour entry for `ip` points at.
  std::optional<int> ownerByNeigh(std::string_view ip) const;
  // Waits until a GET of the VIP from the client succeeds; the pod's label.
  Result<std::string> waitVipServes(std::string_view url, Millis timeout) const;

  LabProcess node(int n) const;
  std::string logTail(const std::string& name, size_t lines) const;

 private:
  LabOptions options_;
};

}  // namespace pier::lab
