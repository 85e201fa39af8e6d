# tgcontroller_metrics: the Prometheus metrics tgcontroller exports (controller_metrics.h).
# Included from controller/CMakeLists.txt; paths are relative to this file so the snippet
# also works from elsewhere.
find_package(prometheus-cpp CONFIG REQUIRED)
add_library(tgcontroller_metrics ${CMAKE_CURRENT_LIST_DIR}/controller_metrics.cc)
target_include_directories(tgcontroller_metrics PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(tgcontroller_metrics
  PUBLIC absl::status tgmetrics_endpoint
  PRIVATE absl::strings prometheus-cpp::core prometheus-cpp::pull)
