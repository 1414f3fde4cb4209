// A test-only stand-in for `provhil sim`: the same entry function, without the whole CLI to build.
#include <cstdio>
#include <string>

#include "sim/simulator.hpp"

int main(int argc, char** argv) {
  provhil::sim::SimOptions options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--profile") {
      options.profile = value;
    } else if (flag == "--state") {
      options.state_file = value;
    } else if (flag == "--ca") {
      options.ca_file = value;
    } else if (flag == "--time-scale") {
      options.time_scale = std::stod(value);
    } else if (flag == "--ap-endpoint-file") {
      options.ap_endpoint_file = value;
    } else if (flag == "--source-address") {
      options.source_address = value;
    } else if (flag == "--resolve") {
      std::string error;
      auto entry = provhil::sim::parse_resolve(value, error);
      if (!entry) {
        std::fprintf(stderr, "%s\n", error.c_str());
        return 2;
      }
      options.resolve.push_back(*entry);
    } else {
      std::fprintf(stderr, "sim_child: unknown option %s\n", flag.c_str());
      return 2;
    }
  }
  return provhil::sim::run_simulator(options);
}
