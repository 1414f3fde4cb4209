// `provhil sim`: one simulated Edgent board on this process's stdin/stdout (docs/sim.md).
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "common/exit_codes.hpp"
#include "sim/simulator.hpp"

namespace provhil::cli {

void add_sim_command(CLI::App& app, int& exit_code) {
  auto* command = app.add_subcommand("sim", "Run one simulated Edgent board on this terminal (stdin/stdout)");
  struct Args {
    std::string profile;
    std::string state;
    std::string ca;
    double time_scale = 1;
    std::vector<std::string> resolve;
    std::string ap_endpoint_file;
    std::string source_address;
  };
  auto args = std::make_shared<Args>();
  command->add_option("--profile", args->profile, "Board profile (YAML), e.g. fixtures/sim/esp32.yaml")
      ->required();
  command->add_option("--state", args->state, "State file: the board's flash (config survives reboots)");
  command->add_option("--ca", args->ca, "Lab CA certificate (PEM) the board trusts; overrides the profile's");
  auto* time_scale =
      command->add_option("--time-scale", args->time_scale,
                          "Multiplies artificial delays; 0 = none (fast tests); default: the profile's");
  time_scale->check(CLI::NonNegativeNumber);
  command->add_option("--resolve", args->resolve, "NAME:PORT=ADDR:PORT, like curl's (repeatable)");
  command->add_option("--ap-endpoint-file", args->ap_endpoint_file,
                      "Written with 127.0.0.1:PORT of the setup AP's HTTP server while it is up");
  command
      ->add_option("--source-address", args->source_address,
                   "Local address its cloud connections come from (a board's own IP), e.g. 127.77.0.3")
      ->check(CLI::ValidIPV4);
  command->footer(
      "Reset (EN pin): send SIGUSR1. The board keeps its state file across resets.\n"
      "Examples:\n"
      "  provhil sim --profile fixtures/sim/esp32.yaml     # type console commands, e.g. devinfo\n"
      "  provhil sim --profile fixtures/sim/esp32.yaml --state /tmp/flash.json --time-scale 0");
  command->callback([&exit_code, args, time_scale] {
    sim::SimOptions options;
    options.profile = args->profile;
    options.state_file = args->state;
    if (!args->ca.empty()) options.ca_file = args->ca;
    if (time_scale->count() > 0) options.time_scale = args->time_scale;
    options.ap_endpoint_file = args->ap_endpoint_file;
    options.source_address = args->source_address;
    for (const auto& text : args->resolve) {
      std::string error;
      auto entry = sim::parse_resolve(text, error);
      if (!entry) {
        fmt::print(stderr, "provhil sim: {}\n", error);
        exit_code = to_int(ExitCode::usage);
        return;
      }
      options.resolve.push_back(*entry);
    }
    exit_code = sim::run_simulator(options);
  });
}

}  // namespace provhil::cli
