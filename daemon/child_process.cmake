# tgchild_process: children in their own process group, killed and reaped on timeout or
# shutdown (child_process.h). Included from daemon/CMakeLists.txt.
add_library(tgchild_process ${CMAKE_CURRENT_LIST_DIR}/child_process.cc)
target_include_directories(tgchild_process PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(tgchild_process
  PUBLIC absl::status absl::statusor absl::time
  PRIVATE absl::strings)
