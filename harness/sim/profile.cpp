#include "sim/profile.hpp"

#include <yaml-cpp/yaml.h>

#include <fmt/format.h>
#include <cmath>

#include <map>
#include <regex>
#include <set>
#include "common/files.hpp"
#include "common/text.hpp"

namespace provhil::sim {

namespace {

class Reader {
 public:
  explicit Reader(std::filesystem::path path) : path_(std::move(path)) {}

  // The message echoes values from the file: sanitised (a NUL or an escape sequence is shown as
  // \xHH, never written raw to the terminal).
  [[noreturn]] void fail(const YAML::Node& node, std::string_view what) const {
    const auto mark = node.Mark();
    if (mark.is_null()) throw ProfileError(fmt::format("{}: {}", path_.string(), sanitize_text(what)));
    throw ProfileError(
        fmt::format("{}:{}:{}: {}", path_.string(), mark.line + 1, mark.column + 1, sanitize_text(what)));
  }

  // Checks that `node` is a map whose keys are all in `known`: typos fail loudly, not silently.
  void expect_map(const YAML::Node& node, std::string_view where, const std::set<std::string>& known) const {
    if (!node.IsMap()) fail(node, fmt::format("'{}' must be a mapping", where));
    for (const auto& item : node) {
      const auto key = item.first.as<std::string>();
      if (!known.contains(key)) {
        std::string list;
        for (const auto& k : known)
          list += (list.empty() ? "" : ", ") + k;
        fail(item.first, fmt::format("unknown key '{}' in {} (known: {})", key, where, list));
      }
    }
  }

  std::string text(const YAML::Node& node, std::string_view key) const {
    if (!node.IsScalar()) fail(node, fmt::format("'{}' must be a text value", key));
    return node.Scalar();
  }

  // A value short enough to parse as a number or duration (std::regex recurses per character).
  std::string short_text(const YAML::Node& node, std::string_view key, std::string_view expected) const {
    auto s = text(node, key);
    if (s.size() > 64)
      fail(node, fmt::format("'{}' must be {}, found a text of {} bytes", key, expected, s.size()));
    return s;
  }

  bool flag(const YAML::Node& node, std::string_view key) const {
    bool value = false;
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value))
      fail(node,
           fmt::format("'{}' must be true or false, not '{}'", key, node.IsScalar() ? node.Scalar() : ""));
    return value;
  }

