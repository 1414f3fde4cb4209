#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace provhil::sim {

// Which firmware generation's serial output the simulated board prints (see docs/sim.md).
// edgent_esp_idf: the ESP-IDF component's `I (ms) edgent.c: State: A => B` lines only.
enum class Dialect { edgent_1_1, edgent_1_2, edgent_esp_idf };

// One network the simulated WiFi radio "sees".
struct SimNetwork {
  std::string ssid;
  std::string password;  // empty: open network
  std::string bssid;     // "aa:bb:cc:dd:ee:ff"
  int rssi = -60;        // dBm
  std::string security = "WPA2";
  int channel = 6;
};

// Fault switches: each models a misbehaving board the harness must survive and diagnose.
struct SimFaults {
  bool boot_noise = true;                      // non-UTF-8 boot ROM bytes before the banner
  bool reboot_loop = false;                    // resets right after the device block, forever
  bool hang_connecting_cloud = false;          // enters CONNECTING_CLOUD and never tries to connect
  std::chrono::milliseconds garbage_every{0};  // a burst of random bytes this often (0: never)
  std::size_t garbage_bytes = 24;
  std::string wrong_template_id;  // sent as templateId in the provision call instead of the real one
  bool no_redirects = false;      // treats 301/302/307/308 as a failure instead of following it
  std::chrono::milliseconds serial_vanish_after{0};  // the serial side goes away (process exits) after this
  std::string crash_in_state;                        // Guru Meditation crash on entering this state
  std::chrono::milliseconds crash_after{0};          // ... this long after entering it
  // The user holds the board's button this long after each boot (0: never): `Hold the button ...`,
  // `Resetting configuration!`, the flash erased, `RESET_CONFIG => WAIT_CONFIG` (real-logs/03).
  std::chrono::milliseconds button_hold_after{0};
  // An OTA request arrives this long after the setup AP is up (0: never): `Disconnected`,
  // `WAIT_CONFIG => OTA_UPGRADE`, `Firmware update URL: <ota_url>`; the download is not made: it
  // answers `ota_status`, and anything but 200 is `HTTP response should be 200`, ERROR (real-logs/05).
  std::chrono::milliseconds ota_after{0};
  std::string ota_url = "http://ny3.blynk.cloud/static/firmware.ota.bin";
  int ota_status = 404;
};

// A simulated board: identity, firmware, WiFi environment, cloud behaviour, faults.
// Durations are "as on a real board"; `time_scale` multiplies every artificial delay.
struct Profile {
  std::filesystem::path source;  // the file it was loaded from (empty when built in code)
  Dialect dialect = Dialect::edgent_1_2;

  // board
  std::string board_type = "ESP32";  // boType and "on <board_type>" in the banner
  std::string mac = "24:0A:C4:00:00:01";
  int cpu_mhz = 240;
  int chip_rev = 3;
  std::string sdk = "v4.4.5";
  int flash_kb = 4096;
  int free_mem = 236164;

  // firmware
  std::string template_id = "TMPL8sRFwcfqL";
  std::string template_name = "Lab Device";
  std::string firmware_type;  // fwType; empty means the template id (Blynk's default)
  std::string firmware_version = "0.1.0";
  std::string build = "Oct  1 2023 12:00:00";  // __DATE__ " " __TIME__
  std::string mcu_type = "MCU";                // MCU or NCP
  std::string library_version = "1.2.0";       // banner "v<..>", blVer
  std::string hardware_version = "1.0.0";      // 1.1 device block `Hardware:` (ESP8266 boards print it)

  // cloud
  bool provision_call = true;                         // false: stock Edgent, logs in only
  std::filesystem::path ca_file;                      // absolute, or empty: system roots
  std::chrono::milliseconds heartbeat{10000};         // ping interval once RUNNING (not scaled)
  int provision_retries = 3;                          // attempts before last_error 702
  std::chrono::milliseconds provision_backoff{1000};  // doubled after each failed attempt
  int cloud_retries = 3;                              // login attempts before last_error 702
  std::chrono::milliseconds network_timeout{5000};    // connect/handshake/answer deadline (not scaled)

  // WiFi
  std::string ip = "192.168.50.23";  // "Using Dynamic IP"
  std::chrono::milliseconds wifi_connect_time{1500};
  // A wrong password or missing network: `Last error code: 701` this long after `Connecting to WiFi`
  // (30 s on real 1.x boards, tests/data/real-logs/02).
  std::chrono::milliseconds wifi_fail_time{30000};
  int wifi_retries = 1;  // attempts before last_error 701
  std::vector<SimNetwork> networks;

  double time_scale = 1.0;
  SimFaults faults;

  std::string effective_firmware_type() const { return firmware_type.empty() ? template_id : firmware_type; }
};

// An invalid profile: what() reads "FILE:LINE:COL: what is wrong".
class ProfileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Loads and validates a profile (YAML). Relative paths in it (ca_file) are resolved against its folder.
// Files over max_input_file_bytes (common/files.hpp) are refused. Throws ProfileError only.
Profile load_profile(const std::filesystem::path& path);
// The same from text already read (`path` names it in messages and anchors relative paths).
Profile parse_profile(std::string_view yaml_text, const std::filesystem::path& path);

// "edgent-1.2" -> Dialect; nullopt when unknown.
std::optional<Dialect> parse_dialect(std::string_view name);
std::string_view dialect_name(Dialect dialect);

}  // namespace provhil::sim
