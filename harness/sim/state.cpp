#include "sim/detail/state.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml-cpp/yaml.h>

#include "common/files.hpp"

#include <fmt/format.h>
#include <fstream>
#include <stdexcept>
#include <system_error>

namespace provhil::sim {

BoardConfig StateStore::load() const {
  if (path_.empty()) return memory_.value_or(BoardConfig{});
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec)) return BoardConfig{};
  try {
    std::string why;
    auto text = read_file_capped(path_, max_input_file_bytes, &why);
    if (!text) throw std::runtime_error(why);
    const auto root = YAML::Load(*text);
    BoardConfig config;
    if (root.IsNull()) return config;
    if (!root.IsMap()) throw std::runtime_error("not a YAML mapping");
    if (root["valid"]) config.valid = root["valid"].as<bool>();
    if (root["ssid"]) config.ssid = root["ssid"].as<std::string>();
    if (root["pass"]) config.pass = root["pass"].as<std::string>();
    if (root["token"]) config.token = root["token"].as<std::string>();
    if (root["host"]) config.host = root["host"].as<std::string>();
    if (root["port"]) config.port = root["port"].as<int>();
    if (root["last_error"]) config.last_error = root["last_error"].as<int>();
    return config;
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(fmt::format("{}:{}:{}: invalid state file: {}", path_.string(), e.mark.line + 1,
                                         e.mark.column + 1, e.msg));
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(fmt::format("{}: invalid state file: {}", path_.string(), e.what()));
  }
}

void StateStore::save(const BoardConfig& config) {
  if (path_.empty()) {
    memory_ = config;
    return;
  }
  YAML::Emitter out;
  out << YAML::Comment("provhil sim: the simulated board's flash (config store)");
  out << YAML::BeginMap;
  out << YAML::Key << "valid" << YAML::Value << config.valid;
  out << YAML::Key << "ssid" << YAML::Value << YAML::DoubleQuoted << config.ssid;
  out << YAML::Key << "pass" << YAML::Value << YAML::DoubleQuoted << config.pass;
  out << YAML::Key << "token" << YAML::Value << YAML::DoubleQuoted << config.token;
  out << YAML::Key << "host" << YAML::Value << YAML::DoubleQuoted << config.host;
  out << YAML::Key << "port" << YAML::Value << config.port;
  out << YAML::Key << "last_error" << YAML::Value << config.last_error;
  out << YAML::EndMap;
  // Write then rename, so a crash or a reset mid-write never leaves half a file (flash is atomic per page).
  auto temp = path_;
  temp += ".tmp";
  {
    // The state holds the WiFi password and the token: readable by its owner only.
    std::string text = std::string(out.c_str()) + "\n";
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && ::fchmod(fd, 0600) == 0 &&
              ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    if (fd >= 0) ok = ::close(fd) == 0 && ok;
    if (!ok) throw std::runtime_error(fmt::format("{}: cannot write the state file", temp.string()));
  }
  std::filesystem::rename(temp, path_);
}

void StateStore::erase() {
  save(BoardConfig{});
}

}  // namespace provhil::sim
