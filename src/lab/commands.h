#pragma once
// `pier lab ...`: each subcommand as a function returning the exit status.
// They print what they do to stdout and problems to stderr.
#include <chrono>
#include <string>

#include "src/lab/plan.h"

namespace pier::lab {

// This process's binary (/proc/self/exe), the lab's default pier; argv0 if unreadable.
std::string selfExecutable(const char* argv0);

int up(const LabOptions& options);
int down();
int status();
int startNode(int node);

struct DemoOptions {
  LabOptions lab;
  bool rebuild = false;  // build a new lab even if one is up
};
int demo(const DemoOptions& options);

struct ProbeCliOptions {
  std::string url = "http://10.77.0.100/";
  std::string netns;  // join this namespace first (e.g. pier-lab-client)
  std::chrono::microseconds interval{1000};
  std::chrono::milliseconds timeout{100};
  std::chrono::milliseconds duration{10'000};
  bool transitions = false;  // human-readable changes only, instead of one line per request
};
int probe(const ProbeCliOptions& options);

}  // namespace pier::lab
