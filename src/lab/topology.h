#pragma once
// The commands that wire the lab's network (iproute2 and sysctl, each run
// inside one of the lab's namespaces), as data: every step names the
// namespace it acts in, so a unit test can prove that nothing touches the
// host's own network.
#include <string>
#include <vector>

#include "src/lab/plan.h"

namespace pier::lab {

struct Step {
  std::string ns;                 // the lab namespace this step acts in
  std::vector<std::string> argv;  // argv[0] is "ip"
};

// In order: namespaces, the switch, the client, each node with its pod
// bridge and pods. Run after every lab namespace was deleted.
std::vector<Step> setupSteps(const LabOptions& options);

// `ip netns del` for each name that is a lab namespace, pods before nodes.
std::vector<Step> teardownSteps(const std::vector<std::string>& existing_namespaces);

}  // namespace pier::lab
