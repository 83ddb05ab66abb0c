#pragma once
// Acting inside a lab namespace from this process: the namespace is joined
// by one thread (setns affects only the calling thread), so the rest of the
// process keeps the host's network.
#include <functional>
#include <string>
#include <vector>

#include "src/common/result.h"

namespace pier::lab {

// /run/netns/<name>
std::string netnsPath(const std::string& name);

// Network namespaces named in /run/netns (sorted).
std::vector<std::string> listNetns();

// Moves the calling thread into the named namespace for good.
Status enterNetns(const std::string& name);

// Runs fn on a new thread that joined the namespace, and waits for it.
Status runInNetns(const std::string& name, const std::function<void()>& fn);

}  // namespace pier::lab
