# tgdaemon_metrics: the Prometheus metrics tgd exports (daemon_metrics.h).
# Included from daemon/CMakeLists.txt; paths are relative to this file so the snippet also
# works from elsewhere.
find_package(prometheus-cpp CONFIG REQUIRED)
add_library(tgdaemon_metrics ${CMAKE_CURRENT_LIST_DIR}/daemon_metrics.cc)
target_include_directories(tgdaemon_metrics PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(tgdaemon_metrics
  PUBLIC absl::status tgmetrics_endpoint
  PRIVATE absl::strings prometheus-cpp::core prometheus-cpp::pull)
