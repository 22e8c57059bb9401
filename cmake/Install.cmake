# Install rules (GNUInstallDirs) for the programs, the agent library and, with STROP_DIST=ON,
# the packaging data: systemd units, sysusers.d and tmpfiles.d files, the /etc/strop/ files
# generated from each program's --print-config (dist/conffile.sh) and the man pages built
# with scdoc from docs/man/ (strop.toml(5)'s key reference generated from the same
# --print-config output, dist/man-config.sh). debian/rules builds the `strop_dist` target and
# installs; docs/packaging.md says what goes where.
include(GNUInstallDirs)
option(STROP_DIST "Generate and install conffiles, man pages, units, sysusers/tmpfiles" OFF)

if(TARGET strop-node)
  install(TARGETS strop-node RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
endif()
if(TARGET strop-milter)
  install(TARGETS strop-milter RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
endif()
if(TARGET strop)
  install(TARGETS strop RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

# The agent library: static, with the libraries it stands on, and their public headers under
# include/strop/ (consumers add -I.../include/strop; pkg-config strop-agent).
if(TARGET strop_agent)
  install(TARGETS strop_agent strop_protocol strop_sigs strop_base
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  foreach(dir base/include/base sigs/include/sigs protocol/include/protocol agent/include/agent)
    install(DIRECTORY ${CMAKE_SOURCE_DIR}/${dir} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/strop)
  endforeach()
  install(FILES ${CMAKE_BINARY_DIR}/generated/strop/version.hpp
                ${CMAKE_SOURCE_DIR}/cmake/include/strop/log_level.hpp
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/strop/strop)
  configure_file(${CMAKE_SOURCE_DIR}/dist/strop-agent.pc.in ${CMAKE_BINARY_DIR}/dist/strop-agent.pc
                 @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/dist/strop-agent.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endif()

if(NOT STROP_DIST)
  return()
endif()
if(NOT (TARGET strop-node AND TARGET strop-milter AND TARGET strop))
  message(FATAL_ERROR "STROP_DIST needs strop-node, strop-milter and strop")
endif()
find_program(SCDOC scdoc REQUIRED)
pkg_get_variable(STROP_SYSTEMD_UNIT_DIR systemd systemdsystemunitdir)
if(NOT STROP_SYSTEMD_UNIT_DIR)
  set(STROP_SYSTEMD_UNIT_DIR /lib/systemd/system)
endif()
set(_dist ${CMAKE_SOURCE_DIR}/dist)
set(_out ${CMAKE_BINARY_DIR}/dist)

# /etc/strop/*.toml: each program's defaults, from its typed config table.
set(_conffiles)
foreach(pair "node:strop-node" "milter:strop-milter" "agent:strop")
  string(REPLACE ":" ";" pair "${pair}")
  list(GET pair 0 kind)
  list(GET pair 1 target)
  add_custom_command(
    OUTPUT ${_out}/${kind}.toml
    COMMAND bash ${_dist}/conffile.sh ${kind} $<TARGET_FILE:${target}> ${PROJECT_VERSION}
            > ${_out}/${kind}.toml
    DEPENDS ${target} ${_dist}/conffile.sh
    COMMENT "conffile /etc/strop/${kind}.toml from ${target} --print-config")
  list(APPEND _conffiles ${_out}/${kind}.toml)
  add_custom_command(
    OUTPUT ${_out}/${kind}-keys.scd
    COMMAND bash ${_dist}/man-config.sh $<TARGET_FILE:${target}> > ${_out}/${kind}-keys.scd
    DEPENDS ${target} ${_dist}/man-config.sh
    COMMENT "strop.toml(5) key reference from ${target} --print-config")
endforeach()

# Man pages: docs/man/NAME.SECTION.scd -> NAME.SECTION; strop.toml.5.scd includes the
# generated key references where it says @NODE_KEYS@, @MILTER_KEYS@ and @AGENT_KEYS@.
set(_man)
foreach(page strop.1 strop-node.8 strop-milter.8 strop.toml.5)
  string(REGEX MATCH "[0-9]$" section ${page})
  set(_src ${CMAKE_SOURCE_DIR}/docs/man/${page}.scd)
  if(page STREQUAL "strop.toml.5")
    add_custom_command(
      OUTPUT ${_out}/${page}
      COMMAND bash ${_dist}/man-splice.sh ${_src} ${_out}/node-keys.scd ${_out}/milter-keys.scd
              ${_out}/agent-keys.scd ${PROJECT_VERSION} | ${SCDOC} > ${_out}/${page}
      DEPENDS ${_src} ${_dist}/man-splice.sh ${_out}/node-keys.scd ${_out}/milter-keys.scd
              ${_out}/agent-keys.scd
      COMMENT "man page ${page}")
  else()
    add_custom_command(
      OUTPUT ${_out}/${page}
      COMMAND bash ${_dist}/man-splice.sh ${_src} /dev/null /dev/null /dev/null
              ${PROJECT_VERSION} | ${SCDOC} > ${_out}/${page}
      DEPENDS ${_src} ${_dist}/man-splice.sh
      COMMENT "man page ${page}")
  endif()
  install(FILES ${_out}/${page} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
  list(APPEND _man ${_out}/${page})
endforeach()

add_custom_target(strop_dist ALL DEPENDS ${_conffiles} ${_man} strop-node strop-milter strop
                                         strop_agent)
install(FILES ${_conffiles} DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/strop)
install(FILES ${_dist}/systemd/strop-node.service ${_dist}/systemd/strop-milter.service
        DESTINATION ${STROP_SYSTEMD_UNIT_DIR})
install(FILES ${_dist}/sysusers.d/strop-node.conf ${_dist}/sysusers.d/strop-milter.conf
        DESTINATION ${CMAKE_INSTALL_PREFIX}/lib/sysusers.d)
install(FILES ${_dist}/tmpfiles.d/strop-node.conf ${_dist}/tmpfiles.d/strop-milter.conf
        DESTINATION ${CMAKE_INSTALL_PREFIX}/lib/tmpfiles.d)
