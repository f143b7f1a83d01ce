# Resolves the Debian kernel ABI side builds against: the release that linux-headers-amd64 depends on (never
# hard-coded), its kbuild tree and Module.symvers, and the cache of that release's Debian module binaries.
#
# Results: SIDE_KERNEL_RELEASE (e.g. 6.1.0-56-amd64), SIDE_KERNEL_PACKAGE_VERSION, SIDE_KERNEL_HEADERS,
#          SIDE_KERNEL_CACHE (directory holding lib/modules/<release>), SIDE_KERNEL_MODULES (…/lib/modules/<release>)
#          and the target `kernel-modules` that fills the cache.

if(NOT SIDE_KERNEL_RELEASE)
  execute_process(COMMAND dpkg-query -W -f=\${Depends} linux-headers-amd64
                  OUTPUT_VARIABLE _side_depends RESULT_VARIABLE _side_rc ERROR_QUIET)
  if(NOT _side_rc EQUAL 0)
    message(FATAL_ERROR "linux-headers-amd64 is not installed: run scripts/setup.sh first")
  endif()
  string(REGEX MATCH "linux-headers-([^ ]+-amd64) \\(= ([^)]+)\\)" _side_match "${_side_depends}")
  if(NOT _side_match)
    message(FATAL_ERROR "cannot read the kernel ABI from linux-headers-amd64's dependency: '${_side_depends}'")
  endif()
  set(SIDE_KERNEL_RELEASE "${CMAKE_MATCH_1}" CACHE STRING "Debian kernel release to build against")
  set(SIDE_KERNEL_PACKAGE_VERSION "${CMAKE_MATCH_2}" CACHE STRING "Debian package version of that release")
endif()

set(SIDE_KERNEL_HEADERS "/usr/src/linux-headers-${SIDE_KERNEL_RELEASE}")
if(NOT EXISTS "${SIDE_KERNEL_HEADERS}/Module.symvers")
  message(FATAL_ERROR "no kbuild tree at ${SIDE_KERNEL_HEADERS}: install linux-headers-${SIDE_KERNEL_RELEASE}")
endif()

set(SIDE_KERNEL_CACHE "${CMAKE_BINARY_DIR}/kernel-cache")
set(SIDE_KERNEL_MODULES "${SIDE_KERNEL_CACHE}/lib/modules/${SIDE_KERNEL_RELEASE}")
set(_side_stamp "${SIDE_KERNEL_CACHE}/.complete-${SIDE_KERNEL_RELEASE}-${SIDE_KERNEL_PACKAGE_VERSION}")
add_custom_command(
  OUTPUT "${_side_stamp}"
  COMMAND "${CMAKE_SOURCE_DIR}/scripts/fetch-kernel-modules.sh" "${SIDE_KERNEL_RELEASE}"
          "${SIDE_KERNEL_PACKAGE_VERSION}" "${SIDE_KERNEL_CACHE}"
  COMMENT "Fetching Debian's module binaries for ${SIDE_KERNEL_RELEASE}"
  VERBATIM)
add_custom_target(kernel-modules ALL DEPENDS "${_side_stamp}")
message(STATUS "side: kernel ABI ${SIDE_KERNEL_RELEASE} (${SIDE_KERNEL_PACKAGE_VERSION})")
