// `provhil ports`: every serial port with its USB identity and the inventory board it maps to. Reads sysfs
// only: it never opens a port (opening /dev/ttyS0 on a lab machine would disturb its console).
#include <filesystem>
#include <optional>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include "cli/commands.hpp"
#include "common/exit_codes.hpp"
#include "scenario/loader.hpp"
#include "scenario/project.hpp"
#include "serial/detail/fd_port.hpp"
#include "serial/port.hpp"

namespace provhil::cli {

namespace {

namespace fs = std::filesystem;

struct PortsOptions {
  bool json = false;
  std::string inventory;
  std::string by_id_dir = "/dev/serial/by-id";
  std::string sys_class_tty = "/sys/class/tty";  // hidden: tests point these at a fake tree
  std::string dev_dir = "/dev";
};

struct BoardPort {
  std::string name;
  std::string port;
  std::optional<serial::PortSpec> spec;
  bool matched = false;
};

bool board_maps_to(const serial::PortSpec& spec, const serial::PortInfo& info) {
  if (spec.kind == serial::PortKind::usb)
    return info.vid == spec.usb.vid && info.pid == spec.usb.pid &&
           (spec.usb.serial.empty() || spec.usb.serial == info.serial_number);
  if (spec.kind == serial::PortKind::device) {
    std::error_code ec;
    auto resolved = fs::canonical(spec.path, ec);
    return !ec && (resolved.string() == info.path || fs::canonical(info.path, ec) == resolved);
  }
  return false;
}

std::string json_string(std::string_view text) {
  return boost::json::serialize(boost::json::string(text));
}

std::string vid_pid(const serial::PortInfo& info) {
  return info.vid && info.pid ? fmt::format("{:04x}:{:04x}", *info.vid, *info.pid) : "";
}

int run_ports(const PortsOptions& options) {
  std::vector<BoardPort> boards;
  if (!options.inventory.empty()) {
    auto loaded = scenario::load_inventory(options.inventory);
    if (!loaded.value) {
      for (const auto& diagnostic : loaded.diagnostics)
        fmt::print(stderr, "{}\n", diagnostic.to_string());
      return to_int(ExitCode::usage);
    }
    for (const auto& board : loaded.value->boards) {
      if (board.port.empty()) continue;  // simulated
      BoardPort entry{board.name, board.port, std::nullopt, false};
      try {
        entry.spec = serial::parse_port_spec(board.port);
      } catch (const std::invalid_argument& error) {
        fmt::print(stderr, "provhil ports: board {}: {}\n", board.name, error.what());
      }
      boards.push_back(std::move(entry));
    }
  }

  std::vector<serial::PortInfo> ports;
  try {
    ports = serial::detail::list_ports_in(options.sys_class_tty, options.dev_dir, options.by_id_dir);
  } catch (const std::exception& error) {
    fmt::print(stderr, "provhil ports: cannot enumerate serial ports: {}\n", error.what());
    return to_int(ExitCode::infrastructure);
  }
  std::vector<std::string> board_of(ports.size());
  for (std::size_t i = 0; i < ports.size(); ++i)
    for (auto& board : boards)
      if (board.spec && board_maps_to(*board.spec, ports[i])) {
        board_of[i] += (board_of[i].empty() ? "" : ",") + board.name;
        board.matched = true;
      }

  if (options.json) {
    std::string out = "{\n  \"ports\": [";
    for (std::size_t i = 0; i < ports.size(); ++i) {
      const auto& p = ports[i];
      out += fmt::format(
          "{}\n    {{\"path\": {}, \"by_id\": {}, \"transport\": {}, \"vid_pid\": {}, \"usb_serial\": {}, "
          "\"manufacturer\": {}, \"product\": {}, \"description\": {}, \"usb_bus\": {}, \"usb_address\": {}, "
          "\"board\": {}}}",
          i == 0 ? "" : ",", json_string(p.path), json_string(p.by_id), json_string(p.transport),
          json_string(vid_pid(p)), json_string(p.serial_number), json_string(p.manufacturer),
          json_string(p.product), json_string(p.description), p.usb_bus, p.usb_address,
          json_string(board_of[i]));
    }
    out += ports.empty() ? "],\n" : "\n  ],\n";
    out += "  \"boards_not_attached\": [";
    bool first = true;
    for (const auto& board : boards) {
      if (board.matched || !board.spec ||
          (board.spec->kind != serial::PortKind::usb && board.spec->kind != serial::PortKind::device))
        continue;
      out += fmt::format("{}{{\"board\": {}, \"port\": {}}}", first ? "" : ", ", json_string(board.name),
                         json_string(board.port));
      first = false;
    }
    out += "]\n}\n";
    fmt::print("{}", out);
    return to_int(ExitCode::passed);
  }

  if (ports.empty()) {
    fmt::print("No serial ports found.\n");
  } else {
    fmt::print("{:<16} {:<10} {:<18} {:<22} {:<28} {:<12} {}\n", "PATH", "VID:PID", "USB SERIAL",
               "MANUFACTURER", "PRODUCT", "BOARD", "BY-ID");
    for (std::size_t i = 0; i < ports.size(); ++i) {
      const auto& p = ports[i];
      fmt::print("{:<16} {:<10} {:<18} {:<22} {:<28} {:<12} {}\n", p.path,
                 vid_pid(p).empty() ? "-" : vid_pid(p), p.serial_number.empty() ? "-" : p.serial_number,
                 p.manufacturer.empty() ? "-" : p.manufacturer, p.product.empty() ? p.description : p.product,
                 board_of[i].empty() ? "-" : board_of[i], p.by_id.empty() ? "-" : p.by_id);
    }
  }
  for (const auto& board : boards)
    if (!board.matched && board.spec &&
        (board.spec->kind == serial::PortKind::usb || board.spec->kind == serial::PortKind::device))
      fmt::print("board {} ({}): not attached\n", board.name, board.port);
  return to_int(ExitCode::passed);
}

}  // namespace

void add_ports_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<PortsOptions>();
  auto* command = app.add_subcommand(
      "ports", "List serial ports with their USB identity and the inventory board each maps to (opens none)");
  command->add_flag("--json", options->json, "Print JSON instead of a table");
  command->footer(
      "Examples:\n"
      "  provhil ports                                # table: path, by-id, VID:PID, serial, board\n"
      "  provhil ports --inventory lab/bench-3.yaml --json");
  command->add_option(
      "--inventory,--lab", options->inventory,
      "Lab inventory whose boards are mapped to ports (default: the project's, when in a project)");
  command->add_option("--by-id-dir", options->by_id_dir, "Folder of by-id links")->capture_default_str();
  command->add_option("--sys-class-tty", options->sys_class_tty)->group("");
  command->add_option("--dev-dir", options->dev_dir)->group("");
  command->callback([options, &exit_code] {
    // The project's inventory when there is a project; ports are listed without one too.
    if (options->inventory.empty()) {
      std::error_code ec;
      if (auto root = scenario::find_project_root(fs::current_path(ec))) {
        auto project = scenario::load_project(*root);
        if (project.ok() && fs::exists(project.value->inventory, ec))
          options->inventory = project.value->inventory.lexically_proximate(fs::current_path(ec)).string();
      }
    }
    exit_code = run_ports(*options);
  });
}

}  // namespace provhil::cli
