// A minimal HTTP/1.0 client for tests: GET from 127.0.0.1, every step under a timeout.
#pragma once

#include <string>

#include <absl/status/statusor.h>

namespace tg::testing {

// The body of GET `path` (already percent-encoded) from 127.0.0.1:port. UNAVAILABLE when
// the connection fails or times out, FAILED_PRECONDITION (with the body) for a status
// other than 200.
absl::StatusOr<std::string> http_get(int port, const std::string& path);

// `text` percent-encoded for a URL query value.
std::string url_encode(const std::string& text);

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port();

}  // namespace tg::testing
