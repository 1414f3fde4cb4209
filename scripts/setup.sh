#!/usr/bin/env bash
# Installs the Debian packages provhil needs that are missing, then configures and builds.
# Idempotent: with everything present it touches no package and only rebuilds what changed.
# Usage: scripts/setup.sh [PRESET]   (default preset: dev)
set -euo pipefail

preset="${1:-dev}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Build tools, libraries (Debian bookworm names), and the tools the tests call.
packages=(
  cmake g++ ninja-build pkg-config git
  libboost1.81-dev libboost-url1.81-dev libboost-json1.81-dev
  libssl-dev libserialport-dev libfmt-dev libgtest-dev libgmock-dev
  libyaml-cpp-dev libpugixml-dev libcli11-dev
  libxml2-utils curl openssl clang-format clang-tidy
  ser2net  # serial and e2e tests: tcp:// and rfc2217:// ports through a real ser2net
  python3-serial  # serial tests: pyserial's RFC 2217 server (serial.rfc2217.PortManager), interop
  socat  # e2e: a simulated board on a pty that ser2net serves over RFC 2217
  dpkg-dev  # the .deb's Depends: CPack runs dpkg-shlibdeps
  clang-14 libclang-rt-14-dev  # the `fuzz` preset: libFuzzer, ASan + UBSan (fuzz/)
  python3 python3-junitparser  # e2e: junit.xml read back by a third-party JUnit reader
  chromium  # e2e: reports/index.html opened in a headless browser
  help2man  # build: the man page made from `provhil --help`
  zsh fish  # cli tests: `provhil completion zsh|fish` loaded and asked by the real shells
)

missing=()
for pkg in "${packages[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if ((${#missing[@]})); then
  echo "setup: installing missing Debian packages: ${missing[*]}"
  if [[ $(id -u) -eq 0 ]]; then
    sudo_cmd=()
  elif command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo)
  else
    echo "setup: not root and no sudo: install these packages by hand: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  # libboost1.81-dev conflicts with an installed libboost1.74-dev (libboost-dev): apt removes the old one.
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi

cd "$root"
cmake --preset "$preset"
cmake --build --preset "$preset"
