# Every dependency comes from Debian bookworm. When one is missing, stop and name the package.
find_package(PkgConfig QUIET)

function(provhil_missing what debian_package)
  message(FATAL_ERROR
    "provhil: ${what} was not found.\n"
    "Install the Debian package: apt-get install ${debian_package}\n"
    "(or run scripts/setup.sh, which installs everything that is missing)")
endfunction()

# Boost 1.81: Beast and Asio are header-only; JSON and URL are compiled libraries.
# Debian's 1.74 (libboost-dev) lacks Boost.URL, hence the exact minor version.
find_package(Boost 1.81 QUIET CONFIG COMPONENTS json url)
if(NOT Boost_FOUND)
  provhil_missing("Boost 1.81 with JSON and URL" "libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev")
endif()

find_package(OpenSSL 3 QUIET)
if(NOT OPENSSL_FOUND)
  provhil_missing("OpenSSL 3" "libssl-dev")
endif()

if(NOT PkgConfig_FOUND)
  provhil_missing("pkg-config" "pkg-config")
endif()
pkg_check_modules(LIBSERIALPORT QUIET IMPORTED_TARGET libserialport)
if(NOT LIBSERIALPORT_FOUND)
  provhil_missing("libserialport" "libserialport-dev")
endif()

find_package(fmt QUIET CONFIG)
if(NOT fmt_FOUND)
  provhil_missing("fmt" "libfmt-dev")
endif()

find_package(yaml-cpp QUIET CONFIG)
if(NOT yaml-cpp_FOUND)
  provhil_missing("yaml-cpp" "libyaml-cpp-dev")
endif()

find_package(pugixml QUIET CONFIG)
if(NOT pugixml_FOUND)
  provhil_missing("pugixml" "libpugixml-dev")
endif()

find_package(CLI11 QUIET CONFIG)
if(NOT CLI11_FOUND)
  provhil_missing("CLI11" "libcli11-dev")
endif()

find_package(Threads REQUIRED)

if(PROVHIL_TESTS)
  find_package(GTest QUIET CONFIG)
  if(NOT GTest_FOUND)
    provhil_missing("GoogleTest" "libgtest-dev libgmock-dev")
  endif()
endif()
