# Run at install time: the installed headers name each other under the kat/ prefix.
file(GLOB_RECURSE kat_headers "${KAT_HEADERS}/*.h")
foreach(header ${kat_headers})
  file(READ "${header}" text)
  string(REGEX REPLACE "#include \"(core|autograd|layers|optim|data|train)/" "#include \"kat/\\1/" rewritten "${text}")
  if(NOT rewritten STREQUAL text)
    file(WRITE "${header}" "${rewritten}")
  endif()
endforeach()
