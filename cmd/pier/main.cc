// pier's entry point: parses flags and dispatches subcommands; nothing else.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "src/config/loader.h"
#include "src/server/server.h"

namespace {

int validate(const std::string& path) {
  auto cfg = pier::config::loadFile(path);
  if (!cfg) {
    std::fprintf(stderr, "%s\n", cfg.error().c_str());
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

  CLI11_PARSE(app, argc, argv);

  if (run->parsed()) {
    return pier::server::run(run_options);
  }
  if (validate_cmd->parsed()) {
    return validate(validate_path);
  }
  if (version->parsed()) {
    std::printf("pier %s\n", PIER_VERSION);
    return 0;
  }
  return 2;
}
