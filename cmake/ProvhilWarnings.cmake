# Warnings apply to provhil's own targets only; dependencies come in as SYSTEM includes.
function(provhil_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wold-style-cast -Wcast-align -Woverloaded-virtual
                                           -Wimplicit-fallthrough
                                           # At -O2 and above g++ 12 reports paths inside Boost.Asio
                                           # that cannot happen; in Debug it checks our own code.
                                           $<$<CONFIG:Debug>:-Wnull-dereference>)
  if(PROVHIL_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
