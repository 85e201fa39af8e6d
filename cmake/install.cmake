# Install rules and Debian packages.
#   cmake --install build [--prefix P]     binaries in P/bin, the HIP plugin in
#       P/lib/tgrack (where tgd looks, hip_plugin_loader.h), units in P/lib/systemd/system,
#       Prometheus and Grafana files in P/share/tgrack, docs in P/share/doc/tgrack, env files
#       in TGRACK_CONFIG_DIR (default /etc/tgrack; DESTDIR=ROOT puts everything under ROOT).
#   cpack --config build/CPackConfig.cmake  one package per host role, prefix /usr:
#       tgrack-daemon (tgd, its unit and env file), tgrack-controller (tgcontroller, its unit
#       and env file, Prometheus and Grafana files), tgrack-client (tgctl, the example
#       graph, the operator's guide), and tgrack-hip (the HIP plugin) where HIP is built.
#       Runtime dependencies come from dpkg-shlibdeps; the env files are conffiles, kept on
#       upgrade; no unit is enabled or started by the package.
# Installing and packaging take what is built; they do not build every target first (tests
# included): build tgd, tgcontroller, tgctl (and tgrack-hip) before.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
set(TGRACK_CONFIG_DIR "/etc/tgrack" CACHE PATH "Where the env files are installed")
set(TGRACK_UNIT_DIR "lib/systemd/system")
set(TGRACK_DATA_DIR "${CMAKE_INSTALL_DATADIR}/tgrack")

install(TARGETS tgd RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT daemon)
install(FILES deploy/systemd/tgd.service DESTINATION ${TGRACK_UNIT_DIR} COMPONENT daemon)
install(FILES deploy/config/tgd.env DESTINATION ${TGRACK_CONFIG_DIR} COMPONENT daemon)

install(TARGETS tgcontroller RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT controller)
install(FILES deploy/systemd/tgcontroller.service DESTINATION ${TGRACK_UNIT_DIR}
  COMPONENT controller)
install(FILES deploy/config/tgcontroller.env DESTINATION ${TGRACK_CONFIG_DIR}
  COMPONENT controller)
install(DIRECTORY deploy/prometheus deploy/grafana DESTINATION ${TGRACK_DATA_DIR}
  COMPONENT controller)

install(TARGETS tgctl tg-example-graph RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  COMPONENT client)
install(FILES README.md docs/deploy.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT client)
# The HIP plugin's rule is in devices/hip/CMakeLists.txt (component hip), where it is built.

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tgrack)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "tgrack")
set(CPACK_PACKAGE_CONTACT "tgrack maintainers <tgrack@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Pools the GPUs of many hosts")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL daemon controller client)
if(TGRACK_HAVE_HIP)
  list(APPEND CPACK_COMPONENTS_ALL hip)
endif()
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # NAME_VERSION_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)  # Debug information stays in the build tree.
set(CPACK_DEBIAN_COMPRESSION_TYPE gzip)

set(CPACK_DEBIAN_DAEMON_PACKAGE_NAME tgrack-daemon)
set(CPACK_COMPONENT_DAEMON_DESCRIPTION
  "tgd, the per-host daemon of a tgrack pool, with its systemd unit (not enabled)")
# cpu devices open OpenBLAS at run time (devices/cpu/blas.h), unseen by dpkg-shlibdeps.
set(CPACK_DEBIAN_DAEMON_PACKAGE_DEPENDS "libopenblas0")
set(CPACK_DEBIAN_DAEMON_PACKAGE_SUGGESTS "tgrack-hip")
set(CPACK_DEBIAN_CONTROLLER_PACKAGE_NAME tgrack-controller)
set(CPACK_COMPONENT_CONTROLLER_DESCRIPTION
  "tgcontroller, the scheduler of a tgrack pool, with its systemd unit (not enabled), the
 Prometheus scrape config, alert rules and Grafana dashboard")
set(CPACK_DEBIAN_CONTROLLER_PACKAGE_SUGGESTS "prometheus")
set(CPACK_DEBIAN_CLIENT_PACKAGE_NAME tgrack-client)
set(CPACK_COMPONENT_CLIENT_DESCRIPTION "tgctl, the command line of a tgrack pool, tg-example-graph and the operator's guide")
set(CPACK_DEBIAN_HIP_PACKAGE_NAME tgrack-hip)
set(CPACK_COMPONENT_HIP_DESCRIPTION
  "The AMD GPU backend of tgd (libtgrack-hip.so), over the ROCm runtime")
set(CPACK_DEBIAN_HIP_PACKAGE_DEPENDS "tgrack-daemon (= ${PROJECT_VERSION})")

# The env files are conffiles: dpkg keeps an operator's edits on upgrade.
foreach(component daemon controller)
  set(binary tgd)
  if(component STREQUAL "controller")
    set(binary tgcontroller)
  endif()
  set(conffiles "${PROJECT_BINARY_DIR}/deb/${component}/conffiles")
  file(WRITE "${conffiles}" "${TGRACK_CONFIG_DIR}/${binary}.env\n")
  string(TOUPPER ${component} upper)
  set(CPACK_DEBIAN_${upper}_PACKAGE_CONTROL_EXTRA "${conffiles}")
endforeach()

include(CPack)
