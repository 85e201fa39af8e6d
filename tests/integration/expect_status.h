// EXPECT_STATUS(status, CODE, fragment): the status has code absl::StatusCode::CODE and its
// message contains `fragment`; a failure prints the status and the missing fragment.
#pragma once

#include <string>

#include <absl/status/status.h>
#include <gtest/gtest.h>

#define EXPECT_STATUS(status_expr, code_, fragment_)                                               \
  do {                                                                                             \
    const absl::Status s_ = (status_expr);                                                         \
    EXPECT_EQ(s_.code(), absl::StatusCode::code_) << s_;                                           \
    EXPECT_NE(s_.message().find(fragment_), std::string::npos) << s_ << "\nlacks: " << (fragment_); \
  } while (0)
