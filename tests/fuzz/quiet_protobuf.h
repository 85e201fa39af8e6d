// Fuzz inputs are mostly malformed: protobuf's parse-error log lines would bury libFuzzer's
// own output, so fuzz targets drop them (a failed parse is still seen as a false return).
#pragma once

#include <google/protobuf/stubs/logging.h>

namespace tg::fuzz {

inline void quiet_protobuf() {
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel, const char*, int,
                                     const std::string&) {});
}

}  // namespace tg::fuzz