  long integer(const YAML::Node& node, std::string_view key, long min, long max) const {
    const auto s = short_text(node, key, "a whole number");
    std::size_t used = 0;
    long value = 0;
    try {
      value = std::stol(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != s.size() || s.empty())
      fail(node, fmt::format("'{}' must be a whole number, not '{}'", key, s));
    if (value < min || value > max)
      fail(node, fmt::format("'{}' must be between {} and {}, not {}", key, min, max, value));
    return value;
  }

  double number(const YAML::Node& node, std::string_view key) const {
    const auto s = short_text(node, key, "a number");
    std::size_t used = 0;
    double value = 0;
    try {
      value = std::stod(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != s.size() || s.empty() || !std::isfinite(value) || value < 0)
      fail(node, fmt::format("'{}' must be a number >= 0, not '{}'", key, s));
    return value;
  }

  // "1500ms", "2s", "1.5s", "1m"; a bare number means milliseconds.
  std::chrono::milliseconds duration(const YAML::Node& node, std::string_view key) const {
    static const std::regex pattern(R"(^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m)?\s*$)");
    const auto s = short_text(node, key, "a duration");
    std::smatch m;
    if (!std::regex_match(s, m, pattern))
      fail(node, fmt::format("'{}' must be a duration like 500ms, 2s or 1m, not '{}'", key, s));
    double value = std::stod(m[1].str());
    const auto unit = m[2].str();
    if (unit == "s") value *= 1000;
    if (unit == "m") value *= 60000;
    return std::chrono::milliseconds(static_cast<long long>(std::llround(value)));
  }

  std::string mac(const YAML::Node& node, std::string_view key) const {
    static const std::regex pattern(R"(^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$)");
    auto s = short_text(node, key, "a MAC");
    if (!std::regex_match(s, pattern))
      fail(node, fmt::format("'{}' must be a MAC like 24:0A:C4:00:00:01", key));
    return s;
  }

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

const std::set<std::string> kSecurity = {"OPEN",     "WEP",  "WPA",       "WPA2", "WPA+WPA2",
                                         "WPA2-EAP", "WPA3", "WPA2+WPA3", "WAPI", "unknown"};

void read_board(const Reader& r, const YAML::Node& node, Profile& p) {
  r.expect_map(node, "board", {"type", "mac", "cpu_mhz", "chip_rev", "sdk", "flash_kb", "free_mem"});
  if (node["type"]) p.board_type = r.text(node["type"], "board.type");
  if (node["mac"]) p.mac = r.mac(node["mac"], "board.mac");
  if (node["cpu_mhz"]) p.cpu_mhz = static_cast<int>(r.integer(node["cpu_mhz"], "board.cpu_mhz", 1, 1000));
  if (node["chip_rev"]) p.chip_rev = static_cast<int>(r.integer(node["chip_rev"], "board.chip_rev", 0, 255));
  if (node["sdk"]) p.sdk = r.text(node["sdk"], "board.sdk");
  if (node["flash_kb"])
    p.flash_kb = static_cast<int>(r.integer(node["flash_kb"], "board.flash_kb", 1, 1 << 20));
  if (node["free_mem"])
    p.free_mem = static_cast<int>(r.integer(node["free_mem"], "board.free_mem", 0, 1 << 30));
}

void read_firmware(const Reader& r, const YAML::Node& node, Profile& p) {
  r.expect_map(node, "firmware",
               {"template_id", "template_name", "type", "version", "build", "mcu_type", "library_version",
                "hardware_version"});
  if (node["template_id"]) {
    p.template_id = r.text(node["template_id"], "firmware.template_id");
    // The firmware only checks the prefix.
    if (!p.template_id.starts_with("TMPL"))
      r.fail(node["template_id"], "'firmware.template_id' must start with TMPL");
  }
  if (node["template_name"]) p.template_name = r.text(node["template_name"], "firmware.template_name");
  if (node["type"]) p.firmware_type = r.text(node["type"], "firmware.type");
  if (node["version"]) p.firmware_version = r.text(node["version"], "firmware.version");
  if (node["build"]) p.build = r.text(node["build"], "firmware.build");
  if (node["mcu_type"]) {
    p.mcu_type = r.text(node["mcu_type"], "firmware.mcu_type");
    if (p.mcu_type != "MCU" && p.mcu_type != "NCP")
      r.fail(node["mcu_type"], "'firmware.mcu_type' must be MCU or NCP");
  }
  if (node["library_version"])
    p.library_version = r.text(node["library_version"], "firmware.library_version");
  if (node["hardware_version"])
    p.hardware_version = r.text(node["hardware_version"], "firmware.hardware_version");
}

void read_cloud(const Reader& r, const YAML::Node& node, Profile& p) {
  r.expect_map(node, "cloud",
               {"provision_call", "ca_file", "heartbeat", "provision_retries", "provision_backoff",
                "cloud_retries", "network_timeout"});
  if (node["provision_call"]) p.provision_call = r.flag(node["provision_call"], "cloud.provision_call");
  if (node["ca_file"]) {
    std::filesystem::path ca = r.text(node["ca_file"], "cloud.ca_file");
    p.ca_file = ca.is_absolute() ? ca : r.path().parent_path() / ca;
  }
  if (node["heartbeat"]) {
    p.heartbeat = r.duration(node["heartbeat"], "cloud.heartbeat");
    if (p.heartbeat.count() < 100) r.fail(node["heartbeat"], "'cloud.heartbeat' must be at least 100ms");
  }
  if (node["provision_retries"])
    p.provision_retries =
        static_cast<int>(r.integer(node["provision_retries"], "cloud.provision_retries", 1, 100));
  if (node["provision_backoff"])
    p.provision_backoff = r.duration(node["provision_backoff"], "cloud.provision_backoff");
  if (node["cloud_retries"])
    p.cloud_retries = static_cast<int>(r.integer(node["cloud_retries"], "cloud.cloud_retries", 1, 100));
  if (node["network_timeout"]) {
    p.network_timeout = r.duration(node["network_timeout"], "cloud.network_timeout");
    if (p.network_timeout.count() < 100)
      r.fail(node["network_timeout"], "'cloud.network_timeout' must be at least 100ms");
  }
}

void read_wifi(const Reader& r, const YAML::Node& node, Profile& p) {
  r.expect_map(node, "wifi", {"ip", "connect_time", "fail_time", "retries", "networks"});
  if (node["ip"]) p.ip = r.text(node["ip"], "wifi.ip");
  if (node["connect_time"]) p.wifi_connect_time = r.duration(node["connect_time"], "wifi.connect_time");
  if (node["fail_time"]) p.wifi_fail_time = r.duration(node["fail_time"], "wifi.fail_time");
  if (node["retries"]) p.wifi_retries = static_cast<int>(r.integer(node["retries"], "wifi.retries", 1, 100));
  if (!node["networks"]) return;
  const auto& list = node["networks"];
  if (!list.IsSequence()) r.fail(list, "'wifi.networks' must be a list");
  int index = 0;
  for (const auto& item : list) {
    const auto where = fmt::format("wifi.networks[{}]", index++);
    r.expect_map(item, where, {"ssid", "pass", "bssid", "rssi", "sec", "ch"});
    SimNetwork net;
    if (!item["ssid"]) r.fail(item, fmt::format("'{}' needs an ssid", where));
    net.ssid = r.text(item["ssid"], where + ".ssid");
    if (net.ssid.empty() || net.ssid.size() > 32)
      r.fail(item["ssid"], fmt::format("'{}.ssid' must be 1 to 32 bytes", where));
    if (item["pass"]) net.password = r.text(item["pass"], where + ".pass");
    net.bssid = item["bssid"] ? r.mac(item["bssid"], where + ".bssid")
                              : fmt::format("02:00:00:00:{:02x}:{:02x}", (index >> 8) & 0xff, index & 0xff);
    if (item["rssi"]) net.rssi = static_cast<int>(r.integer(item["rssi"], where + ".rssi", -120, 0));
    if (item["sec"]) {
      net.security = r.text(item["sec"], where + ".sec");
      if (!kSecurity.contains(net.security))
        r.fail(item["sec"],
               fmt::format("'{}.sec' must be one of OPEN, WEP, WPA, WPA2, WPA+WPA2, WPA2-EAP, WPA3, "
                           "WPA2+WPA3, WAPI, unknown",
                           where));
    } else if (net.password.empty()) {
      net.security = "OPEN";
    }
    if (item["ch"]) net.channel = static_cast<int>(r.integer(item["ch"], where + ".ch", 1, 196));
    p.networks.push_back(std::move(net));
  }
}

void read_faults(const Reader& r, const YAML::Node& node, Profile& p) {
  r.expect_map(node, "faults",
               {"boot_noise", "reboot_loop", "hang_connecting_cloud", "garbage_every", "garbage_bytes",
                "wrong_template_id", "no_redirects", "serial_vanish_after", "crash_in_state", "crash_after",
                "button_hold_after", "ota_after", "ota_url", "ota_status"});
  auto& f = p.faults;
  if (node["boot_noise"]) f.boot_noise = r.flag(node["boot_noise"], "faults.boot_noise");
  if (node["reboot_loop"]) f.reboot_loop = r.flag(node["reboot_loop"], "faults.reboot_loop");
  if (node["hang_connecting_cloud"])
    f.hang_connecting_cloud = r.flag(node["hang_connecting_cloud"], "faults.hang_connecting_cloud");
  if (node["garbage_every"]) f.garbage_every = r.duration(node["garbage_every"], "faults.garbage_every");
  if (node["garbage_bytes"])
    f.garbage_bytes =
        static_cast<std::size_t>(r.integer(node["garbage_bytes"], "faults.garbage_bytes", 1, 4096));
  if (node["wrong_template_id"])
    f.wrong_template_id = r.text(node["wrong_template_id"], "faults.wrong_template_id");
  if (node["no_redirects"]) f.no_redirects = r.flag(node["no_redirects"], "faults.no_redirects");
  if (node["serial_vanish_after"])
    f.serial_vanish_after = r.duration(node["serial_vanish_after"], "faults.serial_vanish_after");
  if (node["crash_in_state"]) {
    static const std::set<std::string> states = {"WAIT_CONFIG",      "CONFIGURING", "CONNECTING_NET",
                                                 "CONNECTING_CLOUD", "RUNNING",     "SWITCH_TO_STA"};
    f.crash_in_state = r.text(node["crash_in_state"], "faults.crash_in_state");
    if (!states.contains(f.crash_in_state))
      r.fail(node["crash_in_state"],
             "'faults.crash_in_state' must be one of WAIT_CONFIG, CONFIGURING, "
             "CONNECTING_NET, CONNECTING_CLOUD, RUNNING, SWITCH_TO_STA");
  }
  if (node["crash_after"]) f.crash_after = r.duration(node["crash_after"], "faults.crash_after");
  if (node["button_hold_after"])
    f.button_hold_after = r.duration(node["button_hold_after"], "faults.button_hold_after");
  if (node["ota_after"]) f.ota_after = r.duration(node["ota_after"], "faults.ota_after");
  if (node["ota_url"]) f.ota_url = r.text(node["ota_url"], "faults.ota_url");
  if (node["ota_status"])
    f.ota_status = static_cast<int>(r.integer(node["ota_status"], "faults.ota_status", 100, 599));
}

}  // namespace

std::optional<Dialect> parse_dialect(std::string_view name) {
  if (name == "edgent-1.2") return Dialect::edgent_1_2;
  if (name == "edgent-1.1") return Dialect::edgent_1_1;
  if (name == "edgent-esp-idf") return Dialect::edgent_esp_idf;
  return std::nullopt;
}

std::string_view dialect_name(Dialect dialect) {
  switch (dialect) {
    case Dialect::edgent_1_1:
      return "edgent-1.1";
    case Dialect::edgent_1_2:
      return "edgent-1.2";
    case Dialect::edgent_esp_idf:
      return "edgent-esp-idf";
  }
  return "edgent-1.2";
}

Profile load_profile(const std::filesystem::path& path) {
  std::string why;
  auto text = read_file_capped(path, max_input_file_bytes, &why);
  if (!text) throw ProfileError(fmt::format("{}: cannot read the profile file: {}", path.string(), why));
  return parse_profile(*text, path);
}

Profile parse_profile(std::string_view yaml_text, const std::filesystem::path& path) {
  Reader r(path);
  const std::optional<std::string> text{std::string(yaml_text)};
  if (auto bad = first_invalid_utf8(*text))
    throw ProfileError(
        fmt::format("{}:{}:{}: the file is not valid UTF-8", path.string(), bad->first, bad->second));
  YAML::Node root;
  try {
    root = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    throw ProfileError(
        fmt::format("{}:{}:{}: invalid YAML: {}", path.string(), e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  if (!root.IsMap()) throw ProfileError(fmt::format("{}: a profile must be a YAML mapping", path.string()));

  Profile p;
  p.source = path;
  try {
    r.expect_map(root, "the profile",
                 {"dialect", "board", "firmware", "cloud", "wifi", "time_scale", "faults"});
    if (root["dialect"]) {
      const auto name = r.text(root["dialect"], "dialect");
      const auto dialect = parse_dialect(name);
      if (!dialect)
        r.fail(root["dialect"],
               fmt::format("unknown dialect '{}' (known: edgent-1.1, edgent-1.2, edgent-esp-idf)", name));
      p.dialect = *dialect;
    }
    if (root["board"]) read_board(r, root["board"], p);
    if (root["firmware"]) read_firmware(r, root["firmware"], p);
    if (root["cloud"]) read_cloud(r, root["cloud"], p);
    if (root["wifi"]) read_wifi(r, root["wifi"], p);
    if (root["time_scale"]) p.time_scale = r.number(root["time_scale"], "time_scale");
    if (root["faults"]) read_faults(r, root["faults"], p);
  } catch (const YAML::Exception& e) {
    throw ProfileError(fmt::format("{}:{}:{}: {}", path.string(), e.mark.line + 1, e.mark.column + 1, e.msg));
  } catch (const ProfileError&) {
    throw;
  } catch (const std::exception& e) {
    throw ProfileError(fmt::format("{}: {}", path.string(), e.what()));
  }
  return p;
}

}  // namespace provhil::sim
