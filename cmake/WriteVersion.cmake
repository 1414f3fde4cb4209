# Writes OUT with the project VERSION and `git describe`, touching it only when it changes.
set(describe "")
find_program(GIT_EXE git)
if(GIT_EXE AND EXISTS "${SOURCE_DIR}/.git")
  execute_process(COMMAND ${GIT_EXE} describe --always --dirty --tags
                  WORKING_DIRECTORY ${SOURCE_DIR}
                  OUTPUT_VARIABLE describe OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE rc ERROR_QUIET)
  if(NOT rc EQUAL 0)
    set(describe "")
  endif()
endif()
set(text "#pragma once\n#define PROVHIL_VERSION \"${VERSION}\"\n#define PROVHIL_GIT_DESCRIBE \"${describe}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
else()
  set(old "")
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
