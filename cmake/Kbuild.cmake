# side_kbuild(<target> SOURCE_DIR <dir> MODULES <name>... [FILES <file>...] [DEPENDS <generated file>...]
#             [HEADERS_DIR <dir>])
# Builds kernel modules with kbuild against SIDE_KERNEL_HEADERS. kbuild writes next to its sources, so the
# sources are copied into the build tree first. HEADERS_DIR holds headers shared by several module directories
# (used in place, every header a dependency). Produces <binary dir>/<name>.ko for every name in MODULES.
function(side_kbuild target)
  cmake_parse_arguments(ARG "" "SOURCE_DIR;HEADERS_DIR" "MODULES;FILES;DEPENDS" ${ARGN})
  set(kcflags "")
  set(shared_headers)
  if(ARG_HEADERS_DIR)
    set(kcflags "KCFLAGS=-I${ARG_HEADERS_DIR}")
    file(GLOB shared_headers CONFIGURE_DEPENDS ${ARG_HEADERS_DIR}/*.h)
  endif()
  set(out "${CMAKE_CURRENT_BINARY_DIR}/kbuild-${target}")
  set(copied)
  foreach(f ${ARG_FILES})
    add_custom_command(OUTPUT "${out}/${f}"
      COMMAND ${CMAKE_COMMAND} -E copy "${ARG_SOURCE_DIR}/${f}" "${out}/${f}"
      DEPENDS "${ARG_SOURCE_DIR}/${f}" VERBATIM)
    list(APPEND copied "${out}/${f}")
  endforeach()
  set(kos)
  foreach(m ${ARG_MODULES})
    list(APPEND kos "${out}/${m}.ko")
  endforeach()
  # KBUILD_MODPOST_WARN: these modules import symbols that only side provides (the host runtime, or on purpose
  # nothing at all), which modpost cannot know about.
  add_custom_command(OUTPUT ${kos}
    COMMAND sh -c "make -s -C '${SIDE_KERNEL_HEADERS}' 'M=${out}' ${kcflags} KBUILD_MODPOST_WARN=1 modules >'${out}/kbuild.log' 2>&1 || { cat '${out}/kbuild.log'; exit 1; }"
    DEPENDS ${copied} ${ARG_DEPENDS} ${shared_headers}
    COMMENT "kbuild: ${ARG_MODULES}"
    VERBATIM)
  add_custom_target(${target} ALL DEPENDS ${kos})
  set(${target}_DIR "${out}" PARENT_SCOPE)
endfunction()
