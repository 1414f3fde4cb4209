# Install rules (FHS under CMAKE_INSTALL_PREFIX) and the Debian package (CPack DEB).
#
#   bin/provhil                                   the binary
#   share/provhil/dialects/*.yaml                 firmware dialects
#   share/provhil/sim/*.yaml                      simulator profiles
#   share/provhil/examples/boards.yaml            the example inventory `provhil init` copies
#   share/provhil/examples/scenarios/*.yaml       the shipped scenarios (init copies a few)
#   share/doc/provhil/                            README.md, docs/*.md, docs/examples/
#   share/man/man1/provhil.1, completions         when the build produces them (hooks below)
#
# The binary finds share/provhil from its own path (common/data_dir.hpp), so the tree works under any
# prefix. A build tree gets the same layout beside its binary as links into the sources.
include(GNUInstallDirs)

set(PROVHIL_DATA_INSTALL_DIR ${CMAKE_INSTALL_DATADIR}/provhil)

install(TARGETS provhil RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/fixtures/dialects/ DESTINATION ${PROVHIL_DATA_INSTALL_DIR}/dialects
        FILES_MATCHING PATTERN "*.yaml")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/fixtures/sim/ DESTINATION ${PROVHIL_DATA_INSTALL_DIR}/sim
        FILES_MATCHING PATTERN "*.yaml")
install(FILES ${PROJECT_SOURCE_DIR}/fixtures/boards.yaml DESTINATION ${PROVHIL_DATA_INSTALL_DIR}/examples)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/scenarios/ DESTINATION ${PROVHIL_DATA_INSTALL_DIR}/examples/scenarios
        FILES_MATCHING PATTERN "*.yaml")
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
# docs/examples/ (the CI examples docs/ci.md links to) goes along, so that the links hold installed too.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}
        FILES_MATCHING PATTERN "*.md" PATTERN "*.yml" PATTERN "Jenkinsfile")

# Hooks for generated files: a target that writes one of these paths in the build tree (and is part of
# ALL) gets it installed; an absent file is skipped, with no empty folder left for it (install(FILES
# OPTIONAL) would create one). docs/lab-setup.md, "Packaging".
set(PROVHIL_GENERATED_DIR ${PROJECT_BINARY_DIR}/generated)
function(provhil_install_if_built file destination name)
  install(CODE "if(EXISTS \"${file}\")
  file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${destination}\" TYPE FILE RENAME \"${name}\" FILES \"${file}\")
endif()")
endfunction()
provhil_install_if_built(${PROVHIL_GENERATED_DIR}/man/provhil.1 ${CMAKE_INSTALL_MANDIR}/man1 provhil.1)
provhil_install_if_built(${PROVHIL_GENERATED_DIR}/completions/provhil.bash
                         ${CMAKE_INSTALL_DATADIR}/bash-completion/completions provhil)
provhil_install_if_built(${PROVHIL_GENERATED_DIR}/completions/provhil.zsh
                         ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions _provhil)
provhil_install_if_built(${PROVHIL_GENERATED_DIR}/completions/provhil.fish
                         ${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d provhil.fish)

# The build tree's binary (<build>/provhil) finds <build>/share/provhil: links, so edits in fixtures/
# and scenarios/ need no rebuild.
set(stage ${PROJECT_BINARY_DIR}/share/provhil)
file(MAKE_DIRECTORY ${stage}/examples)
foreach(pair "dialects=fixtures/dialects" "sim=fixtures/sim" "examples/boards.yaml=fixtures/boards.yaml"
             "examples/scenarios=scenarios")
  string(REPLACE "=" ";" pair "${pair}")
  list(GET pair 0 link)
  list(GET pair 1 target)
  file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${target} ${stage}/${link} SYMBOLIC)
endforeach()

# ---- the Debian package: `cpack` in the build folder (or `cmake --build --preset release -t package`)
# writes provhil_<version>_<arch>.deb. Dependencies come from the binary (dpkg-shlibdeps, dpkg-dev).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME provhil)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "provhil")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "hardware-in-the-loop tests of WiFi provisioning for IoT boards")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)  # a Debug build's binary is mostly debug info
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # provhil_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(PROVHIL_PACKAGE_MAINTAINER "provhil maintainers <maintainers@users.noreply.r-seed-a4c28524.example>"
    CACHE STRING "Maintainer field of the Debian package")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${PROVHIL_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "ser2net, network-manager")
# The long description; CPack puts the summary first and indents it as Debian wants.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "provhil drives boards running Blynk.Edgent-style firmware through WiFi setup from
YAML scenarios: over serial (reset, read the log, type console commands), through
the board's setup AP, and through an embedded HTTPS interceptor that terminates
the board's TLS with a lab CA and answers its provision and login requests.

Runs end in JUnit XML, results.json and per-board evidence. A built-in simulated
board runs the same scenarios when no board is attached; `provhil init` starts
a lab project.")
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
