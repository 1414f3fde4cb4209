# ctest fixture: a fresh .deb from the build tree (a stale one from an earlier build must not pass).
file(REMOVE_RECURSE ${OUT})
execute_process(COMMAND ${CPACK} --config ${CONFIG} -B ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cpack failed (${rc})")
endif()
if(NOT EXISTS ${DEB})
  message(FATAL_ERROR "cpack did not write ${DEB}")
endif()
