// pier's entry point: parses flags and dispatches subcommands; nothing else.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "src/config/loader.h"
#include "src/lab/commands.h"
#include "src/lab/render.h"
#include "src/proxy/filter_registry.h"
#include "src/server/server.h"

namespace {

int validate(const std::string& path) {
  auto cfg = pier::config::loadFile(path);
  if (!cfg) {
    std::fprintf(stderr, "%s\n", cfg.error().c_str());
    return 1;
  }
  if (auto filters = pier::proxy::checkFilters(cfg.value()); !filters) {
    std::fprintf(stderr, "%s\n", filters.error().c_str());
    return 1;
  }
  std::printf("%s: OK\n", path.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Logs go to stderr; stdout is for access logs and command output.
  auto logger = spdlog::stderr_color_mt("pier");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);

  CLI::App app{"pier: a bare-metal load balancer and edge proxy"};
  app.require_subcommand(1);

  pier::server::RunOptions run_options;
  auto* run = app.add_subcommand("run", "Run the proxy with a configuration file");
  run->add_option("-c,--config", run_options.config_path, "YAML configuration file")->required();
  run->add_option("--log-level", run_options.log_level, "trace, debug, info, warn, error or off");

  std::string validate_path;
  auto* validate_cmd = app.add_subcommand("validate", "Check a configuration file and exit (0 if valid)");
  validate_cmd->add_option("file", validate_path, "YAML configuration file")->required();

  auto* version = app.add_subcommand("version", "Print pier's version");

  // pier lab: a bare-metal network in network namespaces (src/lab/plan.h).
  auto* lab = app.add_subcommand("lab", "Build a virtual-IP failover lab in network namespaces (root)");
  lab->require_subcommand(1);
  pier::lab::LabOptions lab_options;
  lab_options.binary = pier::lab::selfExecutable(argv[0]);
  std::string lab_heartbeat = "100ms";
  bool lab_no_vip = false, lab_rebuild = false;
  auto add_lab_options = [&](CLI::App* cmd) {
    cmd->add_option("--nodes", lab_options.nodes, "Node hosts (2 or 3; 1-9 work)");
    cmd->add_option("--binary", lab_options.binary, "pier binary the lab runs (default: this one)");
    cmd->add_option("--heartbeat", lab_heartbeat, "virtual_ips heartbeat interval");
    cmd->add_option("--dead-after", lab_options.dead_after_missed, "missed heartbeats before a node is dead");
  };
  auto* lab_up = lab->add_subcommand("up", "Build the lab (removing any previous one) and start every pier");
  add_lab_options(lab_up);
  lab_up->add_flag("--no-vip", lab_no_vip,
                   "Nodes without virtual_ips, listening on 0.0.0.0:80 (for keepalived)");
  auto* lab_demo = lab->add_subcommand("demo", "Kill the VIP's owner and more; show what the client sees");
  add_lab_options(lab_demo);
  lab_demo->add_flag("--rebuild", lab_rebuild, "Build a new lab even if one is up");
  auto* lab_down = lab->add_subcommand("down", "Stop the lab's processes and delete its namespaces");
  auto* lab_status = lab->add_subcommand("status", "Show the lab's hosts, processes and the VIP's owner");
  int lab_node = 0;
  auto* lab_start = lab->add_subcommand("start-node", "Start a node's pier again (after a kill)");
  lab_start->add_option("node", lab_node, "Node number")->required();
  pier::lab::ProbeCliOptions probe_options;
  std::string probe_interval = "1ms", probe_timeout = "100ms", probe_duration = "10s";
  auto* lab_probe = lab->add_subcommand("probe", "GET a URL every interval, each on a new connection");
  lab_probe->add_option("url", probe_options.url, "http://IP[:port]/path");
  lab_probe->add_option("--netns", probe_options.netns, "Join this network namespace first");
  lab_probe->add_option("--interval", probe_interval, "Start a request this often");
  lab_probe->add_option("--timeout", probe_timeout, "Give up on a request after this");
  lab_probe->add_option("--duration", probe_duration, "Stop after this (or on SIGTERM)");
  lab_probe->add_flag("--transitions", probe_options.transitions, "Print only changes (human readable)");
  lab_probe->group("");  // a tool for tests and benchmarks: not in --help

  CLI11_PARSE(app, argc, argv);

  if (run->parsed()) {
    return pier::server::run(run_options);
  }
  if (validate_cmd->parsed()) {
    return validate(validate_path);
  }
  if (lab->parsed()) {
    auto hb = pier::lab::parseDuration(lab_heartbeat);
    auto interval = pier::lab::parseDuration(probe_interval);
    auto timeout = pier::lab::parseDuration(probe_timeout);
    auto duration = pier::lab::parseDuration(probe_duration);
    if (!hb || hb->count() % 1000 != 0 || !interval || !timeout || !duration) {
      std::fprintf(stderr, "pier lab: bad duration (write 100ms, 1s; the heartbeat in whole ms)\n");
      return 2;
    }
    lab_options.heartbeat = std::chrono::duration_cast<std::chrono::milliseconds>(*hb);
    lab_options.vip = !lab_no_vip;
    if (lab_up->parsed()) return pier::lab::up(lab_options);
    if (lab_down->parsed()) return pier::lab::down();
    if (lab_status->parsed()) return pier::lab::status();
    if (lab_start->parsed()) return pier::lab::startNode(lab_node);
    if (lab_demo->parsed()) {
      size_t given = lab_demo->count("--nodes") + lab_demo->count("--binary") +
                     lab_demo->count("--heartbeat") + lab_demo->count("--dead-after");
      bool changed = given > 0;
      return pier::lab::demo({lab_options, lab_rebuild || changed});
    }
    probe_options.interval = *interval;
    probe_options.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*timeout);
    probe_options.duration = std::chrono::duration_cast<std::chrono::milliseconds>(*duration);
    return pier::lab::probe(probe_options);
  }
  if (version->parsed()) {
    std::printf("pier %s\n", PIER_VERSION);
    return 0;
  }
  return 2;
}
