// `provhil ca init|show`: the lab CA that boards under test are built to trust.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <filesystem>

#include "cli/commands.hpp"
#include "common/exit_codes.hpp"
#include "intercept/lab_ca.hpp"

namespace provhil::cli {

namespace {

void print_info(const intercept::LabCaInfo& info) {
  fmt::print("folder:       {}\n", info.dir.string());
  fmt::print("certificate:  {} (PEM)\n", info.cert_pem.string());
  fmt::print("              {} (DER, for firmware builds)\n", info.cert_der.string());
  fmt::print("private key:  {} (mode 0600)\n", info.key_pem.string());
  fmt::print("subject:      {}\n", info.subject);
  fmt::print("valid:        {} to {}\n", info.not_before, info.not_after);
  fmt::print("SHA-256:      {}\n", info.sha256_fingerprint);
}

}  // namespace

void add_ca_command(CLI::App& app, int& exit_code) {
  auto* command =
      app.add_subcommand("ca", "Create or show the lab certificate authority used to terminate board TLS");
  command->require_subcommand(1);
  command->footer(
      "Examples:\n"
      "  provhil ca init            # once per lab: boards must trust this CA\n"
      "  provhil ca show            # where it is and its fingerprint");
  auto dir = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);

  auto* init = command->add_subcommand("init", "Create the lab CA (EC P-256, 10 years, back-dated 2 days)");
  init->add_option("--ca-dir,--dir", *dir,
                   "CA folder (default: $PROVHIL_CA_DIR, else $XDG_STATE_HOME/provhil/ca or "
                   "~/.local/state/provhil/ca)");
  init->add_flag("--force", *force, "Replace an existing CA (boards built for the old one stop trusting us)");
  init->callback([&exit_code, dir, force] {
    try {
      std::filesystem::path folder = dir->empty() ? intercept::default_ca_dir() : std::filesystem::path(*dir);
      std::error_code ec;
      if (!*force && std::filesystem::exists(folder / "ca.key", ec)) {
        fmt::print(stderr, "provhil ca init: {}: a lab CA already exists here (use --force to replace it)\n",
                   folder.string());
        exit_code = to_int(ExitCode::usage);
        return;
      }
      auto info = intercept::init_lab_ca(folder, *force);
      fmt::print("created a lab CA\n");
      print_info(info);
      exit_code = to_int(ExitCode::passed);
    } catch (const intercept::LabCaError& e) {
      fmt::print(stderr, "provhil ca init: {}\n  ({})\n", e.what(), intercept::ca_dir_options());
      exit_code = to_int(ExitCode::infrastructure);
    }
  });

  auto* show = command->add_subcommand("show", "Print where the lab CA is and its fingerprint");
  show->add_option("--ca-dir,--dir", *dir,
                   "CA folder (default: $PROVHIL_CA_DIR, else $XDG_STATE_HOME/provhil/ca or "
                   "~/.local/state/provhil/ca)");
  show->callback([&exit_code, dir] {
    try {
      std::filesystem::path folder = dir->empty() ? intercept::default_ca_dir() : std::filesystem::path(*dir);
      print_info(intercept::load_lab_ca(folder));
      exit_code = to_int(ExitCode::passed);
    } catch (const intercept::LabCaError& e) {
      fmt::print(stderr, "provhil ca show: {}\n", e.what());
      exit_code = to_int(ExitCode::usage);
    }
  });
}

}  // namespace provhil::cli
