// Ids nobody guesses: a readable prefix and 128 random bits in hex (OpenSSL's RAND_bytes),
// for sessions, remote tensors and jobs (the controller's and those a client runs directly),
// whose ids must not tell one tenant another's nor collide between clients.
#pragma once

#include <string>
#include <string_view>

namespace tg {

// `prefix` followed by 32 hex digits, e.g. random_id("job-") = "job-3f9a…".
std::string random_id(std::string_view prefix);

}  // namespace tg
