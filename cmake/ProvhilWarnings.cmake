# Warnings apply to provhil's own targets only; dependencies come in as SYSTEM includes.
function(provhil_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wold-style-cast -Wcast-align -Woverloaded-virtual
                                           -Wnull-dereference -Wimplicit-fallthrough)
  if(PROVHIL_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
