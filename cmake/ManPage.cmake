# Builds provhil.1 with help2man from the binary's own help: `provhil --help` for the synopsis and
# options, and every subcommand's `--help` as a SUBCOMMANDS section (help2man reads only the top).
# cmake -DPROVHIL=<binary> -DHELP2MAN=<help2man> -DOUT=<provhil.1> -P ManPage.cmake
foreach(var PROVHIL HELP2MAN OUT)
  if(NOT ${var})
    message(FATAL_ERROR "ManPage.cmake: ${var} is not set")
  endif()
endforeach()
set(include_file "${OUT}.include")
set(text "[SUBCOMMANDS]\n")
foreach(sub init run validate ports intercept sim ca report completion)
  execute_process(COMMAND ${PROVHIL} ${sub} --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "ManPage.cmake: `provhil ${sub} --help` failed (${rc})")
  endif()
  # roff: backslashes are escapes, and a line starting with . or ' is a request.
  string(REPLACE "\\" "\\e" help "${help}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" help "${help}")
  string(APPEND text ".SS \"provhil ${sub}\"\n.nf\n${help}\n.fi\n")
endforeach()
file(WRITE "${include_file}" "${text}")
execute_process(
  COMMAND ${HELP2MAN} --no-info --no-discard-stderr --section 1
          --name "hardware-in-the-loop tests of WiFi provisioning for Blynk.Edgent boards"
          --include "${include_file}" --output "${OUT}" "${PROVHIL}"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ManPage.cmake: help2man failed (${rc})")
endif()
